# The whole suite under AddressSanitizer and UBSan (memory safety in
# CI): the module, the unit tests and the render tool built by gcc with
# -fsanitize=address,undefined into $(ASAN_BUILD), and Debian's nginx run
# through a wrapper that preloads the ASan runtime (it must come before
# the module's dlopen).  Every report aborts the process that made it
# (halt_on_error, -fno-sanitize-recover): a unit test then fails by its
# exit status; nginx writes the report to its error log, which every
# Test::Nginx block checks for "AddressSanitizer" and "runtime error"
# (PdfReport::Test, PDF_REPORT_SANITIZE), and its worker's abort is an
# [alert] the blocks refuse as well.
#
#   make test-asan           what .ci/run runs after make test
#
# Leaks: the unit tests and the render tool are checked by LeakSanitizer;
# nginx is not (its worker processes exit without freeing their pools,
# which would bury the module's own), see make test-valgrind.

ASAN_BUILD   ?= $(BUILD)/asan
# outside the checkout: the unprivileged nginx -t cases run it as nobody
ASAN_DIR     ?= /tmp/pdf-report-asan
SAN          := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
ASAN_RUNTIME := $(shell $(CC) -print-file-name=libasan.so)
ASAN_NGINX   := $(ASAN_DIR)/nginx

ASAN_COMMON  := halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
UBSAN_ENV    := print_stacktrace=1:halt_on_error=1

.PHONY: test-asan asan-build

asan-build:
	$(MAKE) module unit tools BUILD=$(ASAN_BUILD) \
	    SAN_CFLAGS="$(SAN)" \
	    CONF_FLAGS="$(CONF_FLAGS) --with-cc-opt='$(SAN)' --with-ld-opt='-fsanitize=address,undefined'"
	@ldd $(ASAN_BUILD)/nginx/objs/ngx_http_pdf_report_module.so \
	    | grep -q libasan || { echo "asan: the module is not instrumented"; exit 1; }

test-asan: deps node asan-build
	rm -rf $(ASAN_DIR)
	mkdir -p $(ASAN_DIR)
	chmod 755 $(ASAN_DIR)
	printf '%s\n' '#!/bin/sh' \
	    '# Debian nginx with the ASan runtime first (make test-asan)' \
	    'LD_PRELOAD=$(ASAN_RUNTIME); export LD_PRELOAD' \
	    'ASAN_OPTIONS=detect_leaks=0:$(ASAN_COMMON); export ASAN_OPTIONS' \
	    'UBSAN_OPTIONS=$(UBSAN_ENV); export UBSAN_OPTIONS' \
	    'exec $(NGINX_BIN) "$$@"' > $(ASAN_NGINX)
	chmod 755 $(ASAN_NGINX)
	PDF_REPORT_BUILD=$(ASAN_BUILD) PDF_REPORT_SANITIZE=1 \
	TEST_NGINX_BINARY=$(ASAN_NGINX) \
	TEST_NGINX_LOAD_MODULES=$(ASAN_BUILD)/nginx/objs/ngx_http_pdf_report_module.so \
	ASAN_OPTIONS=detect_leaks=1:$(ASAN_COMMON) UBSAN_OPTIONS=$(UBSAN_ENV) \
	    prove -r $(or $(T),t)
	@echo "asan: the suite passed under ASan and UBSan"
