package PdfReport::Metadata;

# Local stand-ins for the AWS credential endpoints, which cannot be
# reached from here: the EC2 instance metadata service in IMDSv2-only
# mode and the container credentials endpoint (ECS, EKS Pod Identity),
# speaking the protocols AWS documents:
#
#   PUT /latest/api/token                  needs X-aws-ec2-metadata-token-
#                                          ttl-seconds (1 to 21600): a
#                                          token, the TTL echoed
#   GET /latest/meta-data/...              needs a live token in
#                                          X-aws-ec2-metadata-token, else
#                                          401
#   GET /latest/meta-data/iam/security-credentials/        the role's name
#   GET /latest/meta-data/iam/security-credentials/<role>  {"Code":
#       "Success","LastUpdated",...,"Type":"AWS-HMAC","AccessKeyId",
#       "SecretAccessKey","Token","Expiration"}
#   GET <container path>                   with the expected Authorization
#                                          (when one is set), else 401:
#       {"RoleArn","AccessKeyId","SecretAccessKey","Token","Expiration"}
#
# A test changes what it serves while nginx runs (files in its
# directory, replaced by rename) and reads what it was asked:
#
#   my $md = PdfReport::Metadata->start;
#   $md->credentials(id => 'ASIA1', secret => 's', token => 't',
#                    expires_in => 120);
#   $md->mode('down');        # connections closed unanswered; 'up' again
#   $md->revoke_tokens;       # every IMDS token issued so far: 401 now
#   $md->authorization('Bearer x');   # the container endpoint wants it
#   my @lines = $md->requests;        # "GET /path token=valid -> 200"
#
# One process a connection, as the proxy of PdfReport::Test; stopped
# with the test file.

use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes ();

my @servers;
my $parent = $$;

our $ROLE = 'pdf-report-role';
our $CONTAINER_PATH = '/v2/credentials/pdf-report-task';


sub start {
    my ($class) = @_;

    my $dir = tempdir('pdf-report-metadata-XXXXXX', TMPDIR => 1,
                      CLEANUP => 1);
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => 0, Listen => 64,
                                    ReuseAddr => 1)
        or die "metadata server: $!";

    my $self = bless { dir => $dir, port => $srv->sockport }, $class;

    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        # its own group: its connections go when the group is killed
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';

        while (my $c = $srv->accept) {
            my $kid = fork;

            if (defined $kid && $kid == 0) {
                $self->serve($c);
                POSIX::_exit(0);
            }

            close $c;
        }

        POSIX::_exit(0);
    }

    close $srv;
    push @servers, $pid;

    return $self;
}


END {
    local $?;

    if ($$ == $parent) {
        for my $pid (@servers) {
            kill '-TERM', $pid;
            waitpid $pid, 0;
        }
    }
}


sub port { $_[0]{port} }
sub url { "http://127.0.0.1:$_[0]{port}" }
sub container_url { "http://127.0.0.1:$_[0]{port}$CONTAINER_PATH" }


sub put_file {
    my ($self, $name, $text) = @_;
    my $tmp = "$self->{dir}/.$name.$$";

    open my $fh, '>', $tmp or die "$tmp: $!";
    print $fh $text;
    close $fh;
    rename $tmp, "$self->{dir}/$name" or die "rename: $!";
}


sub get_file {
    my ($self, $name) = @_;

    open my $fh, '<', "$self->{dir}/$name" or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;

    return $text;
}


sub iso {
    my ($t) = @_;
    return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t);
}


# what both endpoints serve from now on; Expiration counted from now
sub credentials {
    my ($self, %o) = @_;

    my $expires = time + ($o{expires_in} // 6 * 3600);

    $self->put_file('credentials', encode_json({
        AccessKeyId => $o{id},
        SecretAccessKey => $o{secret},
        Token => $o{token},
        Expiration => iso($expires),
    }));

    return $expires;
}


sub mode { $_[0]->put_file('mode', $_[1]) }
sub authorization { $_[0]->put_file('authorization', $_[1]) }
sub revoke_tokens { unlink "$_[0]{dir}/tokens" }


sub requests {
    my ($self) = @_;
    my $log = $self->get_file('log') // '';
    return split /\n/, $log;
}


sub clear_requests { unlink "$_[0]{dir}/log" }


# ---- in the server's processes ----

sub serve {
    my ($self, $c) = @_;

    my $head = '';

    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($c, my $buf, 65536);
        last unless $n;
        $head .= $buf;
    }

    if (($self->get_file('mode') // 'up') eq 'down') {
        close $c;
        return;
    }

    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $path) = split / /, $line // '';
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } @lines;

    my ($status, $body, $type, $note, @extra) =
        $self->answer($method // '', $path // '', \%h);

    $self->log("$method $path$note -> $status");

    syswrite($c, "HTTP/1.1 $status Metadata\r\n"
                 . "Content-Type: $type\r\n"
                 . "Content-Length: " . length($body) . "\r\n"
                 . join('', map { "$_\r\n" } @extra)
                 . "Connection: close\r\n\r\n$body");
    close $c;
}


sub answer {
    my ($self, $method, $path, $h) = @_;

    my $creds = $self->get_file('credentials');
    my $doc = defined $creds ? decode_json($creds) : undef;
    my $text = 'text/plain';
    my $json = 'application/json';

    if ($path eq '/latest/api/token') {
        return (405, '', $text, '') if $method ne 'PUT';

        my $ttl = $h->{'x-aws-ec2-metadata-token-ttl-seconds'};

        return (400, '', $text, ' ttl=none')
            unless defined $ttl && $ttl =~ /^\d+$/
                   && $ttl >= 1 && $ttl <= 21600;

        my $token = 'imds-' . join '', map { sprintf '%02x', rand 256 }
                                       1 .. 16;

        open my $fh, '>>', "$self->{dir}/tokens" or die "tokens: $!";
        print $fh "$token " . (time + $ttl) . "\n";
        close $fh;

        return (200, $token, $text, " ttl=$ttl",
                "X-aws-ec2-metadata-token-ttl-seconds: $ttl");
    }

    if ($path =~ m{^/latest/meta-data/}) {
        my $token = $h->{'x-aws-ec2-metadata-token'};
        my $valid = 0;

        if (defined $token) {
            for (split /\n/, $self->get_file('tokens') // '') {
                my ($t, $until) = split / /;
                $valid = 1 if $t eq $token && $until > time;
            }
        }

        my $note = !defined $token ? ' token=none'
                   : $valid ? ' token=valid' : ' token=invalid';

        # IMDSv2 only: no token, or a dead one, is 401
        return (401, '', $text, $note) unless $valid;

        my $base = '/latest/meta-data/iam/security-credentials/';

        return (200, "$ROLE\n", $text, $note) if $path eq $base;

        if ($path eq "$base$ROLE" && $doc) {
            return (200, encode_json({
                Code => 'Success',
                LastUpdated => iso(time),
                Type => 'AWS-HMAC',
                %$doc,
            }), $json, $note);
        }

        return (404, '', $text, $note);
    }

    if ($path eq $CONTAINER_PATH) {
        my $want = $self->get_file('authorization');
        my $got = $h->{authorization};
        my $note = !defined $want ? '' : !defined $got ? ' auth=none'
                   : $got eq $want ? ' auth=ok' : ' auth=wrong';

        return (401, '{"message":"unauthorized"}', $json, $note)
            if defined $want && (!defined $got || $got ne $want);

        return (404, '', $text, $note) unless $doc;

        return (200, encode_json({
            RoleArn => "arn:aws:iam::123456789012:role/$ROLE",
            %$doc,
        }), $json, $note);
    }

    return (404, '', $text, '');
}


sub log {
    my ($self, $line) = @_;

    # one write with O_APPEND: lines of parallel requests do not mix
    open my $fh, '>>', "$self->{dir}/log" or return;
    syswrite $fh, sprintf("%.3f %s\n", Time::HiRes::time(), $line);
    close $fh;
}


1;
