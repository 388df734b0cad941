# The PostgreSQL store (contract section 8, issue 12), with Debian's
# PostgreSQL 15 started by the test helpers (initdb in a temporary
# directory, a free port) and a new database for each block:
#
# - the three steps, 409 and the rate window through the database;
# - nginx starts while the database cannot be reached: 503
#   STORE_UNAVAILABLE with Retry-After;
# - nginx started while the database is up serves its first request:
#   the master set the store up before the workers started;
# - the database stopped and started again under a running nginx: 503
#   meanwhile, then the same workers answer again, nothing lost;
# - "pdf_report_users off": rows written in SQL are seen by the next
#   request, without a reload;
# - a report finished while the database is away is recorded when it is
#   back, not run again;
# - revocations written in SQL erase the pairs' jobs and objects.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use PdfReport::Backend;
BEGIN { PdfReport::Backend::once('its blocks name their own databases') }
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json s3_get s3_object s3_keys);
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

    # pdf_report_erase_on_revoke off: the revocation erases nothing
    Time::HiRes::sleep(2.5);
    ($status, undef, undef, $e) = api(GET => "/v1/document/api/$j->{jobId}");
    is($status, 200, "$name - erasure off: the job stays");
    is(s3_object("reports/org_acme/$j->{jobId}.pdf"), 200,
       "$name - erasure off: its object stays");
}


# polls until nothing of the bucket has the key, or time runs out
sub gone_from_bucket {
    my ($key, $timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $deadline) {
        return 1 if s3_object($key) == 404
                    && !grep { $_ eq $key } s3_keys('reports/');
        Time::HiRes::sleep(0.2);
    }

    return 0;
}


# three users' jobs complete; one user's connection is revoked by an
# UPDATE in SQL, another's row is deleted: their jobs answer 404 and
# their objects go within seconds (the deletion pass looks every
# second); the third user's job and object stay
sub revoked_in_sql {
    my ($block) = @_;
    my $name = $block->name;
    my $uri = $::uri[5];
    my %job;

    for my $u (qw(US1A2B3C4D5E6F78 US3C4D5E6F7A8B90 US5E6F7A8B9C0D12)) {
        my ($s, undef, undef, $j) =
            api(POST => '/v1/document/api', body => { userId => $u });
        is($s, 202, "$name - $u: 202");
        $job{$u} = $j->{jobId};
        is(wait_job($j->{jobId}, timeout => 20)->{status}, 'COMPLETE',
           "$name - $u: COMPLETE");
    }

    PdfReport::Test::pg_sql($uri, q{UPDATE pdf_report_users SET record =
        jsonb_set(record, '{connections,0,connection_status}', '"REVOKED"')
        WHERE id = 'US1A2B3C4D5E6F78'});
    PdfReport::Test::pg_sql($uri, q{DELETE FROM pdf_report_users
        WHERE id = 'US3C4D5E6F7A8B90'});

    for my $u (qw(US1A2B3C4D5E6F78 US3C4D5E6F7A8B90)) {
        my $key = "reports/org_acme/$job{$u}.pdf";
        ok(gone_from_bucket($key, 10), "$name - $u: the object is deleted");

        my ($s, undef, undef, $e) = api(GET => "/v1/document/api/$job{$u}");
        is($s, 404, "$name - $u: the job answers 404");
        is($e && $e->{error}, 'JOB_NOT_FOUND', "$name - $u: JOB_NOT_FOUND");
    }

    my $kept = $job{US5E6F7A8B9C0D12};
    my ($s) = api(GET => "/v1/document/api/$kept");
    is($s, 200, "$name - the other user's job stays");
    is(s3_object("reports/org_acme/$kept.pdf"), 200,
       "$name - and its object");

    is(PdfReport::Test::pg_sql($uri,
                               'SELECT count(*) FROM pdf_report_revoked'),
       0, "$name - the queue of revocations is empty");
}


# The upload's answer is held 3 s by the proxy; the database is stopped
# while it is held, and started again 3 s later.  The lease is 120 s, so
# a job COMPLETE within 30 s was recorded by the attempt that rendered
# it, not run again by another claim after the lease.
sub away_at_finish {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $deadline = Time::HiRes::time() + 5;
    my $state = '';
    while ($state ne 'IN_PROGRESS' && Time::HiRes::time() < $deadline) {
        my (undef, undef, undef, $j) = api(GET => "/v1/document/api/$id");
        $state = $j->{status} // '';
        Time::HiRes::sleep(0.05) if $state ne 'IN_PROGRESS';
    }
    is($state, 'IN_PROGRESS', "$name - claimed, its upload held");

    PdfReport::Test::pg_down();
    Time::HiRes::sleep(6);

    my ($status) = api(GET => "/v1/document/api/$id");
    is($status, 503, "$name - the database away: 503");

    PdfReport::Test::pg_up();

    my $job = wait_job($id, timeout => 30);
    is($job && $job->{status}, 'COMPLETE',
       "$name - COMPLETE once the database is back, within the lease");

    my (undef, undef, undef, $u) = api(GET => "/v1/document/api/$id/url");
    my $res = s3_get($u->{url});
    is(sha256_hex($res->{content} // ''), $job->{sha256},
       "$name - the object is the one recorded");
}


our @uri = map { PdfReport::Test::pg_database() } 1 .. 8;

# the last by host names, resolved in a pool thread first by the event
# loop's connection, every address of each (on Debian, localhost is ::1
# first, where the cluster does not listen), tried in turn with a port a
# host: the first port refuses
$uri[7] =~ s{\@127\.0\.0\.1:(\d+)/}{\@localhost:1,localhost:$1/};

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



=== TEST 3: nginx starts with the database unreachable: 503, no password logged
--- http_config eval
main::pg("postgresql://postgres:Pa55w0rdSecret\@127.0.0.1:$::closed/none")
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
--- no_error_log
Pa55w0rdSecret
[alert]
[crit]
[emerg]



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
main::pg($::uri[3], users => 'off', erase_on_revoke => 'off')
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: users_off
--- timeout: 40



=== TEST 6: a report finished while the database is away: recorded when it is back
--- http_config eval
main::pg($::uri[4], s3_endpoint => $::proxy, job_lease => '120s',
         job_timeout => '300s')
--- init
main::until_served(10);
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'slow:3000',
                            'pass');
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: away_at_finish
--- timeout: 90
--- error_log eval
qr/\[notice\] .*job [0-9a-f-]{36}: its outcome waited \d+ ms for the store to come back, then was recorded/
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 7: revocations written in SQL erase the pairs' jobs
--- http_config eval
main::pg($::uri[5])
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: revoked_in_sql
--- timeout: 90



=== TEST 8: the database up at start: the very first request is served
--- http_config eval
main::pg($::uri[6])
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- error_log
pdf_report: 15 users loaded from
--- no_error_log
could not be set up
[alert]
[crit]
[emerg]



=== TEST 9: host names in the URI, a port each: resolved off the event loop, every address tried, read on it
--- http_config eval
main::pg($::uri[7])
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- no_error_log
cannot read the PostgreSQL store on the event loop
[alert]
[crit]
[emerg]

