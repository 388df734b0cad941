# Benchmarks under bench/: they print figures, they assert nothing.
#
#   make bench-render         render-only time and size (bench/render)
#   make bench-soak           100,000 reads and 2,000 jobs through one
#                             worker, twice, with its RSS (bench/soak)

BENCH_N ?= 200

.PHONY: bench-render bench-soak

bench-render: tools
	bench/render $(BENCH_N)

bench-soak: deps node module
	tools/install-deps wrk
	bench/soak
