# A JWKS URL with two worker processes (contract section 11: "all workers
# switch to a new set together"): one fetch per refresh for both, not one
# each; a rotation fetched by one worker reaches the other through the
# shared zone, with the removed key refused by both although both had
# its token cached; a flood of unknown kids across both makes one fetch;
# and a reload keeps the set (no 503, no fetch).  Each worker has its own
# listening socket (reuseport), so new connections spread over both; the
# access log says which worker answered.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api token);
use Time::HiRes ();

no_long_string();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $job = '/v1/document/api/00000000-0000-4000-8000-000000000000';
our $required = '{"error":"UNAUTHORIZED","message":"A bearer token is required."}';
our $port2 = PdfReport::Test::free_port();
our $ca = PdfReport::Test::tls_ca() . '/ca.pem';

our %srv;

# plain http for one: the module fetches either
for my $name (qw(refresh rotate reload)) {
    my ($port, $dir) = PdfReport::Test::start_jwks_server(
                           tls => $name ne 'refresh');
    my $scheme = $name eq 'refresh' ? 'http' : 'https';
    $srv{$name} = { port => $port, dir => $dir,
                    url => "$scheme://127.0.0.1:$port/jwks.json" };
    PdfReport::Test::jwks_serve($dir, PdfReport::Test::jwks_of('rsa1'));
}


sub workers_config {
    my ($keys) = @_;
    return PdfReport::Test::http_config(jwt_keys => $keys)
           . "    log_format w 'pid=\$pid status=\$status';\n"
           . "    server {\n"
           . "        listen 127.0.0.1:$::port2 reuseport;\n"
           . "        access_log logs/w.log w;\n"
           . "        location /v1/document/api { pdf_report_api; }\n"
           . "    }\n";
}


sub tok {
    my ($key, $kid) = @_;
    return token(key => $key, kid => $kid // $key);
}


# $n requests of step 2 with token $t on new connections: their statuses
sub spread {
    my ($t, $n) = @_;
    my %s;
    $s{(api(GET => $job, token => $t, port => $::port2))[0]}++ for 1 .. $n;
    return \%s;
}


# the workers that answered since the access log had $from lines (how
# many, in scalar context)
sub pids_since {
    my ($from) = @_;
    my @pids;

    if (open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/w.log") {
        my @lines = <$fh>;
        close $fh;
        @pids = PdfReport::Test::worker_pids(@lines[$from .. $#lines]);
    }

    return wantarray ? @pids : scalar @pids;
}


sub access_lines {
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/w.log" or return 0;
    my @lines = <$fh>;
    close $fh;
    return scalar @lines;
}


sub until_not {
    my ($status, $t) = @_;
    my $deadline = Time::HiRes::time() + 10;
    my $got;

    while (Time::HiRes::time() < $deadline) {
        $got = (api(GET => $job, token => $t, port => $::port2))[0];
        return $got if $got != $status;
        Time::HiRes::sleep(0.05);
    }

    return $got;
}


sub log_lines {
    my ($re) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or die $!;
    return scalar grep { /$re/ } <$fh>;
}


sub one_fetch_per_refresh {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = $srv{refresh}{dir};

    is(until_not(503, tok('rsa1')), 404, "$name - the set is loaded");

    # 7 s of requests to both workers, refresh=2s
    my $from = access_lines();
    my $t0 = Time::HiRes::time();
    my %s;

    while (Time::HiRes::time() < $t0 + 7) {
        $s{(api(GET => $job, token => tok('rsa1'), port => $::port2))[0]}++;
        Time::HiRes::sleep(0.1);
    }

    is_deeply([keys %s], [404], "$name - every request passed");
    is(scalar(pids_since($from)), 2, "$name - both workers answered");

    my @t = grep { $_ >= $t0 && $_ < $t0 + 7 }
            PdfReport::Test::jwks_fetches($dir);

    # one fetch each 2 s (and the time it takes): 3 or 4 in 7 s; two
    # workers fetching each would make 6 to 8
    cmp_ok(scalar @t, '>=', 2, "$name - fetched again every refresh");
    cmp_ok(scalar @t, '<=', 4, "$name - one fetch per refresh, not two: "
                               . scalar(@t));

    my $gap = 99;
    $gap = $t[$_] - $t[$_ - 1] < $gap ? $t[$_] - $t[$_ - 1] : $gap
        for 1 .. $#t;
    cmp_ok($gap, '>=', 1.8, "$name - never two fetches within a refresh");
}


sub rotate_both {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = $srv{rotate}{dir};

    is(until_not(503, tok('rsa1')), 404, "$name - the set is loaded");
    is(scalar PdfReport::Test::jwks_fetches($dir), 1,
       "$name - one fetch for both workers");

    # rsa1 verified, and so cached, by both
    my $from = access_lines();
    is_deeply(spread(tok('rsa1'), 20), { 404 => 20 },
              "$name - rsa1 accepted 20 times");
    is(scalar(pids_since($from)), 2, "$name - by both workers");

    # rsa2 replaces rsa1; the refresh is 10 minutes away
    PdfReport::Test::jwks_serve($dir, PdfReport::Test::jwks_of('rsa2'));

    is(until_not(401, tok('rsa2')), 404,
       "$name - rsa2 accepted once its kid fetched the set");

    $from = access_lines();
    is_deeply(spread(tok('rsa2'), 20), { 404 => 20 },
              "$name - rsa2 accepted 20 times");
    is(scalar(pids_since($from)), 2, "$name - by both workers");

    $from = access_lines();
    is_deeply(spread(tok('rsa1'), 20), { 401 => 20 },
              "$name - rsa1, cached by both, refused 20 times");
    is(scalar(pids_since($from)), 2, "$name - by both workers");

    # a flood of unknown kids over both workers
    my %s;
    for my $i (1 .. 30) {
        my $r = spread(tok('rsa2', "flood-$i-" . int(rand 1e9)), 1);
        $s{$_} += $r->{$_} for keys %$r;
    }
    is_deeply(\%s, { 401 => 30 }, "$name - 30 random kids refused");

    Time::HiRes::sleep(1);
    is(scalar PdfReport::Test::jwks_fetches($dir), 2,
       "$name - two fetches in all: at start and for rsa2's kid");
    is(log_lines(qr/JWKS fetched from/), 2,
       "$name - two new documents, each logged once");
}


sub reload_keeps {
    my ($block) = @_;
    my $name = $block->name;
    my $dir = $srv{reload}{dir};
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};

    is(until_not(503, tok('rsa1')), 404, "$name - the set is loaded");

    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;

    my @old = PdfReport::Test::nginx_children($master);
    kill 'HUP', $master;

    # until the new workers alone answer: every answer a 404 meanwhile
    my $deadline = Time::HiRes::time() + 15;
    my (%s, @new);

    while (Time::HiRes::time() < $deadline) {
        $s{(api(GET => $job, token => tok('rsa1'), port => $::port2))[0]}++;
        @new = grep { my $p = $_; !grep { $_ == $p } @old }
               PdfReport::Test::nginx_children($master);
        last if @new >= 2 && !grep { kill 0, $_ } @old;
        Time::HiRes::sleep(0.05);
    }

    is(scalar @new, 2, "$name - two new workers");

    my $from = access_lines();
    $s{$_} += spread(tok('rsa1'), 10)->{$_} // 0 for 404, 401, 503;
    delete $s{$_} for grep { !$s{$_} } keys %s;

    is_deeply([keys %s], [404], "$name - no 503 across the reload");
    ok(scalar(grep { my $p = $_; grep { $_ == $p } @new }
                   pids_since($from)),
       "$name - the new workers answer");
    is(scalar PdfReport::Test::jwks_fetches($dir), 1,
       "$name - and fetched nothing: the zone kept the set");
}

run_tests();

__DATA__

=== TEST 1: two workers, refresh=2s: one fetch per refresh, not one per worker
--- http_config eval
main::workers_config("$::srv{refresh}{url} refresh=2s")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_body eval
$::required
--- flow: one_fetch_per_refresh
--- timeout: 40



=== TEST 2: a rotation fetched by one worker reaches both; unknown kids over both make one fetch
--- http_config eval
main::workers_config("$::srv{rotate}{url} ca=$::ca")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_body eval
$::required
--- flow: rotate_both
--- timeout: 40



=== TEST 3: a reload keeps the set of the same URL: no 503 and no fetch
--- http_config eval
main::workers_config("$::srv{reload}{url} ca=$::ca")
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- error_code: 401
--- response_body eval
$::required
--- flow: reload_keeps
--- timeout: 40
