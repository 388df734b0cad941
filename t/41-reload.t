# The user directory is reloaded with "nginx -s reload": consent withdrawn
# in the directory takes effect on the next step 3 (403), while jobs and
# their status stay, with pdf_report_erase_on_revoke off (on, the
# default, erases them instead: t/45-erasure.t).

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job);
use Time::HiRes ();

no_long_string();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $users = "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl";

our $connected = '{"id":"USRELOAD00000001","first_name":"Remy","last_name":'
    . '"Reload","connections":[{"org_id":"org_acme","organization_name":'
    . '"Acme Ltd","connection_status":"CONNECTED","data_sharing_agreed":'
    . 'true,"connection_status_updated_at":"2025-02-01T12:00:00.000Z"}]}';

(our $revoked = $connected) =~ s/"CONNECTED"/"REVOKED"/;

our $other = '{"id":"USRELOAD00000002","first_name":"Ola","last_name":"Other",'
    . '"connections":[]}';


sub write_users {
    my (@lines) = @_;

    open my $fh, '>', "$users.tmp" or die "$users: $!";
    print $fh map { "$_\n" } @lines;
    close $fh;
    rename "$users.tmp", $users or die "$users: $!";
}


sub reload_and_wait {
    my ($path, $status) = @_;

    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/nginx.pid"
        or die "nginx.pid: $!";
    my $master = <$fh>;
    chomp $master;
    kill 'HUP', $master;

    # new workers answer once the reload is done
    my $deadline = Time::HiRes::time() + 15;
    my @r;

    while (Time::HiRes::time() < $deadline) {
        @r = api(GET => $path);
        return @r if $r[0] == $status;
        Time::HiRes::sleep(0.1);
    }

    return @r;
}


sub consent_withdrawn {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");

    my ($status) = api(GET => "/v1/document/api/$id/url");
    is($status, 200, "$name - url while connected");

    write_users($revoked, $other);

    my ($s, $h, $text) = reload_and_wait("/v1/document/api/$id/url", 403);

    is($s, 403, "$name - url after the reload: 403");
    is($text, '{"error":"NOT_CONNECTED","message":"This user is no longer '
              . 'connected to your organisation."}',
       "$name - NOT_CONNECTED");

    my (undef, undef, undef, $after) = api(GET => "/v1/document/api/$id");
    is_deeply($after, $job, "$name - the job itself is unchanged");

    # and a new job for that user is refused before it is created
    ($s, undef, $text) = api(POST => '/v1/document/api',
                             body => { userId => 'USRELOAD00000001' });
    is($s, 403, "$name - step 1 refused too");
    like($text, qr/"NOT_CONNECTED"/, "$name - NOT_CONNECTED");

    # connected again, and then removed from the directory
    write_users($connected, $other);
    ($s) = reload_and_wait("/v1/document/api/$id/url", 200);
    is($s, 200, "$name - reconnected: 200 again");

    write_users($other);
    ($s, undef, $text) = reload_and_wait("/v1/document/api/$id/url", 403);
    is($s, 403, "$name - user gone from the directory: 403");
    like($text, qr/"NOT_CONNECTED"/, "$name - NOT_CONNECTED");
}

run_tests();

__DATA__

=== TEST 1: consent withdrawn, reload: step 3 answers 403 (erasure off)
--- user_files eval
">>> users.jsonl\n$::connected\n$::other\n"
--- http_config eval
PdfReport::Test::http_config(users => $::users, erase_on_revoke => 'off')
--- request
POST /v1/document/api
{"userId":"USRELOAD00000001"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: consent_withdrawn
--- timeout: 60
--- error_log
pdf_report: 2 users loaded from
pdf_report: 1 users loaded from
