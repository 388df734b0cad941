
/*
 * What the store's files share and nothing else sees: the environment
 * and the transaction-level steps that the single calls of
 * pdf_report_store.c and the group commit of pdf_report_store_batch.c
 * both run.  Each step works inside the caller's write transaction and
 * neither commits nor aborts it.
 */


#ifndef _PDF_REPORT_STORE_INT_H_INCLUDED_
#define _PDF_REPORT_STORE_INT_H_INCLUDED_


#include <limits.h>

#include "pdf_report_store.h"
#include "pdf_report_webhook.h"


/* create_txn: the map is too full to take a new job (nothing written) */
#define PDF_REPORT_STORE_NEARLY_FULL  (-1005)


struct pdf_report_store_s {
    MDB_env     *env;
    MDB_dbi      meta;
    MDB_dbi      jobs;
    MDB_dbi      pending;
    MDB_dbi      queue;
    MDB_dbi      rate;
    MDB_dbi      users;
    MDB_dbi      access;
    MDB_dbi      retain;     /* terminal_ms (8, BE) id -> "" */
    MDB_dbi      purge;      /* not_before_ms (8, BE) id -> attempts */
    MDB_dbi      byuser;     /* org "\0" user "\0" id -> "" */
    MDB_dbi      running;    /* id -> "", every IN_PROGRESS job */
    MDB_dbi      hooks;      /* due_ms (8, BE) id -> a webhook event */
    const pdf_report_webhooks_t  *webhooks;  /* orgs with one, or NULL */
    MDB_dbi      idem;       /* org "\0" key -> an Idempotency-Key's */
    MDB_dbi      idemexp;    /* expires_ms (8, BE) org "\0" key -> "" */
    unsigned     format;     /* the layout version found at open */
    unsigned     erase_on_revoke;
    char         path[PATH_MAX];
};


#define PDF_REPORT_TIME_KEY_LEN  (8 + PDF_REPORT_UUID_LEN)


int pdf_report_commit(MDB_txn *txn, int rc);
void pdf_report_put_u32(unsigned char *p, uint32_t v);
void pdf_report_put_u64(unsigned char *p, uint64_t v);
uint32_t pdf_report_get_u32(const unsigned char *p);
uint64_t pdf_report_get_u64(const unsigned char *p);
void pdf_report_time_key(int64_t ms, const char *id, unsigned char *buf);
int pdf_report_first_due(MDB_txn *txn, MDB_dbi dbi, int64_t ms);

/*
 * The job just became terminal: when its org has a webhook, its event
 * is recorded, due now, in the same transaction (pdf_report_store_hooks.c).
 */
int pdf_report_hook_put(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job, int64_t now_ms);


int pdf_report_rate_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, int64_t now_ms, int64_t period_ms, unsigned limit,
    pdf_report_rate_t *rate);

int pdf_report_create_txn(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_job_t *job, char *pending_id);

int pdf_report_release_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *id, uint64_t token, int64_t now_ms);

/* the Idempotency-Key steps of a batch (pdf_report_store_idem.c) */
int pdf_report_idem_check_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, pdf_report_idem_op_t *idem, int64_t now_ms);
int pdf_report_idem_put_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, pdf_report_idem_op_t *idem, int64_t now_ms);

int pdf_report_scan_txn(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_scan_t *scan, size_t max, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);


#endif /* _PDF_REPORT_STORE_INT_H_INCLUDED_ */
