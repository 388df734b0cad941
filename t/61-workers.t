# Nothing accepted with a 202 is lost (contract section 6), with a master
# and two workers: workers SIGKILLed while their jobs run or wait, the
# whole nginx SIGKILLed and started again, reloads and a binary upgrade
# while 50 jobs are queued or running; a job whose worker died and whose
# time ran out is failed by the scan.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job s3_get);
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Time::HiRes ();

no_long_string();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $users = "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl";

# fifty users connected to org_acme
our $fifty = join '', map {
    encode_json({ id => sprintf('USLOAD%010d', $_), first_name => "Load$_",
                  last_name => 'Test',
                  connections => [{ org_id => 'org_acme',
                                    organization_name => 'Acme Ltd',
                                    connection_status => 'CONNECTED',
                                    data_sharing_agreed => JSON::PP::true }] })
    . "\n"
} 1 .. 50;


# the master's pid; 0 while there is no pid file (during a binary
# upgrade the old master renames its file before the new one writes
# its own), so never pass this to kill() without checking it

sub pid_in {
    my ($file) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/$file" or return 0;
    my $pid = <$fh> // '';
    chomp $pid;
    return $pid =~ /^[1-9][0-9]*$/ ? $pid : 0;
}


sub master_pid {
    my $pid = pid_in('nginx.pid');
    die "nginx.pid: no master pid" unless $pid;
    return $pid;
}


# a flow that dies half way through an upgrade must not leave the old
# master holding the test port for the next file
END {
    local $?;
    my $old = pid_in('nginx.pid.oldbin');
    my $cmd = '';

    if ($old && open my $fh, '<', "/proc/$old/cmdline") {
        $cmd = <$fh> // '';
    }

    kill 'KILL', $old if $cmd =~ /nginx/;
}


sub create {
    my ($user) = @_;
    my ($status, undef, undef, $j) = api(POST => '/v1/document/api',
                                         body => { userId => $user });
    die "create $user: $status" unless $status == 202;
    return $j->{jobId};
}


sub count_status {
    my (@ids) = @_;
    my %n;

    for my $id (@ids) {
        my (undef, undef, undef, $j) = api(GET => "/v1/document/api/$id");
        $n{$j ? $j->{status} : 'ERROR'}++;
    }

    return \%n;
}


sub wait_until {
    my ($cond, $secs) = @_;
    my $deadline = Time::HiRes::time() + $secs;

    while (Time::HiRes::time() < $deadline) {
        return 1 if $cond->();
        Time::HiRes::sleep(0.1);
    }

    return 0;
}


# every job COMPLETE, and S3 holds exactly the bytes each job recorded

sub all_complete_and_intact {
    my ($name, @ids) = @_;

    my @jobs = map { wait_job($_, timeout => 60) } @ids;
    my $complete = grep { $_ && $_->{status} eq 'COMPLETE' } @jobs;

    is($complete, scalar @ids, "$name - all " . @ids . " jobs COMPLETE");

    my $intact = 0;

    for my $job (@jobs) {
        next unless $job && $job->{status} eq 'COMPLETE';
        my (undef, undef, undef, $u) =
            api(GET => "/v1/document/api/$job->{jobId}/url");
        my $res = s3_get($u->{url});
        $intact++ if sha256_hex($res->{content}) eq $job->{sha256};
    }

    is($intact, scalar @ids,
       "$name - every object in S3 is the bytes its job recorded");
}


sub workers_killed {
    my ($block) = @_;
    my $name = $block->name;

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang');

    my @ids = map { create(sprintf 'USTEST000000000%d', $_) } 1 .. 4;

    # one job running per worker, the other two waiting in the store
    ok(wait_until(sub { (count_status(@ids)->{IN_PROGRESS} // 0) == 2 }, 10),
       "$name - two running, two pending");
    is(count_status(@ids)->{PENDING}, 2, "$name - two PENDING");

    my @workers = PdfReport::Test::nginx_children(master_pid());
    is(scalar @workers, 2, "$name - two workers");
    kill 'KILL', @workers;

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    all_complete_and_intact("$name (workers killed)", @ids);

    # now the master and its workers, then nginx started again
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang');
    my @more = map { create(sprintf 'USTEST000000000%d', $_) } 5 .. 6;

    ok(wait_until(sub { (count_status(@more)->{IN_PROGRESS} // 0) == 2 }, 10),
       "$name - two more running");

    PdfReport::Test::restart_nginx(signal => 'KILL');
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    all_complete_and_intact("$name (all killed)", @more);
}


# reads all the ids for a while; every read must be a 200

sub reads_during {
    my ($secs, @ids) = @_;
    my ($reads, $bad) = (0, 0);
    my $deadline = Time::HiRes::time() + $secs;

    while (Time::HiRes::time() < $deadline) {
        for my $id (@ids) {
            my ($status) = api(GET => "/v1/document/api/$id");
            $reads++;
            $bad++ if $status != 200;
        }
    }

    return ($reads, $bad);
}


sub reload_under_load {
    my ($block) = @_;
    my $name = $block->name;

    my @ids = map { create(sprintf 'USLOAD%010d', $_) } 1 .. 50;
    is(scalar @ids, 50, "$name - 50 jobs accepted");

    kill 'HUP', master_pid();
    my ($reads, $bad) = reads_during(2, @ids[0 .. 9]);
    kill 'HUP', master_pid();
    my ($reads2, $bad2) = reads_during(2, @ids[0 .. 9]);

    ok($reads + $reads2 > 50, "$name - status read during the reloads");
    is($bad + $bad2, 0, "$name - no status read failed ($reads, $reads2)");

    all_complete_and_intact($name, @ids);
}


# Not under TEST_NGINX_USE_VALGRIND (skip_eval below): there nginx runs in
# the foreground as the runner's child, and a master whose parent has not
# changed ignores USR2 ("the changing binary signal is ignored"), taking
# itself for a new binary whose old master still runs.

sub binary_upgrade {
    my ($block) = @_;
    my $name = $block->name;

    my @ids = map { create(sprintf 'USLOAD%010d', $_) } 1 .. 20;
    my $old = master_pid();

    # USR2 starts a new master on the same sockets; QUIT ends the old one
    kill 'USR2', $old;
    ok(wait_until(sub { pid_in('nginx.pid.oldbin') == $old
                        && pid_in('nginx.pid') > 0
                        && pid_in('nginx.pid') != $old }, 30),
       "$name - the new master runs");

    my ($reads, $bad) = reads_during(1, @ids[0 .. 4]);

    kill 'QUIT', $old;
    my ($reads2, $bad2) = reads_during(2, @ids[0 .. 4]);

    ok(!kill(0, $old) || wait_until(sub { !kill 0, $old }, 30),
       "$name - the old master left");
    is($bad + $bad2, 0, "$name - no status read failed ($reads, $reads2)");

    all_complete_and_intact($name, @ids);
}


# a worker SIGKILLed while its job waits on an S3 that never answers,
# with a lease longer than the job's time: the scan of a worker fails the
# job TIMEOUT once its time is up, and logs it at info with its org

sub killed_past_timeout {
    my ($block) = @_;
    my $name = $block->name;
    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log";

    my ($status, undef, undef, $j) =
        api(POST => '/v1/document/api',
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 202, "$name - 202");
    my $id = $j->{jobId};

    my ($pid, @lines);
    my $deadline = Time::HiRes::time() + 10;

    while (!$pid && Time::HiRes::time() < $deadline) {
        open my $fh, '<', $log or die "$log: $!";
        ($pid) = map { /\[info\] (\d+)#\d+: .*job \Q$id\E started/ ? $1 : () }
                 <$fh>;
        close $fh;
        Time::HiRes::sleep(0.05) unless $pid;
    }

    ok($pid, "$name - the job started") or return;
    kill 'KILL', $pid;

    my $job = wait_job($id, timeout => 20);
    is($job->{errorCode}, 'TIMEOUT', "$name - TIMEOUT");
    is($job->{errorMessage}, 'The report was not finished within 2 seconds.',
       "$name - failed by the scan, not by its task");

    $deadline = Time::HiRes::time() + 10;
    while (1) {
        open my $fh, '<', $log or die "$log: $!";
        @lines = grep { /pdf_report: job \Q$id\E failed: TIMEOUT; / } <$fh>;
        close $fh;
        last if @lines || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.1);
    }

    is(scalar @lines, 1, "$name - one line for it");
    my $want = qr/\[info\] .*: pdf_report: job \Q$id\E failed: TIMEOUT; /;
    like($lines[0] // '', qr/$want\Qorg "org_acme"\E$/,
         "$name - at info, with its org");
}

run_tests();

__DATA__

=== TEST 1: workers SIGKILLed with jobs running and waiting; then all nginx
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, job_lease => '2s',
                             worker_jobs => 1)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: workers_killed
--- timeout: 120
--- error_log
exited on signal 9
--- no_error_log
[crit]
[emerg]



=== TEST 2: two reloads while 50 jobs are queued or running
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'slow:100');
--- user_files eval
">>> users.jsonl\n$::fifty"
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, users => $::users,
                             rate_limit => 'off')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: reload_under_load
--- timeout: 120



=== TEST 3: a binary upgrade (USR2, then QUIT to the old master) under load
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'slow:100');
--- user_files eval
">>> users.jsonl\n$::fifty"
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy, users => $::users,
                             rate_limit => 'off')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: binary_upgrade
--- timeout: 120
--- skip_eval: 9: $ENV{TEST_NGINX_USE_VALGRIND}



=== TEST 4: a job whose worker died, past its time: the scan fails it
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
    job_timeout => '2s', job_lease => '30s')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: killed_past_timeout
--- timeout: 60
--- error_log
exited on signal 9
--- no_error_log
[crit]
[emerg]
