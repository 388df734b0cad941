
/*
 * The store as the module uses it, whichever backend holds it: a table
 * of operations and the handle they take.  LMDB (pdf_report_store.c) is
 * the embedded default; a networked backend sets "remote", and then the
 * module calls it from pool threads only, never on the event loop.
 * Every operation keeps the semantics and the result codes of its
 * pdf_report_store_*() counterpart (pdf_report_store.h).
 */


#ifndef _PDF_REPORT_BACKEND_H_INCLUDED_
#define _PDF_REPORT_BACKEND_H_INCLUDED_


#include "pdf_report_store.h"


typedef struct {
    const char  *name;
    unsigned     remote;         /* calls may wait on a network */

    int  (*user_access)(void *db, const char *org, const char *id,
             size_t id_len, char *stem, size_t *stem_len);
    int  (*user_get)(void *db, const char *id, size_t id_len, char **json,
             size_t *len);

    int  (*job_get)(void *db, const char *id, pdf_report_job_t *job);
    int  (*job_record)(void *db, const char *id, pdf_report_job_t *job);
    int  (*job_renew)(void *db, const char *id, uint64_t token,
             int64_t now_ms, int64_t lease_ms);
    int  (*job_finish)(void *db, const pdf_report_job_t *done,
             uint64_t token, int64_t now_ms);
    int  (*job_release)(void *db, const char *id, uint64_t token,
             int64_t now_ms);

    /*
     * A group commit in two steps (pdf_report_store_batch_begin() and
     * _run()): begin() waits for the right to write, and the caller then
     * takes every operation queued meanwhile into run().
     */
    int  (*batch_begin)(void *db, void **txn);
    int  (*batch_run)(void *db, void *txn, int begun, pdf_report_op_t **ops,
             size_t n, const pdf_report_scan_t *scan,
             pdf_report_job_t *claims, pdf_report_scan_result_t *res);
    int  (*scan)(void *db, const pdf_report_scan_t *scan,
             pdf_report_job_t *claims, pdf_report_scan_result_t *res);

    int  (*jobs_count)(void *db, size_t *pending, size_t *running);
    int  (*usage)(void *db, size_t *used, size_t *size);    /* or NULL */

    int  (*purge_due)(void *db, int64_t now_ms, int64_t retention_ms);
    int  (*purge_take)(void *db, int64_t now_ms, int64_t retention_ms,
             int64_t lease_ms, pdf_report_purge_t *items, size_t max,
             size_t *n, unsigned *more);
    int  (*purge_done)(void *db, const pdf_report_purge_t *items, size_t n,
             unsigned *retention, unsigned *revoked);

    /* webhook events (pdf_report_store_hooks_*()) */
    int  (*hooks_due)(void *db, int64_t now_ms);
    int  (*hooks_take)(void *db, int64_t now_ms, int64_t lease_ms,
             int (*room)(void *data, const char *org), void *data,
             pdf_report_hook_t *items, size_t max, size_t *n,
             unsigned *more);
    int  (*hooks_done)(void *db, const pdf_report_hook_t *items, size_t n);

    /* a result code other than the PDF_REPORT_STORE_* ones, for logs */
    const char  *(*strerror)(int rc);

    /* Idempotency-Key: a key's record, the deletion of expired ones */
    int  (*idem_get)(void *db, const char *org, const char *key,
             int64_t now_ms, pdf_report_idem_t *rec);
    int  (*idem_expire)(void *db, int64_t now_ms, size_t max, size_t *n);
} pdf_report_backend_t;


typedef struct {
    const pdf_report_backend_t  *ops;
    void                        *db;
} pdf_report_db_t;


extern const pdf_report_backend_t  pdf_report_lmdb_backend;
extern const pdf_report_backend_t  pdf_report_pg_backend;


#endif /* _PDF_REPORT_BACKEND_H_INCLUDED_ */
