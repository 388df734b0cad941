package PdfReport::Record;

# Every response the suite receives from an API location, one JSON line
# each, for t/99-openapi.t, which validates them against docs/openapi.yaml
# (tools/openapi-check.js).  Two sources feed it: PdfReport::Test::api()
# (the flows' HTTP::Tiny requests) and, under the bundled runner only,
# the runner's own requests (t/lib/Test/Nginx/Socket.pm hands each
# response to add_response_recorder()).  The real Test::Nginx has no such
# hook: there only api() records.
#
# A response is an API response when the nginx under test (its
# t/servroot/conf/nginx.conf) would have served its request in a location
# with pdf_report_api: prefix locations on the port the request went to,
# "=" and regex locations as nginx chooses them.  The status page, S3 and
# anything else are not recorded.
#
# The file is <build>/openapi/responses-<pid of prove>.jsonl: every test
# file of one prove run appends to the same file (one write(2) with
# O_APPEND per line, so parallel writers do not mix), the next run starts
# a new one, and t/99-openapi.t reads the one of its own run.  Nothing is
# recorded outside a TAP harness (HARNESS_ACTIVE), unless
# PDF_REPORT_API_RECORD names the file ("" turns recording off).

use strict;
use warnings;
use Cwd qw(abs_path);
use Encode ();
use Fcntl qw(O_WRONLY O_APPEND O_CREAT);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use JSON::PP ();
use MIME::Base64 ();

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');

my $JSON = JSON::PP->new->utf8->canonical;


# the file of this prove run, or undef

sub file {
    my ($ppid) = @_;

    if (exists $ENV{PDF_REPORT_API_RECORD}) {
        my $f = $ENV{PDF_REPORT_API_RECORD};
        return length $f ? $f : undef;
    }

    return undef unless $ENV{HARNESS_ACTIVE};

    return dir() . '/responses-' . ($ppid // getppid()) . '.jsonl';
}


sub dir {
    my $build = $ENV{PDF_REPORT_BUILD} // "$ROOT/build";
    return "$build/openapi";
}


# ---- which location serves a request ----

# nginx.conf as tokens: words (quotes removed), "{", "}" and ";"

sub tokens {
    my ($text) = @_;
    my @t;

    while ($text =~ /\G\s*(?:\#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'
                     |([{};])|([^\s{};"'\#][^\s{};]*))/gcx)
    {
        my ($dq, $sq, $punct, $word) = ($1, $2, $3, $4);

        next unless defined $dq || defined $sq || defined $punct
                    || defined $word;

        push @t, $dq // $sq // $punct // $word;
    }

    return @t;
}


sub size {
    my ($v) = @_;

    return undef unless defined $v && $v =~ /^(\d+)([kKmM]?)$/;

    return $1 * (lc $2 eq 'k' ? 1024 : lc $2 eq 'm' ? 1024 * 1024 : 1);
}


# [ { ports => [...], locations => [ { op, arg, api } ], line_max } ] of
# a config; line_max: the size of large_client_header_buffers, which no
# request or header line may exceed

sub servers {
    my ($text) = @_;

    my (@servers, @stack, @words);
    my $http_line_max = 8192;

    for my $t (tokens($text)) {
        if ($t eq ';') {
            my ($name, @args) = @words;
            @words = ();
            next unless defined $name;

            if ($name eq 'large_client_header_buffers' && @stack
                && defined size($args[1]))
            {
                if ($stack[-1]{kind} eq 'server') {
                    $stack[-1]{server}{line_max} = size($args[1]);
                } elsif ($stack[-1]{name} eq 'http') {
                    $http_line_max = size($args[1]);
                }
            }

            my ($ctx) = grep { $_->{kind} ne 'other' } reverse @stack;
            next unless $ctx;

            if ($ctx->{kind} eq 'server' && $name eq 'listen' && @args
                && $args[0] =~ /(?:^|:)(\d+)$/)
            {
                push @{ $ctx->{server}{ports} }, $1;

            } elsif ($ctx->{kind} eq 'location' && $name eq 'pdf_report_api'
                     && $stack[-1] == $ctx)
            {
                $ctx->{location}{api} = 1;
            }

            next;
        }

        if ($t eq '{') {
            my ($name, @args) = @words;
            @words = ();
            $name //= '';

            if ($name eq 'server' && @stack && $stack[-1]{name} eq 'http') {
                my $s = { ports => [], locations => [] };
                push @servers, $s;
                push @stack, { name => $name, kind => 'server',
                               server => $s };

            } elsif ($name eq 'location') {
                my ($srv) = grep { $_->{kind} eq 'server' } reverse @stack;
                my ($op, $arg) = @args == 2 ? @args : ('', $args[0] // '');
                my $loc = { op => $op, arg => $arg, api => 0 };

                push @{ $srv->{server}{locations} }, $loc if $srv;
                push @stack, { name => $name, kind => 'location',
                               location => $loc };

            } else {
                push @stack, { name => $name, kind => 'other' };
            }

            next;
        }

        if ($t eq '}') {
            pop @stack;
            @words = ();
            next;
        }

        push @words, $t;
    }

    $_->{line_max} //= $http_line_max for @servers;

    return \@servers;
}


# the location nginx picks for a normalized path, as nginx does: "=",
# then the longest prefix, then the first regex unless that prefix is
# "^~"

sub pick_location {
    my ($server, $path) = @_;
    my ($best, $best_len);

    for my $l (@{ $server->{locations} }) {
        return $l if $l->{op} eq '=' && $l->{arg} eq $path;
    }

    for my $l (@{ $server->{locations} }) {
        next unless $l->{op} eq '' || $l->{op} eq '^~';
        next unless substr($path, 0, length $l->{arg}) eq $l->{arg};

        if (!defined $best_len || length $l->{arg} > $best_len) {
            ($best, $best_len) = ($l, length $l->{arg});
        }
    }

    return $best if $best && $best->{op} eq '^~';

    for my $l (@{ $server->{locations} }) {
        next unless $l->{op} eq '~' || $l->{op} eq '~*';

        my $re = eval { $l->{op} eq '~' ? qr/$l->{arg}/ : qr/$l->{arg}/i };
        return $l if $re && $path =~ $re;
    }

    return $best;
}


# the API prefix (the location's name without a trailing "/", as the
# module routes) that serves this path on this port, or undef; also
# undef when a line of the request (its request line, a header line) is
# longer than large_client_header_buffers allows: nginx refuses such a
# request itself (414, 400) before it picks a location

sub api_prefix {
    my ($port, $path, $conf, $lines) = @_;

    $conf //= ($ENV{TEST_NGINX_SERVER_ROOT} // "$ROOT/t/servroot")
              . '/conf/nginx.conf';

    open my $fh, '<', $conf or return undef;
    my $text = do { local $/; <$fh> };
    close $fh;

    # the first server on the port: the tests give each port one
    my ($server) = grep { grep { $_ == $port } @{ $_->{ports} } }
                   @{ servers($text) };
    return undef unless $server;

    return undef if grep { length($_) + 2 > $server->{line_max} }
                    @{ $lines // [] };

    my $l = pick_location($server, $path);
    return undef unless $l && $l->{api} && $l->{op} ne '=';

    (my $prefix = $l->{arg}) =~ s{(?<=.)/$}{};

    return $prefix;
}


# the request target as nginx routes it: the path only, %XX decoded,
# slashes merged, "." and ".." resolved; undef where nginx refuses the
# request line itself (no location then)

sub normalize {
    my ($target) = @_;

    return undef unless defined $target;

    $target =~ s{^[a-z][a-z0-9+.-]*://[^/]*}{}i;
    $target =~ s/[?#].*//s;

    return undef unless $target =~ m{^/};
    return undef if $target =~ /%(?![0-9A-Fa-f]{2})/;

    $target =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;

    # nginx refuses a NUL, decoded or not, in its parser (400, HTML)
    return undef if $target =~ /\0/;
    $target =~ s{/{2,}}{/}g;

    my @out;

    for my $seg (split m{/}, $target, -1) {
        if ($seg eq '.') {
            next;

        } elsif ($seg eq '..') {
            return undef if @out <= 1;
            pop @out;

        } else {
            push @out, $seg;
        }
    }

    my $path = join '/', @out;
    $path .= '/' if $target =~ m{/\.\.?$};

    return length $path ? $path : '/';
}


# ---- writing ----

# one response: source, method, target, port, request (its request
# and header lines, as sent), status, headers (a hash of name => value
# or [values], or a list of [name, value]), body

sub response {
    my (%r) = @_;

    my $file = file() // return;

    return unless defined $r{status} && $r{status} =~ /^\d{3}$/;
    return unless defined $r{method} && $r{method} =~ /^[A-Z]+$/;

    my $uri = normalize($r{target}) // return;
    my $prefix = api_prefix($r{port}, $uri, undef, $r{request}) // return;

    my %h;
    my @pairs = ref $r{headers} eq 'HASH'
                ? map { my $k = $_; map { [$k, $_] }
                        ref $r{headers}{$k} ? @{ $r{headers}{$k} }
                                            : $r{headers}{$k} }
                  sort keys %{ $r{headers} }
                : @{ $r{headers} // [] };

    for my $p (@pairs) {
        my $k = lc $p->[0];
        $h{$k} = exists $h{$k} ? "$h{$k}, $p->[1]" : $p->[1];
    }

    my %line = (
        source => $r{source},
        test   => $r{test} // $0,
        method => $r{method},
        target => $r{target},
        uri    => $uri,
        prefix => $prefix,
        status => 0 + $r{status},
        headers => \%h,
    );

    $line{block} = $r{block} if defined $r{block};

    my $body = $r{body} // '';
    my $text = eval { Encode::decode('UTF-8', $body, Encode::FB_CROAK()
                                     | Encode::LEAVE_SRC()) };

    if (defined $text) {
        $line{body} = $text;
    } else {
        $line{body_base64} = MIME::Base64::encode_base64($body, '');
    }

    my $json = $JSON->encode(\%line) . "\n";

    make_path(dirname($file));

    # one write: O_APPEND keeps concurrent lines whole
    sysopen(my $fh, $file, O_WRONLY | O_APPEND | O_CREAT, 0644)
        or die "cannot open $file: $!";
    my $n = syswrite($fh, $json);
    die "cannot write $file: $!" unless defined $n && $n == length $json;
    close $fh;
}


# the bundled runner's hook (add_response_recorder): one response of a
# block's request

sub runner_response {
    my ($r) = @_;

    response(source => 'runner', block => $r->{block}, %$r);
}


1;
