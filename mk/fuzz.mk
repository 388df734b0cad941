# libFuzzer targets (fuzz/fuzz_*.c) on the pure parts, built with clang
# and -fsanitize=fuzzer,address,undefined (Debian: clang-14 and
# libclang-rt-14-dev).  See docs/TESTING.md.
#
#   make fuzz                 each target for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_TARGETS="jwt body" FUZZ_SECONDS=600
#   make fuzz-regress         each target once over its committed corpus
#                             (seconds; what CI runs)
#   make fuzz-build           the binaries only ($(FUZZ_BUILD)/fuzz_*)
#
# New inputs go to $(FUZZ_BUILD)/corpus/<target>, crashes to
# $(FUZZ_BUILD)/crashes/<target>/, the fuzzer's output to
# $(FUZZ_BUILD)/logs/<target>.log, one line per target (executions,
# speed, coverage, corpus) to $(FUZZ_BUILD)/summary.txt.  A crash fails
# the target after every target has run.

FUZZ_CC       ?= clang
FUZZ_BUILD    ?= $(BUILD)/fuzz
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  ?= jwt jwt_signed jwks body users sigv4 aws_credentials \
                 s3_error render
FUZZ_FLAGS    ?=
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer
FUZZ_CFLAGS   := -g -O1 -Wall -Wextra -Wno-unused-parameter $(FUZZ_SAN) \
                 -Isrc $(PG_CFLAGS) -DFUZZ_DATA_DIR='"$(CURDIR)/t/data"'
FUZZ_OBJS     := $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(PURE_SRCS))
FUZZ_BINS     := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

# what libFuzzer itself is given, per target: the raw token may reach the
# 8 KB limit and a little past it; a rendering takes ~15 ms
FUZZ_OPTS_jwt      := -max_len=9000
FUZZ_OPTS_render   := -max_len=16384 -timeout=30
FUZZ_OPTS_users    := -max_len=16384
FUZZ_OPTS_s3_error := -max_len=12000

# libFuzzer finds leaks itself (-detect_leaks=1 is its default)
FUZZ_ENV      := UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                 ASAN_OPTIONS=allocator_may_return_null=1

.PHONY: fuzz fuzz-build fuzz-regress

fuzz-build: $(FUZZ_BINS)

# the pure objects instrumented for coverage (fuzzer-no-link) and the
# sanitizers, apart from the gcc ones of the unit tests
$(FUZZ_BUILD)/obj/%.o: src/%.c $(PURE_HDRS)
	@mkdir -p $(FUZZ_BUILD)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# fuzz_s3_error includes src/pdf_report_s3.c for its static functions
$(FUZZ_BUILD)/fuzz_s3_error: fuzz/fuzz_s3_error.c fuzz/fuzz.h src/pdf_report_s3.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(filter-out %/pdf_report_s3.o,$(FUZZ_OBJS)) $(LIBS)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIBS)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/logs; : > $(FUZZ_BUILD)/summary.txt; \
	failed=; \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t; \
	    dict=; [ -f fuzz/dict/$$t.dict ] && dict=-dict=fuzz/dict/$$t.dict; \
	    case $$t in \
	        jwt) opts='$(FUZZ_OPTS_jwt)' ;; \
	        render) opts='$(FUZZ_OPTS_render)' ;; \
	        users) opts='$(FUZZ_OPTS_users)' ;; \
	        s3_error) opts='$(FUZZ_OPTS_s3_error)' ;; \
	        *) opts= ;; \
	    esac; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -rss_limit_mb=2048 $$opts $$dict \
	        -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ $(FUZZ_FLAGS) \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t \
	        > $(FUZZ_BUILD)/logs/$$t.log 2>&1; \
	    rc=$$?; \
	    execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' \
	             $(FUZZ_BUILD)/logs/$$t.log); \
	    speed=$$(sed -n 's/^stat::average_exec_per_sec: *//p' \
	             $(FUZZ_BUILD)/logs/$$t.log); \
	    cov=$$(grep -o 'cov: [0-9]*' $(FUZZ_BUILD)/logs/$$t.log | tail -1); \
	    corp=$$(ls $(FUZZ_BUILD)/corpus/$$t | wc -l); \
	    line="$$t: rc=$$rc execs=$${execs:-?} exec/s=$${speed:-?}"; \
	    line="$$line $${cov:-cov: ?} new_inputs=$$corp"; \
	    echo "$$line" | tee -a $(FUZZ_BUILD)/summary.txt; \
	    if [ $$rc != 0 ]; then \
	        failed="$$failed $$t"; \
	        grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error|invariant failed' \
	            $(FUZZ_BUILD)/logs/$$t.log || tail -20 $(FUZZ_BUILD)/logs/$$t.log; \
	        ls $(FUZZ_BUILD)/crashes/$$t/; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then \
	    echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_BUILD)/crashes)"; \
	    exit 1; \
	fi; \
	echo "fuzz: no crash ($(FUZZ_BUILD)/summary.txt)"

# every committed input once (seeds and the reproducers of fixed crashes)
fuzz-regress: fuzz-build
	@failed=; \
	for t in $(FUZZ_TARGETS); do \
	    n=$$(ls fuzz/corpus/$$t | wc -l); \
	    if $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t -runs=0 fuzz/corpus/$$t \
	        > $(FUZZ_BUILD)/regress-$$t.log 2>&1; then \
	        echo "fuzz-regress: $$t: $$n inputs ok"; \
	    else \
	        failed="$$failed $$t"; \
	        tail -30 $(FUZZ_BUILD)/regress-$$t.log; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then \
	    echo "fuzz-regress: FAILED:$$failed"; \
	    exit 1; \
	fi
