# Webhooks (contract section 10, issue 14): when a job of an org with a
# webhook ends, one event is POSTed, signed as Standard Webhooks says.
# The receiver (tools/webhook-receiver.js) checks every signature with the
# specification's reference library (npm standardwebhooks), not with the
# module's code:
#
# - report.completed and report.failed, whose data is what step 2 shows;
# - 500 twice, then 200: three deliveries, one webhook-id;
# - 410 stops the retries;
# - a receiver that never answers slows no report and no other org's
#   delivery;
# - all workers SIGKILLed while the delivery is under way: the event still
#   arrives, once nginx is back; a reload gives the event back at once;
# - a loopback URL without an allow entry is refused, never connected to;
# - a secret that was rotated on one side only: the receiver refuses it;
# - https verified against ca=, and refused without it;
# - report.failed from a scan's TIMEOUT, and from an erasure (the user's
#   connection revoked by a directory reload while the job ran);
# - on a PostgreSQL store too.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json token);
use JSON::PP;
use Time::HiRes ();

no_long_string();
no_shuffle();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our ($port, $dir) = PdfReport::Test::start_receiver();
our ($tls_port) = PdfReport::Test::start_receiver(tls => 1, dir => $dir);
our $ca = PdfReport::Test::tls_ca() . '/ca.pem';
our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
our $rotated = 'whsec_' . 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=';
our $other = token(claims => { org_id => 'org_other' });

PdfReport::Test::receiver_secret($dir, '/acme' => $secret,
                                 '/other' => $secret);


# a PostgreSQL store sets up in the background: until step 2 answers 404
sub until_served {
    my ($timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $deadline) {
        my ($s) = api(GET => '/v1/document/api/'
                             . '00000000-0000-4000-8000-000000000000');
        return $s if $s == 404;
        Time::HiRes::sleep(0.1);
    }

    return 0;
}


# the webhooks file: org_acme to /acme, org_other to /other
sub hooks {
    my (%o) = @_;
    my $host = $o{host} // '127.0.0.1';

    return join '', map {
        encode_json({ org_id => "org_$_", url => "http://$host:$port/$_",
                      secret => $o{secret} // $secret }) . "\n"
    } qw(acme other);
}

sub conf {
    my (%o) = @_;
    my $allow = exists $o{allow} ? $o{allow} : '127.0.0.1';
    delete $o{allow};

    return PdfReport::Test::http_config(
        webhooks => "$ENV{TEST_NGINX_SERVER_ROOT}/html/webhooks.jsonl",
        webhook_schedule => '1s 1s',
        defined $allow ? (webhook_allow => $allow) : (),
        %o);
}

# a line of this nginx's error log matches
sub logged {
    my ($re) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log"
        or return 0;
    my $hit = grep { $_ =~ $re } <$fh>;
    close $fh;
    return $hit;
}


sub wait_logged {
    my ($re, $timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $deadline) {
        return 1 if logged($re);
        Time::HiRes::sleep(0.2);
    }

    return 0;
}


# a job of org_acme, COMPLETE, with the receiver's log emptied first
sub one_job {
    my ($name) = @_;
    fresh();

    my $id = create('US1A2B3C4D5E6F78');
    is(wait_job($id)->{status}, 'COMPLETE', "$name - COMPLETE");

    return $id;
}


# the deliveries so far to a path
sub got {
    my ($path) = @_;
    return grep { $_->{path} eq $path } PdfReport::Test::receiver_log($dir);
}

sub wait_got {
    my ($path, $n, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 20);
    my @got;

    while (Time::HiRes::time() < $deadline) {
        @got = got($path);
        last if @got >= $n;
        Time::HiRes::sleep(0.05);
    }

    return @got;
}

sub fresh {
    unlink "$dir/log";
    unlink glob "$dir/mode.*";
}

sub create {
    my ($user, %o) = @_;
    my ($s, undef, undef, $j) = api(POST => '/v1/document/api',
                                    body => { userId => $user }, %o);
    die "create $user: $s" unless $s == 202;
    return $j->{jobId};
}

sub step2 {
    my ($id, %o) = @_;
    my (undef, undef, $text) = api(GET => "/v1/document/api/$id", %o);
    return decode_json($text);
}


sub events {
    my ($block) = @_;
    my $name = $block->name;
    fresh();

    my $id = create('US1A2B3C4D5E6F78');
    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");

    my ($d) = wait_got('/acme', 1);
    ok($d && $d->{verified}, "$name - the reference library verifies it")
        or diag(Test::More::explain($d));
    is($d->{id}, "msg_$id", "$name - webhook-id: msg_<jobId>");
    like($d->{timestamp}, qr/^\d{10}$/, "$name - webhook-timestamp");
    ok(abs($d->{timestamp} - time()) < 30, "$name - and it is now");
    like($d->{signature}, qr{^v1,[A-Za-z0-9+/]{43}=$},
         "$name - webhook-signature: v1,<base64>");
    is($d->{contentType}, 'application/json', "$name - Content-Type");

    my $ev = decode_json($d->{body});
    is_deeply([sort keys %$ev], [qw(data timestamp type)],
              "$name - type, timestamp and data only");
    is($ev->{type}, 'report.completed', "$name - report.completed");
    is($ev->{timestamp}, $job->{completedAt}, "$name - at completedAt");
    is_deeply($ev->{data}, step2($id), "$name - data is step 2's job");

    # the upload refused by S3: the job fails, and report.failed says so
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR,
                                'reply:403:AccessDenied');
    $id = create('US3C4D5E6F7A8B90');
    $job = wait_job($id);
    is($job->{status}, 'FAILED', "$name - FAILED");

    (undef, $d) = wait_got('/acme', 2);
    ok($d && $d->{verified}, "$name - verified");
    $ev = decode_json($d->{body} // '{}');
    is($ev->{type}, 'report.failed', "$name - report.failed");
    is($ev->{timestamp}, $job->{updatedAt}, "$name - at updatedAt");
    is_deeply($ev->{data}, step2($id), "$name - data is step 2's job");
    is($ev->{data}{errorCode}, 'UPLOAD_FAILED', "$name - its errorCode");

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my @other = got('/other');
    is(scalar @other, 0, "$name - nothing for org_other, which had no job");

    # both bodies and their headers, against docs/openapi.yaml's webhooks
    my $tool = "$FindBin::Bin/../tools/openapi-webhooks.js";
    my $out = `node '$tool' '$dir/log' 2>&1`;
    is($?, 0, "$name - as docs/openapi.yaml's webhooks say") or diag($out);
    like($out, qr/\b2 deliveries validated, 0 problems/,
         "$name - both deliveries validated");
}


sub retried {
    my ($block) = @_;
    my $name = $block->name;
    fresh();
    PdfReport::Test::receiver_mode($dir, 'acme', 500, 500, 200);

    my $id = create('US1A2B3C4D5E6F78');
    is(wait_job($id)->{status}, 'COMPLETE', "$name - COMPLETE");

    my @d = wait_got('/acme', 3);
    is(scalar @d, 3, "$name - three deliveries");
    is(join(' ', map { $_->{status} } @d), '500 500 200',
       "$name - answered 500, 500, 200");
    is(scalar(grep { $_->{id} eq "msg_$id" } @d), 3,
       "$name - one webhook-id for the three");
    is(scalar(grep { $_->{verified} } @d), 3, "$name - each one verified");
    is(scalar(keys %{{ map { $_->{body} => 1 } @d }}), 1,
       "$name - the same body each time");
    ok($d[1]{at} - $d[0]{at} >= 0.9 && $d[2]{at} - $d[1]{at} >= 0.9,
       sprintf("$name - after the schedule's 1 s (%.2f, %.2f s)",
               $d[1]{at} - $d[0]{at}, $d[2]{at} - $d[1]{at}));

    Time::HiRes::sleep(2.5);
    is(scalar(got('/acme')), 3, "$name - and no more after the 200");
}


sub gone {
    my ($block) = @_;
    my $name = $block->name;
    fresh();
    PdfReport::Test::receiver_mode($dir, 'acme', 410, 200);

    my $id = create('US1A2B3C4D5E6F78');
    is(wait_job($id)->{status}, 'COMPLETE', "$name - COMPLETE");

    my @d = wait_got('/acme', 1);
    Time::HiRes::sleep(3);
    @d = got('/acme');
    is(scalar @d, 1, "$name - one delivery: 410 stops the retries");
    is($d[0]{status}, 410, "$name - answered 410");
}


# acme's receiver never answers; other's answers at once
sub dead_receiver {
    my ($block) = @_;
    my $name = $block->name;
    fresh();
    PdfReport::Test::receiver_mode($dir, 'acme', 'hang');

    my $a = create('US1A2B3C4D5E6F78');
    is(wait_job($a)->{status}, 'COMPLETE', "$name - acme's job COMPLETE");
    ok(wait_got('/acme', 1), "$name - its delivery hangs");

    # the next report of the same org, and another org's
    my $t0 = Time::HiRes::time();
    my $b = create('US5E6F7A8B9C0D12');
    my $c = create('USOTHERORG000001', token => $other);
    my $jb = wait_job($b, timeout => 10);
    my $jc = wait_job($c, timeout => 10, token => $other);
    my $took = Time::HiRes::time() - $t0;

    is($jb->{status}, 'COMPLETE', "$name - acme's next report COMPLETE");
    is($jc->{status}, 'COMPLETE', "$name - other's report COMPLETE");
    ok($took < 5, sprintf("$name - both in %.2f s, not after the 15 s "
                          . "the dead receiver holds a delivery", $took));

    my ($d) = wait_got('/other', 1, 5);
    ok($d && $d->{verified}, "$name - other's event delivered");
    ok($d && $d->{at} - $t0 < 5, sprintf("$name - %.2f s after its create",
                                         ($d->{at} // 0) - $t0));
}


# the first delivery hangs; nginx is SIGKILLed (master and workers) and
# started again; the event comes once its lease (20 s) has run out
sub killed {
    my ($block) = @_;
    my $name = $block->name;
    fresh();
    PdfReport::Test::receiver_mode($dir, 'acme', 'hang', 200);

    my $id = create('US1A2B3C4D5E6F78');
    is(wait_job($id)->{status}, 'COMPLETE', "$name - COMPLETE");
    ok(wait_got('/acme', 1), "$name - the first delivery hangs");

    PdfReport::Test::restart_nginx(signal => 'KILL');
    my $t0 = Time::HiRes::time();

    my @d = wait_got('/acme', 2, 40);
    is(scalar @d, 2, "$name - delivered after the SIGKILL");
    ok($d[1] && $d[1]{verified} && $d[1]{status} == 200,
       "$name - verified, 200");
    is($d[1] && $d[1]{id}, "msg_$id", "$name - the same webhook-id");
    ok($d[1] && $d[1]{at} - $t0 < 30,
       sprintf("$name - %.1f s after the restart (the lease is 20 s)",
               ($d[1]{at} // 0) - $t0));
}


# the first delivery hangs; a reload: the old worker gives the event back
# as it exits, and a new one delivers it at once
sub reloaded {
    my ($block) = @_;
    my $name = $block->name;
    fresh();
    PdfReport::Test::receiver_mode($dir, 'acme', 'hang', 200);

    my $id = create('US1A2B3C4D5E6F78');
    is(wait_job($id)->{status}, 'COMPLETE', "$name - COMPLETE");
    ok(wait_got('/acme', 1), "$name - the first delivery hangs");

    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/nginx.pid"
        or die "pid: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;

    my $t0 = Time::HiRes::time();
    kill 'HUP', $master;

    my @d = wait_got('/acme', 2, 15);
    is(scalar @d, 2, "$name - delivered after the reload");
    ok($d[1] && $d[1]{verified} && $d[1]{status} == 200,
       "$name - verified, 200");
    ok($d[1] && $d[1]{at} - $t0 < 5,
       sprintf("$name - %.1f s after it", ($d[1]{at} // 0) - $t0));
}


sub refused {
    my ($block) = @_;
    my $name = $block->name;
    my $id = one_job($name);

    # three attempts, 1 s apart (and up to a second's look each)
    wait_logged(qr/given up after 3 attempts/, 15);

    is(scalar(got('/acme')), 0, "$name - the receiver got nothing");
}


sub rotated {
    my ($block) = @_;
    my $name = $block->name;
    my $id = one_job($name);

    my ($d) = wait_got('/acme', 1);
    ok($d && !$d->{verified}, "$name - the receiver refuses the signature");
    like($d && $d->{error}, qr/signature/i, "$name - $d->{error}");
}


# https: verified against ca= (the tests' CA); without it, the system's
# CAs refuse the receiver's certificate and nothing is delivered
sub https_hooks {
    my ($ca) = @_;
    return join '', map {
        encode_json({ org_id => "org_$_",
                      url => "https://127.0.0.1:$tls_port/$_",
                      secret => $secret }) . "\n"
    } qw(acme other);
}

sub over_tls {
    my ($block) = @_;
    my $name = $block->name;
    my $id = one_job($name);

    my ($d) = wait_got('/acme', 1);
    ok($d && $d->{verified}, "$name - delivered over https, verified");
}

# a job waits on an S3 that never answers; the directory (this block's
# file) is reloaded without the user's connection: the job is erased,
# and report.failed says NOT_CONNECTED (step 2 answers 404 for it)
sub erased {
    my ($block) = @_;
    my $name = $block->name;
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};
    fresh();

    my $id = create('US1A2B3C4D5E6F78');
    my $deadline = Time::HiRes::time() + 10;
    my $st = '';
    while ($st ne 'IN_PROGRESS' && Time::HiRes::time() < $deadline) {
        $st = step2($id)->{status} // '';
        Time::HiRes::sleep(0.05);
    }
    is($st, 'IN_PROGRESS', "$name - running, its upload held");

    open my $in, '<', "$PdfReport::Test::DATA/users.jsonl" or die $!;
    my @users = grep { !/"US1A2B3C4D5E6F78"/ } <$in>;
    close $in;
    open my $out, '>', "$root/html/users.jsonl" or die $!;
    print $out @users;
    close $out;

    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    chomp $master;
    kill 'HUP', $master;

    my ($d) = wait_got('/acme', 1);
    ok($d && $d->{verified}, "$name - verified");
    my $ev = decode_json($d->{body} // '{}');
    is($ev->{type}, 'report.failed', "$name - report.failed");
    is($ev->{data}{jobId}, $id, "$name - of the job");
    is($ev->{data}{status}, 'FAILED', "$name - FAILED");
    is($ev->{data}{errorCode}, 'NOT_CONNECTED', "$name - NOT_CONNECTED");
    is($ev->{data}{userId}, 'US1A2B3C4D5E6F78', "$name - the user");

    my ($s) = api(GET => "/v1/document/api/$id");
    is($s, 404, "$name - the job itself is erased: 404");
}


# S3 never answers and the job's time runs out: a scan fails it, and
# that transaction records report.failed
sub timed_out {
    my ($block) = @_;
    my $name = $block->name;
    fresh();

    my $id = create('US1A2B3C4D5E6F78');
    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'FAILED', "$name - FAILED");
    is($job->{errorCode}, 'TIMEOUT', "$name - TIMEOUT");

    my ($d) = wait_got('/acme', 1);
    ok($d && $d->{verified}, "$name - verified");
    my $ev = decode_json($d->{body} // '{}');
    is($ev->{type}, 'report.failed', "$name - report.failed");
    is_deeply($ev->{data}, step2($id), "$name - data is step 2's job");
}


our $pg = PdfReport::Test::pg_database();
our $pg2 = PdfReport::Test::pg_database();
our $pg3 = PdfReport::Test::pg_database();

run_tests();

__DATA__

=== TEST 1: report.completed and report.failed, with step 2's job
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf(s3_endpoint => $::proxy)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: events
--- timeout: 60
--- error_log eval
qr/\[info\] .*webhook msg_\S+ of job \S+ delivered \(attempt 1\); org "org_acme"/
--- no_error_log
whsec_
MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
[alert]
[crit]
[emerg]



=== TEST 2: 500 twice, then 200: three deliveries, one webhook-id
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: retried
--- timeout: 60
--- error_log eval
qr/\[warn\] .*webhook msg_\S+ of job \S+ failed \(attempt 2\): http:\/\/127\.0\.0\.1:\d+\/acme answered 500; tried again in [12] s; org "org_acme"/



=== TEST 3: 410 stops the retries
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: gone
--- timeout: 60
--- error_log eval
qr/\[notice\] .*webhook msg_\S+ of job \S+ stopped: .* \(410 Gone: no more attempts\)/



=== TEST 4: a receiver that never answers slows no report and no other org
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: dead_receiver
--- timeout: 60



=== TEST 5: all workers SIGKILLed while it is under way: it still arrives
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: killed
--- timeout: 90



=== TEST 6: a reload gives the event back at once
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: reloaded
--- timeout: 60



=== TEST 7: a loopback URL without an allow entry: refused, not connected
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf(allow => undef)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: refused
--- timeout: 60
--- error_log eval
qr/\[error\] .*webhook msg_\S+ of job \S+ given up after 3 attempts: http:\/\/127\.0\.0\.1:\d+\/acme: refused: the host's address is loopback, private, link-local or unspecified, and no pdf_report_webhook_allow entry allows it; org "org_acme"/



=== TEST 8: a secret rotated on one side only: the receiver refuses it
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks(secret => $::rotated)
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: rotated
--- timeout: 60



=== TEST 9: on a PostgreSQL store: report.completed, report.failed
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf(s3_endpoint => $::proxy, store => $::pg)
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: events
--- timeout: 60



=== TEST 10: a job the scan times out: report.failed, TIMEOUT
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
           job_timeout => '2s')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: timed_out
--- timeout: 60



=== TEST 11: the same on a PostgreSQL store
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
--- http_config eval
main::conf(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
           job_timeout => '2s', store => $::pg2)
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: timed_out
--- timeout: 60



=== TEST 12: https, verified against ca=
--- user_files eval
">>> webhooks.jsonl\n" . main::https_hooks()
--- http_config eval
main::conf(webhooks => "$ENV{TEST_NGINX_SERVER_ROOT}/html/webhooks.jsonl "
                       . "ca=$::ca")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: over_tls
--- timeout: 60



=== TEST 13: https whose certificate no trusted CA signed: refused
--- user_files eval
">>> webhooks.jsonl\n" . main::https_hooks()
--- http_config eval
main::conf()
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: refused
--- timeout: 60
--- error_log eval
qr/\[error\] .*webhook msg_\S+ of job \S+ given up after 3 attempts: https:\/\/127\.0\.0\.1:\d+\/acme: SSL certificate problem: unable to get local issuer certificate/



=== TEST 14: a running job erased by a directory reload: report.failed
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
. ">>> users.jsonl\n" . do { local (@ARGV, $/) = "$PdfReport::Test::DATA/users.jsonl"; <> }
--- http_config eval
main::conf(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
           users => "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: erased
--- timeout: 60



=== TEST 15: the same on a PostgreSQL store
--- user_files eval
">>> webhooks.jsonl\n" . main::hooks()
. ">>> users.jsonl\n" . do { local (@ARGV, $/) = "$PdfReport::Test::DATA/users.jsonl"; <> }
--- http_config eval
main::conf(s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT",
           users => "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl",
           store => $::pg3)
--- init
main::until_served(10);
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: erased
--- timeout: 60
