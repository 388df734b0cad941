# The whole flow as a client runs it: create, poll, get the URL, download
# from the S3 server (which checks the SigV4 signature) and check the
# bytes against the job; and jobs that survive nginx being killed or
# stopped while they run.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api wait_job token s3_get);
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use Time::HiRes ();

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $tmp = tempdir('pdf-report-flow-XXXXXX', TMPDIR => 1, CLEANUP => 1);


# step 3 and the download; returns the PDF's text

sub download_checked {
    my ($name, $id, $job, $filename) = @_;

    my ($status, $h, $text, $u) = api(GET => "/v1/document/api/$id/url");

    is($status, 200, "$name - url: 200");
    is_deeply([sort keys %$u], [qw(expiresInSeconds filename url)],
              "$name - url: exactly url, expiresInSeconds, filename");
    is($u->{expiresInSeconds}, 300, "$name - url: 300 s");
    like($u->{filename}, $filename, "$name - url: filename");
    is($h->{'cache-control'}, 'no-store', "$name - url: never cached");

    my $url = $u->{url};
    my $key = "reports/org_acme/$id.pdf";

    like($url, qr{^http://127\.0\.0\.1:$PdfReport::Test::S3_PORT/sqr-reports/\Q$key\E\?},
         "$name - url: path-style, the object key");
    like($url, qr/[?&]X-Amz-Expires=300(&|$)/, "$name - url: X-Amz-Expires");
    like($url, qr/[?&]X-Amz-SignedHeaders=host(&|$)/,
         "$name - url: signs host only");
    like($url, qr/[?&]X-Amz-Algorithm=AWS4-HMAC-SHA256(&|$)/,
         "$name - url: SigV4");
    like($url, qr/[?&]X-Amz-Credential=S3RVER%2F\d{8}%2Fus-east-1%2Fs3%2Faws4_request(&|$)/,
         "$name - url: credential scope");
    like($url, qr/[?&]response-content-disposition=attachment%3B%20filename%3D%22\Q$u->{filename}\E%22(&|$)/,
         "$name - url: content disposition");
    like($url, qr/[?&]response-content-type=application%2Fpdf(&|$)/,
         "$name - url: content type");
    like($url, qr/[?&]X-Amz-Signature=[0-9a-f]{64}$/, "$name - url: signed");

    my $res = s3_get($url);

    is($res->{status}, 200, "$name - S3 accepts the signature");
    is($res->{headers}{'content-type'}, 'application/pdf',
       "$name - S3: application/pdf");
    is($res->{headers}{'content-disposition'},
       "attachment; filename=\"$u->{filename}\"",
       "$name - S3: attachment with the filename");
    is(length($res->{content}), $job->{sizeBytes},
       "$name - downloaded length is sizeBytes");
    is(sha256_hex($res->{content}), $job->{sha256},
       "$name - downloaded SHA-256 is the job's");

    # a changed signature is refused by S3: it really checks
    (my $bad = $url) =~ s/(X-Amz-Signature=)(.)/$1 . ($2 eq '0' ? '1' : '0')/e;
    is(s3_get($bad)->{status}, 403, "$name - S3 refuses a forged signature");

    my $file = "$::tmp/$id.pdf";
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $res->{content};
    close $fh;

    my $check = `qpdf --check '$file' 2>&1`;
    is($? >> 8, 0, "$name - qpdf --check exits 0");
    like($check, qr/No syntax or stream encoding errors found/,
         "$name - qpdf finds no errors");

    my $pdftext = `pdftotext -enc UTF-8 '$file' - 2>/dev/null`;
    utf8::decode($pdftext);

    return $pdftext;
}


# the job of the block's 202 polled to COMPLETE and downloaded, its
# filename <stem>_<first 4 of the id>.pdf; returns (name, id, text)

sub completed_download {
    my ($block, $body, $stem) = @_;
    my $name = $block->name;

    my $created = PdfReport::Test::json($body);
    my $id = $created->{jobId};

    my $job = wait_job($id);
    is($job->{status}, 'COMPLETE', "$name - COMPLETE");
    cmp_ok($job->{completedAt}, 'ge', $created->{createdAt},
           "$name - completed after it was created");

    my $text = download_checked($name, $id, $job,
                                qr/^\Q$stem\E_\U${\substr($id, 0, 4)}\E\.pdf$/);

    return ($name, $id, $text);
}


sub full_flow {
    my ($name, $id, $text) = completed_download(@_[0, 1], 'SQR_J_Smith');

    like($text, qr/John Smith/, "$name - the PDF names the user");
    like($text, qr/US1A2B3C4D5E6F78/, "$name - and shows the user id");
    like($text, qr/Acme Ltd/, "$name - and the org of the connection");
    like($text, qr/\Q$id\E/, "$name - and the job id");
    like($text, qr/Identity Verification Report/, "$name - the title");
}


sub greek_flow {
    my ($name, $id, $text) = completed_download(@_[0, 1], 'SQR_X_X');

    my $first = "\x{391}\x{3bb}\x{3ad}\x{3be}\x{3b1}\x{3bd}\x{3b4}\x{3c1}"
                . "\x{3bf}\x{3c2}";
    my $last = "\x{3a0}\x{3b1}\x{3c0}\x{3b1}\x{3b4}\x{3cc}\x{3c0}\x{3bf}"
               . "\x{3c5}\x{3bb}\x{3bf}\x{3c2}";

    like($text, qr/\Q$first\E/, "$name - the Greek first name extracts");
    like($text, qr/\Q$last\E/, "$name - the Greek last name extracts");
}


sub wait_status {
    my ($id, $want) = @_;
    my $deadline = Time::HiRes::time() + 10;

    while (Time::HiRes::time() < $deadline) {
        my (undef, undef, undef, $j) = api(GET => "/v1/document/api/$id");
        return 1 if $j && $j->{status} eq $want;
        Time::HiRes::sleep(0.05);
    }

    return 0;
}


# the job is running (its upload hangs) when nginx dies; the next nginx
# takes it over once the dead one's lease runs out

sub killed_while_running {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};

    ok(wait_status($id, 'IN_PROGRESS'), "$name - running, upload hanging");

    PdfReport::Test::restart_nginx(signal => 'KILL');
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my ($status, undef, undef, $j) = api(GET => "/v1/document/api/$id");
    is($status, 200, "$name - the job is still there after SIGKILL");
    is($j->{status}, 'IN_PROGRESS', "$name - still claimed by the dead one");

    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'COMPLETE', "$name - completed by the new nginx");

    my $res = s3_get((api(GET => "/v1/document/api/$id/url"))[3]{url});
    is(sha256_hex($res->{content}), $job->{sha256},
       "$name - S3 holds exactly the recorded bytes");
}


# stopped gracefully while running: the claim is given back at once, so
# the next nginx does not wait for the (long) lease

sub stopped_while_running {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};

    ok(wait_status($id, 'IN_PROGRESS'), "$name - running, upload hanging");

    my $t0 = Time::HiRes::time();
    PdfReport::Test::restart_nginx(signal => 'QUIT');
    my $stop = Time::HiRes::time() - $t0;

    ok($stop < 10, sprintf("%s - the exit did not wait for the upload "
                           . "(%.1f s)", $name, $stop));

    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'COMPLETE',
       "$name - completed well inside the 60 s lease");
}


# created while the store kept it PENDING (no free slot), nginx killed:
# the next one runs it

sub killed_while_pending {
    my ($block, $body, $req_idx) = @_;
    return unless $req_idx == 1;

    my $name = $block->name;
    my $id = PdfReport::Test::json($body)->{jobId};

    ok(wait_status($id, 'PENDING'), "$name - waiting for a slot");

    PdfReport::Test::restart_nginx(signal => 'KILL');
    PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'pass');

    my $job = wait_job($id, timeout => 20);
    is($job->{status}, 'COMPLETE', "$name - the pending job completed");
}

sub fonts_flow {
    my ($name, $id, $text) = completed_download(@_[0, 1], 'SQR_J_Smith');
    like($text, qr/John Smith/, "$name - the text extracts");

    my @fonts = map { (split ' ')[0] }
                grep { /CID TrueType/ } `pdffonts '$::tmp/$id.pdf'`;
    s/^[A-Z]+\+// for @fonts;

    is_deeply([sort @fonts], ['DejaVuSerif,Book', 'DejaVuSerif-Bold,Bold'],
              "$name - the faces named, embedded");
}


run_tests();

__DATA__

=== TEST 1: create, poll, URL, download: the bytes are the job's
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: full_flow
--- timeout: 30



=== TEST 2: a Greek name renders, extracts, and the filename falls back to X
--- request
POST /v1/document/api
{"userId":"US3C4D5E6F7A8B90"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: greek_flow
--- timeout: 30



=== TEST 3: nginx SIGKILLed while the job runs: taken over and completed
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang');
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::PROXY_PORT",
    job_lease => '2s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: killed_while_running
--- timeout: 40



=== TEST 4: nginx stopped gracefully while the job runs: given back at once
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang');
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::PROXY_PORT",
    job_lease => '60s')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: stopped_while_running
--- timeout: 40



=== TEST 5: nginx SIGKILLed with a job still PENDING: the next one runs it
--- init
PdfReport::Test::proxy_mode($PdfReport::Test::PROXY_DIR, 'hang');
--- http_config eval
PdfReport::Test::http_config(
    s3_endpoint => "http://127.0.0.1:$PdfReport::Test::PROXY_PORT",
    job_lease => '2s', worker_jobs => 1)
--- request eval
["POST /v1/document/api\n{\"userId\":\"USTEST0000000001\"}",
 "POST /v1/document/api\n{\"userId\":\"USTEST0000000002\"}"]
--- more_headers eval
[(PdfReport::Test::auth() . "\nContent-Type: application/json") x 2]
--- error_code eval
[202, 202]
--- flow: killed_while_pending
--- timeout: 40



=== TEST 6: pdf_report_fonts: the report is set in the faces named
--- http_config eval
PdfReport::Test::http_config(
    fonts => '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf '
             . '/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf')
--- request
POST /v1/document/api
{"userId":"US1A2B3C4D5E6F78"}
--- more_headers eval
PdfReport::Test::auth() . "\nContent-Type: application/json"
--- error_code: 202
--- flow: fonts_flow
--- timeout: 30
