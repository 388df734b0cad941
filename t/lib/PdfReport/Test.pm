package PdfReport::Test;

# What the module's Test::Nginx files share: the local S3 server (s3rver,
# which checks SigV4) started once per file, a "black hole" TCP server for
# an S3 that never answers, the default configuration, tokens minted by
# Crypt::JWT, and a small HTTP client for hooks that drive a job through
# its steps while nginx runs.
#
#   use PdfReport::Test;     # after Test::Nginx::Socket; starts s3rver
#
#   --- http_config eval: PdfReport::Test::http_config(rate_limit => '3 10m')
#   --- more_headers eval: PdfReport::Test::auth()
#
# Everything here is written for both the real Test::Nginx and the
# bundled runner in t/lib/Test/Nginx.

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Socket ();
use JSON::PP;
use POSIX ();
use Time::HiRes ();
use PdfReport::Token;
use PdfReport::Record;
use PdfReport::Backend;
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);

use Exporter 'import';
our @EXPORT_OK = qw(token auth api json wait_job s3_get restart_nginx
                    s3_object s3_keys s3_key s3_revoke);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $DATA = "$ROOT/t/data";
our ($S3_PORT, $HOLE_PORT);

my @children;
my $parent = $$;

$ENV{TEST_NGINX_DATA} = $DATA;


# the local S3 server, on a free port, for the whole .t file

sub start_s3 {
    my $dir = tempdir('pdf-report-s3-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec 'node', "$ROOT/tools/s3rver.js", '--port', '0',
             '--bucket', 'sqr-reports', '--directory', $dir, '--admin'
            or die "exec node: $!";
    }

    my $line = <$out>;

    if (!defined $line || $line !~ /listening on [\d.]+:(\d+)/) {
        die "s3rver did not start: " . ($line // '(no output)');
    }

    push @children, [$pid, $out];

    return $1;
}


# accepts connections and never answers: an S3 that hangs

sub start_black_hole {
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Listen => 64, ReuseAddr => 1)
        or die "black hole: $!";
    my $port = $srv->sockport;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        my @held;
        while (my $c = $srv->accept) {
            push @held, $c;
        }
        POSIX::_exit(0);
    }

    close $srv;
    push @children, [$pid];

    return $port;
}


# A TCP proxy in front of s3rver whose behaviour a test switches while
# nginx runs: "pass" relays to the real server, "hang" accepts and never
# answers, "close" drops the connection at once, "reset" reads part of
# the request and resets the connection, "slow:MS" relays but holds the
# answer MS milliseconds, "stall:MS" holds the request MS milliseconds
# before it relays it (S3 gets it late), "reply:STATUS:CODE" answers with
# an S3 XML error.  The mode file may hold several lines: each connection
# takes the first, and removes it while more than one is left, so
# "reply:500:X" twice then "pass" fails two attempts and lets the third
# through.

sub start_proxy {
    my ($target) = @_;

    my $dir = tempdir('pdf-report-proxy-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Listen => 128, ReuseAddr => 1)
        or die "proxy: $!";
    my $port = $srv->sockport;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        # its own group: the held connections go when the group is killed
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';

        while (my $c = $srv->accept) {
            my $mode = 'pass';

            if (open my $fh, '<', "$dir/mode") {
                my @modes = grep { length } map { chomp; $_ } <$fh>;
                close $fh;

                $mode = $modes[0] // 'pass';

                if (@modes > 1) {
                    shift @modes;
                    proxy_mode($dir, @modes);
                }
            }

            my $kid = fork;

            if (defined $kid && $kid == 0) {
                proxy_connection($c, $mode, $target);
                POSIX::_exit(0);
            }

            close $c;
        }

        POSIX::_exit(0);
    }

    close $srv;
    push @children, [$pid, undef, 'group'];

    return ($port, $dir);
}


sub proxy_connection {
    my ($c, $mode, $target) = @_;

    if ($mode eq 'hang') {
        sleep 3600;
        return;
    }

    if ($mode eq 'close') {
        close $c;
        return;
    }

    if ($mode eq 'reset') {
        sysread($c, my $buf, 100);
        # SO_LINGER 0: close() sends RST, as a dying peer would
        setsockopt($c, Socket::SOL_SOCKET(), Socket::SO_LINGER(),
                   pack('ii', 1, 0));
        close $c;
        return;
    }

    if ($mode =~ /^reply:(\d+):(\w+)$/) {
        my ($status, $code) = ($1, $2);
        my $body = qq{<?xml version="1.0" encoding="UTF-8"?>\n}
                   . qq{<Error><Code>$code</Code>}
                   . qq{<Message>injected by the test proxy</Message></Error>};

        # read the request head before answering, as S3 does
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            my $n = sysread($c, my $buf, 65536);
            last unless $n;
            $head .= $buf;
        }

        syswrite($c, "HTTP/1.1 $status Injected\r\n"
                     . "Content-Type: application/xml\r\n"
                     . "Content-Length: " . length($body) . "\r\n"
                     . "Connection: close\r\n\r\n$body");
        close $c;
        return;
    }

    my $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                   PeerPort => $target)
        or return;

    my $delay = $mode =~ /^slow:(\d+)$/ ? $1 / 1000 : 0;

    Time::HiRes::sleep($1 / 1000) if $mode =~ /^stall:(\d+)$/;

    require IO::Select;
    my $sel = IO::Select->new($c, $up);

    while (1) {
        for my $fh ($sel->can_read) {
            my $n = sysread($fh, my $buf, 65536);
            return unless $n;

            if ($fh == $up && $delay) {
                Time::HiRes::sleep($delay);
                $delay = 0;
            }

            syswrite($fh == $c ? $up : $c, $buf);
        }
    }
}


sub proxy_mode {
    my ($dir, @modes) = @_;

    open my $fh, '>', "$dir/mode.$$" or die "proxy mode: $!";
    print $fh map { "$_\n" } @modes;
    close $fh;
    rename "$dir/mode.$$", "$dir/mode" or die "proxy mode: $!";
}


# A throw-away CA and a certificate for 127.0.0.1 and localhost signed by
# it, made with openssl once per .t file, for the servers the module must
# verify (a JWKS over https).  Returns their directory: ca.pem,
# server.pem, server.key.  The CA is in no trust store: nginx is told
# about it (ca= of pdf_report_jwt_keys) or refuses the server.

my $TLS_DIR;

sub tls_ca {
    return $TLS_DIR if defined $TLS_DIR;

    my $dir = tempdir('pdf-report-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
              '-nodes');

    open my $ext, '>', "$dir/server.ext" or die "server.ext: $!";
    print $ext "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
               . "basicConstraints = CA:FALSE\n"
               . "extendedKeyUsage = serverAuth\n";
    close $ext;

    for my $cmd (
        ['req', '-x509', @ec, '-keyout', "$dir/ca.key", '-out',
         "$dir/ca.pem", '-days', '2', '-subj', '/CN=pdf-report test CA'],
        ['req', '-new', @ec, '-keyout', "$dir/server.key", '-out',
         "$dir/server.csr", '-subj', '/CN=127.0.0.1'],
        ['x509', '-req', '-in', "$dir/server.csr", '-CA', "$dir/ca.pem",
         '-CAkey', "$dir/ca.key", '-CAcreateserial', '-days', '2',
         '-extfile', "$dir/server.ext", '-out', "$dir/server.pem"],
    ) {
        system("openssl @{[ map { quotemeta } @$cmd ]} >/dev/null 2>&1") == 0
            or die "openssl @$cmd[0 .. 1] failed";
    }

    return $TLS_DIR = $dir;
}


# An HTTP(S) server of a JWKS, for "pdf_report_jwt_keys <url>": every GET
# is answered with the file jwks.json of its directory as it is at that
# moment (jwks_serve() rotates the keys by switching it), and logged as a
# line of the file "fetches" (jwks_fetches()).  jwks_mode() changes the
# answer: "serve" (the default), "status:N" (an error page of status N).
#
#   my ($port, $dir) = start_jwks_server(tls => 1, port => $p, dir => $d);
#
# https by default, with the certificate of tls_ca(); port: a given one
# (a test starts the server late on the port nginx was told); dir: one
# made by an earlier call or by jwks_dir().

sub jwks_dir {
    return tempdir('pdf-report-jwks-XXXXXX', TMPDIR => 1, CLEANUP => 1);
}

sub start_jwks_server {
    my (%o) = @_;

    my $dir = $o{dir} // jwks_dir();
    my $tls = $o{tls} // 1;
    my %listen = (LocalAddr => '127.0.0.1', LocalPort => $o{port} // 0,
                  Listen => 16, ReuseAddr => 1);
    my $srv;

    if ($tls) {
        require IO::Socket::SSL;
        my $ca = tls_ca();

        # Timeout: a client that stalls its handshake holds nobody long
        $srv = IO::Socket::SSL->new(%listen, SSL_server => 1, Timeout => 5,
                                    SSL_cert_file => "$ca/server.pem",
                                    SSL_key_file => "$ca/server.key")
            or die "jwks server: $! $IO::Socket::SSL::SSL_ERROR";
    } else {
        $srv = IO::Socket::INET->new(%listen) or die "jwks server: $!";
    }

    my $port = $srv->sockport;
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        while (1) {
            # undef: a handshake the client refused (an unknown CA)
            my $c = $srv->accept or next;
            jwks_answer($c, $dir);
            close $c;
        }
    }

    close $srv;
    push @children, [$pid];

    return ($port, $dir);
}


sub jwks_answer {
    my ($c, $dir) = @_;

    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($c, my $buf, 8192);
        last unless $n;
        $head .= $buf;
    }

    my ($method, $target) = $head =~ m{^(\S+) (\S+)} or return;

    if (open my $log, '>>', "$dir/fetches") {
        printf $log "%.3f %s %s\n", Time::HiRes::time(), $method, $target;
        close $log;
    }

    my $mode = 'serve';
    if (open my $fh, '<', "$dir/mode") {
        $mode = <$fh> // 'serve';
        chomp $mode;
        close $fh;
    }

    my ($status, $body) = (200, '');

    if ($mode =~ /^status:(\d+)$/) {
        ($status, $body) = ($1, "injected by the test server\n");
    } elsif (open my $fh, '<', "$dir/jwks.json") {
        local $/;
        $body = <$fh> // '';
        close $fh;
    } else {
        ($status, $body) = (404, "no jwks.json\n");
    }

    print $c "HTTP/1.1 $status Test\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\n"
             . "Connection: close\r\n\r\n$body";
}


# the JWKS (text) of the public halves of test keys, each with its name
# as kid; a kid => name pair renames one
sub jwks_of {
    my (@keys) = @_;
    my @jwk;

    for my $k (@keys) {
        my ($kid, $name) = ref $k ? @$k : ($k, $k);
        my $jwk = PdfReport::Token::private_key($name)
                      ->export_key_jwk('public', 1);
        push @jwk, { %$jwk, kid => $kid, use => 'sig' };
    }

    return JSON::PP->new->canonical->encode({ keys => \@jwk });
}


# what the server answers from now on (a JWKS text, e.g. of jwks_of())
sub jwks_serve {
    my ($dir, $text) = @_;

    open my $fh, '>', "$dir/jwks.json.$$" or die "jwks: $!";
    print $fh $text;
    close $fh;
    rename "$dir/jwks.json.$$", "$dir/jwks.json" or die "jwks: $!";
}


sub jwks_mode {
    my ($dir, $mode) = @_;

    open my $fh, '>', "$dir/mode.$$" or die "jwks mode: $!";
    print $fh "$mode\n";
    close $fh;
    rename "$dir/mode.$$", "$dir/mode" or die "jwks mode: $!";
}


# the times of the GETs the server answered so far (how many, in scalar
# context)
sub jwks_fetches {
    my ($dir) = @_;
    my @t;

    if (open my $fh, '<', "$dir/fetches") {
        @t = map { /^([\d.]+) GET / ? $1 : () } <$fh>;
        close $fh;
    }

    return wantarray ? @t : scalar @t;
}


# A webhook receiver (tools/webhook-receiver.js): every delivery checked
# by the Standard Webhooks reference library, not by the module's code.
# Returns ($port, $dir); tls => 1: https, with tls_ca()'s certificate;
# dir => a directory (another receiver's: one log for both).
# receiver_secret() says what a path's deliveries
# must be signed with, receiver_mode() how it answers, receiver_log() what
# it got (a list of hashes: path, id, timestamp, signature, verified,
# error, status, at, body).

sub start_receiver {
    my (%o) = @_;
    my $dir = $o{dir}
              // tempdir('pdf-report-hooks-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @tls = $o{tls} ? ('--tls', tls_ca()) : ();

    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec 'node', "$ROOT/tools/webhook-receiver.js", $dir, '--port', '0',
             @tls
            or die "exec node: $!";
    }

    my $line = <$out>;

    if (!defined $line || $line !~ /listening on [\d.]+:(\d+)/) {
        die "webhook receiver did not start: " . ($line // '(no output)');
    }

    push @children, [$pid, $out];

    return ($1, $dir);
}

sub receiver_secret {
    my ($dir, %secrets) = @_;

    open my $fh, '>', "$dir/secrets.json.$$" or die "secrets: $!";
    print $fh JSON::PP->new->canonical->encode(\%secrets);
    close $fh;
    rename "$dir/secrets.json.$$", "$dir/secrets.json" or die "secrets: $!";
}

sub receiver_mode {
    my ($dir, $name, @modes) = @_;

    open my $fh, '>', "$dir/mode.$name.$$" or die "mode: $!";
    print $fh map { "$_\n" } @modes;
    close $fh;
    rename "$dir/mode.$name.$$", "$dir/mode.$name" or die "mode: $!";
}

sub receiver_log {
    my ($dir) = @_;
    my @got;

    if (open my $fh, '<', "$dir/log") {
        @got = map { JSON::PP::decode_json($_) } grep { /\S/ } <$fh>;
        close $fh;
    }

    return @got;
}

# polls until the receiver has n deliveries (or timeout s); returns them
sub receiver_wait {
    my ($dir, $n, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 20);
    my @got;

    while (Time::HiRes::time() < $deadline) {
        @got = receiver_log($dir);
        last if @got >= $n;
        Time::HiRes::sleep(0.1);
    }

    return @got;
}


END {
    # waitpid() and closing the pipe set $?, the test's exit status
    local $?;

    if ($$ == $parent) {
        for my $c (@children) {
            kill $c->[2] ? '-TERM' : 'TERM', $c->[0];
            close $c->[1] if $c->[1];
            waitpid $c->[0], 0;
        }
    }
}


# the bundled runner hands its responses to the recorder of
# t/99-openapi.t; the real Test::Nginx has no such hook (api() records)
Test::Nginx::Socket::add_response_recorder(\&PdfReport::Record::runner_response)
    if Test::Nginx::Socket->can('add_response_recorder');


our ($PROXY_PORT, $PROXY_DIR);

$S3_PORT = start_s3();
$HOLE_PORT = start_black_hole();
($PROXY_PORT, $PROXY_DIR) = start_proxy($S3_PORT);
$ENV{TEST_NGINX_S3_PORT} = $S3_PORT;
$ENV{TEST_NGINX_HOLE_PORT} = $HOLE_PORT;
$ENV{TEST_NGINX_PROXY_PORT} = $PROXY_PORT;


# the main context every block shares: the pool the module renders in,
# and one for the store's writes, so that a render stuck on S3 never
# holds up step 1

sub main_config {
    my (%o) = @_;
    my $threads = $o{threads} // 2;
    return "thread_pool pdf_report threads=$threads max_queue=64;\n"
           . "thread_pool pdf_report_store threads=1 max_queue=65536;\n";
}


# http{} directives of the module; any of them can be overridden, and an
# undef value leaves that directive out.  The store is an LMDB directory
# under the server root, or under PDF_REPORT_STORE=postgresql a new
# database of pg_cluster() (PdfReport::Backend)

sub http_config {
    my (%o) = @_;

    my $root = $ENV{TEST_NGINX_SERVER_ROOT} // abs_path('t') . '/servroot';

    # PDF_REPORT_STORE=postgresql: a new database for each block
    my $store = exists $o{store} ? undef
                : PdfReport::Backend::postgresql() ? pg_database()
                : "$root/pdf_report_temp size=16m";

    my @d = (
        [store          => $store],
        [users          => "$DATA/users.jsonl"],
        [jwt_keys       => "$DATA/jwks-api.json"],
        [jwt_issuer     => 'https://auth.sqr.test/'],
        [jwt_audience   => 'pdf-report'],
        [thread_pool    => 'pdf_report'],
        [store_thread_pool => 'pdf_report_store'],
        [s3_endpoint    => "http://127.0.0.1:$S3_PORT"],
        [s3_bucket      => 'sqr-reports'],
        [s3_credentials => "$DATA/aws-credentials"],
    );

    my %seen;
    my $text = '';

    for my $d (@d) {
        my ($name, $value) = @$d;
        $value = $o{$name} if exists $o{$name};
        $seen{$name} = 1;
        $text .= sprintf("    pdf_report_%-15s %s;\n", $name, $value)
            if defined $value;
    }

    for my $name (sort keys %o) {
        next if $seen{$name} || $name eq 'extra';
        $text .= sprintf("    pdf_report_%-15s %s;\n", $name, $o{$name})
            if defined $o{$name};
    }

    $text .= $o{extra} if defined $o{extra};

    return $text;
}


# blocks without their own sections get the defaults above, and every
# block fails on an [alert], [crit] or [emerg] line unless it says more

sub use_defaults {
    my (%o) = @_;

    main::add_block_preprocessor(sub {
        my ($block) = @_;

        $block->set_value(main_config => main_config())
            unless defined $block->main_config;

        $block->set_value(http_config => http_config())
            unless defined $block->http_config;
        $block->set_value(config =>
                          "location /v1/document/api { pdf_report_api; }")
            unless defined $block->config;
        $block->set_value(no_error_log => "[alert]\n[crit]\n[emerg]")
            unless defined $block->no_error_log;

        # under make test-asan: a binary upgrade must pass the sanitizer
        # runtime on (nginx gives a new binary only the "env" it is
        # told, and UBSan reads its options at its first report), and a
        # report in the error log fails the block
        if ($ENV{PDF_REPORT_SANITIZE}) {
            $block->set_value(main_config => $block->main_config
                              . "env LD_PRELOAD;\nenv ASAN_OPTIONS;\n"
                              . "env UBSAN_OPTIONS;\n");

            my $no = $block->no_error_log;
            $no =~ s/\n+\z// if defined $no && !ref $no;
            my @san = ('AddressSanitizer', 'runtime error:');

            $block->set_value(no_error_log =>
                              ref $no eq 'ARRAY' ? [@$no, @san]
                              : defined $no ? join("\n", $no, @san)
                              : join("\n", @san));
        }
    });
}


# a block with "--- flow: name" runs main::name($block, $body, $req_idx)
# after each of its responses, while nginx is still up: the place for
# steps that depend on earlier answers (job ids, URLs)

sub use_flows {
    main::add_response_body_check(sub {
        my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;

        my $flow = $block->flow;
        return if !defined $flow || $dry_run;

        chomp $flow;
        my $code = main->can($flow) or die "no flow sub main::$flow";

        $code->($block, $body, $req_idx);
    });
}


sub token {
    return PdfReport::Token::mint(@_);
}


# an Authorization header line for more_headers

sub auth {
    return 'Authorization: Bearer ' . token(@_);
}


sub json {
    my ($text) = @_;
    my $v = eval { JSON::PP->new->decode($text) };
    return $v;
}


# one request to the nginx under test: (status, headers, body, json)

sub api {
    my ($method, $path, %o) = @_;

    my $port = $o{port} // $ENV{TEST_NGINX_SERVER_PORT};
    my %h = %{ $o{headers} // {} };

    if (exists $o{token}) {
        $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    } else {
        $h{Authorization} = 'Bearer ' . token();
    }

    my %req = (headers => \%h);

    if (defined $o{body}) {
        $req{content} = ref $o{body} ? encode_json($o{body}) : $o{body};
        $h{'Content-Type'} //= 'application/json';
    }

    my $res = HTTP::Tiny->new(timeout => $o{timeout} // 10)
        ->request($method, "http://127.0.0.1:$port$path", \%req);

    # 599: HTTP::Tiny's own error, no answer of nginx
    if ($res->{status} != 599) {
        PdfReport::Record::response(source => 'api', method => $method,
                                    target => $path, port => $port,
                                    request => ["$method $path HTTP/1.1",
                                                map { "$_: $h{$_}" }
                                                keys %h],
                                    status => $res->{status},
                                    headers => $res->{headers},
                                    body => $res->{content});
    }

    return ($res->{status}, $res->{headers}, $res->{content},
            json($res->{content}));
}


# poll step 2 until the job is terminal; returns its last JSON

sub wait_job {
    my ($id, %o) = @_;

    my $deadline = Time::HiRes::time() + ($o{timeout} // 20);
    my $job;

    while (Time::HiRes::time() < $deadline) {
        my ($status, undef, undef, $j) =
            api(GET => "/v1/document/api/$id", %o);

        $job = $j if $status == 200;

        return $job if $job && $job->{status} =~ /^(?:COMPLETE|FAILED)$/;

        Time::HiRes::sleep(0.1);
    }

    return $job;
}


# a GET of a full URL (the pre-signed S3 one)

sub s3_get {
    my ($url) = @_;
    return HTTP::Tiny->new(timeout => 10)->get($url);
}


# S3's own API, straight to the S3 server (not through the proxy): a
# SigV4-signed request with the test credentials (s3rver's S3RVER pair),
# for what the bucket holds whatever the module says

sub s3_request {
    my ($method, $key, %query) = @_;

    my $host = "127.0.0.1:$S3_PORT";
    my $enc = sub {
        my ($s, $keep_slash) = @_;
        $s =~ s{([^A-Za-z0-9._~/-])}{sprintf('%%%02X', ord $1)}ge;
        $s =~ s{/}{%2F}g unless $keep_slash;
        return $s;
    };
    my $path = '/sqr-reports' . (defined $key ? '/' . $enc->($key, 1) : '');
    my $query = join '&', map { $enc->($_) . '=' . $enc->($query{$_}) }
                          sort keys %query;
    my $date = POSIX::strftime('%Y%m%dT%H%M%SZ', gmtime);
    my $day = substr($date, 0, 8);
    my $payload = sha256_hex('');
    my $signed = 'host;x-amz-content-sha256;x-amz-date';
    my $canonical = join "\n", $method, $path, $query,
        "host:$host\nx-amz-content-sha256:$payload\nx-amz-date:$date\n",
        $signed, $payload;
    my $scope = "$day/us-east-1/s3/aws4_request";
    my $k = hmac_sha256($day, 'AWS4S3RVER');
    $k = hmac_sha256($_, $k) for 'us-east-1', 's3', 'aws4_request';
    my $sig = hmac_sha256_hex(join("\n", 'AWS4-HMAC-SHA256', $date, $scope,
                                   sha256_hex($canonical)), $k);

    return HTTP::Tiny->new(timeout => 10)->request(
        $method, "http://$host$path" . ($query ne '' ? "?$query" : ''),
        { headers => {
            'x-amz-date' => $date,
            'x-amz-content-sha256' => $payload,
            Authorization => "AWS4-HMAC-SHA256 Credential=S3RVER/$scope, "
                             . "SignedHeaders=$signed, Signature=$sig" } });
}


# A key pair the S3 server takes from now on, with the session token its
# requests must carry when one is given (temporary credentials); and a
# pair it refuses from now on (tools/s3rver.js --admin)

sub s3_key {
    my ($id, $secret, $token) = @_;

    my $res = HTTP::Tiny->new(timeout => 10)->request(
        PUT => "http://127.0.0.1:$S3_PORT/-/keys/$id",
        { content => encode_json({ secret => $secret,
                                   defined $token ? (token => $token)
                                                  : () }) });
    die "s3rver: key $id not added: $res->{status}"
        unless $res->{status} == 204;
}


sub s3_revoke {
    my ($id) = @_;

    my $res = HTTP::Tiny->new(timeout => 10)->request(
        DELETE => "http://127.0.0.1:$S3_PORT/-/keys/$id");
    die "s3rver: key $id not revoked: $res->{status}"
        unless $res->{status} == 204;
}


# HEAD of an object: its HTTP status (200 there, 404 gone)

sub s3_object {
    my ($key) = @_;
    return s3_request(HEAD => $key)->{status};
}


# every key of the bucket under prefix (ListObjects, page by page)

sub s3_keys {
    my ($prefix) = @_;
    my (@keys, $marker);

    while (1) {
        my $res = s3_request(GET => undef, prefix => $prefix // '',
                             defined $marker ? (marker => $marker) : ());
        die "ListObjects: $res->{status} $res->{content}"
            unless $res->{status} == 200;

        my @page = $res->{content} =~ m{<Key>([^<]*)</Key>}g;
        s/&amp;/&/g, s/&lt;/</g, s/&gt;/>/g, s/&quot;/"/g, s/&apos;/'/g
            for @page;
        push @keys, @page;

        last unless $res->{content} =~ m{<IsTruncated>true</IsTruncated>}
                    && @page;
        $marker = $page[-1];
    }

    return @keys;
}


# stop nginx (SIGKILL to master and workers by default, or a graceful
# QUIT) and start it again on the same configuration

sub restart_nginx {
    my (%o) = @_;

    my $root = $ENV{TEST_NGINX_SERVER_ROOT};
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $signal = $o{signal} // 'KILL';

    open my $fh, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;

    my @pids = ($master, nginx_children($master));
    kill $signal, @pids;

    # under TEST_NGINX_USE_VALGRIND the master is the runner's child: it
    # is reaped here, or it would linger as a zombie that kill 0 finds
    my $deadline = Time::HiRes::time() + 30;
    while (Time::HiRes::time() < $deadline
           && grep { waitpid($_, POSIX::WNOHANG()); kill 0, $_ } @pids)
    {
        Time::HiRes::sleep(0.05);
    }

    unlink "$root/logs/nginx.pid";

    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        # in the foreground (daemon off) inside valgrind, as the runner
        # starts it; the runner stops it at the end of the block
        my $pid = fork // die "fork: $!";

        if ($pid == 0) {
            exec 'valgrind', '-q', '--tool=memcheck', '--leak-check=full',
                 '--show-possibly-lost=no', '--num-callers=100',
                 (-f 'valgrind.suppress'
                  ? ('--suppressions=valgrind.suppress') : ()),
                 $bin, '-p', "$root/", '-c', "$root/conf/nginx.conf"
                or POSIX::_exit(127);
        }

    } else {
        system($bin, '-p', "$root/", '-c', "$root/conf/nginx.conf") == 0
            or die "nginx did not start again";
    }

    # the daemon writes its pid file after the starting process has
    # returned, and valgrind starts slowly: callers read the file next
    $deadline = Time::HiRes::time() + 30;
    while (Time::HiRes::time() < $deadline && !-s "$root/logs/nginx.pid") {
        Time::HiRes::sleep(0.05);
    }

    # ready when it answers
    $deadline = Time::HiRes::time() + ($ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 10);
    while (Time::HiRes::time() < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $ENV{TEST_NGINX_SERVER_PORT});
        last if $s;
        Time::HiRes::sleep(0.05);
    }
}


# A second edge: this block's nginx.conf under a prefix of its own, on
# another port, with the same store (a PostgreSQL database).  Returns
# { port, root, master }; stop_edge() stops it, and so does the end of
# the test process.

my @edges;

sub start_edge {
    my $root = $ENV{TEST_NGINX_SERVER_ROOT};
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $port = free_port();
    my $dir = tempdir('pdf-report-edge-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    mkdir "$dir/$_" or die "$dir/$_: $!" for qw(conf logs html);
    system('cp', '-a', "$root/html/.", "$dir/html/") == 0 or die "cp";

    open my $in, '<', "$root/conf/nginx.conf" or die "nginx.conf: $!";
    my $conf = do { local $/; <$in> };
    close $in;

    my $port_a = $ENV{TEST_NGINX_SERVER_PORT};
    $conf =~ s/\Q$root\E/$dir/g;
    $conf =~ s/(\blisten\s+(?:127\.0\.0\.1:)?)$port_a\b/$1$port/g;

    open my $out, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $out $conf;
    close $out;

    system($bin, '-p', "$dir/", '-c', "$dir/conf/nginx.conf") == 0
        or die "the second edge did not start";

    my $deadline = Time::HiRes::time() + 10;
    my $master;
    while (Time::HiRes::time() < $deadline) {
        if (open my $fh, '<', "$dir/logs/nginx.pid") {
            $master = <$fh>;
            chomp $master if defined $master;
            last if $master
                    && IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                             PeerPort => $port);
        }
        Time::HiRes::sleep(0.05);
    }

    die "the second edge does not answer" unless $master;

    my $edge = { port => $port, root => $dir, master => $master };
    push @edges, $edge;

    return $edge;
}

sub stop_edge {
    my ($edge) = @_;
    return unless $edge->{master};

    my @pids = ($edge->{master}, nginx_children($edge->{master}));
    kill 'QUIT', $edge->{master};

    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline && grep { kill 0, $_ } @pids) {
        Time::HiRes::sleep(0.05);
    }

    kill 'KILL', grep { kill 0, $_ } @pids;
    $edge->{master} = 0;
}

END {
    local $?;

    # the helpers' forked servers end too: only the test process stops
    if ($$ == $parent) {
        stop_edge($_) for @edges;
    }
}


sub nginx_children {
    my ($ppid) = @_;
    my @kids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        close $fh;
        # under valgrind the process is named after its tool
        push @kids, $1
            if $line =~ /^(\d+) \((?:nginx|memcheck-amd64-)\) \S (\d+)/
               && $2 == $ppid;
    }

    return @kids;
}


# a TCP port nothing listens on right now

# A PostgreSQL cluster of the helpers' own (tools/pg-test-cluster: initdb
# in a temporary directory as the postgres user, a free port), started
# once per test process and stopped when it ends; pg_database() makes a
# new database in it for each use, so that blocks share nothing.

our ($PG_DIR, $PG_URI);
my $pg_databases = 0;

sub pg_cluster {
    return $PG_URI if defined $PG_URI;

    $PG_DIR = tempdir('pdf-report-pg-XXXXXX', TMPDIR => 1);
    my $uri = `'$ROOT/tools/pg-test-cluster' start '$PG_DIR' $$`;
    chomp $uri;
    die "pg-test-cluster: no cluster\n" unless $uri =~ m{^postgresql://};

    return $PG_URI = $uri;
}

sub pg_database {
    my $base = pg_cluster();
    my $name = sprintf 'pdf_report_t%d_%d', $$, ++$pg_databases;

    pg_sql($base, qq{CREATE DATABASE "$name"});
    (my $uri = $base) =~ s{/[^/]*\z}{/$name};

    return $uri;
}

sub pg_sql {
    my ($uri, $sql) = @_;

    open my $fh, '-|', 'psql', '-X', '-q', '-t', '-A', '-v',
         'ON_ERROR_STOP=1', '-d', $uri, '-c', $sql
        or die "psql: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh or die "psql: $sql: exit " . ($? >> 8) . "\n";
    chomp $out;

    return $out;
}

# the store of the nginx under test as its nginx.conf names it: a
# PostgreSQL URI (under PDF_REPORT_STORE=postgresql), or undef for an
# LMDB directory

sub pg_store {
    my $conf = "$ENV{TEST_NGINX_SERVER_ROOT}/conf/nginx.conf";

    open my $fh, '<', $conf or die "$conf: $!";
    my ($store) = grep { defined }
                  map { /^\s*pdf_report_store\s+(\S+?);?\s/ ? $1 : undef }
                  <$fh>;
    close $fh;

    return defined $store && $store =~ m{^postgres(?:ql)?://} ? $store
                                                              : undef;
}

# the server stopped (its data kept) and started again on the same port
sub pg_down { system("'$ROOT/tools/pg-test-cluster' down '$PG_DIR'") == 0
                  or die "pg down" }
sub pg_up   { system("'$ROOT/tools/pg-test-cluster' up '$PG_DIR'") == 0
                  or die "pg up" }


sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1)
        or die "free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}


# the pids that served the requests logged with $pid in the access log

sub worker_pids {
    my (@lines) = @_;
    my %pids = map { /pid=(\d+)/ ? ($1 => 1) : () } @lines;
    return sort keys %pids;
}


1;
