# examples/two-edges.conf, the README's two-edge configuration, as it is
# written: two nginx instances started from that very file on one
# PostgreSQL database (Debian's PostgreSQL 15, started by the helpers),
# with only what cannot be had here replaced:
#
#   - the module path, the listen port and the access log's directory;
#   - the database URI (the helpers' cluster, a database of its own);
#   - the directory file, the JWKS (this suite's file and issuer: the
#     identity provider's URL is not reachable here), and the S3 region,
#     endpoint and credentials (the local s3rver; AWS's IMDS is not
#     reachable here either);
#   - the metrics location's allow (127.0.0.1).
#
# Then a job created on edge A is polled and downloaded on edge B, and
# both edges' metrics read the same, empty, queue.
#
# Plain Test::More, as t/06-debian-layout.t.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use FindBin;
use Time::HiRes ();
use IO::Socket::INET;
use Digest::SHA qw(sha256_hex);
use HTTP::Tiny;

BEGIN { push @INC, "$FindBin::Bin/lib" }

use PdfReport::Test ();

my $ROOT = abs_path("$FindBin::Bin/..");
my $DATA = "$ROOT/t/data";
my $NGINX = $ENV{TEST_NGINX_BINARY} || 'nginx';
my ($MODULE) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set: it must name '
                 . 'ngx_http_pdf_report_module.so ("make prove" sets it)'
    unless $MODULE;


sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}


my $example = slurp("$ROOT/examples/two-edges.conf");
my $uri = PdfReport::Test::pg_database();
my $s3 = $PdfReport::Test::S3_PORT;
my %running;


# the example with what cannot be had here replaced; dies when a line
# it replaces is not in the file as the README shows it

sub edge_conf {
    my ($dir, $port) = @_;
    my $conf = $example;

    my @subst = (
        [qr{^load_module \S+;$}m, sub { "load_module $MODULE;" }],
        [qr{^(\s+pdf_report_store )postgresql://\S+( pool=4;)$}m,
         sub { "$1$uri$2" }],
        [qr{^(\s+pdf_report_users\s+)/etc/nginx/sqr/users\.jsonl;$}m,
         sub { "$1$DATA/users.jsonl;" }],
        [qr{^(\s+pdf_report_jwt_keys\s+)https://\S+ refresh=10m;$}m,
         sub { "$1$DATA/jwks-api.json;" }],
        [qr{^(\s+pdf_report_jwt_issuer\s+)\S+;$}m,
         sub { "$1https://auth.sqr.test/;" }],
        [qr{^(\s+pdf_report_s3_region\s+)\S+;$}m,
         sub { "$1us-east-1;\n    pdf_report_s3_endpoint"
               . " http://127.0.0.1:$s3;" }],
        [qr{^(\s+pdf_report_s3_credentials )imds;$}m,
         sub { "$1$DATA/aws-credentials;" }],
        [qr{^(\s+listen )8080;$}m, sub { "${1}127.0.0.1:$port;" }],
        [qr{/var/log/nginx/}, sub { "$dir/logs/" }],
        [qr{^(\s+allow )10\.0\.0\.0/8;$}m, sub { "${1}127.0.0.1;" }],
    );

    for my $s (@subst) {
        my ($re, $to) = @$s;
        $conf =~ s/$re/$to->()/e
            or die "examples/two-edges.conf: no line matches $re\n";
    }

    return $conf;
}


sub start_edge {
    my $dir = tempdir('pdf-report-example-XXXXXX', TMPDIR => 1,
                      CLEANUP => 1);
    my $port = PdfReport::Test::free_port();

    mkdir "$dir/$_" or die "$dir/$_: $!" for qw(conf logs);

    open my $fh, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh edge_conf($dir, $port);
    close $fh;

    my $rc = system("'$NGINX' -p '$dir/' -c '$dir/conf/nginx.conf'"
                    . " -g 'error_log $dir/logs/error.log info;"
                    . " pid $dir/logs/nginx.pid;' 2> '$dir/stderr'");
    die "nginx did not start: " . slurp("$dir/stderr") if $rc != 0;

    my ($master, $served);
    my $deadline = Time::HiRes::time() + 15;

    # ready when the store is: a job that does not exist is a 404
    while (Time::HiRes::time() < $deadline) {
        ($master) = (-s "$dir/logs/nginx.pid"
                     ? slurp("$dir/logs/nginx.pid") : '') =~ /^(\d+)/
            unless $master;
        $running{$master} = 1 if $master;

        my ($s) = PdfReport::Test::api(GET => '/v1/document/api/'
                                       . '00000000-0000-4000-8000-000000000000',
                                       port => $port);
        $served = ($s == 404) and last;
        Time::HiRes::sleep(0.1);
    }

    die "edge on $port not served:\n" . slurp("$dir/logs/error.log")
        unless $served;

    return { dir => $dir, port => $port, master => $master };
}


sub stop_edge {
    my ($e) = @_;

    kill 'QUIT', $e->{master};

    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline && kill 0, $e->{master}) {
        Time::HiRes::sleep(0.05);
    }

    delete $running{$e->{master}};
}

END {
    kill 'TERM', keys %running if %running;
}


my ($a, $b) = (start_edge(), start_edge());

pass('two edges started from examples/two-edges.conf');

my ($s, $h, $text, $j) =
    PdfReport::Test::api(POST => '/v1/document/api', port => $a->{port},
                         body => { userId => 'US1A2B3C4D5E6F78' });
is($s, 202, 'edge A: 202') or diag($text);

my $id = $j && $j->{jobId};

my $job = PdfReport::Test::wait_job($id, port => $b->{port}, timeout => 30);
is($job && $job->{status}, 'COMPLETE', 'edge B: the job is COMPLETE');

(undef, undef, undef, my $u) =
    PdfReport::Test::api(GET => "/v1/document/api/$id/url",
                         port => $b->{port});
my $res = PdfReport::Test::s3_get($u->{url});
is($res->{status}, 200, 'edge B: its URL downloads');
is(sha256_hex($res->{content} // ''), $job->{sha256},
   'the bytes of the recorded SHA-256');

for my $e ($a, $b) {
    my $m = HTTP::Tiny->new(timeout => 10)
                      ->get("http://127.0.0.1:$e->{port}/metrics");
    is($m->{status}, 200, "metrics on $e->{port}: 200");
    like($m->{content}, qr/^pdf_report_jobs\{status="PENDING"\} 0$/m,
         "metrics on $e->{port}: the whole database's queue, empty");
}

my $log = slurp("$a->{dir}/logs/error.log") . slurp("$b->{dir}/logs/error.log");
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no [alert], [crit], [emerg]');

stop_edge($_) for $a, $b;

done_testing();
