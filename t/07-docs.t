# The documentation against the code, so that the two cannot drift:
#
# - the "error" codes the module answers, with their HTTP statuses, and
#   the "errorCode" values of FAILED jobs, as src/ has them, against the
#   tables of README.md and docs/API.md, in both directions, and against
#   the ErrorCode and JobErrorCode enums of docs/openapi.yaml (its
#   responses are held to what the module answers by t/99-openapi.t);
# - the directives and variables of src/ngx_http_pdf_report_module.c
#   against docs/CONFIGURATION.md and README's table (syntax, default and
#   context agree);
# - every link of README.md and docs/*.md resolves to a file inside the
#   repository (and to a heading, for an anchor).
#
# Plain Test::More, no nginx.  The codes are read from the C source:
#
# - a function with a parameter named "code" carries a code: at each call
#   the argument in that place is the code, and the argument in the place
#   of a parameter named "status" (or, for a function without one, the
#   status of the next call in the same function that has one) its HTTP
#   status;
# - "code = "..."" inside a switch is a code whose status is its "case"
#   label (none under "default");
# - those named *_fail, and anything written to an "error_code", give
#   the errorCode of a FAILED job;
# - an argument that is not a literal must be a code passed on ("code",
#   or a field assigned from "code"): anything else fails the test, as
#   does extracting fewer codes than the module has always had.
#
#   TEST_DOCS_VERBOSE=1   print what was extracted

use strict;
use warnings;
use Test::More;
use FindBin;
BEGIN { push @INC, "$FindBin::Bin/lib" }
use PdfReport::Backend;
BEGIN {
    PdfReport::Backend::once('the documentation against the code, no nginx');
}
use Cwd qw(abs_path);
use File::Spec;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $ROOT = abs_path("$FindBin::Bin/..");
my $VERBOSE = $ENV{TEST_DOCS_VERBOSE};

# nginx's status constants (src/http/ngx_http_request.h, 1.22)
my %STATUS = (
    NGX_HTTP_OK                       => 200,
    NGX_HTTP_CREATED                  => 201,
    NGX_HTTP_ACCEPTED                 => 202,
    NGX_HTTP_NO_CONTENT               => 204,
    NGX_HTTP_BAD_REQUEST              => 400,
    NGX_HTTP_UNAUTHORIZED             => 401,
    NGX_HTTP_FORBIDDEN                => 403,
    NGX_HTTP_NOT_FOUND                => 404,
    NGX_HTTP_NOT_ALLOWED              => 405,
    NGX_HTTP_REQUEST_TIME_OUT         => 408,
    NGX_HTTP_CONFLICT                 => 409,
    NGX_HTTP_LENGTH_REQUIRED          => 411,
    NGX_HTTP_PRECONDITION_FAILED      => 412,
    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE => 413,
    NGX_HTTP_REQUEST_URI_TOO_LARGE    => 414,
    NGX_HTTP_UNSUPPORTED_MEDIA_TYPE   => 415,
    NGX_HTTP_RANGE_NOT_SATISFIABLE    => 416,
    NGX_HTTP_MISDIRECTED_REQUEST      => 421,
    NGX_HTTP_TOO_MANY_REQUESTS        => 429,
    NGX_HTTP_REQUEST_HEADER_TOO_LARGE => 494,
    NGX_HTTP_INTERNAL_SERVER_ERROR    => 500,
    NGX_HTTP_NOT_IMPLEMENTED          => 501,
    NGX_HTTP_BAD_GATEWAY              => 502,
    NGX_HTTP_SERVICE_UNAVAILABLE      => 503,
    NGX_HTTP_GATEWAY_TIME_OUT         => 504,
    NGX_HTTP_INSUFFICIENT_STORAGE     => 507,
);

# fewer than this means the extraction broke, not that codes went away
my $MIN_ANSWER_CODES = 18;
my $MIN_FAILED_CODES = 5;

my $CODE_RE = qr/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;


sub slurp {
    my ($path) = @_;

    open my $fh, '<:encoding(UTF-8)', $path or die "cannot read $path: $!";
    local $/;
    my $text = <$fh>;
    close $fh;

    return $text;
}


# ---- C source: comments out, string literals kept, lines kept ----

sub strip_comments {
    my ($src) = @_;

    my $out = '';
    my $n = length $src;
    my $i = 0;

    while ($i < $n) {
        my $c = substr($src, $i, 1);
        my $two = substr($src, $i, 2);

        if ($two eq '/*') {
            my $end = index($src, '*/', $i + 2);
            $end = $n - 2 if $end < 0;
            my $comment = substr($src, $i, $end + 2 - $i);
            (my $blank = $comment) =~ s/[^\n]/ /g;
            $out .= $blank;
            $i = $end + 2;

        } elsif ($two eq '//') {
            my $end = index($src, "\n", $i);
            $end = $n if $end < 0;
            $out .= ' ' x ($end - $i);
            $i = $end;

        } elsif ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < $n && substr($src, $j, 1) ne $c) {
                $j++ if substr($src, $j, 1) eq '\\';
                $j++;
            }
            $out .= substr($src, $i, $j + 1 - $i);
            $i = $j + 1;

        } else {
            $out .= $c;
            $i++;
        }
    }

    return $out;
}


# the index just past the bracket that closes the one at $open
sub match_close {
    my ($text, $open) = @_;

    my %pair = ('(' => ')', '{' => '}', '[' => ']');
    my @stack;
    my $n = length $text;

    for (my $i = $open; $i < $n; $i++) {
        my $c = substr($text, $i, 1);

        if ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < $n && substr($text, $j, 1) ne $c) {
                $j++ if substr($text, $j, 1) eq '\\';
                $j++;
            }
            $i = $j;

        } elsif (exists $pair{$c}) {
            push @stack, $pair{$c};

        } elsif ($c eq ')' || $c eq '}' || $c eq ']') {
            my $want = pop @stack;
            die "unbalanced '$c' at offset $i\n" unless defined $want
                                                         && $want eq $c;
            return $i + 1 unless @stack;
        }
    }

    die "no closing bracket for offset $open\n";
}


# top-level comma-separated pieces, whitespace squeezed
sub split_args {
    my ($s) = @_;

    my (@args, $cur);
    my $depth = 0;
    my $n = length $s;
    $cur = '';

    for (my $i = 0; $i < $n; $i++) {
        my $c = substr($s, $i, 1);

        if ($c eq '"' || $c eq "'") {
            my $j = $i + 1;
            while ($j < $n && substr($s, $j, 1) ne $c) {
                $j++ if substr($s, $j, 1) eq '\\';
                $j++;
            }
            $cur .= substr($s, $i, $j + 1 - $i);
            $i = $j;
            next;
        }

        $depth++ if $c =~ /[({\[]/;
        $depth-- if $c =~ /[)}\]]/;

        if ($c eq ',' && $depth == 0) {
            push @args, $cur;
            $cur = '';
            next;
        }

        $cur .= $c;
    }

    push @args, $cur if $cur =~ /\S/ || @args;

    for (@args) {
        s/^\s+|\s+$//g;
        s/\s+/ /g;
    }

    return @args;
}


# "A" "B" -> AB; undef when the expression is not literals only
sub literal {
    my ($expr) = @_;

    my $s = $expr;
    my $value = '';

    while ($s =~ s/^\s*"((?:[^"\\]|\\.)*)"//) {
        $value .= $1;
    }

    return undef if $s =~ /\S/ || $expr !~ /"/;
    return $value;
}


sub line_of {
    my ($text, $offset) = @_;

    return 1 + (substr($text, 0, $offset) =~ tr/\n//);
}


my (%defines, @files);

for my $path (sort glob "$ROOT/src/*.[ch]") {
    my $text = strip_comments(slurp($path));
    (my $name = $path) =~ s{^\Q$ROOT\E/}{};

    while ($text =~ /^#\s*define\s+(\w+)\s+(\d{3})\b/mg) {
        $defines{$1} = $2;
    }

    push @files, { name => $name, text => $text } if $path =~ /\.c$/;
}

ok(scalar @files >= 10, 'the C sources of src/ are read')
    or BAIL_OUT('no sources in src/');


# function definitions, nginx style: the name at column 0

my (%funcs, @bodies);

for my $f (@files) {
    my $text = $f->{text};

    while ($text =~ /^([A-Za-z_]\w*)\(/mg) {
        my $name = $1;
        my $open = $+[0] - 1;
        my $close = match_close($text, $open);

        next unless substr($text, $close) =~ /^\s*\{/;

        my $brace = $close + $-[0] + length($&) - 1;
        my $end = match_close($text, $brace);
        my @params = split_args(substr($text, $open + 1,
                                       $close - $open - 2));
        my @pnames = map { /(\w+)\s*(?:\[[^\]]*\])?$/ ? $1 : '' } @params;

        my $def = {
            name   => $name,
            file   => $f,
            params => \@pnames,
            start  => $brace,
            end    => $end,
        };

        $funcs{$name} = $def;
        push @bodies, $def;
        pos($text) = $end;
    }
}

ok(scalar keys %funcs > 50, 'function definitions are found')
    or diag(scalar(keys %funcs) . ' found');


sub param_index {
    my ($def, $want) = @_;

    for my $i (0 .. $#{ $def->{params} }) {
        return $i if $def->{params}[$i] eq $want;
    }

    return undef;
}


sub status_of {
    my ($expr, $where) = @_;

    return $1 if $expr =~ /^\(?(\d{3})\)?$/;
    return $STATUS{$expr} if exists $STATUS{$expr};
    return $defines{$expr} if exists $defines{$expr};

    # a status passed on, e.g. "status" or "ctx->refuse_status"
    return undef if $expr =~ /^[\w>.-]*status$/;

    fail("status \"$expr\" at $where is not known to t/07-docs.t");

    return undef;
}


# functions carrying a code: those with a parameter named "code"

my %carrier = map { $_->{name} => $_ }
              grep { defined param_index($_, 'code') } @bodies;

ok(exists $carrier{ngx_http_pdf_report_send_error},
   'ngx_http_pdf_report_send_error takes a "code"');

# fields that hold a code passed on: "x->name = code;", or a copy of it
# ("ngx_cpystrn((u_char *) x->name, (u_char *) code, ...)": the answer
# an Idempotency-Key remembers, replayed later)
my %code_field;

for my $f (@files) {
    while ($f->{text} =~ /->\s*(\w+)\s*=\s*code\s*;/g) {
        $code_field{$1} = 1;
    }

    while ($f->{text} =~ /ngx_cpystrn\(\(u_char\s*\*\)\s*\w+->(\w+),
                         \s*\(u_char\s*\*\)\s*code\s*,/gx)
    {
        $code_field{$1} = 1;
    }
}


my (%answer, %answer_any, %failed);

sub add_answer {
    my ($code, $status, $where) = @_;

    like($code, $CODE_RE, "\"$code\" at $where is UPPER_SNAKE");

    if (defined $status) {
        $answer{"$status $code"} //= $where;
    }

    $answer_any{$code} //= $where;
}


for my $def (@bodies) {
    my $text = $def->{file}{text};
    my $body = substr($text, $def->{start}, $def->{end} - $def->{start});
    my $fname = $def->{file}{name};
    my $has_code_var = defined param_index($def, 'code')
                       || $body =~ /\bcode\s*=\s*"/;

    # calls of code carriers, and of anything taking a status, in order
    my @calls;

    while ($body =~ /\b([A-Za-z_]\w*)\s*\(/g) {
        my $callee = $1;
        my $open = $+[0] - 1;

        next unless exists $funcs{$callee};
        next unless exists $carrier{$callee}
                    || defined param_index($funcs{$callee}, 'status');

        my $close = match_close($body, $open);
        my @args = split_args(substr($body, $open + 1, $close - $open - 2));
        my $where = "$fname:"
                    . line_of($text, $def->{start} + $open);

        push @calls, { callee => $callee, args => \@args,
                       where => $where };
    }

    for my $k (0 .. $#calls) {
        my $call = $calls[$k];
        my $callee = $funcs{ $call->{callee} };

        next unless exists $carrier{ $call->{callee} };

        my $ci = param_index($callee, 'code');
        my $arg = $call->{args}[$ci];

        if (!defined $arg) {
            fail("$call->{where}: $call->{callee}() without its code");
            next;
        }

        my $code = literal($arg);

        if (!defined $code) {
            my $passed = ($arg eq 'code' && $has_code_var)
                         || ($arg =~ /->\s*(\w+)$/ && $code_field{$1});

            ok($passed, "$call->{where}: the code \"$arg\" passed to "
                        . "$call->{callee}() is a literal or one passed on");
            next;
        }

        if ($call->{callee} =~ /_fail$/) {
            $failed{$code} //= $call->{where};
            next;
        }

        # the status: its own argument, or the next call that sends one
        my $status;
        my $si = param_index($callee, 'status');

        if (defined $si) {
            $status = status_of($call->{args}[$si] // '', $call->{where});

        } else {
            for my $next (@calls[$k + 1 .. $#calls]) {
                my $nsi = param_index($funcs{ $next->{callee} }, 'status');
                next unless defined $nsi;
                $status = status_of($next->{args}[$nsi] // '',
                                    $next->{where});
                last;
            }

            ok(defined $status, "$call->{where}: the status of \"$code\" "
                                . "is found");
        }

        add_answer($code, $status, $call->{where});
    }

    # code = "..." in a switch: the status of its case label
    while ($body =~ /\bcode\s*=\s*("(?:[^"\\]|\\.)*")\s*;/g) {
        my $code = literal($1);
        my $at = $-[0];
        my $where = "$fname:" . line_of($text, $def->{start} + $at);
        my $status;

        my @labels;
        my $before = substr($body, 0, $at);

        while ($before =~ /\b(?:case\s+(\w+)|(default))\s*:/g) {
            push @labels, defined $1 ? $1 : 'default';
        }

        if (@labels && $labels[-1] ne 'default') {
            $status = status_of($labels[-1], $where);
        }

        add_answer($code, $status, $where);
    }

    # anything else written into a job's error_code
    while ($body =~ /\berror_code\b[^;]*?("(?:[^"\\]|\\.)*")[^;]*;/g) {
        my $code = literal($1);
        next unless defined $code && $code =~ $CODE_RE;
        $failed{$code} //= "$fname:"
                           . line_of($text, $def->{start} + $-[0]);
    }
}

for my $code (keys %failed) {
    like($code, $CODE_RE, "errorCode \"$code\" is UPPER_SNAKE");
}

if ($VERBOSE) {
    diag("answers: $_ ($answer{$_})") for sort keys %answer;
    diag("codes: $_ ($answer_any{$_})") for sort keys %answer_any;
    diag("errorCode: $_ ($failed{$_})") for sort keys %failed;
}

cmp_ok(scalar keys %answer_any, '>=', $MIN_ANSWER_CODES,
       'the "error" codes of src/ are found (else the extraction broke)')
    or diag(join ' ', sort keys %answer_any);
cmp_ok(scalar keys %failed, '>=', $MIN_FAILED_CODES,
       'the errorCode values of src/ are found (else the extraction broke)')
    or diag(join ' ', sort keys %failed);

# known landmarks, one of each way of answering
for (['401 INVALID_TOKEN', 'a code through a wrapper'],
     ['409 JOB_PENDING', 'a status from the next send'],
     ['408 REQUEST_TIMEOUT', 'a status from a case label'],
     ['503 SERVICE_UNAVAILABLE', 'a status constant'],
     ['422 JOB_NOT_COMPLETE', 'a numeric status'])
{
    ok(exists $answer{ $_->[0] }, "extracted: $_->[0] ($_->[1])");
}

ok(exists $failed{TIMEOUT} && exists $failed{PROCESSING_FAILED}
   && exists $failed{UPLOAD_FAILED},
   'extracted: errorCode from the job task and from the store');


# ---- Markdown ----

# text outside fenced code blocks, lines kept
sub prose {
    my ($md) = @_;

    my ($out, $fence) = ('', undef);

    for my $line (split /\n/, $md, -1) {
        if (!defined $fence && $line =~ /^\s*(```+|~~~+)/) {
            $fence = $1;
            $out .= "\n";
            next;
        }

        if (defined $fence) {
            $fence = undef if $line =~ /^\s*\Q$fence\E\s*$/;
            $out .= "\n";
            next;
        }

        $out .= "$line\n";
    }

    return $out;
}


# tables: [ [header cells], [row cells], ... ], cells trimmed
sub tables {
    my ($md) = @_;

    my (@tables, $cur);

    for my $line (split /\n/, prose($md)) {
        if ($line !~ /^\s*\|/) {
            $cur = undef;
            next;
        }

        (my $l = $line) =~ s/^\s*\|//;
        $l =~ s/\|\s*$//;
        my @cells = map { s/^\s+|\s+$//gr } split /(?<!\\)\|/, $l, -1;

        next if join('', @cells) =~ /^[\s:-]*$/;   # the --- line

        if (!$cur) {
            $cur = [];
            push @tables, $cur;
        }

        push @$cur, \@cells;
    }

    return @tables;
}


sub norm_header {
    my ($cell) = @_;

    $cell =~ s/`//g;
    return lc $cell;
}


# the documented "error" codes and errorCodes of one Markdown file
sub documented_codes {
    my ($file) = @_;

    my (%pairs, %codes, %failed_doc);
    my ($error_tables, $failed_tables) = (0, 0);

    for my $t (tables(slurp("$ROOT/$file"))) {
        my @h = map { norm_header($_) } @{ $t->[0] };

        if (@h >= 2 && $h[0] eq 'status' && $h[1] eq 'error') {
            $error_tables++;

            for my $row (@$t[1 .. $#$t]) {
                my ($status, $cell) = @$row;

                if ($status !~ /^\d{3}$/ || $cell !~ /^`([A-Z0-9_]+)`$/) {
                    fail("$file: error table row \"$status | $cell\" is "
                         . "not \"<status> | `<CODE>`\"");
                    next;
                }

                $pairs{"$status $1"} = 1;
                $codes{$1} = 1;
            }

        } elsif (@h >= 1 && $h[0] eq 'errorcode') {
            $failed_tables++;

            for my $row (@$t[1 .. $#$t]) {
                if ($row->[0] !~ /^`([A-Z0-9_]+)`$/) {
                    fail("$file: errorCode table row \"$row->[0]\" is "
                         . "not \"`<CODE>`\"");
                    next;
                }

                $failed_doc{$1} = 1;
            }
        }
    }

    ok($error_tables >= 1, "$file has a table of status and error");
    ok($failed_tables >= 1, "$file has a table of errorCode");

    return (\%pairs, \%codes, \%failed_doc);
}


sub same_set {
    my ($what, $src, $doc) = @_;

    my @missing = grep { !exists $doc->{$_} } sort keys %$src;
    my @extra = grep { !exists $src->{$_} } sort keys %$doc;

    ok(!@missing, "$what: everything src/ has is documented")
        or diag("not documented: " . join(', ', map {
                    defined $src->{$_} && $src->{$_} ne '1'
                    ? "$_ ($src->{$_})" : $_ } @missing));
    ok(!@extra, "$what: nothing is documented that src/ does not have")
        or diag("documented, not in src/: " . join(', ', @extra));
}


for my $file ('README.md', 'docs/API.md') {
    if (!-f "$ROOT/$file") {
        fail("$file exists");
        next;
    }

    my ($pairs, $codes, $failed_doc) = documented_codes($file);

    same_set("$file, status and error", \%answer, $pairs);
    same_set("$file, error codes", \%answer_any, $codes);
    same_set("$file, errorCode of FAILED jobs", \%failed, $failed_doc);
}


# ---- docs/openapi.yaml: the error and errorCode enums ----

# the list under a path of keys of a YAML file in block style (as
# docs/openapi.yaml is written): "enum: [A, B]" or one "- A" a line;
# undef when the path is not there
sub yaml_list {
    my ($text, @path) = @_;

    my @lines = split /\n/, $text;
    my ($i, $parent, $rest) = (0, -1, undef);

    for my $key (@path) {
        my ($child, $found);

        for (; $i < @lines; $i++) {
            next if $lines[$i] =~ /^\s*(?:#.*)?$/;

            my $ind = length(($lines[$i] =~ /^( *)/)[0]);

            last if $ind <= $parent;

            $child //= $ind;
            next if $ind != $child;

            if ($lines[$i] =~ /^ *['"]?\Q$key\E['"]?:\s*(.*?)\s*$/) {
                ($found, $parent, $rest) = (1, $ind, $1);
                $i++;
                last;
            }
        }

        return undef unless $found;
    }

    my @items;

    if ($rest =~ /^\[(.*)\]$/) {
        @items = map { s/^\s+|\s+$//gr } split /,/, $1;

    } elsif ($rest eq '') {
        for (; $i < @lines; $i++) {
            next if $lines[$i] =~ /^\s*(?:#.*)?$/;
            last if length(($lines[$i] =~ /^( *)/)[0]) <= $parent;
            last unless $lines[$i] =~ /^\s*-\s*(.*?)\s*$/;
            push @items, $1;
        }

    } else {
        return undef;
    }

    return [ map { s/^(['"])(.*)\1$/$2/r } @items ];
}


{
    my $file = 'docs/openapi.yaml';
    my $yaml = -f "$ROOT/$file" ? slurp("$ROOT/$file") : '';

    ok($yaml ne '', "$file exists");

    for (['ErrorCode', 'error codes', \%answer_any],
         ['JobErrorCode', 'errorCode of FAILED jobs', \%failed])
    {
        my ($schema, $what, $src) = @$_;
        my $list = yaml_list($yaml, 'components', 'schemas', $schema,
                             'enum');

        ok($list && @$list, "$file: components.schemas.$schema.enum "
                            . "is found") or next;

        my %doc;

        for my $code (@$list) {
            like($code, $CODE_RE, "$file: $schema \"$code\" is UPPER_SNAKE");
            ok(!$doc{$code}++, "$file: $schema lists \"$code\" once");
        }

        same_set("$file, $what ($schema)", $src, \%doc);
    }
}


# ---- directives and variables ----

my $module = (grep { $_->{name} eq 'src/ngx_http_pdf_report_module.c' }
              @files)[0];

my (%directive, %variable);

if ($module->{text} =~ /ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)\n\};/s) {
    my $table = $1;

    while ($table =~ /\{\s*ngx_string\("(\w+)"\)\s*,\s*([^,]+),/g) {
        my ($name, $flags) = ($1, $2);

        $directive{$name} = $flags =~ /NGX_HTTP_LOC_CONF/ ? 'location'
                          : $flags =~ /NGX_HTTP_SRV_CONF/ ? 'server'
                          : 'http';
    }
}

if ($module->{text} =~ /ngx_http_variable_t\s+\w+\[\]\s*=\s*\{(.*?)\n\};/s)
{
    my $table = $1;

    while ($table =~ /ngx_string\("(\w+)"\)/g) {
        $variable{$1} = 1;
    }
}

cmp_ok(scalar keys %directive, '>=', 20,
       'the directives of the ngx_command_t table are found');
cmp_ok(scalar keys %variable, '>=', 2, 'the variables are found');

my (%conf_doc, %conf_var);
my $conf_md = -f "$ROOT/docs/CONFIGURATION.md"
              ? slurp("$ROOT/docs/CONFIGURATION.md") : '';

ok($conf_md ne '', 'docs/CONFIGURATION.md exists');

{
    my @sections = split /^### /m, prose($conf_md);
    shift @sections;

    for my $s (@sections) {
        my ($head) = $s =~ /^(.*)/;

        if ($head =~ /^`?(pdf_report_\w+)`?\s*$/) {
            my $name = $1;
            my %f;

            while ($s =~ /^[-*]\s+(Syntax|Default|Context):\s*(.*?)\s*$/mg) {
                $f{ lc $1 } = $2;
            }

            $conf_doc{$name} = \%f;

        } elsif ($head =~ /^`?\$(\w+)`?\s*$/) {
            $conf_var{$1} = 1;
        }
    }
}

same_set('docs/CONFIGURATION.md, directives', \%directive, \%conf_doc);
same_set('docs/CONFIGURATION.md, variables', \%variable, \%conf_var);

for my $name (sort keys %conf_doc) {
    my $f = $conf_doc{$name};

    like($f->{syntax} // '', qr/^`\Q$name\E\b[^`]*;`$/,
         "docs/CONFIGURATION.md: $name has a Syntax line");
    ok(defined $f->{default}, "docs/CONFIGURATION.md: $name has a Default");

    next unless exists $directive{$name};

    is($f->{context} // '', "`$directive{$name}`",
       "docs/CONFIGURATION.md: the Context of $name is the code's");
}

# README's short table: the same directives, syntax and defaults
my %readme_dir;

for my $t (tables(slurp("$ROOT/README.md"))) {
    my @h = map { norm_header($_) } @{ $t->[0] };

    next unless @h >= 2 && $h[0] eq 'directive' && $h[1] eq 'default';

    for my $row (@$t[1 .. $#$t]) {
        my ($syntax, $default) = @$row;

        if ($syntax !~ /^`(pdf_report_\w+)([^`]*)`$/) {
            fail("README.md: directive row \"$syntax\" is not "
                 . "\"`pdf_report_<name> <arguments>`\"");
            next;
        }

        $readme_dir{$1} = { syntax => "$1$2", default => $default };
    }
}

same_set('README.md, directives', \%directive, \%readme_dir);

sub norm_syntax {
    my ($s) = @_;

    $s =~ s/`//g;
    $s =~ s/\\\|/|/g;
    $s =~ s/;\s*$//;
    $s =~ s/\s+/ /g;
    $s =~ s/^\s+|\s+$//g;

    return $s;
}

for my $name (sort keys %readme_dir) {
    next unless exists $conf_doc{$name};

    is(norm_syntax($readme_dir{$name}{syntax}),
       norm_syntax($conf_doc{$name}{syntax} // ''),
       "README.md and docs/CONFIGURATION.md: the syntax of $name");
    is(norm_syntax($readme_dir{$name}{default}),
       norm_syntax($conf_doc{$name}{default} // ''),
       "README.md and docs/CONFIGURATION.md: the default of $name");
}


# ---- links: inside the repository, to files and headings that exist ----

# GitHub's anchors of a Markdown file's headings
sub anchors {
    my ($path) = @_;

    my (%seen, %anchors);

    for my $line (split /\n/, prose(slurp($path))) {
        next unless $line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/;

        my $slug = lc $1;
        $slug =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;
        $slug =~ s/[^\w\- ]//g;
        $slug =~ s/ /-/g;

        my $n = $seen{$slug}++;
        $anchors{ $n ? "$slug-$n" : $slug } = 1;
    }

    return \%anchors;
}


my @md = ('README.md', map { s{^\Q$ROOT\E/}{}r }
                       sort glob "$ROOT/docs/*.md");
my $links = 0;

for my $file (@md) {
    my $text = prose(slurp("$ROOT/$file"));
    my (@found, %seen);

    # a path outside the repository, even in backticks, is as broken as
    # a link to it
    while ($text =~ m{(?:^|[\s(`\[])(\.\./[\w./-]+)}g) {
        push @found, [$1, line_of($text, $-[0])];
    }

    # inline code is no link (its lines kept)
    $text =~ s/(`+)((?:(?!\1).)+?)\1/$2 =~ s{[^\n]}{ }gr/gse;

    while ($text =~ /!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?
                     (?:\s+"[^"]*")?\s*\)/gx)
    {
        push @found, [$1, line_of($text, $-[0])];
    }

    while ($text =~ /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$/mg) {
        push @found, [$1, line_of($text, $-[0])];
    }

    for my $l (@found) {
        my ($target, $line) = @$l;
        my $where = "$file:$line: \"$target\"";

        next if $seen{$where}++;

        $links++;

        if ($target =~ /^[a-z][a-z0-9+.-]*:/i) {
            fail("$where: a link outside the repository");
            next;
        }

        my ($path, $anchor) = $target =~ /^([^#]*)(?:#(.*))?$/;

        if ($path =~ m{^/}) {
            fail("$where: an absolute path, not a file of the repository");
            next;
        }

        my $dir = $file =~ m{/} ? $file =~ s{/[^/]*$}{}r : '.';
        my $full = $path eq '' ? "$ROOT/$file"
                               : File::Spec->canonpath("$ROOT/$dir/$path");

        # resolve ".." by hand: the target need not exist for this
        my @parts;
        for my $p (split m{/}, $full) {
            if ($p eq '..') { pop @parts } else { push @parts, $p }
        }
        $full = join '/', @parts;

        if (index("$full/", "$ROOT/") != 0) {
            fail("$where: points outside the repository");
            next;
        }

        if (!-e $full) {
            fail("$where: no such file in the repository");
            next;
        }

        if (defined $anchor && $anchor ne '' && $full =~ /\.md$/) {
            ok(anchors($full)->{$anchor}, "$where: the heading exists");
            next;
        }

        pass("$where resolves");
    }
}

cmp_ok($links, '>=', 3, 'README.md and docs/*.md have links to check');

done_testing();
