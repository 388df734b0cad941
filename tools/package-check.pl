#!/usr/bin/perl
# The nginx half of tools/package-check: Debian's nginx run on what the
# package libnginx-mod-http-pdf-report installed, or left behind.
#
#   tools/package-check.pl installed    (the package is installed)
#   tools/package-check.pl removed      (it was removed, not yet purged)
#
# Each case copies this host's /etc/nginx (Debian's nginx-common) into a
# temporary directory, as t/06-debian-layout.t does, moves the paths
# that nginx writes (pid, logs, temp paths) into it, and runs
# /usr/sbin/nginx -c <tmp>/etc/nginx/nginx.conf with Debian's compiled-in
# prefix, so that the package's "load_module modules/..." resolves to
# /usr/lib/nginx/modules as on a real host.  Nothing of the host is
# written: the package's own files are only read.
#
# installed:
#   - the example (ngx_module.conf.example, paths adjusted) passes
#     nginx -t with its load_module and thread_pool lines replaced by the
#     package's modules-enabled link, and runs the three steps;
#   - Debian's nginx.conf with the link and the snippets of
#     examples/debian/ (conf.d, sites-available) passes nginx -t, starts,
#     its workers map the installed .so, and runs the three steps:
#     step 1 202, step 2 COMPLETE, step 3 a URL whose PDF is the job's
#     bytes (SHA-256, size) and passes qpdf --check.
# removed:
#   - no modules-enabled/*.conf of the host names the module any more;
#   - Debian's nginx.conf with the host's modules-enabled/ and a server
#     of its own passes nginx -t, starts, answers and stops.
#
# The local S3 server (s3rver), the test keys and user directory are
# those of the suite (t/lib/PdfReport, t/data).
#
#   PACKAGE_CHECK_TMP   where the temporary trees go (default: TMPDIR)

use strict;
use warnings;
use FindBin;
use Cwd qw(abs_path);
use File::Basename qw(basename);
use File::Spec;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use Digest::SHA qw(sha256_hex);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes ();
use Test::More;

use lib "$FindBin::Bin/../t/lib";

my $ROOT = abs_path("$FindBin::Bin/..");
my $DATA = "$ROOT/t/data";
my $NGINX = '/usr/sbin/nginx';
my $DEBIAN = '/etc/nginx';
my $SO = '/usr/lib/nginx/modules/ngx_http_pdf_report_module.so';
my $LINK = "$DEBIAN/modules-enabled/50-mod-http-pdf-report.conf";
my $SNIPPET = '/usr/share/nginx/modules-available/mod-http-pdf-report.conf';
my $USER_ID = 'US1A2B3C4D5E6F78';

my $mode = shift // '';

die "usage: $0 installed|removed\n" unless $mode =~ /^(?:installed|removed)$/;
die "$0: run as root: Debian's nginx.conf says \"user www-data\"\n"
    if $> != 0;

# the masters started here, stopped at the end whatever happens
my %running;


sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}


sub spew {
    my ($file, $text) = @_;
    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh or die "$file: $!";
}


# s/// that must match: an example that changed shape fails loudly here
# instead of leaving a host path in the configuration

sub edit {
    my ($text, $re, $to, $what) = @_;
    $$text =~ s/$re/ref $to ? $to->() : $to/mge
        or die "no $what in the file to adjust";
}


sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}


# a temporary tree with the store's directory: the workers (www-data,
# nobody) must reach it

sub tree {
    my $tmp = tempdir('pdf-report-pkg-XXXXXX',
                      DIR => $ENV{PACKAGE_CHECK_TMP} || File::Spec->tmpdir,
                      CLEANUP => 1);

    make_path("$tmp/etc", "$tmp/var/log/nginx", "$tmp/var/lib/nginx",
              "$tmp/run", "$tmp/sqr");
    chmod 0755, $tmp, "$tmp/var", "$tmp/var/lib", "$tmp/var/lib/nginx";

    return $tmp;
}


# Debian's /etc/nginx in <tmp>/etc/nginx: conf.d/ and sites-enabled/
# emptied (a site on port 80 is the host's), modules-enabled/ as the
# host has it or emptied, pid, logs and temp paths moved into <tmp>

sub debian_tree {
    my (%o) = @_;
    my $tmp = tree();

    system('cp', '-a', $DEBIAN, "$tmp/etc/nginx") == 0 or die "cp: $?";

    my @empty = ('conf.d', 'sites-enabled',
                 $o{keep_modules} ? () : 'modules-enabled');

    for my $dir (@empty) {
        unlink glob "$tmp/etc/nginx/$dir/*";
    }

    my $conf = "$tmp/etc/nginx/nginx.conf";
    my $text = slurp($conf);

    edit(\$text, qr{/etc/nginx/}, "$tmp/etc/nginx/", '/etc/nginx/');
    edit(\$text, qr{/var/log/nginx/}, "$tmp/var/log/nginx/", 'log path');
    edit(\$text, qr{/run/nginx\.pid}, "$tmp/run/nginx.pid", 'pid path');
    spew($conf, $text);

    spew("$tmp/etc/nginx/conf.d/00-temp-paths.conf", temp_paths($tmp));

    return $tmp;
}


# nginx's compiled-in temp paths are the host's /var/lib/nginx

sub temp_paths {
    my ($tmp) = @_;
    return join '', map { "${_}_temp_path $tmp/var/lib/nginx/"
                          . ($_ eq 'client_body' ? 'body' : $_) . ";\n" }
                    qw(client_body proxy fastcgi uwsgi scgi);
}


# the suite's user directory, keys and S3 credentials, with the modes of
# examples/debian/README.md: only the master (root) reads them

sub install_sqr {
    my ($dir) = @_;

    chmod 0750, $dir;

    for my $f (['users.jsonl', 'users.jsonl', 0640],
               ['jwks-api.json', 'jwks.json', 0640],
               ['aws-credentials', 'aws-credentials', 0600])
    {
        system('cp', "$DATA/$f->[0]", "$dir/$f->[1]") == 0 or die "cp: $?";
        chmod $f->[2], "$dir/$f->[1]";
    }
}


sub nginx {
    my ($tmp, $conf, @args) = @_;

    my $rc = system("'$NGINX' -c '$conf' @args"
                    . " > '$tmp/stdout' 2> '$tmp/stderr'");
    die "cannot run $NGINX: $!" if $rc == -1;

    return ($rc, slurp("$tmp/stderr"));
}


sub gone {
    my ($pid) = @_;
    return 1 unless kill 0, $pid;
    my $stat = eval { slurp("/proc/$pid/stat") } // return 1;
    return $stat =~ /^\d+ \(.*\) Z /;
}


sub children {
    my ($ppid) = @_;
    my @kids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        close $fh;
        push @kids, $1
            if $line =~ /^(\d+) \(nginx\) \S (\d+)/ && $2 == $ppid;
    }

    return @kids;
}


# starts nginx and waits for its port: the master's pid

sub start {
    my ($tmp, $conf, $pidfile, $port) = @_;

    my ($rc, $err) = nginx($tmp, $conf);
    die "nginx did not start:\n$err" if $rc != 0;

    my $deadline = Time::HiRes::time() + 10;
    my $master;

    while (Time::HiRes::time() < $deadline) {
        ($master) = (-s $pidfile ? slurp($pidfile) : '') =~ /^(\d+)/;
        last if $master;
        Time::HiRes::sleep(0.05);
    }

    die "nginx wrote no pid file $pidfile" unless $master;

    $running{$master} = 1;

    # the master listens before it forks the workers: both awaited
    while (Time::HiRes::time() < $deadline) {
        last if children($master)
                && IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port);
        Time::HiRes::sleep(0.05);
    }

    return $master;
}


# QUIT, then KILL after 10 s: true when QUIT was enough

sub stop {
    my ($master) = @_;
    my @pids = ($master, children($master));

    kill 'QUIT', $master;

    my $deadline = Time::HiRes::time() + 10;
    Time::HiRes::sleep(0.05)
        while Time::HiRes::time() < $deadline && grep { !gone($_) } @pids;

    my @left = grep { !gone($_) } @pids;
    kill 'KILL', @left if @left;

    delete $running{$master};

    return !@left;
}


END {
    local $?;
    stop($_) for keys %running;
}

$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP);


sub alerts {
    my ($log) = @_;
    return grep { /\[(?:emerg|alert|crit)\]/ } split /\n/, $log;
}


# the three steps against nginx on $port, and the PDF from S3

sub three_steps {
    my ($port, $issuer) = @_;
    my $token = PdfReport::Test::token(claims => { iss => $issuer });
    my %o = (port => $port, token => $token);

    my ($status, $h, $text, $json) =
        PdfReport::Test::api(POST => '/v1/document/api', %o,
                             body => { userId => $USER_ID });

    is($status, 202, 'step 1: 202') or diag($text);

    my $id = $json && $json->{jobId} // '';

    like($id, qr/^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/,
         'step 1: a jobId');
    return unless $id;

    my $job = PdfReport::Test::wait_job($id, %o);

    is($job && $job->{status}, 'COMPLETE', 'step 2: COMPLETE')
        or diag(explain($job));
    return unless $job && $job->{status} eq 'COMPLETE';

    ($status, $h, $text, $json) =
        PdfReport::Test::api(GET => "/v1/document/api/$id/url", %o);

    is($status, 200, 'step 3: 200') or diag($text);
    like($json && $json->{url} // '', qr/X-Amz-Signature=[0-9a-f]{64}/,
         'step 3: a pre-signed URL');
    return unless $json && $json->{url};

    my $res = PdfReport::Test::s3_get($json->{url});
    my $pdf = $res->{content} // '';

    is($res->{status}, 200, 'the URL downloads from S3');
    is(length $pdf, $job->{sizeBytes}, 'the PDF has the job\'s sizeBytes');
    is(sha256_hex($pdf), $job->{sha256}, 'the PDF has the job\'s sha256');

    my $file = File::Temp->new(SUFFIX => '.pdf');
    print $file $pdf;
    close $file;

    my $check = `qpdf --check '$file' 2>&1`;
    is($?, 0, 'qpdf --check passes') or diag($check);
}


sub workers_map_the_package {
    my ($master) = @_;
    my @workers = children($master);

    ok(scalar @workers, 'nginx has workers');

    for my $pid (@workers) {
        my $maps = eval { slurp("/proc/$pid/maps") } // '';
        ok(index($maps, $SO) >= 0, "worker $pid maps $SO");
    }
}


# ---------------------------------------------------------------------

if ($mode eq 'installed') {

    ok(-f $SO, "the module is $SO");
    is(readlink($LINK), $SNIPPET, "$LINK links to the package's snippet");

    # after the checks above: starts s3rver
    require PdfReport::Test;

    no warnings 'once';
    my $s3 = "http://127.0.0.1:$PdfReport::Test::S3_PORT";

    subtest 'ngx_module.conf.example on the package' => sub {
        my $tmp = tree();
        my $port = free_port();
        my $conf = "$tmp/etc/nginx.conf";
        my $log = "$tmp/var/log/nginx";
        my $text = slurp("$ROOT/ngx_module.conf.example");
        my $issuer = $PdfReport::Token::ISSUER;

        install_sqr("$tmp/sqr");

        # the package loads the module and defines the pools
        edit(\$text, qr/^load_module .*$/m, "include $LINK;",
             'load_module');
        edit(\$text, qr/^thread_pool .*\n/m, '', 'thread_pool');
        edit(\$text, qr/^worker_processes auto;$/m,
             "worker_processes 2;\nerror_log $log/error.log info;\n"
             . "pid $tmp/run/nginx.pid;", 'worker_processes');
        edit(\$text, qr{/var/lib/nginx/pdf-report size=256m},
             "$tmp/var/lib/nginx/pdf-report size=16m", 'the store');
        edit(\$text, qr{/etc/nginx/sqr/}, "$tmp/sqr/", '/etc/nginx/sqr/');
        edit(\$text, qr{^(\s*pdf_report_jwt_issuer\s+)\S+;}m,
             sub { "$1$issuer;" }, 'pdf_report_jwt_issuer');
        edit(\$text, qr{^\s*#pdf_report_s3_endpoint .*$}m,
             "    pdf_report_s3_endpoint   $s3;", 'pdf_report_s3_endpoint');
        edit(\$text, qr{/var/log/nginx/pdf-report\.log},
             "$log/pdf-report.log", 'the access log');
        edit(\$text, qr/^(\s*)listen 8080;$/m,
             sub { "$1listen 127.0.0.1:$port;" }, 'listen');
        edit(\$text, qr/^http \{$/m, "http {\n" . temp_paths($tmp), 'http');
        spew($conf, $text);

        (my $left = $text) =~ s/#.*$//mg;
        $left =~ s/\Q$tmp\E\///g;
        unlike($left,
               qr{(?<![\w.])/(?:etc/nginx/(?!modules-enabled/)|var|run)/},
               'no path of the host is left but the package\'s link');

        my ($rc, $err) = nginx($tmp, $conf, '-t');

        is($rc, 0, 'nginx -t exits 0') or diag($err);
        like($err, qr/^\Qnginx: configuration file $conf test\E
                      \Q is successful\E$/mx, '"test is successful"');

        my $master = start($tmp, $conf, "$tmp/run/nginx.pid", $port);

        three_steps($port, $issuer);
        workers_map_the_package($master);

        ok(stop($master), 'nginx stops');
        is_deeply([alerts(slurp("$log/error.log"))], [],
                  'no [emerg], [alert] or [crit] in the error log');
    };

    subtest 'Debian\'s nginx.conf, the package and examples/debian' => sub {
        my $tmp = debian_tree();
        my $etc = "$tmp/etc/nginx";
        my $conf = "$etc/nginx.conf";
        my $port = free_port();
        my $ex = "$ROOT/examples/debian";

        # the package's link, as the postinst made it
        symlink(readlink($LINK), "$etc/modules-enabled/" . basename($LINK))
            or die "symlink: $!";

        my $http = slurp("$ex/conf.d/pdf-report.conf");
        edit(\$http, qr{/var/lib/nginx/}, "$tmp/var/lib/nginx/",
             'the store');
        edit(\$http, qr{/etc/nginx/sqr/}, "$tmp/sqr/", '/etc/nginx/sqr/');
        edit(\$http, qr/^#?(pdf_report_s3_endpoint\s+)\S+;$/m,
             sub { "$1$s3;" }, 'pdf_report_s3_endpoint');
        spew("$etc/conf.d/pdf-report.conf", $http);

        my $site = slurp("$ex/sites-available/pdf-report");
        edit(\$site, qr{/var/log/nginx/}, "$tmp/var/log/nginx/", 'log');
        edit(\$site, qr/^(\s*listen) 8080;$/m,
             sub { "$1 127.0.0.1:$port;" }, 'listen');
        spew("$etc/sites-available/pdf-report", $site);
        symlink("$etc/sites-available/pdf-report",
                "$etc/sites-enabled/pdf-report") or die "symlink: $!";

        install_sqr("$tmp/sqr");

        my ($issuer) = $http =~ /^pdf_report_jwt_issuer\s+(\S+);$/m
            or die 'no pdf_report_jwt_issuer in conf.d/pdf-report.conf';

        my ($rc, $err) = nginx($tmp, $conf, '-t');

        is($rc, 0, 'nginx -t exits 0') or diag($err);
        like($err, qr/^\Qnginx: configuration file $conf test\E
                      \Q is successful\E$/mx, '"test is successful"');

        my $master = start($tmp, $conf, "$tmp/run/nginx.pid", $port);

        three_steps($port, $issuer);

        # after the steps: a worker just forked may not have switched
        # to www-data yet
        workers_map_the_package($master);
        is_deeply([grep { (stat "/proc/$_")[4] != getpwnam('www-data') }
                   children($master)], [], 'the workers run as www-data');

        ok(stop($master), 'nginx stops');
        is_deeply([alerts(slurp("$tmp/var/log/nginx/error.log"))], [],
                  'no [emerg], [alert] or [crit] in the error log');
    };

} else {

    ok(!-e $SO, "$SO is gone");
    ok(!-e $SNIPPET, "$SNIPPET is gone");
    ok(!-e $LINK, "$LINK is gone");

    is_deeply([grep { slurp($_) =~ /pdf_report/ }
               glob "$DEBIAN/modules-enabled/*.conf"], [],
              'no modules-enabled/*.conf names the module');

    subtest 'Debian\'s nginx.conf starts without the module' => sub {
        my $tmp = debian_tree(keep_modules => 1);
        my $conf = "$tmp/etc/nginx/nginx.conf";
        my $port = free_port();

        spew("$tmp/etc/nginx/sites-enabled/check",
             "server {\n    listen 127.0.0.1:$port;\n"
             . "    location / { return 204; }\n}\n");

        my ($rc, $err) = nginx($tmp, $conf, '-t');

        is($rc, 0, 'nginx -t exits 0') or diag($err);

        my $master = start($tmp, $conf, "$tmp/run/nginx.pid", $port);
        my $res = HTTP::Tiny->new(timeout => 5)
                      ->get("http://127.0.0.1:$port/");

        is($res->{status}, 204, 'nginx answers');
        ok(stop($master), 'nginx stops');
        is_deeply([alerts(slurp("$tmp/var/log/nginx/error.log"))], [],
                  'no [emerg], [alert] or [crit] in the error log');
    };
}

done_testing();
