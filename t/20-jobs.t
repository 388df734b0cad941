# Steps 2 and 3 on jobs in every state: the bodies field by field, 404
# for unknown and other orgs' jobs, 422 before completion, FAILED jobs,
# and the scope and method checks.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job token);
use JSON::PP;
use Time::HiRes ();

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $uuid = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
our $time = qr/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/;

our $not_found = '{"error":"JOB_NOT_FOUND","message":"No report job has this id."}';

sub job_id {
    my ($body) = @_;
    my $j = PdfReport::Test::json($body);
    return $j ? $j->{jobId} : '(none)';
}


sub complete_job {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = job_id($body);

    my $job = wait_job($id);

    is($job->{status}, 'COMPLETE', "$name - job complete");
    is_deeply([sort keys %$job],
              [sort qw(jobId status userId templateVersion sizeBytes sha256
                       durationMs createdAt updatedAt completedAt)],
              "$name - exactly the fields of a COMPLETE job");
    is($job->{jobId}, $id, "$name - jobId");
    is($job->{userId}, 'US1A2B3C4D5E6F78', "$name - userId");
    is($job->{templateVersion}, 'v2', "$name - templateVersion");
    like($job->{sha256}, qr/^[0-9a-f]{64}$/, "$name - sha256 is hex");
    ok($job->{sizeBytes} > 10000 && $job->{sizeBytes} < 204800,
       "$name - sizeBytes $job->{sizeBytes} between 10 kB and 200 kB");
    like($job->{durationMs}, qr/^\d+$/, "$name - durationMs a number");
    like($job->{createdAt}, qr/^$::time$/, "$name - createdAt");
    like($job->{completedAt}, qr/^$::time$/, "$name - completedAt");
    is($job->{updatedAt}, $job->{completedAt},
       "$name - updatedAt is the completion");
    ok($job->{completedAt} ge $job->{createdAt},
       "$name - completed after created");

    my ($status, $h) = api(GET => "/v1/document/api/$id");

    is($status, 200, "$name - status read");
    ok(!exists $h->{'retry-after'}, "$name - no Retry-After once terminal");
    is($h->{'content-type'}, 'application/json', "$name - JSON");
    is($h->{'cache-control'}, 'no-store', "$name - not cached");

    # ids are matched without regard to case
    ($status) = api(GET => "/v1/document/api/" . uc $id);
    is($status, 200, "$name - upper-case id finds the job");
}


sub running_job {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = job_id($body);
    my ($status, $h, $text, $job);

    # claimed at once: the S3 behind it never answers
    for (1 .. 50) {
        ($status, $h, $text, $job) = api(GET => "/v1/document/api/$id");
        last if $job && $job->{status} eq 'IN_PROGRESS';
        select undef, undef, undef, 0.1;
    }

    is($status, 200, "$name - 200");
    like($text, qr/^\{"jobId":"$id","status":"IN_PROGRESS","userId":"US1A2B3C4D5E6F78","createdAt":"($::time)","updatedAt":"$::time"\}$/,
         "$name - the running job's body");
    is($h->{'retry-after'}, 3, "$name - Retry-After: 3 while running");

    # step 3 before completion
    ($status, $h, $text) = api(GET => "/v1/document/api/$id/url");

    is($status, 422, "$name - url: 422");
    is($text, '{"error":"JOB_NOT_COMPLETE","message":"The report is not '
              . 'complete; keep polling the job.","status":"IN_PROGRESS"}',
       "$name - url: body names the status");
}


sub pending_job {
    my ($block, $body, $req_idx) = @_;
    return unless $req_idx == 1;

    my $name = $block->name;
    my $id = job_id($body);

    my ($status, $h, $text) = api(GET => "/v1/document/api/$id");

    is($status, 200, "$name - 200");
    like($text, qr/^\{"jobId":"$id","status":"PENDING","userId":"USTEST0000000002","createdAt":"($::time)","updatedAt":"\1"\}$/,
         "$name - the waiting job is PENDING");
    is($h->{'retry-after'}, 3, "$name - Retry-After: 3 while pending");

    ($status, $h, $text) = api(GET => "/v1/document/api/$id/url");
    is($status, 422, "$name - url: 422");
    like($text, qr/"status":"PENDING"\}$/, "$name - url: says PENDING");
}


sub other_org {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = job_id($body);
    my $other = token(claims => { org_id => 'org_other' });

    for my $path ("/v1/document/api/$id", "/v1/document/api/$id/url") {
        my ($status, $h, $text) = api(GET => $path, token => $other);
        is($status, 404, "$name - $path: 404 for another org");
        is($text, $::not_found, "$name - $path: as if unknown");
    }

    my ($status) = api(GET => "/v1/document/api/$id");
    is($status, 200, "$name - the owner still sees it");
}


sub failed_upload {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = job_id($body);

    my $job = wait_job($id);

    is($job->{status}, 'FAILED', "$name - FAILED");
    is_deeply([sort keys %$job],
              [sort qw(jobId status userId errorCode errorMessage createdAt
                       updatedAt)],
              "$name - exactly the fields of a FAILED job");
    is($job->{errorCode}, 'UPLOAD_FAILED', "$name - UPLOAD_FAILED");
    is($job->{errorMessage},
       'The report could not be stored: S3 answered 403 '
       . 'SignatureDoesNotMatch. Contact support if it fails again.',
       "$name - S3's code, nothing of this edge");

    my ($status, $h, $text) = api(GET => "/v1/document/api/$id/url");
    is($status, 422, "$name - url: 422");
    like($text, qr/"status":"FAILED"\}$/, "$name - url: says FAILED");
}


# the lines of the error log that match: the task records a job's end in
# the store before the event loop logs it, so a poll may see FAILED first

sub log_lines {
    my ($re, $want) = @_;
    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log";
    my $deadline = Time::HiRes::time() + 10;
    my @lines;

    while (1) {
        open my $fh, '<', $log or die "$log: $!";
        @lines = grep { /$re/ } <$fh>;
        close $fh;
        last if @lines >= $want || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.1);
    }

    return @lines;
}


# a cause that means the configuration is wrong: every job fails alike,
# one [error] line a window names it, the others are at [warn]

sub failed_alike {
    my ($block, $body) = @_;
    my $name = $block->name;
    my @ids = (job_id($body));

    for my $user (qw(US3C4D5E6F7A8B90 US5E6F7A8B9C0D12)) {
        my ($status, undef, undef, $j) =
            api(POST => '/v1/document/api', body => { userId => $user });
        is($status, 202, "$name - $user: 202");
        push @ids, $j->{jobId};
    }

    for my $id (@ids) {
        my $job = wait_job($id);
        is($job->{errorCode}, 'UPLOAD_FAILED', "$name - $id: UPLOAD_FAILED");
    }

    my @lines = log_lines(qr/failed: UPLOAD_FAILED/, 3);

    my @error = grep { /\[error\]/ } @lines;
    my @warn = grep { /\[warn\]/ } @lines;

    is(scalar @error, 1, "$name - one [error] line for the cause");
    like($error[0] // '', qr/failed: .*\(0 more job\(s\) failed /,
         "$name - the first to fail, none before it");
    is(scalar @warn, 2, "$name - the other two at [warn]");

    # the jobs run side by side: any of them may be the first to fail
    for my $i (0 .. 2) {
        my $detail = qr/job $ids[$i] failed: UPLOAD_FAILED: S3 answered 403 /
                     . qr/SignatureDoesNotMatch after 1 attempt/;
        is(scalar(grep { /$detail/ } @error, @warn), 1,
           "$name - job $i in exactly one line, with the detail");
    }
}


# a font that went away after the start: the configuration is wrong, so
# [error] with strerror and what to check; the client reads a sentence

our $fonts = "$ENV{TEST_NGINX_SERVER_ROOT}/html";

sub font_gone {
    my ($block, $body, $req_idx) = @_;
    my $name = $block->name;

    if ($req_idx == 0) {
        unlink "$::fonts/bold.ttf" or die "unlink: $!";
        return;
    }

    my $job = wait_job(job_id($body));

    is($job->{errorCode}, 'RENDER_FAILED', "$name - RENDER_FAILED");
    is($job->{errorMessage}, 'The report could not be rendered; retry '
       . 'later, or contact support if it fails again.',
       "$name - no path for the client");

    my $want = qr/\[error\] .*pdf_report: job $job->{jobId} failed: /
               . qr/RENDER_FAILED: cannot open the TrueType font /
               . qr/"\Q$::fonts\E\/bold\.ttf": No such file or directory; /
               . qr/org "org_acme"; check pdf_report_fonts/;
    is(scalar(log_lines($want, 1)), 1,
       "$name - [error] with strerror and what to check");
}


sub timed_out {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = job_id($body);

    my $job = wait_job($id, timeout => 15);

    is($job->{status}, 'FAILED', "$name - FAILED");
    is($job->{errorCode}, 'TIMEOUT', "$name - TIMEOUT");
    is($job->{errorMessage},
       'The report could not be stored in time; retry later.',
       "$name - says why, and nothing of this edge");
}

sub render_failed {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = job_id($body);

    my $job = wait_job($id);

    is($job->{status}, 'FAILED', "$name - FAILED");
    is($job->{errorCode}, 'RENDER_FAILED', "$name - RENDER_FAILED");
    is($job->{errorMessage}, 'The report could not be rendered; retry '
       . 'later, or contact support if it fails again.',
       "$name - a sentence for the client");

    # nginx is still there, and so are the other users' reports
    my ($status, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 202, "$name - the next job is accepted");
    is(wait_job($j->{jobId})->{status}, 'COMPLETE',
       "$name - and completes");
}


# the directory of the tests, and a user no report can be made of
our $huge = do {
        local (@ARGV, $/) = ("$PdfReport::Test::DATA/users.jsonl"); <>
    }
    . JSON::PP->new->canonical->encode({
          id => 'USHUGE0000000001', last_name => 'Huge',
          address1 => 'x' x 70000,
          connections => [{ org_id => 'org_acme',
                            connection_status => 'CONNECTED' }] })
    . "\n";

run_tests();

__DATA__

=== TEST 1: a COMPLETE job, field by field
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: complete_job
--- error_log eval
qr/pdf_report: job $::uuid complete: \d+ bytes in \d+ ms/



=== TEST 2: a running job, and 422 for its URL
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: running_job



=== TEST 3: a job waiting for a free slot is PENDING
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
    worker_jobs => 1)
--- request eval
["POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000002\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 2]
--- error_code eval
[202, 202]
--- flow: pending_job



=== TEST 4: another org's job is 404 on steps 2 and 3, as an unknown one
--- request
POST /v1/document/api
{"userId":"USBOTHORGS000001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: other_org



=== TEST 5: unknown and malformed ids: 404 after authentication
--- request eval
["GET /v1/document/api/00000000-0000-4000-8000-000000000000",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000/url",
 "GET /v1/document/api/not-a-job",
 "GET /v1/document/api/" . ("a" x 300),
 "GET /v1/document/api/3FA85F64-5717-4562-B3FC-2C963F66AFA6",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000"]
--- more_headers eval
[(PdfReport::Test::auth()) x 5, ""]
--- error_code eval
[404, 404, 404, 404, 404, 401]
--- response_body eval
[($::not_found) x 5,
 '{"error":"UNAUTHORIZED","message":"A bearer token is required."}']



=== TEST 6: steps 2 and 3 need read:reports
--- request eval
["GET /v1/document/api/00000000-0000-4000-8000-000000000000",
 "GET /v1/document/api/00000000-0000-4000-8000-000000000000/url"]
--- more_headers eval
[(PdfReport::Test::auth(claims => { scope => 'write:reports' })) x 2]
--- error_code eval
[403, 403]
--- response_headers eval
[("WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"read:reports\"") x 2]
--- response_body eval
[('{"error":"INSUFFICIENT_SCOPE","message":"The bearer token lacks the scope this call needs."}') x 2]



=== TEST 7: pdf_report_read_scope off lets any valid token read
--- http_config eval
PdfReport::Test::http_config(read_scope => 'off')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth(claims => { scope => undef })
--- error_code: 404
--- response_body eval
$::not_found



=== TEST 8: wrong methods on a job and its URL: 405 with Allow
--- request eval
["POST /v1/document/api/00000000-0000-4000-8000-000000000000\n{}",
 "DELETE /v1/document/api/00000000-0000-4000-8000-000000000000/url"]
--- error_code eval
[405, 405]
--- response_headers eval
["Allow: GET, HEAD", "Allow: GET, HEAD"]
--- response_body eval
[('{"error":"METHOD_NOT_ALLOWED","message":"This method is not allowed on this resource."}') x 2]



=== TEST 9: HEAD of a job: the status without a body
--- request
HEAD /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp



=== TEST 10: S3 refuses the credentials: FAILED UPLOAD_FAILED, no retry
--- http_config eval
PdfReport::Test::http_config(
    s3_credentials => "$PdfReport::Test::DATA/aws-credentials wrong-secret")
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: failed_upload
--- error_log eval
qr/\[error\] .*pdf_report: job $::uuid failed: UPLOAD_FAILED: S3 answered 403 SignatureDoesNotMatch after 1 attempt\(s\): The request signature we calculated does not match the signature you provided\. Check your key and signing method\.; org "org_acme"; check the S3 settings/



=== TEST 11: a job that cannot finish in time: FAILED TIMEOUT
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
    job_timeout => '2s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: timed_out
--- timeout: 20



=== TEST 12: a record the renderer refuses: FAILED RENDER_FAILED, no crash
--- user_files eval
">>> users.jsonl\n$::huge"
--- http_config eval
PdfReport::Test::http_config(
    users => "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl")
--- request
POST /v1/document/api
{"userId":"USHUGE0000000001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: render_failed
--- error_log eval
qr/\[warn\] .*pdf_report: job $::uuid failed: RENDER_FAILED: "address1" is longer than 65536 bytes/



=== TEST 13: S3 refuses every job: one [error] line names the cause
--- http_config eval
PdfReport::Test::http_config(
    s3_credentials => "$PdfReport::Test::DATA/aws-credentials wrong-secret")
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: failed_alike



=== TEST 14: a font gone after the start: RENDER_FAILED, [error] says why
--- user_files eval
my $f = '/usr/share/fonts/truetype/dejavu';
">>> regular.ttf\n" . do { local $/; open my $h, '<', "$f/DejaVuSans.ttf"; <$h> }
. ">>> bold.ttf\n" . do { local $/; open my $h, '<', "$f/DejaVuSans-Bold.ttf"; <$h> }
--- http_config eval
PdfReport::Test::http_config(fonts => "$::fonts/regular.ttf $::fonts/bold.ttf")
--- request eval
["GET /v1/document/api/x/y/z",
 "POST /v1/document/api\n{\"userId\":\"US1A2B3C4D5E6F78\"}"]
--- more_headers eval
["", PdfReport::Test::auth() . "\nContent-Type: application/json"]
--- error_code eval
[404, 202]
--- flow: font_gone
