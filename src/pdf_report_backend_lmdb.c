
/*
 * LMDB behind the backend table: each entry is the pdf_report_store_*()
 * function of the same name; LMDB's own codes are mdb_strerror()'s.
 */


#include "pdf_report_backend.h"


static int
lmdb_user_access(void *db, const char *org, const char *id, size_t id_len,
    char *stem, size_t *stem_len)
{
    return pdf_report_store_user_access(db, org, id, id_len, stem,
                                        stem_len);
}


static int
lmdb_user_get(void *db, const char *id, size_t id_len, char **json,
    size_t *len)
{
    return pdf_report_store_user_get(db, id, id_len, json, len);
}


static int
lmdb_job_get(void *db, const char *id, pdf_report_job_t *job)
{
    return pdf_report_store_job_get(db, id, job);
}


static int
lmdb_job_record(void *db, const char *id, pdf_report_job_t *job)
{
    return pdf_report_store_job_record(db, id, job);
}


static int
lmdb_job_renew(void *db, const char *id, uint64_t token, int64_t now_ms,
    int64_t lease_ms)
{
    return pdf_report_store_job_renew(db, id, token, now_ms, lease_ms);
}


static int
lmdb_job_finish(void *db, const pdf_report_job_t *done, uint64_t token,
    int64_t now_ms)
{
    return pdf_report_store_job_finish(db, done, token, now_ms);
}


static int
lmdb_job_release(void *db, const char *id, uint64_t token, int64_t now_ms)
{
    return pdf_report_store_job_release(db, id, token, now_ms);
}


static int
lmdb_batch_begin(void *db, void **txn)
{
    int       rc;
    MDB_txn  *t;

    t = NULL;
    rc = pdf_report_store_batch_begin(db, &t);
    *txn = t;

    return rc;
}


static int
lmdb_batch_run(void *db, void *txn, int begun, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    return pdf_report_store_batch_run(db, txn, begun, ops, n, scan, claims,
                                      res);
}


static int
lmdb_scan(void *db, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    return pdf_report_store_scan(db, scan, claims, res);
}


static int
lmdb_jobs_count(void *db, size_t *pending, size_t *running)
{
    return pdf_report_store_jobs_count(db, pending, running);
}


static int
lmdb_usage(void *db, size_t *used, size_t *size)
{
    return pdf_report_store_usage(db, used, size);
}


static int
lmdb_purge_due(void *db, int64_t now_ms, int64_t retention_ms)
{
    return pdf_report_store_purge_due(db, now_ms, retention_ms);
}


static int
lmdb_purge_take(void *db, int64_t now_ms, int64_t retention_ms,
    int64_t lease_ms, pdf_report_purge_t *items, size_t max, size_t *n,
    unsigned *more)
{
    return pdf_report_store_purge_take(db, now_ms, retention_ms, lease_ms,
                                       items, max, n, more);
}


static int
lmdb_purge_done(void *db, const pdf_report_purge_t *items, size_t n,
    unsigned *retention, unsigned *revoked)
{
    return pdf_report_store_purge_done(db, items, n, retention, revoked);
}


static int
lmdb_hooks_due(void *db, int64_t now_ms)
{
    return pdf_report_store_hooks_due(db, now_ms);
}


static int
lmdb_hooks_take(void *db, int64_t now_ms, int64_t lease_ms,
    int (*room)(void *data, const char *org), void *data,
    pdf_report_hook_t *items, size_t max, size_t *n, unsigned *more)
{
    return pdf_report_store_hooks_take(db, now_ms, lease_ms, room, data,
                                       items, max, n, more);
}


static int
lmdb_hooks_done(void *db, const pdf_report_hook_t *items, size_t n)
{
    return pdf_report_store_hooks_done(db, items, n);
}


static const char *
lmdb_strerror(int rc)
{
    return mdb_strerror(rc);
}


static int
lmdb_idem_get(void *db, const char *org, const char *key, int64_t now_ms,
    pdf_report_idem_t *rec)
{
    return pdf_report_store_idem_get(db, org, key, now_ms, rec);
}


static int
lmdb_idem_expire(void *db, int64_t now_ms, size_t max, size_t *n)
{
    return pdf_report_store_idem_expire(db, now_ms, max, n);
}


const pdf_report_backend_t  pdf_report_lmdb_backend = {
    "LMDB",
    0,
    lmdb_user_access,
    lmdb_user_get,
    lmdb_job_get,
    lmdb_job_record,
    lmdb_job_renew,
    lmdb_job_finish,
    lmdb_job_release,
    lmdb_batch_begin,
    lmdb_batch_run,
    lmdb_scan,
    lmdb_jobs_count,
    lmdb_usage,
    lmdb_purge_due,
    lmdb_purge_take,
    lmdb_purge_done,
    lmdb_hooks_due,
    lmdb_hooks_take,
    lmdb_hooks_done,
    lmdb_strerror,
    lmdb_idem_get,
    lmdb_idem_expire
};
