# Benchmarks under bench/: they print figures, they assert nothing.
#
#   make bench-render         render-only time and size (bench/render)

BENCH_N ?= 200

.PHONY: bench-render

bench-render: tools
	bench/render $(BENCH_N)
