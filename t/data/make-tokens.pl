#!/usr/bin/perl
# (Re)creates the fixture tokens of t/unit/test_jwt.c under t/data/tokens/,
# one compact JWS per file (<name>.jwt), minted by PdfReport::Token with
# Crypt::JWT and the TEST-ONLY keys of t/data/keys/ (run make-keys.pl
# first if those change).  Every token is issued at NOW, a fixed time the
# unit test also uses as policy.now, so the fixtures never expire.
#
# Valid tokens are decoded again with Crypt::JWT against t/data/jwks.json
# as a cross-check of the fixtures themselves.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use Crypt::JWT qw(decode_jwt);
use Crypt::Misc qw(encode_b64u decode_b64u);
use PdfReport::Token;

use constant NOW => 1750000000;    # 2025-06-15T15:06:40Z, as in test_jwt.c

my $dir = "$FindBin::Bin/tokens";
my $json = JSON::PP->new->canonical;
my %made;

mkdir $dir;
unlink glob("$dir/*.jwt");

sub token {
    my ($name, $token) = @_;
    die "duplicate token $name\n" if $made{$name}++;
    open(my $fh, '>', "$dir/$name.jwt") or die "$dir/$name.jwt: $!\n";
    print $fh "$token\n";
    close($fh) or die "$dir/$name.jwt: $!\n";
}

sub mint {
    return PdfReport::Token::mint(now => NOW, @_);
}

# the default claims with changes (undef drops a claim), as JSON text
sub payload {
    my (%change) = @_;
    my $c = PdfReport::Token::default_claims(NOW);
    while (my ($k, $v) = each %change) {
        if (defined $v) {
            $c->{$k} = $v;
        } else {
            delete $c->{$k};
        }
    }
    return $json->encode($c);
}

sub raw {
    my (%a) = @_;
    return PdfReport::Token::sign_raw(alg => 'RS256', key => 'rsa1',
                                      header => '{"alg":"RS256","kid":"rsa1"}',
                                      payload => payload(), %a);
}

# each algorithm, with the kid of its key
for my $alg (qw(RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512
                EdDSA))
{
    token("valid-$alg", mint(alg => $alg));
}
token('valid-EdDSA-ed448', mint(alg => 'EdDSA', kid => 'ed448'));
token('valid-rsa2-RS256', mint(alg => 'RS256', kid => 'rsa2'));

# key selection
token('rsa2-PS256', mint(alg => 'PS256', kid => 'rsa2'));
token('nokid-RS256-rsa2', mint(alg => 'RS256', kid => undef, key => 'rsa2'));
token('nokid-PS512', mint(alg => 'PS512', kid => undef, key => 'rsa1'));
token('nokid-ES384', mint(alg => 'ES384', kid => undef, key => 'ec384'));
token('nokid-EdDSA', mint(alg => 'EdDSA', kid => undef, key => 'ed25519'));
token('nokid-EdDSA-ed448', mint(alg => 'EdDSA', kid => undef,
                                key => 'ed448'));
token('nokid-rogue', mint(alg => 'RS256', kid => undef, key => 'rsa-rogue'));
token('wrong-kid', mint(alg => 'RS256', kid => 'rsa1', key => 'rsa2'));
token('unknown-kid', mint(alg => 'RS256', kid => 'rsa9', key => 'rsa1'));
token('kid-rsa1024', mint(alg => 'RS256', kid => 'rsa1024'));
token('kid-empty', mint(alg => 'RS256', kid => '', key => 'rsa1'));
token('kid-shared', mint(alg => 'RS256', kid => 'shared', key => 'rsa2'));
token('kid-shared-es256', mint(alg => 'ES256', kid => 'shared',
                               key => 'ec256'));
token('kid-number', mint(alg => 'RS256', kid => undef, key => 'rsa1',
                         header => { kid => 1 }));
token('es256-rsa-kid', mint(alg => 'ES256', kid => 'rsa1', key => 'ec256'));
token('rs256-ec-kid', mint(alg => 'RS256', kid => 'ec256', key => 'rsa1'));
token('es384-p256-kid', mint(alg => 'ES384', kid => 'ec256', key => 'ec256'));
token('eddsa-ec-kid', mint(alg => 'EdDSA', kid => 'ec256', key => 'ed25519'));

# refused algorithms
token('alg-none', mint(alg => 'none', kid => undef));
token('alg-none-kid', mint(alg => 'none', kid => 'rsa1'));
token('alg-none-sig', mint(alg => 'none', kid => undef) . 'c2lnbmF0dXJl');
token('alg-NONE', raw(alg => 'none', header => '{"alg":"NONE"}'));
token('hs256-rsa-pem', mint(alg => 'HS256', kid => 'rsa1',
                            secret => PdfReport::Token::public_pem('rsa1')));
token('hs256-rsa-pem-nokid',
      mint(alg => 'HS256', kid => undef,
           secret => PdfReport::Token::public_pem('rsa1')));
token('hs256-oct-kid', mint(alg => 'HS256', kid => 'hmac1',
                            secret => '0123456789abcdef0123456789abcdef'));
token('alg-ES256K', raw(alg => 'ES256', key => 'ec256',
                        header => '{"alg":"ES256K","kid":"ec256"}'));
token('alg-missing', raw(header => '{"kid":"rsa1"}'));
token('alg-array', raw(header => '{"alg":["RS256"],"kid":"rsa1"}'));

# signature encodings
token('es256-der', raw(alg => 'ES256', key => 'ec256', der => 1,
                       header => '{"alg":"ES256","kid":"ec256"}'));
token('es512-der', raw(alg => 'ES512', key => 'ec521', der => 1,
                       header => '{"alg":"ES512","kid":"ec521"}'));
token('ps256-salt0', raw(alg => 'PS256', saltlen => 0,
                         header => '{"alg":"PS256","kid":"rsa1"}'));
token('ps256-salt20', raw(alg => 'PS256', saltlen => 20,
                          header => '{"alg":"PS256","kid":"rsa1"}'));
token('rs256-pss-sig', raw(alg => 'PS256',
                           header => '{"alg":"RS256","kid":"rsa1"}'));
token('ps256-pkcs1-sig', raw(alg => 'RS256',
                             header => '{"alg":"PS256","kid":"rsa1"}'));
{
    my $t = mint(alg => 'RS256');
    my ($h, $p, $s) = split /\./, $t;
    my $evil = encode_b64u(payload(org_id => 'org_evil'));
    token('tampered-payload', "$h.$evil.$s");
    # an RSA signature one byte short: a leading zero dropped
    my $short = substr(decode_b64u($s), 1);
    token('rs256-short-sig', "$h.$p." . encode_b64u($short));
}

# header members
token('embedded-jwk',
      mint(alg => 'RS256', kid => undef, key => 'rsa-rogue',
           header => { jwk => Crypt::PK::RSA->new(
                           PdfReport::Token::key_file('rsa-rogue'))
                           ->export_key_jwk('public', 1) }));
token('embedded-jwk-kid',
      mint(alg => 'RS256', kid => 'rsa1', key => 'rsa-rogue',
           header => { jwk => Crypt::PK::RSA->new(
                           PdfReport::Token::key_file('rsa-rogue'))
                           ->export_key_jwk('public', 1) }));
token('jku-ignored', mint(alg => 'RS256',
                          header => { jku => 'https://evil.test/jwks',
                                      x5u => 'https://evil.test/x5' }));
token('crit', mint(alg => 'RS256', header => { crit => ['exp'],
                                                 exp => NOW + 3600 }));
token('crit-empty', mint(alg => 'RS256', header => { crit => [] }));
token('b64-false', mint(alg => 'RS256', header => { b64 => JSON::PP::false,
                                                      crit => ['b64'] }));
token('typ-JWT', mint(alg => 'ES256', header => { typ => 'JWT' }));
token('typ-jwt', mint(alg => 'ES256', header => { typ => 'jwt' }));
token('typ-at+jwt', mint(alg => 'ES256', header => { typ => 'at+jwt' }));
token('typ-application-at+jwt',
      mint(alg => 'ES256', header => { typ => 'application/AT+JWT' }));
token('typ-dpop+jwt', mint(alg => 'ES256', header => { typ => 'dpop+jwt' }));
token('typ-number', mint(alg => 'ES256', header => { typ => 1 }));
token('cty-JWT', mint(alg => 'ES256', header => { cty => 'JWT' }));
token('zip', mint(alg => 'ES256', header => { zip => 'DEF' }));

# JSON shape
token('header-dup', raw(header => '{"alg":"RS256","kid":"rsa1","alg":"none"}'));
token('header-array', raw(header => '["RS256"]'));
token('header-not-json', raw(header => 'alg=RS256'));
token('payload-dup',
      raw(payload => substr(payload(), 0, -1) . ',"org_id":"org_evil"}'));
token('payload-array', raw(payload => '[1,2]'));
token('payload-string', raw(payload => '"org_acme"'));
token('payload-trailing', raw(payload => payload() . ' {}'));
token('payload-bad-utf8',
      raw(payload => substr(payload(), 0, -1) . qq(,"name":"\xff"})));
token('payload-nul',
      raw(payload => substr(payload(), 0, -1) . ',"name":"a\u0000b"}'));

# time claims (leeway 30 s in the unit test)
token('exp-in-leeway', mint(claims => { exp => NOW - 30 }));
token('exp-out-leeway', mint(claims => { exp => NOW - 31 }));
token('exp-real-in', mint(claims => { exp => NOW - 29.5 }));
token('exp-real-out', mint(claims => { exp => NOW - 30.5 }));
token('exp-missing', mint(claims => { exp => undef }));
token('exp-string', raw(payload => payload(exp => '' . (NOW + 3600))));
token('exp-null', raw(payload => substr(payload(exp => undef), 0, -1)
                                 . ',"exp":null}'));
token('exp-bool', mint(claims => { exp => JSON::PP::true }));
token('exp-huge', raw(payload => substr(payload(exp => undef), 0, -1)
                                 . ',"exp":9223372036854775807}'));
token('exp-overflow', raw(payload => substr(payload(exp => undef), 0, -1)
                                     . ',"exp":92233720368547758070}'));

# numbers beyond jansson's (a long long, a double) read as the nearest it
# holds, of the same sign: in the time claims, in others, in the header
sub with_number {
    my ($claim, $text) = @_;
    return substr(payload($claim => undef), 0, -1) . qq(,"$claim":$text});
}
token('exp-overflow-neg',
      raw(payload => with_number(exp => '-92233720368547758070')));
token('exp-1e400', raw(payload => with_number(exp => '1e400')));
token('exp-neg-1e400', raw(payload => with_number(exp => '-1e400')));
token('nbf-overflow',
      raw(payload => with_number(nbf => '1180591620717411303424')));
token('nbf-neg-1e400', raw(payload => with_number(nbf => '-1e400')));
token('iat-1e400', raw(payload => with_number(iat => '1e400')));
token('claim-uint64',
      raw(payload => with_number(n => '18446744073709551615')));
token('claim-neg-overflow',
      raw(payload => with_number(n => '-123456789012345678901234567890')));
token('claim-1e400', raw(payload => with_number(n => '1e400')));
token('header-uint64', raw(header => '{"alg":"RS256","kid":"rsa1",'
                                     . '"n":18446744073709551615}'));
token('header-1e400',
      raw(header => '{"alg":"RS256","kid":"rsa1","n":-1e400}'));
token('payload-overflow-dup', raw(payload => with_number(n => '1e400,"n":1')));
token('payload-overflow-trailing',
      raw(payload => with_number(n => '1e400') . ' {}'));
token('header-overflow-dup',
      raw(header => '{"alg":"RS256","kid":"rsa1","n":1e400,"n":1}'));
token('nbf-in-leeway', mint(claims => { nbf => NOW + 30 }));
token('nbf-out-leeway', mint(claims => { nbf => NOW + 31 }));
token('nbf-string', mint(claims => { nbf => 'now' }));
token('iat-in-leeway', mint(claims => { iat => NOW + 30 }));
token('iat-out-leeway', mint(claims => { iat => NOW + 31 }));
token('iat-missing', mint(claims => { iat => undef }));
token('iat-string', mint(claims => { iat => 'yesterday' }));

# iss, aud
token('iss-mismatch', mint(claims => { iss => 'https://evil.test/' }));
token('iss-no-slash', mint(claims => { iss => 'https://auth.sqr.test' }));
token('iss-missing', mint(claims => { iss => undef }));
token('iss-number', mint(claims => { iss => 7 }));
token('aud-mismatch', mint(claims => { aud => 'other-api' }));
token('aud-missing', mint(claims => { aud => undef }));
token('aud-array', mint(claims => { aud => [ 'other-api', 'pdf-report' ] }));
token('aud-array-mismatch', mint(claims => { aud => [ 'a', 'b' ] }));
token('aud-array-empty', mint(claims => { aud => [] }));
token('aud-array-number', mint(claims => { aud => [ 1, 'pdf-report' ] }));
token('aud-number', mint(claims => { aud => 5 }));

# the org claim
token('org-missing', mint(claims => { org_id => undef }));
token('org-empty', mint(claims => { org_id => '' }));
token('org-number', mint(claims => { org_id => 42 }));
token('org-null', raw(payload => substr(payload(org_id => undef), 0, -1)
                                 . ',"org_id":null}'));
token('org-max', mint(claims => { org_id => 'o' x 128 }));
token('org-too-long', mint(claims => { org_id => 'o' x 129 }));
token('org-control', mint(claims => { org_id => "org\tacme" }));
token('org-c1', mint(claims => { org_id => "org\x{85}acme" }));
token('org-utf8', mint(claims => { org_id => "org_\x{e9}t\x{e9}" }));
token('org-tenant', mint(claims => { tenant => 'org_tenant' }));

# scopes
token('scope-none', mint(claims => { scope => undef }));
token('scope-spaces',
      mint(claims => { scope => '  read:reports   write:reports ' }));
token('scp-array', mint(claims => { scope => undef,
                                     scp => [ 'read:reports',
                                              'write:reports' ] }));
token('scp-string', mint(claims => { scope => undef,
                                      scp => 'read:reports' }));
token('scope-and-scp', mint(claims => { scope => 'read:reports',
                                         scp => [ 'write:reports' ] }));
token('scope-array', mint(claims => { scope => [ 'read:reports' ] }));
token('scp-number', mint(claims => { scope => undef, scp => [ 1 ] }));
token('scp-object', mint(claims => { scope => undef, scp => { a => 1 } }));
token('scp-space', mint(claims => { scope => undef,
                                     scp => [ 'read:reports write:reports' ]
                                   }));
token('scope-tab', mint(claims => { scope => "read:reports\twrite:reports" }));
token('scope-quote', mint(claims => { scope => 'read:"reports"' }));
token('scope-max', mint(claims => { scope => join(' ', ('s' x 99) x 10)
                                             . ' ' . ('t' x 24) }));
token('scope-too-long', mint(claims => { scope => join(' ', ('s' x 99) x 10)
                                                  . ' ' . ('t' x 25) }));

# a token near the size limit (8192): a long but valid claim
token('big', mint(claims => { filler => 'x' x 5000 }));
token('too-big', mint(claims => { filler => 'x' x 6200 }));

# cross-check the valid fixtures with Crypt::JWT itself
{
    my $jwks = do {
        local $/;
        open(my $fh, '<', "$FindBin::Bin/jwks.json") or die "jwks.json: $!\n";
        decode_json(<$fh>);
    };
    my @ok = grep { !/ed448/ } map { s/\.jwt$//r } map { s{.*/}{}r }
             glob("$dir/valid-*.jwt");
    for my $name (@ok) {
        open(my $fh, '<', "$dir/$name.jwt") or die;
        chomp(my $t = <$fh>);
        my $kid_keys = { keys => [ grep { $_->{kty} ne 'oct' }
                                   @{ $jwks->{keys} } ] };
        my $p = decode_jwt(token => $t, kid_keys => $kid_keys,
                           verify_exp => 0, verify_iat => 0);
        die "$name: cross-check failed\n" unless $p->{org_id} eq 'org_acme';
    }
    printf "%d tokens written to %s (%d cross-checked with Crypt::JWT)\n",
           scalar(keys %made), $dir, scalar(@ok);
}
