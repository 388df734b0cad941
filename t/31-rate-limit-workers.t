# The rate limit lives in the store: two worker processes, each with its
# own listening socket (reuseport), share one exact sliding window.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api);

no_long_string();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $port2 = PdfReport::Test::free_port();


sub two_workers {
    my ($block) = @_;
    my $name = $block->name;
    my %count;

    # new connections spread over both workers' reuseport sockets
    for my $i (1 .. 24) {
        my $user = sprintf 'USTEST000000000%d', 1 + $i % 6;
        my ($status) = api(POST => '/v1/document/api', port => $::port2,
                           body => { userId => $user });
        $count{$status == 429 ? 'refused' : $status}++;
    }

    is($count{refused}, 14, "$name - 14 refused after 10 counted");
    is(($count{202} // 0) + ($count{409} // 0), 10,
       "$name - the 10 counted were 202 or 409");

    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/rl.log"
        or die "rl.log: $!";
    my @pids = PdfReport::Test::worker_pids(<$fh>);
    close $fh;

    is(scalar @pids, 2, "$name - both worker processes answered");
}

run_tests();

__DATA__

=== TEST 1: two worker processes share one exact count
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::HOLE_PORT")
. "    log_format rl 'pid=\$pid status=\$status';\n"
. "    server {\n"
. "        listen 127.0.0.1:$::port2 reuseport;\n"
. "        access_log logs/rl.log rl;\n"
. "        location /v1/document/api { pdf_report_api; }\n"
. "    }\n"
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: two_workers
--- timeout: 20
