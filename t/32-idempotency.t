# Idempotency-Key on step 1 (contract section 10, issue 14 item 2), on
# both stores: the LMDB store (blocks 1 to 5) and PostgreSQL (6 to 10,
# a new database each, the same checks):
#
# - a replay gives the same status, body, Location and job, says
#   Idempotent-Replayed, and counts nothing toward the rate limit;
# - another body under the key is 422 IDEMPOTENCY_KEY_REUSED (counted);
# - a malformed key is 400 INVALID_IDEMPOTENCY_KEY;
# - refusals of the body's checks are remembered, 429 is not;
# - two requests of one key at once: one job, the other request 409
#   IDEMPOTENCY_KEY_IN_USE or the replay; on one edge, and on two edges
#   of one database (block 11);
# - after pdf_report_idempotency_ttl the key creates anew, and the
#   expired record is deleted.

use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }   # our runner only if Test::Nginx is absent
use Test::Nginx::Socket 'no_plan';
use PdfReport::Test qw(api json wait_job);
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();

no_long_string();
no_shuffle();
log_level('info');
master_on();
workers(2);
PdfReport::Test::use_defaults();
PdfReport::Test::use_flows();

our $root = $ENV{TEST_NGINX_SERVER_ROOT} // "$FindBin::Bin/servroot";
our $api_metrics = "location /v1/document/api { pdf_report_api; }\n"
                   . "location = /metrics { pdf_report_metrics; }";


sub post {
    my ($key, $body) = @_;
    my %h;

    $h{'Idempotency-Key'} = $key if defined $key;

    return api(POST => '/v1/document/api', body => $body, headers => \%h);
}


# (status, undef, body) of a step 1 sent on a socket as it is
sub raw_post {
    my ($key, $body) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Timeout => 10) or die "connect: $!";

    print $s "POST /v1/document/api HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\nAuthorization: Bearer "
             . PdfReport::Test::token() . "\r\n"
             . "Content-Type: application/json\r\n"
             . "Idempotency-Key: $key\r\n"
             . 'Content-Length: ' . length($body) . "\r\n\r\n$body";

    my $res = do { local $/; <$s> } // '';
    my ($status) = $res =~ m{^HTTP/1\.1 (\d+)};
    my ($text) = $res =~ /\r\n\r\n(.*)\z/s;

    return ($status // 0, undef, $text);
}


sub created_total {
    my (undef, undef, $text) = api(GET => '/metrics');
    return ($text // '') =~ /^pdf_report_jobs_created_total (\d+)/m ? $1
                                                                     : -1;
}


# polls until step 2 of a job that does not exist answers 404, not 503,
# 20 times in a row on new connections: each worker sets a remote store
# up on its own
sub until_served {
    my ($timeout, $port) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    my ($status, $in_row) = (0, 0);

    while (Time::HiRes::time() < $deadline) {
        ($status) = api(GET => '/v1/document/api/'
                               . '00000000-0000-4000-8000-000000000000',
                        defined $port ? (port => $port) : ());
        $in_row = $status == 404 ? $in_row + 1 : 0;
        return $status if $in_row == 20;
        Time::HiRes::sleep($in_row ? 0.01 : 0.1);
    }

    return $status;
}


# the records kept, expired or not: the LMDB store's or the table's
sub records {
    my ($block) = @_;

    # this block's database, or the suite's (PDF_REPORT_STORE=postgresql)
    my $uri = defined $block->pg ? $::uri[$block->pg]
                                 : PdfReport::Test::pg_store();
    if (defined $uri) {
        return PdfReport::Test::pg_sql($uri,
                   'SELECT count(*) FROM pdf_report_idempotency');
    }

    my $out = `mdb_stat -s idem '$root/pdf_report_temp' 2>/dev/null`;
    return $out =~ /Entries: (\d+)/ ? $1 : undef;
}


sub replay {
    my ($block) = @_;
    my $name = $block->name;
    my $key = '"order-4711"';
    my $body = '{"userId":"US1A2B3C4D5E6F78"}';

    my ($s1, $h1, $t1, $j1) = post($key, $body);
    is($s1, 202, "$name - the first request: 202");
    like($h1->{ratelimit} // '', qr/^"org";r=4;/, "$name - counted");
    ok(!exists $h1->{'idempotent-replayed'}, "$name - not a replay");

    my ($s2, $h2, $t2, $j2) = post($key, $body);
    is($s2, 202, "$name - the same again: 202");
    is($t2, $t1, "$name - the same body, byte for byte");
    is($j2 && $j2->{jobId}, $j1->{jobId}, "$name - the same job");
    is($h2->{location}, $h1->{location}, "$name - the same Location");
    is($h2->{'retry-after'}, 3, "$name - Retry-After as the first");
    is($h2->{'idempotent-replayed'}, 'true', "$name - Idempotent-Replayed");
    ok(!exists $h2->{ratelimit}, "$name - no RateLimit: not counted");

    my ($s3, $h3, $t3, $j3) = post($key, '{"userId":"US3C4D5E6F7A8B90"}');
    is($s3, 422, "$name - another body: 422");
    is($t3, '{"error":"IDEMPOTENCY_KEY_REUSED","message":"This '
            . 'Idempotency-Key was used with another request body."}',
       "$name - IDEMPOTENCY_KEY_REUSED");
    like($h3->{ratelimit} // '', qr/^"org";r=3;/,
         "$name - the 422 counted, the replay was not");

    # the same body bytes are the same request, whatever the key's escapes
    my ($s4, undef, undef, $j4) = post('"order-\\4711"', $body);
    is($s4, 400, "$name - \\4 is no sf-string escape: 400");

    my ($s5, undef, undef, $j5) = post(' "order-4711" ', $body);
    is("$s5 " . ($j5 && $j5->{jobId}), "202 $j1->{jobId}",
       "$name - spaces around the sf-string: the same key");

    is(created_total(), 1, "$name - one job created");
    ok(records($block) >= 1, "$name - the key's record is in the store");
}


sub malformed {
    my ($block) = @_;
    my $name = $block->name;
    my $body = '{"userId":"US1A2B3C4D5E6F78"}';
    my $bad = '{"error":"INVALID_IDEMPOTENCY_KEY","message":"Idempotency-Key '
              . 'must be one quoted string of 1 to 255 characters."}';

    my @bad = ('""', 'order-1', '"open', '"a"b"', '"x\\y"',
               '"' . ('k' x 256) . '"', "\"caf\xc3\xa9\"", '"tab	x"',
               ':Ym9yaW5n:', '"a";p=1');

    for my $k (@bad) {
        # HTTP::Tiny sends no byte above 0x7e in a header: a socket does
        my ($s, $h, $t) = $k =~ /[\x80-\xff]/ ? raw_post($k, $body)
                                              : post($k, $body);
        my $shown = length($k) > 20 ? substr($k, 0, 20) . '...' : $k;
        is($s, 400, "$name - $shown: 400");
        is($t, $bad, "$name - $shown: INVALID_IDEMPOTENCY_KEY");
    }

    my (undef, $h) = post('""', $body);
    like($h->{ratelimit} // '', qr/^"org";r=/, "$name - a 400 is counted");

    my ($s2, undef, $t2) =
        api(POST => '/v1/document/api', body => $body,
            headers => { 'Idempotency-Key' => ['"a"', '"b"'] });
    is($s2, 400, "$name - two Idempotency-Key headers: 400");

    my ($s3, undef, undef, $j3) = post('"' . ('k' x 255) . '"', $body);
    is($s3, 202, "$name - 255 characters: a key");

    my ($s4, undef, undef, $j4) = post('"q\\"uote\\\\d"',
                                       '{"userId":"US3C4D5E6F7A8B90"}');
    is($s4, 202, "$name - with \\\" and \\\\ escapes: a key");

    my ($s5, $h5, undef, $j5) = post('"q\\"uote\\\\d"',
                                     '{"userId":"US3C4D5E6F7A8B90"}');
    is("$s5 " . ($h5->{'idempotent-replayed'} // '') . ' '
       . ($j5 && $j5->{jobId} eq $j4->{jobId} ? 'same' : 'other'),
       '202 true same', "$name - and replayed under it");
}


sub remembered {
    my ($block) = @_;
    my $name = $block->name;

    my ($s1, $h1, $t1) = post('"k-404"', '{"userId":"USNOSUCHUSER0001"}');
    is($s1, 404, "$name - no such user: 404");
    like($h1->{ratelimit} // '', qr/^"org";r=2;/, "$name - counted");

    my ($s2, $h2, $t2) = post('"k-404"', '{"userId":"USNOSUCHUSER0001"}');
    is($s2, 404, "$name - the 404 again");
    is($t2, $t1, "$name - its body");
    is($h2->{'idempotent-replayed'}, 'true', "$name - replayed");
    ok(!exists $h2->{ratelimit}, "$name - not counted");

    my ($s3, undef, $t3) = post('"k-400"', '{"userId":17}');
    my ($s4, $h4, $t4) = post('"k-400"', '{"userId":17}');
    is("$s3 $s4", '400 400', "$name - a 400 of the body, replayed");
    is($h4->{'idempotent-replayed'}, 'true', "$name - replayed 400");

    my ($s0) = post(undef, '{"userId":"US3C4D5E6F7A8B90"}');
    is($s0, 202, "$name - the third in the window, without a key");

    # the window is full now: a 429 is not remembered
    my ($s5, $h5) = post('"k-429"', '{"userId":"US1A2B3C4D5E6F78"}');
    is($s5, 429, "$name - over the limit: 429");
    ok(!exists $h5->{'idempotent-replayed'}, "$name - not a replay");

    # the 2 s window lets the first requests go
    Time::HiRes::sleep(2.2);

    my ($s6, $h6, undef, $j6) =
        post('"k-429"', '{"userId":"US1A2B3C4D5E6F78"}');
    is($s6, 202, "$name - the key after its 429: a new answer, 202");
    ok(!exists $h6->{'idempotent-replayed'}, "$name - not a replay of 429");
}


# two requests of one key sent at once, on two connections (with
# "--- edges", the second to another edge on the same database)
sub concurrent {
    my ($block) = @_;
    my $name = $block->name;
    my $token = PdfReport::Test::token();
    my @users = qw(US1A2B3C4D5E6F78 US3C4D5E6F7A8B90 US5E6F7A8B9C0D12
                   USTEST0000000001 USTEST0000000002 USTEST0000000003);
    my @ports = ($ENV{TEST_NGINX_SERVER_PORT}) x 2;
    my ($edge, $rounds, $replays, $in_use) = (undef, 0, 0, 0);

    if (defined $block->edges) {
        $edge = PdfReport::Test::start_edge();
        $ports[1] = $edge->{port};
        is(until_served(30, $ports[1]), 404, "$name - edge B serves");
    }

    for my $i (0 .. $#users) {
        my $body = "{\"userId\":\"$users[$i]\"}";
        my $req = "POST /v1/document/api HTTP/1.1\r\nHost: localhost\r\n"
                  . "Connection: close\r\nAuthorization: Bearer $token\r\n"
                  . "Content-Type: application/json\r\n"
                  . "Idempotency-Key: \"race-$i\"\r\n"
                  . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
        my @s = map {
            IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $_,
                                  Timeout => 10) or die "connect: $!";
        } @ports;

        print {$_} $req for @s;

        my @res = map { local $/; my $fh = $_; scalar(<$fh>) // '' } @s;
        my @st = map { m{^HTTP/1\.1 (\d+)} ? $1 : 0 } @res;
        my @j = map { /\r\n\r\n(.*)\z/s ? json($1) : undef } @res;
        my ($first) = grep { $st[$_] == 202
                             && $res[$_] !~ /^Idempotent-Replayed/mi } 0, 1;

        ok(defined $first, "$name - round $i: one 202 that is no replay")
            or next;

        my $other = 1 - $first;
        my $job = $j[$first]{jobId};

        if ($st[$other] == 409) {
            is($j[$other] && $j[$other]{error}, 'IDEMPOTENCY_KEY_IN_USE',
               "$name - round $i: the other 409 IDEMPOTENCY_KEY_IN_USE");
            $in_use++;
        } else {
            is("$st[$other] " . ($j[$other] && $j[$other]{jobId}),
               "202 $job", "$name - round $i: the other the replay");
            $replays++;
        }

        $rounds++;
    }

    diag("$name: $replays replays, $in_use IDEMPOTENCY_KEY_IN_USE");

    if (defined $block->pg) {
        is(PdfReport::Test::pg_sql($::uri[$block->pg],
                                   'SELECT count(*) FROM pdf_report_jobs'),
           $rounds, "$name - one job a key");
    } else {
        is(created_total(), $rounds, "$name - one job a key");
    }

    PdfReport::Test::stop_edge($edge) if $edge;
}


sub expiry {
    my ($block) = @_;
    my $name = $block->name;
    my $body = '{"userId":"US1A2B3C4D5E6F78"}';

    my ($s1, undef, undef, $j1) = post('"ttl-1"', $body);
    is($s1, 202, "$name - 202");
    my $t0 = Time::HiRes::time();

    is(wait_job($j1->{jobId}, timeout => 20)->{status}, 'COMPLETE',
       "$name - the job ends");

    my ($s2, $h2, undef, $j2) = post('"ttl-1"', $body);
    is($h2->{'idempotent-replayed'}, 'true', "$name - within the TTL: replay");

    Time::HiRes::sleep(2.3 - (Time::HiRes::time() - $t0))
        if Time::HiRes::time() - $t0 < 2.3;

    my ($s3, $h3, undef, $j3) = post('"ttl-1"', $body);
    is($s3, 202, "$name - after the TTL: 202");
    isnt($j3 && $j3->{jobId}, $j1->{jobId}, "$name - a new job");
    ok(!exists $h3->{'idempotent-replayed'}, "$name - no replay");

    my $n = records($block);

    SKIP: {
        skip 'mdb_stat (lmdb-utils) is not installed', 2 unless defined $n;

        is($n, 1, "$name - one record: the key's new answer in place");

        # the pass every 5 s deletes what expired
        my $deadline = Time::HiRes::time() + 20;

        while (Time::HiRes::time() < $deadline) {
            $n = records($block);
            last if $n == 0;
            Time::HiRes::sleep(0.5);
        }

        is($n, 0, "$name - expired, then deleted");
    }

    # no rate limit here: a refusal is remembered without a hit
    my ($s4, $h4, $t4) = post('"ttl-404"', '{"userId":"USNOSUCHUSER0001"}');
    my ($s5, $h5, $t5) = post('"ttl-404"', '{"userId":"USNOSUCHUSER0001"}');
    is("$s4 $s5", '404 404', "$name - not counted: a 404, twice");
    ok(!exists $h4->{'idempotent-replayed'}, "$name - the first not a replay");
    is($h5->{'idempotent-replayed'}, 'true', "$name - the 404 replayed");
    is($t5, $t4, "$name - its body");
    ok(!exists $h5->{ratelimit}, "$name - no rate-limit header");
}


our @uri = map { PdfReport::Test::pg_database() } 1 .. 6;

run_tests();

__DATA__

=== TEST 1: a replay: same answer and job, nothing counted; 422
--- http_config eval
PdfReport::Test::http_config(rate_limit => '5 10m')
--- config eval
$::api_metrics
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: replay



=== TEST 2: malformed keys are 400 INVALID_IDEMPOTENCY_KEY
--- http_config eval
PdfReport::Test::http_config(rate_limit => '100 10m')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: malformed



=== TEST 3: refusals of the body remembered, a 429 not
--- http_config eval
PdfReport::Test::http_config(rate_limit => '3 2s')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: remembered



=== TEST 4: two requests of one key at once: one job
--- http_config eval
PdfReport::Test::http_config(rate_limit => '100 10m')
--- config eval
$::api_metrics
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: concurrent



=== TEST 5: after the TTL the key creates anew; expired keys deleted
--- http_config eval
PdfReport::Test::http_config(idempotency_ttl => '2s', rate_limit => 'off')
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: expiry
--- timeout: 60



=== TEST 6: PostgreSQL: a replay: same answer and job, nothing counted
--- http_config eval
PdfReport::Test::http_config(store => $::uri[0], rate_limit => '5 10m')
--- config eval
$::api_metrics
--- init
main::until_served(10);
--- pg: 0
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: replay



=== TEST 7: PostgreSQL: malformed keys
--- http_config eval
PdfReport::Test::http_config(store => $::uri[1], rate_limit => '100 10m')
--- init
main::until_served(10);
--- pg: 1
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: malformed



=== TEST 8: PostgreSQL: refusals remembered, a 429 not
--- http_config eval
PdfReport::Test::http_config(store => $::uri[2], rate_limit => '3 2s')
--- init
main::until_served(10);
--- pg: 2
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: remembered



=== TEST 9: PostgreSQL: two requests of one key at once: one job
--- http_config eval
PdfReport::Test::http_config(store => $::uri[3], rate_limit => '100 10m')
--- config eval
$::api_metrics
--- init
main::until_served(10);
--- pg: 3
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: concurrent



=== TEST 10: PostgreSQL: after the TTL anew; expired rows deleted
--- http_config eval
PdfReport::Test::http_config(store => $::uri[4], idempotency_ttl => '2s',
                              rate_limit => 'off')
--- init
main::until_served(10);
--- pg: 4
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: expiry
--- timeout: 60



=== TEST 11: PostgreSQL, two edges: one key sent to both at once, one job
--- http_config eval
PdfReport::Test::http_config(store => $::uri[5], rate_limit => '100 10m')
--- init
main::until_served(10);
--- pg: 5
--- edges: 1
--- request
GET /v1/document/api/00000000-0000-4000-8000-000000000000
--- more_headers eval
PdfReport::Test::auth()
--- error_code: 404
--- flow: concurrent
--- timeout: 60
