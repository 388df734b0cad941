package Bench;

# What the benchmark scripts under bench/ share: Debian's nginx with the
# module on a free port (with a "return 200" floor location beside the
# API), the tests' local S3 server (PdfReport::Test starts s3rver, which
# checks SigV4) and their TEST-ONLY keys for tokens minted by Crypt::JWT,
# a user directory of any size, wrk runs with their figures parsed, and
# a process's RSS.  Nothing here asserts: the scripts print.
#
#   use lib "$FindBin::Bin/lib", "$FindBin::Bin/../t/lib";
#   use Bench;
#   my $n = Bench::nginx(workers => 2, threads => 4, users => 1000,
#                        orgs => 100);
#   my $t = Bench::token(org => 'org_0001');
#   my $r = Bench::wrk("$n->{url}/v1/document/api/$id", token => $t);
#   printf "%.0f req/s, p99 %.2f ms\n", $r->{rps}, $r->{p99_ms};
#   $n->stop;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes ();

BEGIN {
    # the test helpers start s3rver on a free port at load time
    $ENV{TEST_NGINX_SERVER_ROOT} //= '/nonexistent';
}
use PdfReport::Test ();
use PdfReport::Token ();

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $DATA = "$ROOT/t/data";
our $NGINX = $ENV{NGINX_BIN} // '/usr/sbin/nginx';
our $MODULE = $ENV{TEST_NGINX_LOAD_MODULES}
              // "$ROOT/build/nginx/objs/ngx_http_pdf_report_module.so";

my $json = JSON::PP->new->canonical;


sub org_name { sprintf 'org_%04d', $_[0] }
sub user_id  { sprintf 'USB%013d', $_[0] }


# users 1..n, user i connected to org (i - 1) % orgs + 1
sub write_users {
    my ($file, $n, $orgs) = @_;

    open my $fh, '>', $file or die "$file: $!";

    for my $i (1 .. $n) {
        my $org = org_name(($i - 1) % $orgs + 1);
        print $fh $json->encode({
            id => user_id($i), first_name => 'Bench', middle_name => undef,
            last_name => "User$i", email => "user$i\@example.com",
            phone => '+44 20 7946 0000', dob => '1988-04-12',
            address1 => '1 High Street', city => 'London',
            postcode => 'SW1A 1AA', country => 'GB',
            registration_status => 'active',
            document_overall_validation => 'PASS',
            selfie_liveness_score => 0.982, fmc_score => 0.951,
            id3_pep_sanction_result => 'CLEAR', high_level_result => 'PASS',
            created_at => '2025-01-10T09:00:00.000Z',
            connections => [{ org_id => $org,
                              organization_name => "Bench $org",
                              connection_status => 'CONNECTED',
                              data_sharing_agreed => JSON::PP::true,
                              connection_status_updated_at =>
                                  '2025-02-01T12:00:00.000Z' }],
        }), "\n";
    }

    close $fh or die "$file: $!";
}


sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "port: $!";
    return $s->sockport;
}


# nginx with the module; options:
#   workers (2), threads (4), users (100), orgs (10), store_size (256m),
#   store (an existing store directory), rate_limit ('off'),
#   worker_jobs (8), jwt_cache (4096), s3_port (the tests' s3rver),
#   store_pool (bench_store, 1 thread; "bench" shares the render pool),
#   http (extra http{} text), main (extra main-context text), floors ({ uri => body size }: "return 200"
#   locations beside the API; /floor of 200 bytes at least), pg (a
#   PostgreSQL URI: that store instead, with pg_pool connections a
#   worker (4) and as many store threads)
sub nginx {
    my (%o) = @_;

    my $dir = $o{dir} // tempdir('pdf-report-bench-XXXXXX', TMPDIR => 1,
                                 CLEANUP => 1);
    mkdir $dir;
    chmod 0755, $dir;
    mkdir "$dir/logs";

    if (!defined $o{users_file}) {
        $o{users_file} = "$dir/users.jsonl";
        write_users($o{users_file}, $o{users} // 100, $o{orgs} // 10);
    }

    my $self = bless { dir => $dir, conf => "$dir/nginx.conf",
                       port => free_port(), o => \%o }, 'Bench::Nginx';
    $self->{url} = "http://127.0.0.1:$self->{port}";

    $self->write_conf;

    system($NGINX, '-p', "$dir/", '-c', $self->{conf}) == 0
        or die "nginx did not start: " . `tail -5 $dir/logs/error.log`;

    $self->wait_up;

    return $self;
}


# a token of org (org_0001) with both scopes, alg RS256 unless named
sub token {
    my (%o) = @_;
    return PdfReport::Token::mint(
        alg => $o{alg} // 'RS256',
        claims => { org_id => $o{org} // org_name(1),
                    exp => time + ($o{ttl} // 7200) });
}


# one request: (status, decoded JSON or undef)
sub api {
    my ($n, $method, $path, %o) = @_;

    my %h = (Authorization => "Bearer $o{token}");
    my %req = (headers => \%h);

    if (defined $o{body}) {
        $req{content} = $json->encode($o{body});
        $h{'Content-Type'} = 'application/json';
    }

    my $res = ($o{http} // HTTP::Tiny->new(timeout => 30))
        ->request($method, "$n->{url}$path", \%req);

    return ($res->{status}, eval { decode_json($res->{content}) });
}


# wrk against url for duration seconds; returns rps, p50/p90/p99 in ms,
# the request count and the non-2xx count.  Options: token, duration
# (10), connections (32), threads (2), method, body; count: runs of 5 s
# until that many requests are made (the soak), summed, with the
# percentiles of the last run
sub wrk {
    my ($url, %o) = @_;

    if (defined $o{count}) {
        my %sum = (requests => 0, non2xx => 0);
        my $t0 = Time::HiRes::time();
        my $r;

        while ($sum{requests} < $o{count}) {
            $r = wrk($url, %o, count => undef, duration => 5);
            $sum{requests} += $r->{requests};
            $sum{non2xx} += $r->{non2xx};
        }

        return { %$r, %sum,
                 rps => $sum{requests} / (Time::HiRes::time() - $t0) };
    }

    my $dir = tempdir('pdf-report-wrk-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $lua = "$dir/bench.lua";

    open my $fh, '>', $lua or die "$lua: $!";
    print $fh "wrk.method = '" . ($o{method} // 'GET') . "'\n";
    print $fh "wrk.headers['Authorization'] = 'Bearer $o{token}'\n"
        if defined $o{token};
    if (defined $o{body}) {
        print $fh "wrk.headers['Content-Type'] = 'application/json'\n";
        print $fh "wrk.body = '$o{body}'\n";
    }
    close $fh;

    my $cmd = sprintf "wrk -t%d -c%d -d%ds --latency -s %s '%s' 2>&1",
                      $o{threads} // 2, $o{connections} // 32,
                      $o{duration} // 10, $lua, $url;
    return run_wrk($cmd, $o{nginx});
}


# a wrk command's figures, with the CPU a request of nginx's workers when
# nginx (a Bench::Nginx) is given
sub run_wrk {
    my ($cmd, $nginx) = @_;
    my @pids = $nginx ? $nginx->worker_pids : ();
    my $cpu0 = cpu_ticks(@pids);
    my $r = parse_wrk(scalar `$cmd`);
    cpu_per_request($r, $cpu0, @pids);
    return $r;
}


# user + system clock ticks of processes (/proc/PID/stat, fields 14, 15)
sub cpu_ticks {
    my $ticks = 0;
    for my $pid (@_) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my ($rest) = (scalar <$fh>) =~ /^\d+ \(.*\) (.*)/ or next;
        my @f = split ' ', $rest;
        $ticks += $f[11] + $f[12];
    }
    return $ticks;
}


# the workers' CPU time a request (cpu_us in r), since ticks0 of pids: a
# figure the other tenants of a shared machine move less than req/s
sub cpu_per_request {
    my ($r, $ticks0, @pids) = @_;
    return unless @pids && $r->{requests};
    my $hz = 100;                       # USER_HZ on Linux
    $r->{cpu_us} = (cpu_ticks(@pids) - $ticks0) / $hz * 1e6
                   / $r->{requests};
}


# the figures of wrk --latency output
sub parse_wrk {
    my ($out) = @_;
    my %r = (out => $out);

    ($r{rps}) = $out =~ /^Requests\/sec:\s+([\d.]+)/m;
    ($r{requests}) = $out =~ /^\s+(\d+) requests in/m;
    ($r{non2xx}) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    $r{non2xx} //= 0;

    for my $p (50, 90, 99) {
        my ($v, $unit) = $out =~ /^\s+$p%\s+([\d.]+)(us|ms|s)\b/m;
        $r{"p${p}_ms"} = !defined $v ? undef
                       : $unit eq 'us' ? $v / 1000
                       : $unit eq 's' ? $v * 1000 : $v;
    }

    die "wrk gave no figures:\n$out" unless defined $r{rps};

    return \%r;
}


# resident set size of a process in KiB: total, anonymous (heap: what a
# leak grows) and file-backed (the LMDB map's pages, shared)
sub rss_kb {
    my ($pid) = @_;
    my %m;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) {
        $m{$1} = $2 if /^(VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+) kB/;
    }
    return wantarray ? ($m{VmRSS}, $m{RssAnon}, $m{RssFile}) : $m{VmRSS};
}


package Bench::Nginx;

sub wait_up {
    my ($self) = @_;

    for (1 .. 200) {
        my $res = HTTP::Tiny->new(timeout => 1)->get("$self->{url}/floor");
        return if $res->{status} == 200;
        Time::HiRes::sleep(0.05);
    }

    die "nginx does not answer on $self->{url}";
}


sub write_conf {
    my ($self) = @_;
    my %o = %{ $self->{o} };
    my $dir = $self->{dir};
    my $store = $o{store} // "$dir/store";
    my $s3 = $o{s3_port} // $PdfReport::Test::S3_PORT;
    my %floors = ('/floor' => 200, %{ $o{floors} // {} });

    my $floor = join '', map {
        "        location = $_ {\n"
        . "            default_type application/json;\n"
        . "            return 200 '" . ('x' x $floors{$_}) . "';\n"
        . "        }\n"
    } sort keys %floors;

    my $conf = $self->{conf};

    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOF";
load_module $Bench::MODULE;
worker_processes @{[ $o{workers} // 2 ]};
error_log $dir/logs/error.log @{[ $o{log_level} // 'notice' ]};
pid $dir/logs/nginx.pid;
thread_pool bench threads=@{[ $o{threads} // 4 ]} max_queue=65536;
thread_pool bench_store threads=@{[ $o{pg} ? $o{pg_pool} // 4 : 1 ]} max_queue=65536;
worker_rlimit_nofile 16384;
@{[ $o{main} // '' ]}
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    pdf_report_store          @{[ $o{pg} ? "$o{pg} pool=" . ($o{pg_pool} // 4)
                                         : "$store size=" . ($o{store_size} // '256m') ]};
    pdf_report_users          $o{users_file};
    pdf_report_jwt_keys       $Bench::DATA/jwks-api.json;
    pdf_report_jwt_issuer     https://auth.sqr.test/;
    pdf_report_jwt_audience   pdf-report;
    pdf_report_jwt_cache      @{[ $o{jwt_cache} // 4096 ]};
    pdf_report_thread_pool    bench;
    pdf_report_store_thread_pool @{[ $o{store_pool} // 'bench_store' ]};
    pdf_report_rate_limit     @{[ $o{rate_limit} // 'off' ]};
    pdf_report_worker_jobs    @{[ $o{worker_jobs} // 8 ]};
    pdf_report_s3_endpoint    http://127.0.0.1:$s3;
    pdf_report_s3_bucket      sqr-reports;
    pdf_report_s3_credentials $Bench::DATA/aws-credentials;
@{[ $o{http} // '' ]}
    server {
        listen 127.0.0.1:$self->{port} backlog=4096;
        location /v1/document/api { pdf_report_api; }
$floor    }
}
EOF
    close $fh or die "$conf: $!";
}


# new settings (floors, jwt_cache ...) by a reload: new workers
sub reload {
    my ($self, %o) = @_;
    my @old = $self->worker_pids;

    $self->{o} = { %{ $self->{o} }, %o };
    $self->write_conf;
    kill 'HUP', $self->master_pid;

    # the old workers gone, the new ones answering
    for (1 .. 200) {
        last unless grep { kill 0, $_ } @old;
        Time::HiRes::sleep(0.05);
    }

    $self->wait_up;
}

sub master_pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/logs/nginx.pid" or return undef;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

sub worker_pids {
    my ($self) = @_;
    my $master = $self->master_pid;
    my @pids;
    for my $d (glob '/proc/[0-9]*') {
        open my $fh, '<', "$d/stat" or next;
        # pid (comm) state ppid ...: comm may hold spaces
        my ($pid, $ppid) = (scalar <$fh>) =~ /^(\d+) \(.*\) \S+ (\d+)/
            or next;
        push @pids, $pid if $ppid == $master;
    }
    return sort { $a <=> $b } @pids;
}

# create a job and return its id (dies on anything but 202)
sub create {
    my ($self, $user, %o) = @_;
    my ($status, $j) = Bench::api($self, POST => '/v1/document/api',
                                  body => { userId => $user }, %o);
    die "create $user: $status" unless $status == 202;
    return $j->{jobId};
}

# jobs for many users, fast: each request in one write on one keep-alive
# connection (HTTP::Tiny writes a POST's head and body apart, and the
# peer's delayed ACK then costs 40 ms a request)
sub create_many {
    my ($self, $users, %o) = @_;
    my $connect = sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $self->{port})
            or die "connect: $!";
    };
    my $s = $connect->();
    my @ids;

    for my $u (@$users) {
        my $body = qq({"userId":"$u"});
        my $req = "POST /v1/document/api HTTP/1.1\r\nHost: bench\r\n"
                  . "Authorization: Bearer $o{token}\r\n"
                  . "Content-Type: application/json\r\n"
                  . "Content-Length: " . length($body) . "\r\n\r\n$body";
        syswrite($s, $req) == length $req or die "write: $!";

        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            sysread($s, $head, 4096, length $head) or die "read: $!";
        }
        my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
        my ($len) = $head =~ /^Content-Length: (\d+)/mi;
        my ($rest) = $head =~ /\r\n\r\n(.*)\z/s;
        while (length $rest < $len) {
            sysread($s, $rest, $len - length $rest, length $rest)
                or die "read: $!";
        }
        die "create $u: $status $rest" unless $status == 202;
        push @ids, JSON::PP::decode_json($rest)->{jobId};

        # nginx ends a connection after keepalive_requests (1000)
        $s = $connect->() if $head =~ /^Connection: close/mi;
    }

    return @ids;
}

# poll ids until all are terminal; returns their last JSON records
sub wait_all {
    my ($self, $ids, %o) = @_;
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 1);
    my $deadline = Time::HiRes::time() + ($o{timeout} // 600);
    my %done;
    while (keys %done < @$ids && Time::HiRes::time() < $deadline) {
        for my $id (@$ids) {
            next if $done{$id};
            my ($status, $j) = Bench::api($self,
                                          GET => "/v1/document/api/$id",
                                          http => $http, token => $o{token});
            $done{$id} = $j
                if $j && ($j->{status} // '') =~ /^(?:COMPLETE|FAILED)$/;
        }
        Time::HiRes::sleep(0.2) if keys %done < @$ids;
    }
    return [map { $done{$_} } @$ids];
}

sub stop {
    my ($self) = @_;
    my $pid = $self->master_pid or return;
    kill 'QUIT', $pid;
    for (1 .. 100) {
        last unless kill 0, $pid;
        Time::HiRes::sleep(0.05);
    }
}

sub DESTROY { $_[0]->stop }

1;
