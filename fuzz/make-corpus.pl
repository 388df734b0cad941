#!/usr/bin/perl
# Writes the seed corpora of the libFuzzer targets, fuzz/corpus/<target>/,
# from the test fixtures of t/data and a few hand-made inputs.  Run from
# the repository root; it only adds or overwrites "seed-*" files, so the
# reproducers of fixed crashes ("crash-*" files, added by hand) stay.
#
#   perl fuzz/make-corpus.pl

use strict;
use warnings;
use File::Basename qw(basename);
use File::Path qw(make_path);
use JSON::PP;
use MIME::Base64 qw(decode_base64);

my $DATA = 't/data';
my $OUT = 'fuzz/corpus';
my $json = JSON::PP->new->utf8->canonical;

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}

sub seed {
    my ($target, $name, $bytes) = @_;
    make_path("$OUT/$target");
    $name =~ s/[^A-Za-z0-9._-]/_/g;
    open my $fh, '>:raw', "$OUT/$target/seed-$name" or die "$name: $!";
    print $fh $bytes;
    close $fh;
}

sub b64url_decode {
    my ($s) = @_;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return decode_base64($s);
}

# jwt: every fixture token, as it is

for my $f (glob "$DATA/tokens/*.jwt") {
    my $t = slurp($f);
    $t =~ s/\s+\z//;
    seed('jwt', basename($f, '.jwt'), $t);
}

seed('jwt', 'empty-parts', '..');
seed('jwt', 'two-parts', 'eyJhbGciOiJFZERTQSJ9.e30');

# jwt_signed: the payload of each fixture alone (the harness adds an
# EdDSA header and signs), and the header fixtures with a good payload

my $good;
my %pay;

for my $f (glob "$DATA/tokens/*.jwt") {
    my $t = slurp($f);
    $t =~ s/\s+\z//;
    my ($h, $p) = split /\./, $t;
    next unless defined $p && $h =~ /^[A-Za-z0-9_-]+$/
                && $p =~ /^[A-Za-z0-9_-]*$/;
    my $name = basename($f, '.jwt');
    $pay{$name} = [b64url_decode($h), b64url_decode($p)];
}

$good = $pay{'valid-EdDSA'}[1];

for my $name (sort keys %pay) {
    my ($h, $p) = @{ $pay{$name} };
    seed('jwt_signed', "payload-$name", $p);
    seed('jwt_signed', "header-$name", "$h\0$good")
        if $name =~ /^(?:alg|crit|cty|typ|zip|kid|jku|embedded|header|b64)/;
}

my %claims = (exp => 1750003600, iat => 1750000000, nbf => 1750000000,
              iss => 'https://auth.sqr.test/', aud => 'pdf-report',
              org_id => 'org_acme', scope => 'write:reports read:reports');
seed('jwt_signed', 'payload-only', $json->encode(\%claims));
seed('jwt_signed', 'scp-array',
     $json->encode({ %claims, scope => undef,
                     scp => ['write:reports', 'read:reports'] })
     =~ s/"scope":null,//r);
seed('jwt_signed', 'aud-array-real-exp',
     $json->encode({ %claims, aud => ['x', 'pdf-report'] })
     =~ s/1750003600/1750003600.5/r);

# jwks: the fixture sets, and each key of jwks.json alone

for my $f ("$DATA/jwks.json", "$DATA/jwks-api.json",
           glob "$DATA/jwks-bad/*.json")
{
    seed('jwks', basename($f, '.json'), slurp($f));
}

my $jwks = decode_json(slurp("$DATA/jwks.json"));
for my $k (@{ $jwks->{keys} }) {
    seed('jwks', 'one-' . ($k->{kid} // $k->{kty}),
         $json->encode({ keys => [$k] }));
}

# body: the step-1 bodies of the tests and their hostile cousins

my @bodies = (
    ['ok', '{"userId":"US1A2B3C4D5E6F78"}'],
    ['ok-extra', '{"userId":"US1A2B3C4D5E6F78","format":"pdf"}'],
    ['utf8-16', '{"userId":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9'
                . '\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}'],
    ['emoji', qq({"userId":"\xf0\x9f\x98\x80\xf0\x9f\x98\x80"})],
    ['surrogates', '{"userId":"\ud83d\ude00"}'],
    ['lone-surrogate', '{"userId":"\ud800"}'],
    ['nul-escape', '{"userId":"a\u0000b"}'],
    ['nul-raw', qq({"userId":"a\0b"})],
    ['latin1', qq({"userId":"\xe9"})],
    ['dup', '{"userId":"a","userId":"b"}'],
    ['number', '{"userId":12345}'],
    ['null', '{"userId":null}'],
    ['empty', '{"userId":""}'],
    ['17', '{"userId":"12345678901234567"}'],
    ['array', '[{"userId":"a"}]'],
    ['nested', '{"a":' x 64 . '1' . '}' x 64],
    ['truncated', '{"userId":"US1A2B'],
    ['trailing', '{"userId":"a"} x'],
    ['bom', qq(\xef\xbb\xbf{"userId":"a"})],
    ['ws', qq( \t\r\n{ "userId" : "a" } \n)],
    ['big-int', '{"userId":"a","n":123456789012345678901234567890}'],
    ['big-real', '{"n":[1e400,-1e400],"userId":"a","s":"9e999\\""}'],
    ['big-dup', '{"userId":"a","n":-99999999999999999999,"n":1}'],
);
seed('body', $_->[0], $_->[1]) for @bodies;

# users: the directories of the tests and the refusals of t/05-config.t

seed('users', 'users', slurp("$DATA/users.jsonl"));
for my $f (glob "$DATA/config/users-*.jsonl") {
    seed('users', basename($f, '.jsonl'), slurp($f));
}
seed('users', 'crlf-no-final-newline',
     qq({"id":"a","connections":[]}\r\n{"id":"b"}));
seed('users', 'nul-in-line', qq({"id":"a"}\0{"id":"a"}\n{"id":"b"}\n));

# render: each record of the test directory, and odd ones

my $n = 0;
for my $line (split /\n/, slurp("$DATA/users.jsonl")) {
    next unless $line =~ /\S/;
    seed('render', sprintf('user-%02d', ++$n), $line);
}

my $base = decode_json((split /\n/, slurp("$DATA/users.jsonl"))[0]);
seed('render', 'long-fields',
     $json->encode({ %$base, first_name => 'A' x 3000,
                     address1 => join(' ', ('word') x 800),
                     last_name => 'B' x 2000 }));
seed('render', 'types',
     $json->encode({ %$base, first_name => 1, last_name => [],
                     dob => {}, selfie_liveness_score => 'x',
                     fmc_score => 1e308, connections => {} }));
seed('render', 'scripts',
     $json->encode({ %$base, first_name => "\x{4e2d}\x{6587}",
                     last_name => "\x{0627}\x{0644}\x{0639}\x{0631}",
                     city => "\x{1f600}\x{0301}\x{200b}",
                     postcode => "\x{fffd}\x{10ffff}" }));

# sigv4: flags byte, then key, filename, endpoint, bucket, region, access
# key, secret, token, first name, last name (NUL-separated)

my @s3 = (
    ['defaults', "\0"],
    ['key-utf8', "\x01reports/org \x{e9}/a+b=c&d.pdf\0SQR_X_Y_0000.pdf"],
    ['virtual-host', "\x02reports/o/j.pdf\0f.pdf\0https://S3.Example.com:443/"
                     . "\0my.bucket\0eu-west-3\0AKIA\0secret\0token"],
    ['ipv6', "\x00k\0f\0http://[::1]:9000\0b\0r\0a\0s"],
    ['bad-filename', "\x00k\0a\"b\\c\x01.pdf"],
    ['small-buffer', "\x10k\0f"],
    ['names', "\x00k\0f\0http://127.0.0.1:4569\0sqr-reports\0us-east-1\0S3RVER"
              . "\0S3RVER\0\0\xc3\x89mile\0\xc5\x9etef\xc4\x83nescu-O'Neil"],
    ['x-amz-param', "\x00X-Amz-Date\0v"],
);
seed('sigv4', $_->[0], $_->[1]) for @s3;

# aws_credentials: a selector byte (profile, output sizes), then the file

seed('aws_credentials', 'default', "\x00" . slurp("$DATA/aws-credentials"));
seed('aws_credentials', 'wrong-secret',
     "\x02" . slurp("$DATA/aws-credentials"));
seed('aws_credentials', 'config', "\x00" . slurp("$DATA/config/aws-credentials"));
seed('aws_credentials', 'bad-header',
     "\x00" . slurp("$DATA/config/aws-credentials-bad-header"));
seed('aws_credentials', 'profile-spelling',
     "\x03[profile prod]\r\nAWS_ACCESS_KEY_ID: k\r\naws_secret_access_key=s"
     . "\r\naws_session_token = t\r\n");
seed('aws_credentials', 'bom-small-outputs',
     "\x29\xef\xbb\xbf[default]\naws_access_key_id=0123456789abcdefg\n"
     . "aws_secret_access_key=x\n");

# s3_error: a piece size, then an S3 error answer

my $err = '<?xml version="1.0" encoding="UTF-8"?>' . "\n"
          . '<Error><Code>SignatureDoesNotMatch</Code><Message>The request '
          . 'signature we calculated does not match the signature you '
          . 'provided.</Message><RequestId>4442587FB7D0A2F9</RequestId>'
          . '</Error>';
seed('s3_error', 'signature', "\x00$err");
seed('s3_error', 'pieces', "\x07$err");
seed('s3_error', 'slowdown', "\x01<Error><Code>SlowDown</Code><Message>"
                             . "Please reduce your request rate.</Message>"
                             . "</Error>");
seed('s3_error', 'entities', "\x00<Error><Code>A&amp;B</Code><Message>a &lt;"
                             . "b&gt; &quot;c&apos; &amp &#10;\r\n\t\x80"
                             . "</Message></Error>");
seed('s3_error', 'unterminated', "\x00<Code>NoSuchBucket");
seed('s3_error', 'html', "\x00<html><body>502 Bad Gateway</body></html>");
