# Step-1 bodies that nginx reads into a temporary file (issue 10, item 7):
# a body over client_body_buffer_size spills to client_body_temp_path,
# and where the workers cannot write there nginx answers 500 itself.
# Every answer of an API location is the JSON error shape, that one
# included; a client_body_buffer_size as large as client_max_body_size
# (as the example configuration has) keeps any body that is allowed in
# memory.
#
# The temp directory is taken away after nginx has started (the first
# request's flow), which makes the open of a temp file fail as it fails
# for a worker without write permission, whoever runs the tests.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test;
use File::Path qw(remove_tree);

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $uuid = qr/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;

# a valid step-1 body of 12 KB: padded with a member the API ignores
our $body = do {
    my $head = '{"userId":"US1A2B3C4D5E6F78","padding":"';
    $head . ('x' x (12 * 1024 - length($head) - 2)) . '"}';
};

our $temp = "$ENV{TEST_NGINX_SERVER_ROOT}/body_temp";


sub no_temp_dir {
    my ($block, $body, $req_idx) = @_;

    if ($req_idx == 0) {
        remove_tree($temp);
        die "$temp is still there" if -e $temp;
        return;
    }

    return unless $block->spilled;

    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log";
    open my $fh, '<', $log or die "$log: $!";
    my $want = qr/\[crit\] .*open\(\) "\Q$temp\E\/\d+" failed \(2: /;
    ok((grep { /$want/ } <$fh>), $block->name . ' - the body spilled');
}

run_tests();

__DATA__

=== TEST 1: a spilled body that cannot be written: 500 as JSON, not HTML
--- http_config eval
PdfReport::Test::http_config()
. "    client_body_temp_path $::temp;\n"
--- config
location /v1/document/api {
    client_max_body_size 16k;
    client_body_buffer_size 8k;
    pdf_report_api;
}
--- request eval
["GET /v1/document/api/x/y/z",
 "POST /v1/document/api\n$::body"]
--- more_headers eval
["", PdfReport::Test::auth() . "\nContent-Type: application/json"]
--- flow: no_temp_dir
--- error_code eval
[404, 500]
--- response_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nCache-Control: no-store"]
--- response_body eval
['{"error":"NOT_FOUND","message":"No such API resource."}',
 '{"error":"INTERNAL_ERROR","message":"The server failed to answer this request."}']
--- spilled: 1
--- no_error_log
[alert]
[emerg]



=== TEST 2: a buffer as large as the limit: the same body is accepted
--- http_config eval
PdfReport::Test::http_config()
. "    client_body_temp_path $::temp;\n"
--- config
location /v1/document/api {
    client_max_body_size 16k;
    client_body_buffer_size 16k;
    pdf_report_api;
}
--- request eval
["GET /v1/document/api/x/y/z",
 "POST /v1/document/api\n$::body"]
--- more_headers eval
["", PdfReport::Test::auth() . "\nContent-Type: application/json"]
--- flow: no_temp_dir
--- error_code eval
[404, 202]
--- response_body_like eval
[qr/NOT_FOUND/, qr/^\{"jobId":"$::uuid","status":"PENDING","userId":"US1A2B3C4D5E6F78",/]
