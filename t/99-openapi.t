# docs/openapi.yaml against a linter and against what the API answered
# in this prove run (issue 13, item 3).  Plain Test::More, no nginx; it
# runs last (prove takes the files in order):
#
# - "redocly lint" (npm's @redocly/cli, pinned in package-lock.json,
#   rules in redocly.yaml) finds no problem in the file;
# - every API response that the files before it received, recorded by
#   t/lib/PdfReport/Record.pm in build/openapi/responses-<prove's
#   pid>.jsonl, is valid against the file (tools/openapi-check.js, with
#   openapi-backend and Ajv): a status, header or body field the file
#   does not document fails here, listed with the block that got it.
#
# Run alone (make prove T=t/99-openapi.t) it has nothing recorded to
# check and says so; a whole suite ("prove -r t") must have recorded.

use strict;
use warnings;
use Test::More;
use FindBin;
use Cwd qw(abs_path);
use lib "$FindBin::Bin/lib";
use PdfReport::Record;

my $ROOT = abs_path("$FindBin::Bin/..");
my $SPEC = "$ROOT/docs/openapi.yaml";
my $REDOCLY = "$ROOT/node_modules/.bin/redocly";

chdir $ROOT or die "cd $ROOT: $!";

ok(-f $SPEC, 'docs/openapi.yaml exists') or BAIL_OUT('no docs/openapi.yaml');

# the output and exit status of a command, stderr included
sub run {
    my (@cmd) = @_;

    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "exec $cmd[0]: $!";
    }

    my $text = do { local $/; <$out> };
    close $out;

    return ($? >> 8, $text // '');
}


# ---- the linter ----

SKIP: {
    if (!-x $REDOCLY) {
        fail("$REDOCLY is installed (make node: npm ci)");
        skip('no linter', 2);
    }

    # no usage report, no check for a newer version: this runs offline
    local $ENV{REDOCLY_TELEMETRY} = 'off';
    local $ENV{REDOCLY_SUPPRESS_UPDATE_NOTICE} = 'true';

    my ($rc, $out) = run($REDOCLY, 'lint', '--format', 'codeframe',
                         'docs/openapi.yaml');

    is($rc, 0, 'redocly lint docs/openapi.yaml: no error') or diag($out);
    unlike($out, qr/\bwarnings?\b/i, 'redocly lint: no warning')
        or diag($out);
    note($out);
}


# ---- the responses of this run ----

# prove's own command line: a directory among its arguments is a whole
# suite, which must have recorded responses
sub whole_suite {
    my $ppid = getppid();

    open my $fh, '<', "/proc/$ppid/cmdline" or return 0;
    my @args = split /\0/, do { local $/; <$fh> } // '';
    close $fh;

    return scalar grep { !/^-/ && -d $_ } @args[1 .. $#args];
}

my $file = PdfReport::Record::file();

SKIP: {
    if (!defined $file || !-s $file) {
        if (whole_suite()) {
            fail('the suite recorded its API responses')
                or diag("nothing in " . ($file // '(recording off)'));
        }

        skip('no API response recorded in this prove run '
             . '(run the suite: prove -r t)', 1);
    }

    my ($rc, $out) = run('node', "$ROOT/tools/openapi-check.js",
                         '--spec', $SPEC, $file);

    my ($summary) = $out =~ /^(openapi-check: \d+ responses .*)$/m;

    if (is($rc, 0, 'every recorded API response is documented in '
                   . 'docs/openapi.yaml'))
    {
        diag($summary) if defined $summary;
        note($out);

    } else {
        diag($out);
    }
}


# the files of earlier runs whose prove is gone
for my $old (glob(PdfReport::Record::dir() . '/responses-*.jsonl')) {
    my ($pid) = $old =~ /responses-(\d+)\.jsonl$/ or next;
    next if defined $file && $old eq $file;
    unlink $old unless kill 0, $pid;
}

done_testing();
