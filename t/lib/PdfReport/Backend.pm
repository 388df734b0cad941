package PdfReport::Backend;

# Which store backend the Test::Nginx files run against by default:
# PDF_REPORT_STORE=postgresql gives every block that does not name its
# own store a new database of the helpers' PostgreSQL cluster
# (PdfReport::Test::http_config()); unset or "lmdb", an LMDB directory
# under the server root.  No side effect on load: a file that is about
# LMDB only says so before Test::Nginx and PdfReport::Test start
# anything,
#
#   use PdfReport::Backend;
#   BEGIN { PdfReport::Backend::lmdb_only('the LMDB file itself') }
#
# and a block of a file that is about LMDB only skips itself with
#
#   --- skip_eval: <n>: PdfReport::Backend::postgresql()
#
# A file that starts no nginx with a store of the suite's (the unit
# tests, the documentation, nginx -t of its own configurations) runs the
# same under both: once(), in the LMDB run only.

use strict;
use warnings;

my $store = $ENV{PDF_REPORT_STORE} // '';

die "PDF_REPORT_STORE=$store: \"lmdb\" or \"postgresql\"\n"
    unless $store =~ /^(?:|lmdb|postgresql)\z/;


sub postgresql {
    return $store eq 'postgresql';
}


# the whole file skipped (and passed) under PDF_REPORT_STORE=postgresql

sub lmdb_only {
    my ($why) = @_;

    return unless postgresql();

    require Test::More;
    Test::More::plan(skip_all => "LMDB only: $why");
}


# the whole file skipped under PDF_REPORT_STORE=postgresql: it does not
# depend on the suite's store, and the LMDB run has run it

sub once {
    my ($why) = @_;

    return unless postgresql();

    require Test::More;
    Test::More::plan(skip_all => "run once, with LMDB: $why");
}


1;
