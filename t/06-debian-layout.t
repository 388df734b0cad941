# The snippets of examples/debian/ in Debian's own nginx layout (issue 10,
# item 11): Debian's nginx.conf includes modules-enabled/*.conf in the
# main context, conf.d/*.conf and sites-enabled/* inside http{}, so the
# repository's ngx_module.conf.example, a whole nginx.conf, cannot go in
# any of them.
#
# Plain Test::More, as t/05-config.t.  Each case copies this host's
# /etc/nginx (Debian's nginx-common) into a temporary directory that
# mirrors the file system:
#
#   <tmp>/etc/nginx/...          Debian's tree, its own additions removed
#   <tmp>/var/log/nginx/         logs
#   <tmp>/var/lib/nginx/         the store, the temp paths
#   <tmp>/run/nginx.pid
#
# rewrites the absolute paths of nginx.conf and of the snippets into it
# (the module .so: TEST_NGINX_LOAD_MODULES), installs the snippets as
# examples/debian/README.md tells an operator to, and runs Debian's nginx
# with "-p <tmp>/ -c <tmp>/etc/nginx/nginx.conf":
#
#   - nginx -t passes;
#   - the whole example copied into conf.d/ fails, with the [emerg] that
#     the snippets exist for;
#   - nginx starts, with a local s3rver, and a step-1 request with a
#     12 KB body gets 202 and its job completes, although the workers
#     cannot write client_body_temp_path;
#   - without the snippet's client_body_buffer_size, the same body gets
#     500: what that line is there for.
#
# As root, Debian's "user www-data" applies, as on a real host.
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
use POSIX ();
use Time::HiRes ();
use IO::Socket::INET;

BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN {
    PdfReport::Backend::lmdb_only("Debian's layout and its LMDB directory");
}

my $DEBIAN = '/etc/nginx';
my $ROOT = abs_path("$FindBin::Bin/..");
my $DATA = "$ROOT/t/data";
my $EXAMPLES = "$ROOT/examples/debian";
my $NGINX = $ENV{TEST_NGINX_BINARY} || 'nginx';
my ($MODULE) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set: it must name '
                 . 'ngx_http_pdf_report_module.so ("make prove" sets it)'
    unless $MODULE;

plan skip_all => "no Debian nginx layout in $DEBIAN"
    unless -f "$DEBIAN/nginx.conf" && -d "$DEBIAN/modules-enabled"
           && -d "$DEBIAN/conf.d" && -d "$DEBIAN/sites-available";

# after the skips: it starts s3rver
require PdfReport::Test;

my $MODULE_CONF = 'modules-enabled/50-mod-http-pdf-report.conf';
my $HTTP_CONF = 'conf.d/pdf-report.conf';
my $SITE = 'sites-available/pdf-report';

my $USER_ID = 'US1A2B3C4D5E6F78';

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


# Debian's absolute paths, moved into <tmp>; each rule that a file needs
# must match, so that nothing of the host is written by mistake

sub relocate {
    my ($tmp, $text, @need) = @_;

    my %rule = (
        module => [qr{/usr/lib/nginx/modules/ngx_http_pdf_report_module\.so},
                   $MODULE],
        etc    => [qr{/etc/nginx/}, "$tmp/etc/nginx/"],
        log    => [qr{/var/log/nginx/}, "$tmp/var/log/nginx/"],
        lib    => [qr{/var/lib/nginx/}, "$tmp/var/lib/nginx/"],
        pid    => [qr{/run/nginx\.pid}, "$tmp/run/nginx.pid"],
    );

    for my $name (@need) {
        my ($re, $to) = @{ $rule{$name} };
        $text =~ s/$re/$to/g or die "no $name path ($re) to relocate";
    }

    # and none is left outside comments
    (my $left = $text) =~ s/#.*$//mg;
    $left =~ s/\Q$tmp\E\///g;
    die "a path of the host is left in:\n$text"
        if $left =~ m{(?<![\w.])/(?:etc|var|run)/};

    return $text;
}


# Debian's tree in <tmp>, without what this host added to it (other
# modules, sites, conf.d files: a site on port 80 is the host's)

sub debian_tree {
    my $tmp = tempdir('pdf-report-debian-XXXXXX', TMPDIR => 1,
                      CLEANUP => 1);

    make_path("$tmp/etc", "$tmp/var/log/nginx", "$tmp/var/lib/nginx",
              "$tmp/run");
    system('cp', '-a', $DEBIAN, "$tmp/etc/nginx") == 0 or die "cp: $?";

    for my $dir (qw(modules-enabled conf.d sites-enabled)) {
        unlink glob "$tmp/etc/nginx/$dir/*";
    }

    my $conf = "$tmp/etc/nginx/nginx.conf";
    spew($conf, relocate($tmp, slurp($conf), qw(etc log pid)));

    # nginx's compiled-in temp paths are the host's /var/lib/nginx: moved
    # with a file of the test's own
    spew("$tmp/etc/nginx/conf.d/00-test-temp-paths.conf",
         join '', map { "${_}_temp_path $tmp/var/lib/nginx/"
                        . ($_ eq 'client_body' ? 'body' : $_) . ";\n" }
                  qw(client_body proxy fastcgi uwsgi scgi));

    # Debian's workers (www-data) must reach the store under <tmp>
    chmod 0755, $tmp, "$tmp/var", "$tmp/var/lib", "$tmp/var/lib/nginx";

    return $tmp;
}


# the three snippets installed as examples/debian/README.md says, with the
# test's paths, data and port; returns the token issuer they require

sub install_snippets {
    my ($tmp, $port) = @_;
    my $etc = "$tmp/etc/nginx";

    spew("$etc/$MODULE_CONF",
         relocate($tmp, slurp("$EXAMPLES/$MODULE_CONF"), 'module'));

    my $http = relocate($tmp, slurp("$EXAMPLES/$HTTP_CONF"), qw(etc lib));
    no warnings 'once';
    my $s3 = "http://127.0.0.1:$PdfReport::Test::S3_PORT";
    $http =~ s/^#?(pdf_report_s3_endpoint\s+)\S+;$/$1$s3;/m
        or die "no pdf_report_s3_endpoint in $HTTP_CONF";
    spew("$etc/$HTTP_CONF", $http);

    my $site = relocate($tmp, slurp("$EXAMPLES/$SITE"), 'log');
    $site =~ s/^(\s*listen) 8080;$/$1 127.0.0.1:$port;/m
        or die "no \"listen 8080\" in $SITE";
    spew("$etc/$SITE", $site);
    symlink("$etc/$SITE", "$etc/sites-enabled/pdf-report")
        or die "symlink: $!";

    # the modes examples/debian/README.md gives them: only the master
    # (root, on a real host) reads these files
    make_path("$etc/sqr");
    chmod 0750, "$etc/sqr";

    for my $f (['users.jsonl', 'users.jsonl', 0640],
               ['jwks-api.json', 'jwks.json', 0640],
               ['aws-credentials', 'aws-credentials', 0600])
    {
        system('cp', "$DATA/$f->[0]", "$etc/sqr/$f->[1]") == 0
            or die "cp: $?";
        chmod $f->[2], "$etc/sqr/$f->[1]";
    }

    $http =~ /^pdf_report_jwt_issuer\s+(\S+);$/m
        or die "no pdf_report_jwt_issuer in $HTTP_CONF";

    return $1;
}


# runs nginx with these arguments on the tree: (exit status, stderr)

sub nginx {
    my ($tmp, @args) = @_;

    my $rc = system("'$NGINX' -p '$tmp/' -c '$tmp/etc/nginx/nginx.conf'"
                    . " @args > '$tmp/stdout' 2> '$tmp/stderr'");
    die "cannot run $NGINX: $!" if $rc == -1;

    return ($rc, slurp("$tmp/stderr"));
}


# the text of each log line of that level, as t/05-config.t reads them

sub messages {
    my ($stderr, $level) = @_;
    my (@m, %seen);

    for my $line (split /\n/, $stderr) {
        if ($line =~ /^[\d\/]{10} [\d:]{8} \[$level\] \d+#\d+: (.*)$/
            || $line =~ /^nginx: \[$level\] (.*)$/)
        {
            push @m, $1;
        }
    }

    return grep { !$seen{$_}++ } @m;
}


sub error_log {
    my ($tmp) = @_;
    my $file = "$tmp/var/log/nginx/error.log";
    return -f $file ? slurp($file) : '';
}


sub uid_of {
    my ($pid) = @_;
    my ($uid) = (eval { slurp("/proc/$pid/status") } // '') =~ /^Uid:\s+(\d+)/m;
    return $uid // -1;
}


sub gone {
    my ($pid) = @_;
    return 1 unless kill 0, $pid;
    my $stat = eval { slurp("/proc/$pid/stat") } // return 1;
    return $stat =~ /^\d+ \(.*\) Z /;
}


# starts nginx on the tree and waits for its port: the master's pid

sub start {
    my ($tmp, $port) = @_;

    my ($rc, $err) = nginx($tmp);
    die "nginx did not start:\n$err" . error_log($tmp) if $rc != 0;

    my $deadline = Time::HiRes::time() + 10;
    my $master;

    while (Time::HiRes::time() < $deadline) {
        if (-s "$tmp/run/nginx.pid") {
            ($master) = slurp("$tmp/run/nginx.pid") =~ /^(\d+)/;
            last if $master;
        }
        Time::HiRes::sleep(0.05);
    }

    die "no pid file:\n" . error_log($tmp) unless $master;

    $running{$master} = 1;

    while (Time::HiRes::time() < $deadline) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port);
        Time::HiRes::sleep(0.05);
    }

    return $master;
}


# stops the master and its workers (QUIT, then KILL after 10 s)

sub stop {
    my ($master) = @_;

    my @pids = ($master, PdfReport::Test::nginx_children($master));

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

# interrupted: END still runs
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP);


# a step-1 body of about 12 KB: valid JSON, padded with a member the API
# does not know, larger than nginx's default client_body_buffer_size (8k)

sub body_12k {
    my $head = qq({"userId":"$USER_ID","padding":");
    my $tail = '"}';
    return $head . ('x' x (12 * 1024 - length($head) - length($tail)))
           . $tail;
}


# ---------------------------------------------------------------------

subtest 'the snippets pass nginx -t in Debian\'s layout' => sub {
    my $tmp = debian_tree();
    my $conf = "$tmp/etc/nginx/nginx.conf";

    install_snippets($tmp, PdfReport::Test::free_port());

    my ($rc, $err) = nginx($tmp, '-t');

    is($rc, 0, 'nginx -t exits 0') or diag($err);
    like($err, qr/^\Qnginx: configuration file $conf test is successful\E$/m,
         '"test is successful"');
    is_deeply([messages($err, '(?:emerg|alert|crit)')], [],
              'no [emerg], [alert] or [crit]');
    ok(-f "$tmp/var/lib/nginx/pdf-report/data.mdb",
       'the store was created under /var/lib/nginx');

    SKIP: {
        skip 'not root: "user www-data" does not apply', 1 unless $> == 0;

        is((stat "$tmp/var/lib/nginx/pdf-report")[4],
           scalar getpwnam('www-data'), 'the store belongs to www-data');
    }
};


subtest 'the whole example nginx.conf in conf.d/ is refused' => sub {
    my $tmp = debian_tree();
    my $file = "$tmp/etc/nginx/conf.d/pdf-report.conf";
    my $example = slurp("$ROOT/ngx_module.conf.example");

    spew($file, $example);

    my @lines = split /\n/, $example;
    my ($line) = grep { $lines[$_ - 1] =~ /^load_module / } 1 .. @lines;

    my ($rc, $err) = nginx($tmp, '-t');

    isnt($rc, 0, 'nginx -t exits non-zero');
    is_deeply([messages($err, 'emerg')],
              ["\"load_module\" directive is not allowed here in"
               . " $file:$line"],
              'the one [emerg] message')
        or diag($err);
};


my $BODY = body_12k();

subtest 'nginx runs the snippets: a 12 KB step 1, the job completes' => sub {
    my $tmp = debian_tree();
    my $port = PdfReport::Test::free_port();
    my $issuer = install_snippets($tmp, $port);
    my $master = start($tmp, $port);

    # a body that went to client_body_temp_path would fail now: its
    # directory is one the workers cannot write (as www-data from root,
    # as the owner otherwise), as on the hosts of issue 10, item 7
    chmod 0500, "$tmp/var/lib/nginx/body" or die "chmod: $!";

    my $token = PdfReport::Test::token(claims => { iss => $issuer });

    is(length $BODY, 12 * 1024, 'the body is 12 KB');

    my ($status, undef, $text, $json) =
        PdfReport::Test::api(POST => '/v1/document/api', port => $port,
                             token => $token, body => $BODY);

    is($status, 202, 'step 1: 202') or diag($text . error_log($tmp));
    like($json && $json->{jobId} // '', qr/^[0-9a-f-]{36}$/i, 'a jobId');

    my $job = $json && $json->{jobId}
              ? PdfReport::Test::wait_job($json->{jobId}, port => $port,
                                          token => $token)
              : undef;

    is($job && $job->{status}, 'COMPLETE',
       'the job completes: rendered and uploaded')
        or diag(Test::More::explain($job) . error_log($tmp));

    # after the steps, as tools/package-check does: the port answers
    # before the workers are forked, and a new one is root for a moment
    my @uids = map { uid_of($_) } PdfReport::Test::nginx_children($master);

    ok(scalar @uids, 'nginx has workers');
    is_deeply([grep { $_ != ($> == 0 ? getpwnam('www-data') : $>) } @uids],
              [], $> == 0 ? 'the workers run as www-data'
                          : 'the workers run as this user');

    ok(stop($master), 'nginx stopped');

    is_deeply([messages(error_log($tmp), '(?:emerg|alert|crit)')], [],
              'no [emerg], [alert] or [crit] in the error log');
};


subtest 'without client_body_buffer_size the same body fails' => sub {
    my $tmp = debian_tree();
    my $port = PdfReport::Test::free_port();
    my $issuer = install_snippets($tmp, $port);
    my $site = "$tmp/etc/nginx/$SITE";
    my $text = slurp($site);

    $text =~ s/^\s*client_body_buffer_size .*\n//m
        or die "no client_body_buffer_size in $SITE";
    spew($site, $text);

    my $master = start($tmp, $port);
    chmod 0500, "$tmp/var/lib/nginx/body" or die "chmod: $!";

    my ($status) =
        PdfReport::Test::api(POST => '/v1/document/api', port => $port,
                             token => PdfReport::Test::token(
                                 claims => { iss => $issuer }),
                             body => $BODY);

    is($status, 500, 'the body spilled to the temp path: 500');

    ok(stop($master), 'nginx stopped');

    my $file = "$tmp/var/lib/nginx/body/0000000001";

    like(error_log($tmp),
         qr/\[crit\] .*open\(\) "\Q$file\E" failed \(13: Permission denied\)/,
         'the [crit] of the temp file');
};


done_testing();
