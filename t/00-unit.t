# Runs the C unit tests (t/unit/test_*.c, built by "make unit") and reports
# each of their TAP lines as one test here, so "prove -r t" covers them.
use strict;
use warnings;
use Test::More;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN {
    PdfReport::Backend::once('the C unit tests; test_pg has its own cluster');
}
use File::Spec;

my $root = File::Spec->rel2abs("$FindBin::Bin/..");
# PDF_REPORT_BUILD: another build tree (make test-asan's)
my $build = $ENV{PDF_REPORT_BUILD} // "$root/build";
my $bin = "$build/unit";

# test_pg starts a PostgreSQL cluster of its own with this script
$ENV{PDF_REPORT_PG_CLUSTER} //= "$root/tools/pg-test-cluster";

system("make -s -C '$root' unit BUILD='$build' >&2") == 0
    or BAIL_OUT("make unit failed");

my @tests = sort glob("$bin/test_*");
@tests = grep { -x $_ && !/\.(?:o|d)$/ } @tests;
ok(@tests > 0, "unit test binaries built") or BAIL_OUT("no unit tests");

for my $t (@tests) {
    my $name = (split m{/}, $t)[-1];
    my @out = `'$t' 2>&1`;
    my $rc = $? >> 8;
    my ($plan, $seen) = (undef, 0);
    for my $line (@out) {
        chomp $line;
        if ($line =~ /^(not )?ok \d+ - (.*)$/) {
            $seen++;
            ok(!$1, "$name: $2");
        } elsif ($line =~ /^1\.\.(\d+)$/) {
            $plan = $1;
        } elsif ($line =~ /^#/) {
            diag($line);
        }
    }
    is($seen, $plan, "$name ran its whole plan");
    is($rc, 0, "$name exit status");
}

done_testing();
