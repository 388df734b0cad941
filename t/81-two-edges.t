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
#   its next scan;
# - the database restarted under load on both edges: 503s while it is
#   down, both edges serve again by themselves, every 202 is COMPLETE;
# - the database down when both edges start: 503, then served once it is
#   up, without touching nginx;
# - directory rows written in SQL: seen by the next request on both
#   edges.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use PdfReport::Backend;
BEGIN { PdfReport::Backend::once('its blocks name their own databases') }
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

our @uri = map { PdfReport::Test::pg_database() } 1 .. 7;


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


# creates and polls on A and B in turns from a child process, every
# answer written to a file, until the file "stop" appears
sub load {
    my ($dir, @ports) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;

    open my $out, '>', "$dir/answers" or POSIX::_exit(1);
    $out->autoflush(1);
    my ($i, @ids) = (0);

    until (-e "$dir/stop") {
        my $port = $ports[$i % 2];
        my $user = sprintf('USEDGE%010d', $i % 20 + 1);
        my ($s, $h, undef, $j) = api(POST => '/v1/document/api',
                                     port => $port, body => { userId => $user });
        print $out join(' ', 'create', $s, $j && $j->{error} // '-',
                        $h->{'retry-after'} // '-',
                        $s == 202 ? $j->{jobId} : '-'), "\n";
        push @ids, $j->{jobId} if $s == 202;

        if (@ids) {
            ($s, $h, undef, $j) = api(GET => "/v1/document/api/$ids[-1]",
                                      port => $ports[($i + 1) % 2]);
            print $out join(' ', 'status', $s, $j && $j->{error} // '-',
                            $h->{'retry-after'} // '-', '-'), "\n";
        }

        $i++;
        Time::HiRes::sleep(0.02);
    }

    close $out;
    POSIX::_exit(0);
}


sub restarted_under_load {
    my ($block) = @_;
    my $name = $block->name;
    my $a = $ENV{TEST_NGINX_SERVER_PORT};
    my $b = PdfReport::Test::start_edge();
    ok(served($b->{port}), "$name - edge B serves");

    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $kid = load($dir, $a, $b->{port});

    Time::HiRes::sleep(2);
    PdfReport::Test::pg_down();
    Time::HiRes::sleep(3);
    PdfReport::Test::pg_up();

    ok(served($a) && served($b->{port}),
       "$name - both edges serve again, nginx untouched");
    Time::HiRes::sleep(2);

    open my $fh, '>', "$dir/stop" or die "stop: $!";
    close $fh;
    waitpid $kid, 0;

    open $fh, '<', "$dir/answers" or die "answers: $!";
    my @lines = map { [split ' '] } <$fh>;
    close $fh;

    my %n;
    $n{"$_->[0] $_->[1]"}++ for @lines;
    my @odd = grep { !/^(?:create (?:202|409|503)|status (?:200|503))$/ }
              keys %n;
    is("@odd", '', "$name - only 202, 409, 200 and 503 answered")
        or diag(join(", ", map { "$_: $n{$_}" } sort keys %n));

    my @down = grep { $_->[1] == 503 } @lines;
    ok(@down > 0, sprintf("$name - 503s while the database was down (%d)",
                          scalar @down));
    is(scalar(grep { $_->[2] ne 'STORE_UNAVAILABLE' || $_->[3] ne '1' }
              @down),
       0, "$name - each one STORE_UNAVAILABLE with Retry-After: 1");

    # after the restart: both edges accepted creates again
    my $last503 = 0;
    $lines[$_][1] == 503 and $last503 = $_ for 0 .. $#lines;
    my @after = grep { $_->[0] eq 'create' && $_->[1] == 202 }
                @lines[$last503 .. $#lines];
    ok(@after >= 2, sprintf("$name - creates accepted after it (%d)",
                            scalar @after));

    my @ids = map { $_->[4] } grep { $_->[0] eq 'create' && $_->[1] == 202 }
              @lines;
    my @lost = grep {
        my $job = wait_job($_, port => $b->{port}, timeout => 30);
        !($job && $job->{status} eq 'COMPLETE')
    } @ids;
    is("@lost", '', sprintf("$name - all %d jobs that got a 202 COMPLETE",
                            scalar @ids));

    PdfReport::Test::stop_edge($b);
}


sub down_at_start {
    my ($block) = @_;
    my $name = $block->name;
    my $a = $ENV{TEST_NGINX_SERVER_PORT};

    PdfReport::Test::pg_down();
    restart_a();
    my $b = PdfReport::Test::start_edge();

    for my $e (['A', $a], ['B', $b->{port}]) {
        my ($s, $h, undef, $j) =
            api(GET => '/v1/document/api/'
                       . '00000000-0000-4000-8000-000000000000',
                port => $e->[1]);
        is($s, 503, "$name - $e->[0] started with the database down: 503");
        is($j && $j->{error}, 'STORE_UNAVAILABLE',
           "$name - $e->[0]: STORE_UNAVAILABLE");
        is($h->{'retry-after'}, '1', "$name - $e->[0]: Retry-After: 1");
    }

    # a reload while it is down: the new workers start, and still 503
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};
    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;
    my @old = PdfReport::Test::nginx_children($master);
    kill 'HUP', $master;

    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline
           && grep { kill 0, $_ } @old)
    {
        Time::HiRes::sleep(0.1);
    }

    my ($st, $hd) = api(GET => '/v1/document/api/'
                              . '00000000-0000-4000-8000-000000000000');
    is($st, 503, "$name - A reloaded with the database down: 503");
    is(scalar(grep { kill 0, $_ } @old), 0,
       "$name - A's old workers are gone");

    PdfReport::Test::pg_up();

    ok(served($a), "$name - A serves once it is up");
    ok(served($b->{port}), "$name - B serves once it is up");

    my ($s, undef, undef, $j) =
        api(POST => '/v1/document/api', port => $b->{port},
            body => { userId => 'USEDGE0000000001' });
    is($s, 202, "$name - created on B");
    is(wait_job($j->{jobId}, timeout => 20)->{status}, 'COMPLETE',
       "$name - polled on A: COMPLETE");

    PdfReport::Test::stop_edge($b);
}


sub users_in_sql {
    my ($block) = @_;
    my $name = $block->name;
    my $a = $ENV{TEST_NGINX_SERVER_PORT};
    my $uri = $::uri[6];
    my $b = PdfReport::Test::start_edge();
    ok(served($b->{port}), "$name - edge B serves");

    my $row = sub {
        my ($id, $status) = @_;
        return encode_json({ id => $id, first_name => 'Ada',
                             last_name => 'Lovelace',
                             connections => [{ org_id => 'org_acme',
                                               connection_status => $status }]
                           });
    };

    for my $e (['A', $a, 'USSQLA0000000001'], ['B', $b->{port},
                                                'USSQLB0000000001'])
    {
        my ($s, undef, undef, $j) = api(POST => '/v1/document/api',
                                        port => $e->[1],
                                        body => { userId => $e->[2] });
        is($s, 404, "$name - $e->[2] not in the table: 404 on $e->[0]");
    }

    PdfReport::Test::pg_sql($uri, "INSERT INTO pdf_report_users VALUES"
        . " ('USSQLA0000000001', '" . $row->('USSQLA0000000001', 'CONNECTED')
        . "'), ('USSQLB0000000001', '"
        . $row->('USSQLB0000000001', 'CONNECTED') . "')");

    my %job;
    for my $e (['A', $a, 'USSQLA0000000001'], ['B', $b->{port},
                                                'USSQLB0000000001'])
    {
        my ($s, undef, undef, $j) = api(POST => '/v1/document/api',
                                        port => $e->[1],
                                        body => { userId => $e->[2] });
        is($s, 202, "$name - inserted in SQL: 202 at once on $e->[0]");
        $job{$e->[2]} = $j->{jobId};
    }

    is(wait_job($job{$_}, timeout => 20)->{status}, 'COMPLETE',
       "$name - $_: COMPLETE") for sort keys %job;

    PdfReport::Test::pg_sql($uri, "UPDATE pdf_report_users SET record = '"
        . $row->('USSQLA0000000001', 'REVOKED')
        . "' WHERE id = 'USSQLA0000000001'");

    for my $e (['A', $a], ['B', $b->{port}]) {
        my ($s, undef, undef, $j) =
            api(GET => "/v1/document/api/$job{USSQLA0000000001}/url",
                port => $e->[1]);
        is($s, 403, "$name - revoked in SQL: step 3 refused at once on "
                    . $e->[0]);
        is($j && $j->{error}, 'NOT_CONNECTED', "$name - NOT_CONNECTED");

        ($s) = api(POST => '/v1/document/api', port => $e->[1],
                   body => { userId => 'USSQLA0000000001' });
        is($s, 403, "$name - and step 1 on $e->[0]");
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



=== TEST 5: the database restarted under load on both edges
--- user_files eval
">>> users.jsonl\n$::twenty"
--- http_config eval
PdfReport::Test::http_config(store => $::uri[4], users => $::users,
                             rate_limit => 'off')
--- init
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: restarted_under_load
--- timeout: 120
--- no_error_log
[alert]
[emerg]



=== TEST 6: the database down when both edges start and A reloads, then up
--- user_files eval
">>> users.jsonl\n$::twenty"
--- http_config eval
PdfReport::Test::http_config(store => $::uri[5], users => $::users)
--- init
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: down_at_start
--- timeout: 90



=== TEST 7: directory rows written in SQL, seen by both edges at once
--- http_config eval
PdfReport::Test::http_config(store => $::uri[6], users => 'off',
                             erase_on_revoke => 'off')
--- init
main::served($ENV{TEST_NGINX_SERVER_PORT});
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: users_in_sql
--- timeout: 60
