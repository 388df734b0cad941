
/*
 * PostgreSQL behind the backend table (pdf_report_pg.h): each entry is
 * the pdf_report_pg_*() function of the same name.  Remote: the module
 * calls it from pool threads only.
 */


#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "pdf_report_backend.h"
#include "pdf_report_pg.h"


static int
pg_user_access(void *db, const char *org, const char *id, size_t id_len,
    char *stem, size_t *stem_len)
{
    return pdf_report_pg_user_access(db, org, id, id_len, stem, stem_len);
}


static int
pg_user_get(void *db, const char *id, size_t id_len, char **json,
    size_t *len)
{
    return pdf_report_pg_user_get(db, id, id_len, json, len);
}


static int
pg_job_get(void *db, const char *id, pdf_report_job_t *job)
{
    return pdf_report_pg_job_get(db, id, job);
}


static int
pg_job_record(void *db, const char *id, pdf_report_job_t *job)
{
    return pdf_report_pg_job_record(db, id, job);
}


static int
pg_job_renew(void *db, const char *id, uint64_t token, int64_t now_ms,
    int64_t lease_ms)
{
    return pdf_report_pg_job_renew(db, id, token, now_ms, lease_ms);
}


static int
pg_job_finish(void *db, const pdf_report_job_t *done, uint64_t token,
    int64_t now_ms)
{
    return pdf_report_pg_job_finish(db, done, token, now_ms);
}


static int
pg_job_release(void *db, const char *id, uint64_t token, int64_t now_ms)
{
    return pdf_report_pg_job_release(db, id, token, now_ms);
}


/* no writer lock to wait for: the batch is one transaction of its own */

static int
pg_batch_begin(void *db, void **txn)
{
    *txn = NULL;

    return 0;
}


/*
 * Operations with an Idempotency-Key run apart, in a transaction of
 * their own that looks the keys up first (pdf_report_pg_idem.c); the
 * others, and the scan, as one pipelined batch.
 */

static int
pg_batch_run(void *db, void *txn, int begun, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int               rc;
    size_t            i, k;
    pdf_report_op_t  **plain;

    for (i = 0; i < n && ops[i]->idem == NULL; i++) {
        /* void */
    }

    if (i == n) {
        return pdf_report_pg_batch(db, ops, n, scan, claims, res);
    }

    plain = malloc(n * sizeof(pdf_report_op_t *));

    if (plain == NULL) {
        for (i = 0; i < n; i++) {
            ops[i]->rc = ENOMEM;
            ops[i]->rate_result.allowed = 0;
        }

        if (res != NULL) {
            memset(res, 0, sizeof(pdf_report_scan_result_t));
        }

        return ENOMEM;
    }

    /* the keyed first, so that the scan after them claims their jobs */
    for (i = 0, k = 0; i < n; i++) {
        if (ops[i]->idem != NULL) {
            plain[k++] = ops[i];
        }
    }

    /* all of them keyed: the scan rides on their transaction */
    if (k == n) {
        rc = pdf_report_pg_idem_batch(db, plain, k, scan, claims, res);
        free(plain);
        return rc;
    }

    (void) pdf_report_pg_idem_batch(db, plain, k, NULL, NULL, NULL);

    for (i = 0, k = 0; i < n; i++) {
        if (ops[i]->idem == NULL) {
            plain[k++] = ops[i];
        }
    }

    rc = pdf_report_pg_batch(db, plain, k, scan, claims, res);

    free(plain);

    return rc;
}


static int
pg_scan(void *db, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    return pdf_report_pg_scan(db, scan, claims, res);
}


static int
pg_jobs_count(void *db, size_t *pending, size_t *running)
{
    return pdf_report_pg_jobs_count(db, pending, running);
}


static int
pg_purge_due(void *db, int64_t now_ms, int64_t retention_ms)
{
    return pdf_report_pg_purge_due(db, now_ms, retention_ms);
}


static int
pg_purge_take(void *db, int64_t now_ms, int64_t retention_ms,
    int64_t lease_ms, pdf_report_purge_t *items, size_t max, size_t *n,
    unsigned *more)
{
    return pdf_report_pg_purge_take(db, now_ms, retention_ms, lease_ms,
                                    items, max, n, more);
}


static int
pg_purge_done(void *db, const pdf_report_purge_t *items, size_t n,
    unsigned *retention, unsigned *revoked)
{
    return pdf_report_pg_purge_done(db, items, n, retention, revoked);
}


/* the detail went to the thread that made the call: a class here */

static int
pg_hooks_due(void *db, int64_t now_ms)
{
    return pdf_report_pg_hooks_due(db, now_ms);
}


static int
pg_hooks_take(void *db, int64_t now_ms, int64_t lease_ms,
    int (*room)(void *data, const char *org), void *data,
    pdf_report_hook_t *items, size_t max, size_t *n, unsigned *more)
{
    return pdf_report_pg_hooks_take(db, now_ms, lease_ms, room, data, items,
                                    max, n, more);
}


static int
pg_hooks_done(void *db, const pdf_report_hook_t *items, size_t n)
{
    return pdf_report_pg_hooks_done(db, items, n);
}


static const char *
pg_strerror(int rc)
{
    switch (rc) {

    case PDF_REPORT_STORE_UNAVAILABLE:
        return "the database cannot be reached";

    case PDF_REPORT_PG_ERROR:
        return "the database refused a statement";

    case PDF_REPORT_PG_SCHEMA_NEWER:
        return "the database's tables are of a newer module";

    default:
        return "an error of the PostgreSQL store";
    }
}


static int
pg_idem_get(void *db, const char *org, const char *key, int64_t now_ms,
    pdf_report_idem_t *rec)
{
    return pdf_report_pg_idem_get(db, org, key, now_ms, rec);
}


static int
pg_idem_expire(void *db, int64_t now_ms, size_t max, size_t *n)
{
    return pdf_report_pg_idem_expire(db, now_ms, max, n);
}


const pdf_report_backend_t  pdf_report_pg_backend = {
    "PostgreSQL",
    1,
    pg_user_access,
    pg_user_get,
    pg_job_get,
    pg_job_record,
    pg_job_renew,
    pg_job_finish,
    pg_job_release,
    pg_batch_begin,
    pg_batch_run,
    pg_scan,
    pg_jobs_count,
    NULL,
    pg_purge_due,
    pg_purge_take,
    pg_purge_done,
    pg_hooks_due,
    pg_hooks_take,
    pg_hooks_done,
    pg_strerror,
    pg_idem_get,
    pg_idem_expire
};
