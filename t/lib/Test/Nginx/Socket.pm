package Test::Nginx::Socket;

# Fallback for the CPAN module Test::Nginx::Socket (openresty/test-nginx).
#
# Every .t file appends t/lib to the END of @INC, so an installed
# Test::Nginx is always found first and this file is only used on machines
# where it is missing (Debian does not package it).  It needs nothing but
# Perl's core modules.
#
# It re-implements, in its own code, the behaviour of Test::Nginx::Socket
# 0.29 and of Test::Base (whose data format the real runner inherits) that
# this project's tests rely on: the same nginx.conf skeleton, the same
# servroot layout and per-block restart, the same request bytes, the same
# subtests with the same names, in the same order.  A .t file must pass (or
# fail) the same way under both.  t/lib/README.md lists the supported
# sections and the known differences.

use strict;
use warnings;

use Carp qw(croak carp confess);
use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use Errno ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle min max);
use MIME::Base64 ();
use POSIX qw(:sys_wait_h SIGQUIT SIGKILL SIGTERM);
use Scalar::Util qw(looks_like_number openhandle);
use Test::More ();
use Time::HiRes qw(sleep);

our $VERSION = '0.29';

# ---------------------------------------------------------------------------
# Settings.  Same environment variables and defaults as the real runner.
# ---------------------------------------------------------------------------

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                            || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $RepeatEach           = 1;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString;
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $ForceRestartOnTest   = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                            ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $UseValgrind          = $ENV{TEST_NGINX_USE_VALGRIND};
our $UseHup               = $ENV{TEST_NGINX_USE_HUP};
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort            = $ENV{TEST_NGINX_REUSE_PORT};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $BuildSlaveName       = $ENV{TEST_NGINX_BUILDSLAVE};
our $ConfigPreamble       = '';

our (@EnvToNginx, @BlockPreprocessors, @ResponseBodyChecks, @CleanupHandlers);
our @ResponseRecorders;
our ($NginxVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock, $ChildPid, $InSubprocess);
our $ErrLogFilePos = 0;
our $TotalConnectingTimeouts = 0;

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

# Test modes this runner does not implement.  Say so instead of silently
# testing something else than the real runner would.
for my $env (qw(TEST_NGINX_USE_STAP TEST_NGINX_CHECK_LEAK TEST_NGINX_BENCHMARK
                TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3 TEST_NGINX_USE_RR))
{
    warn "WARNING: $env is not supported by the bundled Test::Nginx "
         . "runner (t/lib); ignored\n" if $ENV{$env};
}

if ($UseHup) {
    # The real runner reloads nginx with SIGHUP between blocks.  Here nginx
    # is restarted for every block instead; we keep the master process on
    # as the real one does in this mode, so the config is the same.
    warn "WARNING: TEST_NGINX_USE_HUP: the bundled Test::Nginx runner "
         . "restarts nginx for every block instead of reloading it\n";
}

if ($UseValgrind) {
    # nginx must stay in the foreground so it runs inside valgrind.
    $DaemonEnabled = 'off';
}

if ($Randomize) {
    $ServerPort = _gen_rand_port(1000, {})
        or die "Cannot find an available listening port number.\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

# ---------------------------------------------------------------------------
# Exports.  The same names a .t file gets from the real runner (its own
# exports, Test::Base's and the Test::More subset that Test::Base passes on).
# Note that note(), done_testing(), explain() and subtest() are NOT among
# them there, so they are not here either.
# ---------------------------------------------------------------------------

our @TestMoreExports = qw(ok is isnt like unlike is_deeply cmp_ok skip
    todo_skip pass fail eq_array eq_hash eq_set plan can_ok isa_ok diag
    use_ok $TODO);

our @EXPORT = qw(
    env_to_nginx is_str run_tests repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_response_body_check
    blocks filters filters_delay no_diff no_diag_on_only spec_file
    spec_string croak carp confess
);

my $ImportCalled;

our @ImportArgs;

sub import {
    my ($class, @args) = @_;
    my $caller = caller;
    $ImportCalled = 1;

    # The real runner (through Test::Base) turns on strict and warnings for
    # the rest of the .t file; do the same so both fail on the same code.
    strict->import;
    warnings->import;

    no strict 'refs';

    # "use Test::Nginx::Socket -Base" in a helper module makes it a
    # subclass whose users get the same functions.
    if (grep { /^-base$/i } @args) {
        push @{"${caller}::ISA"}, $class;
        *{"${caller}::$_"} = \&{"Test::Nginx::Socket::$_"} for @EXPORT;
        return;
    }

    # Plan arguments ('no_plan', tests => N, skip_all => why) and the
    # Test::More functions, imported "from" the .t file's own package.
    local @ImportArgs = @args;
    eval "package $caller; Test::More->import(import => "
        . "[\@Test::Nginx::Socket::TestMoreExports], "
        . "\@Test::Nginx::Socket::ImportArgs); 1" or die $@;

    *{"${caller}::$_"} = \&{"Test::Nginx::Socket::$_"} for @EXPORT;
}

# ---------------------------------------------------------------------------
# Functions a .t file calls before run_tests().
# ---------------------------------------------------------------------------

sub repeat_each (@) { $RepeatEach = shift if @_; return $RepeatEach }
sub workers (@) { return @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) {
    return @_ ? ($WorkerConnections = shift) : $WorkerConnections;
}
sub log_level (@) { return @_ ? ($LogLevel = shift) : $LogLevel }
sub timeout (@) { return @_ ? ($Timeout = shift) : $Timeout }
sub server_port (@) { return @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) {
    return @_ ? ($ServerPortForClient = shift) : $ServerPortForClient;
}
sub server_addr (@) { return @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_name (@) { return @_ ? ($ServerName = shift) : $ServerName }
sub server_root () { return $ServRoot }
sub html_dir () { return $HtmlDir }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    return $MasterProcessEnabled unless @_;
    $MasterProcessEnabled = shift() ? 'on' : 'off';
}
sub no_shuffle () { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_nginx_manager () { $NoNginxManager = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub use_hup () { $UseHup = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }

# Like the real one, the preprocessor added last runs first.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

# Not in the real runner (so not exported): each parsed response of a
# block's requests goes to these subs, { block, method, target, port,
# status, headers => [[name, value], ...], body }, for PdfReport::Record.
sub add_response_recorder ($) { push @ResponseRecorders, shift }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# String comparison honouring no_long_string() and qr// expectations.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    return Test::More::is($got, $expected, $desc);
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

# ---------------------------------------------------------------------------
# The data section: "=== TEST n: title" blocks made of "--- name" sections,
# read and filtered the way Test::Base does it.
# ---------------------------------------------------------------------------

my ($SpecFile, $SpecString, $BlockList);
my @DefaultFilters = qw(norm trim);
my %FiltersMap;
my $FiltersDelay = 0;
my $NoDiagOnOnly = 0;

# Section names Test::Base refuses (they clash with its block methods).
my %Reserved = map { $_ => 1 } qw(AUTOLOAD BEGIN DESTROY EXPORT ISA new
    block_accessor blocks_object description is_filtered name
    original_values run_filters seq_num set_value);

sub spec_file { $SpecFile = shift }
sub spec_string { $SpecString = shift }
sub filters_delay { $FiltersDelay = defined $_[0] ? shift : 1 }
sub no_diag_on_only { $NoDiagOnOnly = defined $_[0] ? shift : 1 }
sub no_diff { $ENV{TEST_SHOW_NO_DIFFS} = 1 }

# filters(qw(chomp)) adds filters for every section;
# filters({ section => [...] }) adds them for one section.
sub filters {
    if (ref $_[0] eq 'HASH') {
        %FiltersMap = %{ shift() };
    } else {
        push @DefaultFilters, @_;
    }
    return;
}

# In scalar context: how many blocks.  In list context: the blocks, with
# their filters (eval and the rest) applied, all of them at once.  With a
# section name: only the blocks that have that section.
sub blocks {
    my ($section) = @_;
    my $list = _block_list();
    $list = [ grep { exists $_->{$section} } @$list ] if $section;
    return scalar @$list unless wantarray;
    unless ($FiltersDelay) {
        $_->{is_filtered} or _run_filters($_) for @$list;
    }
    return @$list;
}

sub _block_list {
    return $BlockList if $BlockList;
    my $spec = _read_spec();
    $BlockList = defined $spec ? _parse_spec($spec) : [];
    return $BlockList;
}

sub _read_spec {
    return $SpecString if defined $SpecString;
    local $/;
    if (defined $SpecFile) {
        open my $fh, '<', $SpecFile or die "$SpecFile: $!";
        return scalar <$fh>;
    }
    my $fh = openhandle(\*main::DATA) or return;
    return scalar <$fh>;
}

sub _parse_spec {
    my ($spec) = @_;
    my @blocks;
    # A block runs from a line starting with "===" to the next such line.
    for my $hunk ($spec =~ /^(===.*?)(?=^===|\z)/msg) {
        my $block = _make_block($hunk);
        if (exists $block->{ONLY}) {
            Test::More::diag("I found ONLY: maybe you're debugging?")
                unless $NoDiagOnOnly;
            @blocks = ($block);
            last;
        }
        next if exists $block->{SKIP};
        push @blocks, $block;
        last if exists $block->{LAST};
    }
    my $seq = 1;
    $_->{seq_num} = $seq++ for @blocks;
    return \@blocks;
}

sub _make_block {
    my ($hunk) = @_;
    my $block = Test::Nginx::Socket::Block->new;

    $hunk =~ s/\A===[ \t]*(.*)\s+// or die "Bad test block: $hunk";
    my $name = $1;

    # "--- name [filter ...]" followed by lines, or "--- name: value".
    my ($description, @parts) = split /^--- +\(?(\w+)\)? *(.*)\n/m, $hunk;
    $description = '' unless defined $description;
    $description = $name unless $description =~ /\S/;
    $description =~ s/\s*\z//;
    $block->set_value(description => $description);

    my (%filters, @order);
    while (@parts) {
        my ($type, $filters, $value) = splice @parts, 0, 3;
        croak "'$type' is a reserved name. Use something else.\n"
            if $Reserved{$type} || $type =~ /^_/;
        $filters = '' unless defined $filters;
        $value = '' unless defined $value;
        if ($filters =~ /:(?:\s|\z)/) {
            croak "Extra lines not allowed in '$type' section"
                if $value =~ /\S/;
            ($filters, $value) = split /\s*:(?:\s+|\z)/, $filters, 2;
            $value = '' unless defined $value;
            $value =~ s/^\s+|\s+$//g;
        }
        $filters{$type} = $filters;
        push @order, $type;
        $block->set_value($type, $value);
    }
    $block->set_value(name => $name);
    $block->{_section_filters} = \%filters;
    $block->{_section_order} = \@order;
    return $block;
}

sub _filters_for {
    my ($block, $type) = @_;
    my $spec = $block->{_section_filters}{$type};
    $spec =~ s/^\s+//;
    my $map = $FiltersMap{$type} || [];
    $map = [$map] unless ref $map;
    my (@list, @append);
    for my $f (@DefaultFilters, @$map, split /\s+/, $spec) {
        last unless length $f;
        if ($f =~ s/^-//) {
            @list = grep { $_ ne $f } @list;
        } elsif ($f =~ s/^\+//) {
            push @append, $f;
        } else {
            push @list, $f;
        }
    }
    return (@list, @append);
}

our $FilterArg;   # the "x" of "filter=x"

sub _run_filters {
    my ($block) = @_;
    for my $type (@{ $block->{_section_order} }) {
        my @value = @{ $block->{$type} };
        $block->{original_values}{$type} = $value[0];
        for my $filter (_filters_for($block, $type)) {
            local $FilterArg = $filter =~ s/=(.*)$// ? $1 : undef;
            no strict 'refs';
            if (defined &{"main::$filter"}) {
                # A filter function of the .t file: it gets the value in @_
                # and $_; returning nothing or a number means "use $_".
                local $_ = (@value == 1 && !defined $value[0])
                    ? undef : join '', @value;
                @value = &{"main::$filter"}(@value);
                if (!@value || (@value == 1 && defined $value[0]
                                && $value[0] =~ /\A(\d+|)\z/))
                {
                    @value = ($_);
                }
            } else {
                my $code = $Test::Nginx::Socket::Filters::{$filter};
                die "Can't find a function or method for '$filter' filter\n"
                    unless $code && defined &$code;
                @value = &$code(@value);
            }
            $block->{$type} = [@value];
        }
    }
    $block->{is_filtered} = 1;
}

# ---------------------------------------------------------------------------
# Running the blocks.
# ---------------------------------------------------------------------------

sub run_tests () {
    $NginxVersion = _get_nginx_version();

    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    # All blocks are filtered here, before the first one runs: an "eval"
    # section is evaluated now, not when its block comes.
    my @blocks = blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        # Preprocessors run right before their block, i.e. after the
        # previous block has finished (its nginx is still up then).
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        _run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

sub _run_test {
    my ($block) = @_;
    return if defined $block->SKIP;

    my $name = $block->name;
    _reject_unsupported($block);

    my $rand_ports = {};
    my $config = _expand_env(scalar $block->config, $name, $rand_ports);

    my $dry_run = 0;
    my ($should_restart, $should_reconfig) = (1, 1);

    local $LogLevel = $LogLevel;
    $LogLevel = $block->log_level if $block->log_level;

    my $must_die = $block->must_die;
    local $UseValgrind = defined $must_die ? undef : $UseValgrind;
    local $UseHup = defined $must_die ? undef : $UseHup;

    if (!defined $config) {
        # No "--- config": the previous block's nginx keeps serving.
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        ($should_restart, $should_reconfig) = (0, 0);

    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
        ($should_restart, $should_reconfig) = (0, 0);

    } else {
        $should_reconfig = !defined $PrevConfig || $config ne $PrevConfig;
        $should_restart = $should_reconfig || $ForceRestartOnTest;
    }

    my ($should_skip, $tests_to_skip, $skip_reason) = _skip_spec($block);
    my ($should_todo, $todo_reason, $todo_count) = _todo_spec($block);
    $tests_to_skip = $todo_count if defined $todo_count;
    $skip_reason = 'various reasons' unless defined $skip_reason;
    $todo_reason = 'various reasons' unless defined $todo_reason;

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = $config if $should_reconfig;

        _stop_nginx_from_pidfile($name);
        _check_prev_block_shutdown_error_log();

        _setup_server_root();
        _write_user_files($block, $rand_ports);
        _write_config_file($block, $config, $rand_ports);

        bail_out("$name - Cannot find the nginx executable in the PATH "
                 . "environment") unless _can_run($NginxBinary);

        my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile > /dev/null";

        if ($UseValgrind) {
            if ($UseValgrind =~ /^\d+$/) {
                my $opts = "--tool=memcheck --leak-check=full "
                         . "--show-possibly-lost=no";
                my $supp = -f 'valgrind.suppress'
                    ? ' --suppressions=valgrind.suppress' : '';
                $cmd = "valgrind --num-callers=100 -q $opts "
                     . "--gen-suppressions=all$supp $cmd";
            } else {
                $cmd = "valgrind -q $UseValgrind $cmd";
            }
            warn "$name\n";

            # nginx runs in the foreground inside valgrind, as our child.
            my $pid = fork;
            bail_out("$name - fork() failed: $!") unless defined $pid;
            if ($pid == 0) {
                setpgrp;
                $InSubprocess = 1;
                exec "exec $cmd" or POSIX::_exit(127);
            }
            $ChildPid = $pid;

        } else {
            $dry_run = _start_daemon($block, $cmd, $must_die);
            return if defined $must_die;
        }

        sleep $TestNginxSleep;
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        # Each repetition gets fresh copies of the user files.
        _write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: { Test::More::skip("$name - $skip_reason", $tests_to_skip) }
        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }
        } else {
            _run_test_helper($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            open my $out, '>>', $total_errlog
                or bail_out("Failed to append test case title to "
                            . "$total_errlog: $!\n");
            print $out "\n=== $0 $name\n";
            close $out;
            system("cat $ErrLogFile >> $total_errlog") == 0
                or bail_out("Failed to append $ErrLogFile to $total_errlog. "
                            . "Abort.\n");
        }
    }

    # Under valgrind nginx is stopped after every block, so that its
    # leak report for this block is printed now.
    _stop_valgrind_nginx($name) if $UseValgrind && !$UseHup;
}

# Sections the real runner acts on but this one cannot; a block using them
# would silently test less here, so stop instead.
sub _reject_unsupported {
    my ($block) = @_;
    for my $s (qw(tcp_listen udp_listen stap stap_out stap_out_like
                  stap_out_unlike http2 http3))
    {
        next unless defined $block->$s;
        bail_out($block->name . " - section --- $s is not supported by the "
                 . "bundled runner in t/lib; install Test::Nginx");
    }
}

# Starts nginx as a daemon with system().  Returns the dry-run reason (set
# when TEST_NGINX_IGNORE_MISSING_DIRECTIVES hides an unknown directive).
sub _start_daemon {
    my ($block, $cmd, $must_die) = @_;
    my $name = $block->name;
    my ($i, $waited) = (0, 0);
    $ErrLogFilePos = 0;

    while (1) {
        system($cmd);
        my $status = $?;
        my ($exec_failed, $exit_code, $coredump);
        if ($status == -1) {
            $exec_failed = 1;
        } else {
            $exit_code = $status >> 8;
            if ($status > (128 << 8)) {
                $coredump = $exit_code & 128;
                $exit_code >>= 8;
            } else {
                $coredump = $status & 128;
            }
        }

        if (defined $must_die) {
            if ($exec_failed) {
                Test::More::fail("$name - failed to execute the nginx "
                                 . "command line");
            } elsif ($coredump) {
                Test::More::fail("$name - nginx core dumped");
            } elsif (looks_like_number($must_die)) {
                Test::More::is($must_die, $exit_code,
                               "$name - die with the expected exit code");
            } else {
                Test::More::isnt($status, 0, "$name - die as expected");
            }

            _check_error_log($block, undef, 0, $i, 0);

            if ($status == 0) {
                warn "WARNING: $name - nginx must die but it does not; "
                     . "killing it (req $i)";
                for (1 .. 15) {
                    last if -f $PidFile;
                    sleep $TestNginxSleep;
                }
                _kill_process(_read_pidfile($name), $name);
            }

            next if ++$i < $RepeatEach;
            return 0;
        }

        return 0 if $status == 0;

        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}) {
            my $directive = _find_missing_directive();
            return "the lack of directive $directive" if $directive;
        }

        # The real runner keeps trying for 30 seconds, then gives up.
        $i++;
        my $delay = min(1, 0.1 * $i);
        sleep $delay;
        $waited += $delay;
        next if $waited < 30;
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).");
    }
}

sub _find_missing_directive {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        return $1 if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
    }
    return 0;
}

sub _skip_spec {
    my ($block) = @_;
    my $name = $block->name;
    my ($skip, $count, $reason);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($count, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
        }
    }

    my $ver_re = qr/([<>]=?)\s*(\d+)\.(\d+)\.(\d+)/;
    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*$ver_re(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $count = $1;
        my ($op, @v) = ($2, $3, $4, $5);
        $reason = $6 || "nginx version $op " . join '.', @v;
        $skip = 1 if (!defined $NginxVersion && $op =~ /^</)
            || _cmp_version($NginxVersion, $op, _canon_version(@v));

    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        my @m = $spec2 =~ /^\s*(\d+)\s*:\s*$ver_re\s*(or|and)\s*$ver_re
                           (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $count = $m[0];
        my $first = _cmp_version($NginxVersion, $m[1], _canon_version(@m[2 .. 4]));
        my $second = _cmp_version($NginxVersion, $m[6], _canon_version(@m[7 .. 9]));
        $reason = $m[10];
        $skip = 1 if !defined $NginxVersion
            || ($m[5] eq 'or' ? ($first || $second) : ($first && $second));

    } elsif (defined(my $slave = $block->skip_slave)
             and defined $BuildSlaveName)
    {
        my @m = $slave =~ /^\s*(\d+)\s*:\s*(\w+)\s*(?:(\w+)\s*)?(?:(\w+)\s*)?
                           (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_slave spec: $slave");
        ($count, $reason) = @m[0, 4];
        $skip = 1 if $m[1] eq 'all'
            || grep { defined $_ && $_ eq $BuildSlaveName } @m[1 .. 3];
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $count = $1;
        my ($op, @v) = ($2, $3, $4, $5, $6);
        $reason = $7;
        if (!$reason) {
            $reason = !defined $OpenSSLVersion ? "Not built with OpenSSL"
                : "OpenSSL version $op $v[0].$v[1].$v[2]"
                  . (defined $v[3] ? $v[3] : '');
        }
        $skip = 1 if !defined $OpenSSLVersion
            || _cmp_version($OpenSSLVersion, $op, _canon_openssl_version(@v));
    }

    return ($skip, $count, $reason);
}

sub _todo_spec {
    my ($block) = @_;
    my $name = $block->name;
    my ($todo, $reason, $count);
    if (defined(my $spec = $block->todo_nginx)) {
        my ($op, @v) = $spec =~ /^\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- todo_nginx spec: $spec");
        $reason = $v[3];
        $todo = 1 if (!defined $NginxVersion && $op =~ /^</)
            || _cmp_version($NginxVersion, $op, _canon_version(@v[0 .. 2]));
    }
    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        ($todo, $count, $reason) = (1, $1, $2);
    }
    return ($todo, $reason, $count);
}

sub _canon_version { sprintf "%d.%03d%03d", @_[0 .. 2] }

sub _canon_openssl_version {
    return _canon_version(@_) unless defined $_[3];
    return sprintf "%d.%03d%03d%03d", @_[0 .. 2], ord($_[3]) - ord('a');
}

sub _cmp_version {
    my ($have, $op, $want) = @_;
    return 0 unless defined $have;
    return $op eq '<'  ? $have <  $want
         : $op eq '<=' ? $have <= $want
         : $op eq '>'  ? $have >  $want
         :               $have >= $want;
}

sub _get_nginx_version {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        $out = '' unless defined $out;
        bail_out("Failed to get the version of the Nginx in PATH: $out");
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}) {
        $OpenSSLVersion = _canon_openssl_version($1, $2, $3, $4);
    }
    return _canon_version($1, $2, $3)
        if $out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)};
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub _can_run {
    my ($cmd) = @_;
    if ($cmd =~ m{[/\\]}) {
        return (-f $cmd && -x $cmd) ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} || ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }
    return undef;
}

# ---------------------------------------------------------------------------
# The server root and nginx.conf.
# ---------------------------------------------------------------------------

# Wiped and rebuilt each time nginx is (re)started for a block.  Only the
# directories the runner itself makes are removed; anything else left in
# the server root stops the run instead of being deleted.
sub _setup_server_root {
    if (-d $ServRoot) {
        remove_tree($ConfDir, glob("$ServRoot/*_cache"),
                    glob("$ServRoot/*_temp"), $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        mkdir $dir or bail_out("Failed to do mkdir $dir\n");
    }
    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
             . '<body>It works!</body></html>';
    close $out;
}

# "--- user_files": ">>> path [touch -t stamp]" lines each start a file;
# the lines after it are its content.  Relative paths are under html/.
sub _write_user_files {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory ", $1);
        }
        $body = _expand_env($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' $HtmlDir/$fname";
            system($cmd) == 0
                or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}

# $TEST_NGINX_FOO in config-like sections is replaced by $ENV{TEST_NGINX_FOO};
# a missing one stops the run.  $TEST_NGINX_RAND_PORT_N picks a free port.
sub _expand_env {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            $val = $rand_ports->{$var} ||= _gen_rand_port(1000,
                { $ServerPort => 1, map { $_ => 1 } values %$rand_ports })
                || bail_out("$name - Cannot find an available listening "
                            . "port number for $var.\n");
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;
    return $text;
}

sub _gen_rand_port {
    my ($tries, $used) = @_;
    for (1 .. $tries) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port,
                                         Proto => 'tcp', Listen => 1)
            or next;
        close $sock;
        return $port;
    }
    return undef;
}

sub _write_config_file {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    master_on() if $UseHup;

    my $http_config = _expand_env(scalar $block->http_config, $name, $rand_ports);
    $http_config = '' unless defined $http_config;
    $config = '' unless defined $config;

    my $main_config = $block->main_config;
    $main_config = '' unless defined $main_config;
    if ($LoadModules) {
        # Appended to the block's main config, like the real runner does
        # (so a main_config directive of a dynamic module cannot be used).
        $main_config .= join ' ', map { "load_module $_;" }
                                  grep { $_ } split /\s+/, $LoadModules;
    }
    $main_config = _expand_env($main_config, $name, $rand_ports);

    my $post_main_config = _expand_env(scalar $block->post_main_config, $name,
                                       $rand_ports);
    $post_main_config = '' unless defined $post_main_config;

    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name = $block->server_name;
    $server_name = $ServerName unless defined $server_name;
    my $listen_opts = $ReusePort ? ' reuseport' : '';

    my $env = '';
    for my $v (@EnvToNginx) {
        $env .= 'env ' . ($v =~ /\s/ ? "'$v'" : $v) . ";\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $event_type = $EventType ? "    use $EventType;\n" : '';

    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"        # run as root
             :                       '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
${env}#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile;
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;
        #client_body_buffer_size 4k;


        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

${root_location}    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
${event_type}}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
_EOC_
    print $out $user;
    close $out;
}

# ---------------------------------------------------------------------------
# Stopping nginx.
# ---------------------------------------------------------------------------

# A daemonized nginx that has exited stays a zombie until PID 1 reaps it,
# which can take seconds in containers; it holds no port any more, so it
# counts as stopped.  (The real runner waits for the reaping.)
sub _is_running {
    my ($pid) = @_;
    return 0 unless $pid && kill(0, $pid);
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh>;
        return 0 if defined $stat && $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub _read_pidfile {
    my ($name) = @_;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for "
                    . "reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    chomp $pid if defined $pid;
    return $pid;
}

sub _stop_nginx_from_pidfile {
    my ($name) = @_;
    return unless -f $PidFile;
    my $pid = _read_pidfile($name);
    return if !defined $pid || $pid eq '';
    if (_is_running($pid)) {
        _kill_process($pid, $name);
    } else {
        unlink $PidFile
            or warn "WARNING: failed to remove pid file $PidFile\n";
    }
}

sub _kill_hard {
    my ($pid) = @_;
    if (getpgrp($pid) == $pid) {
        kill SIGKILL, -$pid;    # the whole process group
        sleep 0.05;
    } else {
        kill SIGKILL, $pid;
        waitpid $pid, 0;
    }
}

# Graceful stop (QUIT) with the same patience as the real runner: up to
# timeout() seconds, then harder signals.
sub _kill_process {
    my ($pid, $name) = @_;
    return unless $pid;

    kill SIGQUIT, $pid;
    my $left = $Timeout;
    while ($left > 0 && _is_running($pid)) {
        waitpid $pid, WNOHANG;    # reaps it when it is our own child
        sleep 0.05;
        $left -= 0.05;
    }
    if (_is_running($pid)) {
        warn "$name - timeout when waiting for the process $pid to exit";
        _kill_hard($pid);
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        return unless _is_running($pid);
        kill SIGTERM, $pid;
        $step = min(0.5, $step * 1.2);
        sleep $step;
    }
    warn "$name - WARNING: killing the child process $pid with force...";
    _kill_hard($pid);
}

sub _stop_valgrind_nginx {
    my ($name) = @_;
    return unless -f $PidFile;
    my $pid = _read_pidfile($name);
    if (!_is_running($pid)) {
        unlink $PidFile;
        return;
    }
    for my $try (0 .. 20) {
        kill SIGQUIT, $pid
            or warn "$name - Failed to send quit signal to the nginx "
                    . "process with PID $pid";
        sleep $TestNginxSleep;
        last unless -f $PidFile && _is_running($pid);
        next if $try < 20;
        kill SIGKILL, -$pid;    # give up: the whole process group
        waitpid $pid, 0;
        unlink $PidFile;
        return;
    }
    my $left = 1.0;
    while ($left > 0 && _is_running($pid)) {
        waitpid $pid, WNOHANG;
        sleep 0.05;
        $left -= 0.05;
    }
    if (_is_running($pid)) {
        warn "$name - timeout when waiting for the process $pid to exit";
        kill SIGKILL, $pid;
        sleep 0.05;
    }
    undef $ChildPid if defined $ChildPid && $ChildPid == $pid;
}

sub cleanup {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        _kill_process($ChildPid, 'cleanup');
        undef $ChildPid;
    }
}

END {
    return if $InSubprocess || !$ImportCalled;
    local $?;    # keep Test::Builder's exit status

    cleanup();

    # TEST_NGINX_NO_CLEAN leaves the last nginx running to poke at it.
    if (($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) && -f $PidFile) {
        my $pid = _read_pidfile('');
        if (_is_running($pid)) {
            _kill_process($pid, 'END');
        } else {
            unlink $PidFile;
        }
    }

    _check_prev_block_shutdown_error_log();

    if ($Randomize && -d $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

# ---------------------------------------------------------------------------
# Requests.
# ---------------------------------------------------------------------------

# Turns --- request / raw_request / pipelined_requests (and more_headers)
# into a list of requests, each a list of packets { value, delay_before }.
sub _requests_from_block {
    my ($block) = @_;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { +{ value => $_ } } ref $raw eq 'ARRAY' ? @$raw : $raw ]];
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval "
                         . "instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        # Comment lines and blank space before the request line go away.
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more = $block->more_headers || '';

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $chunked) = _more_headers_for($more, $i,
                "--- more_headers lacks data for the $i pipelined request");
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $all .= _build_request($name, $hdr, $chunked, $conn,
                                   [$reqs->[$i]])->[0];
        }
        return [[{ value => $all }]];
    }

    if (!ref $request) {
        my ($hdr, $chunked) = _more_headers_for($more, 0,
            "--- more_headers lacks data for the request");
        my $packets = _build_request($name, $hdr, $chunked, 'close',
                                     [$request]);
        return [[{ value => $packets->[0] }]];
    }

    bail_out("$name - invalid ---request : MUST be string or array of "
             . "requests") unless ref $request eq 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my ($hdr, $chunked) = _more_headers_for($more, $i,
            "--- more_headers lacks data for the ${i}th request");
        if (!ref $one) {
            my $packets = _build_request($name, $hdr, $chunked, 'close', [$one]);
            push @list, [{ value => $packets->[0] }];
        } elsif (ref $one eq 'ARRAY') {
            # A request given as packets: strings or { value, delay_before }.
            my @raw = map {
                !ref $_              ? $_
                : ref $_ eq 'HASH'   ? $_->{value}
                : bail_out("$name - Invalid syntax. $_ should be a string "
                           . "or hash with value.")
            } @$one;
            my $out = _build_request($name, $hdr, $chunked, 'close', \@raw);
            push @list, [ map {
                ref $one->[$_] ? { %{ $one->[$_] }, value => $out->[$_] }
                               : { value => $out->[$_] }
            } 0 .. $#$out ];
        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an "
                     . "array of packets.");
        }
    }
    return \@list;
}

sub _more_headers_for {
    my ($more, $i, $lacking) = @_;
    if (ref $more eq 'ARRAY') {
        bail_out($lacking) unless defined $more->[$i];
        $more = $more->[$i];
    }
    my ($out, $chunked) = ('', undef);
    for my $line (split /\n+/, $more) {
        next if $line =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# "METHOD [URI [VERSION]]\nbody" -> the bytes sent: request line, Host,
# Connection, the extra headers, Content-Length for a body (whose leading
# and trailing white space is dropped), blank line, body.  When the request
# came as several packets the result is cut at the matching places.
sub _build_request {
    my ($name, $more, $chunked, $conn, $packets) = @_;
    my $text = join '', map { defined $_ ? $_ : '' } @$packets;

    my ($first, $body) = $text =~ /\A([^\n]*\n?)(.*)\z/s;
    bail_out("$name - Request line should be non-empty") unless $first;
    my ($meth, $uri, $ver) =
        $first =~ /^\s*(\S+)(?: +(\S+))?(?: +(\S+))? *\s*$/;
    bail_out("$name - Request line is not valid. Should be 'meth [url "
             . "[version]]' but got \"$first\".") unless defined $meth;
    $uri = '/' unless defined $uri;
    $ver = 'HTTP/1.1' unless defined $ver;

    my ($new_body, $lead, $len_header) = ($body, 0, '');
    if (!$chunked && $body ne '' && $more !~ /(?:^|\n)Content-Length:/) {
        $lead = length(($body =~ /\A(\s*)/)[0]);
        $new_body =~ s/^\s+|\s+$//g;
        $len_header = 'Content-Length: ' . length($new_body) . "\r\n";
    }

    $more =~ s/(?<!\r)\n/\r\n/g;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n" unless $more =~ /(?:^|\n)Host:/i;
    $headers .= "Connection: $conn\r\n" unless $more =~ /(?:^|\n)Connection/i;
    $headers .= "$more$len_header\r\n";

    my $line = "$meth $uri $ver\r\n";
    my $all = $line . $headers . $new_body;
    return [$all] if @$packets <= 1;

    # Map every packet boundary of the original text onto the new text: a
    # cut inside the request line stays there, a cut in the body moves
    # with the body.
    my ($head_len, $pos, $prev, @out) = (length($line) + length($headers), 0, 0);
    for my $p (@$packets[0 .. $#$packets - 1]) {
        $pos += length(defined $p ? $p : '');
        my $cut = $pos < length $first
            ? min($pos, length($line) - 2)
            : $head_len + max(0, min(length $new_body,
                                     $pos - length($first) - $lead));
        $cut = $prev if $cut < $prev;
        push @out, substr($all, $prev, $cut - $prev);
        $prev = $cut;
    }
    push @out, substr($all, $prev);
    return \@out;
}

# Sends one request (a list of packets) and reads until the server closes
# the connection.  Returns (raw response, whether it was a HEAD request).
sub _send_request {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$packets;
    my $head_req = (join '', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $addr = $block->server_addr_for_client;
    $addr = $ServerAddr unless defined $addr;

    # nginx may still be starting: retry like the real runner (about 40 s).
    my $sock;
    for (my $try = 1; ; $try++) {
        $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                      PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        my $err = $!;
        my $max = $TotalConnectingTimeouts ? 20 : 50;
        if ($try > $max) {
            my $msg = "$name - Can't connect to $addr:$ServerPortForClient: "
                    . "$err (aborted)\n";
            bail_out($msg) if ++$TotalConnectingTimeouts >= 3;
            Test::More->builder->no_ending(1);
            Test::More::fail($msg);
            return (undef, $head_req);
        }
        if (defined $ChildPid && waitpid($ChildPid, WNOHANG) == -1) {
            warn "WARNING: Child process $ChildPid is already gone.\n";
            warn `tail -n20 $ErrLogFile`;
            Test::More->builder->no_ending(1);
            Test::More::fail("$name - Can't connect to $addr:"
                             . "$ServerPortForClient: $err (aborted)\n");
            return (undef, $head_req);
        }
        my $wait = min(1, ($TestNginxSleep + $TestNginxSleep * $try) * $try / 2);
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n";
            warn "\tRetry connecting after $wait sec\n" if $try + 1 <= $max;
        }
        sleep $wait;
    }

    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $buf = (shift @bits)->{value};
    my $off = 0;
    my ($writing, $reading) = (1, 1);
    my $sel = IO::Select->new($sock);

    IO: while ($writing || $reading) {
        my ($readable, $writable) = IO::Select->select(
            $reading ? $sel : undef, $writing ? $sel : undef, undef, $timeout);

        if (!$readable && !$writable) {
            # No I/O event for $timeout seconds.
            close $sock;
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            last IO;
        }

        if ($writable && @$writable) {
            while (1) {
                if ($off < length $buf) {
                    my $n = syswrite $sock, $buf, length($buf) - $off, $off;
                    if (!defined $n) {
                        last if $!{EAGAIN} || $!{EWOULDBLOCK};
                        warn "write failed: $!\n";
                        $resp = "write failed: $!" if $resp eq '';
                        close $sock;
                        last IO;
                    }
                    $off += $n;
                    next;
                }
                my $next = shift @bits;
                if (!$next) {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown $sock, ($how eq '' ? 1 : $how);
                    }
                    last;
                }
                ($buf, $off) = ($next->{value}, 0);
                my $delay = defined $next->{delay_before}
                    ? $next->{delay_before} : $middle_delay;
                sleep $delay if $delay;
            }
        }

        if ($readable && @$readable) {
            while (1) {
                my $n = sysread $sock, my $chunk, 4096;
                if (!defined $n) {
                    last if $!{EAGAIN} || $!{EWOULDBLOCK};
                    warn "WARNING: $name - HTTP response read failure: $!";
                    close $sock;
                    last IO;
                }
                if ($n == 0) {    # the server closed the connection
                    close $sock;
                    last IO;
                }
                $resp .= $chunk;
            }
        }
    }

    return ($resp, $head_req);
}

# Parses a raw response like HTTP::Response->parse, then decodes a chunked
# body or cuts the body at Content-Length.  Returns (response, raw header
# text, bytes left over after this response).
sub _parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my $res = Test::Nginx::Socket::Response->parse($raw);
    my $code = $res->code;
    if ($code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $left;

    if (defined $te && $te eq 'chunked') {
        my $data = $res->content;
        $data = '' unless defined $data;
        my $decoded = '';
        while (1) {
            if ($data =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $data =~ /\G(.+)/gcs;
                last;
            }
            if ($data =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                if (length($data) - pos($data) < $size) {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received "
                        . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr $data, pos($data), $size;
                pos($data) += $size;
                if ($data !~ /\G\r\n/gc) {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }
            } elsif ($data =~ /\G(.+)/gcs) {
                Test::More->builder->no_ending(1);
                Test::More::fail("$name - invalid chunked body received: $1");
                return;
            } else {
                Test::More->builder->no_ending(1);
                Test::More::fail("$name - no last chunk found - $data");
                return;
            }
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        my $data = $res->content;
        if (length $data < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got ", length $data, "\n" unless $head_req;
        } elsif (length $data > $len) {
            $left = substr $data, $len;
            $res->content(substr $data, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

sub _run_test_helper {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $reqs = _requests_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    if (defined $block->curl) {
        my $req = join '', map { $_->{value} } @{ $reqs->[0] };
        my ($uri) = $req =~ /^\s*\S+\s+(\S+)/;
        warn "# curl -i -sS 'http://$ServerAddr:$ServerPortForClient$uri'\n";
    }

    my $timeout = _parse_time(scalar $block->timeout);
    $timeout = $Timeout unless defined $timeout;

    my ($res, $need_array);
    my $req_idx = 0;
    my $pipelined = $block->pipelined_requests;

    for my $req (@$reqs) {
        my ($raw, $head_req) = $dry_run
            ? ("200 OK HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 0)
            : _send_request($req, scalar $block->raw_request_middle_delay,
                            $timeout, $block);

        # what was asked on this connection, in order, for the recorders
        my @asked = @ResponseRecorders && !$dry_run
                    ? _request_targets(join '', map { $_->{value} } @$req)
                    : ();

        # Pipelined requests come back as several responses in one read.
        my $responses_left = $pipelined ? scalar @$pipelined : 0;
        $need_array = $pipelined ? 1 : @$reqs > 1;

        while (1) {
            $raw = '' unless defined $raw;
            my ($raw_headers, $left);
            unless (defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(200, 'OK', [],
                                                              $raw);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) =
                        _parse_response($name, $raw, $head_req);
                }
            }

            if (!$responses_left) {
                if ($left) {
                    $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$left\"\n";
                }
            } else {
                $raw = $left;
                $responses_left--;
            }

            my $asked = shift @asked;

            if ($asked && $res && !defined $block->ignore_response
                && !defined $block->http09)
            {
                _record_response($block, $asked, $res);
            }

            unless (defined $block->ignore_response) {
                _check_error_code($block, $res, $dry_run, $req_idx,
                                  $need_array);
                _check_raw_response_headers($block, $raw_headers, $dry_run,
                                            $req_idx, $need_array);
                _check_response_headers($block, $res, $raw_headers, $dry_run,
                                        $req_idx, $need_array);
                _transform_response_body($block, $res, $req_idx);
                _check_response_body($block, $res, $dry_run, $req_idx,
                                     $repeated_req_idx, $need_array);
            }

            # Between requests the error log gets checked too (each check
            # sees only what was logged since the previous one).
            if ($responses_left || $req_idx < @$reqs - 1) {
                sleep $block->wait if $block->wait;
                _check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                 $need_array);
                _check_access_log($block, $dry_run, $repeated_req_idx)
                    unless defined $block->ignore_response;
            }

            $req_idx++;
            last unless $responses_left;
        }
    }

    sleep $block->wait if $block->wait;
    _check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    _check_access_log($block, $dry_run, $repeated_req_idx)
        unless defined $block->ignore_response;
}

# [method, target, [request line, header lines]] of each whole request
# in the bytes sent on one connection (pipelined ones one after the
# other); stops at the first thing that is not a request
sub _request_targets {
    my ($bytes) = @_;
    my @out;

    while ($bytes =~ /\G([A-Z]+) +(\S+) +HTTP\/\d\.\d\r?\n(.*?)\r?\n\r?\n/gcs)
    {
        my ($meth, $target, $head) = ($1, $2, $3);
        push @out, [$meth, $target,
                    ["$meth $target HTTP/1.1", split /\r?\n/, $head]];

        if ($head =~ /^Transfer-Encoding:[ \t]*chunked[ \t]*\r?$/mi) {
            while ($bytes =~ /\G([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
                my $size = hex $1;
                if ($size == 0) {
                    $bytes =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc;
                    last;
                }
                pos($bytes) += $size;
                $bytes =~ /\G\r\n/gc or return @out;
            }
        } elsif ($head =~ /^Content-Length:[ \t]*(\d+)/mi) {
            return @out if pos($bytes) + $1 > length $bytes;
            pos($bytes) += $1;
        }
    }

    return @out;
}

sub _record_response {
    my ($block, $asked, $res) = @_;
    my $code = $res->code;

    return unless defined $code && $code =~ /^\d{3}$/;

    for my $rec (@ResponseRecorders) {
        $rec->({
            block   => $block->name,
            method  => $asked->[0],
            target  => $asked->[1],
            request => $asked->[2],
            port    => $ServerPortForClient,
            status  => $code,
            headers => [ map { [@$_] } @{ $res->{headers} } ],
            body    => $res->content,
        });
    }
}

sub _parse_time {
    my ($t) = @_;
    return $t unless defined $t;
    if ($t =~ s/([^_a-zA-Z])ms$/$1/) {
        $t /= 1000;
    } else {
        $t =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $t;
}

# ---------------------------------------------------------------------------
# Checks.  Every one is a subtest named as by the real runner.
# ---------------------------------------------------------------------------

# With several requests a check section must hold an array (one entry each).
sub _indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if $idx != 0;
        return $value->[0];
    }
    return $value;
}

sub _check_error_code {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        if (defined $block->error_code_like) {
            my $re = _indexed($name, scalar $block->error_code_like, $idx, $need_array);
            Test::More::like($got, qr/$re/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($got,
                _indexed($name, scalar $block->error_code, $idx, $need_array),
                "$name - status code ok");
        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    }
}

sub _check_raw_response_headers {
    my ($block, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    for my $kind (qw(like unlike)) {
        my $section = "raw_response_headers_$kind";
        my $value = $block->$section;
        next unless defined $value;
        SKIP: {
            Test::More::skip("$name - raw_response_headers_$kind - tests "
                             . "skipped due to $dry_run", 1) if $dry_run;
            my $re = _indexed($name, $value, $idx, $need_array);
            if ($kind eq 'like') {
                Test::More::like($raw_headers, qr/$re/s,
                                 "$name - raw resp headers like");
            } else {
                Test::More::unlike($raw_headers, qr/$re/s,
                                   "$name - raw resp headers unlike");
            }
        }
    }
}

# "Name: value" lines; "! Name" means the header must be absent.
sub _parse_header_lines {
    my ($text) = @_;
    my %headers;
    for my $line (split /^/m, $text) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

sub _check_response_headers {
    my ($block, $res, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = _parse_header_lines(
            _indexed($name, scalar $block->response_headers, $idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped "
                                 . "due to $dry_run", 1) if $dry_run;
                if (!defined $val) {    # "! Name"
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                } else {
                    $val =~ s/\$ServerPort\b/$ServerPort/g;
                    $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
                    my $actual = $res ? $res->header($key) : undef;
                    $actual = '' unless defined $actual;
                    Test::More::is($actual, $val, "$name - header $key ok");
                }
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = _parse_header_lines(
            _indexed($name, scalar $block->response_headers_like, $idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests "
                                 . "skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual, qr/^$val$/,
                                 "$name - header $key like ok");
            }
        }
    }
}

my %BodyFilters = (
    md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
    sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
    uc       => sub { uc $_[0] },
    lc       => sub { lc $_[0] },
    ucfirst  => sub { ucfirst $_[0] },
    lcfirst  => sub { lcfirst $_[0] },
    length   => sub { length $_[0] },
);

sub _apply_body_filter {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    return $filter->($content) if ref $filter eq 'CODE';
    bail_out("$name - the --- response_body_filters section only supports "
             . "subroutine reference values and string values") if ref $filter;
    my $code = $BodyFilters{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $code->($content);
}

sub _transform_response_body {
    my ($block, $res, $idx) = @_;
    return unless defined $res;
    my $content = $res->content;
    return unless defined $content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    my $filter = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        # One list of filters per request.
        ref $_ eq 'ARRAY' or bail_out("$name - the --- response_body_filters "
            . "two-dimensional array only be like [[uc], [lc]] not [[uc], lc]")
            for @$filters;
        $filter = $filters->[$idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($idx)") unless defined $filter;
    }
    $content = _apply_body_filter($block, $_, $content)
        for ref $filter eq 'ARRAY' ? @$filter : ($filter);
    $res->content($content);
}

sub _check_response_body {
    my ($block, $res, $dry_run, $idx, $rep, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $content = $res ? $res->content : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gm;
            $content =~ s/^Connection: TE, close\r\n//gm;
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval _indexed($name, scalar $block->response_body_eval, $idx,
                                      $need_array);
            warn $@ if $@;
        } else {
            $expected = _indexed($name, scalar $block->response_body, $idx,
                                 $need_array);
        }
        Encode::from_to($expected, q{UTF-8}, scalar $block->charset) if $block->charset;
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }

        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected, "$name - response_body "
                    . "- like (repeated req $rep, req $idx)");
            } else {
                Test::More::is($content, $expected, "$name - response_body - "
                    . "response is expected (repeated req $rep, req $idx)");
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $patterns = $type eq 'like' ? $block->response_body_like
                                       : $block->response_body_unlike;
        my $content = $res ? $res->content : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gm;
            $content =~ s/^Connection: TE, close\r\n//gm;
        }
        my $pat = _indexed($name, $patterns, $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = _trim($content);
        $summary = '' unless defined $summary;

        SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped "
                             . "due to $dry_run", 1) if $dry_run;
            my $check = $type eq 'like' ? \&Test::More::like
                                        : \&Test::More::unlike;
            $check->($content, qr/$pat/s, "$name - response_body_$type - "
                     . "response is expected ($summary)");
        }
    }

    # add_response_body_check() hooks: after the body checks of each
    # response, while nginx is still running.
    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $idx, $rep, $dry_run);
    }
}

sub _trim {
    my ($s) = @_;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

sub _fmt_str {
    my ($s) = @_;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# A scalar section gives one pattern per line; qr// or [ ... ] as they are.
sub _pattern_list {
    my ($pats) = @_;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats;
    chomp $pats;
    return [split /\n+/, $pats];
}

sub _value_contains {
    my ($val, $str) = @_;
    return $val =~ /\Q$str\E/ if !ref $val || ref $val eq 'Regexp';
    return scalar grep { _value_contains($_, $str) } @$val
        if ref $val eq 'ARRAY';
    return undef;
}

sub _line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : $line =~ /\Q$pat\E/;
}

# The error log written since the previous call (the whole file when
# check_accum_error_log() is on).  Position 0 again for every block.
sub error_log_data {
    sleep $TestNginxSleep * 3;    # let nginx finish its log-phase writes
    open my $in, '<', $ErrLogFile or return undef;
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or do {
        die "open $AccLogFile failed: $!" if $AccLogFile ne 'off';
        return undef;
    };
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# "Must appear" patterns: one pass per pattern seen, one fail per pattern
# never seen.
sub _expect_patterns {
    my ($pats, $lines, $dry_run, $section, $pass_msg, $fail_msg) = @_;
    $lines ||= [];
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat && _line_matches($line, $pat);
            SKIP: {
                Test::More::skip("$section - tests skipped due to $dry_run", 1)
                    if $dry_run;
                Test::More::pass($pass_msg->($pat));
            }
            undef $pat;
        }
    }
    for my $pat (grep { defined } @$pats) {
        SKIP: {
            Test::More::skip("$section - tests skipped due to $dry_run", 1)
                if $dry_run;
            Test::More::fail($fail_msg->($pat));
        }
    }
}

# "Must not appear" patterns: one fail per matching line, one pass per
# pattern that never matched.
sub _reject_patterns {
    my ($pats, $lines, $dry_run, $section, $fail_msg, $pass_msg, $context) = @_;
    $lines ||= [];
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next unless defined $pat && _line_matches($line, $pat);
            Test::More->builder->no_ending(1) if $found{$pat}++;
            SKIP: {
                Test::More::skip("$section - tests skipped due to $dry_run "
                                 . "($line)", 1) if $dry_run;
                my $more = '';
                if ($context) {
                    for (my $j = $i + 1; $j < min($i + 10, @$lines - 1); $j++) {
                        $more .= $lines->[$j];
                    }
                }
                Test::More::fail($fail_msg->(_fmt_str($pat), _fmt_str($line))
                                 . $more);
            }
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        SKIP: {
            Test::More::skip("$section - tests skipped due to $dry_run", 1)
                if $dry_run;
            Test::More::pass($pass_msg->(_fmt_str($pat)));
        }
    }
}

sub _check_error_log {
    my ($block, $res, $dry_run, $rep, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my %warn_on = map { $_ => 1 } qw(alert crit emerg lua);

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$rep] if ref $grep_pat eq 'ARRAY';
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }
    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@$lines) {
                next unless ref $grep_pat ? $line =~ /$grep_pat/
                                          : $line =~ /\Q$grep_pat\E/;
                my $m = $&;
                $matched .= "$m\n" if $m !~ /\n/;
            }
            my $desc = "$name - grep_error_log_out (req $rep)";
            ref $expected eq 'Regexp'
                ? Test::More::like($matched, $expected, $desc)
                : Test::More::is($matched, $expected, $desc);
        }
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        # Listing "[alert" etc. yourself turns off the warning for it.
        $warn_on{lua} = 0
            if _value_contains($pats, 'writing a global lua variable');
        $warn_on{$_} = 0 for grep { _value_contains($pats, "[$_") }
                             qw(alert crit emerg);
        $pats = _pattern_list($pats);
        $lines ||= error_log_data();

        if ($section eq 'error_log') {
            _expect_patterns($pats, $lines, $dry_run, "$name - error_log",
                sub { "$name - pattern \"$_[0]\" matches a line in error.log "
                      . "(req $rep)" },
                sub { "$name - pattern \"$_[0]\" should match a line in "
                      . "error.log (req $rep)" });
        } else {
            _reject_patterns($pats, $lines, $dry_run, "$name - no_error_log",
                sub { "$name - pattern \"$_[0]\" should not match any line in "
                      . "error.log but matches line \"$_[1]\" (req $rep)\n" },
                sub { "$name - pattern \"$_[0]\" does not match a line in "
                      . "error.log (req $rep)" }, 1);
        }
    }

    # Like the real runner: these lines only produce warnings on stderr.
    unless ($dry_run) {
        my %re = (lua => qr/writing a global lua variable/,
                  alert => qr/\[alert\]/, crit => qr/\[crit\]/,
                  emerg => qr/\[emerg\]/);
        for my $kind (qw(lua alert crit emerg)) {
            next unless $warn_on{$kind};
            $lines ||= error_log_data();
            for my $line (grep { $_ =~ $re{$kind} } @$lines) {
                my $ln = _fmt_str($line);
                warn "WARNING: $name - $ln" . ($kind eq 'emerg' ? '' : "\n");
            }
        }
    }

    # A failed C assert() of nginx or the module is a test failure.
    for my $line (@$lines) {
        next unless $line =~ /\bAssertion .*?failed\b/;
        Test::More->builder->no_ending(1);
        chomp(my $l = $line);
        Test::More::fail("$name - $l\n");
    }
}

sub _check_access_log {
    my ($block, $dry_run, $rep) = @_;
    my $name = $block->name;
    my $lines;
    if (defined(my $pats = $block->access_log)) {
        $lines ||= access_log_data();
        _expect_patterns(_pattern_list($pats), $lines, $dry_run,
            "$name - access_log",
            sub { "$name - pattern \"$_[0]\" matches a line in access.log "
                  . "(req $rep)" },
            sub { "$name - pattern \"$_[0]\" should match a line in "
                  . "access.log (req $rep)" });
    }
    if (defined(my $pats = $block->no_access_log)) {
        $lines ||= access_log_data();
        _reject_patterns(_pattern_list($pats), $lines, $dry_run,
            "$name - no_access_log",
            sub { "$name - pattern \"$_[0]\" should not match any line in "
                  . "access.log but matches line \"$_[1]\" (req $rep)\n" },
            sub { "$name - pattern \"$_[0]\" does not match a line in "
                  . "access.log (req $rep)" }, 1);
    }
}

# --- shutdown_error_log of the previous block, checked once its nginx has
# been stopped (when the next block starts one, or at the end).
sub _check_prev_block_shutdown_error_log {
    my $block = $PrevBlock or return;
    return unless defined $block->shutdown_error_log;
    my $name = $block->name;
    my $dry_run = ($UseHup || $ENV{TEST_NGINX_NO_CLEAN}) ? 1 : 0;
    my $lines = error_log_data();

    if (defined $block->no_shutdown_error_log) {
        _reject_patterns(_pattern_list(scalar $block->no_shutdown_error_log), $lines,
            $dry_run, "$name - no_shutdown_error_log",
            sub { "$name - pattern \"$_[0]\" should not match any line in "
                  . "error.log but matches line \"$_[1]\"" },
            sub { "$name - pattern \"$_[0]\" does not match a line in "
                  . "error.log" }, 0);
    }
    _expect_patterns(_pattern_list(scalar $block->shutdown_error_log), $lines,
        $dry_run ? 'dry_run' : 0, "$name - shutdown_error_log",
        sub { "$name - pattern \"$_[0]\" matches a line in error.log" },
        sub { "$name - pattern \"$_[0]\" should match a line in error.log" });
    for my $line (@$lines) {
        next unless $line =~ /\bAssertion .*? failed\.$/;
        Test::More->builder->no_ending(1);
        chomp(my $l = $line);
        Test::More::fail("$name - $l");
    }
}

# ---------------------------------------------------------------------------
# A test block: sections by name, as Test::Base::Block offers them.
# ---------------------------------------------------------------------------

package Test::Nginx::Socket::Block;

use strict;
use warnings;

sub new { return bless {}, shift }

# Values are kept as lists (a filter may return several); a section's
# method returns the first value in scalar context, all in list context.
sub set_value {
    my ($self, $key, @values) = @_;
    $self->{$key} = [@values];
    return;
}

sub seq_num { return $_[0]{seq_num} }
sub is_filtered { return $_[0]{is_filtered} }
sub original_values { return $_[0]{original_values} ||= {} }

our $AUTOLOAD;

# Any section name is a method; a section the block lacks gives undef.
sub AUTOLOAD {
    my $self = shift;
    (my $key = $AUTOLOAD) =~ s/.*:://;
    return unless ref $self;
    Carp::croak("Not allowed to set values for '$key'") if @_;
    my @list = @{ $self->{$key} || [] };
    return wantarray ? @list : $list[0];
}

sub DESTROY { }

# ---------------------------------------------------------------------------
# A parsed HTTP response: code, header lookup (case-insensitive, "_" = "-",
# repeated headers joined with ", ") and content.
# ---------------------------------------------------------------------------

package Test::Nginx::Socket::Response;

use strict;
use warnings;

sub new {
    my ($class, $code, $message, $headers, $content) = @_;
    return bless { code => $code, message => $message,
                   headers => $headers || [], content => $content }, $class;
}

sub parse {
    my ($class, $raw) = @_;
    my $status;
    if ($raw =~ s/^(.*)\n//) {
        $status = $1;
    } else {
        ($status, $raw) = ($raw, '');
    }
    $status =~ s/\r\z//;
    my ($code, $message);
    if ($status =~ /^\d{3} /) {
        ($code, $message) = split ' ', $status, 2;
    } else {
        (undef, $code, $message) = split ' ', $status, 3;
    }

    my @headers;
    while (1) {
        if ($raw =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @headers, [$1, $2];
            $headers[-1][1] =~ s/\r\z//;
        } elsif (@headers && $raw =~ s/^([ \t].*)\n?//) {
            $headers[-1][1] .= "\n$1";      # a folded header line
            $headers[-1][1] =~ s/\r\z//;
        } else {
            $raw =~ s/^\r?\n//;
            last;
        }
    }
    return $class->new($code, $message, \@headers, $raw);
}

sub code {
    my $self = shift;
    $self->{code} = shift if @_;
    return $self->{code};
}

sub message { return $_[0]{message} }

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

sub header {
    my ($self, $name) = @_;
    (my $want = lc $name) =~ tr/_/-/;
    my @values = map { $_->[1] }
                 grep { (my $k = lc $_->[0]) =~ tr/_/-/; $k eq $want }
                 @{ $self->{headers} };
    return unless @values;
    return wantarray ? @values : join ', ', @values;
}

# ---------------------------------------------------------------------------
# Section filters ("--- name filter1 filter2"), the Test::Base set.
# ---------------------------------------------------------------------------

package Test::Nginx::Socket::Filters;

use strict;
use warnings;

sub _one {
    return if @_ == 1;
    my $filter = (caller(1))[3];
    $filter =~ s/.*:://;
    Carp::croak("Input to the '$filter' filter must be a scalar, not a list");
}

sub _args {
    my $args = $Test::Nginx::Socket::FilterArg;
    return undef unless defined $args;
    $args =~ s/(\\s)/ /g;
    $args =~ s/(\\[a-z])/'"' . $1 . '"'/gee;
    return $args;
}

sub norm {
    _one(@_);
    my $text = defined $_[0] ? $_[0] : '';
    $text =~ s/\015\012/\n/g;
    $text =~ s/\r/\n/g;
    return $text;
}

# Drops blank lines at the start and white space after the last newline.
sub trim {
    return map {
        my $v = $_;
        if (defined $v) {
            $v =~ s/\A([ \t]*\n)+//;
            $v =~ s/(?<=\n)\s*\z//;
        }
        $v;
    } @_;
}

sub chomp { return map { my $v = $_; CORE::chomp $v; $v } @_ }
sub chop { return map { my $v = $_; CORE::chop $v; $v } @_ }
sub unchomp { return map { $_ . "\n" } @_ }
sub array { return [@_] }
sub hash { return +{@_} }
sub reverse { return CORE::reverse @_ }
sub sort { return sort @_ }
sub append { my $s = _args(); return map { $_ . $s } @_ }
sub prepend { my $s = _args(); return map { $s . $_ } @_ }
sub head { my $n = _args() || 1; return splice @_, 0, $n }
sub tail { my $n = _args() || 1; return splice @_, @_ - $n, $n }

sub join {
    my $sep = _args();
    return CORE::join defined $sep ? $sep : '', @_;
}

sub lines {
    _one(@_);
    my $text = shift;
    return () unless length $text;
    return $text =~ /^(.*\n?)/gm;
}

sub split {
    _one(@_);
    my $sep = _args();
    $sep = qr/$1/ if defined $sep && $sep =~ m{^/(.*)/$};
    $sep = qr/\s+/ unless $sep;
    return CORE::split $sep, shift;
}

sub regexp {
    _one(@_);
    my $text = shift;
    my $flags = _args();
    if ($text =~ /\n.*?\n/s) {
        $flags = 'xism' unless defined $flags;
    } else {
        CORE::chomp $text;
    }
    $flags ||= '';
    my $re = eval "qr{$text}$flags";
    die $@ if $@;
    return $re;
}

sub escape {
    _one(@_);
    my $text = shift;
    $text =~ s/(\\.)/eval "qq{$1}"/ge;
    return $text;
}

sub flatten {
    _one(@_);
    my $ref = shift;
    return map { ($_, $ref->{$_}) } CORE::sort keys %$ref if ref $ref eq 'HASH';
    return @$ref if ref $ref eq 'ARRAY';
    die "Can only flatten a hash or array ref";
}

sub strict { _one(@_); return "use strict;\nuse warnings;\n" . shift }

sub base64_decode { _one(@_); return MIME::Base64::decode_base64(shift) }
sub base64_encode { _one(@_); return MIME::Base64::encode_base64(shift) }

sub dumper {
    require Data::Dumper;
    local $Data::Dumper::Sortkeys = 1;
    local $Data::Dumper::Indent = 1;
    local $Data::Dumper::Terse = 1;
    return Data::Dumper::Dumper(@_);
}

sub read_file {
    _one(@_);
    my $file = shift;
    CORE::chomp $file;
    open my $fh, '<', $file or die "Can't open '$file' for input:\n$!";
    local $/;
    return scalar <$fh>;
}

sub write_file {
    my $file = _args() or die "No file specified for write_file filter";
    if ($file =~ m{(.*)[\\/]} && !-e $1) {
        File::Path::make_path($1);
    }
    open my $fh, '>', $file or die "Can't open '$file' for output\n:$!";
    print $fh @_;
    close $fh;
    return $file;
}

# "--- x eval": the value is Perl code whose result becomes the value.  As
# with the real runner it runs under strict and warnings, in list context,
# when run_tests() starts; if it dies, the error text becomes the value.
sub eval {
    _one(@_);
    my @result = Test::Nginx::Socket::Eval::run(shift);
    return $@ if $@;
    return @result;
}

package Test::Nginx::Socket::Eval;

use strict;
use warnings;

sub run { return eval shift }

1;
