# Erasure on revocation (contract section 7, issue 11): when a directory
# load ("nginx -s reload") shows that a user is no longer connected to an
# org (the connection revoked, gone, or the user gone), every job of that
# (org, user) pair answers 404 at once and is deleted with its S3 object;
# the same user's jobs in other orgs, and other users' jobs, stay.  A job
# of the pair that is still running ends FAILED NOT_CONNECTED and leaves
# nothing in S3.  With pdf_report_erase_on_revoke off the jobs stay (and
# step 3 answers 403).  The bucket is asked through S3's own API.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job json token s3_object s3_keys);
use JSON::PP;
use Time::HiRes ();

no_long_string();
log_level('info');
master_on();
workers(1);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $users = "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl";
our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $not_found = '{"error":"JOB_NOT_FOUND","message":"No report job has '
                 . 'this id."}';

our $acme = token();
our $other = token(claims => { org_id => 'org_other' });


# a user of the directory, connected (or with another status) to orgs
sub user {
    my ($id, %orgs) = @_;

    return JSON::PP->new->canonical->encode({
        id => $id, first_name => 'Era', last_name => 'Sure',
        connections => [
            map { { org_id => $_, organization_name => "Org $_",
                    connection_status => $orgs{$_},
                    data_sharing_agreed => JSON::PP::true() } }
            sort keys %orgs
        ],
    });
}

our $both = user('USERASE000000001', org_acme => 'CONNECTED',
                 org_other => 'CONNECTED');
our $bystander = user('USERASE000000002', org_acme => 'CONNECTED');


sub write_users {
    my (@lines) = @_;

    open my $fh, '>', "$users.tmp" or die "$users: $!";
    print $fh map { "$_\n" } @lines;
    close $fh;
    rename "$users.tmp", $users or die "$users: $!";
}


# "nginx -s reload"; done once the new workers answer
sub reload {
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};

    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    chomp $master;

    my @old = PdfReport::Test::nginx_children($master);
    kill 'HUP', $master;

    my $deadline = Time::HiRes::time() + 15;
    while (Time::HiRes::time() < $deadline) {
        last unless grep { kill 0, $_ } @old;
        Time::HiRes::sleep(0.05);
    }
}


sub create {
    my ($user, $tok) = @_;
    my ($s, undef, undef, $j) = api(POST => '/v1/document/api',
                                    token => $tok, body => { userId => $user });
    die "create $user: $s" unless $s == 202;
    return $j->{jobId};
}


sub key { "reports/$_[0]/$_[1].pdf" }


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


# three jobs complete: the pair's (acme), the same user's in org_other,
# another user's in acme; then the directory changes by reload
sub revoked {
    my ($block, $body) = @_;
    my $name = $block->name;
    my @change = split /\n/, $block->change;
    my $erased = $block->erased;
    chomp $erased;

    my %job = (pair => create('USERASE000000001', $acme),
               elsewhere => create('USERASE000000001', $other),
               bystander => create('USERASE000000002', $acme));
    my %tok = (pair => $acme, elsewhere => $other, bystander => $acme);
    my %org = (pair => 'org_acme', elsewhere => 'org_other',
               bystander => 'org_acme');

    for my $k (sort keys %job) {
        my $j = wait_job($job{$k}, token => $tok{$k});
        is($j->{status}, 'COMPLETE', "$name - $k job COMPLETE");
        is(s3_object(key($org{$k}, $job{$k})), 200,
           "$name - $k job's object in the bucket");
    }

    write_users(map { eval $_ } @change);
    reload();

    for my $k (sort keys %job) {
        my $id = $job{$k};
        my ($s2, undef, $t2) = api(GET => "/v1/document/api/$id",
                                   token => $tok{$k});
        my ($s3, undef, $t3) = api(GET => "/v1/document/api/$id/url",
                                   token => $tok{$k});

        if ($erased =~ /\b$k\b/) {
            is("$s2 $t2", "404 $::not_found",
               "$name - $k job: step 2 404 at once");
            is("$s3 $t3", "404 $::not_found", "$name - $k job: step 3 404");
            ok(gone_from_bucket(key($org{$k}, $id), 10),
               "$name - $k job's object is deleted from the bucket");

        } else {
            is($s2, 200, "$name - $k job stays");
            is($s3, 200, "$name - $k job's URL still answers");
            is(s3_object(key($org{$k}, $id)), 200,
               "$name - $k job's object stays");
        }
    }
}


sub kept_when_off {
    my ($block, $body) = @_;
    my $name = $block->name;

    my $id = create('USERASE000000001', $acme);
    my $j = wait_job($id);
    is($j->{status}, 'COMPLETE', "$name - COMPLETE");

    write_users(user('USERASE000000001', org_acme => 'REVOKED'));
    reload();

    my ($s2, undef, undef, $after) = api(GET => "/v1/document/api/$id");
    my ($s3, undef, $t3) = api(GET => "/v1/document/api/$id/url");
    is($s2, 200, "$name - the job stays");
    is_deeply($after, $j, "$name - unchanged");
    like("$s3 $t3", qr/^403 \{"error":"NOT_CONNECTED"/,
         "$name - step 3 answers 403 NOT_CONNECTED");

    sleep 3;
    is(s3_object(key('org_acme', $id)), 200, "$name - its object stays");
}


# the upload is held at the proxy 4 s while the pair is revoked; the
# reload makes the worker that runs it exit, which cancels the upload,
# but the proxy hands it to S3 all the same, late, as S3 itself may
sub revoked_while_running {
    my ($block, $body) = @_;
    my $name = $block->name;

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR,
                                'stall:4000', 'pass');

    my $t0 = Time::HiRes::time();
    my $id = create('USERASE000000001', $acme);
    my $key = key('org_acme', $id);
    my $deadline = Time::HiRes::time() + 10;
    my $j;

    while (Time::HiRes::time() < $deadline) {
        (undef, undef, undef, $j) = api(GET => "/v1/document/api/$id");
        last if $j && $j->{status} eq 'IN_PROGRESS';
        Time::HiRes::sleep(0.05);
    }

    is($j->{status}, 'IN_PROGRESS', "$name - the job is running");

    write_users(user('USERASE000000001', org_acme => 'REVOKED'), $bystander);
    reload();

    my ($s, undef, $t) = api(GET => "/v1/document/api/$id");
    is("$s $t", "404 $::not_found", "$name - 404 at once");

    # the late upload lands about 4 s after it started; the last delete
    # comes after the job's deadline (5 s) + 15 s
    my $until = $t0 + 4 + 1;
    Time::HiRes::sleep($until - Time::HiRes::time())
        if $until > Time::HiRes::time();
    ($s) = api(GET => "/v1/document/api/$id");
    is($s, 404, "$name - still 404 when the late upload lands");
    is(s3_object($key), 200,
       "$name - the late upload did land, after the first delete");

    ok(gone_from_bucket($key, 30),
       "$name - nothing of it is left in the bucket in the end");
    ok(Time::HiRes::time() - $t0 >= 5 + 15 - 1,
       sprintf("$name - the last delete after the deadline + 15 s "
               . "(%.1f s)", Time::HiRes::time() - $t0));

    ($s) = api(GET => "/v1/document/api/$id");
    is($s, 404, "$name - still 404");
}


add_block_preprocessor(sub {
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');
});

run_tests();

__DATA__

=== TEST 1: the connection revoked: that pair's job and object go, the user's other org and other users stay
--- user_files eval
">>> users.jsonl\n$::both\n$::bystander\n"
--- http_config eval
PdfReport::Test::http_config(users => $::users)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: revoked
--- change
user('USERASE000000001', org_acme => 'REVOKED', org_other => 'CONNECTED')
$::bystander
--- erased: pair
--- timeout: 60
--- error_log
pdf_report: 1 (org, user) pairs with jobs are no longer connected: 1 of their jobs erased
deleted 1 jobs and their objects (0 for retention, 1 revoked)



=== TEST 2: the connection gone from the user's record: the same
--- user_files eval
">>> users.jsonl\n$::both\n$::bystander\n"
--- http_config eval
PdfReport::Test::http_config(users => $::users)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: revoked
--- change
user('USERASE000000001', org_other => 'CONNECTED')
$::bystander
--- erased: pair
--- timeout: 60
--- error_log
1 of their jobs erased



=== TEST 3: the user gone from the directory: its jobs in every org go
--- user_files eval
">>> users.jsonl\n$::both\n$::bystander\n"
--- http_config eval
PdfReport::Test::http_config(users => $::users)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: revoked
--- change
$::bystander
--- erased: pair elsewhere
--- timeout: 60
--- error_log
pdf_report: 2 (org, user) pairs with jobs are no longer connected: 2 of their jobs erased
deleted 2 jobs and their objects (0 for retention, 2 revoked)



=== TEST 4: pdf_report_erase_on_revoke off: the job and its object stay
--- user_files eval
">>> users.jsonl\n$::both\n"
--- http_config eval
PdfReport::Test::http_config(users => $::users, erase_on_revoke => 'off')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: kept_when_off
--- timeout: 60
--- no_error_log
erased
deleted
[alert]
[crit]
[emerg]



=== TEST 5: revoked while its upload runs: FAILED NOT_CONNECTED, nothing left in S3
--- user_files eval
">>> users.jsonl\n$::both\n$::bystander\n"
--- http_config eval
PdfReport::Test::http_config(users => $::users, s3_endpoint => $::proxy,
                             job_timeout => '5s')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: revoked_while_running
--- timeout: 90
--- error_log
1 of their jobs erased
deleted 1 jobs and their objects (0 for retention, 1 revoked)
