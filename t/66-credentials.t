# S3 credentials that rotate without a reload (contract section 11):
# pdf_report_s3_credentials <file> [profile] | env | imds | ecs.
#
# The S3 server is the tests' s3rver, which here checks session tokens
# too (tools/s3rver.js: a key pair given a token takes requests with that
# X-Amz-Security-Token only) and whose key pairs a test adds and revokes
# while nginx runs, so "uploaded with the new key" is what S3 says, not
# what the module says.  The credential endpoints are local stand-ins
# that speak the documented IMDSv2 and container protocols
# (t/lib/PdfReport/Metadata.pm): AWS cannot be reached from here.
#
# Two workers: what one fetched, both use (the endpoints' request logs
# count the fetches).

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json s3_get s3_key s3_revoke);
use PdfReport::Metadata;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use Time::HiRes ();

no_long_string();
log_level('info');
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $tmp = tempdir('pdf-report-creds-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $user = 'US1A2B3C4D5E6F78';

# every secret and session token below: none may reach the error log
our %secret = (
    file1 => 'file-secret-one-DoNotLog',
    file2 => 'file-secret-two-DoNotLog',
    env   => 'env-secret-DoNotLog',
    imds1 => 'imds-secret-one-DoNotLog',
    imds2 => 'imds-secret-two-DoNotLog',
    imds3 => 'imds-secret-three-DoNotLog',
    imds4 => 'imds-secret-four-DoNotLog',
    imds5 => 'imds-secret-five-DoNotLog',
    ecs1  => 'ecs-secret-one-DoNotLog',
    ecs2  => 'ecs-secret-two-DoNotLog',
    ecs3  => 'ecs-secret-three-DoNotLog',
);
our %token = (
    file2 => 'file-session-token-two',
    env   => 'env-session-token+/=',
    imds1 => 'imds-session-token-one',
    imds2 => 'imds-session-token-two',
    imds3 => 'imds-session-token-three',
    imds4 => 'imds-session-token-four',
    imds5 => 'imds-session-token-five',
    ecs1  => 'ecs-session-token-one',
    ecs2  => 'ecs-session-token-two',
    ecs3  => 'ecs-session-token-three',
);

our $no_secrets = join "\n", '[alert]', '[crit]', '[emerg]', 'DoNotLog',
                             'session-token';

our $imds = PdfReport::Metadata->start;
our $imds_down = PdfReport::Metadata->start;
our $ecs = PdfReport::Metadata->start;

$ENV{TEST_NGINX_IMDS} = $imds->url;
$ENV{TEST_NGINX_IMDS_DOWN} = $imds_down->url;
$ENV{TEST_NGINX_ECS} = $ecs->container_url;
$ENV{TEST_NGINX_CLOSED} = 'http://127.0.0.1:' . PdfReport::Test::free_port();

s3_key('FILEKEYONE', $secret{file1});
s3_key('FILEKEYTWO', $secret{file2}, $token{file2});
s3_key('ENVKEYID', $secret{env}, $token{env});
s3_key("IMDSKEY$_", $secret{"imds$_"}, $token{"imds$_"}) for 1 .. 5;
s3_key("ECSKEY$_", $secret{"ecs$_"}, $token{"ecs$_"}) for 1 .. 3;


sub put_file {
    my ($path, $text) = @_;

    open my $fh, '>', "$path.new" or die "$path.new: $!";
    print $fh $text;
    close $fh;
    rename "$path.new", $path or die "rename $path: $!";
}


sub ini {
    my ($id, $secret, $token) = @_;
    return "[default]\naws_access_key_id = $id\n"
           . "aws_secret_access_key = $secret\n"
           . (defined $token ? "aws_session_token = $token\n" : '');
}


sub error_log {
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log"
        or return '';
    local $/;
    return <$fh>;
}


# the time a line matching re shows in the error log, or undef
sub wait_log {
    my ($re, $timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $deadline) {
        return Time::HiRes::time() if error_log() =~ $re;
        Time::HiRes::sleep(0.1);
    }

    return undef;
}


# a job through step 1 to its end; (its final JSON, its id)
sub run_job {
    my ($s, undef, undef, $j) = api(POST => '/v1/document/api',
                                    body => { userId => $user });
    return (undef, undef) unless $s == 202;

    return (wait_job($j->{jobId}, timeout => 30), $j->{jobId});
}


# step 3 of a job: (status, headers, JSON)
sub url_of {
    my ($id) = @_;
    my ($s, $h, undef, $j) = api(GET => "/v1/document/api/$id/url");
    return ($s, $h, $j);
}


sub fetches {
    my ($md, $what) = @_;
    return scalar grep { /\Q$what\E/ } $md->requests;
}


add_block_preprocessor(sub {
    my ($block) = @_;

    if (defined $block->setup) {
        my $setup = $block->setup;
        chomp $setup;
        my $code = main->can($setup) or die "no setup sub main::$setup";
        $code->($block);
    }
});

run_tests();


# ---- TEST 1 ----

sub file_setup {
    put_file("$tmp/credentials", ini('FILEKEYONE', $secret{file1}));
}


sub file_rotates {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - the first job, with key one");

    my ($s, undef, $u) = url_of($id);
    is($s, 200, "$name - its URL");
    like($u->{url}, qr/X-Amz-Credential=FILEKEYONE%2F/,
         "$name - signed with key one");
    unlike($u->{url}, qr/X-Amz-Security-Token/,
           "$name - no session token in the file, none in the URL");
    is(s3_get($u->{url})->{status}, 200, "$name - S3 takes it");
    my $old_url = $u->{url};

    # an agent replaces the file with temporary credentials; S3 revokes
    # key one: nginx is neither reloaded nor told
    put_file("$tmp/credentials",
             ini('FILEKEYTWO', $secret{file2}, $token{file2}));
    s3_revoke('FILEKEYONE');

    ok(wait_log(qr/S3 credentials changed from the file "\Q$tmp\E\/credentials", profile "default": access key id ending "YTWO"/, 5),
       "$name - the new file is read within seconds, without a reload");

    is(s3_get($old_url)->{status}, 403,
       "$name - S3 refuses key one now (a URL signed before)");

    my ($job2, $id2) = run_job();
    is($job2 && $job2->{status}, 'COMPLETE',
       "$name - a new job is uploaded with key two and its token");

    ($s, undef, $u) = url_of($id2);
    like($u->{url}, qr/X-Amz-Credential=FILEKEYTWO%2F/,
         "$name - its URL signed with key two");
    like($u->{url}, qr/X-Amz-Security-Token=file-session-token-two&/,
         "$name - with the file's session token");

    my $res = s3_get($u->{url});
    is($res->{status}, 200, "$name - S3 takes the URL");
    is(sha256_hex($res->{content}), $job2->{sha256},
       "$name - and holds the recorded bytes");

    # the first job: a URL signed again, with the key of now
    ($s, undef, $u) = url_of($id);
    is(s3_get($u->{url})->{status}, 200,
       "$name - the first job's URL, asked again, works with key two");
}


# ---- TEST 2 ----

sub env_flow {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE',
       "$name - uploaded with the environment's key and token");

    my ($s, undef, $u) = url_of($id);
    is($s, 200, "$name - step 3");
    is($u->{expiresInSeconds}, 300,
       "$name - no Expiration: the configured TTL");
    like($u->{url}, qr/X-Amz-Credential=ENVKEYID%2F/, "$name - its key id");
    like($u->{url},
         qr/X-Amz-Security-Token=env-session-token%2B%2F%3D&/,
         "$name - its session token, encoded");
    is(s3_get($u->{url})->{status}, 200, "$name - S3 takes the URL");

    # the test S3 does check the token: without it, refused
    (my $bare = $u->{url}) =~ s/X-Amz-Security-Token=[^&]*&//;
    my $res = s3_get($bare);
    is($res->{status}, 400, "$name - the URL without its token: refused");
    like($res->{content}, qr/<Code>InvalidToken<\/Code>/,
         "$name - InvalidToken");
}


# ---- TEST 3 ----

our ($imds_expires, $imds_set);

sub imds_two_minutes {
    $imds->clear_requests;
    $imds_set = time;
    $imds_expires = $imds->credentials(id => 'IMDSKEY1',
                                       secret => $secret{imds1},
                                       token => $token{imds1},
                                       expires_in => 120);
}


sub imds_refresh {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - the first job, with key 1");

    # a URL never outlives its credentials
    my ($s, undef, $u) = url_of($id);
    my $left = $imds_expires - time;
    is($s, 200, "$name - step 3");
    ok($u->{expiresInSeconds} >= $left - 2
       && $u->{expiresInSeconds} <= $left + 1,
       "$name - expiresInSeconds $u->{expiresInSeconds}: what is left of "
       . "the credentials ($left s), not 300");
    like($u->{url}, qr/X-Amz-Expires=$u->{expiresInSeconds}&/,
         "$name - X-Amz-Expires says the same");
    like($u->{url}, qr/X-Amz-Security-Token=imds-session-token-one&/,
         "$name - the role's session token");
    is(s3_get($u->{url})->{status}, 200, "$name - S3 takes the URL");

    # the next credentials are ready before the old ones expire, as on EC2
    $imds->credentials(id => 'IMDSKEY2', secret => $secret{imds2},
                       token => $token{imds2}, expires_in => 6 * 3600);

    # uploads go on across the switch, one every two seconds
    my ($jobs, $failed, $switched, $after) = (0, 0, undef, 0);
    my $changed = qr/S3 credentials changed from IMDS \(role "pdf-report-role"\): access key id ending "KEY2"/;

    while (time < $imds_expires + 10) {
        my ($j) = run_job();
        $jobs++;
        $failed++ unless $j && $j->{status} eq 'COMPLETE';

        if (!defined $switched && error_log() =~ $changed) {
            $switched = time;

            # key 1 is of no use any more, as it will not be at Expiration
            s3_revoke('IMDSKEY1');
        }

        last if defined $switched && ++$after > 3;
        Time::HiRes::sleep(2);
    }

    ok(defined $switched, "$name - refreshed");
    ok(defined $switched && $switched < $imds_expires - 30,
       sprintf("$name - well before Expiration (%d s after the first "
               . "fetch, %d s before Expiration)",
               ($switched // 0) - $imds_set,
               $imds_expires - ($switched // 0)));
    ok(defined $switched && $switched >= $imds_set + 50,
       "$name - not at once: halfway through the 2-minute life");
    is($failed, 0, "$name - none of the $jobs uploads across the switch "
                   . "failed");

    ($s, undef, $u) = url_of($id);
    is($u->{expiresInSeconds}, 300,
       "$name - 6 hours left: the configured TTL again");
    like($u->{url}, qr/X-Amz-Credential=IMDSKEY2%2F.*X-Amz-Security-Token=imds-session-token-two&/,
         "$name - the new key and token");
    is(s3_get($u->{url})->{status}, 200, "$name - S3 takes it");

    # two workers, one fetch each time: one token, two role lookups, two
    # credential fetches in all
    is(fetches($imds, 'PUT /latest/api/token ttl=21600 -> 200'), 1,
       "$name - one IMDS token (TTL 21600), kept between fetches");
    is(fetches($imds, 'security-credentials/pdf-report-role token=valid '
                      . '-> 200'), 2,
       "$name - the credentials fetched twice, by whichever worker");
    is(fetches($imds, '-> 40'), 0, "$name - no request refused");
}


# ---- TEST 4 ----

sub imds_short {
    $imds->clear_requests;
    $imds->credentials(id => 'IMDSKEY3', secret => $secret{imds3},
                       token => $token{imds3}, expires_in => 16);
}


sub imds_token_refused {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - the first job, with key 3");

    # the token nginx holds stops working (as one past its TTL does)
    $imds->revoke_tokens;
    $imds->credentials(id => 'IMDSKEY4', secret => $secret{imds4},
                       token => $token{imds4}, expires_in => 6 * 3600);

    ok(wait_log(qr/S3 credentials changed from IMDS.*ending "KEY4"/, 15),
       "$name - refreshed all the same");

    my @lines = map { s/^[\d.]+ //r } $imds->requests;
    my ($i) = grep { $lines[$_] =~ /token=invalid -> 401$/ } 0 .. $#lines;

    ok(defined $i, "$name - IMDS answered 401 to the old token");
    is_deeply([ @lines[$i .. $#lines] ],
              [ 'GET /latest/meta-data/iam/security-credentials/ '
                . 'token=invalid -> 401',
                'PUT /latest/api/token ttl=21600 -> 200',
                'GET /latest/meta-data/iam/security-credentials/ '
                . 'token=valid -> 200',
                'GET /latest/meta-data/iam/security-credentials/'
                . 'pdf-report-role token=valid -> 200' ],
              "$name - then a new token, and the role and its "
              . "credentials again with it");

    s3_revoke('IMDSKEY3');

    my ($job2) = run_job();
    is($job2 && $job2->{status}, 'COMPLETE', "$name - uploads with key 4");
}


# ---- TEST 5 ----

sub ecs_token {
    $ecs->clear_requests;
    $ecs->authorization('Bearer ecs-auth-token');
    $ecs->credentials(id => 'ECSKEY1', secret => $secret{ecs1},
                      token => $token{ecs1});
}


sub ecs_flow {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - uploaded with the task's key");

    my ($s, undef, $u) = url_of($id);
    like($u->{url}, qr/X-Amz-Credential=ECSKEY1%2F.*X-Amz-Security-Token=ecs-session-token-one&/,
         "$name - the task's key and token");
    is(s3_get($u->{url})->{status}, 200, "$name - S3 takes the URL");

    my @req = map { s/^[\d.]+ //r } $ecs->requests;
    is_deeply(\@req, [ "GET $PdfReport::Metadata::CONTAINER_PATH auth=ok "
                       . '-> 200' ],
              "$name - one fetch for both workers, with the token");
}


# ---- TEST 6 ----

sub ecs_file_setup {
    $ecs->clear_requests;
    put_file("$tmp/ecs-token", "Bearer ecs-file-token-1\n");
    $ecs->authorization('Bearer ecs-file-token-1');
    $ecs->credentials(id => 'ECSKEY2', secret => $secret{ecs2},
                      token => $token{ecs2}, expires_in => 12);
}


sub ecs_file_flow {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - uploaded with key 2");

    # the agent rotates the token file and the credentials
    put_file("$tmp/ecs-token", "Bearer ecs-file-token-2\n");
    $ecs->authorization('Bearer ecs-file-token-2');
    $ecs->credentials(id => 'ECSKEY3', secret => $secret{ecs3},
                      token => $token{ecs3});

    ok(wait_log(qr/S3 credentials changed from the container credentials endpoint: access key id ending "KEY3"/, 12),
       "$name - refreshed before the 12 s credentials expired");

    my @req = map { s/^[\d.]+ //r } $ecs->requests;
    is_deeply(\@req,
              [ ("GET $PdfReport::Metadata::CONTAINER_PATH auth=ok -> 200")
                x 2 ],
              "$name - the file's token each time, read again: never the "
              . "variable's, never a stale one");

    s3_revoke('ECSKEY2');

    my ($job2, $id2) = run_job();
    is($job2 && $job2->{status}, 'COMPLETE', "$name - uploads with key 3");
}


# ---- TEST 7 ----

sub imds_down_setup {
    $imds_down->clear_requests;
    $imds_down->mode('down');
}


sub down_flow {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    Time::HiRes::sleep(2.5);

    my ($s, undef, undef, $j) = api(GET => "/v1/document/api/$id");
    is($j->{status}, 'PENDING',
       "$name - without credentials the job waits, PENDING");
    like(error_log(), qr/\[error\] .*cannot fetch S3 credentials from IMDS: /,
         "$name - the failure is logged at error");

    # IMDS answers again, with credentials for 14 s
    my $expires = $imds_down->credentials(id => 'IMDSKEY5',
                                          secret => $secret{imds5},
                                          token => $token{imds5},
                                          expires_in => 14);
    $imds_down->mode('up');

    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'COMPLETE',
       "$name - then it completes, within its time");

    my $u;
    ($s, undef, $u) = url_of($id);
    is($s, 200, "$name - step 3");
    ok($u->{expiresInSeconds} <= $expires - time + 1,
       "$name - a URL for at most what the credentials have left");

    # IMDS goes away again, and the credentials expire
    $imds_down->mode('down');
    Time::HiRes::sleep($expires - time + 1.5) if $expires + 1.5 > time;

    my ($h, $raw);
    ($s, $h, $raw) = api(GET => "/v1/document/api/$id/url");
    is($s, 503, "$name - expired and no new ones: 503");
    is($raw, '{"error":"CREDENTIALS_UNAVAILABLE","message":"The download '
             . 'URL cannot be signed right now; retry later."}',
       "$name - CREDENTIALS_UNAVAILABLE");
    like($h->{'retry-after'} // '', qr/^(?:[1-9]|[12]\d|30)$/,
         "$name - Retry-After: 1 to 30 s");
    is($h->{'content-type'}, 'application/json', "$name - JSON");
    is($h->{'cache-control'}, 'no-store', "$name - not cached");

    # and back
    $imds_down->credentials(id => 'IMDSKEY5', secret => $secret{imds5},
                            token => $token{imds5});
    $imds_down->mode('up');

    my $deadline = time + 15;
    $s = 0;

    while (time < $deadline) {
        ($s) = url_of($id);
        last if $s == 200;
        Time::HiRes::sleep(0.5);
    }

    is($s, 200, "$name - step 3 answers again once IMDS does");
}


# ---- TEST 9 ----

sub broken_setup {
    put_file("$tmp/credentials-broken", ini('FILEKEYTHREE', 'three-DoNotLog'));
    s3_key('FILEKEYTHREE', 'three-DoNotLog');
}


sub file_broken {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $file = "$tmp/credentials-broken";

    my $job = wait_job(json($body)->{jobId});
    is($job->{status}, 'COMPLETE', "$name - the first job");

    # a bad edit: the profile is gone
    put_file($file, "[other]\naws_access_key_id = X\n");

    ok(wait_log(qr/\[error\] .*cannot read S3 credentials from the file "\Q$file\E", profile "default": profile "default" not found; the ones read before stay in use, and the file is read again when it changes/, 5),
       "$name - the bad file is logged, not used");

    my ($job2) = run_job();
    is($job2 && $job2->{status}, 'COMPLETE',
       "$name - uploads go on with the keys read before");

    # fixed, with another key
    s3_key('FILEKEYFOUR', 'four-DoNotLog');
    put_file($file, ini('FILEKEYFOUR', 'four-DoNotLog'));
    s3_revoke('FILEKEYTHREE');

    ok(wait_log(qr/S3 credentials changed from the file "\Q$file\E".*ending "FOUR"/, 5),
       "$name - the fixed file is read");

    my ($job3, $id3) = run_job();
    is($job3 && $job3->{status}, 'COMPLETE', "$name - uploads with key four");
}


# ---- TEST 8 ----

sub never_flow {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = json($body)->{jobId};

    my $job = wait_job($id, timeout => 15);
    is($job->{status}, 'FAILED', "$name - FAILED in the end");
    is($job->{errorCode}, 'TIMEOUT',
       "$name - TIMEOUT: its time ran out while it waited");

    my ($s, undef, $j) = url_of($id);
    is($s, 422, "$name - step 3: not complete, before any credentials");
    is($j->{status}, 'FAILED', "$name - and says FAILED");
}


__DATA__

=== TEST 1: a credentials file replaced under a running nginx: the new key (and its session token) is used without a reload
--- setup: file_setup
--- http_config eval
PdfReport::Test::http_config(s3_credentials => "$::tmp/credentials",
                             rate_limit => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: file_rotates
--- timeout: 30
--- error_log eval
qr/S3 credentials changed from the file/
--- no_error_log eval
"[error]\n$::no_secrets"



=== TEST 2: env: the key, secret and session token of nginx's environment ("env" directive)
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_ACCESS_KEY_ID=ENVKEYID;\n"
. "env AWS_SECRET_ACCESS_KEY=$::secret{env};\n"
. "env AWS_SESSION_TOKEN=$::token{env};\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'env')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: env_flow
--- timeout: 30
--- error_log eval
qr/S3 credentials loaded from the environment: access key id ending "EYID", with a session token/
--- no_error_log eval
"[error]\n$::no_secrets"



=== TEST 3: IMDS credentials that expire in 2 minutes: refreshed halfway, shared by both workers, no upload failed across the switch, URLs cut to what is left
--- setup: imds_two_minutes
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_EC2_METADATA_SERVICE_ENDPOINT=$ENV{TEST_NGINX_IMDS};\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'imds', rate_limit => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: imds_refresh
--- timeout: 30
--- error_log eval
[qr/S3 credentials loaded from IMDS \(role "pdf-report-role"\): access key id ending "KEY1", expiring 20\d\d-/,
 qr/S3 credentials changed from IMDS/]
--- no_error_log eval
"[error]\n$::no_secrets"



=== TEST 4: the IMDS token refused (401): a new token, then the credentials
--- setup: imds_short
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_EC2_METADATA_SERVICE_ENDPOINT=$ENV{TEST_NGINX_IMDS};\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'imds', rate_limit => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: imds_token_refused
--- timeout: 30
--- error_log eval
qr/IMDS refused its session token \(401, it expired or was revoked\): a new one was taken/
--- no_error_log eval
"[error]\n$::no_secrets"



=== TEST 5: ecs: the full URI, with the authorization token of the environment
--- setup: ecs_token
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_CONTAINER_CREDENTIALS_FULL_URI=$ENV{TEST_NGINX_ECS};\n"
. "env 'AWS_CONTAINER_AUTHORIZATION_TOKEN=Bearer ecs-auth-token';\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'ecs')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: ecs_flow
--- timeout: 30
--- error_log eval
qr/S3 credentials loaded from the container credentials endpoint: access key id ending "KEY1"/
--- no_error_log eval
"[error]\n$::no_secrets\necs-auth-token"



=== TEST 6: ecs: the token file wins over the variable and is read again at each fetch
--- setup: ecs_file_setup
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_CONTAINER_CREDENTIALS_FULL_URI=$ENV{TEST_NGINX_ECS};\n"
. "env AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$::tmp/ecs-token;\n"
. "env 'AWS_CONTAINER_AUTHORIZATION_TOKEN=Bearer not-this-one';\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'ecs', rate_limit => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: ecs_file_flow
--- timeout: 30
--- no_error_log eval
"[error]\n$::no_secrets\necs-file-token"



=== TEST 7: IMDS down at start: nginx starts, the job waits and completes once IMDS answers; expired credentials give 503 CREDENTIALS_UNAVAILABLE, then 200 again
--- setup: imds_down_setup
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_EC2_METADATA_SERVICE_ENDPOINT=$ENV{TEST_NGINX_IMDS_DOWN};\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'imds')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: down_flow
--- timeout: 30
--- error_log eval
[qr/\[error\] .*cannot fetch S3 credentials from IMDS: .*uploads wait and step 3 answers 503 meanwhile \(1 attempt\(s\) in a row, the next in 1 s\)/,
 qr/S3 credentials loaded from IMDS .*\(after failed attempts\)/]
--- no_error_log eval
$::no_secrets



=== TEST 8: credentials that never come: nginx starts, the job times out in the queue (TIMEOUT), nothing crashes
--- main_config eval
PdfReport::Test::main_config()
. "env AWS_EC2_METADATA_SERVICE_ENDPOINT=$ENV{TEST_NGINX_CLOSED};\n"
--- http_config eval
PdfReport::Test::http_config(s3_credentials => 'imds', job_timeout => '3s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: never_flow
--- timeout: 30
--- error_log eval
qr/\[error\] .*cannot fetch S3 credentials from IMDS: /
--- no_error_log eval
$::no_secrets



=== TEST 9: a credentials file edited into a bad one: logged, the keys read before stay in use until it is fixed
--- setup: broken_setup
--- http_config eval
PdfReport::Test::http_config(s3_credentials => "$::tmp/credentials-broken",
                             rate_limit => 'off')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: file_broken
--- timeout: 30
--- no_error_log eval
$::no_secrets
