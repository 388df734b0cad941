# S3 faults on the DELETE of retention (contract section 7, issue 11),
# injected by the test proxy in front of the real S3 server: a delete
# that S3 refuses or that times out is tried again later, with backoff,
# and the job (record, step 2, object) stays until a try succeeds.  What
# the bucket holds is asked of the S3 server itself, not of the module.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json s3_object);
use Time::HiRes ();
use Time::Local qw(timegm);

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";


sub ms {
    my ($iso) = @_;
    my ($y, $m, $d, $H, $M, $S, $ms) =
        $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/ or return;
    return timegm($S, $M, $H, $d, $m - 1, $y) * 1000 + $ms;
}


# the job completes through the proxy; then the proxy does what the
# block's "--- delete" says to every delete, until "--- heal_after"
# seconds past the retention, when it passes everything again
sub stays_until_a_try_succeeds {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};
    my $key = "reports/org_acme/$id.pdf";
    my @modes = split /\n/, $block->delete;
    (my $heal = $block->heal_after) =~ s/\s+//g;

    my $job = wait_job($id);
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, @modes);

    is($job->{status}, 'COMPLETE', "$name - COMPLETE");
    is(s3_object($key), 200, "$name - the object is in the bucket");

    # retention is 2 s: the first delete fails soon after that
    my $due = ms($job->{completedAt}) / 1000 + 2;
    my $heal_at = $due + $heal;

    Time::HiRes::sleep($heal_at - Time::HiRes::time())
        if $heal_at > Time::HiRes::time();

    my ($s, undef, undef, $j) = api(GET => "/v1/document/api/$id");
    is($s, 200, "$name - the job stays while the deletes fail");
    is($j->{status}, 'COMPLETE', "$name - as it was");
    is(s3_object($key), 200, "$name - so does its object");

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my $deadline = Time::HiRes::time() + 40;

    while (Time::HiRes::time() < $deadline) {
        ($s) = api(GET => "/v1/document/api/$id");
        last if $s == 404;
        Time::HiRes::sleep(0.2);
    }

    is($s, 404, "$name - deleted once a later try succeeds");
    is(s3_object($key), 404, "$name - the object is gone");
}

add_block_preprocessor(sub {
    my ($block) = @_;
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');
});

run_tests();

__DATA__

=== TEST 1: S3 refuses the delete (403 AccessDenied): kept, logged at error, deleted later
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, retention => '2s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: stays_until_a_try_succeeds
--- delete
reply:403:AccessDenied
--- heal_after: 6
--- timeout: 80
--- error_log eval
[qr/\[error\] .*pdf_report: job [0-9a-f-]{36}: S3 answered 403 AccessDenied to the delete of "reports\/org_acme\/[0-9a-f-]{36}\.pdf": injected by the test proxy; it and 0 more wait \d+ s for another try \(0 failed the same way since the last such line\); check the S3 credentials and the bucket policy: deletes need s3:DeleteObject/,
 qr/deleted 1 jobs and their objects \(1 for retention, 0 revoked\)/]



=== TEST 2: S3 answers 503 SlowDown: tried again with backoff, at warn
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, retention => '2s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: stays_until_a_try_succeeds
--- delete
reply:503:SlowDown
--- heal_after: 6
--- timeout: 80
--- error_log eval
[qr/\[warn\] .*pdf_report: job [0-9a-f-]{36}: S3 answered 503 SlowDown to the delete of /,
 qr/deleted 1 jobs and their objects/]
--- no_error_log
[error]
[alert]
[crit]
[emerg]



=== TEST 3: the delete times out (S3 accepts and never answers): kept, tried again
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, retention => '2s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: stays_until_a_try_succeeds
--- delete
hang
--- heal_after: 8
--- timeout: 80
--- error_log eval
[qr/\[warn\] .*pdf_report: job [0-9a-f-]{36}: the delete of "reports\/org_acme\/[0-9a-f-]{36}\.pdf" failed: CURLE_OPERATION_TIMEDOUT /,
 qr/deleted 1 jobs and their objects/]
--- no_error_log
[error]
[alert]
[crit]
[emerg]
