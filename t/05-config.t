# Configuration checks: every way "nginx -t" must refuse a configuration
# of the module, each with its exact [emerg] message, and the
# configurations it must accept (contract section 2).
#
# Plain Test::More, no Test::Nginx: Debian's nginx is built with
# --error-log-path=stderr, so configuration errors only reach stderr and
# Test::Nginx's must_die can check nothing but the exit status.  Each case
# writes a complete nginx.conf into its own temporary directory (pid,
# error_log, temp paths and the store all inside it) and runs
#
#   nginx -t -p <tmp>/ -c <tmp>/nginx.conf
#
# as the current user.  Placeholders in configurations and messages:
# @TMP@ the case's directory, @DATA@ t/data, @CONF@ its nginx.conf, @LINE@
# the line the message must name.
#
#   TEST_NGINX_LOAD_MODULES  the module's .so (set by "make prove")
#   TEST_NGINX_BINARY        nginx (default: "nginx" from PATH)
#   TEST_CONFIG_VERBOSE=1    print every case's stderr

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use Cwd qw(abs_path);
use File::Path qw(make_path);
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN {
    PdfReport::Backend::once('nginx -t of its own configurations');
}
use JSON::PP;
use Time::HiRes ();

our @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set: it must name '
                 . 'ngx_http_pdf_report_module.so ("make prove" sets it)'
    unless @modules;

my $NGINX = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $ROOT = abs_path("$FindBin::Bin/..");
my $DATA = "$ROOT/t/data";
my $VERBOSE = $ENV{TEST_CONFIG_VERBOSE};

# no message may show a secret of a credentials file: the fixture's all
# contain "DoNotLog"; t/data/aws-credentials uses S3RVER (the key id is the
# same string, and no message shows that either) and "not-the-secret"
my @SECRETS = (qr/DoNotLog/, qr/S3RVER/, qr/not-the-secret/);

my $API = 'location /v1/document/api { pdf_report_api; }';


# the base valid configuration: the http{} directives in order; a case
# overrides one with "set => { name => value }", or drops it with undef

my @BASE = (
    [store          => '@TMP@/store size=16m'],
    [users          => '@DATA@/users.jsonl'],
    [jwt_keys       => '@DATA@/jwks.json'],
    [jwt_issuer     => 'https://auth.sqr.test/'],
    [jwt_audience   => 'pdf-report'],
    [thread_pool    => 'pdf_report'],
    [s3_endpoint    => 'http://127.0.0.1:9'],
    [s3_bucket      => 'sqr-reports'],
    [s3_credentials => '@DATA@/aws-credentials'],
);

my @REQUIRED = qw(store users jwt_keys s3_bucket s3_credentials);


sub config {
    my ($c) = @_;

    my %set = %{ $c->{set} // {} };
    my $text = '';

    $text .= "load_module $_;\n" for @modules;
    $text .= "pid \@TMP\@/nginx.pid;\n"
             . "error_log \@TMP\@/error.log;\n"
             . ($c->{main} // "thread_pool pdf_report threads=2;\n")
             . "events {}\n"
             . "http {\n"
             . "    access_log off;\n"
             . "    client_body_temp_path \@TMP\@/body;\n"
             . "    proxy_temp_path \@TMP\@/proxy;\n"
             . "    fastcgi_temp_path \@TMP\@/fastcgi;\n"
             . "    uwsgi_temp_path \@TMP\@/uwsgi;\n"
             . "    scgi_temp_path \@TMP\@/scgi;\n";

    my %seen;

    for my $d (@BASE) {
        my ($name, $value) = @$d;
        $seen{$name} = 1;
        $value = $set{$name} if exists $set{$name};
        $text .= "    pdf_report_$name $value;\n" if defined $value;
    }

    for my $name (sort keys %set) {
        next if $seen{$name} || !defined $set{$name};
        $text .= "    pdf_report_$name $set{$name};\n";
    }

    $text .= $c->{http} // '';
    $text .= "    server {\n"
             . "        listen 127.0.0.1:1984;\n"
             . ($c->{server} // '')
             . "        " . ($c->{location} // $API) . "\n"
             . "    }\n"
             . "}  # end of http\n";

    return $text;
}


sub expand {
    my ($text, %v) = @_;
    $text =~ s/\@(TMP|DATA|CONF|LINE)\@/$v{$1}/g;
    return $text;
}


# the line of the last match of $at in the configuration, as nginx counts

sub line_of {
    my ($conf, $at) = @_;

    $at = qr/^\}  # end of http$/ if $at eq 'http_end';

    my @lines = split /\n/, $conf;
    my $line;

    for my $i (0 .. $#lines) {
        $line = $i + 1 if $lines[$i] =~ $at;
    }

    die "no line matches $at in:\n$conf" unless defined $line;

    return $line;
}


# writes the case's nginx.conf and runs "nginx -t" on it

sub nginx_t {
    my ($c) = @_;

    my $tmp = tempdir('pdf-report-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$tmp/logs");

    # as root, nginx -t checks the store and fonts as the workers' user
    # ("nobody" unless the case names one): it must reach into the case
    chmod 0755, $tmp;

    $c->{setup}->($tmp) if $c->{setup};

    # "as" another user: that user may not reach into the checkout (a
    # clone in /root, say), so the module and the fixtures are copied to
    # where it can, and only the case's own files stay out of its reach
    my $data = $DATA;
    local @modules = @modules;

    if ($c->{as} && $> == 0) {
        system('cp', '-r', $DATA, "$tmp/data") == 0 or die "cp: $?";
        system('chmod', '-R', 'a+rX', "$tmp/data") == 0 or die "chmod: $?";
        $data = "$tmp/data";

        for my $m (@modules) {
            my $copy = "$tmp/" . (split m{/}, $m)[-1];
            system('cp', $m, $copy) == 0 or die "cp: $?";
            chmod 0644, $copy;
            $m = $copy;
        }
    }

    my $file = "$tmp/nginx.conf";
    my $conf = expand(config($c), TMP => $tmp, DATA => $data);

    open my $fh, '>', $file or die "$file: $!";
    print $fh $conf;
    close $fh;

    open my $saved_out, '>&', \*STDOUT or die "dup: $!";
    open my $saved_err, '>&', \*STDERR or die "dup: $!";
    open STDOUT, '>', "$tmp/stdout" or die "stdout: $!";
    open STDERR, '>', "$tmp/stderr" or die "stderr: $!";

    # "as": run nginx -t as that user (from root, with setpriv), for
    # files and directories only root could get past
    my @as;

    if ($c->{as} && $> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam($c->{as});
        chmod 0777, $tmp, "$tmp/logs";
        chmod 0644, $file;
        @as = ('setpriv', "--reuid=$uid", "--regid=$gid", '--clear-groups');
    }

    my $t0 = Time::HiRes::time();
    my $rc = system(@as, $NGINX, '-t', '-p', "$tmp/", '-c', $file);
    my $took = Time::HiRes::time() - $t0;

    open STDOUT, '>&', $saved_out or die "restore: $!";
    open STDERR, '>&', $saved_err or die "restore: $!";

    die "cannot run $NGINX: $!" if $rc == -1;

    my $stderr = do { local $/; open my $e, '<', "$tmp/stderr"; <$e> // '' };

    if ($VERBOSE) {
        diag("--- $c->{name}\n$stderr");
    }

    return {
        tmp    => $tmp,
        data   => $data,
        file   => $file,
        conf   => $conf,
        status => $rc,
        stderr => $stderr,
        took   => $took,
    };
}


# the text of each log line of that level on stderr: nginx writes
# "<date> [emerg] <pid>#<tid>: text" while stderr is its log (Debian),
# "nginx: [emerg] text" when it also has a log file

sub messages {
    my ($stderr, $level) = @_;
    my @m;

    for my $line (split /\n/, $stderr) {
        if ($line =~ /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[$level\] \d+#\d+: (.*)$/
            || $line =~ /^nginx: \[$level\] (.*)$/)
        {
            push @m, $1;
        }
    }

    # the same line may reach stderr twice in other builds
    my %seen;
    return grep { !$seen{$_}++ } @m;
}


sub no_secret {
    my ($r) = @_;

    my @found = grep { $r->{stderr} =~ $_ } @SECRETS;

    is_deeply(\@found, [], 'no credentials secret in the output');
}


# a configuration nginx -t must refuse with exactly one [emerg]:
#
#   msg    the message; " in @CONF@:@LINE@" is added when "at" is given
#          and msg does not place @LINE@ itself
#   at     a regex matching the configuration line the message names (the
#          last line that matches), or "http_end" for checks made when the
#          http{} block is complete
#   init   the check runs after the configuration is read (the store):
#          nginx exits at once, without "test failed"
#   warn   [warn] messages that must also appear, each with " in
#          @CONF@:@LINE@" added, as msg
#   todo   the module does not refuse this yet: why it should.  $TODO is
#          set around the subtest, so the case as a whole is "not ok #
#          TODO" (and "TODO passed" once the module refuses it)

sub refused {
    my ($c) = @_;

    local $TODO = $c->{todo};

    subtest $c->{name} => sub {
        my $r = nginx_t($c);
        my $msg = $c->{msg};

        if (defined $c->{at}) {
            $msg .= ' in @CONF@:@LINE@' unless $msg =~ /\@LINE\@/;
        }

        my $line = defined $c->{at} ? line_of($r->{conf}, $c->{at}) : '';
        my $want = expand($msg, TMP => $r->{tmp}, DATA => $r->{data},
                          CONF => $r->{file}, LINE => $line);

        isnt($r->{status}, 0, 'nginx -t exits non-zero');

        my @emerg = messages($r->{stderr}, 'emerg');

        is(scalar @emerg, 1, 'one [emerg] message')
            or diag($r->{stderr});
        is($emerg[0], $want, 'the [emerg] message');

        is_deeply([messages($r->{stderr}, '(?:alert|crit)')], [],
                  'no [alert] or [crit]');

        if ($c->{init}) {
            like($r->{stderr}, qr/syntax is ok$/m,
                 'the configuration itself was read');
        } else {
            like($r->{stderr},
                 qr/^nginx: configuration file \Q$r->{file}\E test failed$/m,
                 '"test failed"');
        }

        if ($c->{warn}) {
            my @want = map {
                expand("$_ in \@CONF\@:\@LINE\@", TMP => $r->{tmp},
                       DATA => $r->{data}, CONF => $r->{file},
                       LINE => $line)
            } @{ $c->{warn} };

            is_deeply([messages($r->{stderr}, 'warn')], \@want,
                      'the [warn] messages');
        }

        no_secret($r);

        $c->{check}->($r) if $c->{check};
    };
}


# a configuration nginx -t must accept

sub accepted {
    my ($c) = @_;

    local $TODO = $c->{todo};

    subtest $c->{name} => sub {
        my $r = nginx_t($c);

        is($r->{status}, 0, 'nginx -t exits 0') or diag($r->{stderr});
        like($r->{stderr},
             qr/^nginx: configuration file \Q$r->{file}\E test is successful$/m,
             '"test is successful"');
        is_deeply([messages($r->{stderr}, '(?:emerg|alert|crit)')], [],
                  'no [emerg], [alert] or [crit]');

        no_secret($r);

        $c->{check}->($r) if $c->{check};
    };
}


sub mdb_load {
    my ($dump, $dir) = @_;

    make_path($dir);
    system('mdb_load', '-f', $dump, $dir) == 0
        or die "mdb_load -f $dump $dir failed";
}

my $have_mdb_load = grep { -x "$_/mdb_load" } File::Spec->path;
my $have_mdb_stat = grep { -x "$_/mdb_stat" } File::Spec->path;

my $CONF = "$DATA/config";
my $ENOENT = '(2: No such file or directory)';
my $ENOTDIR = '(20: Not a directory)';


# ---------------------------------------------------------------------
# accepted configurations

accepted({
    name  => 'the base configuration passes',
    check => sub {
        my ($r) = @_;
        ok(-f "$r->{tmp}/store/data.mdb", 'the store was created');
    },
});

accepted({
    name  => 'a second nginx -t reopens the store it created',
    setup => sub {
        my ($tmp) = @_;
        my $c = { name => 'first run', set => {} };
        # the first run writes the store's layout version
        my $conf = expand(config($c), TMP => $tmp, DATA => $DATA);
        open my $fh, '>', "$tmp/first.conf" or die $!;
        print $fh $conf;
        close $fh;
        system("'$NGINX' -t -q -p '$tmp/' -c '$tmp/first.conf' 2>/dev/null")
            == 0 or die 'first nginx -t failed';
    },
});

accepted({
    name     => 'pdf_report_* directives without pdf_report_api need none '
                . 'of the required ones',
    set      => { map({ $_ => undef } @REQUIRED),
                  rate_limit => '5 1m', url_ttl => '60s' },
    location => 'location / { return 204; }',
});

accepted({
    name     => 'all directives and no pdf_report_api',
    location => 'location / { return 204; }',
    check    => sub {
        my ($r) = @_;
        ok(!-e "$r->{tmp}/store", 'no store without pdf_report_api');
    },
});

accepted({
    name => 'only the required directives',
    set  => { jwt_issuer => undef, jwt_audience => undef,
              thread_pool => undef, s3_endpoint => undef },
    main => '',
});

accepted({
    name => 'every directive at its documented default',
    set  => {
        store          => '@TMP@/store size=256m',
        jwt_issuer     => undef,
        jwt_audience   => undef,
        jwt_org_claim  => 'org_id',
        jwt_leeway     => '30s',
        jwt_cache      => '1024',
        create_scope   => 'write:reports',
        read_scope     => 'read:reports',
        rate_limit     => '10 10m',
        thread_pool    => 'default',
        job_timeout    => '5m',
        job_lease      => '30s',
        scan_interval  => '1s',
        worker_jobs    => '8',
        url_ttl        => '300s',
        s3_endpoint    => 'https://s3.amazonaws.com',
        s3_region      => 'us-east-1',
        s3_prefix      => 'reports/',
        s3_path_style  => 'on',
        s3_credentials => '@DATA@/aws-credentials default',
        fonts          => '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf '
                          . '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
        retention      => '30d',
        erase_on_revoke => 'on',
    },
});

accepted({
    name => 'the limits of every bounded directive',
    set  => {
        store         => '@TMP@/store size=1m',
        jwt_cache     => '65536',
        create_scope  => 'off',
        read_scope    => q{'read:reports/v1~!#$%&()*+,-.:;<=>?@[]^_`{|}'},
        rate_limit    => '100000 1s',
        job_timeout   => '1s',
        job_lease     => '1s',
        scan_interval => '10ms',
        worker_jobs   => '1024',
        url_ttl       => '7d',
        s3_endpoint   => 'HTTPS://s3.example.test:8443/',
        s3_path_style => 'off',
    },
    location => 'location /v1/document/api/ { pdf_report_api; }',
});

accepted({
    name => 'the other limits',
    set  => {
        rate_limit    => 'off',
        jwt_cache     => 'off',
        read_scope    => 'off',
        retention     => 'off',
        erase_on_revoke => 'off',
        scan_interval => '5s',
        worker_jobs   => '1',
        url_ttl       => '1s',
        s3_endpoint   => 'http://[::1]:9000',
    },
});

accepted({
    name   => 'two API locations in two servers',
    server => "        location /v2/report { pdf_report_api; }\n",
    http   => "    server {\n"
              . "        listen 127.0.0.1:1985;\n"
              . "        location /reports/api { pdf_report_api; }\n"
              . "    }\n",
});

accepted({
    name => 'a named credentials profile; blank lines in the user directory',
    set  => { s3_credentials => '@DATA@/config/aws-credentials default',
              users          => '@DATA@/config/users-ok.jsonl' },
});

accepted({
    name => 'a relative store path is under the prefix',
    set  => { store => 'relative-store' },
    check => sub {
        my ($r) = @_;
        ok(-f "$r->{tmp}/relative-store/data.mdb",
           'the store is under the -p prefix');
    },
});


# ---------------------------------------------------------------------
# required directives (contract section 2)

for my $name (@REQUIRED) {
    refused({
        name => "pdf_report_$name missing",
        set  => { $name => undef },
        msg  => "\"pdf_report_$name\" is required by \"pdf_report_api\"",
        at   => qr/pdf_report_api;/,
    });
}

# the pdf_report_api that needs it is named, here the first of two, in
# a file of its own, rather than the "}" that ends http{}
refused({
    name  => 'pdf_report_users missing: the included file is named',
    setup => sub {
        open my $fh, '>', "$_[0]/api.conf" or die $!;
        print $fh "server {\n"
                  . "    listen 127.0.0.1:1985;\n"
                  . "    location /v1/document/api { pdf_report_api; }\n"
                  . "    location /v2/document/api { pdf_report_api; }\n"
                  . "}\n";
    },
    set   => { users => undef },
    http  => "    include \@TMP\@/api.conf;\n",
    msg   => '"pdf_report_users" is required by "pdf_report_api" in '
             . '@TMP@/api.conf:3',
});

refused({
    name => 'every required directive missing: the first is named',
    set  => { map { $_ => undef } @REQUIRED },
    msg  => '"pdf_report_store" is required by "pdf_report_api"',
    at   => qr/pdf_report_api;/,
});


# ---------------------------------------------------------------------
# pdf_report_store

refused({
    name => 'pdf_report_store: size that is not a size',
    set  => { store => '@TMP@/store size=lots' },
    msg  => 'invalid store size "size=lots", at least 1m',
    at   => qr/pdf_report_store /,
});

# nginx's size units, g included, as "max_size=10g" of proxy_cache_path
for my $size (qw(8g 2G 1024k 64M)) {
    my %bytes = ('8g' => 8 << 30, '2G' => 2 << 30, '1024k' => 1 << 20,
                 '64M' => 64 << 20);

    accepted({
        name  => "pdf_report_store: size=$size",
        set   => { store => "\@TMP\@/store size=$size" },
        check => sub {
            my ($r) = @_;

            SKIP: {
                skip 'mdb_stat (lmdb-utils) is not installed', 1
                    unless $have_mdb_stat;

                my $info = `mdb_stat -e '$r->{tmp}/store'`;
                like($info, qr/^\s*Map size: $bytes{$size}$/m,
                     "the store's map is $bytes{$size} bytes");
            }
        },
    });
}

# a PostgreSQL store: nothing connects in nginx -t, the URI is never
# logged (it may hold a password)
accepted({
    name => 'pdf_report_store postgresql://: nothing is connected to',
    set  => { store => 'postgresql://edge:DoNotLog@127.0.0.1:1/none '
                       . 'pool=8' },
});

accepted({
    name => 'pdf_report_users off with a PostgreSQL store',
    set  => { store => 'postgres://127.0.0.1:1/none', users => 'off' },
});

refused({
    name => 'pdf_report_users off with an LMDB store',
    set  => { users => 'off' },
    msg  => '"pdf_report_users off" needs a PostgreSQL store, whose table '
            . 'other systems write; an LMDB store loads the directory from '
            . 'a file',
});

refused({
    name => 'pdf_report_store postgresql://: pool=0',
    set  => { store => 'postgresql://127.0.0.1:1/none pool=0' },
    msg  => 'invalid "pool=0": 1 to 256 connections',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store postgresql://: size= is LMDB\'s',
    set  => { store => 'postgresql://127.0.0.1:1/none size=1g' },
    msg  => 'invalid parameter "size=1g" of a PostgreSQL store: pool=<n>',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store: size=0g',
    set  => { store => '@TMP@/store size=0g' },
    msg  => 'invalid store size "size=0g", at least 1m',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store: size=1t, a unit nginx does not have',
    set  => { store => '@TMP@/store size=1t' },
    msg  => 'invalid store size "size=1t", at least 1m',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store: size below 1m',
    set  => { store => '@TMP@/store size=512k' },
    msg  => 'invalid store size "size=512k", at least 1m',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store: empty size',
    set  => { store => '@TMP@/store size=' },
    msg  => 'invalid store size "size=", at least 1m',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store: a parameter other than size=',
    set  => { store => '@TMP@/store mode=0700' },
    msg  => 'invalid parameter "mode=0700"',
    at   => qr/pdf_report_store /,
});

refused({
    name => 'pdf_report_store: three arguments',
    set  => { store => '@TMP@/store size=16m size=32m' },
    msg  => 'invalid number of arguments in "pdf_report_store" directive',
    at   => qr/pdf_report_store /,
});

refused({
    name  => 'pdf_report_store: a directory under a regular file',
    setup => sub { open my $fh, '>', "$_[0]/file" or die $! },
    set   => { store => '@TMP@/file/store' },
    msg   => "pdf_report: cannot create the store \"\@TMP\@/file/store\" "
             . $ENOTDIR,
    init  => 1,
});

refused({
    name  => 'pdf_report_store: a regular file',
    setup => sub { open my $fh, '>', "$_[0]/file" or die $! },
    set   => { store => '@TMP@/file' },
    msg   => 'pdf_report: cannot open the store "@TMP@/file": '
             . 'Not a directory',
    init  => 1,
});

SKIP: {
    skip 'mdb_load (lmdb-utils) is not installed', 3 unless $have_mdb_load;

    refused({
        name  => 'pdf_report_store: a store of another layout version',
        setup => sub { mdb_load("$CONF/store-v99.dump", "$_[0]/store") },
        msg   => 'pdf_report: cannot open the store "@TMP@/store": it has '
                 . 'layout version 99, this module reads version 2; move it '
                 . 'aside or point pdf_report_store elsewhere',
        init  => 1,
        check => sub {
            my ($r) = @_;
            my $dump = `mdb_dump -p -s meta '$r->{tmp}/store'`;
            like($dump, qr/^ \\00\\00\\00c$/m,
                 'the store still has version 99: nothing was overwritten');
        },
    });

    # a store of the layout before retention and erasure: accepted, and
    # left as it is (a running nginx of that version may still write it)
    # until nginx starts (t/46-migrate.t)
    accepted({
        name  => 'pdf_report_store: a store of layout version 1',
        setup => sub { mdb_load("$CONF/store-v1.dump", "$_[0]/store") },
        check => sub {
            my ($r) = @_;
            my $dump = `mdb_dump -p -s meta '$r->{tmp}/store'`;
            like($dump, qr/^ \\00\\00\\00\\01$/m,
                 'the store is still of version 1');
        },
    });

    # an environment with jobs but no layout mark was not written by this
    # module (or by one before layout versions): refused, not adopted
    refused({
        name  => 'pdf_report_store: a store with jobs but no layout version',
        setup => sub { mdb_load("$CONF/store-unmarked.dump",
                                "$_[0]/store") },
        msg   => 'pdf_report: cannot open the store "@TMP@/store": it '
                 . 'holds data without a layout version mark, so it was '
                 . 'not written by this module; point pdf_report_store '
                 . 'elsewhere',
        init  => 1,
    });
}


# ---------------------------------------------------------------------
# pdf_report_users (contract section 4)

refused({
    name => 'pdf_report_users: no such file',
    set  => { users => '@TMP@/nope.jsonl' },
    msg  => "open() \"\@TMP\@/nope.jsonl\" failed $ENOENT",
    at   => qr/pdf_report_users /,
});

refused({
    name  => 'pdf_report_users: a directory',
    setup => sub { make_path("$_[0]/users.d") },
    set   => { users => '@TMP@/users.d' },
    msg   => '"@TMP@/users.d" is not a file',
    at    => qr/pdf_report_users /,
});

refused({
    name => 'pdf_report_users: a path through a regular file',
    set  => { users => '@DATA@/users.jsonl/users.jsonl' },
    msg  => "open() \"\@DATA\@/users.jsonl/users.jsonl\" failed $ENOTDIR",
    at   => qr/pdf_report_users /,
});

# The file's lines are checked where the master loads them into the
# store (the zone init, after the configuration was read): nginx -t
# names the file and the line, not a line of nginx.conf.

refused({
    name => 'pdf_report_users: a line that is not JSON',
    set  => { users => '@DATA@/config/users-bad-json.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-bad-json.jsonl", '
            . 'line 3: invalid JSON at column 39: unexpected token',
    init => 1,
});

refused({
    name => 'pdf_report_users: a line without "id"',
    set  => { users => '@DATA@/config/users-no-id.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-no-id.jsonl", '
            . 'line 2: not a JSON object with an "id" string',
    init => 1,
});

refused({
    name => 'pdf_report_users: an "id" that is a number',
    set  => { users => '@DATA@/config/users-id-number.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-id-number.jsonl", '
            . 'line 3: not a JSON object with an "id" string',
    init => 1,
});

refused({
    name => 'pdf_report_users: a line that is an array',
    set  => { users => '@DATA@/config/users-not-object.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-not-object.jsonl", '
            . 'line 1: not a JSON object with an "id" string',
    init => 1,
});

refused({
    name => 'pdf_report_users: an empty "id"',
    set  => { users => '@DATA@/config/users-empty-id.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-empty-id.jsonl", '
            . 'line 1: "id" must be 1 to 64 bytes',
    init => 1,
});

refused({
    name => 'pdf_report_users: an "id" of 65 bytes',
    set  => { users => '@DATA@/config/users-long-id.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-long-id.jsonl", '
            . 'line 1: "id" must be 1 to 64 bytes',
    init => 1,
});

refused({
    name => 'pdf_report_users: a duplicate "id" (the later line is named)',
    set  => { users => '@DATA@/config/users-dup-id.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-dup-id.jsonl", '
            . 'line 4: duplicate "id" "USCONF0000000001"',
    init => 1,
});

refused({
    name => 'pdf_report_users: a field of the wrong type',
    set  => { users => '@DATA@/config/users-bad-type.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-bad-type.jsonl", '
            . 'line 2: "selfie_liveness_score" must be a number or null',
    init => 1,
});

refused({
    name => 'pdf_report_users: invalid UTF-8',
    set  => { users => '@DATA@/config/users-bad-utf8.jsonl' },
    msg  => 'invalid user directory "@DATA@/config/users-bad-utf8.jsonl", '
            . 'line 2: invalid JSON at column 42: unable to decode byte '
            . '0xe9',
    init => 1,
});


# ---------------------------------------------------------------------
# pdf_report_jwt_keys

refused({
    name => 'pdf_report_jwt_keys: no such file',
    set  => { jwt_keys => '@TMP@/nope.json' },
    msg  => "open() \"\@TMP\@/nope.json\" failed $ENOENT",
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name  => 'pdf_report_jwt_keys: a directory',
    setup => sub { make_path("$_[0]/jwks.d") },
    set   => { jwt_keys => '@TMP@/jwks.d' },
    msg   => '"@TMP@/jwks.d" is not a file',
    at    => qr/pdf_report_jwt_keys /,
});

# (the JSON errors are jansson's own words, as in Debian 12's libjansson4)
my %jwks_bad = (
    'not-json'         => "JWKS is not valid JSON: '[' or '{' expected "
                          . "near 'keys' (line 1, column 4)",
    'duplicate-member' => 'JWKS is not valid JSON: duplicate object key '
                          . q<near '"keys"' (line 1, column 19)>,
    'not-object'       => 'JWKS is not an object with a "keys" array',
    'no-keys'          => 'JWKS is not an object with a "keys" array',
    'keys-not-array'   => 'JWKS is not an object with a "keys" array',
    'empty-keys'       => 'JWKS holds no usable key (0 skipped)',
    'rsa1024'          => 'JWKS holds no usable key (1 skipped)',
    'ec-off-curve'     => 'JWKS holds no usable key (1 skipped)',
    'unusable'         => 'JWKS holds no usable key (10 skipped)',
);

# every key skipped is named with its reason
my %jwks_warn = (
    'rsa1024'      => ['(kid "rsa1024") skipped: RSA key shorter than 2048 '
                       . 'bits'],
    'ec-off-curve' => ['(kid "ec256") skipped: EC point is not a valid '
                       . 'public key'],
    'unusable'     => [
        '(kid "hmac1") skipped: kty is not RSA, EC or OKP',
        '(kid "rsa-enc") skipped: use is not "sig"',
        '(kid "ec-ops") skipped: key_ops does not allow "verify"',
        '(kid "k256") skipped: EC crv is not P-256, P-384 or P-521',
        '(kid "rsa-no-e") skipped: RSA "n" or "e" missing or not base64url',
        '(kid "x25519") skipped: OKP crv is not Ed25519 or Ed448',
        '(kid "ec-rs") skipped: alg does not fit the key type or curve',
        '(kid "rsa-private") skipped: holds private key material: publish '
        . 'public keys only',
        '(kid "no-kty") skipped: no "kty" string',
        'skipped: not a JSON object',
    ],
);

# nor does a skipped key's secret or private part reach the log
sub jwks_secrets {
    my ($file) = @_;

    open my $fh, '<', $file or die "$file: $!";
    my $jwks = eval { JSON::PP->new->decode(do { local $/; <$fh> }) };
    my @s;

    # the keys wherever they are: an array, an object, the top level
    my $keys = ref $jwks eq 'HASH' && exists $jwks->{keys} ? $jwks->{keys}
                                                           : $jwks;
    $keys = [$keys] unless ref $keys eq 'ARRAY';

    for my $k (@$keys) {
        next unless ref $k eq 'HASH';
        push @s, grep { defined && !ref } @$k{qw(d p q dp dq qi k)};
    }

    return @s;
}

for my $name (sort keys %jwks_bad) {
    my $file = "$DATA/jwks-bad/$name.json";
    my $n = 0;
    my @private = jwks_secrets($file);

    refused({
        name  => "pdf_report_jwt_keys: jwks-bad/$name.json",
        set   => { jwt_keys => "\@DATA\@/jwks-bad/$name.json" },
        msg   => "invalid JWKS \"\@DATA\@/jwks-bad/$name.json\": "
                 . $jwks_bad{$name},
        at    => qr/pdf_report_jwt_keys /,
        warn  => [map { 'pdf_report_jwt_keys: JWKS key #' . ++$n
                        . ' ' . $_ }
                  @{ $jwks_warn{$name} // [] }],
        check => sub {
            my ($r) = @_;
            is_deeply([grep { index($r->{stderr}, $_) >= 0 } @private], [],
                      'no private key material in the output')
                if @private;
        },
    });
}

# pdf_report_webhooks: the file is read by nginx -t, a bad line named by
# its number and never with its secret; the other directives' shapes

my $hook_ok = '{"org_id":"org_acme","url":"https://hooks.acme.example/sqr",'
              . '"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}';

sub hooks_file {
    my (@lines) = @_;
    return sub {
        open my $fh, '>', "$_[0]/hooks.jsonl" or die $!;
        print $fh map { "$_\n" } @lines;
        close $fh;
    };
}

accepted({
    name  => 'pdf_report_webhooks: a good file, allow, schedule, pool',
    setup => hooks_file($hook_ok),
    set   => { webhooks => '@TMP@/hooks.jsonl',
               webhook_allow => '10.0.0.0/8 fd00::/8 hooks.internal',
               webhook_schedule => '1s 30s 5m' },
});

accepted({
    name => 'pdf_report_webhooks off',
    set  => { webhooks => 'off' },
});

my %hooks_bad = (
    'a URL that is not http(s)' =>
        [[$hook_ok =~ s{https://}{ftp://}r],
         ':1: "url" must be an http:// or https:// URL of at most 2048 '
         . 'bytes'],
    'a secret of 8 bytes, on line 2' =>
        [[$hook_ok, '{"org_id":"org_b","url":"https://b.example/",'
                    . '"secret":"whsec_U0VDUkVUU0U="}'],
         ':2: "secret" must be "whsec_" and the base64 of 24 to 64 bytes'],
    'no org_id' =>
        [['{"url":"https://b.example/","secret":"whsec_x"}'],
         ':1: "org_id" must be a string of 1 to 128 bytes'],
    'an org twice' =>
        [[$hook_ok, $hook_ok], ': org "org_acme" has two lines'],
    'not JSON' =>
        [['{"org_id":"org_a","secret":"whsec_TOPSECRET'],
         ':1: not JSON (at byte 43)'],
);

for my $name (sort keys %hooks_bad) {
    my ($lines, $why) = @{ $hooks_bad{$name} };

    refused({
        name  => "pdf_report_webhooks: $name",
        setup => hooks_file(@$lines),
        set   => { webhooks => '@TMP@/hooks.jsonl' },
        msg   => 'invalid webhooks: @TMP@/hooks.jsonl' . $why,
        at    => qr/pdf_report_webhooks /,
        check => sub {
            my ($r) = @_;
            unlike($r->{stderr}, qr/TOPSECRET|U0VDUkVUU0U/,
                   'no secret in the output');
        },
    });
}

refused({
    name => 'pdf_report_webhooks: a missing file',
    set  => { webhooks => '@TMP@/none.jsonl' },
    msg  => 'invalid webhooks: @TMP@/none.jsonl: No such file or directory',
    at   => qr/pdf_report_webhooks /,
});

refused({
    name  => 'pdf_report_webhooks: a parameter other than ca=',
    setup => hooks_file($hook_ok),
    set   => { webhooks => '@TMP@/hooks.jsonl tls=off' },
    msg   => 'invalid parameter "tls=off": only ca=<file> may follow the '
             . 'file',
    at    => qr/pdf_report_webhooks /,
});

refused({
    name => 'pdf_report_webhook_allow: an address inside a network',
    set  => { webhook_allow => '10.1.2.3/8' },
    msg  => 'invalid destination "10.1.2.3/8": bits set beyond the prefix '
            . 'length',
    at   => qr/pdf_report_webhook_allow /,
});

refused({
    name => 'pdf_report_webhook_schedule: not a time',
    set  => { webhook_schedule => '5s soon' },
    msg  => 'invalid delay "soon": a time of at least 1ms, as in 5s, 5m or '
            . '2h',
    at   => qr/pdf_report_webhook_schedule /,
});


# pdf_report_jwt_keys <url>: only its shape is checked; the workers fetch
# it, so a URL that is down (here an address nothing answers from) passes
# at once

sub make_ca {
    my ($tmp) = @_;
    system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
           . "-nodes -keyout '$tmp/ca.key' -out '$tmp/ca.pem' -days 1 "
           . "-subj '/CN=test CA' >/dev/null 2>&1") == 0
        or die 'openssl req failed';
}

accepted({
    name  => 'pdf_report_jwt_keys: an https URL that is down, refresh= and '
             . 'ca=: nginx -t neither fetches nor waits',
    setup => \&make_ca,
    set   => { jwt_keys => 'https://10.255.255.1/jwks.json refresh=1s '
                           . 'ca=@TMP@/ca.pem' },
    check => sub {
        my ($r) = @_;
        cmp_ok($r->{took}, '<', 3, 'nginx -t took no fetch time');
        is_deeply([messages($r->{stderr}, 'warn')], [], 'no [warn]');
    },
});

accepted({
    name  => 'pdf_report_jwt_keys: an http URL passes, with a warning',
    set   => { jwt_keys => 'http://user:DoNotLog@127.0.0.1:9/k?DoNotLog' },
    check => sub {
        my ($r) = @_;
        my $line = line_of($r->{conf}, qr/pdf_report_jwt_keys /);
        is_deeply([messages($r->{stderr}, 'warn')],
                  ['the JWKS "http://127.0.0.1:9/k" is fetched without '
                   . 'TLS: whoever can alter the traffic can replace the '
                   . "keys; use https in $r->{file}:$line"],
                  'the [warn], without the user part or the query');
    },
});

refused({
    name => 'pdf_report_jwt_keys: a URL without a host',
    set  => { jwt_keys => 'https:///jwks.json' },
    msg  => 'invalid JWKS URL: a host is needed after "http://" or '
            . '"https://", and no spaces or control characters',
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name => 'pdf_report_jwt_keys: refresh= under 1s',
    set  => { jwt_keys => 'https://idp.example/jwks refresh=500ms' },
    msg  => 'invalid refresh "refresh=500ms", at least 1s',
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name => 'pdf_report_jwt_keys: refresh= given twice',
    set  => { jwt_keys => 'https://idp.example/jwks refresh=1m refresh=2m' },
    msg  => 'invalid parameter "refresh=2m"',
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name => 'pdf_report_jwt_keys: an unknown parameter',
    set  => { jwt_keys => 'https://idp.example/jwks timeout=5s' },
    msg  => 'invalid parameter "timeout=5s"',
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name => 'pdf_report_jwt_keys: refresh= after a file',
    set  => { jwt_keys => '@DATA@/jwks.json refresh=1m' },
    msg  => 'invalid parameter "refresh=1m": refresh= and ca= are for a '
            . 'JWKS URL; a file is read again on reload',
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name => 'pdf_report_jwt_keys: ca= that does not exist',
    set  => { jwt_keys => 'https://idp.example/jwks ca=@TMP@/nope.pem' },
    msg  => "open() \"\@TMP\@/nope.pem\" failed $ENOENT",
    at   => qr/pdf_report_jwt_keys /,
});

refused({
    name => 'pdf_report_jwt_keys: ca= that holds no certificate',
    set  => { jwt_keys => 'https://idp.example/jwks ca=@DATA@/jwks.json' },
    msg  => '"@DATA@/jwks.json" holds no PEM certificate',
    at   => qr/pdf_report_jwt_keys /,
});

# ---------------------------------------------------------------------
# pdf_report_s3_credentials

refused({
    name => 'pdf_report_s3_credentials: no such file',
    set  => { s3_credentials => '@TMP@/nope' },
    msg  => "open() \"\@TMP\@/nope\" failed $ENOENT",
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name  => 'pdf_report_s3_credentials: a directory',
    setup => sub { make_path("$_[0]/aws") },
    set   => { s3_credentials => '@TMP@/aws' },
    msg   => '"@TMP@/aws" is not a file',
    at    => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: no such profile',
    set  => { s3_credentials => '@DATA@/config/aws-credentials nosuch' },
    msg  => 'invalid credentials file "@DATA@/config/aws-credentials": '
            . 'profile "nosuch" not found',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: no default profile',
    set  => { s3_credentials => '@DATA@/jwks.json' },
    msg  => 'invalid credentials file "@DATA@/jwks.json": '
            . 'profile "default" not found',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: the profile has no secret',
    set  => { s3_credentials => '@DATA@/config/aws-credentials no-secret' },
    msg  => 'invalid credentials file "@DATA@/config/aws-credentials": '
            . 'profile "no-secret" has no aws_secret_access_key',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: the profile has an empty secret',
    set  => { s3_credentials =>
              '@DATA@/config/aws-credentials empty-secret' },
    msg  => 'invalid credentials file "@DATA@/config/aws-credentials": '
            . 'profile "empty-secret" has no aws_secret_access_key',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: the profile has no key id',
    set  => { s3_credentials => '@DATA@/config/aws-credentials no-key' },
    msg  => 'invalid credentials file "@DATA@/config/aws-credentials": '
            . 'profile "no-key" has no aws_access_key_id',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: a line that is not key = value '
            . '(a stray secret, not echoed)',
    set  => { s3_credentials => '@DATA@/config/aws-credentials bad-line' },
    msg  => 'invalid credentials file "@DATA@/config/aws-credentials": '
            . 'line 20: expected "key = value"',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: a secret too long (not echoed)',
    set  => { s3_credentials =>
              '@DATA@/config/aws-credentials long-secret' },
    msg  => 'invalid credentials file "@DATA@/config/aws-credentials": '
            . 'line 24: aws_secret_access_key is too long',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials: an unterminated section header',
    set  => { s3_credentials => '@DATA@/config/aws-credentials-bad-header' },
    msg  => 'invalid credentials file '
            . '"@DATA@/config/aws-credentials-bad-header": '
            . 'line 5: unterminated section header',
    at   => qr/pdf_report_s3_credentials /,
});

# the sources that are no file (contract section 11): nothing is fetched
# by "nginx -t", so an endpoint that cannot be reached refuses nothing;
# the variables a source needs must be passed by "env", as nginx clears
# its workers' environment

my $ENV_NEEDS = '"pdf_report_s3_credentials %s" in @CONF@:@LINE@ needs %s '
                . 'in the main context: nginx passes its workers only the '
                . 'environment variables that "env" names';

accepted({
    name => 'pdf_report_s3_credentials imds: nothing to reach at nginx -t',
    set  => { s3_credentials => 'imds' },
});

accepted({
    name => 'pdf_report_s3_credentials env with its variables passed',
    main => "thread_pool pdf_report threads=2;\n"
            . "env AWS_ACCESS_KEY_ID;\n"
            . "env AWS_SECRET_ACCESS_KEY=DoNotLogThis;\n",
    set  => { s3_credentials => 'env' },
});

accepted({
    name => 'pdf_report_s3_credentials ecs with a relative URI passed',
    main => "thread_pool pdf_report threads=2;\n"
            . "env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;\n",
    set  => { s3_credentials => 'ecs' },
});

refused({
    name => 'pdf_report_s3_credentials env without "env AWS_ACCESS_KEY_ID"',
    set  => { s3_credentials => 'env' },
    msg  => sprintf($ENV_NEEDS, 'env', '"env AWS_ACCESS_KEY_ID;"'),
    at   => qr/pdf_report_s3_credentials /,
    init => 1,
});

refused({
    name => 'pdf_report_s3_credentials env without its secret\'s variable',
    main => "thread_pool pdf_report threads=2;\n"
            . "env AWS_ACCESS_KEY_ID=AKIDTEST;\n",
    set  => { s3_credentials => 'env' },
    msg  => sprintf($ENV_NEEDS, 'env', '"env AWS_SECRET_ACCESS_KEY;"'),
    at   => qr/pdf_report_s3_credentials /,
    init => 1,
});

refused({
    name => 'pdf_report_s3_credentials ecs without either URI passed',
    main => "thread_pool pdf_report threads=2;\n"
            . "env AWS_CONTAINER_AUTHORIZATION_TOKEN;\n",
    set  => { s3_credentials => 'ecs' },
    msg  => sprintf($ENV_NEEDS, 'ecs',
                    '"env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;" or '
                    . '"env AWS_CONTAINER_CREDENTIALS_FULL_URI;"'),
    at   => qr/pdf_report_s3_credentials /,
    init => 1,
});

refused({
    name => 'pdf_report_s3_credentials imds with a profile',
    set  => { s3_credentials => 'imds default' },
    msg  => '"imds" takes no profile (a file named "imds" is written '
            . '"./imds")',
    at   => qr/pdf_report_s3_credentials /,
});

refused({
    name => 'pdf_report_s3_credentials with three arguments',
    set  => { s3_credentials => '@DATA@/aws-credentials default extra' },
    msg  => 'invalid number of arguments in "pdf_report_s3_credentials" '
            . 'directive',
    at   => qr/pdf_report_s3_credentials /,
});


# ---------------------------------------------------------------------
# what the workers need, checked as their user: root reaches everything,
# so "nginx -t" (and a reload) run by root passed and the workers then
# could not open the store, or render with the fonts

SKIP: {
    skip 'the workers run as another user only when nginx starts as root',
        3 unless $> == 0;

    my $nobody = getpwnam('nobody');

    refused({
        name  => 'pdf_report_store under a directory only root may enter',
        setup => sub { mkdir "$_[0]/private", 0700 or die $! },
        set   => { store => '@TMP@/private/store' },
        msg   => 'pdf_report: the workers\' user "nobody" cannot use the '
                 . 'store "@TMP@/private/store": it cannot search the '
                 . 'directory "@TMP@/private" (13: Permission denied)',
        init  => 1,
        check => sub {
            my ($r) = @_;
            is((stat "$r->{tmp}/private/store")[4], $nobody,
               'the store itself was handed to the workers\' user');
        },
    });

    my $font = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

    refused({
        name  => 'pdf_report_fonts readable only by root',
        setup => sub {
            my ($tmp) = @_;
            system('cp', $font, "$tmp/regular.ttf") == 0 or die "cp: $?";
            system('cp', $font, "$tmp/bold.ttf") == 0 or die "cp: $?";
            chmod 0600, "$tmp/bold.ttf" or die "chmod: $!";
            chmod 0644, "$tmp/regular.ttf" or die "chmod: $!";
        },
        set   => { fonts => '@TMP@/regular.ttf @TMP@/bold.ttf' },
        msg   => 'pdf_report: the workers\' user "nobody" cannot read the '
                 . 'report font "@TMP@/bold.ttf" (13: Permission denied)',
        init  => 1,
    });

    refused({
        name  => 'pdf_report_fonts under a directory only root may enter',
        setup => sub {
            my ($tmp) = @_;
            mkdir "$tmp/fonts", 0700 or die $!;
            system('cp', $font, "$tmp/fonts/f.ttf") == 0 or die "cp: $?";
            chmod 0644, "$tmp/fonts/f.ttf" or die "chmod: $!";
        },
        set   => { fonts => '@TMP@/fonts/f.ttf @TMP@/fonts/f.ttf' },
        main  => "user nobody nogroup;\n"
                 . "thread_pool pdf_report threads=2;\n",
        msg   => 'pdf_report: the workers\' user "nobody" cannot read the '
                 . 'report font "@TMP@/fonts/f.ttf": it cannot search the '
                 . 'directory "@TMP@/fonts" (13: Permission denied)',
        init  => 1,
    });
}


# ---------------------------------------------------------------------
# unreadable files (contract section 2): root reads a mode 000 file, so
# these run only as another user

{
    for my $d (['users', 'users.jsonl', "$DATA/users.jsonl"],
               ['jwt_keys', 'jwks.json', "$DATA/jwks.json"],
               ['s3_credentials', 'aws-credentials',
                "$CONF/aws-credentials"])
    {
        my ($name, $file, $from) = @$d;

        refused({
            name  => "pdf_report_$name: unreadable (mode 000)",
            setup => sub {
                my ($tmp) = @_;
                open my $in, '<', $from or die "$from: $!";
                open my $out, '>', "$tmp/$file" or die "$tmp/$file: $!";
                print $out do { local $/; <$in> };
                close $out;
                chmod 0000, "$tmp/$file" or die "chmod: $!";
            },
            set => { $name => "\@TMP\@/$file" },
            msg => "open() \"\@TMP\@/$file\" failed (13: Permission denied)",
            at  => qr/pdf_report_$name /,
            as  => 'nobody',
        });
    }

    # a store directory the user running nginx cannot create
    refused({
        name  => 'pdf_report_store: a directory nginx may not create',
        setup => sub { mkdir "$_[0]/locked", 0755 or die $! },
        set   => { store => '@TMP@/locked/store' },
        msg   => 'pdf_report: cannot create the store '
                 . '"@TMP@/locked/store" (13: Permission denied)',
        init  => 1,
        as    => 'nobody',
    });
}


# ---------------------------------------------------------------------
# pdf_report_rate_limit

refused({
    name => 'pdf_report_rate_limit 0 10m',
    set  => { rate_limit => '0 10m' },
    msg  => 'invalid request count "0" (1 to 100000)',
    at   => qr/pdf_report_rate_limit /,
});

refused({
    name => 'pdf_report_rate_limit 100001 10m',
    set  => { rate_limit => '100001 10m' },
    msg  => 'invalid request count "100001" (1 to 100000)',
    at   => qr/pdf_report_rate_limit /,
});

refused({
    name => 'pdf_report_rate_limit ten 10m',
    set  => { rate_limit => 'ten 10m' },
    msg  => 'invalid request count "ten" (1 to 100000)',
    at   => qr/pdf_report_rate_limit /,
});

refused({
    name => 'pdf_report_rate_limit 10 10x',
    set  => { rate_limit => '10 10x' },
    msg  => 'invalid period "10x" (at least 1s)',
    at   => qr/pdf_report_rate_limit /,
});

refused({
    name => 'pdf_report_rate_limit 10 500ms',
    set  => { rate_limit => '10 500ms' },
    msg  => 'invalid period "500ms" (at least 1s)',
    at   => qr/pdf_report_rate_limit /,
});

refused({
    name => 'pdf_report_rate_limit 10 (one argument, not "off")',
    set  => { rate_limit => '10' },
    msg  => '"pdf_report_rate_limit" directive takes "<n> <period>" or "off"',
    at   => qr/pdf_report_rate_limit /,
});

refused({
    name => 'pdf_report_rate_limit with three arguments',
    set  => { rate_limit => '10 10m 1' },
    msg  => 'invalid number of arguments in "pdf_report_rate_limit" '
            . 'directive',
    at   => qr/pdf_report_rate_limit /,
});


# ---------------------------------------------------------------------
# pdf_report_s3_endpoint
#

my $USE_SCHEME = 'use http://host[:port] or https://host[:port]';
my $NO_PATH = 'no path, query or user part allowed';

for my $e (['ftp://s3.example.test', $USE_SCHEME],
           ['s3.example.test', $USE_SCHEME],
           ['http://', $USE_SCHEME],
           ['https:///', $USE_SCHEME],
           ['http://127.0.0.1:9/bucket', $NO_PATH],
           ['http://127.0.0.1:9/?x=1', $NO_PATH],
           ['http://user@127.0.0.1:9', $NO_PATH],
           ['http://127.0.0.1:9#x', $NO_PATH],
           ['http://:9000', 'no host'],
           ['http://127.0.0.1:port', 'invalid port'],
           ['http://127.0.0.1:0', 'invalid port'],
           ['http://127.0.0.1:65536', 'invalid port'],
           ['http://[::1', 'invalid host'])
{
    my ($url, $why) = @$e;

    refused({
        name => "pdf_report_s3_endpoint $url",
        set  => { s3_endpoint => "'$url'" },
        msg  => "invalid S3 endpoint \"$url\": $why",
        at   => qr/pdf_report_s3_endpoint /,
    });
}


# ---------------------------------------------------------------------
# times and numbers

for my $t (['url_ttl', '0',
            '"pdf_report_url_ttl" must be between 1s and 7d, the limits of '
            . 'S3 pre-signed URLs'],
           ['url_ttl', '8d',
            '"pdf_report_url_ttl" must be between 1s and 7d, the limits of '
            . 'S3 pre-signed URLs'],
           ['url_ttl', '604801',
            '"pdf_report_url_ttl" must be between 1s and 7d, the limits of '
            . 'S3 pre-signed URLs'],
           ['job_timeout', '0',
            '"pdf_report_job_timeout" must be at least 1s'],
           ['job_timeout', '999ms',
            '"pdf_report_job_timeout" must be at least 1s'],
           ['job_lease', '0',
            '"pdf_report_job_lease" must be at least 1s'],
           ['scan_interval', '10s',
            '"pdf_report_scan_interval" directive must be between 10ms '
            . 'and 5s'],
           ['scan_interval', '5ms',
            '"pdf_report_scan_interval" directive must be between 10ms '
            . 'and 5s'],
           ['jwt_cache', '0',
            'invalid token cache size "0" (1 to 65536 entries, or off)'],
           ['jwt_cache', '65537', 'invalid token cache size "65537" '
            . '(1 to 65536 entries, or off)'],
           ['jwt_cache', 'on',
            'invalid token cache size "on" (1 to 65536 entries, or off)'],
           ['worker_jobs', '0', 'value must be between 1 and 1024'],
           ['worker_jobs', '1025', 'value must be between 1 and 1024'],
           ['worker_jobs', 'many',
            '"pdf_report_worker_jobs" directive invalid number'],
           ['jwt_leeway', 'soon',
            '"pdf_report_jwt_leeway" directive invalid value'],
           ['job_timeout', 'never',
            '"pdf_report_job_timeout" directive invalid value'],
           ['s3_path_style', 'maybe',
            'invalid value "maybe" in "pdf_report_s3_path_style" directive, '
            . 'it must be "on" or "off"'],
           ['retention', '0',
            'invalid retention "0", a time of at least 1s or "off"'],
           ['retention', '500ms',
            'invalid retention "500ms", a time of at least 1s or "off"'],
           ['retention', 'forever',
            'invalid retention "forever", a time of at least 1s or "off"'],
           ['idempotency_ttl', '0',
            '"pdf_report_idempotency_ttl" must be at least 1s'],
           ['idempotency_ttl', 'a-day',
            '"pdf_report_idempotency_ttl" directive invalid value'],
           ['erase_on_revoke', 'yes',
            'invalid value "yes" in "pdf_report_erase_on_revoke" directive, '
            . 'it must be "on" or "off"'])
{
    my ($name, $value, $msg, $at) = @$t;

    refused({
        name => "pdf_report_$name $value",
        set  => { $name => $value },
        msg  => $msg,
        at   => $at // qr/pdf_report_$name /,
    });
}

refused({
    name     => 'pdf_report_url_ttl 0 is refused without pdf_report_api too',
    set      => { url_ttl => '0' },
    location => 'location / { return 204; }',
    msg      => '"pdf_report_url_ttl" must be between 1s and 7d, the limits '
                . 'of S3 pre-signed URLs',
    at       => qr/pdf_report_url_ttl /,
});


# ---------------------------------------------------------------------
# scopes

for my $s (['create_scope', q{"write reports"}],
           ['create_scope', q{'write"reports'}],
           ['read_scope', q{"read\\\\reports"}],
           ['read_scope', qq{"read:r\xc3\xa9ports"}],
           ['read_scope', q{""}])
{
    my ($name, $value) = @$s;

    # a scope-token is at least one character (RFC 6749 3.3): "" would
    # otherwise turn the check off as "off" does, without saying so
    refused({
        name => "pdf_report_$name $value",
        set  => { $name => $value },
        msg  => "\"pdf_report_$name\" directive must be a scope token "
                . '(RFC 6749 scope-token) or "off"',
        at   => qr/pdf_report_$name /,
    });
}


# ---------------------------------------------------------------------
# pdf_report_api

refused({
    name     => 'pdf_report_api in a regex location',
    location => 'location ~ ^/v1/document/api { pdf_report_api; }',
    msg      => '"pdf_report_api" directive cannot be used in a regex '
                . 'location',
    at       => qr/pdf_report_api;/,
});

refused({
    name     => 'pdf_report_api in a case-insensitive regex location',
    location => 'location ~* ^/v1/document/api { pdf_report_api; }',
    msg      => '"pdf_report_api" directive cannot be used in a regex '
                . 'location',
    at       => qr/pdf_report_api;/,
});

refused({
    name     => 'pdf_report_api in a named location',
    location => 'location @api { pdf_report_api; }',
    msg      => '"pdf_report_api" directive needs a prefix location',
    at       => qr/pdf_report_api;/,
});

# an exact-match location would only ever see the collection path
refused({
    name     => 'pdf_report_api in an exact-match location',
    location => 'location = /v1/document/api { pdf_report_api; }',
    msg      => '"pdf_report_api" directive needs a prefix location',
    at       => qr/pdf_report_api;/,
});

refused({
    name     => 'pdf_report_api with an argument',
    location => 'location /v1/document/api { pdf_report_api on; }',
    msg      => 'invalid number of arguments in "pdf_report_api" directive',
    at       => qr/pdf_report_api on;/,
});

refused({
    name     => 'pdf_report_api in an "if" block',
    location => 'location /v1/document/api { if ($arg_x) { '
                . 'pdf_report_api; } }',
    msg      => '"pdf_report_api" directive is not allowed here',
    at       => qr/pdf_report_api;/,
});


# ---------------------------------------------------------------------
# duplicates: every directive, the second occurrence is named

my %dup_value = (
    store          => '@TMP@/store2',
    users          => '@DATA@/users.jsonl',
    jwt_keys       => '@DATA@/jwks.json',
    jwt_issuer     => 'https://other.test/',
    jwt_audience   => 'other',
    jwt_org_claim  => 'org',
    jwt_leeway     => '10s',
    create_scope   => 'write:x',
    read_scope     => 'off',
    rate_limit     => 'off',
    thread_pool    => 'pdf_report',
    store_thread_pool => 'pdf_report',
    job_timeout    => '1m',
    job_lease      => '10s',
    scan_interval  => '2s',
    worker_jobs    => '4',
    url_ttl        => '60s',
    jwt_cache      => '16',
    s3_endpoint    => 'http://127.0.0.1:10',
    s3_region      => 'eu-west-1',
    s3_bucket      => 'other',
    s3_prefix      => 'x/',
    s3_path_style  => 'off',
    s3_credentials => '@DATA@/aws-credentials',
    fonts          => '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf '
                      . '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
    retention      => '7d',
    erase_on_revoke => 'off',
);

for my $name (sort keys %dup_value) {
    my %first = (
        jwt_org_claim => 'org_id', jwt_leeway => '30s', jwt_cache => '1024',
        create_scope => 'write:reports', read_scope => 'read:reports',
        rate_limit => '10 10m', job_timeout => '5m', job_lease => '30s',
        scan_interval => '1s', worker_jobs => '8', url_ttl => '300s',
        s3_region => 'us-east-1', s3_prefix => 'reports/',
        s3_path_style => 'on', fonts => $dup_value{fonts},
        store_thread_pool => 'pdf_report', retention => '30d',
        erase_on_revoke => 'on',
    );

    refused({
        name => "pdf_report_$name twice",
        set  => exists $first{$name} ? { $name => $first{$name} } : {},
        http => "    pdf_report_$name $dup_value{$name};  # again\n",
        msg  => "\"pdf_report_$name\" directive is duplicate",
        at   => qr/# again$/,
    });
}

refused({
    name     => 'pdf_report_api twice in one location',
    location => 'location /v1/document/api { pdf_report_api; '
                . 'pdf_report_api; }',
    msg      => '"pdf_report_api" directive is duplicate',
    at       => qr/pdf_report_api;/,
});


# ---------------------------------------------------------------------
# thread pool, fonts

refused({
    name => 'pdf_report_thread_pool naming a pool that does not exist',
    set  => { thread_pool => 'nosuch' },
    msg  => 'unknown thread pool "nosuch" in @CONF@:@LINE@',
    at   => qr/pdf_report_thread_pool /,
});

refused({
    name => 'pdf_report_store_thread_pool naming a pool that does not exist',
    set  => { store_thread_pool => 'nosuch' },
    msg  => 'unknown thread pool "nosuch" in @CONF@:@LINE@',
    at   => qr/pdf_report_store_thread_pool /,
});

accepted({
    name => 'the store writes in a pool of their own',
    main => "thread_pool pdf_report threads=2;\n"
            . "thread_pool pdf_report_store threads=1;\n",
    set  => { store_thread_pool => 'pdf_report_store' },
});

refused({
    name => 'pdf_report_fonts: neither file exists',
    set  => { fonts => '/nope.ttf /nope-bold.ttf' },
    msg  => 'cannot read the report fonts "/nope.ttf" and "/nope-bold.ttf" '
            . $ENOENT,
    at   => qr/pdf_report_fonts /,
});

refused({
    name => 'pdf_report_fonts: the bold one does not exist',
    set  => { fonts => '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf '
                       . '/nope-bold.ttf' },
    msg  => 'cannot read the report fonts '
            . '"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" and '
            . "\"/nope-bold.ttf\" $ENOENT",
    at   => qr/pdf_report_fonts /,
});

refused({
    name => 'pdf_report_fonts with one argument',
    set  => { fonts => '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf' },
    msg  => 'invalid number of arguments in "pdf_report_fonts" directive',
    at   => qr/pdf_report_fonts /,
});


# ---------------------------------------------------------------------
# contexts

refused({
    name => 'pdf_report_api at http level',
    http => "    pdf_report_api;\n",
    msg  => '"pdf_report_api" directive is not allowed here',
    at   => qr/^    pdf_report_api;$/,
});

refused({
    name   => 'pdf_report_api at server level',
    server => "        pdf_report_api;\n",
    msg    => '"pdf_report_api" directive is not allowed here',
    at     => qr/^        pdf_report_api;$/,
});

refused({
    name   => 'pdf_report_store in a server block',
    set    => { store => undef },
    server => "        pdf_report_store \@TMP\@/store;\n",
    msg    => '"pdf_report_store" directive is not allowed here',
    at     => qr/pdf_report_store /,
});

refused({
    name     => 'pdf_report_users in a location',
    set      => { users => undef },
    location => 'location /v1/document/api { pdf_report_api; '
                . 'pdf_report_users @DATA@/users.jsonl; }',
    msg      => '"pdf_report_users" directive is not allowed here',
    at       => qr/pdf_report_users /,
});

refused({
    name => 'pdf_report_store in the main context',
    main => "thread_pool pdf_report threads=2;\n"
            . "pdf_report_store \@TMP\@/store;\n",
    set  => { store => undef },
    msg  => '"pdf_report_store" directive is not allowed here',
    at   => qr/^pdf_report_store /,
});


# ---------------------------------------------------------------------
# the S3 bucket and region (contract section 2: the bucket is required)

refused({
    name => 'pdf_report_s3_bucket ""',
    set  => { s3_bucket => '""' },
    msg  => 'invalid S3 bucket ""',
    at   => qr/pdf_report_s3_bucket /,
});

refused({
    name => 'pdf_report_s3_bucket not a DNS label with path_style off',
    set  => { s3_bucket => 'Sqr_Reports', s3_path_style => 'off' },
    msg  => 'invalid S3 bucket "Sqr_Reports": with '
            . '"pdf_report_s3_path_style off" it must be a DNS name',
    at   => 'http_end',
});

refused({
    name => 'pdf_report_s3_region ""',
    set  => { s3_region => '""' },
    msg  => 'invalid S3 region ""',
    at   => qr/pdf_report_s3_region /,
});


done_testing();
