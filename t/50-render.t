# The report document (template v2) as a reader gets it, rendered by
# build/pdf-report-render (the renderer the module runs, without nginx)
# from the fixed users of t/data/render/*.json: pdftotext -layout output
# equal to the committed t/data/render/*.txt, qpdf --check clean, pdfinfo
# pages and info fields, pdffonts embedded subsets, every page rendered
# by pdftoppm and not blank, and the same bytes twice.
#
# The page images are left in build/render/<user>-<page>.png to be looked
# at.  After a deliberate layout change, PDF_REPORT_GOLDEN=update writes
# the new expected text (read the diff before committing it).

use strict;
use warnings;
use Test::More;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN { PdfReport::Backend::once('the renderer, no store') }
use File::Spec;
use File::Path qw(make_path);

my $root = File::Spec->rel2abs("$FindBin::Bin/..");
my $data = "$root/t/data/render";
# PDF_REPORT_BUILD: another build tree (make test-asan's)
my $build = $ENV{PDF_REPORT_BUILD} // "$root/build";
my $out = "$build/render";
my $tool = "$build/pdf-report-render";
my $update = ($ENV{PDF_REPORT_GOLDEN} // '') eq 'update';

my $job = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
my $time = '2025-05-05T10:00:00Z';

# user => [pages, title after "Identity Verification Report: "]
my %expect = (
    latin      => [1, 'John Smith'],
    accented   => [1, "\x{c9}milie Zo\x{eb} M\x{fc}ller-L\x{fc}denscheidt"],
    greek      => [1, "\x{391}\x{3bb}\x{3ad}\x{3be}\x{3b1}\x{3bd}\x{3b4}"
                      . "\x{3c1}\x{3bf}\x{3c2} \x{3a0}\x{3b1}\x{3c0}\x{3b1}"
                      . "\x{3b4}\x{3cc}\x{3c0}\x{3bf}\x{3c5}\x{3bb}\x{3bf}"
                      . "\x{3c2}"],
    cyrillic   => [1, "\x{414}\x{43c}\x{438}\x{442}\x{440}\x{438}\x{439} "
                      . "\x{418}\x{432}\x{430}\x{43d}\x{43e}\x{432}\x{438}"
                      . "\x{447} \x{421}\x{43c}\x{438}\x{440}\x{43d}\x{43e}"
                      . "\x{432}"],
    apostrophe => [1, "Siobh\x{e1}n O'Brien-N\x{ed} Dhuibhir"],
    # U+674E is not in DejaVu: a box drawn, the character extracted;
    # U+1F600 is past the BMP libharu encodes: U+FFFD drawn and extracted
    glyphs     => [1, "Zo\x{eb} \x{674e} Nguy\x{1ec5}n \x{fffd}"],
    nulls      => [1, "\x{2014}"],
    wrap       => [1, 'Maximilian Longaddress'],
    twopage    => [2, 'Wolfgang Amadeus Johann Chrysostomus Theophilus '
                      . 'Mozart-Pertl von Salzburg und Wien'],
);

system("make -s -C '$root' tools BUILD='$build' >&2") == 0
    or BAIL_OUT("make tools failed");

make_path($out);

sub slurp {
    my ($path, $layer) = @_;
    open my $fh, '<' . ($layer // ':raw'), $path or return undef;
    local $/;
    return scalar <$fh>;
}

# a command's stdout and stderr apart, and its exit status
sub run {
    my (@cmd) = @_;
    my $err = "$out/stderr.$$";
    my $q = join ' ', map { "'$_'" } @cmd;
    my $stdout = `$q 2>'$err'`;
    my $rc = $? >> 8;
    my $stderr = slurp($err) // '';
    unlink $err;
    return ($rc, $stdout, $stderr);
}

sub render {
    my ($user, $pdf) = @_;
    return run($tool, '-t', $time, "$data/$user.json", 'org_acme', $job,
               $pdf);
}

# share of pixels darker than light grey in a binary PGM (P5) page
sub ink {
    my ($pgm) = @_;
    my $img = slurp($pgm) // return 0;
    $img =~ s/\AP5\s+(\d+)\s+(\d+)\s+255\s//s or return 0;
    my $n = $1 * $2;
    my $dark = () = $img =~ /[\x00-\xc7]/g;
    return $n ? $dark / $n : 0;
}

for my $user (sort keys %expect) {
    my ($pages, $title) = @{ $expect{$user} };
    my $pdf = "$out/$user.pdf";
    my ($rc, $stdout, $stderr);

    ($rc, undef, $stderr) = render($user, $pdf);
    is($rc, 0, "$user: rendered") or diag($stderr);
    next if $rc != 0;

    my $bytes = slurp($pdf);
    ($rc) = render($user, "$pdf.again");
    ok($rc == 0 && slurp("$pdf.again") eq $bytes,
       "$user: the same input gives the same bytes");
    unlink "$pdf.again";

    ok(length $bytes < 60 * 1024,
       "$user: " . length($bytes) . " bytes, under 60 KB");

    ($rc, $stdout) = run('qpdf', '--check', $pdf);
    is($rc, 0, "$user: qpdf --check exit status");
    like($stdout, qr/^No syntax or stream encoding errors found/m,
         "$user: qpdf finds nothing");

    # pdfinfo prints the info strings as UTF-8
    ($rc, $stdout) = run('pdfinfo', $pdf);
    utf8::decode($stdout);
    my %info = $stdout =~ /^([A-Za-z ]+):\s+(.*)$/mg;
    is($info{Pages}, $pages, "$user: $pages page(s)");
    is($info{Title}, "Identity Verification Report: $title",
       "$user: Title");
    is($info{Author}, 'SQR', "$user: Author");
    like($info{Creator} // '', qr/^ngx_http_pdf_report_module \d+\.\d+\.\d+$/,
         "$user: Creator is the module and its version");
    is($info{CreationDate}, 'Mon May  5 10:00:00 2025 UTC',
       "$user: CreationDate is the generation time");

    # two embedded subsets of DejaVu Sans, Unicode-mapped
    ($rc, $stdout) = run('pdffonts', $pdf);
    my @fonts = grep { /^\S+\+DejaVu/ } split /\n/, $stdout;
    is(scalar @fonts, 2, "$user: two fonts");
    is(scalar(grep { /CID TrueType\s+Identity-H\s+yes\s+yes\s+yes\s/ }
              @fonts), 2, "$user: both embedded subsets with ToUnicode");
    ok((grep { /^\w+\+DejaVuSans,/ } @fonts)
       && (grep { /^\w+\+DejaVuSans-Bold,/ } @fonts),
       "$user: DejaVu Sans regular and bold");

    # the text a reader extracts, layout included, and no warning
    ($rc, $stdout, $stderr) = run('pdftotext', '-layout', $pdf, '-');
    is($rc, 0, "$user: pdftotext exit status");
    is($stderr, '', "$user: pdftotext has nothing to complain about");

    my $golden = "$data/$user.txt";
    if ($update) {
        open my $fh, '>:raw', $golden or die "$golden: $!";
        print $fh $stdout;
        close $fh;
    }
    my $want = slurp($golden);
    ok(defined $want && $stdout eq $want,
       "$user: text as t/data/render/$user.txt")
        or diag(defined $want ? "got:\n$stdout" : "no $golden");

    utf8::decode($stdout);
    like($stdout, qr/\Q$title\E/, "$user: the full name extracts exactly")
        if $user ne 'nulls' && $user ne 'twopage';
    like($stdout, qr/Page $_ of $pages/, "$user: footer Page $_ of $pages")
        for 1 .. $pages;

    # every page rendered, with ink on it; PNGs kept to be looked at
    unlink glob "$out/$user-*.p?m";
    ($rc) = run('pdftoppm', '-r', '30', '-gray', $pdf, "$out/$user");
    my @pgm = sort glob "$out/$user-*.pgm";
    is(scalar @pgm, $pages, "$user: pdftoppm rendered $pages page(s)");
    for my $i (0 .. $#pgm) {
        my $share = ink($pgm[$i]);
        ok($share > 0.01, sprintf("%s: page %d is not blank (%.1f%% ink)",
                                  $user, $i + 1, 100 * $share));
        unlink $pgm[$i];
    }
    ($rc) = run('pdftoppm', '-r', '72', '-png', $pdf, "$out/$user");
    is($rc, 0, "$user: page images in $out/$user-*.png");
}

done_testing();
