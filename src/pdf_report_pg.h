
/*
 * The PostgreSQL store (contract section 8): the same jobs, queue, claims,
 * rate limit, user directory, retention and erasure as the LMDB store of
 * pdf_report_store.h, with the same answers, in one database that several
 * edges share.  No nginx dependency.
 *
 * libpq's blocking API: every call waits for the database, so the module
 * makes them from pool threads only, never from the event loop.  Each
 * process has its own pdf_report_pg_t: a pool of at most "pool"
 * connections, made on first use (pdf_report_pg_open() connects to
 * nothing, so nginx starts while the database is down), each with its
 * prepared statements.  A call takes a free connection or waits for one.
 *
 * Fork: a connection must not cross fork() (parent and child would share
 * its socket, and the child's PQfinish() would end the parent's session).
 * Open a pool in each worker (init_process), or open one in the master
 * and use it there only, closing it before workers start.  A pool used
 * in a child answers PDF_REPORT_PG_ERROR, and closing it there frees
 * its memory only.
 *
 * Every function returns 0, one of the PDF_REPORT_STORE_* answers of
 * pdf_report_store.h (NOT_FOUND, EXISTS, LOST, LIMITED, NOT_CONNECTED),
 * PDF_REPORT_STORE_UNAVAILABLE when the database cannot be reached, or
 * PDF_REPORT_PG_ERROR for an error the database answered; then
 * pdf_report_pg_error() is its message, for the log.  No message holds
 * the connection URI or a password.
 */


#ifndef _PDF_REPORT_PG_H_INCLUDED_
#define _PDF_REPORT_PG_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "pdf_report_store.h"


/* the database is unreachable: answer 503 STORE_UNAVAILABLE */
#define PDF_REPORT_STORE_UNAVAILABLE  (-1007)
/* the database refused a statement: pdf_report_pg_error() says why */
#define PDF_REPORT_PG_ERROR           (-1008)
/* the schema is of a newer version than this module: refuse to start */
#define PDF_REPORT_PG_SCHEMA_NEWER    (-1009)

/* the module's tables' version, kept in pdf_report_schema */
#define PDF_REPORT_PG_SCHEMA_VERSION  4

/* NOTIFY'd in the transaction that creates a job: LISTEN to start it */
#define PDF_REPORT_PG_CHANNEL         "pdf_report_jobs"

#define PDF_REPORT_PG_POOL_DEFAULT    4
#define PDF_REPORT_PG_POOL_MAX        256

/* a connection that failed is not tried again sooner than this */
#define PDF_REPORT_PG_RETRY_MS        1000


typedef struct pdf_report_pg_s  pdf_report_pg_t;


/*
 * A pool of at most pool connections to uri (a libpq URI or key=value
 * string), none made yet.  Only the URI's syntax is checked: 0, or EINVAL
 * (err says why, without the URI's text) or ENOMEM.
 */
int pdf_report_pg_open(pdf_report_pg_t **pg, const char *uri,
    unsigned pool, char *err, size_t errlen);

/* closes every connection; no call may be running */
void pdf_report_pg_close(pdf_report_pg_t *pg);

/* "host=... port=... dbname=... user=...", for logs: never the password */
void pdf_report_pg_describe(pdf_report_pg_t *pg, char *buf, size_t len);

/* the message of this thread's last PDF_REPORT_PG_ERROR or UNAVAILABLE */
const char *pdf_report_pg_error(void);

/* as pdf_report_store_set_erase_on_revoke(): off until the caller says */
void pdf_report_pg_set_erase_on_revoke(pdf_report_pg_t *pg, int on);

/*
 * How long a connection may take to be made (libpq's connect_timeout,
 * 5 s unless set; the URI's own connect_timeout wins)
 */
void pdf_report_pg_set_connect_timeout(pdf_report_pg_t *pg, unsigned s);

/*
 * The orgs with a webhook, whose jobs' events are recorded as they end
 * (NULL: none); copied.  0, or ENOMEM (and then none).
 */
int pdf_report_pg_set_webhooks(pdf_report_pg_t *pg,
    const pdf_report_webhooks_t *webhooks);

/* as pdf_report_store_hooks_*() */
int pdf_report_pg_hooks_due(pdf_report_pg_t *pg, int64_t now_ms);
int pdf_report_pg_hooks_take(pdf_report_pg_t *pg, int64_t now_ms,
    int64_t lease_ms, int (*room)(void *data, const char *org), void *data,
    pdf_report_hook_t *items, size_t max, size_t *n, unsigned *more);
int pdf_report_pg_hooks_done(pdf_report_pg_t *pg,
    const pdf_report_hook_t *items, size_t n);

/*
 * Create the module's tables (and pdf_report_users, if missing) or bring
 * older ones to this version, in one transaction under an advisory lock,
 * so that edges starting together do it once.  *found is the version
 * found (0: none).  A newer version is PDF_REPORT_PG_SCHEMA_NEWER, a
 * database not in UTF8 PDF_REPORT_PG_ERROR; err says so.
 */
int pdf_report_pg_schema(pdf_report_pg_t *pg, unsigned *found, char *err,
    size_t errlen);


/* ---- user directory: the table pdf_report_users (id, record jsonb) ---- */

/*
 * As pdf_report_store_user_access(): one query by primary key; the
 * record is read with pdf_report_user_access_of().
 */
int pdf_report_pg_user_access(pdf_report_pg_t *pg, const char *org,
    const char *id, size_t id_len, char *stem, size_t *stem_len);

/* the record as jsonb prints it (not the file's bytes); free() it */
int pdf_report_pg_user_get(pdf_report_pg_t *pg, const char *id,
    size_t id_len, char **json, size_t *len);

/*
 * As pdf_report_store_users_load() (same struct, same outcomes): the
 * file's fingerprint is kept per host in pdf_report_users_fp, beside the
 * SHA-256 of the file the table was last loaded from.  A changed file is
 * streamed (COPY) into a temporary table, every line checked, and the
 * difference applied in one transaction under an advisory lock; a bad
 * line writes nothing.  Nothing of the difference is kept in memory
 * (diff_max is not used, second_read stays 0).  Rows that other systems
 * write directly are not compared with the file unless it changes, and
 * what they revoke erases no jobs.
 */
int pdf_report_pg_users_load(pdf_report_pg_t *pg,
    pdf_report_users_load_t *load);


/* ---- jobs: the semantics of pdf_report_store.h ---- */

int pdf_report_pg_rate_hit(pdf_report_pg_t *pg, const char *org,
    int64_t now_ms, int64_t period_ms, unsigned limit,
    pdf_report_rate_t *rate);
int pdf_report_pg_job_create(pdf_report_pg_t *pg, pdf_report_job_t *job,
    char *pending_id);
int pdf_report_pg_job_get(pdf_report_pg_t *pg, const char *id,
    pdf_report_job_t *job);
int pdf_report_pg_job_record(pdf_report_pg_t *pg, const char *id,
    pdf_report_job_t *job);
int pdf_report_pg_scan(pdf_report_pg_t *pg, const pdf_report_scan_t *scan,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res);
int pdf_report_pg_job_renew(pdf_report_pg_t *pg, const char *id,
    uint64_t token, int64_t now_ms, int64_t lease_ms);

/*
 * UNAVAILABLE after the statement was sent leaves the outcome unknown:
 * a retry that answers LOST may mean that the first try was recorded
 * (pdf_report_pg_job_record() tells).
 */
int pdf_report_pg_job_finish(pdf_report_pg_t *pg,
    const pdf_report_job_t *done, uint64_t token, int64_t now_ms);
int pdf_report_pg_job_release(pdf_report_pg_t *pg, const char *id,
    uint64_t token, int64_t now_ms);

/*
 * As pdf_report_store_batch(): the operations, then the scan, in one
 * transaction sent as one pipeline (one round trip, one commit).  The
 * orgs of the batch are locked first, in a fixed order, so that batches
 * of several edges neither lose a count nor deadlock.  A database error
 * fails every operation with it.
 */
int pdf_report_pg_batch(pdf_report_pg_t *pg, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);

int pdf_report_pg_jobs_count(pdf_report_pg_t *pg, size_t *pending,
    size_t *running);

/*
 * As pdf_report_store_jobs_import(): finished jobs written as they are,
 * in one transaction (EINVAL for one not finished, EXISTS for an id
 * taken; nothing written then).
 */
int pdf_report_pg_jobs_import(pdf_report_pg_t *pg,
    const pdf_report_job_t *jobs, size_t n);

/* the bytes of the module's tables and indexes (the store's "used") */
int pdf_report_pg_usage(pdf_report_pg_t *pg, size_t *used);


/* ---- lifecycle: the semantics of pdf_report_store.h ---- */

int pdf_report_pg_purge_due(pdf_report_pg_t *pg, int64_t now_ms,
    int64_t retention_ms);
int pdf_report_pg_purge_take(pdf_report_pg_t *pg, int64_t now_ms,
    int64_t retention_ms, int64_t lease_ms, pdf_report_purge_t *items,
    size_t max, size_t *n, unsigned *more);
int pdf_report_pg_purge_done(pdf_report_pg_t *pg,
    const pdf_report_purge_t *items, size_t n, unsigned *retention,
    unsigned *revoked);


/* ---- Idempotency-Key: the semantics of pdf_report_store.h ---- */

/* a key's record unless expired: 0 or NOT_FOUND */
int pdf_report_pg_idem_get(pdf_report_pg_t *pg, const char *org,
    const char *key, int64_t now_ms, pdf_report_idem_t *rec);

/*
 * The step-1 operations with a key (op->idem) of a batch, in one
 * transaction of their own under their orgs' locks: the keys looked up,
 * then the operations and their answers' records, as a batch of the
 * LMDB store runs them, and the scan when one is given (NULL: none);
 * three round trips and one commit.  A database error fails every
 * operation with it (op->rc), and claims nothing.
 */
int pdf_report_pg_idem_batch(pdf_report_pg_t *pg, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);

/* up to max expired records deleted, oldest first; *n of them */
int pdf_report_pg_idem_expire(pdf_report_pg_t *pg, int64_t now_ms,
    size_t max, size_t *n);


#endif /* _PDF_REPORT_PG_H_INCLUDED_ */
