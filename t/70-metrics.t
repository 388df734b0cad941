# pdf_report_metrics (contract section 9): Prometheus text whose counters
# move by exactly what known actions do, summed over both workers (the
# counters are in shared memory) and kept across a reload; a retention
# delete, retried once, moves the delete counters.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job);
use HTTP::Tiny;
use Time::HiRes ();

no_long_string();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $port2 = PdfReport::Test::free_port();
our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";


# every sample of a scrape: "name{labels}" => value
sub scrape {
    my ($port) = @_;
    $port //= $ENV{TEST_NGINX_SERVER_PORT};

    my $res = HTTP::Tiny->new(timeout => 5)
        ->get("http://127.0.0.1:$port/metrics");

    die "scrape: $res->{status}" unless $res->{status} == 200;

    my %m;
    for (split /\n/, $res->{content}) {
        next if /^#/;
        /^(\S+) (\S+)$/ or die "not a sample: $_";
        $m{$1} = $2;
    }

    return \%m;
}


# a scrape once the counters of the jobs waited for have moved: a task
# records a job's end in the store before the event loop counts it
sub scrape_when {
    my ($port, $name, $at_least, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 10);
    my $m;

    while (1) {
        $m = scrape($port);
        last if ($m->{$name} // 0) >= $at_least
                || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.1);
    }

    return $m;
}


sub delta {
    my ($before, $after, $name) = @_;
    return ($after->{$name} // 0) - ($before->{$name} // 0);
}


sub moved {
    my ($block, $before, $after, %want) = @_;

    for my $name (sort keys %want) {
        is(delta($before, $after, $name), $want{$name},
           $block->name . " - $name moved by $want{$name}");
    }
}


our $created = 'pdf_report_jobs_created_total';
our $complete = 'pdf_report_jobs_finished_total{status="COMPLETE"}';
our $c202 = 'pdf_report_responses_total{endpoint="create",code="202"}';
our $c429 = 'pdf_report_responses_total{endpoint="create",code="429"}';
our $s200 = 'pdf_report_responses_total{endpoint="status",code="200"}';
our $put_ok = 'pdf_report_s3_requests_total{op="put",result="ok"}';
our $put_retry = 'pdf_report_s3_requests_total{op="put",result="retry"}';
our $put_error = 'pdf_report_s3_requests_total{op="put",result="error"}';
our $count = 'pdf_report_job_duration_seconds_count';
our $inf = 'pdf_report_job_duration_seconds_bucket{le="+Inf"}';


sub created_and_limited {
    my ($block) = @_;
    my $name = $block->name;
    my $before = scrape();

    my @ids;
    for my $user (qw(US1A2B3C4D5E6F78 US3C4D5E6F7A8B90)) {
        my ($status, undef, undef, $j) =
            api(POST => '/v1/document/api', body => { userId => $user });
        is($status, 202, "$name - $user: 202");
        push @ids, $j->{jobId};
    }

    my ($status) = api(POST => '/v1/document/api',
                       body => { userId => 'US5E6F7A8B9C0D12' });
    is($status, 429, "$name - the third: 429");

    is(wait_job($_)->{status}, 'COMPLETE', "$name - $_ complete") for @ids;

    my $after = scrape_when(undef, $complete, ($before->{$complete} // 0) + 2);

    # the polls of wait_job are status reads too: counted, not pinned
    moved($block, $before, $after, $created => 2, $c202 => 2, $c429 => 1,
          $complete => 2, $put_ok => 2, $put_retry => 0, $put_error => 0,
          $count => 2, $inf => 2);

    ok(delta($before, $after, $s200) >= 2, "$name - status reads counted");

    # LMDB's map; a PostgreSQL store has none, and its size is not read
    # on the event loop
    if (PdfReport::Test::pg_store()) {
        ok(!exists $after->{'pdf_report_store_size_bytes'}
           && !exists $after->{'pdf_report_store_used_bytes'},
           "$name - no map size or used bytes with PostgreSQL");

    } else {
        like($after->{'pdf_report_store_size_bytes'}, qr/^16777216$/,
             "$name - the store's map size");
        ok($after->{'pdf_report_store_used_bytes'} > 0,
           "$name - the store's used bytes");
    }
    ok(delta($before, $after, 'pdf_report_jwt_cache_hits_total') > 0,
       "$name - token cache hits counted");
}


sub failed_upload {
    my ($block) = @_;
    my $name = $block->name;
    my $before = scrape();

    my ($status, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 202, "$name - 202");
    is(wait_job($j->{jobId})->{errorCode}, 'UPLOAD_FAILED',
       "$name - UPLOAD_FAILED");

    my $after = scrape_when(undef, $put_error,
                            ($before->{$put_error} // 0) + 1);

    moved($block, $before, $after, $created => 1, $complete => 0,
          'pdf_report_jobs_finished_total{status="FAILED",'
          . 'error_code="UPLOAD_FAILED"}' => 1,
          $put_ok => 0, $put_error => 1, $count => 0);
}


sub retried {
    my ($block) = @_;
    my $name = $block->name;
    my $before = scrape();

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR,
                                'reply:500:InternalError', 'pass');

    my ($status, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 202, "$name - 202");
    is(wait_job($j->{jobId}, timeout => 30)->{status}, 'COMPLETE',
       "$name - complete on the second attempt");

    my $after = scrape_when(undef, $complete, ($before->{$complete} // 0) + 1);

    moved($block, $before, $after, $put_retry => 1, $put_ok => 1,
          $put_error => 0, $complete => 1);
}


sub both_workers_and_reload {
    my ($block) = @_;
    my $name = $block->name;
    my $before = scrape($::port2);

    # new connections spread over both workers' reuseport sockets
    for my $i (1 .. 24) {
        my ($status) = api(GET => '/v1/document/api/'
                                  . '00000000-0000-4000-8000-000000000000',
                           port => $::port2);
        die "status read: $status" unless $status == 404;
    }

    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/m.log"
        or die "m.log: $!";
    my @pids = PdfReport::Test::worker_pids(<$fh>);
    close $fh;

    is(scalar @pids, 2, "$name - both worker processes answered");

    my $s404 = 'pdf_report_responses_total{endpoint="status",code="404"}';
    my $after = scrape($::port2);

    is(delta($before, $after, $s404), 24,
       "$name - every answer counted, whichever worker gave it");

    # a reload: new workers, the same counters
    open my $pf, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/nginx.pid"
        or die "nginx.pid: $!";
    my $master = <$pf>;
    chomp $master;
    kill 'HUP', $master;

    my $deadline = Time::HiRes::time() + 10;
    my @new;
    while (Time::HiRes::time() < $deadline) {
        @new = PdfReport::Test::nginx_children($master);
        last if @new == 2 && !grep { my $p = $_; grep { $_ == $p } @pids }
                                   @new;
        Time::HiRes::sleep(0.1);
    }

    my $reloaded = scrape($::port2);

    is($reloaded->{$s404}, $after->{$s404},
       "$name - the count is kept across a reload");
}


# retention (1 s) deletes the job: its first DELETE gets a 500 through the
# fault proxy and is counted as a retry, the next (2 s later) as ok
sub retention_deleted {
    my ($block) = @_;
    my $name = $block->name;
    my $before = scrape();
    my $del_ok = 'pdf_report_s3_requests_total{op="delete",result="ok"}';
    my $del_retry =
        'pdf_report_s3_requests_total{op="delete",result="retry"}';
    my $del_error =
        'pdf_report_s3_requests_total{op="delete",result="error"}';
    my $by_retention = 'pdf_report_jobs_deleted_total{reason="retention"}';

    # set before the create: a second of retention is soon over, so the
    # first DELETE could otherwise pass before the 500 is in place; the
    # PUT passes, the first DELETE gets the 500, the next passes
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass',
                                'reply:500:InternalError', 'pass');

    my ($status, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 202, "$name - 202");
    is(wait_job($j->{jobId})->{status}, 'COMPLETE', "$name - COMPLETE");

    my $after = scrape_when(undef, $by_retention,
                            ($before->{$by_retention} // 0) + 1, 30);

    moved($block, $before, $after, $by_retention => 1,
          'pdf_report_jobs_deleted_total{reason="revoked"}' => 0,
          $del_retry => 1, $del_ok => 1, $del_error => 0, $put_ok => 1);

    ($status) = api(GET => "/v1/document/api/$j->{jobId}");
    is($status, 404, "$name - the job answers 404");
}


# one slot a worker, two workers, three jobs whose uploads S3 gets 4 s
# late: the gauges read 2 running and 1 waiting, then 0 and 0
sub gauges {
    my ($block) = @_;
    my $name = $block->name;
    my $pend = 'pdf_report_jobs{status="PENDING"}';
    my $run = 'pdf_report_jobs{status="IN_PROGRESS"}';

    # a PostgreSQL store's gauges come with the first scan pass
    my $m = scrape();
    my $deadline = Time::HiRes::time() + 3;
    until (exists $m->{$pend} || Time::HiRes::time() > $deadline) {
        Time::HiRes::sleep(0.1);
        $m = scrape();
    }

    is("$m->{$pend} $m->{$run}", '0 0', "$name - nothing queued at first");

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR,
                                'stall:4000', 'stall:4000', 'pass');

    my @ids;
    for my $user (qw(US1A2B3C4D5E6F78 US3C4D5E6F7A8B90 US5E6F7A8B9C0D12)) {
        my ($status, undef, undef, $j) =
            api(POST => '/v1/document/api', body => { userId => $user });
        is($status, 202, "$name - $user: 202");
        push @ids, $j->{jobId};
    }

    # the second worker claims at its next scan, within a second; a
    # PostgreSQL store's gauges are those of the last scan pass
    $deadline = Time::HiRes::time() + 3;
    while (1) {
        $m = scrape();
        last if "$m->{$pend} $m->{$run}" eq '1 2'
                || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.1);
    }

    is("$m->{$pend} $m->{$run}", '1 2',
       "$name - one PENDING, two IN_PROGRESS");

    is(wait_job($_, timeout => 30)->{status}, 'COMPLETE',
       "$name - $_ complete") for @ids;

    # LMDB's gauges are read at the scrape; a PostgreSQL store's are the
    # last scan pass's, counted at most once a second
    $deadline = Time::HiRes::time() + 5;
    while (1) {
        $m = scrape();
        last if "$m->{$pend} $m->{$run}" eq '0 0'
                || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.1);
    }

    is("$m->{$pend} $m->{$run}", '0 0', "$name - none left");
}

run_tests();

__DATA__

=== TEST 1: a create, a 429 and two COMPLETE jobs move their counters
--- http_config eval
PdfReport::Test::http_config(rate_limit => '2 10m')
--- config
location /v1/document/api { pdf_report_api; }
location = /metrics { pdf_report_metrics; allow 127.0.0.1; deny all; }
--- request
GET /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like
^# HELP pdf_report_jobs_created_total .*
pdf_report_jobs_finished_total\{status="FAILED",error_code="TIMEOUT"\} \d+
--- flow: created_and_limited



=== TEST 2: S3 refuses the upload: FAILED UPLOAD_FAILED and a put error
--- http_config eval
PdfReport::Test::http_config(
    s3_credentials => "$PdfReport::Test::DATA/aws-credentials wrong-secret")
--- config
location /v1/document/api { pdf_report_api; }
location = /metrics { pdf_report_metrics; }
--- request
GET /metrics
--- error_code: 200
--- flow: failed_upload



=== TEST 3: a 500 from S3, then success: one retry, one ok
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- config
location /v1/document/api { pdf_report_api; }
location = /metrics { pdf_report_metrics; }
--- request
GET /metrics
--- error_code: 200
--- flow: retried
--- timeout: 40



=== TEST 4: summed over both workers, kept across a reload
--- http_config eval
PdfReport::Test::http_config()
. "    log_format m 'pid=\$pid status=\$status';\n"
. "    server {\n"
. "        listen 127.0.0.1:$::port2 reuseport;\n"
. "        access_log logs/m.log m;\n"
. "        location /v1/document/api { pdf_report_api; }\n"
. "        location = /metrics { pdf_report_metrics; }\n"
. "    }\n"
--- config
location /v1/document/api { pdf_report_api; }
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: both_workers_and_reload
--- timeout: 30



=== TEST 5: protected the nginx way: deny answers 403
--- config
location /v1/document/api { pdf_report_api; }
location = /metrics { pdf_report_metrics; deny all; }
--- request
GET /metrics
--- error_code: 403



=== TEST 6: a retention delete, retried once: its counters
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, retention => '1s')
--- config
location /v1/document/api { pdf_report_api; }
location = /metrics { pdf_report_metrics; }
--- request
GET /metrics
--- error_code: 200
--- flow: retention_deleted
--- timeout: 40



=== TEST 7: the job gauges, read from the store
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, worker_jobs => 1)
--- config
location /v1/document/api { pdf_report_api; }
location = /metrics { pdf_report_metrics; }
--- request
GET /metrics
--- error_code: 200
--- flow: gauges
--- timeout: 40
