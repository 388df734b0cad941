
/*
 * pdf-report-store-ceiling: how many durable creates a second the disk
 * under dir allows, without nginx, for the benchmarks: the bound on step
 * 1 that no code above LMDB can pass.
 *
 *   pdf-report-store-ceiling [-s seconds] [-o orgs] dir batch ...
 *
 * For each batch size, in one process, a run of seconds each of:
 *
 *   scattered  the disk alone: batch 4 KiB pages at random places of a
 *              file, then one fdatasync (LMDB writes a commit's pages
 *              where its free list puts them);
 *   adjacent   the same with the pages side by side;
 *   lmdb       bare LMDB: a create is one put of a random UUID v4 key
 *              and a PENDING job's size of value, batch of them a
 *              durable commit: the least that any create keyed by its
 *              random jobId writes;
 *   store      the module's step-1 batch (rate hit, pending check, job,
 *              queue entry) of batch creates, each of its own org and
 *              user.
 *
 * Prints "<what> <batch> <pages or creates a second> <ms a sync>" a
 * line.  Each run starts on an empty directory of its own under dir,
 * removed after.
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pdf_report_store.h"
#include "pdf_report_util.h"


#define CEILING_MAP       (4096UL * 1024 * 1024)
#define CEILING_BATCH_MAX 1024

/* what pdf_report_job_encode() writes for a new PENDING job */
#define CEILING_VALUE     138

/* the file the disk runs write in: 64 MiB of 4 KiB pages */
#define CEILING_PAGES     16384


/* what a run did: pages or creates, syncs or commits, in ms of its loop */
typedef struct {
    long     units;
    long     syncs;
    double   ms;
} ceiling_result_t;

typedef int (*ceiling_run_pt)(const char *dir, long batch, long orgs,
    double secs, ceiling_result_t *res);

static int ceiling_scattered(const char *dir, long batch, long orgs,
    double secs, ceiling_result_t *res);
static int ceiling_adjacent(const char *dir, long batch, long orgs,
    double secs, ceiling_result_t *res);
static int ceiling_disk(const char *dir, long batch, int adjacent,
    double secs, ceiling_result_t *res);
static int ceiling_lmdb(const char *dir, long batch, long orgs,
    double secs, ceiling_result_t *res);
static int ceiling_store(const char *dir, long batch, long orgs,
    double secs, ceiling_result_t *res);
static void ceiling_remove(const char *dir);


static const struct {
    const char      *name;
    ceiling_run_pt   run;
} ceiling_runs[] = {
    { "scattered", ceiling_scattered },
    { "adjacent", ceiling_adjacent },
    { "lmdb", ceiling_lmdb },
    { "store", ceiling_store }
};

#define CEILING_RUNS  (sizeof(ceiling_runs) / sizeof(ceiling_runs[0]))


int
main(int argc, char **argv)
{
    int               c, i, rc;
    size_t            r;
    long              orgs, batch;
    double            secs;
    ceiling_result_t  res;
    char              dir[4096];

    secs = 3;
    orgs = 1000;

    while ((c = getopt(argc, argv, "o:s:")) != -1) {
        switch (c) {

        case 'o':
            orgs = strtol(optarg, NULL, 10);
            break;

        case 's':
            secs = strtod(optarg, NULL);
            break;

        default:
            goto usage;
        }
    }

    if (argc - optind < 2 || orgs < 1 || orgs > 9999 || secs <= 0) {
        goto usage;
    }

    for (i = optind + 1; i < argc; i++) {
        batch = strtol(argv[i], NULL, 10);

        if (batch < 1 || batch > CEILING_BATCH_MAX) {
            goto usage;
        }

        for (r = 0; r < CEILING_RUNS; r++) {
            snprintf(dir, sizeof(dir), "%s/ceiling-%ld", argv[optind],
                     (long) getpid());

            if (mkdir(dir, 0700) != 0) {
                fprintf(stderr, "pdf-report-store-ceiling: %s: %s\n", dir,
                        strerror(errno));
                return 1;
            }

            rc = ceiling_runs[r].run(dir, batch, orgs, secs, &res);

            ceiling_remove(dir);

            if (rc != 0) {
                fprintf(stderr, "pdf-report-store-ceiling: %s: %s\n",
                        ceiling_runs[r].name,
                        rc > 0 || rc == MDB_MAP_FULL
                        ? mdb_strerror(rc) : "store refused");
                return 1;
            }

            printf("%s %ld %.0f %.2f\n", ceiling_runs[r].name, batch,
                   res.units * 1000 / res.ms, res.ms / res.syncs);
            fflush(stdout);
        }
    }

    return 0;

usage:

    fprintf(stderr, "usage: pdf-report-store-ceiling [-s seconds] "
            "[-o orgs] dir batch ...\n");
    return 2;
}


static int
ceiling_scattered(const char *dir, long batch, long orgs, double secs,
    ceiling_result_t *res)
{
    return ceiling_disk(dir, batch, 0, secs, res);
}


static int
ceiling_adjacent(const char *dir, long batch, long orgs, double secs,
    ceiling_result_t *res)
{
    return ceiling_disk(dir, batch, 1, secs, res);
}


static int
ceiling_disk(const char *dir, long batch, int adjacent, double secs,
    ceiling_result_t *res)
{
    int            fd, rc;
    long           i, page;
    double         start, end;
    unsigned char  buf[4096];
    char           path[4096 + 16];


    snprintf(path, sizeof(path), "%s/data.mdb", dir);

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd == -1) {
        return errno;
    }

    /* written out first, so that the runs rewrite blocks, as LMDB does */
    memset(buf, 0, sizeof(buf));
    rc = 0;

    for (i = 0; rc == 0 && i < CEILING_PAGES; i++) {
        if (pwrite(fd, buf, sizeof(buf), i * sizeof(buf)) != sizeof(buf)) {
            rc = errno ? errno : EIO;
        }
    }

    if (rc == 0 && fdatasync(fd) != 0) {
        rc = errno;
    }

    memset(buf, 0x5a, sizeof(buf));
    memset(res, 0, sizeof(ceiling_result_t));
    start = pdf_report_now_ms();
    end = start + secs * 1000;

    while (rc == 0 && pdf_report_now_ms() < end) {
        page = random() % (CEILING_PAGES - batch);

        for (i = 0; i < batch; i++) {
            if (!adjacent) {
                page = random() % CEILING_PAGES;
            }

            if (pwrite(fd, buf, sizeof(buf),
                       (page + (adjacent ? i : 0)) * sizeof(buf))
                != sizeof(buf))
            {
                rc = errno ? errno : EIO;
                break;
            }
        }

        if (rc == 0 && fdatasync(fd) != 0) {
            rc = errno;
        }

        res->units += batch;
        res->syncs++;
    }

    res->ms = pdf_report_now_ms() - start;

    (void) close(fd);

    return rc;
}


static int
ceiling_lmdb(const char *dir, long batch, long orgs, double secs,
    ceiling_result_t *res)
{
    int           rc;
    long          i;
    double        start, end;
    MDB_env      *env;
    MDB_txn      *txn;
    MDB_dbi       dbi;
    MDB_val       k, v;
    char          id[PDF_REPORT_UUID_LEN + 1];
    unsigned char val[CEILING_VALUE];

    memset(val, 0x5a, sizeof(val));

    rc = mdb_env_create(&env);
    if (rc != 0) {
        return rc;
    }

    /* LMDB's defaults: every commit is durable, as the module's are */
    rc = mdb_env_set_mapsize(env, CEILING_MAP);

    if (rc == 0) {
        rc = mdb_env_open(env, dir, 0, 0600);
    }

    memset(res, 0, sizeof(ceiling_result_t));
    start = pdf_report_now_ms();
    end = start + secs * 1000;

    while (rc == 0 && pdf_report_now_ms() < end) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc != 0) {
            break;
        }

        rc = mdb_dbi_open(txn, NULL, 0, &dbi);

        for (i = 0; rc == 0 && i < batch; i++) {
            if (pdf_report_uuid4(id) != 0) {
                rc = EIO;
                break;
            }

            k.mv_data = id;
            k.mv_size = PDF_REPORT_UUID_LEN;
            v.mv_data = val;
            v.mv_size = sizeof(val);

            rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
        }

        if (rc != 0) {
            mdb_txn_abort(txn);
            break;
        }

        rc = mdb_txn_commit(txn);

        res->units += batch;
        res->syncs++;
    }

    res->ms = pdf_report_now_ms() - start;

    mdb_env_close(env);

    return rc;
}


static int
ceiling_store(const char *dir, long batch, long orgs, double secs,
    ceiling_result_t *res)
{
    int                  rc;
    long                 i, n;
    double               start, end;
    unsigned             fmt;
    pdf_report_op_t     *ops, **opp;
    pdf_report_store_t  *store;


    ops = calloc(batch, sizeof(pdf_report_op_t));
    opp = calloc(batch, sizeof(pdf_report_op_t *));

    if (ops == NULL || opp == NULL) {
        free(ops);
        free(opp);
        return ENOMEM;
    }

    rc = pdf_report_store_open(&store, dir, CEILING_MAP, &fmt);
    if (rc != 0) {
        free(ops);
        free(opp);
        return rc;
    }

    memset(res, 0, sizeof(ceiling_result_t));
    start = pdf_report_now_ms();
    end = start + secs * 1000;
    n = 0;

    while (rc == 0 && pdf_report_now_ms() < end) {

        /* as the handler fills them: counted, each its own user */
        for (i = 0; i < batch; i++, n++) {
            memset(&ops[i], 0, sizeof(pdf_report_op_t));
            opp[i] = &ops[i];

            ops[i].kind = PDF_REPORT_OP_CREATE;
            ops[i].rate = 1;
            ops[i].now_ms = pdf_report_now_ms();
            ops[i].period_ms = 600000;
            ops[i].limit = 100000;

            if (pdf_report_uuid4(ops[i].job.id) != 0) {
                rc = EIO;
                break;
            }

            ops[i].job.id[PDF_REPORT_UUID_LEN] = '\0';
            snprintf(ops[i].job.org, sizeof(ops[i].job.org), "org_%04ld",
                     n % orgs + 1);
            snprintf(ops[i].job.user, sizeof(ops[i].job.user),
                     "USC%013ld", n + 1);
            ops[i].job.created_ms = ops[i].now_ms;
        }

        if (rc != 0) {
            break;
        }

        rc = pdf_report_store_batch(store, opp, batch, NULL, NULL, NULL);

        for (i = 0; rc == 0 && i < batch; i++) {
            rc = ops[i].rc;
        }

        res->units += batch;
        res->syncs++;
    }

    res->ms = pdf_report_now_ms() - start;

    pdf_report_store_close(store);
    free(ops);
    free(opp);

    return rc;
}


static void
ceiling_remove(const char *dir)
{
    char  path[4096 + 16];

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    (void) unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    (void) unlink(path);
    (void) rmdir(dir);
}
