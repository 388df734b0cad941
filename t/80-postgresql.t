# The PostgreSQL store (contract section 8, issue 12), with Debian's
# PostgreSQL 15 started by the test helpers (initdb in a temporary
# directory, a free port) and a new database for each block:
#
# - the three steps, 409 and the rate window through the database;
# - nginx starts while the database cannot be reached: 503
#   STORE_UNAVAILABLE with Retry-After;
# - the database stopped and started again under a running nginx: 503
#   meanwhile, then the same workers answer again, nothing lost;
# - "pdf_report_users off": rows written in SQL are seen by the next
#   request, without a reload.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json s3_get);
use Digest::SHA qw(sha256_hex);
use Time::HiRes ();

no_long_string();
no_shuffle();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $closed = PdfReport::Test::free_port();
our $unavailable = '{"error":"STORE_UNAVAILABLE","message":"The job store '
                   . 'cannot be reached; try again shortly."}';


sub pg { PdfReport::Test::http_config(store => $_[0], @_[1 .. $#_]) }


# polls until step 2 of a job that does not exist answers 404, not 503,
# 8 times in a row: each worker sets the store up for itself, and one
# 404 may be the first worker's while the other still answers 503
sub until_served {
    my ($timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    my ($status, $in_row) = (0, 0);

    while (Time::HiRes::time() < $deadline) {
        ($status) = api(GET => '/v1/document/api/'
                               . '00000000-0000-4000-8000-000000000000');
        $in_row = ($status == 404) ? $in_row + 1 : 0;
        return $status if $in_row >= 8;
        Time::HiRes::sleep($status == 404 ? 0.01 : 0.1);
    }

    return $status;
}


sub flow_and_409 {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    # the upload is held 2 s: the job is still running
    my ($s, undef, $text, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($s, 409, "$name - a second job of the user: 409");
    is($j && $j->{jobId}, $id, "$name - naming the pending job");

    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");

    my (undef, undef, undef, $u) = api(GET => "/v1/document/api/$id/url");
    my $res = s3_get($u->{url});
    is($res->{status}, 200, "$name - the URL downloads");
    is(sha256_hex($res->{content}), $job->{sha256},
       "$name - the bytes of the recorded SHA-256");

    my $rows = PdfReport::Test::pg_sql($::uri[0],
                   "SELECT status FROM pdf_report_jobs WHERE id = '$id'");
    is($rows, 2, "$name - the row in pdf_report_jobs is COMPLETE (2)");
}


sub window {
    my ($block) = @_;
    my $name = $block->name;
    my @got;

    for my $user (qw(US1A2B3C4D5E6F78 US3C4D5E6F7A8B90 US5E6F7A8B9C0D12)) {
        my ($s, $h) = api(POST => '/v1/document/api',
                          body => { userId => $user });
        push @got, $s;
    }

    is("@got", '202 202 429', "$name - two accepted, the third 429");
}


sub restarted {
    my ($block) = @_;
    my $name = $block->name;

    my ($s, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($s, 202, "$name - 202");

    PdfReport::Test::pg_down();

    my ($status, $h, $text) = api(GET => "/v1/document/api/$j->{jobId}");
    is($status, 503, "$name - the database stopped: 503");
    is($text, $::unavailable, "$name - STORE_UNAVAILABLE");
    is($h->{'retry-after'}, '1', "$name - Retry-After: 1");

    PdfReport::Test::pg_up();

    is(until_served(10), 404, "$name - served again, no reload");
    is(wait_job($j->{jobId}, timeout => 40)->{status}, 'COMPLETE',
       "$name - the job accepted before is not lost");
}


sub users_off {
    my ($block) = @_;
    my $name = $block->name;
    my $uri = $::uri[3];

    my ($s, undef, undef, $j) =
        api(POST => '/v1/document/api', body => { userId => 'USSQL00000000001' });
    is($s, 404, "$name - not in the table: 404");
    is($j && $j->{error}, 'USER_NOT_FOUND', "$name - USER_NOT_FOUND");

    PdfReport::Test::pg_sql($uri, q{INSERT INTO pdf_report_users VALUES
        ('USSQL00000000001', '{"id":"USSQL00000000001","first_name":"Ada",
         "last_name":"Lovelace","connections":[{"org_id":"org_acme",
         "connection_status":"CONNECTED"}]}')});

    ($s, undef, undef, $j) =
        api(POST => '/v1/document/api', body => { userId => 'USSQL00000000001' });
    is($s, 202, "$name - the row written in SQL: 202 at once");

    my $job = wait_job($j->{jobId}, timeout => 20);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");

    PdfReport::Test::pg_sql($uri, q{UPDATE pdf_report_users SET record =
        jsonb_set(record, '{connections,0,connection_status}', '"REVOKED"')
        WHERE id = 'USSQL00000000001'});

    my ($status, undef, undef, $e) =
        api(GET => "/v1/document/api/$j->{jobId}/url");
    is($status, 403, "$name - revoked in SQL: step 3 refused at once");
    is($e && $e->{error}, 'NOT_CONNECTED', "$name - NOT_CONNECTED");
}


our @uri = map { PdfReport::Test::pg_database() } 1 .. 4;

run_tests();

__DATA__

=== TEST 1: the three steps and 409 through PostgreSQL
--- http_config eval
main::pg($::uri[0], s3_endpoint => $::proxy)
--- init
main::until_served(10);
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'stall:2000',
                            'pass');
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: flow_and_409
--- timeout: 40



=== TEST 2: the org's window through PostgreSQL
--- http_config eval
main::pg($::uri[1], rate_limit => '2 10m')
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: window



=== TEST 3: nginx starts with the database unreachable: 503
--- http_config eval
main::pg("postgresql://postgres\@127.0.0.1:$::closed/none")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body eval
$::unavailable
--- error_log eval
qr/\[warn\] .*the PostgreSQL store's schema could not be set up: .*steps 1 to 3 answer 503/



=== TEST 4: the database stopped and started again: 503, then served
--- http_config eval
main::pg($::uri[2])
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: restarted
--- timeout: 90
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 5: pdf_report_users off: rows written in SQL, seen at once
--- http_config eval
main::pg($::uri[3], users => 'off')
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: users_off
--- timeout: 40
