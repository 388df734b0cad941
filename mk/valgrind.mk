# The unit tests and the suite under valgrind memcheck: too slow for CI
# (nginx runs some 20 times slower), so a target of its own.  The unit
# tests run under memcheck directly; the Test::Nginx files run with
# TEST_NGINX_USE_VALGRIND=1 (nginx in the foreground inside valgrind,
# valgrind.suppress applied).  Every report is collected in
# $(VALGRIND_DIR) and sorted by tools/valgrind-report, which fails on an
# error or a definite leak in the module's code.  Blocks that time out
# under valgrind's slowness are listed by prove, apart from that verdict.
#
#   make test-valgrind                 everything (about 15 minutes)
#   make test-valgrind T=t/20-jobs.t   one file

VALGRIND_DIR  ?= $(BUILD)/valgrind
VALGRIND_OPTS := -q --leak-check=full --show-possibly-lost=no \
                 --num-callers=50 --suppressions=valgrind.suppress

.PHONY: test-valgrind

test-valgrind: deps node module unit tools
	rm -rf $(VALGRIND_DIR)
	mkdir -p $(VALGRIND_DIR)
	@for t in $(UNIT_BINS); do \
	    echo "valgrind: $$t"; \
	    valgrind $(VALGRIND_OPTS) --log-file=$(VALGRIND_DIR)/unit-%p.log \
	        $$t > /dev/null || echo "valgrind: $$t exit status $$?"; \
	done
	TEST_NGINX_USE_VALGRIND=1 prove -r $(or $(T),t) \
	    2> $(VALGRIND_DIR)/prove.log || echo "valgrind: prove failed (above)"
	tools/valgrind-report $(VALGRIND_DIR)/*.log
