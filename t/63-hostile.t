# Hostile input, table-driven: each bad request gets its documented 4xx
# JSON error (or nginx's own answer where nginx refuses it before any
# module runs) and the store keeps exactly the jobs it had.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api token);
use PdfReport::Token;

no_long_string();
log_level('info');
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $job = '00000000-0000-4000-8000-000000000000';


# entries of the store's databases, read with lmdb-utils' mdb_stat; or
# the same counts of a PostgreSQL store's jobs table, where the pending
# index and the queue are the rows of jobs not finished

sub store_counts {
    my $dir = "$ENV{TEST_NGINX_SERVER_ROOT}/pdf_report_temp";
    my $uri = PdfReport::Test::pg_store();
    my %n;

    if (defined $uri) {
        my $sql = 'SELECT count(*), count(*) FILTER (WHERE status IN (0, 1)) '
                  . 'FROM pdf_report_jobs';
        my ($jobs, $pending) = split /\|/, PdfReport::Test::pg_sql($uri, $sql);

        return { jobs => $jobs, pending => $pending, queue => $pending };
    }

    for my $db (qw(jobs pending queue)) {
        my $out = `mdb_stat -s $db '$dir' 2>&1`;
        $n{$db} = $out =~ /Entries: (\d+)/ ? $1 : "? ($out)";
    }

    return \%n;
}


sub b64u {
    my ($s) = @_;
    return Crypt::Misc::encode_b64u($s);
}


sub cases {
    my $t = token();
    my ($h, $p, $s) = split /\./, $t;
    my $json = { 'Content-Type' => 'application/json' };
    my $nest = ('[' x 5000) . (']' x 5000);

    my $bad_json = [400, 'INVALID_JSON'];
    my $bad_id = [400, 'INVALID_USER_ID'];
    my $bad_token = [401, 'INVALID_TOKEN'];
    my $no_job = [404, 'JOB_NOT_FOUND'];

    return (
        # bodies
        ['a 2 MB body', POST => '/v1/document/api',
         body => '{"userId":"' . ('A' x 2_000_000) . '"}', headers => $json,
         [413, 'BODY_TOO_LARGE']],
        ['truncated JSON', POST => '/v1/document/api',
         body => '{"userId":"US1A', headers => $json, $bad_json],
        ['nested 5000 deep', POST => '/v1/document/api', body => $nest,
         headers => $json, $bad_json],
        ['a userId next to 5000-deep nesting', POST => '/v1/document/api',
         body => qq({"userId":"US1A2B3C4D5E6F78","x":$nest}),
         headers => $json, $bad_json],
        ['not UTF-8', POST => '/v1/document/api',
         body => qq({"userId":"\xff\xfe\xfd"}), headers => $json, $bad_json],
        ['a raw NUL byte', POST => '/v1/document/api',
         body => qq({"userId":"US1\x00"}), headers => $json, $bad_json],
        ['an escaped NUL', POST => '/v1/document/api',
         body => '{"userId":"US1\u0000"}', headers => $json, $bad_json],
        ['a byte-order mark', POST => '/v1/document/api',
         body => qq(\xef\xbb\xbf{"userId":"US1A2B3C4D5E6F78"}),
         headers => $json, $bad_json],
        ['duplicate userId keys', POST => '/v1/document/api',
         body => '{"userId":"US1A2B3C4D5E6F78","userId":"USTEST0000000001"}',
         headers => $json, $bad_json],
        ['trailing data', POST => '/v1/document/api',
         body => '{"userId":"US1A2B3C4D5E6F78"} {}', headers => $json,
         $bad_json],
        ['a number for userId', POST => '/v1/document/api',
         body => '{"userId":12345}', headers => $json, $bad_id],
        ['a huge number for userId', POST => '/v1/document/api',
         body => '{"userId":1e999999}', headers => $json, $bad_id],
        ['an array for userId', POST => '/v1/document/api',
         body => '{"userId":["US1A2B3C4D5E6F78"]}', headers => $json,
         $bad_id],
        ['an object for userId', POST => '/v1/document/api',
         body => '{"userId":{"id":"US1A2B3C4D5E6F78"}}', headers => $json,
         $bad_id],
        ['a 17-character userId', POST => '/v1/document/api',
         body => '{"userId":"US1A2B3C4D5E6F78X"}', headers => $json, $bad_id],
        ['a userId of 1000 characters', POST => '/v1/document/api',
         body => '{"userId":"' . ('A' x 1000) . '"}', headers => $json,
         $bad_id],
        ['control characters in userId', POST => '/v1/document/api',
         body => '{"userId":"US\n1\t"}', headers => $json,
         [404, 'USER_NOT_FOUND']],

        # Authorization headers
        ['an empty Authorization', GET => "/v1/document/api/$job",
         token => undef, headers => { Authorization => '' },
         [401, 'UNAUTHORIZED']],
        ['"Bearer" alone', GET => "/v1/document/api/$job", token => undef,
         headers => { Authorization => 'Bearer' }, [401, 'UNAUTHORIZED']],
        ['a 7000-byte token', GET => "/v1/document/api/$job",
         token => 'a' x 7000, $bad_token],
        ['one dot', GET => "/v1/document/api/$job", token => "$h.$p",
         $bad_token],
        ['three dots', GET => "/v1/document/api/$job", token => "$t.x",
         $bad_token],
        ['padding', GET => "/v1/document/api/$job", token => "$h=.$p.$s",
         $bad_token],
        ['illegal base64url', GET => "/v1/document/api/$job",
         token => "$h.$p.$s+/", $bad_token],
        ['a kid no key has', GET => "/v1/document/api/$job",
         token => token(kid => 'nobody', key => 'rsa1'), $bad_token],
        ['a crit header', GET => "/v1/document/api/$job",
         token => token(header => { crit => ['exp'] }), $bad_token],
        ['a jku header (never fetched)', GET => "/v1/document/api/$job",
         token => token(header => { jku => 'http://127.0.0.1:9/jwks' }),
         $no_job],
        ['an x5u header (never fetched)', GET => "/v1/document/api/$job",
         token => token(header => { x5u => 'http://127.0.0.1:9/cert' }),
         $no_job],

        # paths
        ['an overlong id', GET => '/v1/document/api/' . ('a' x 5000),
         $no_job],
        ['an id with dots', GET => '/v1/document/api/..%2e', $no_job],
        ['dot segments back into the API', GET =>
         "/v1/document/api/x/../$job", $no_job],
        ['an encoded slash', GET => "/v1/document/api/$job%2Furl",
         [404, 'JOB_NOT_FOUND']],
        ['an encoded slash to a bad path', GET =>
         "/v1/document/api/$job%2Fpdf", [404, 'NOT_FOUND']],
        ['a query string', GET => "/v1/document/api/$job?url=1", $no_job],

        # refused by nginx itself, before any module: its own answers
        ['a NUL in the path (nginx)', GET => '/v1/document/api/%00',
         [400, undef]],
        ['a 100 kB Authorization (nginx)', GET => "/v1/document/api/$job",
         token => 'a' x 100_000, [400, undef]],
    );
}


sub hostile {
    my ($block) = @_;
    my $name = $block->name;

    # one finished job in the store, so there is something to keep
    my (undef, undef, undef, $j0) = api(POST => '/v1/document/api',
                                        body => { userId => 'US1A2B3C4D5E6F78' });
    my $done = PdfReport::Test::wait_job($j0->{jobId});
    is($done->{status}, 'COMPLETE', "$name - a job to keep");

    my $before = store_counts();
    is($before->{jobs}, 1, "$name - one job in the store");

    for my $c (cases()) {
        my ($what, $method, $path, @rest) = @$c;
        my $want = pop @rest;
        my ($status, $h, $text, $j) = api($method, $path, @rest);

        is($status, $want->[0], "$name - $what: $want->[0]");

        if (defined $want->[1]) {
            is($j && $j->{error}, $want->[1], "$name - $what: $want->[1]");
            is($h->{'content-type'}, 'application/json',
               "$name - $what: JSON");
        }
    }

    is_deeply(store_counts(), $before,
              "$name - jobs, pending index and queue unchanged");

    my ($status) = api(GET => "/v1/document/api/$job");
    is($status, 404, "$name - and nginx still answers");
}

run_tests();

__DATA__

=== TEST 1: every hostile request refused, the store unchanged
--- http_config eval
PdfReport::Test::http_config(rate_limit => 'off')
--- config
location /v1/document/api {
    client_max_body_size 1m;
    pdf_report_api;
}
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: hostile
--- timeout: 60
