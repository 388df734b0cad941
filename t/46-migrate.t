# A store of layout version 1 (written before retention and erasure,
# t/data/config/store-v1.dump) is upgraded when nginx starts, not
# refused: its jobs are still there, and the indexes built for them work
# (a revocation erases the pair's job, retention deletes the old ones).
# "nginx -t" leaves it at version 1 (t/05-config.t).
#
# Plain Test::More: the store must be in place before nginx starts.
#
#   TEST_NGINX_LOAD_MODULES  the module's .so (set by "make prove")
#   TEST_NGINX_BINARY        nginx (default: "nginx" from PATH)

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use Cwd qw(abs_path);
use FindBin;
use Time::HiRes ();

BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN { PdfReport::Backend::lmdb_only('the LMDB layout upgrade') }

my $ROOT = abs_path("$FindBin::Bin/..");
my $DATA = "$ROOT/t/data";
my $NGINX = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set: it must name '
                 . 'ngx_http_pdf_report_module.so ("make prove" sets it)'
    unless @modules;

plan skip_all => 'mdb_load and mdb_dump (lmdb-utils) are not installed'
    unless grep { -x "$_/mdb_load" && -x "$_/mdb_dump" } File::Spec->path;

# the runner's port is the one this helper's nginx may use
$ENV{TEST_NGINX_SERVER_ROOT} //= '/nonexistent';
require PdfReport::Test;
PdfReport::Test->import(qw(api token));

my $s3_port = do { no warnings 'once'; $PdfReport::Test::S3_PORT };
my $tmp = tempdir('pdf-report-migrate-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $port = PdfReport::Test::free_port();
my $master;

# started as root, the workers ("nobody") must reach the store
chmod 0755, $tmp;

my %job = (
    a => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',   # org_acme, USBOTHORGS
    b => 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',   # org_acme, US1A2B...
    c => 'cccccccc-cccc-4ccc-8ccc-cccccccccccc',   # org_other, USBOTHORGS
    d => 'dddddddd-dddd-4ddd-8ddd-dddddddddddd',   # org_acme, FAILED
);
my %org = (a => 'org_acme', b => 'org_acme', c => 'org_other',
           d => 'org_acme');


sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh>;
}


sub write_file {
    my ($file, $text) = @_;
    open my $fh, '>', "$file.tmp" or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";
    rename "$file.tmp", $file or die "$file: $!";
}


sub write_conf {
    my ($retention) = @_;

    write_file("$tmp/nginx.conf", join('', map { "load_module $_;\n" }
                                               @modules) . <<"END");
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log info;
thread_pool pdf_report threads=1;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    pdf_report_store $tmp/store size=16m;
    pdf_report_users $tmp/users.jsonl;
    pdf_report_jwt_keys $DATA/jwks-api.json;
    pdf_report_jwt_issuer https://auth.sqr.test/;
    pdf_report_jwt_audience pdf-report;
    pdf_report_thread_pool pdf_report;
    pdf_report_retention $retention;
    pdf_report_s3_endpoint http://127.0.0.1:$s3_port;
    pdf_report_s3_bucket sqr-reports;
    pdf_report_s3_credentials $DATA/aws-credentials;
    server {
        listen 127.0.0.1:$port;
        location /v1/document/api { pdf_report_api; }
    }
}
END
}


sub format_of {
    my ($dump) = `mdb_dump -s meta '$tmp/store'` =~ /^ 666f726d6174\n (\S+)$/m;
    return $dump // '(none)';
}


sub status {
    my ($k) = @_;
    my ($s) = api(GET => "/v1/document/api/$job{$k}", port => $port,
                  token => token(claims => { org_id => $org{$k} }));
    return $s;
}


sub reload {
    my @old = PdfReport::Test::nginx_children($master);

    kill 'HUP', $master;

    my $deadline = Time::HiRes::time() + 15;
    Time::HiRes::sleep(0.05)
        while Time::HiRes::time() < $deadline && grep { kill 0, $_ } @old;
}


sub wait_for {
    my ($what, $timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;

    while (Time::HiRes::time() < $deadline) {
        return 1 if $what->();
        Time::HiRes::sleep(0.1);
    }

    return 0;
}


END {
    local $?;
    if ($master) {
        kill 'QUIT', $master;
        my $deadline = Time::HiRes::time() + 10;
        Time::HiRes::sleep(0.05)
            while Time::HiRes::time() < $deadline && kill 0, $master;
    }
}


mkdir "$tmp/store" or die "mkdir: $!";
system('mdb_load', '-f', "$DATA/config/store-v1.dump", "$tmp/store") == 0
    or BAIL_OUT('mdb_load failed');
is(format_of(), '00000001', 'the fixture is a store of layout version 1');

write_file("$tmp/users.jsonl", slurp("$DATA/users.jsonl"));
write_conf('off');

system($NGINX, '-p', "$tmp/", '-c', "$tmp/nginx.conf") == 0
    or BAIL_OUT('nginx did not start: ' . slurp("$tmp/error.log"));

wait_for(sub { -s "$tmp/nginx.pid" }, 10);
($master) = slurp("$tmp/nginx.pid") =~ /(\d+)/;
ok($master, 'nginx started on it');

my $upgraded = qq{pdf_report: the store "$tmp/store" was upgraded from }
                . 'layout version 1 to 2: 4 jobs indexed for retention and '
                . 'erasure';
like(slurp("$tmp/error.log"), qr/\[notice\] \d+#\d+: \Q$upgraded\E$/m,
     'the store was upgraded, and says so');
is(format_of(), '00000002', 'it is of layout version 2 now');

ok(wait_for(sub { status('a') == 200 }, 10), 'the workers answer');
is(status($_), 200, "job $_ is still there") for qw(a b c d);

# a revocation erases the pair's job: the byuser index was built
(my $users = slurp("$DATA/users.jsonl")) =~ s{
    ("id":"USBOTHORGS000001".*?"org_id":"org_acme".*?"connection_status":)
    "CONNECTED"
}{$1"REVOKED"}x or die 'USBOTHORGS000001 not in users.jsonl';
write_file("$tmp/users.jsonl", $users);
reload();

is(status('a'), 404, 'the revoked pair\'s job is erased');
is(status($_), 200, "job $_ stays") for qw(b c d);
like(slurp("$tmp/error.log"),
     qr/\Qpdf_report: 1 (org, user) pairs with jobs are no longer \E
        \Qconnected: 1 of their jobs erased\E/x,
     'one pair, one job erased');

ok(wait_for(sub { slurp("$tmp/error.log")
                  =~ /\Qdeleted 1 jobs and their objects \E
                      \Q(0 for retention, 1 revoked)\E/x },
            10),
   'the erased job was deleted');

# retention: the jobs of 2025-01-01 are long past 30 days
write_conf('30d');
reload();

ok(wait_for(sub { !grep { status($_) != 404 } qw(b c d) }, 15),
   'retention deletes the old jobs: the retain index was built');
ok(wait_for(sub { slurp("$tmp/error.log")
                  =~ /\Qdeleted 3 jobs and their objects \E
                      \Q(3 for retention, 0 revoked)\E/x },
            5),
   'the three old jobs were deleted for retention');

unlike(slurp("$tmp/error.log"), qr/\[(?:alert|crit|emerg)\]/,
       'no [alert], [crit] or [emerg]');

done_testing();
