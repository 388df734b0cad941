# Step 1, POST /v1/document/api: the 202 and every refusal of contract
# section 5 in its order, with exact bodies and headers.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test;

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $uuid = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
our $time = qr/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;

sub states_logged {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};

    my $job = PdfReport::Test::wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - complete");

    # the task records the end before the event loop logs it
    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log";
    my $deadline = time + 10;
    my @lines;

    while (1) {
        open my $fh, '<', $log or die "$log: $!";
        @lines = grep { /pdf_report: job \Q$id\E / } <$fh>;
        last if @lines >= 3 || time > $deadline;
        select undef, undef, undef, 0.1;
    }

    my $complete = 'complete: \d+ bytes in \d+ ms \(render \d+ ms, '
                   . '1 upload attempt\(s\)\); org "org_acme"';
    my @want = (qr/\[info\] .*job \Q$id\E created; org "org_acme", client: /,
                qr/\[info\] .*job \Q$id\E started: attempt 1; org "org_acme"$/,
                qr/\[info\] .*job \Q$id\E $complete$/);

    is(scalar @lines, 3, "$name - three lines") or diag(@lines);

    for my $i (0 .. 2) {
        like($lines[$i] // '', $want[$i], "$name - line $i");
    }

    is(scalar(grep { /US1A2B3C4D5E6F78|John|Smith/ } @lines), 0,
       "$name - no personal data");
}


run_tests();

__DATA__

=== TEST 1: 202 with the job, Location, Retry-After and rate-limit headers
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- response_headers_like
Content-Type: ^application/json$
Location: ^/v1/document/api/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$
Retry-After: ^3$
RateLimit-Policy: ^"org";q=10;w=600$
RateLimit: ^"org";r=9;t=600$
Cache-Control: ^no-store$
--- response_body_like eval
qr/^\{"jobId":"($::uuid)","status":"PENDING","userId":"US1A2B3C4D5E6F78","createdAt":"($::time)","updatedAt":"\2"\}$/



=== TEST 2: Content-Type with a charset parameter is JSON too
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: Application/JSON; charset=utf-8"
--- error_code: 202
--- response_body_like: "status":"PENDING"



=== TEST 3: no Authorization header: 401 with a bare Bearer challenge
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
Content-Type: application/json
! RateLimit
--- response_body chomp
{"error":"UNAUTHORIZED","message":"A bearer token is required."}



=== TEST 4: a Basic credential is no bearer token
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers
Authorization: Basic dXNlcjpwYXNz
Content-Type: application/json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body chomp
{"error":"UNAUTHORIZED","message":"A bearer token is required."}



=== TEST 5: a bad token: 401 invalid_token, before the body is looked at
--- request
POST /v1/document/api
not json at all
--- more_headers
Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln
Content-Type: text/plain
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
! RateLimit
--- response_body chomp
{"error":"INVALID_TOKEN","message":"The bearer token is invalid or expired."}
--- error_log
pdf_report: bearer token refused:



=== TEST 6: no write:reports scope: 403 insufficient_scope, not counted
--- request eval
["POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}"]
--- more_headers eval
[PdfReport::Test::auth(claims => { scope => 'read:reports' })
     . "\nContent-Type: application/json",
 PdfReport::Test::auth() . "\nContent-Type: application/json"]
--- error_code eval
[403, 202]
--- response_headers eval
["WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"write:reports\"\n! RateLimit",
 "RateLimit: \"org\";r=9;t=600"]
--- response_body_like eval
[qr/^\{"error":"INSUFFICIENT_SCOPE","message":"The bearer token lacks the scope this call needs\."\}$/,
 qr/"status":"PENDING"/]



=== TEST 7: the scope may come from an scp array
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth(claims => { scope => undef, scp => ['write:reports'] })
    . "\nContent-Type: application/json"
--- error_code: 202
--- response_body_like: "status":"PENDING"



=== TEST 8: pdf_report_create_scope off: any authenticated caller
--- http_config eval
PdfReport::Test::http_config(create_scope => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth(claims => { scope => undef })
    . "\nContent-Type: application/json"
--- error_code: 202
--- response_body_like: "status":"PENDING"



=== TEST 9: 415 for a Content-Type other than application/json
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: text/plain"
--- error_code: 415
--- response_headers
Content-Type: application/json
RateLimit: "org";r=9;t=600
--- response_body chomp
{"error":"UNSUPPORTED_MEDIA_TYPE","message":"The request body must be application/json."}



=== TEST 10: 415 without a Content-Type, and for a prefix look-alike
--- request eval
["POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}"]
--- more_headers eval
[PdfReport::Test::auth(),
 PdfReport::Test::auth() . "\nContent-Type: application/jsonx"]
--- error_code eval
[415, 415]
--- response_body eval
['{"error":"UNSUPPORTED_MEDIA_TYPE","message":"The request body must be application/json."}',
 '{"error":"UNSUPPORTED_MEDIA_TYPE","message":"The request body must be application/json."}']



=== TEST 11: 400 for bodies that are not a JSON object
--- request eval
["POST /v1/document/api\n{\"userId\":",
 "POST /v1/document/api\n[\"US1A2B3C4D5E6F78\"]",
 "POST /v1/document/api\n\"US1A2B3C4D5E6F78\"",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\",\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"US1\xff\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 5]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body eval
[('{"error":"INVALID_JSON","message":"The request body must be a JSON object."}') x 5]



=== TEST 12: 400 for an empty body
--- request
POST /v1/document/api
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json\nContent-Length: 0"
--- error_code: 400
--- response_body chomp
{"error":"INVALID_JSON","message":"The request body must be a JSON object."}



=== TEST 13: 400 for a userId that is missing, not a string, empty or too long
--- request eval
["POST /v1/document/api\n{}",
 "POST /v1/document/api\n{\"userId\":1234}",
 "POST /v1/document/api\n{\"userId\":null}",
 "POST /v1/document/api\n{\"userId\":\"\"}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F789\"}",
 "POST /v1/document/api\n{\"user_id\":\"US1A2B3C4D5E6F78\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 6]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body eval
['{"error":"INVALID_USER_ID","message":"\"userId\" is required and must be a string."}',
 '{"error":"INVALID_USER_ID","message":"\"userId\" is required and must be a string."}',
 '{"error":"INVALID_USER_ID","message":"\"userId\" is required and must be a string."}',
 '{"error":"INVALID_USER_ID","message":"\"userId\" must be 1 to 16 characters."}',
 '{"error":"INVALID_USER_ID","message":"\"userId\" must be 1 to 16 characters."}',
 '{"error":"INVALID_USER_ID","message":"\"userId\" is required and must be a string."}']



=== TEST 14: 16 characters are counted as characters, not bytes
--- request
POST /v1/document/api
{"userId":"ÅBCDEFGHIJKLMNOP"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- response_body_like: "userId":"ÅBCDEFGHIJKLMNOP"



=== TEST 15: 404 for a user not in the directory
--- request
POST /v1/document/api
{"userId":"USNOSUCHUSER0001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 404
--- response_headers
RateLimit: "org";r=9;t=600
--- response_body chomp
{"error":"USER_NOT_FOUND","message":"No SQR user has this userId."}



=== TEST 16: 403 for a user whose connection to the org is revoked
--- request
POST /v1/document/api
{"userId":"USREVOKED0000001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 403
--- response_headers
! WWW-Authenticate
--- response_body chomp
{"error":"NOT_CONNECTED","message":"This user is not connected to your organisation."}



=== TEST 17: 403 for a user connected only to another org
--- request
POST /v1/document/api
{"userId":"USOTHERORG000001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 403
--- response_body chomp
{"error":"NOT_CONNECTED","message":"This user is not connected to your organisation."}



=== TEST 18: 409 with the pending job's id while the first is unfinished
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- request eval
["POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000002\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 3]
--- error_code eval
[202, 409, 202]
--- response_body_like eval
[qr/^\{"jobId":"($::uuid)","status":"PENDING"/,
 qr/^\{"error":"JOB_PENDING","message":"A report job for this user is already pending\.","jobId":"$::uuid"\}$/,
 qr/^\{"jobId":"$::uuid","status":"PENDING","userId":"USTEST0000000002"/]



=== TEST 19: the same user in another org is not pending for this one
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- request eval
["POST /v1/document/api\n{\"userId\":\"USBOTHORGS000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USBOTHORGS000001\"}"]
--- more_headers eval
[PdfReport::Test::auth() . "\nContent-Type: application/json",
 PdfReport::Test::auth(claims => { org_id => 'org_other' })
     . "\nContent-Type: application/json"]
--- error_code eval
[202, 202]
--- response_body_like eval
[qr/"status":"PENDING"/, qr/"status":"PENDING"/]



=== TEST 20: 413 for a declared body over client_max_body_size, as JSON
--- config
location /v1/document/api {
    client_max_body_size 64;
    pdf_report_api;
}
--- request eval
"POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\",\"pad\":\"" . ("x" x 100) . "\"}"
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 413
--- response_headers
Content-Type: application/json
RateLimit: "org";r=9;t=600
--- response_body chomp
{"error":"BODY_TOO_LARGE","message":"The request body is too large."}



=== TEST 21: 413 before authentication would be wrong: 401 comes first
--- config
location /v1/document/api {
    client_max_body_size 64;
    pdf_report_api;
}
--- request eval
"POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\",\"pad\":\"" . ("x" x 100) . "\"}"
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":"UNAUTHORIZED","message":"A bearer token is required."}



=== TEST 22: 413 for a chunked body over the limit, as JSON
--- config
location /v1/document/api {
    client_max_body_size 64;
    pdf_report_api;
}
--- raw_request eval
my $body = '{"userId":"US1A2B3C4D5E6F78","pad":"' . ("x" x 100) . '"}';
"POST /v1/document/api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. PdfReport::Test::auth() . "\r\nContent-Type: application/json\r\n"
. "Transfer-Encoding: chunked\r\n\r\n"
. sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body), $body)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"BODY_TOO_LARGE","message":"The request body is too large."}
--- error_log
client intended to send too large chunked body



=== TEST 23: a chunked body within the limit is read
--- raw_request eval
my $body = '{"userId":"US1A2B3C4D5E6F78"}';
"POST /v1/document/api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
. PdfReport::Test::auth() . "\r\nContent-Type: application/json\r\n"
. "Transfer-Encoding: chunked\r\n\r\n"
. sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body), $body)
--- error_code: 202
--- response_body_like: "status":"PENDING"



=== TEST 24: other methods on the collection: 405 with Allow, before auth
--- request eval
["GET /v1/document/api", "PUT /v1/document/api\n{}", "DELETE /v1/document/api"]
--- error_code eval
[405, 405, 405]
--- response_headers eval
["Allow: POST\nContent-Type: application/json", "Allow: POST", "Allow: POST"]
--- response_body eval
[('{"error":"METHOD_NOT_ALLOWED","message":"This method is not allowed on this resource."}') x 3]



=== TEST 25: paths under the location that are no resource: 404
--- request eval
["GET /v1/document/apix", "POST /v1/document/api/", "GET /v1/document/api/",
 "GET /v1/document/api/x/url/y", "GET /v1/document/api/x/pdf"]
--- error_code eval
[404, 404, 404, 404, 404]
--- response_body eval
[('{"error":"NOT_FOUND","message":"No such API resource."}') x 5]



=== TEST 26: the access-log variables name the org and the job
--- http_config eval
PdfReport::Test::http_config()
. "    log_format pdf 'org=\$pdf_report_org job=\$pdf_report_job_id';\n"
--- config
location /v1/document/api {
    access_log logs/pdf.log pdf;
    pdf_report_api;
}
location /log {
    alias logs/pdf.log;
}
--- request eval
["POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"USNOSUCHUSER0001\"}",
 "GET /log"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 2, ""]
--- error_code eval
[202, 404, 200]
--- response_body_like eval
[qr/PENDING/, qr/USER_NOT_FOUND/,
 qr/^org=org_acme job=$::uuid\norg=org_acme job=-\n$/]



=== TEST 27: an integer beyond 64 bits in another member: 202 all the same
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78","n":123456789012345678901234567890}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- response_body_like eval
qr/^\{"jobId":"$::uuid","status":"PENDING","userId":"US1A2B3C4D5E6F78",/



=== TEST 28: reals beyond a double (1e400, -1e400) in other members: 202
--- request
POST /v1/document/api
{"a":1e400,"userId":"US1A2B3C4D5E6F78","b":[-1e400,-99999999999999999999]}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- response_body_like eval
qr/^\{"jobId":"$::uuid","status":"PENDING","userId":"US1A2B3C4D5E6F78",/



=== TEST 29: a huge number next to duplicate keys: still INVALID_JSON
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78","n":1e400,"n":1}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 400
--- response_body chomp
{"error":"INVALID_JSON","message":"The request body must be a JSON object."}



=== TEST 30: the audit line: org, user, job, status and error of each call
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
. "    log_format audit '\$request_method \$uri \$status "
. "org=\$pdf_report_org user=\$pdf_report_user_id "
. "job=\$pdf_report_job_id error=\$pdf_report_error';\n"
--- config
location /v1/document/api {
    access_log logs/audit.log audit;
    pdf_report_api;
}
location /log {
    alias logs/audit.log;
}
--- request eval
["POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "POST /v1/document/api\n{\"userId\":\"USNOSUCHUSER0001\"}",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000",
 "GET /log"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 3,
 "Content-Type: application/json",
 PdfReport::Test::auth(),
 ""]
--- error_code eval
[202, 409, 404, 401, 404, 200]
--- response_body_like eval
[qr/PENDING/, qr/JOB_PENDING/, qr/USER_NOT_FOUND/, qr/UNAUTHORIZED/,
 qr/JOB_NOT_FOUND/,
 qr{^POST /v1/document/api 202 org=org_acme user=US1A2B3C4D5E6F78 job=($::uuid) error=-
POST /v1/document/api 409 org=org_acme user=US1A2B3C4D5E6F78 job=\1 error=JOB_PENDING
POST /v1/document/api 404 org=org_acme user=USNOSUCHUSER0001 job=- error=USER_NOT_FOUND
POST /v1/document/api 401 org=- user=- job=- error=UNAUTHORIZED
GET /v1/document/api/00000000-0000-4000-8000-000000000000 404 org=org_acme user=- job=- error=JOB_NOT_FOUND
$}]



=== TEST 31: a job's changes of state at info, with its id and org
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: states_logged
