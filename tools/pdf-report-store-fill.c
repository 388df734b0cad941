
/*
 * pdf-report-store-fill: a job store as a busy deployment has one, for
 * the benchmarks: count COMPLETE jobs spread over orgs (org_0001 ...),
 * written with the module's own store code in transactions of 10,000.
 *
 *   pdf-report-store-fill [-m map_mb] [-o orgs] dir count
 *
 * Prints "<org> <job id>" for the newest job of each org on stdout, and
 * the count, the time taken and the data file's size on stderr.  Run it
 * before nginx opens the store.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pdf_report_store.h"
#include "pdf_report_util.h"


#define FILL_BATCH  10000


int
main(int argc, char **argv)
{
    int                  c, rc;
    long                 orgs, count, map_mb, i, j, n;
    char               (*last)[PDF_REPORT_UUID_LEN + 1];
    int64_t              now, start;
    unsigned             fmt;
    struct stat          st;
    pdf_report_job_t    *batch, *job;
    pdf_report_store_t  *store;
    char                 path[4096];

    orgs = 1000;
    map_mb = 2048;

    while ((c = getopt(argc, argv, "m:o:")) != -1) {
        switch (c) {

        case 'm':
            map_mb = strtol(optarg, NULL, 10);
            break;

        case 'o':
            orgs = strtol(optarg, NULL, 10);
            break;

        default:
            fprintf(stderr, "usage: pdf-report-store-fill [-m map_mb] "
                    "[-o orgs] dir count\n");
            return 2;
        }
    }

    if (argc - optind != 2 || orgs < 1 || orgs > 9999 || map_mb < 1) {
        fprintf(stderr, "usage: pdf-report-store-fill [-m map_mb] "
                "[-o orgs] dir count\n");
        return 2;
    }

    count = strtol(argv[optind + 1], NULL, 10);

    rc = pdf_report_store_open(&store, argv[optind],
                               (size_t) map_mb * 1024 * 1024, &fmt);
    if (rc != 0) {
        fprintf(stderr, "pdf-report-store-fill: cannot open %s: %s\n",
                argv[optind], rc > 0 ? mdb_strerror(rc) : "another format");
        return 1;
    }

    batch = calloc(FILL_BATCH, sizeof(pdf_report_job_t));
    last = calloc(orgs, sizeof(*last));

    if (batch == NULL || last == NULL) {
        fprintf(stderr, "pdf-report-store-fill: no memory\n");
        return 1;
    }

    start = pdf_report_now_ms();
    now = start;

    for (i = 0; i < count; i += n) {
        n = (count - i < FILL_BATCH) ? count - i : FILL_BATCH;

        for (j = 0; j < n; j++) {
            job = &batch[j];
            memset(job, 0, sizeof(pdf_report_job_t));

            if (pdf_report_uuid4(job->id) != 0) {
                fprintf(stderr, "pdf-report-store-fill: no entropy\n");
                return 1;
            }

            job->id[PDF_REPORT_UUID_LEN] = '\0';

            /* one job a second, the oldest first; the org turns round */
            snprintf(job->org, sizeof(job->org), "org_%04ld",
                     (i + j) % orgs + 1);
            snprintf(job->user, sizeof(job->user), "USB%013ld",
                     (i + j) % (orgs * 100) + 1);

            job->status = PDF_REPORT_COMPLETE;
            job->attempts = 1;
            job->created_ms = now - (count - i - j) * 1000;
            job->generated_ms = job->created_ms + 5;
            job->claimed_ms = job->generated_ms;
            job->completed_ms = job->created_ms + 45;
            job->updated_ms = job->completed_ms;
            job->size_bytes = 24000 + (i + j) % 1000;
            job->duration_ms = 40;
            memset(job->sha256, (int) ((i + j) & 0xff),
                   PDF_REPORT_SHA256_LEN);
            memcpy(job->template_version, "v2", 3);

            memcpy(last[(i + j) % orgs], job->id, PDF_REPORT_UUID_LEN + 1);
        }

        rc = pdf_report_store_jobs_import(store, batch, n);
        if (rc != 0) {
            fprintf(stderr, "pdf-report-store-fill: after %ld jobs: %s\n",
                    i, rc > 0 || rc == MDB_MAP_FULL ? mdb_strerror(rc)
                                                    : "store refused");
            return 1;
        }
    }

    for (i = 0; i < orgs && i < count; i++) {
        printf("org_%04ld %s\n", i + 1, last[i]);
    }

    snprintf(path, sizeof(path), "%s/data.mdb", argv[optind]);

    fprintf(stderr, "pdf-report-store-fill: %ld jobs in %.1f s, %s: "
            "%.1f MiB\n", count, (pdf_report_now_ms() - start) / 1000.0,
            path, stat(path, &st) == 0 ? st.st_blocks * 512 / 1048576.0
                                       : 0.0);

    pdf_report_store_close(store);
    free(batch);
    free(last);

    return 0;
}
