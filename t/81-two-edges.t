# Two edges, one PostgreSQL database (contract section 8, issue 12): the
# block's nginx is edge A, PdfReport::Test::start_edge() starts edge B
# from the same nginx.conf on another port.
#
# - a job created on A is polled and downloaded on B, and B answers 409
#   for the user while A's job runs;
# - the org's window is exact across edges: of 14 creates sent to A and
#   B at once, exactly 10 are accepted;
# - A's master and workers SIGKILLed with jobs running: B finishes them
#   once their leases run out;
# - an idle edge starts a job created on the other at its NOTIFY, not at
#   its next scan.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json s3_get);
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Time::HiRes ();
use File::Temp ();
use POSIX ();

no_long_string();
no_shuffle();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $users = "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl";

# twenty users connected to org_acme
our $twenty = join '', map {
    encode_json({ id => sprintf('USEDGE%010d', $_), first_name => "Edge$_",
                  last_name => 'Test',
                  connections => [{ org_id => 'org_acme',
                                    connection_status => 'CONNECTED' }] })
    . "\n"
} 1 .. 20;

our @uri = map { PdfReport::Test::pg_database() } 1 .. 4;


sub served {
    my ($port) = @_;
    my $deadline = Time::HiRes::time() + 30;

    # 8 in a row: each worker sets the store up for itself
    my $in_row = 0;

    while (Time::HiRes::time() < $deadline) {
        my ($s) = api(GET => '/v1/document/api/'
                             . '00000000-0000-4000-8000-000000000000',
                      port => $port);
        $in_row = ($s == 404) ? $in_row + 1 : 0;
        return 1 if $in_row >= 8;
        Time::HiRes::sleep($s == 404 ? 0.01 : 0.1);
    }

    return 0;
}


sub across {
    my ($block) = @_;
    my $name = $block->name;
    my $b = PdfReport::Test::start_edge();
    ok(served($b->{port}), "$name - edge B serves");

    my ($s, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'USEDGE0000000001' });
    is($s, 202, "$name - created on A");
    my $id = $j->{jobId};

    my ($s2, undef, undef, $j2) =
        api(POST => '/v1/document/api', port => $b->{port},
            body => { userId => 'USEDGE0000000001' });
    is($s2, 409, "$name - the same user on B while it runs: 409");
    is($j2 && $j2->{jobId}, $id, "$name - naming A's job");

    my $job = wait_job($id, port => $b->{port}, timeout => 20);
    is($job->{status}, 'COMPLETE', "$name - polled on B: COMPLETE");

    my (undef, undef, undef, $u) =
        api(GET => "/v1/document/api/$id/url", port => $b->{port});
    my $res = s3_get($u->{url});
    is(sha256_hex($res->{content}), $job->{sha256},
       "$name - downloaded through B's URL");

    PdfReport::Test::stop_edge($b);
}


sub window {
    my ($block) = @_;
    my $name = $block->name;
    my $b = PdfReport::Test::start_edge();
    ok(served($b->{port}), "$name - edge B serves");

    my @kids;
    my $dir = File::Temp::tempdir(CLEANUP => 1);

    for my $i (1 .. 14) {
        my $port = $i % 2 ? $ENV{TEST_NGINX_SERVER_PORT} : $b->{port};
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            my ($st) = api(POST => '/v1/document/api', port => $port,
                           body => { userId => sprintf('USEDGE%010d', $i) });
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            print $fh "$port $st";
            close $fh;
            POSIX::_exit(0);
        }

        push @kids, $pid;
    }

    waitpid $_, 0 for @kids;

    my %n;
    for my $i (1 .. 14) {
        open my $fh, '<', "$dir/$i" or die "$dir/$i: $!";
        my ($port, $st) = split ' ', <$fh>;
        $n{$st}++;
        $n{"$st on " . ($port == $b->{port} ? 'B' : 'A')}++;
    }

    is($n{202}, 10, "$name - exactly 10 accepted across A and B");
    is($n{429}, 4, "$name - the other 4 refused with 429");
    ok($n{'202 on A'} && $n{'202 on B'}, "$name - accepted on both "
       . "(A $n{'202 on A'}, B $n{'202 on B'})");

    my ($s) = api(POST => '/v1/document/api', port => $b->{port},
                  body => { userId => 'USEDGE0000000020' });
    is($s, 429, "$name - the next refused on B too");

    PdfReport::Test::stop_edge($b);
}


sub a_dies {
    my ($block) = @_;
    my $name = $block->name;
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};

    my @ids;
    for my $i (1 .. 3) {
        my ($s, undef, undef, $j) =
            api(POST => '/v1/document/api',
                body => { userId => sprintf('USEDGE%010d', $i) });
        is($s, 202, "$name - job $i created on A");
        push @ids, $j->{jobId};
    }

    # all three running on A, their uploads held by the proxy
    my $deadline = Time::HiRes::time() + 10;
    my $running;
    while (Time::HiRes::time() < $deadline) {
        $running = grep {
            my (undef, undef, undef, $j) = api(GET => "/v1/document/api/$_");
            $j && $j->{status} eq 'IN_PROGRESS'
        } @ids;
        last if $running == 3;
        Time::HiRes::sleep(0.1);
    }

    is($running, 3, "$name - all three IN_PROGRESS on A when it dies");

    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    chomp $master;
    kill 'KILL', $master, PdfReport::Test::nginx_children($master);

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my $b = PdfReport::Test::start_edge();
    my $t0 = Time::HiRes::time();

    for my $id (@ids) {
        my $job = wait_job($id, port => $b->{port}, timeout => 30);
        is($job->{status}, 'COMPLETE', "$name - $id finished by B");
    }

    my $took = Time::HiRes::time() - $t0;
    ok($took < 3 + 10, sprintf("$name - within the 3 s lease and a few "
                               . "scans (%.1f s)", $took));

    PdfReport::Test::stop_edge($b);
    restart_a();
}


# A's two workers busy with uploads S3 holds, pdf_report_scan_interval
# 5s: a job created on A is started by idle edge B on the notification
# of its create, not at a scan
sub notified {
    my ($block) = @_;
    my $name = $block->name;

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang', 'hang',
                                'pass');

    my @busy;
    for my $i (1 .. 2) {
        my ($s, undef, undef, $j) =
            api(POST => '/v1/document/api',
                body => { userId => sprintf('USEDGE%010d', $i) });
        push @busy, $j->{jobId};
    }

    my $deadline = Time::HiRes::time() + 10;
    my $running;
    while (Time::HiRes::time() < $deadline) {
        $running = grep {
            my (undef, undef, undef, $j) = api(GET => "/v1/document/api/$_");
            $j && $j->{status} eq 'IN_PROGRESS'
        } @busy;
        last if $running == 2;
        Time::HiRes::sleep(0.1);
    }

    is($running, 2, "$name - both of A's workers busy");

    my $b = PdfReport::Test::start_edge();
    ok(served($b->{port}), "$name - edge B serves");

    # B's scans at its start are over
    Time::HiRes::sleep(1.5);

    # three in turn: a scan every 5 s would start each within a second
    # one time in five
    for my $i (3 .. 5) {
        my $t0 = Time::HiRes::time();
        my ($s, undef, undef, $j) =
            api(POST => '/v1/document/api',
                body => { userId => sprintf('USEDGE%010d', $i) });
        is($s, 202, "$name - job $i created on A");

        my ($status, $took) = ('PENDING', 0);
        while (Time::HiRes::time() - $t0 < 10) {
            my (undef, undef, undef, $got) =
                api(GET => "/v1/document/api/$j->{jobId}",
                    port => $b->{port});
            $status = $got->{status};
            $took = Time::HiRes::time() - $t0;
            last if $status ne 'PENDING';
            Time::HiRes::sleep(0.05);
        }

        ok($status ne 'PENDING' && $took < 1,
           sprintf("$name - job $i started %.2f s after its create, where "
                   . "the next scan was up to 5 s away", $took));

        is(wait_job($j->{jobId}, port => $b->{port}, timeout => 20)
               ->{status},
           'COMPLETE', "$name - job $i COMPLETE");

        open my $fh, '<', "$b->{root}/logs/error.log" or die "B's log: $!";
        my @started = grep { /job \Q$j->{jobId}\E started/ } <$fh>;
        close $fh;
        is(scalar @started, 1, "$name - job $i started by edge B");
    }

    PdfReport::Test::stop_edge($b);
}


# the runner stops the block's nginx by its pid file: one must answer
sub restart_a {
    PdfReport::Test::restart_nginx();
}

run_tests();

__DATA__

=== TEST 1: created on A, 409 on B, polled and downloaded on B
--- user_files eval
">>> users.jsonl\n$::twenty"
--- http_config eval
PdfReport::Test::http_config(store => $::uri[0], users => $::users,
                             s3_endpoint => $::proxy)
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'stall:1500',
                            'pass');
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: across
--- timeout: 60



=== TEST 2: the window across edges: 10 of 14 at once
--- user_files eval
">>> users.jsonl\n$::twenty"
--- http_config eval
PdfReport::Test::http_config(store => $::uri[1], users => $::users,
                             rate_limit => '10 10m')
--- init
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: window
--- timeout: 60



=== TEST 3: A SIGKILLed with jobs running: B finishes them
--- user_files eval
">>> users.jsonl\n$::twenty"
--- http_config eval
PdfReport::Test::http_config(store => $::uri[2], users => $::users,
                             s3_endpoint => $::proxy, job_lease => '3s')
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang');
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: a_dies
--- timeout: 90
--- no_error_log
[crit]
[emerg]



=== TEST 4: an idle edge starts a job created elsewhere on its NOTIFY
--- user_files eval
">>> users.jsonl\n$::twenty"
--- http_config eval
PdfReport::Test::http_config(store => $::uri[3], users => $::users,
                             s3_endpoint => $::proxy, worker_jobs => 1,
                             scan_interval => '5s')
--- init
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: notified
--- timeout: 60
