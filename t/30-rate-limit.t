# The per-org sliding window of step 1 (contract section 5): exact after n
# requests, what counts and what does not, per org, and across a window.
# t/31-rate-limit-workers.t shares one window between two workers.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api token);
use IO::Socket::INET;

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $limited = '{"error":"RATE_LIMITED","message":"Too many report requests '
               . 'for this organisation; retry later."}';


sub sliding {
    my ($block) = @_;
    my $name = $block->name;
    my @r;

    # one request, a second one a second later, a third refused
    push @r, [api(POST => '/v1/document/api',
                  body => { userId => 'USTEST0000000001' })];
    select undef, undef, undef, 1.0;
    push @r, [api(POST => '/v1/document/api',
                  body => { userId => 'USTEST0000000002' })];
    push @r, [api(POST => '/v1/document/api',
                  body => { userId => 'USTEST0000000003' })];

    is($r[0][0], 202, "$name - first in the window");
    is($r[1][0], 202, "$name - second in the window");
    is($r[2][0], 429, "$name - third refused");
    is($r[2][1]{'retry-after'}, 1,
       "$name - Retry-After: whole seconds until the first leaves");

    # the first request has left the 2 s window, the second has not
    select undef, undef, undef, 1.2;

    my ($status, $h) = api(POST => '/v1/document/api',
                           body => { userId => 'USTEST0000000003' });
    is($status, 202, "$name - allowed once the first left the window");
    like($h->{ratelimit}, qr/^"org";r=0;t=1$/,
         "$name - the last slot; the next frees with the second request");
}


# a step-1 request with a chunked body, the body sent in two pieces a
# little apart (so nginx finds a body over the limit while reading it);
# returns the status and the RateLimit header

sub chunked_post {
    my ($body) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Timeout => 10)
        or die "connect: $!";
    my $half = int(length($body) / 2);

    print $s "POST /v1/document/api HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\nAuthorization: Bearer "
             . PdfReport::Test::token() . "\r\n"
             . "Content-Type: application/json\r\n"
             . "Transfer-Encoding: chunked\r\n\r\n"
             . sprintf("%x\r\n%s\r\n", $half, substr($body, 0, $half));
    select undef, undef, undef, 0.2;
    print $s sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body) - $half,
                     substr($body, $half));

    my $res = do { local $/; <$s> } // '';
    my ($status) = $res =~ m{^HTTP/1\.1 (\d+)};
    my ($rl) = $res =~ m{^RateLimit: ([^\r]*)}mi;

    return ($status // 0, $rl // '');
}


sub chunked_counts {
    my ($block) = @_;
    my $name = $block->name;

    my ($s1, $rl1) = chunked_post('{"userId":"USTEST0000000001","pad":"'
                                  . ('x' x 200) . '"}');
    is($s1, 413, "$name - a chunked body over the limit: 413");
    like($rl1, qr/^"org";r=2;t=/,
         "$name - counted, and nginx's own 413 keeps the RateLimit header");

    my ($s2, $rl2) = chunked_post('{"userId":"USTEST0000000001"}');
    is($s2, 202, "$name - a chunked body within it: 202");
    like($rl2, qr/^"org";r=1;t=/, "$name - both counted: one slot left");

    my ($s3) = api(POST => '/v1/document/api', body => '{"userId":1}');
    is($s3, 400, "$name - the last slot, a 400");

    my ($s4, $rl4) = chunked_post('{"userId":"USTEST0000000002"}');
    is($s4, 429, "$name - then a chunked request is refused before its body");
    like($rl4, qr/^"org";r=0;t=/, "$name - with the RateLimit header");
}


run_tests();

__DATA__

=== TEST 1: the n+1st request in the window is 429 with Retry-After
--- http_config eval
PdfReport::Test::http_config(rate_limit => '3 10m')
--- request eval
["POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000002\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000003\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000004\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 4]
--- error_code eval
[202, 202, 202, 429]
--- response_headers_like eval
["RateLimit-Policy: ^\"org\";q=3;w=600\$\nRateLimit: ^\"org\";r=2;t=600\$",
 "RateLimit-Policy: ^\"org\";q=3;w=600\$\nRateLimit: ^\"org\";r=1;t=(600|599)\$",
 "RateLimit-Policy: ^\"org\";q=3;w=600\$\nRateLimit: ^\"org\";r=0;t=(600|599)\$",
 "RateLimit-Policy: ^\"org\";q=3;w=600\$\nRateLimit: ^\"org\";r=0;t=(600|599)\$\nRetry-After: ^(600|599)\$\nContent-Type: ^application/json\$"]
--- response_body_like eval
[qr/"status":"PENDING"/, qr/"status":"PENDING"/, qr/"status":"PENDING"/,
 qr/^\Q$::limited\E$/]



=== TEST 2: refusals after authentication count: 400, 404, 403, 409
--- http_config eval
PdfReport::Test::http_config(rate_limit => '4 10m',
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- request eval
["POST /v1/document/api\n{\"userId\":",
 "POST /v1/document/api\n{\"userId\":\"USNOSUCHUSER0001\"}",
 "POST /v1/document/api\n{\"userId\":\"USREVOKED0000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 5]
--- error_code eval
[400, 404, 403, 202, 429]
--- response_headers eval
["RateLimit: \"org\";r=3;t=600", "RateLimit: \"org\";r=2;t=600",
 "RateLimit: \"org\";r=1;t=600", "RateLimit: \"org\";r=0;t=600",
 "RateLimit: \"org\";r=0;t=600"]
--- response_body_like eval
[qr/INVALID_JSON/, qr/USER_NOT_FOUND/, qr/NOT_CONNECTED/, qr/PENDING/,
 qr/^\Q$::limited\E$/]



=== TEST 3: 415 and 413 count too
--- http_config eval
PdfReport::Test::http_config(rate_limit => '2 10m')
--- config
location /v1/document/api {
    client_max_body_size 10;
    pdf_report_api;
}
--- request eval
["POST /v1/document/api\n{}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}"]
--- more_headers eval
[PdfReport::Test::auth() . "\nContent-Type: text/plain",
 PdfReport::Test::auth() . "\nContent-Type: application/json",
 PdfReport::Test::auth() . "\nContent-Type: application/json"]
--- error_code eval
[415, 413, 429]
--- response_body_like eval
[qr/UNSUPPORTED_MEDIA_TYPE/, qr/BODY_TOO_LARGE/, qr/RATE_LIMITED/]



=== TEST 4: 401 and a missing scope do not count
--- http_config eval
PdfReport::Test::http_config(rate_limit => '1 10m')
--- request eval
[("POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}") x 5]
--- more_headers eval
["Content-Type: application/json",
 "Authorization: Bearer x.y.z\nContent-Type: application/json",
 PdfReport::Test::auth(claims => { scope => 'read:reports' })
     . "\nContent-Type: application/json",
 PdfReport::Test::auth() . "\nContent-Type: application/json",
 PdfReport::Test::auth() . "\nContent-Type: application/json"]
--- error_code eval
[401, 401, 403, 202, 429]
--- response_headers eval
["! RateLimit", "! RateLimit", "! RateLimit", "RateLimit: \"org\";r=0;t=600",
 "Retry-After: 600"]



=== TEST 5: each org has its own window
--- http_config eval
PdfReport::Test::http_config(rate_limit => '1 10m')
--- request eval
[("POST /v1/document/api\n{\"userId\":\"USBOTHORGS000001\"}") x 3]
--- more_headers eval
[PdfReport::Test::auth() . "\nContent-Type: application/json",
 PdfReport::Test::auth() . "\nContent-Type: application/json",
 PdfReport::Test::auth(claims => { org_id => 'org_other' })
     . "\nContent-Type: application/json"]
--- error_code eval
[202, 429, 202]



=== TEST 6: the default is 10 in 10 minutes
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- request eval
[("POST /v1/document/api\n{\"userId\":\"USTEST0000000005\"}") x 11]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 11]
--- error_code eval
[202, (409) x 9, 429]
--- response_headers_like eval
["RateLimit-Policy: \"org\";q=10;w=600\nRateLimit: \"org\";r=9;t=(599|600)",
 (map { "RateLimit: \"org\";r=" . (9 - $_) . ";t=(599|600)" } 1 .. 9),
 "Retry-After: (599|600)"]



=== TEST 7: off: no limit and no RateLimit headers
--- http_config eval
PdfReport::Test::http_config(rate_limit => 'off',
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- request eval
[("POST /v1/document/api\n{\"userId\":\"USTEST0000000006\"}") x 12]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 12]
--- error_code eval
[202, (409) x 11]
--- response_headers eval
[("! RateLimit\n! RateLimit-Policy") x 12]



=== TEST 8: the window slides: a slot frees when the oldest request leaves
--- http_config eval
PdfReport::Test::http_config(rate_limit => '2 2s')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: sliding
--- timeout: 10



=== TEST 9: chunked bodies count before they are read, even a late 413
--- http_config eval
PdfReport::Test::http_config(rate_limit => '3 10m',
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- config
location /v1/document/api {
    client_max_body_size 64;
    pdf_report_api;
}
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: chunked_counts
--- timeout: 20
--- error_log
client intended to send too large chunked body
