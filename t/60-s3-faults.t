# S3 faults, injected by the test proxy in front of the real S3 server
# (contract section 6): network errors, 5xx and SlowDown are retried with
# backoff inside the job's time budget; other 4xx fail the job with
# UPLOAD_FAILED and S3's code; nothing runs past the job timeout.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job s3_get);
use Digest::SHA qw(sha256_hex);
use Time::Local qw(timegm);

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $uuid = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $closed = PdfReport::Test::free_port();


sub ms {
    my ($iso) = @_;
    my ($y, $m, $d, $H, $M, $S, $ms) =
        $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/ or return;
    return timegm($S, $M, $H, $d, $m - 1, $y) * 1000 + $ms;
}


# the proxy's script for this block: a "--- proxy" section, one mode a line

sub set_proxy {
    my ($block) = @_;
    my @modes = split /\n/, $block->proxy // "pass";
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, @modes);
}


sub completes {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};

    my $job = wait_job($id, timeout => 30);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE in the end");

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my (undef, undef, undef, $u) = api(GET => "/v1/document/api/$id/url");
    my $res = s3_get($u->{url});
    is(sha256_hex($res->{content}), $job->{sha256},
       "$name - S3 holds the recorded bytes");

    if (defined $block->min_duration) {
        ok($job->{durationMs} >= $block->min_duration,
           "$name - durationMs $job->{durationMs} includes the slow answer");
    }
}


sub fails {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};
    my ($code, $message) = split /\n/, $block->expect_failure, 2;
    chomp $message;

    my $job = wait_job($id, timeout => 30);

    is($job->{status}, 'FAILED', "$name - FAILED");
    is($job->{errorCode}, $code, "$name - $code");
    like($job->{errorMessage}, qr/$message/, "$name - message");

    if (defined $block->within) {
        my $took = ms($job->{updatedAt}) - ms($job->{createdAt});
        ok($took <= $block->within,
           "$name - terminal after $took ms, within the timeout plus one "
           . "scan interval");
    }
}

add_block_preprocessor(sub {
    my ($block) = @_;
    set_proxy($block) if defined $block->proxy;
});

run_tests();

__DATA__

=== TEST 1: two 500s, then success: retried, complete on the third attempt
--- proxy
reply:500:InternalError
reply:500:InternalError
pass
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: completes
--- timeout: 40
--- error_log eval
qr/complete: \d+ bytes in \d+ ms \(render \d+ ms, 3 upload attempt\(s\)\)/



=== TEST 2: 503 SlowDown twice, then success
--- proxy
reply:503:SlowDown
reply:503:SlowDown
pass
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: completes
--- timeout: 40
--- error_log eval
qr/3 upload attempt\(s\)\)/



=== TEST 3: SlowDown answered as 400 is retried too
--- proxy
reply:400:SlowDown
pass
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: completes
--- timeout: 40
--- error_log eval
qr/2 upload attempt\(s\)\)/



=== TEST 4: the connection reset mid-upload, twice: retried, complete
--- proxy
reset
reset
pass
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: completes
--- timeout: 40
--- error_log eval
qr/3 upload attempt\(s\)\)/



=== TEST 5: connections closed without an answer: retried, complete
--- proxy
close
pass
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: completes
--- timeout: 40
--- error_log eval
qr/2 upload attempt\(s\)\)/



=== TEST 6: a slow S3 (1.5 s to answer) is waited for
--- proxy
slow:1500
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: completes
--- min_duration: 1500
--- timeout: 40
--- error_log eval
qr/1 upload attempt\(s\)\)/



=== TEST 7: 403 AccessDenied: failed at once with S3's code, no retry
--- proxy
reply:403:AccessDenied
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: fails
--- expect_failure
UPLOAD_FAILED
^The report could not be stored: S3 answered 403 AccessDenied\. Contact support if it fails again\.$
--- error_log eval
qr/\[error\] .*pdf_report: job $::uuid failed: UPLOAD_FAILED: S3 answered 403 AccessDenied after 1 attempt\(s\): injected by the test proxy; org "org_acme"; check the S3 settings/
--- timeout: 40



=== TEST 8: 404 NoSuchBucket: failed at once
--- proxy
reply:404:NoSuchBucket
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: fails
--- expect_failure
UPLOAD_FAILED
^The report could not be stored: S3 answered 404 NoSuchBucket\. Contact support if it fails again\.$
--- timeout: 40



=== TEST 9: S3 down: retried until the job timeout, then TIMEOUT
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => "http://127.0.0.1:$::closed",
                             job_timeout => '3s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: fails
--- expect_failure
TIMEOUT
^The report could not be stored in time; retry later\.$
--- error_log eval
qr/\[error\] .*pdf_report: job $::uuid failed: TIMEOUT: the last of \d+ upload attempt\(s\) ended with: CURLE_COULDNT_CONNECT .*127\.0\.0\.1.*; org "org_acme"; S3 kept failing/
--- within: 4500
--- timeout: 40



=== TEST 10: 500s without end: TIMEOUT, never past the budget
--- proxy
reply:500:InternalError
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, job_timeout => '3s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: fails
--- expect_failure
TIMEOUT
^The report could not be stored in time; retry later\.$
--- error_log eval
qr/pdf_report: job $::uuid failed: TIMEOUT: the last of \d+ upload attempt\(s\) ended with: InternalError injected by the test proxy/
--- within: 4500
--- timeout: 40



=== TEST 11: an S3 that never answers: TIMEOUT at the budget
--- proxy
hang
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, job_timeout => '3s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: fails
--- expect_failure
TIMEOUT
^The report (?:was not finished within 3 seconds|could not be stored in time; retry later)\.$
--- within: 4500
--- timeout: 40
