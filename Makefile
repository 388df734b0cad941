# Builds the dynamic module against Debian's nginx-dev tree (or any nginx
# source tree: make NGINX_SRC=/path/to/nginx-1.2x CONF_FLAGS="..."), runs
# the unit and Test::Nginx suites, and runs the demo.
#
#   make test      install what is missing, build, run every test, with
#                  the LMDB store and with a PostgreSQL one, side by side
#   make prove     the suite once, with LMDB (T=t/xx.t for some files)
#   make prove-pg  the suite with PostgreSQL stores (PDF_REPORT_STORE)
#   make run       install what is missing, build, run the three-step demo
#   make module    build/nginx/objs/ngx_http_pdf_report_module.so only

SHELL       := /bin/bash
NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
BUILD       ?= $(CURDIR)/build
NGX_BUILD   := $(BUILD)/nginx
MODULE_SO   := $(NGX_BUILD)/objs/ngx_http_pdf_report_module.so
# Debian keeps the flags its nginx was configured with next to the tree;
# an upstream tree gets the minimum the module needs.
CONF_FLAGS  ?= $(shell if [ -f $(NGINX_SRC)/conf_flags ]; then \
                 bash -c '. $(NGINX_SRC)/conf_flags; \
                 echo "$${NGX_CONF_FLAGS[@]}"'; \
                 else echo --with-compat --with-threads; fi)

CC          ?= cc
CFLAGS      ?= -g -O2 -Wall -Wextra -Werror -Wno-unused-parameter
# added to CFLAGS for the parts built here (make test-asan: sanitizers)
SAN_CFLAGS  ?=
PURE_SRCS   := $(wildcard src/pdf_report_*.c)
PURE_HDRS   := $(wildcard src/pdf_report_*.h)
PURE_OBJS   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(PURE_SRCS))
# libpq's headers live apart on Debian (/usr/include/postgresql)
PG_INCDIR   ?= $(shell pg_config --includedir 2>/dev/null \
                 || echo /usr/include/postgresql)
PG_CFLAGS   := -I$(PG_INCDIR)
LIBS        := -llmdb -lpq -ljansson -lhpdf -lcurl -lcrypto -lm -lpthread
UNIT_SRCS   := $(wildcard t/unit/test_*.c)
UNIT_BINS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
TOOLS       := $(BUILD)/pdf-report-render $(BUILD)/pdf-report-store-fill \
               $(BUILD)/pdf-report-store-ceiling

export TEST_NGINX_BINARY       ?= $(NGINX_BIN)
export TEST_NGINX_LOAD_MODULES ?= $(MODULE_SO)

# What a host without nginx-dev or nginx gets instead of "cp: cannot
# stat" or a suite of failing tests: the package to install, checked
# before anything is removed or built.
define need_nginx_src
if [ ! -d '$(NGINX_SRC)' ]; then \
    echo "make: $(NGINX_SRC) not found: install Debian's nginx-dev" \
         "(apt-get install nginx-dev), or set" \
         "NGINX_SRC=/path/to/nginx-source" >&2; \
    exit 1; \
elif [ ! -f '$(NGINX_SRC)/configure' ]; then \
    echo "make: $(NGINX_SRC) has no configure script: set" \
         "NGINX_SRC=/path/to/nginx-source" >&2; \
    exit 1; \
fi
endef

define need_nginx_bin
if ! command -v '$(TEST_NGINX_BINARY)' > /dev/null; then \
    echo "make: $(TEST_NGINX_BINARY) not found: install Debian's nginx" \
         "(apt-get install nginx), or set NGINX_BIN=/path/to/nginx" >&2; \
    exit 1; \
fi
endef

.PHONY: all module unit tools deps node test prove prove-pg prove-both \
        run upstream clean nginx-bin

all: module unit tools

module: $(MODULE_SO)

$(NGX_BUILD)/objs/Makefile: config
	@$(need_nginx_src)
	rm -rf $(NGX_BUILD)
	mkdir -p $(BUILD)
	cp -a $(NGINX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && ./configure $(CONF_FLAGS) \
	    --add-dynamic-module=$(CURDIR) > $(BUILD)/configure.log \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE_SO): $(NGX_BUILD)/objs/Makefile $(wildcard src/*.c src/*.h)
	$(MAKE) -C $(NGX_BUILD) -f objs/Makefile modules

unit: $(UNIT_BINS)

# the pure parts (no nginx) once, for unit tests and tools
$(BUILD)/obj/%.o: src/%.c $(PURE_HDRS)
	@mkdir -p $(BUILD)/obj
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -Isrc $(PG_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: t/unit/%.c t/unit/tap.h t/unit/fake_listen.h $(PURE_OBJS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -Isrc $(PG_CFLAGS) -o $@ $< $(PURE_OBJS) \
	    $(LIBS)

tools: $(TOOLS)

# the tools' pattern rule must not delete the objects the tests share
.SECONDARY: $(PURE_OBJS)

$(BUILD)/pdf-report-%: tools/pdf-report-%.c $(PURE_OBJS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -Isrc $(PG_CFLAGS) -o $@ $< $(PURE_OBJS) \
	    $(LIBS)

deps:
	tools/install-deps

node: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# the binary is checked first, before the build (with make -j, alongside)
prove: nginx-bin module unit tools
	prove -r $(or $(T),t)

# The suite with a PostgreSQL database for every block's store
# (t/lib/PdfReport/Backend.pm), on a port and server root of its own, so
# that it can run beside the LMDB one.
PG_TEST_PORT  ?= 1986
PG_SERVROOT   := $(CURDIR)/t/servroot-pg

prove-pg: nginx-bin module unit tools
	PDF_REPORT_STORE=postgresql TEST_NGINX_PORT=$(PG_TEST_PORT) \
	    TEST_NGINX_SERVER_PORT=$(PG_TEST_PORT) \
	    TEST_NGINX_SERVROOT=$(PG_SERVROOT) prove -r $(or $(T),t)

# Both at once: most of a file's time is spent waiting (S3 delays,
# timeouts, reloads), so two runs take little longer than one.  The
# PostgreSQL run's output is kept in build/prove-pg.log and printed after
# the LMDB run's; either failing fails.
prove-both: nginx-bin module unit tools
	@mkdir -p $(BUILD); \
	$(MAKE) -s prove-pg > $(BUILD)/prove-pg.log 2>&1 & pg=$$!; \
	prove -r $(or $(T),t); lmdb=$$?; \
	wait $$pg; pgrc=$$?; \
	echo "---- the same suite with PostgreSQL stores (make prove-pg):"; \
	cat $(BUILD)/prove-pg.log; \
	test $$lmdb = 0 && test $$pgrc = 0

nginx-bin:
	@$(need_nginx_bin)

test: deps node
	$(MAKE) prove-both

run: deps node
	$(MAKE) module
	tools/demo

# The same module built against the upstream nginx 1.22.1 source (the
# tarball Debian packages, fetched from Debian's archive and checked).
UPSTREAM_TGZ := nginx_1.22.1.orig.tar.gz
UPSTREAM_SHA := 9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31
DEBIAN_POOL  ?= http://deb.debian.org/debian/pool/main/n/nginx

upstream:
	mkdir -p $(BUILD)/upstream
	cd $(BUILD)/upstream && { [ -f $(UPSTREAM_TGZ) ] \
	    || curl -fsS -o $(UPSTREAM_TGZ) $(DEBIAN_POOL)/$(UPSTREAM_TGZ); } \
	    && echo "$(UPSTREAM_SHA)  $(UPSTREAM_TGZ)" | sha256sum -c --quiet \
	    && rm -rf nginx-1.22.1 && tar xzf $(UPSTREAM_TGZ)
	$(MAKE) module NGINX_SRC=$(BUILD)/upstream/nginx-1.22.1 \
	    BUILD=$(BUILD)/upstream/build \
	    CONF_FLAGS="--with-compat --with-threads"

clean:
	rm -rf $(BUILD) t/servroot*

# further targets by concern (fonts, fuzzing, sanitizers, benchmarks)
-include mk/*.mk
