# The token keys from a URL (contract section 11): "pdf_report_jwt_keys
# https://... refresh=<time> ca=<file>".  A JWKS server started here
# (PdfReport::Test::start_jwks_server, https with a throw-away CA) serves
# the keys and rotates them by switching its file, and counts its fetches:
#
# - down when nginx starts: nginx starts all the same, authenticated
#   requests get 503 KEYS_UNAVAILABLE with Retry-After (a request without
#   a token still its 401), then 404 once the server is up;
# - rotation without a reload: a token of the new kid is accepted within
#   a refresh, and a token whose key left the set is refused although the
#   token cache held it;
# - an unknown kid fetches the set again, once: a flood of random kids
#   makes no more fetches within the minute;
# - TLS is verified: without ca= the server's certificate is refused, and
#   the log shows neither the URL's user part nor its query;
# - a failed fetch (a 500, invalid JSON, a set with no usable key) keeps
#   the last good set and is logged; a private key in the set is skipped,
#   and its secret is never logged.
#
# Each block has its own JWKS server.  The workers' view across processes
# is t/18-jwks-workers.t.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api token);
use Crypt::Misc qw(encode_b64u);
use Time::HiRes ();

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $job = '/v1/document/api/00000000-0000-4000-8000-000000000000';
our $not_found = '{"error":"JOB_NOT_FOUND","message":"No report job has this id."}';
our $invalid = '{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}';
our $required = '{"error":"UNAUTHORIZED","message":"A bearer token is required."}';
our $unavailable = '{"error":"KEYS_UNAVAILABLE","message":"The keys that verify tokens are not loaded yet; retry later."}';

our $ca = PdfReport::Test::tls_ca() . '/ca.pem';

# the server of TEST 1 starts only in the block: nginx starts without it
our $down_port = PdfReport::Test::free_port();
our $down_dir = PdfReport::Test::jwks_dir();
PdfReport::Test::jwks_serve($down_dir, PdfReport::Test::jwks_of('rsa1'));

our %srv;

for my $name (qw(rotate kid tls keep)) {
    my ($port, $dir) = PdfReport::Test::start_jwks_server();
    $srv{$name} = { port => $port, dir => $dir,
                    url => "https://127.0.0.1:$port/jwks.json" };
}

PdfReport::Test::jwks_serve($srv{rotate}{dir},
                            PdfReport::Test::jwks_of('rsa1', 'ec256'));
PdfReport::Test::jwks_serve($srv{kid}{dir},
                            PdfReport::Test::jwks_of('rsa1'));
PdfReport::Test::jwks_serve($srv{tls}{dir},
                            PdfReport::Test::jwks_of('rsa1'));
PdfReport::Test::jwks_serve($srv{keep}{dir},
                            PdfReport::Test::jwks_of('rsa1'));


sub keys_config {
    my ($keys) = @_;
    return PdfReport::Test::http_config(jwt_keys => $keys);
}


# a token of key $key named $kid (its own name by default)
sub tok {
    my ($key, $kid) = @_;
    return token(key => $key, kid => $kid // $key,
                 alg => $key =~ /^ec/ ? 'ES256' : 'RS256');
}


# step 2 of a job that does not exist: 404 once the token passed
sub get {
    my ($t, %o) = @_;
    return api(GET => $job, token => $t, %o);
}


# polls until the answer is not $status (10 s at most); its answer
sub until_not {
    my ($status, $t, %o) = @_;
    my $deadline = Time::HiRes::time() + ($o{timeout} // 10);
    my @r;

    while (Time::HiRes::time() < $deadline) {
        @r = get($t, %o);
        return @r if $r[0] != $status;
        Time::HiRes::sleep(0.05);
    }

    return @r;
}


# waits until the server has answered $n GETs (10 s at most)
sub fetched {
    my ($dir, $n) = @_;
    my $deadline = Time::HiRes::time() + 10;

    while (Time::HiRes::time() < $deadline) {
        return 1 if PdfReport::Test::jwks_fetches($dir) >= $n;
        Time::HiRes::sleep(0.05);
    }

    return 0;
}


sub log_lines {
    my ($re) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or die $!;
    return scalar grep { /$re/ } <$fh>;
}


# waits until the error log has a line matching $re (10 s at most)
sub logged {
    my ($re) = @_;
    my $deadline = Time::HiRes::time() + 10;

    while (Time::HiRes::time() < $deadline) {
        return 1 if log_lines($re);
        Time::HiRes::sleep(0.05);
    }

    return 0;
}


sub down_then_up {
    my ($block) = @_;
    my $name = $block->name;

    my ($status, $h, $body) = api(GET => $job, token => undef);
    is($status, 401, "$name - no token: still 401, keys or not");
    is($body, $required, "$name - UNAUTHORIZED");

    ($status, $h, $body) = api(POST => '/v1/document/api',
                               token => tok('rsa1'),
                               body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 503, "$name - step 1 too: 503");
    is($body, $unavailable, "$name - KEYS_UNAVAILABLE");
    is($h->{'retry-after'}, '1', "$name - Retry-After: the next attempt");

    ok(logged(qr/JWKS fetch from "\Q$srv{down}\E" failed: .*no keys yet/),
       "$name - the failed fetch is logged");

    PdfReport::Test::start_jwks_server(port => $::down_port,
                                       dir => $::down_dir);
    my $t0 = Time::HiRes::time();

    ($status, $h, $body) = until_not(503, tok('rsa1'));
    my $took = Time::HiRes::time() - $t0;

    is($status, 404, "$name - up: the token passes");
    is($body, $not_found, "$name - JOB_NOT_FOUND");
    cmp_ok($took, '<', 4, "$name - within a refresh and a retry");
    ok(!exists $h->{'retry-after'}, "$name - no Retry-After then");
}


sub rotate {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = $srv{rotate}{dir};

    my ($a, $b, $e) = (tok('rsa1'), tok('rsa2'), tok('ec256'));

    my ($status, $h, $body) = until_not(503, $a);
    is($status, 404, "$name - rsa1 accepted once the set is loaded");

    my $hits = log_lines(qr/token cache hit/);
    is((get($a))[0], 404, "$name - rsa1 again");
    cmp_ok(log_lines(qr/token cache hit/), '>', $hits,
           "$name - from the token cache");

    ($status, $h, $body) = get($b);
    is($status, 401, "$name - rsa2 is not in the set yet");
    is($body, $invalid, "$name - INVALID_TOKEN");
    is((get($e))[0], 404, "$name - ec256 accepted");

    # rsa1 leaves, rsa2 comes: the refresh is 1 s
    my $n = PdfReport::Test::jwks_fetches($dir);
    PdfReport::Test::jwks_serve($dir, PdfReport::Test::jwks_of('rsa2',
                                                               'ec256'));
    my $t0 = Time::HiRes::time();

    ($status, $h, $body) = until_not(401, $b);
    my $took = Time::HiRes::time() - $t0;

    is($status, 404, "$name - rsa2 accepted without a reload");
    is($body, $not_found, "$name - JOB_NOT_FOUND");
    cmp_ok($took, '<', 3, "$name - within a refresh (1 s) and a look");

    ($status, $h, $body) = get($a);
    is($status, 401, "$name - rsa1, cached before, is refused now");
    is($body, $invalid, "$name - INVALID_TOKEN");
    is($h->{'www-authenticate'}, 'Bearer error="invalid_token"',
       "$name - invalid_token");
    is((get($e))[0], 404, "$name - ec256, still in the set, passes");

    cmp_ok(PdfReport::Test::jwks_fetches($dir), '>', $n,
           "$name - fetched again meanwhile");
}


sub unknown_kid {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = $srv{kid}{dir};

    my ($status) = until_not(503, tok('rsa1'));
    is($status, 404, "$name - rsa1 accepted once the set is loaded");
    ok(fetched($dir, 1), "$name - one fetch at start");

    # rsa2 published, nginx not told (the refresh is 10 minutes)
    PdfReport::Test::jwks_serve($dir, PdfReport::Test::jwks_of('rsa1',
                                                               'rsa2'));

    my ($status2, undef, $body) = get(tok('rsa2'));
    is($status2, 401, "$name - the first token of rsa2: not in the set");
    is($body, $invalid, "$name - INVALID_TOKEN");

    ($status) = until_not(401, tok('rsa2'));
    is($status, 404, "$name - then accepted: its kid fetched the set");
    is(scalar PdfReport::Test::jwks_fetches($dir), 2, "$name - two fetches");

    # a flood of kids nobody has
    my %s;
    for my $i (1 .. 40) {
        $s{(get(tok('rsa1', 'random-' . encode_b64u(pack 'N2', rand(2**32),
                                                       $i))))[0]}++;
    }
    is_deeply(\%s, { 401 => 40 }, "$name - 40 random kids refused");

    # and a key that really is new now waits for the minute (or refresh)
    PdfReport::Test::jwks_serve($dir, PdfReport::Test::jwks_of('rsa1',
                                                               'rsa2',
                                                               'ec256'));
    is((get(tok('ec256')))[0], 401, "$name - ec256 waits for the minute");

    Time::HiRes::sleep(1.5);

    is(scalar PdfReport::Test::jwks_fetches($dir), 2,
       "$name - still two fetches");
    is(log_lines(qr/a token names a kid that the JWKS does not have/), 1,
       "$name - one fetch for an unknown kid, logged once");
}


sub tls_refused {
    my ($block) = @_;
    my $name = $block->name;

    my $url = "https://127.0.0.1:$srv{tls}{port}/jwks.json";

    ok(logged(qr/JWKS fetch from "\Q$url\E" failed: SSL certificate problem/),
       "$name - the certificate is refused, logged without user or query");

    my ($status, $h, $body) = get(tok('rsa1'));
    is($status, 503, "$name - still no keys");
    is($body, $unavailable, "$name - KEYS_UNAVAILABLE");
    is(PdfReport::Test::jwks_fetches($srv{tls}{dir}), 0,
       "$name - no request reached the server");
}


sub keep_last_good {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = $srv{keep}{dir};

    my ($status) = until_not(503, tok('rsa1'));
    is($status, 404, "$name - rsa1 accepted once the set is loaded");

    my @bad = (
        [sub { PdfReport::Test::jwks_mode($dir, 'status:500') },
         qr/failed: HTTP status 500, not 200; keeping the keys fetched/],
        [sub { PdfReport::Test::jwks_mode($dir, 'serve');
               PdfReport::Test::jwks_serve($dir, '{"keys": [') },
         qr/failed: invalid JWKS: JWKS is not valid JSON/],
        [sub { PdfReport::Test::jwks_serve($dir,
                   PdfReport::Test::jwks_of('rsa1024')) },
         qr/failed: invalid JWKS: JWKS holds no usable key \(1 skipped\)/],
    );

    for my $bad (@bad) {
        my $n = PdfReport::Test::jwks_fetches($dir);
        $bad->[0]->();
        ok(fetched($dir, $n + 2), "$name - fetched twice more");
        ok(logged($bad->[1]), "$name - logged: $bad->[1]");
        is((get(tok('rsa1')))[0], 404, "$name - rsa1 still accepted");
    }

    ok(logged(qr/JWKS key #1 \(kid "rsa1024"\) skipped: RSA key shorter /),
       "$name - the key too short is named with its reason");

    # a private key among public ones: skipped, named, never shown
    my $private = PdfReport::Token::private_key('rsa2')
                      ->export_key_jwk('private', 1);
    my $jwks = JSON::PP->new->canonical->encode({ keys => [
        @{ JSON::PP::decode_json(PdfReport::Test::jwks_of('ec256'))->{keys} },
        { %$private, kid => 'rsa2', use => 'sig' } ] });
    PdfReport::Test::jwks_serve($dir, $jwks);

    ($status) = until_not(404, tok('rsa1'));
    is($status, 401, "$name - the new set is used: rsa1 left it");
    is((get(tok('ec256')))[0], 404, "$name - ec256 accepted");
    is((get(tok('rsa2')))[0], 401, "$name - the private rsa2 was skipped");
    ok(logged(qr/JWKS key #2 \(kid "rsa2"\) skipped: holds private key/),
       "$name - and named in the log");
    is(log_lines(qr/\Q$private->{d}\E|\Q$private->{p}\E/), 0,
       "$name - its secret is not");
}


$srv{down} = "https://127.0.0.1:$down_port/jwks.json";

run_tests();

__DATA__

=== TEST 1: the JWKS server is down when nginx starts: 503 with Retry-After, then 200s once it is up
--- http_config eval
main::keys_config("$::srv{down} refresh=1s ca=$::ca")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
Cache-Control: no-store
! WWW-Authenticate
--- response_body eval
$::unavailable
--- flow: down_then_up
--- timeout: 30
--- error_log eval
[qr/JWKS fetch from "\Q$::srv{down}\E" failed: Failed to connect to 127\.0\.0\.1 port \d+/,
 qr/JWKS fetched from "\Q$::srv{down}\E": 1 key, generation 1/,
 qr/JWKS generation 1 in use, 1 key; the token cache was emptied/]



=== TEST 2: rotation without a reload: the new kid within a refresh, the removed one refused although cached
--- http_config eval
main::keys_config("$::srv{rotate}{url} refresh=1s ca=$::ca")
--- log_level: debug
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_body eval
$::required
--- flow: rotate
--- timeout: 30
--- error_log
bearer token refused: unknown kid
JWKS generation 2 in use



=== TEST 3: an unknown kid fetches the set once; a flood of random kids no more within the minute
--- http_config eval
main::keys_config("$::srv{kid}{url} ca=$::ca")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_body eval
$::required
--- flow: unknown_kid
--- timeout: 30



=== TEST 4: TLS is verified: a certificate of a CA not given is refused, and the log shows no user part or query
--- http_config eval
main::keys_config("https://user:DoNotLog\@127.0.0.1:$::srv{tls}{port}/jwks.json?access_token=DoNotLog refresh=1s")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body eval
$::unavailable
--- flow: tls_refused
--- timeout: 30
--- no_error_log
[alert]
[crit]
[emerg]
DoNotLog



=== TEST 5: a failed or invalid fetch keeps the last good set; the rules of a file apply
--- http_config eval
main::keys_config("$::srv{keep}{url} refresh=1s ca=$::ca")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_body eval
$::required
--- flow: keep_last_good
--- timeout: 60
