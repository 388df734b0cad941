# Retention (contract section 7, issue 11): a terminal job is deleted
# pdf_report_retention after it became terminal: its record (steps 2 and
# 3 answer 404 JOB_NOT_FOUND) and its S3 object, which is looked for
# through S3's own API (a signed HEAD and ListObjects straight to the S3
# server), not through the module.  "off" keeps everything.  A map full
# of jobs clears by itself once retention deletes them, and size= takes
# nginx's "g".  Under PDF_REPORT_STORE=postgresql the two map blocks
# (LMDB's size=) are skipped: a database has no map to fill.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json s3_object s3_keys);
use JSON::PP;
use Time::HiRes ();
use Time::Local qw(timegm);

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $users = "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl";
our $not_found = '{"error":"JOB_NOT_FOUND","message":"No report job has '
                 . 'this id."}';

our $many = join '', map {
    encode_json({ id => sprintf('USFULL%010d', $_),
                  connections => [{ org_id => 'org_full',
                                    connection_status => 'CONNECTED' }] })
    . "\n"
} 1 .. 3000;


sub ms {
    my ($iso) = @_;
    my ($y, $m, $d, $H, $M, $S, $ms) =
        $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/ or return;
    return timegm($S, $M, $H, $d, $m - 1, $y) * 1000 + $ms;
}


# polls step 2 until it answers status; the time it did, or undef
sub wait_status {
    my ($id, $status, $timeout, %o) = @_;
    my $deadline = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $deadline) {
        my ($s) = api(GET => "/v1/document/api/$id", %o);
        return Time::HiRes::time() if $s == $status;
        Time::HiRes::sleep(0.1);
    }

    return undef;
}


sub deleted_after_retention {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};
    my $key = "reports/org_acme/$id.pdf";

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");
    is(s3_object($key), 200, "$name - the object is in the bucket");

    my $done = ms($job->{completedAt}) / 1000;

    # kept while the retention (3 s) runs
    Time::HiRes::sleep($done + 1.5 - Time::HiRes::time())
        if $done + 1.5 > Time::HiRes::time();
    my ($s) = api(GET => "/v1/document/api/$id");
    is($s, 200, "$name - still there 1.5 s after completedAt");
    is(s3_object($key), 200, "$name - its object too");

    # then deleted: within the retention and a look (every second)
    my $gone = wait_status($id, 404, 15);
    ok(defined $gone, "$name - step 2 answers 404 in the end");
    ok(defined $gone && $gone - $done >= 3,
       sprintf("$name - not before the retention ran out (%.1f s)",
               ($gone // 0) - $done));
    ok(defined $gone && $gone - $done <= 3 + 4,
       sprintf("$name - soon after it did (%.1f s)", ($gone // 0) - $done));

    my ($s2, undef, $text2) = api(GET => "/v1/document/api/$id");
    my ($s3, undef, $text3) = api(GET => "/v1/document/api/$id/url");
    is("$s2 $text2", "404 $::not_found", "$name - step 2: JOB_NOT_FOUND");
    is("$s3 $text3", "404 $::not_found", "$name - step 3: JOB_NOT_FOUND");

    # the record goes only once the object is gone: gone already
    is(s3_object($key), 404, "$name - the object is gone (HEAD: 404)");
    is_deeply([grep { index($_, $id) >= 0 } s3_keys('reports/')], [],
              "$name - and not listed in the bucket");
}


sub kept_without_retention {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};
    my $key = "reports/org_acme/$id.pdf";

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");

    sleep 5;

    my ($s, undef, undef, $j) = api(GET => "/v1/document/api/$id");
    is($s, 200, "$name - still there 5 s later");
    is($j->{status}, 'COMPLETE', "$name - COMPLETE still");
    is(s3_object($key), 200, "$name - its object too");
}


sub big_map {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - a job completes in it");
}


sub full_map_clears {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($status, $text, @ids);

    my $tok = PdfReport::Test::token(claims => { org_id => 'org_full' });
    my $i = 0;
    my $t0 = Time::HiRes::time();

    # fill the map: jobs are kept (for 30 s) until new ones get 503, and
    # still do once every job is COMPLETE (the room kept for jobs still
    # running to end in is free again then)
    while ($i < 3000) {
        $i++;
        my ($s, undef, $t, $j) =
            api(POST => '/v1/document/api', token => $tok,
                body => { userId => sprintf('USFULL%010d', $i) });
        ($status, $text) = ($s, $t);

        if ($s == 202) {
            push @ids, $j->{jobId};
            next;
        }

        last if $s != 503;

        # full: once the last job is COMPLETE, is it still?
        my $last = wait_job($ids[-1], token => $tok, timeout => 60);
        last unless $last && $last->{status} eq 'COMPLETE';

        $i++;
        ($s, undef, $t, $j) =
            api(POST => '/v1/document/api', token => $tok,
                body => { userId => sprintf('USFULL%010d', $i) });
        ($status, $text) = ($s, $t);
        last if $s != 202;
        push @ids, $j->{jobId};
    }

    Test::More::note(sprintf("fill took %.1f s", Time::HiRes::time() - $t0));
    is($status, 503, "$name - 503 once the map is full of COMPLETE jobs ("
                     . scalar(@ids) . ")");
    like($text, qr/^\{"error":"STORE_FULL",/, "$name - STORE_FULL");
    ok(@ids > 100, "$name - many jobs fitted first");

    my (undef, undef, undef, $first) =
        api(GET => "/v1/document/api/$ids[0]", token => $tok);
    my $due = ms($first->{completedAt}) / 1000 + 30;
    ok(Time::HiRes::time() < $due - 2,
       sprintf("$name - full %.1f s before the first job is due",
               $due - Time::HiRes::time()));
    is(s3_object("reports/org_full/$ids[0].pdf"), 200,
       "$name - the first job's object is in the bucket");

    # the retention of the first jobs runs out: room comes back
    my $deadline = $due + 30;
    my $s = 0;

    while (Time::HiRes::time() < $deadline) {
        ($s, undef, $text) =
            api(POST => '/v1/document/api', token => $tok,
                body => { userId => sprintf('USFULL%010d', ++$i) });
        last if $s == 202;
        Time::HiRes::sleep(0.5);
    }

    is($s, 202, "$name - a new job is accepted again after the purge");
    ok(Time::HiRes::time() >= $due, "$name - not before the first was due");

    ($s) = api(GET => "/v1/document/api/$ids[0]", token => $tok);
    is($s, 404, "$name - the first job is gone");
    is(s3_object("reports/org_full/$ids[0].pdf"), 404,
       "$name - and its object");
}

run_tests();

__DATA__

=== TEST 1: retention of 3 s: the job turns 404 and its object leaves the bucket
--- http_config eval
PdfReport::Test::http_config(retention => '3s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: deleted_after_retention
--- timeout: 60
--- error_log
deleted 1 jobs and their objects (1 for retention, 0 revoked)



=== TEST 2: retention off: nothing is deleted
--- http_config eval
PdfReport::Test::http_config(retention => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: kept_without_retention
--- timeout: 60
--- no_error_log
deleted
[error]
[alert]
[crit]
[emerg]



=== TEST 3: size=8g starts, and jobs complete in it
--- skip_eval: 4: PdfReport::Backend::postgresql()
--- http_config eval
PdfReport::Test::http_config(
    store => "$ENV{TEST_NGINX_SERVER_ROOT}/pdf_report_temp size=8g")
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: big_map
--- timeout: 60



=== TEST 4: a full map clears by itself once retention deletes jobs (30 s)
--- skip_eval: 8: PdfReport::Backend::postgresql()
--- main_config eval
PdfReport::Test::main_config(threads => 4)
--- user_files eval
">>> users.jsonl\n$::many"
--- http_config eval
PdfReport::Test::http_config(
    store => "$ENV{TEST_NGINX_SERVER_ROOT}/pdf_report_temp size=1m",
    users => $::users, rate_limit => 'off', retention => '30s')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: full_map_clears
--- timeout: 240
--- error_log
pdf_report: store full (job create)
for retention, 0 revoked
