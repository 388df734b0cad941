# The user directory at scale (issue 11, item 4; contract section 7): a
# directory of 100,000 users, reloaded with "nginx -s reload" (HUP).
#
# - unchanged: not loaded again; the log says so, first by its SHA-256
#   (the start read it too soon after it was written to trust its
#   times), then by its inode, size and times without reading it;
# - one line changed: applied as the difference (one user changed, one
#   connection revoked), and step 3 answers 403 for that user's job
#   (with pdf_report_erase_on_revoke off: t/45 covers it on);
# - a bad line in a changed file: the reload is refused with the file
#   and the line in the log, the old directory still answers, and
#   "nginx -t" names the same line.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job);
use Time::HiRes ();

no_long_string();
no_shuffle();
log_level('notice');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $N = 100_000;
our $root = $ENV{TEST_NGINX_SERVER_ROOT};
our $users = "$root/html/users.jsonl";
our $log = "$root/logs/error.log";


# user i, as SQR's User Status API gives it; user 1 connected to org_acme
# (the tests' token) unless its status is given
sub user_line {
    my ($i, $status) = @_;

    return sprintf '{"id":"US43%012d","first_name":"Dir","middle_name":'
        . 'null,"last_name":"User%d","email":"user%d@example.com",'
        . '"country":"GB","registration_status":"active",'
        . '"created_at":"2025-01-10T09:00:00.000Z","connections":[{'
        . '"org_id":"org_%s","organization_name":"Org","connection_status":'
        . '"%s","data_sharing_agreed":true,"connection_status_updated_at":'
        . '"2025-02-01T12:00:00.000Z"}]}',
        $i, $i, $i, $i == 1 ? 'acme' : sprintf('%03d', $i % 100),
        $status // 'CONNECTED';
}


sub users_text {
    my (%o) = @_;
    my $text = '';

    for my $i (1 .. $N) {
        my $line = user_line($i, $i == 1 ? $o{first} : undef);
        $line = substr($line, 0, 40) if $o{bad} && $i == $o{bad};
        $text .= "$line\n";
    }

    return $text;
}


# as operators replace it: a new file renamed over the old one
sub write_users {
    my ($text) = @_;

    open my $fh, '>', "$users.tmp" or die "$users: $!";
    print $fh $text;
    close $fh or die "$users: $!";
    rename "$users.tmp", $users or die "$users: $!";
}


sub log_count {
    my ($re) = @_;
    open my $fh, '<', $log or return 0;
    return scalar grep { $_ =~ $re } <$fh>;
}


sub hup {
    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    chomp $master;
    kill 'HUP', $master;
}


# HUP, then wait until the log has one line more that matches re
sub reload_until_logged {
    my ($re) = @_;
    my $before = log_count($re);

    hup();

    my $deadline = Time::HiRes::time() + 30;

    while (Time::HiRes::time() < $deadline) {
        return Time::HiRes::time() if log_count($re) > $before;
        Time::HiRes::sleep(0.05);
    }

    return undef;
}


sub at_scale {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};
    my $url = "/v1/document/api/$id/url";
    my $loaded = qr/pdf_report: \Q$N\E users loaded from "\Q$users\E"/;
    my $unchanged = qr/pdf_report: the user directory "\Q$users\E" is /
                    . qr/unchanged since the last load /;
    my $same_sha = qr/$unchanged\(same SHA-256\): not loaded again$/;
    my $same_stat = qr/$unchanged\(same inode, size and times\): /
                    . qr/not loaded again$/;

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");
    my ($s) = api(GET => $url);
    is($s, 200, "$name - url while connected");

    is(log_count(qr/$loaded: $N added, 0 changed, 0 removed, /
                 . qr/0 connections revoked$/),
       1, "$name - the start loaded $N users");

    # unchanged, read: the start was within 2 s of the file's times
    Time::HiRes::sleep(2.2);
    my $t0 = Time::HiRes::time();
    my $t = reload_until_logged($same_sha);
    ok(defined $t, "$name - reload: unchanged by its SHA-256");
    diag(sprintf "$name - unchanged reload (read): %.2f s", $t - $t0)
        if defined $t && $ENV{TEST_VERBOSE};

    # unchanged, not even read
    $t0 = Time::HiRes::time();
    $t = reload_until_logged($same_stat);
    ok(defined $t, "$name - reload: unchanged by its inode, size, times");
    diag(sprintf "$name - unchanged reload (stat): %.2f s", $t - $t0)
        if defined $t && $ENV{TEST_VERBOSE};

    is(log_count($loaded), 1, "$name - loaded once, at the start only");
    ($s) = api(GET => $url);
    is($s, 200, "$name - url after the unchanged reloads");

    # one line changed: user 1's connection revoked
    write_users(users_text(first => 'REVOKED'));
    $t = reload_until_logged(qr/$loaded: 0 added, 1 changed, 0 removed, /
                             . qr/1 connections revoked$/);
    ok(defined $t, "$name - one line changed: the difference applied");

    my $text;
    my $deadline = Time::HiRes::time() + 15;

    do {
        ($s, undef, $text) = api(GET => $url);
    } while ($s != 403 && Time::HiRes::time() < $deadline
             && Time::HiRes::sleep(0.1));

    is($s, 403, "$name - url after the change: 403");
    is($text, '{"error":"NOT_CONNECTED","message":"This user is no longer '
              . 'connected to your organisation."}', "$name - NOT_CONNECTED");

    # connected again (a change that would give 200), but line 50000 bad
    my $line = qr/invalid user directory "\Q$users\E", line 50000: /
               . qr/invalid JSON at column 40: premature end of input/;
    my $bad = qr/\[emerg\] \d+#\d+: $line$/;

    write_users(users_text(bad => 50_000));
    $t = reload_until_logged($bad);
    ok(defined $t, "$name - a bad line: the reload refused, the line named");

    Time::HiRes::sleep(0.5);
    ($s, undef, $text) = api(GET => $url);
    is($s, 403, "$name - the old directory still answers: still 403");
    is(log_count($loaded), 2, "$name - nothing else loaded");

    # and nginx -t names the same line (with PostgreSQL too: it reaches
    # no database, and checks the file on its own)
    my $conf = "$root/conf/nginx.conf";
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -t -p '$root/' -c '$conf' 2>&1`;
    isnt($?, 0, "$name - nginx -t fails");
    like($out, qr/^nginx: \[emerg\] $line$/m,
         "$name - nginx -t names the file and the line");

    # fixed: loaded, user 1 connected again
    write_users(users_text());
    $t = reload_until_logged(qr/$loaded: 0 added, 1 changed, 0 removed, /
                             . qr/0 connections revoked$/);
    ok(defined $t, "$name - fixed: loaded");

    $deadline = Time::HiRes::time() + 15;

    do {
        ($s) = api(GET => $url);
    } while ($s != 200 && Time::HiRes::time() < $deadline
             && Time::HiRes::sleep(0.1));

    is($s, 200, "$name - connected again: 200");
}

run_tests();

__DATA__

=== TEST 1: 100,000 users: unchanged reloads load nothing, a changed line is applied, a bad line keeps the old directory
--- user_files eval
">>> users.jsonl\n" . main::users_text()
--- http_config eval
PdfReport::Test::http_config(users => $::users,
                             store => PdfReport::Backend::postgresql()
                                      ? PdfReport::Test::pg_database()
                                      : "$::root/pdf_report_temp size=256m",
                             erase_on_revoke => "off")
--- request
POST /v1/document/api
{"userId":"US43000000000001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: at_scale
--- timeout: 120
--- no_error_log
[alert]
[crit]
