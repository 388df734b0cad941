# "make module" without an nginx source tree, and "make prove" without
# an nginx binary, must say what to install, and stop before doing
# anything else (issue 10, item 12): before the check, "make module"
# removed the build's nginx tree, then failed with "cp: cannot stat".
#
# Plain Test::More: each case runs make in the checkout with its own
# BUILD directory, and a clean environment, so that the make running
# this file ("make prove T=...") passes nothing down through MAKEFLAGS.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN { PdfReport::Backend::once('the Makefile, no store') }

my $ROOT = abs_path("$FindBin::Bin/..");

plan skip_all => 'make is not installed'
    unless grep { -x "$_/make" } split /:/, ($ENV{PATH} // '');


# runs "make -s @args" in the checkout: (exit status, stdout, stderr)

sub make {
    my (@args) = @_;

    my $tmp = tempdir('pdf-report-make-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    local %ENV = %ENV;
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES NGINX_SRC
                   NGINX_BIN BUILD TEST_NGINX_BINARY
                   TEST_NGINX_LOAD_MODULES)};

    my $rc = system("make -s -C '$ROOT' @args"
                    . " > '$tmp/stdout' 2> '$tmp/stderr'");

    my %out;

    for my $f (qw(stdout stderr)) {
        open my $fh, '<', "$tmp/$f" or die "$tmp/$f: $!";
        local $/;
        $out{$f} = <$fh> // '';
        close $fh;
    }

    return ($rc, $out{stdout}, $out{stderr});
}


my $tmp = tempdir('pdf-report-make-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $src = "$tmp/no-nginx-src";


subtest 'make module without the nginx source tree' => sub {
    my $build = "$tmp/build1";
    my ($rc, $out, $err) = make('module', "NGINX_SRC=$src",
                                "BUILD=$build");

    isnt($rc, 0, 'make exits non-zero');

    my @lines = split /\n/, $err;

    is($lines[0],
       "make: $src not found: install Debian's nginx-dev"
       . " (apt-get install nginx-dev), or set"
       . " NGINX_SRC=/path/to/nginx-source",
       'the first line says what to install')
        or diag($err);

    unlike($err, qr/cannot stat/, 'no "cp: cannot stat"');
    is($out, '', 'nothing on stdout');
    ok(!-e $build, 'nothing was done: no build directory');
};


subtest 'make module with a directory that is no nginx tree' => sub {
    mkdir "$tmp/empty" or die "mkdir: $!";

    my $build = "$tmp/build2";
    my ($rc, $out, $err) = make('module', "NGINX_SRC=$tmp/empty",
                                "BUILD=$build");

    isnt($rc, 0, 'make exits non-zero');
    is((split /\n/, $err)[0],
       "make: $tmp/empty has no configure script: set"
       . " NGINX_SRC=/path/to/nginx-source",
       'the first line names the directory')
        or diag($err);
    ok(!-e $build, 'nothing was done: no build directory');
};


subtest 'make prove without the nginx binary' => sub {
    my $build = "$tmp/build3";
    my ($rc, $out, $err) = make('prove', "NGINX_BIN=$tmp/no-nginx",
                                "NGINX_SRC=$src", "BUILD=$build");

    isnt($rc, 0, 'make exits non-zero');
    is((split /\n/, $err)[0],
       "make: $tmp/no-nginx not found: install Debian's nginx"
       . " (apt-get install nginx), or set NGINX_BIN=/path/to/nginx",
       'the first line says what to install')
        or diag($err);
    ok(!-e $build, 'nothing was built');
};


done_testing();
