# Authentication and authorization (contract section 3): every accepted
# algorithm with and without a kid, every refused token with the reason
# it is logged with, the time claims with the leeway, the issuer, audience
# and org claim settings, the scopes of steps 1 to 3, and malformed
# Authorization headers and tokens.  A token that passes is told by the
# 404 JOB_NOT_FOUND of a job id that does not exist.
#
# "--- token" holds Perl code returning the block's token, or one token
# per request.  It runs right before its block and not when the blocks
# are read (the real runner reads every block before the first one runs),
# so times relative to now are still fresh when the request goes out.
# The block gets "Authorization: Bearer <token>" in front of its own
# more_headers ("--- authorization: <format>" changes the header value,
# %s being the token), and its no_error_log gains the first 24 characters
# of each token's signature (of its payload when it has no signature):
# the token is never logged, neither when it passes nor when it is refused.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test;
use PdfReport::Token;
use Crypt::Misc qw(encode_b64u decode_b64u);
use JSON::PP;

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();

our $not_found = '{"error":"JOB_NOT_FOUND","message":"No report job has this id."}';
our $invalid = '{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}';
our $required = '{"error":"UNAUTHORIZED","message":"A bearer token is required."}';
our $no_scope = '{"error":"INSUFFICIENT_SCOPE","message":"The bearer token lacks the scope this call needs."}';

my $json = JSON::PP->new->canonical;
my $b64u = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';


sub tok {
    return PdfReport::Test::token(@_);
}


# the default claims with changes (undef drops a claim), as JSON text
sub claims_json {
    my (%c) = @_;
    my $claims = PdfReport::Token::default_claims();

    while (my ($k, $v) = each %c) {
        if (defined $v) {
            $claims->{$k} = $v;
        } else {
            delete $claims->{$k};
        }
    }

    return $json->encode($claims);
}


# a token of exactly these header and payload bytes, RS256 by rsa1 unless
# told otherwise
sub raw {
    return PdfReport::Token::sign_raw(alg => 'RS256', key => 'rsa1',
                                      header => '{"alg":"RS256","kid":"rsa1"}',
                                      payload => claims_json(), @_);
}


# part $i (0 header, 1 payload, 2 signature) of a token, or the token with
# that part replaced
sub part {
    my ($token, $i) = @_;
    return (split /\./, $token, -1)[$i];
}

sub with_part {
    my ($token, $i, $text) = @_;
    my @p = split /\./, $token, -1;
    $p[$i] = $text;
    return join '.', @p;
}


# the character at $pos with its lowest bit flipped, still base64url
sub flip {
    my ($s, $pos) = @_;
    my $v = index $b64u, substr($s, $pos, 1);
    die "flip: not base64url" if $v < 0;
    substr($s, $pos, 1) = substr($b64u, $v ^ 1, 1);
    return $s;
}


# a valid RS256 token of exactly $len bytes (a "pad" claim fills it)
sub token_of_length {
    my ($len) = @_;
    my $base = length tok(claims => { pad => '' });
    my $n = int(($len - $base) * 3 / 4) - 4;

    for my $k (($n < 0 ? 0 : $n) .. $n + 12) {
        my $t = tok(claims => { pad => 'x' x $k });
        return $t if length $t == $len;
    }

    die "no token of exactly $len bytes";
}


# what a jku or x5u of an attacker would serve: the rogue key as "rsa1"
our $rogue_jwks = $json->encode({ keys => [{
    %{ PdfReport::Token::private_key('rsa-rogue')->export_key_jwk('public', 1) },
    kid => 'rsa1', alg => 'RS256', use => 'sig',
}] });

our $rogue_config = <<"EOF";
location /v1/document/api { pdf_report_api; }
location = /rogue-jwks.json { default_type application/json; return 200 '$rogue_jwks'; }
location = /rogue.pem { return 200 'not fetched'; }
EOF


sub rogue_urls {
    my $base = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}";
    return (jku => "$base/rogue-jwks.json", x5u => "$base/rogue.pem");
}


add_block_preprocessor(sub {
    my ($block) = @_;
    my $code = $block->token;

    return unless defined $code;

    my @tokens = eval $code;
    die $block->name . ": --- token: $@" if $@;
    die $block->name . ": --- token gave no token" unless @tokens;

    my $format = $block->authorization // 'Bearer %s';
    my $more = $block->more_headers;
    die $block->name . ": more_headers must be text with --- token"
        if ref $more;

    my @headers;

    for my $t (@tokens) {
        (my $value = $format) =~ s/%s/$t/;
        push @headers, "Authorization: $value"
                       . (defined $more ? "\n$more" : '');
    }

    $block->set_value(more_headers => @headers == 1 ? $headers[0]
                                                    : \@headers);

    # one piece of each token: its signature, or its payload when it has
    # none (exactly one, so that the number of subtests never varies)
    my @pieces;

    for my $t (@tokens) {
        my @p = split /\./, $t, -1;
        my $piece = (defined $p[2] && length $p[2] >= 16) ? $p[2] : $p[1];
        die $block->name . ": no piece of token $t to look for"
            unless defined $piece && length $piece >= 16;
        push @pieces, substr $piece, 0, 24;
    }

    my $nel = $block->no_error_log // "[alert]\n[crit]\n[emerg]";
    die $block->name . ": no_error_log must be text with --- token"
        if ref $nel;
    chomp $nel;

    $block->set_value(no_error_log => join "\n", $nel, @pieces);
});

run_tests();

__DATA__

=== TEST 1: no Authorization header: 401 with a bare Bearer challenge
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
Content-Type: application/json
--- response_body chomp
{"error":"UNAUTHORIZED","message":"A bearer token is required."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 2: other schemes are no bearer token: Basic, Token, Bearer-less JWT
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 3]
--- more_headers eval
["Authorization: Basic dXNlcjpwYXNz",
 "Authorization: Token abc.def.ghi",
 "Authorization: eyJhbGciOiJSUzI1NiJ9.e30.c2ln"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[("WWW-Authenticate: Bearer") x 3]
--- response_body eval
[($::required) x 3]
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 3: "Bearer" glued to the token, with no space, is another scheme
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok()
--- authorization: Bearer%s
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body chomp
{"error":"UNAUTHORIZED","message":"A bearer token is required."}



=== TEST 4: "Bearer" with no token (nginx strips trailing spaces): no token at all
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- more_headers eval
["Authorization: Bearer", "Authorization: Bearer    "]
--- error_code eval
[401, 401]
--- response_headers eval
[("WWW-Authenticate: Bearer") x 2]
--- response_body eval
[($::required) x 2]



=== TEST 5: RS256 with kid rsa1: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS256')
--- error_code: 404
--- response_headers
! WWW-Authenticate
Content-Type: application/json
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 6: RS384 with kid rsa1: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS384')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 7: RS512 with kid rsa1: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS512')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 8: PS256 with kid rsa1: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS256')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 9: PS384 with kid rsa1: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS384')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 10: PS512 with kid rsa1: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS512')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 11: ES256 with kid ec256 (P-256): accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'ES256')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 12: ES384 with kid ec384 (P-384): accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'ES384')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 13: ES512 with kid ec521 (P-521): accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'ES512')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 14: EdDSA (Ed25519) with kid ed25519: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'EdDSA')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 15: EdDSA (Ed448) with kid ed448: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'EdDSA', kid => 'ed448', key => 'ed448')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 16: RS256 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS256', kid => undef, key => 'rsa1')
--- error_code: 404
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 17: RS384 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS384', kid => undef, key => 'rsa1')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 18: RS512 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS512', kid => undef, key => 'rsa1')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 19: PS256 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS256', kid => undef, key => 'rsa1')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 20: PS384 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS384', kid => undef, key => 'rsa1')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 21: PS512 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS512', kid => undef, key => 'rsa1')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 22: ES256 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'ES256', kid => undef, key => 'ec256')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 23: ES384 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'ES384', kid => undef, key => 'ec384')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 24: ES512 without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'ES512', kid => undef, key => 'ec521')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 25: EdDSA (Ed25519) without kid: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'EdDSA', kid => undef, key => 'ed25519')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 26: EdDSA (Ed448) without kid: the Ed25519 key is tried, then ed448
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'EdDSA', kid => undef, key => 'ed448')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 27: RS256 without kid signed by rsa2: rsa1 fails, rsa2 verifies
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS256', kid => undef, key => 'rsa2')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 28: PS256 without kid signed by rsa2: rsa2 is RS256 only, never tried
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS256', kid => undef, key => 'rsa2')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
Content-Type: application/json
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: signature mismatch, client:



=== TEST 29: PS256 with kid rsa2, a key restricted to RS256
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'PS256', kid => 'rsa2', key => 'rsa2')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: alg does not fit the key, client:



=== TEST 30: alg "none" with an empty signature part
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'none')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: alg not allowed, client:



=== TEST 31: alg "none" with a signature part (an RS256 signature by rsa1)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(header => '{"alg":"none","kid":"rsa1"}')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: alg not allowed, client:



=== TEST 32: alg "none" without the last dot: not three parts
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
my $t = tok(alg => 'none');
$t =~ s/\.\z// or die;
$t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: malformed token: not three parts, client:



=== TEST 33: alg "NONE": names are case-sensitive, no other spelling passes
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
PdfReport::Token::sign_raw(alg => 'none', header => '{"alg":"NONE"}',
                           payload => claims_json())
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: alg not allowed, client:



=== TEST 34: HS256 keyed with the RSA public key PEM (key confusion), with and without kid, and with the oct key's secret
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 3]
--- token
(tok(alg => 'HS256', kid => 'rsa1',
     secret => PdfReport::Token::public_pem('rsa1')),
 tok(alg => 'HS256', kid => undef,
     secret => PdfReport::Token::public_pem('rsa1')),
 tok(alg => 'HS256', kid => 'hmac1',
     secret => '0123456789abcdef0123456789abcdef'))
--- error_code eval
[401, 401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 3]
--- response_body eval
[($::invalid) x 3]
--- error_log
pdf_report: bearer token refused: alg not allowed, client:



=== TEST 35: alg missing from the header
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(header => '{"kid":"rsa1"}')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: alg missing or not a string, client:



=== TEST 36: unknown kid, though rsa1 signed it: no fallback to other keys
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(alg => 'RS256', kid => 'rsa1-old', key => 'rsa1')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: unknown kid, client:



=== TEST 37: kid of a key that does not fit the alg: ES256/rsa1, RS256/ec256, EdDSA/ec256, ES384/ec256
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 4]
--- token
(tok(alg => 'ES256', kid => 'rsa1', key => 'ec256'),
 tok(alg => 'RS256', kid => 'ec256', key => 'rsa1'),
 tok(alg => 'EdDSA', kid => 'ec256', key => 'ed25519'),
 tok(alg => 'ES384', kid => 'ec256', key => 'ec384'))
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 4]
--- response_body eval
[($::invalid) x 4]
--- error_log
pdf_report: bearer token refused: alg does not fit the key, client:



=== TEST 38: tampered payload (org_id changed, header and signature kept)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
with_part(tok(), 1, encode_b64u(claims_json(org_id => 'org_other')))
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: signature mismatch, client:



=== TEST 39: tampered signature (one bit flipped in the middle)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
my $t = tok();
with_part($t, 2, flip(part($t, 2), 100))
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: signature mismatch, client:



=== TEST 40: signature one byte short
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
my $t = tok();
my $sig = decode_b64u(part($t, 2));
chop $sig;
length $sig == 255 or die "not 255 bytes";
with_part($t, 2, encode_b64u($sig))
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: signature length wrong, client:



=== TEST 41: signature whose last character has unused bits set
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
my $t = tok();
my $s = part($t, 2);
with_part($t, 2, flip($s, length($s) - 1))
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: malformed token: bad base64url, client:



=== TEST 42: expired 90 s ago, beyond the 30 s leeway
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iat => time - 600, exp => time - 90 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token expired, client:



=== TEST 43: expired 5 s ago, within the 30 s leeway: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iat => time - 600, exp => time - 5 })
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 44: pdf_report_jwt_leeway 0: a token expired 1 s ago is refused
--- http_config eval
PdfReport::Test::http_config(jwt_leeway => 0)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iat => time - 600, exp => time - 1 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token expired, client:



=== TEST 45: nbf 90 s in the future, beyond the leeway
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { nbf => time + 90 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token not yet valid, client:



=== TEST 46: nbf 10 s in the future, within the leeway: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { nbf => time + 10 })
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 47: iat 90 s in the future, beyond the leeway
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iat => time + 90 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token issued in the future, client:



=== TEST 48: iat 10 s in the future, within the leeway: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iat => time + 10 })
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 49: exp missing
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { exp => undef })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: exp missing, client:



=== TEST 50: exp as a string of digits
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { exp => '' . (time + 3600) })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: exp is not a number, client:



=== TEST 51: wrong iss, and the issuer without its trailing slash
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- token
(tok(claims => { iss => 'https://evil.test/' }),
 tok(claims => { iss => 'https://auth.sqr.test' }))
--- error_code eval
[401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 2]
--- response_body eval
[($::invalid) x 2]
--- error_log
pdf_report: bearer token refused: issuer mismatch, client:



=== TEST 52: iss missing while pdf_report_jwt_issuer is set
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iss => undef })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: issuer mismatch, client:



=== TEST 53: without pdf_report_jwt_issuer any iss, or none, is accepted
--- http_config eval
PdfReport::Test::http_config(jwt_issuer => undef)
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- token
(tok(claims => { iss => 'https://evil.test/' }),
 tok(claims => { iss => undef }))
--- error_code eval
[404, 404]
--- response_body eval
[($::not_found) x 2]
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 54: without pdf_report_jwt_issuer an iss that is no string is still refused
--- http_config eval
PdfReport::Test::http_config(jwt_issuer => undef)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { iss => 42 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: iss is not a string, client:



=== TEST 55: aud an array holding the audience: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { aud => ['https://other.test/', 'pdf-report'] })
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 56: wrong aud, an array without the audience, and no aud
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 3]
--- token
(tok(claims => { aud => 'pdf-reports' }),
 tok(claims => { aud => ['https://other.test/', 'PDF-REPORT'] }),
 tok(claims => { aud => undef }))
--- error_code eval
[401, 401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 3]
--- response_body eval
[($::invalid) x 3]
--- error_log
pdf_report: bearer token refused: audience mismatch, client:



=== TEST 57: org claim missing
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { org_id => undef })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: org claim missing, client:



=== TEST 58: org claim empty
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { org_id => '' })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: org claim is empty, client:



=== TEST 59: org claim a number
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { org_id => 42 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: org claim is not a string, client:



=== TEST 60: pdf_report_jwt_org_claim tenant: a token with tenant and no org_id passes
--- http_config eval
PdfReport::Test::http_config(jwt_org_claim => 'tenant')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { org_id => undef, tenant => 'org_acme' })
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 61: pdf_report_jwt_org_claim tenant: org_id alone is no org
--- http_config eval
PdfReport::Test::http_config(jwt_org_claim => 'tenant')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok()
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: org claim missing, client:



=== TEST 62: pdf_report_jwt_org_claim tenant: the org is tenant's, not org_id's
--- http_config eval
PdfReport::Test::http_config(jwt_org_claim => 'tenant')
--- request eval
[("POST /v1/document/api\n{\"userId\":\"USOTHERORG000001\"}") x 2]
--- token
(tok(claims => { tenant => 'org_other', org_id => 'org_acme' }),
 tok(claims => { tenant => 'org_acme', org_id => 'org_other' }))
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 403]
--- response_body_like eval
[qr/^\{"jobId":"[0-9a-f-]{36}","status":"PENDING","userId":"USOTHERORG000001",/,
 qr/^\{"error":"NOT_CONNECTED","message":"This user is not connected to your organisation\."\}$/]



=== TEST 63: read:reports from a scope string, and from an scp array
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- token
(tok(claims => { scope => 'read:reports' }),
 tok(claims => { scope => undef, scp => ['write:reports', 'read:reports'] }))
--- error_code eval
[404, 404]
--- response_body eval
[($::not_found) x 2]
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 64: scope wins over scp: write:reports in scope, read:reports in scp
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(claims => { scope => 'write:reports', scp => ['read:reports'] })
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer error="insufficient_scope", scope="read:reports"
Content-Type: application/json
--- response_body chomp
{"error":"INSUFFICIENT_SCOPE","message":"The bearer token lacks the scope this call needs."}



=== TEST 65: step 1 without write:reports (scope string, scp array): 403
--- request eval
[("POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}") x 2]
--- token
(tok(claims => { scope => 'read:reports' }),
 tok(claims => { scope => undef, scp => ['read:reports'] }))
--- more_headers
Content-Type: application/json
--- error_code eval
[403, 403]
--- response_headers eval
[('WWW-Authenticate: Bearer error="insufficient_scope", scope="write:reports"') x 2]
--- response_body eval
[($::no_scope) x 2]



=== TEST 66: steps 2 and 3 without read:reports: 403
--- request eval
["GET /v1/document/api/00000000-0000-4000-8000-000000000000",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000/url",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000/url"]
--- token
(tok(claims => { scope => 'write:reports' }),
 tok(claims => { scope => 'write:reports' }),
 tok(claims => { scope => undef, scp => ['write:reports'] }),
 tok(claims => { scope => undef }))
--- error_code eval
[403, 403, 403, 403]
--- response_headers eval
[('WWW-Authenticate: Bearer error="insufficient_scope", scope="read:reports"') x 4]
--- response_body eval
[($::no_scope) x 4]



=== TEST 67: scopes match exactly: no prefix, extension or other case
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 3]
--- token
(tok(claims => { scope => 'read:report write:reports' }),
 tok(claims => { scope => 'read:reports:all' }),
 tok(claims => { scope => 'READ:REPORTS' }))
--- error_code eval
[403, 403, 403]
--- response_headers eval
[('WWW-Authenticate: Bearer error="insufficient_scope", scope="read:reports"') x 3]
--- response_body eval
[($::no_scope) x 3]



=== TEST 68: a crit header is refused
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(header => { crit => ['urn:example:ext'], 'urn:example:ext' => 1 })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: crit header not supported, client:



=== TEST 69: jku and x5u are never fetched: a token signed by a JWKS key passes
--- config eval
$::rogue_config
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(header => { rogue_urls() })
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused
--- no_access_log
rogue



=== TEST 70: jku and x5u are never fetched: the rogue key they point at signs in vain
--- config eval
$::rogue_config
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(header => { rogue_urls() }, kid => 'rsa1', key => 'rsa-rogue')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: signature mismatch, client:
--- no_access_log
rogue



=== TEST 71: an embedded jwk header is never used: the rogue key signs in vain
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok(kid => undef, key => 'rsa-rogue', header => {
    jwk => PdfReport::Token::private_key('rsa-rogue')->export_key_jwk('public', 1) })
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: signature mismatch, client:



=== TEST 72: malformed: one dot
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
my $t = tok();
part($t, 0) . '.' . part($t, 1)
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: malformed token: not three parts, client:



=== TEST 73: malformed: three dots (a valid token with a fourth part)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok() . '.' . encode_b64u('more')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: malformed token: not three parts, client:



=== TEST 74: malformed: base64 padding "=" in the header or the signature
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- token
my $t = tok();
(with_part($t, 0, part($t, 0) . '=='), with_part($t, 2, part($t, 2) . '=='))
--- error_code eval
[401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 2]
--- response_body eval
[($::invalid) x 2]
--- error_log
pdf_report: bearer token refused: malformed token: bad base64url, client:



=== TEST 75: malformed: characters outside base64url ("+", "/", "*") in each part
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 3]
--- token
my $t = tok();
my ($h, $p, $s) = map { part($t, $_) } 0 .. 2;
(with_part($t, 0, '+' . substr($h, 1)),
 with_part($t, 1, substr($p, 0, 10) . '/' . substr($p, 11)),
 with_part($t, 2, substr($s, 0, 20) . '*' . substr($s, 21)))
--- error_code eval
[401, 401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 3]
--- response_body eval
[($::invalid) x 3]
--- error_log
pdf_report: bearer token refused: malformed token: bad base64url, client:



=== TEST 76: malformed: a header that is not JSON (signature valid)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(header => '{"alg":"RS256","kid":"rsa1"')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: malformed token header, client:



=== TEST 77: malformed: a header that is JSON but not an object
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(header => '["RS256","rsa1"]')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token header is not a JSON object, client:



=== TEST 78: malformed: a payload that is not JSON (signature valid)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(payload => 'org_id=org_acme')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: malformed token payload, client:



=== TEST 79: a valid token of 8193 bytes is over the 8192-byte limit
--- config
large_client_header_buffers 4 32k;
location /v1/document/api { pdf_report_api; }
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
token_of_length(8193)
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token too long, client:



=== TEST 80: a valid token of exactly 8192 bytes: accepted
--- config
large_client_header_buffers 4 32k;
location /v1/document/api { pdf_report_api; }
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
token_of_length(8192)
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 81: several spaces between "Bearer" and the token: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok()
--- authorization: Bearer     %s
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 82: the scheme is case-insensitive (RFC 7235): "bearer" accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok()
--- authorization: bearer %s
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 83: the scheme is case-insensitive (RFC 7235): "BEARER" accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
tok()
--- authorization: BEARER %s
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 84: a claim of 18446744073709551615, beyond 64 bits: accepted
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(payload => substr(claims_json(), 0, -1) . ',"n":18446744073709551615}')
--- error_code: 404
--- response_body chomp
{"error":"JOB_NOT_FOUND","message":"No report job has this id."}
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 85: numbers beyond 64 bits or a double, claims or header: accepted
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 4]
--- token
(raw(payload => substr(claims_json(), 0, -1) . ',"n":1e400}'),
 raw(payload => substr(claims_json(), 0, -1)
                . ',"n":[-1e400,-123456789012345678901234567890]}'),
 raw(header => '{"alg":"RS256","kid":"rsa1","n":18446744073709551615}'),
 raw(header => '{"alg":"RS256","kid":"rsa1","n":-1e400}'))
--- error_code eval
[404, 404, 404, 404]
--- response_body eval
[($::not_found) x 4]
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 86: exp beyond range in the future (2^70, 1e400): accepted
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- token
(raw(payload => substr(claims_json(exp => undef), 0, -1)
                . ',"exp":1180591620717411303424}'),
 raw(payload => substr(claims_json(exp => undef), 0, -1) . ',"exp":1e400}'))
--- error_code eval
[404, 404]
--- response_body eval
[($::not_found) x 2]
--- no_error_log
[alert]
[crit]
[emerg]
bearer token refused



=== TEST 87: exp beyond the range in the past (-2^70, -1e400): expired
--- request eval
[("GET /v1/document/api/00000000-0000-4000-8000-000000000000") x 2]
--- token
(raw(payload => substr(claims_json(exp => undef), 0, -1)
                . ',"exp":-1180591620717411303424}'),
 raw(payload => substr(claims_json(exp => undef), 0, -1) . ',"exp":-1e400}'))
--- error_code eval
[401, 401]
--- response_headers eval
[('WWW-Authenticate: Bearer error="invalid_token"') x 2]
--- response_body eval
[($::invalid) x 2]
--- error_log
pdf_report: bearer token refused: token expired, client:
--- no_error_log
[alert]
[crit]
[emerg]
malformed token payload



=== TEST 88: nbf 1e400, beyond a double: not yet valid
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(payload => substr(claims_json(), 0, -1) . ',"nbf":1e400}')
--- error_code: 401
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token not yet valid, client:
--- no_error_log
[alert]
[crit]
[emerg]
malformed token payload



=== TEST 89: iat 2^70, beyond 64 bits: issued in the future
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- token
raw(payload => substr(claims_json(iat => undef), 0, -1)
               . ',"iat":1180591620717411303424}')
--- error_code: 401
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused: token issued in the future, client:
--- no_error_log
[alert]
[crit]
[emerg]
malformed token payload
