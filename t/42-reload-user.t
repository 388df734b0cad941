# A reload whose store the workers' user cannot reach (issue 10, item 1).
# The master runs as root and reaches everything, so it used to accept
# the new configuration; the new workers then died on the store ("exited
# with fatal code 2 and cannot be respawned") after the old ones had been
# told to leave: an edge without workers.  Now the master refuses the
# configuration, names the user and the directory, and the old workers
# keep serving.
#
# Plain Test::More: Test::Nginx runs its workers as root when it is root,
# and this needs workers of another user ("user nobody"), started from
# root, in a directory of the test's own that "nobody" can enter.
#
#   TEST_NGINX_LOAD_MODULES  the module's .so (set by "make prove")
#   TEST_NGINX_BINARY        nginx (default: "nginx" from PATH)

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use Cwd qw(abs_path);
use FindBin;
use HTTP::Tiny;
use Time::HiRes ();

BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN {
    PdfReport::Backend::lmdb_only("the LMDB directory the workers' user must reach");
}

my $ROOT = abs_path("$FindBin::Bin/..");
my $DATA = "$ROOT/t/data";
my $NGINX = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set: it must name '
                 . 'ngx_http_pdf_report_module.so ("make prove" sets it)'
    unless @modules;

plan skip_all => 'workers of another user need nginx started as root'
    unless $> == 0;

require PdfReport::Test;

my $tmp = tempdir('pdf-report-reload-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $port = PdfReport::Test::free_port();
my $master;

# the module and the data where "nobody" may read them, as on a host
chmod 0755, $tmp;
make_path("$tmp/logs", "$tmp/private");
chmod 0700, "$tmp/private";


sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh>;
}


sub write_conf {
    my ($store) = @_;

    open my $fh, '>', "$tmp/nginx.conf" or die "nginx.conf: $!";
    print $fh join '', map { "load_module $_;\n" } @modules;
    print $fh <<"END";
user nobody nogroup;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log info;
thread_pool pdf_report threads=1;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    pdf_report_store $store size=16m;
    pdf_report_users $DATA/users.jsonl;
    pdf_report_jwt_keys $DATA/jwks-api.json;
    pdf_report_thread_pool pdf_report;
    pdf_report_s3_endpoint http://127.0.0.1:9;
    pdf_report_s3_bucket sqr-reports;
    pdf_report_s3_credentials $DATA/aws-credentials;
    server {
        listen 127.0.0.1:$port;
        location /v1/document/api { pdf_report_api; }
    }
}
END
    close $fh or die "nginx.conf: $!";
}


# a path under the API that is no endpoint: answered before
# authentication, by a worker
sub ask {
    my $res = HTTP::Tiny->new(timeout => 3)
        ->get("http://127.0.0.1:$port/v1/document/api/x/y/z");
    return ($res->{status}, $res->{content});
}


sub workers {
    return sort { $a <=> $b } PdfReport::Test::nginx_children($master);
}


END {
    local $?;
    if ($master) {
        kill 'QUIT', $master;
        my $deadline = Time::HiRes::time() + 10;
        Time::HiRes::sleep(0.05)
            while Time::HiRes::time() < $deadline && kill 0, $master;
        kill 'KILL', $master, workers() if kill 0, $master;
    }
}


write_conf("$tmp/store");

system($NGINX, '-p', "$tmp/", '-c', "$tmp/nginx.conf") == 0
    or BAIL_OUT('nginx did not start: ' . slurp("$tmp/logs/error.log"));

my $deadline = Time::HiRes::time() + 10;
Time::HiRes::sleep(0.05)
    while Time::HiRes::time() < $deadline && !-s "$tmp/nginx.pid";
($master) = slurp("$tmp/nginx.pid") =~ /(\d+)/;
ok($master, 'nginx started');

my @before;
$deadline = Time::HiRes::time() + 10;
while (Time::HiRes::time() < $deadline) {
    @before = workers();
    last if @before == 2 && (ask())[0] == 404;
    Time::HiRes::sleep(0.05);
}

is(scalar @before, 2, 'two workers');
my ($status, $body) = ask();
is($status, 404, 'a worker answers');
like($body, qr/^\{"error":"NOT_FOUND",/, 'as JSON');

# the same configuration with the store under a directory only root may
# enter, then "nginx -s reload"
write_conf("$tmp/private/store");
kill 'HUP', $master;

my $want = 'pdf_report: the workers\' user "nobody" cannot use the store '
           . "\"$tmp/private/store\": it cannot search the directory "
           . "\"$tmp/private\" (13: Permission denied)";
my $log = '';

$deadline = Time::HiRes::time() + 10;
while (Time::HiRes::time() < $deadline) {
    $log = slurp("$tmp/logs/error.log");
    last if index($log, $want) >= 0;
    Time::HiRes::sleep(0.05);
}

like($log, qr/\[emerg\] \d+#\d+: \Q$want\E$/m,
     'the reload is refused: the user and the directory are named');

# what a refused reload leaves: the old workers, and nothing that died
Time::HiRes::sleep(1);
$log = slurp("$tmp/logs/error.log");

is_deeply([workers()], \@before, 'the old workers keep serving');
unlike($log, qr/cannot be respawned|exited with fatal code/,
       'no worker died');

($status, $body) = ask();
is($status, 404, 'a worker still answers');
like($body, qr/^\{"error":"NOT_FOUND",/, 'as JSON');

done_testing();
