
/*
 * What the PostgreSQL store's files share and nothing else sees: the
 * pool, its connections, the prepared statements and the helpers that
 * run them.
 */


#ifndef _PDF_REPORT_PG_INT_H_INCLUDED_
#define _PDF_REPORT_PG_INT_H_INCLUDED_


#include <pthread.h>
#include <sys/types.h>
#include <libpq-fe.h>

#include "pdf_report_pg.h"


/* the job columns every statement that returns a job gives, in order */
#define PDF_REPORT_PG_JOB_COLS                                              \
    "id::text, org, user_id, status, flags, attempts, created_ms, "         \
    "updated_ms, completed_ms, generated_ms, claimed_ms, lease_until_ms, "  \
    "lease_token, size_bytes, duration_ms, encode(sha256, 'hex'), "         \
    "template_version, error_code, error_message"
#define PDF_REPORT_PG_JOB_NCOLS  19

/* a scan fails at most this many jobs a pass, as the LMDB store */
#define PDF_REPORT_PG_SCAN_BATCH   64
#define PDF_REPORT_PG_PURGE_BATCH  64


/* the prepared statements, by index (pdf_report_pg_sql[] in order) */
typedef enum {
    PDF_REPORT_PG_BEGIN = 0,
    PDF_REPORT_PG_COMMIT,
    PDF_REPORT_PG_LOCK,
    PDF_REPORT_PG_USER_GET,
    PDF_REPORT_PG_JOB_GET,
    PDF_REPORT_PG_STEP1,
    PDF_REPORT_PG_RELEASE,
    PDF_REPORT_PG_RENEW,
    PDF_REPORT_PG_FINISH,
    PDF_REPORT_PG_SCAN_FAIL,
    PDF_REPORT_PG_SCAN_CLAIM,
    PDF_REPORT_PG_SCAN_WAIT,
    PDF_REPORT_PG_COUNT,
    PDF_REPORT_PG_PURGE_DUE,
    PDF_REPORT_PG_PURGE_RETAIN,
    PDF_REPORT_PG_PURGE_TAKE,
    PDF_REPORT_PG_PURGE_GONE,
    PDF_REPORT_PG_PURGE_AGAIN,
    PDF_REPORT_PG_IMPORT,
    PDF_REPORT_PG_USAGE,
    PDF_REPORT_PG_JOB_USER,
    PDF_REPORT_PG_LOCKS,
    PDF_REPORT_PG_NSTMTS
} pdf_report_pg_stmt_e;


typedef struct {
    PGconn      *conn;           /* NULL: not connected */
    unsigned     busy;           /* taken by a call */
    unsigned     prepared;       /* the statements are */
    int64_t      failed_ms;      /* the last attempt to connect failed */
} pdf_report_pg_conn_t;


struct pdf_report_pg_s {
    pthread_mutex_t        mutex;
    pthread_cond_t         cond;
    char                  *uri;
    unsigned               erase_on_revoke;
    unsigned               size;
    pid_t                  pid;      /* the process that opened it */
    pdf_report_pg_conn_t  *conns;
};


typedef struct {
    pdf_report_pg_conn_t  *c;
    size_t                 n;    /* statements sent */
    size_t                 max;
    int                    rc;   /* the first failure to send */
    PGresult             **res;  /* n of them once collected */
} pdf_report_pg_pipe_t;


/*
 * A connection for a call: a live one, or one made now (at most one
 * attempt, and none within PDF_REPORT_PG_RETRY_MS of a failed one).
 * prepared: its statements are needed.  0 or UNAVAILABLE (or PG_ERROR
 * when the statements could not be prepared: no schema yet).
 */
int pdf_report_pg_acquire(pdf_report_pg_t *pg, int prepared,
    pdf_report_pg_conn_t **c);
void pdf_report_pg_release(pdf_report_pg_t *pg, pdf_report_pg_conn_t *c);

/*
 * rc of a result that is not status: UNAVAILABLE when the connection is
 * broken (it is closed, to be made again by a later call), PG_ERROR
 * otherwise; the message is kept for pdf_report_pg_error().  Clears r.
 */
int pdf_report_pg_failed(pdf_report_pg_conn_t *c, PGresult *r);

/* a prepared statement run on its own (its own transaction) */
PGresult *pdf_report_pg_exec(pdf_report_pg_conn_t *c,
    pdf_report_pg_stmt_e stmt, int n, const char *const *values);

/* 1 when r is a result of status st, else 0 */
int pdf_report_pg_ok(PGresult *r, ExecStatusType st);

/*
 * A pipeline: statements sent without waiting, then one sync and every
 * result collected in order (one round trip).  _end() returns 0 or the
 * rc of the first statement that failed; res[i] is NULL for one that
 * did not run; _free() clears them and leaves the connection out of any
 * transaction.
 */
int pdf_report_pg_pipe_begin(pdf_report_pg_pipe_t *p,
    pdf_report_pg_conn_t *c, size_t max);
void pdf_report_pg_pipe_send(pdf_report_pg_pipe_t *p,
    pdf_report_pg_stmt_e stmt, int n, const char *const *values);
int pdf_report_pg_pipe_end(pdf_report_pg_pipe_t *p);
void pdf_report_pg_pipe_free(pdf_report_pg_pipe_t *p);

/* the job of row i of r from column col on */
void pdf_report_pg_job_of(PGresult *r, int i, int col,
    pdf_report_job_t *job);

/* the 64-bit advisory lock key of a name: the first bytes of its SHA-256 */
int64_t pdf_report_pg_lock_key(const char *kind, const char *name,
    size_t len);

/* the pool's connection, started for PQconnectPoll() */
PGconn *pdf_report_pg_connect_start(pdf_report_pg_t *pg);

/* the text of a prepared statement, and its name's format */
const char *pdf_report_pg_stmt_sql(pdf_report_pg_stmt_e stmt);
#define PDF_REPORT_PG_STMT_NAME  "pdf_report_%d"

/* a notice is no error of a call: dropped (not printed to stderr) */
void pdf_report_pg_drop_notices(PGconn *conn);

/*
 * A user's record (jsonb as text) as pdf_report_pg_user_access()
 * answers: 0 with the filename stem when connected to org, else
 * NOT_CONNECTED (a record that is no object is connected to none).
 */
int pdf_report_pg_access_of(const char *json, size_t len, const char *org,
    char *stem, size_t *stem_len);

/* record a message for pdf_report_pg_error() */
void pdf_report_pg_set_error(const char *fmt, ...);

int64_t pdf_report_pg_int(PGresult *r, int i, int col);

/*
 * A statement of its own text (schema, directory loads), not prepared:
 * with parameters when n > 0, several statements in one when none.  res
 * (may be NULL) gets the result, for the caller to clear.
 */
int pdf_report_pg_query(pdf_report_pg_conn_t *c, const char *sql, int n,
    const char *const *values, PGresult **res);


#endif /* _PDF_REPORT_PG_INT_H_INCLUDED_ */
