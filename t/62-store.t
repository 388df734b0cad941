# The store and the pool under pressure: more jobs than the thread pool's
# queue holds, a full LMDB map (503 on step 1, steps 2 and 3 still
# answer, accepted jobs still finish), and a rate-limit window that
# survives a restart.  Under PDF_REPORT_STORE=postgresql the full map
# (LMDB's size=) is skipped: a database has no map to fill.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job);
use JSON::PP;

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $proxy = "http://127.0.0.1:$PdfReport::Test::PROXY_PORT";
our $users = "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl";

our $many = join '', map {
    encode_json({ id => sprintf('USFILL%010d', $_),
                  connections => [{ org_id => 'org_acme',
                                    connection_status => 'CONNECTED' }] })
    . "\n"
} 1 .. 4000;


sub queue_full {
    my ($block) = @_;
    my $name = $block->name;

    my @ids;
    for my $i (1 .. 6) {
        my (undef, undef, undef, $j) =
            api(POST => '/v1/document/api',
                body => { userId => "USTEST000000000$i" });
        push @ids, $j->{jobId};
    }

    my $complete = grep { $_->{status} eq 'COMPLETE' }
                   map { wait_job($_, timeout => 40) } @ids;

    is($complete, 6, "$name - all six accepted jobs COMPLETE");
}


sub store_full {
    my ($block) = @_;
    my $name = $block->name;
    my ($status, $h, $text, $j, $first, @ids);
    my $n = 0;

    for my $i (1 .. 4000) {
        ($status, $h, $text, $j) =
            api(POST => '/v1/document/api',
                body => { userId => sprintf('USFILL%010d', $i) });
        last if $status != 202;
        $first //= $j->{jobId};
        push @ids, $j->{jobId};
        $n++;
    }

    is($status, 503, "$name - 503 once the store is full (after $n jobs)");
    is($text, '{"error":"STORE_FULL","message":"The job store is full; '
              . 'try again later."}', "$name - STORE_FULL");
    is($h->{'content-type'}, 'application/json', "$name - JSON");
    ok($n > 100, "$name - many jobs fitted first");

    ($status, undef, undef, $j) = api(GET => "/v1/document/api/$first");
    is($status, 200, "$name - step 2 still answers");

    ($status, undef, $text) = api(GET => "/v1/document/api/$first/url");
    like("$status $text", qr/^(200 \{"url"|422 \{"error":"JOB_NOT_COMPLETE")/,
         "$name - step 3 still answers");

    # the accepted jobs still move: one at a time, oldest first, each
    # upload 0.2 s, so the first not COMPLETE is further on 3 s later
    my $frontier = sub {
        my ($k) = @_;
        $k++ while $k < @ids
                   && (api(GET => "/v1/document/api/$ids[$k]"))[3]{status}
                      eq 'COMPLETE';
        return $k;
    };

    my $before = $frontier->(0);
    select undef, undef, undef, 3;
    my $after = $frontier->($before);

    ok($after > $before && $after < @ids,
       "$name - accepted jobs keep completing in the full store "
       . "($before, then $after of $n)");
}


sub window_survives_restart {
    my ($block) = @_;
    my $name = $block->name;
    my @s;
    my $t0 = time;

    for my $i (1 .. 2) {
        push @s, (api(POST => '/v1/document/api',
                      body => { userId => "USTEST000000000$i" }))[0];
    }

    PdfReport::Test::restart_nginx(signal => 'QUIT');

    my ($status, $h) = api(POST => '/v1/document/api',
                           body => { userId => 'USTEST0000000003' });

    # the window opened at the first request: 600 s less what has passed
    my $spent = time - $t0;
    my ($t) = ($h->{ratelimit} // '') =~ /^"org";r=0;t=(\d+)$/;

    is_deeply(\@s, [202, 202], "$name - two counted before the restart");
    is($status, 429, "$name - the third is refused after the restart");
    ok(defined $t && $t <= 600 && $t >= 600 - $spent - 1,
       "$name - same window ($h->{ratelimit} after $spent s)");
}

run_tests();

__DATA__

=== TEST 1: more jobs than the pool's queue holds: all complete
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'slow:300');
--- main_config
thread_pool pdf_report threads=1 max_queue=1;
thread_pool pdf_report_store threads=1;
--- http_config eval
PdfReport::Test::http_config(s3_endpoint => $::proxy)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: queue_full
--- timeout: 60
--- error_log
queue overflow
it stays queued



=== TEST 2: a full store: 503 for new jobs, steps 2 and 3 keep working
--- skip_eval: 10: PdfReport::Backend::postgresql()
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'slow:200');
--- user_files eval
">>> users.jsonl\n$::many"
--- http_config eval
PdfReport::Test::http_config(
    store => "$ENV{TEST_NGINX_SERVER_ROOT}/pdf_report_temp size=2m",
    users => $::users, rate_limit => 'off', s3_endpoint => $::proxy,
    worker_jobs => 1)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: store_full
--- timeout: 120
--- error_log
pdf_report: store full (job create)



=== TEST 3: the rate-limit window survives a restart
--- http_config eval
PdfReport::Test::http_config(rate_limit => '2 10m')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: window_survives_restart
--- timeout: 30
