# pdf_report_api in several locations and servers (issue 10, item 13):
# they all serve one store, so one set of jobs, one pending job per
# (org, user) and one rate-limit window per org across all of them; a job
# created through one location is read through any other, and each
# answers with its own prefix in Location.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job);

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $uuid = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
our $other_port = PdfReport::Test::free_port();


sub shared {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $j = PdfReport::Test::json($body);
    my $id = $j->{jobId};

    like($id, qr/^$::uuid$/, "$name - created through /v1/document/api");

    # the same job through the other location and the other server
    for my $via (['/reports', undef], ['/v1/document/api', $::other_port]) {
        my ($path, $port) = @$via;
        my ($status, undef, undef, $job) =
            api(GET => "$path/$id", defined $port ? (port => $port) : ());
        is($status, 200, "$name - read through $path"
                         . (defined $port ? " on the other server" : ''));
        is($job->{jobId}, $id, "$name - the same job");
    }

    # one pending job per user, whichever location is asked
    my ($status, $h, undef, $refused) =
        api(POST => '/reports', body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 409, "$name - the same user through /reports: 409");
    is($refused->{jobId}, $id, "$name - naming the pending job");

    # one window per org: q=3, two hits counted so far
    is($h->{ratelimit}, '"org";r=1;t=600', "$name - the hits add up");

    my $s2;
    ($s2, $h, undef, $j) =
        api(POST => '/v1/document/api', port => $::other_port,
            body => { userId => 'US3C4D5E6F7A8B90' });
    is($s2, 202, "$name - another user on the other server: 202");
    is($h->{location}, "/v1/document/api/$j->{jobId}",
       "$name - Location with that location's prefix");

    ($s2, $h) = api(POST => '/reports',
                    body => { userId => 'US5E6F7A8B9C0D12' });
    is($s2, 429, "$name - the fourth create of the org, anywhere: 429");

    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'COMPLETE', "$name - the job completes");

    ($s2, $h, undef, $j) = api(GET => "/reports/$id/url");
    is($s2, 200, "$name - its URL through /reports");
}

run_tests();

__DATA__

=== TEST 1: two locations and two servers share one store and one window
--- http_config eval
PdfReport::Test::http_config(rate_limit => '3 10m')
. "    server {\n"
. "        listen 127.0.0.1:$::other_port;\n"
. "        location /v1/document/api { pdf_report_api; }\n"
. "    }\n"
--- config
location /v1/document/api { pdf_report_api; }
location /reports { pdf_report_api; }
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- response_headers_like
Location: ^/v1/document/api/[0-9a-f-]{36}$
--- flow: shared
