# The org claim is always exactly one segment of the S3 object key
# <prefix><org>/<jobId>.pdf: an org such as "../../evil", "a/b" or "."
# can neither leave the bucket or the prefix nor name another org's
# folder, and a plain org keeps the key it always had.  Checked against
# s3rver's storage on disk (the bucket's objects and nothing else), and
# by downloading each job's pre-signed URL with curl.

use FindBin;
# our runner only if Test::Nginx is absent
BEGIN { push @INC, "$FindBin::Bin/lib" }
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job token json);
use Digest::SHA qw(sha256_hex);
use File::Find ();
use File::Temp qw(tempdir);
use JSON::PP ();

no_long_string();
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

# an s3rver of this file's own, its storage under a directory of ours:
# everything it writes, inside the bucket or not, is found there
our $top = tempdir('pdf-report-org-key-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $s3_port = do {
    local $ENV{TMPDIR} = $top;
    PdfReport::Test::start_s3();
};
our ($s3_dir) = glob "$top/pdf-report-s3-*";
die "no s3rver directory under $top" unless defined $s3_dir && -d $s3_dir;
our $bucket_dir = "$s3_dir/sqr-reports";

# one user connected to every org of the blocks
our $users = JSON::PP->new->canonical->encode({
    id => 'USORGKEY00000001', first_name => 'Olga', last_name => 'Key',
    connections => [
        map { { org_id => $_, organization_name => "Org $_",
                connection_status => 'CONNECTED',
                data_sharing_agreed => JSON::PP::true() } }
        '../../evil', 'a/b', '.', '..', 'org_acme'
    ],
}) . "\n";

# the bucket's keys seen by the blocks before
our %seen;


sub http_config {
    return PdfReport::Test::http_config(
        users => "$ENV{TEST_NGINX_SERVER_ROOT}/html/users.jsonl",
        s3_endpoint => "http://127.0.0.1:$s3_port");
}


# every object in the bucket, by its key (s3rver keeps an object as
# <bucket dir>/<key>._S3rver_object, each '/' of the key a directory)

sub bucket_keys {
    my @keys;

    File::Find::find({ no_chdir => 1, wanted => sub {
        return unless -f $_ && s{\._S3rver_object\z}{};
        push @keys, substr($_, length("$bucket_dir/"));
    } }, $bucket_dir);

    return sort @keys;
}


# every file s3rver's directory (or ours around it) holds outside the
# bucket's folder

sub outside_bucket {
    my @files;

    File::Find::find({ no_chdir => 1, wanted => sub {
        push @files, $_
            if -f $_ && index($_, "$bucket_dir/") != 0;
    } }, $top);

    return sort @files;
}


# SigV4's encoding of a key in a path: '/' kept, RFC 3986 unreserved kept

sub uri_path {
    my ($key) = @_;
    (my $p = $key) =~ s{([^A-Za-z0-9._~/-])}{sprintf('%%%02X', ord $1)}ge;
    return $p;
}


sub org_key {
    my ($block, $body) = @_;
    my $name = $block->name;

    (my $org = $block->org) =~ s/\n\z//;
    (my $segment = $block->segment) =~ s/\n\z//;

    my $tok = token(claims => { org_id => $org });
    my $id = json($body)->{jobId};
    my $key = "reports/$segment/$id.pdf";

    my $job = wait_job($id, token => $tok);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");

    # the one new object of the bucket is at exactly the key
    my @keys = bucket_keys();
    is_deeply([grep { !$seen{$_} } @keys], [$key],
              "$name - one new object, at $key");
    %seen = map { $_ => 1 } @keys;

    is_deeply([outside_bucket()], [],
              "$name - nothing written outside the bucket's folder");

    my $file = "$bucket_dir/$key._S3rver_object";
    my $stored = '';
    if (open my $fh, '<:raw', $file) {
        local $/;
        $stored = <$fh>;
        close $fh;
    }
    is(sha256_hex($stored), $job->{sha256},
       "$name - the object at the key is the job's PDF");

    # step 3 signs the same key, and curl downloads exactly that PDF
    my ($status, undef, undef, $u) =
        api(GET => "/v1/document/api/$id/url", token => $tok);
    is($status, 200, "$name - url: 200");

    my $path = '/sqr-reports/' . uri_path($key);
    like($u->{url}, qr{^http://127\.0\.0\.1:$s3_port\Q$path\E\?},
         "$name - url: the key, encoded once more");

    my $out = "$top/$id.download";
    my $code = `curl -sS --noproxy '*' -o '$out' -w '%{http_code}' '$u->{url}'`;
    is($code, '200', "$name - curl: S3 answers 200");

    my $pdf = '';
    if (open my $fh, '<:raw', $out) {
        local $/;
        $pdf = <$fh>;
        close $fh;
    }
    unlink $out;

    is(length($pdf), $job->{sizeBytes}, "$name - curl: sizeBytes");
    is(sha256_hex($pdf), $job->{sha256}, "$name - curl: the job's SHA-256");
}


run_tests();

__DATA__

=== TEST 1: org "../../evil": one segment, inside the bucket and prefix
--- org: ../../evil
--- segment: ..%2F..%2Fevil
--- user_files eval
">>> users.jsonl\n$::users"
--- http_config eval: main::http_config()
--- request
POST /v1/document/api
{"userId":"USORGKEY00000001"}
--- more_headers eval
PdfReport::Test::auth(claims => { org_id => '../../evil' })
. "\nContent-Type: application/json"
--- error_code: 202
--- flow: org_key
--- timeout: 30



=== TEST 2: org "a/b": one segment, not in org "a"'s folder
--- org: a/b
--- segment: a%2Fb
--- user_files eval
">>> users.jsonl\n$::users"
--- http_config eval: main::http_config()
--- request
POST /v1/document/api
{"userId":"USORGKEY00000001"}
--- more_headers eval
PdfReport::Test::auth(claims => { org_id => 'a/b' })
. "\nContent-Type: application/json"
--- error_code: 202
--- flow: org_key
--- timeout: 30



=== TEST 3: org ".": a folder of its own, not the prefix itself
--- org: .
--- segment: %2E
--- user_files eval
">>> users.jsonl\n$::users"
--- http_config eval: main::http_config()
--- request
POST /v1/document/api
{"userId":"USORGKEY00000001"}
--- more_headers eval
PdfReport::Test::auth(claims => { org_id => '.' })
. "\nContent-Type: application/json"
--- error_code: 202
--- flow: org_key
--- timeout: 30



=== TEST 4: org "..": a folder of its own, not the bucket's root
--- org: ..
--- segment: %2E%2E
--- user_files eval
">>> users.jsonl\n$::users"
--- http_config eval: main::http_config()
--- request
POST /v1/document/api
{"userId":"USORGKEY00000001"}
--- more_headers eval
PdfReport::Test::auth(claims => { org_id => '..' })
. "\nContent-Type: application/json"
--- error_code: 202
--- flow: org_key
--- timeout: 30



=== TEST 5: a plain org keeps its key: reports/org_acme/<id>.pdf
--- org: org_acme
--- segment: org_acme
--- user_files eval
">>> users.jsonl\n$::users"
--- http_config eval: main::http_config()
--- request
POST /v1/document/api
{"userId":"USORGKEY00000001"}
--- more_headers eval
PdfReport::Test::auth(claims => { org_id => 'org_acme' })
. "\nContent-Type: application/json"
--- error_code: 202
--- flow: org_key
--- timeout: 30
