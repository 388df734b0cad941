# Benchmarks under bench/: they print figures, they assert nothing.
#
#   make bench                every one below, in turn
#   make bench-api            status read, URL issue and create against a
#                             return-200 floor, under report load, and on
#                             1,000 and 1,000,000 jobs (bench/api)
#   make bench-pg             status read, URL issue and create on
#                             PostgreSQL beside LMDB, each against its
#                             return-200 floor, with pgbench -S and
#                             TPC-B on the same cluster (bench/pg)
#   make bench-pg-strace      the system calls of a worker's event-loop
#                             thread under load on PostgreSQL: it never
#                             waits for the database (bench/pg-strace)
#   make bench-pipeline       reports/s and durationMs for 1, 2, 4 pool
#                             threads, and the render alone (bench/pipeline)
#   make bench-render         render-only time and size (bench/render)
#   make bench-soak           100,000 reads and 2,000 jobs through one
#                             worker, twice, with its RSS (bench/soak)
#   make bench-webhooks       deliveries a second to a local receiver, and
#                             the status read's p99 while 1,000 are
#                             retried against a receiver that never answers
#   make bench-metrics        a scrape, and the status read with metrics
#                             on and off in turns (bench/metrics)
#   make bench-directory      a directory of 1,000,000 users (~700 MB):
#                             nginx -t, start, reloads unchanged and with
#                             1 % changed, memory against 10 users
#                             (bench/directory; DIR_USERS=n for another
#                             size)
#   make bench-idempotency    creates with an Idempotency-Key against
#                             creates without, in turns, on LMDB (disk
#                             and tmpfs) and PostgreSQL
#                             (bench/idempotency)
#   make bench-soak-retention jobs at a steady rate for 4 minutes, with
#                             retention off and at 5 s: store pages,
#                             bucket objects, status p99 over time
#                             (bench/soak-retention)

BENCH_N ?= 200

.PHONY: bench bench-deps bench-api bench-pg bench-pg-strace \
        bench-pipeline bench-render bench-soak \
        bench-metrics bench-directory bench-soak-retention \
        bench-webhooks bench-idempotency

bench-deps: deps node
	tools/install-deps wrk

bench: bench-deps
	$(MAKE) -s bench-api bench-pg bench-pipeline bench-soak bench-directory \
	    bench-soak-retention bench-idempotency

bench-api: bench-deps module tools
	bench/api

bench-pg: bench-deps module tools
	bench/pg

bench-pg-strace: bench-deps module
	bench/pg-strace

bench-pipeline: bench-deps module tools
	bench/pipeline

bench-render: tools
	bench/render $(BENCH_N)

bench-soak: bench-deps module
	bench/soak

bench-metrics: bench-deps module
	bench/metrics

bench-webhooks: bench-deps module node
	bench/webhooks

bench-directory: bench-deps module
	bench/directory

bench-soak-retention: bench-deps module
	bench/soak-retention

bench-idempotency: bench-deps module
	bench/idempotency
