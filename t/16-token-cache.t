# The verified-token cache (pdf_report_jwt_cache): a token's second use
# is a hit, with the same answers as a full verification; a cached token
# still expires at exp (plus the leeway); another org's token never gets
# the first one's org; and "off" verifies every time.  The debug log
# says hit or miss (Debian's nginx is built --with-debug).

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api token);
use Time::HiRes ();

no_long_string();
log_level('debug');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $job = '/v1/document/api/00000000-0000-4000-8000-000000000000';

sub lines_of {
    my ($what) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or die $!;
    return scalar grep { /pdf_report: token cache \Q$what\E\b/ } <$fh>;
}


sub hit_then_expired {
    my ($block) = @_;
    my $name = $block->name;

    # leeway 0: the token is good for two more seconds
    my $exp = time + 2;
    my $t = token(claims => { exp => $exp });

    my @s = map { (api(GET => $job, token => $t))[0] } 1 .. 3;
    is_deeply(\@s, [404, 404, 404], "$name - accepted three times");
    is(lines_of('miss'), 2, "$name - verified once (and the block's own)");
    is(lines_of('hit'), 2, "$name - then from the cache");

    Time::HiRes::sleep(0.05) while time <= $exp;

    my ($status, $h, $text) = api(GET => $job, token => $t);
    is($status, 401, "$name - 401 once exp has passed, cached or not");
    is($h->{'www-authenticate'}, 'Bearer error="invalid_token"',
       "$name - invalid_token");
}


sub own_org {
    my ($block) = @_;
    my $name = $block->name;

    my $a = token(claims => { org_id => 'org_acme' });
    my $b = token(claims => { org_id => 'org_other' });

    my ($status, undef, undef, $j) =
        api(POST => '/v1/document/api', token => $a,
            body => { userId => 'US1A2B3C4D5E6F78' });
    is($status, 202, "$name - org_acme creates a job");

    for (1 .. 2) {
        is((api(GET => "/v1/document/api/$j->{jobId}", token => $a))[0],
           200, "$name - org_acme reads it (cached after the first)");
        is((api(GET => "/v1/document/api/$j->{jobId}", token => $b))[0],
           404, "$name - org_other never does");
    }

    ok(lines_of('hit') >= 3, "$name - both tokens came from the cache");
}


sub always_verified {
    my ($block) = @_;
    my $name = $block->name;
    my $t = token();

    my @s = map { (api(GET => $job, token => $t))[0] } 1 .. 3;
    is_deeply(\@s, [404, 404, 404], "$name - accepted three times");
    is(lines_of('off'), 4, "$name - verified every time");
    is(lines_of('hit'), 0, "$name - never a hit");
}

run_tests();

__DATA__

=== TEST 1: a hit answers as a verification did, and exp still ends it
--- http_config eval
PdfReport::Test::http_config(jwt_leeway => 0)
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth(claims => { exp => time + 60 })
--- error_code: 404
--- flow: hit_then_expired
--- timeout: 20
--- error_log
bearer token refused: token expired



=== TEST 2: a cached token keeps its own org
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: own_org



=== TEST 3: pdf_report_jwt_cache off: every request verifies its token
--- http_config eval
PdfReport::Test::http_config(jwt_cache => 'off')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: always_verified
