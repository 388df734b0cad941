
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

/*
 * The orgs a record (jsonb) is CONNECTED to, each once, in the order of
 * its first such connection: pdf_report_user_access_of()'s rule (a
 * string org_id, a string connection_status "CONNECTED"), less the orgs
 * no token can name (over PDF_REPORT_ORG_MAX bytes).
 */
#define PDF_REPORT_PG_ORGS(rec)                                             \
    "(SELECT x.e->>'org_id' AS org, min(x.i) AS pos"                        \
    " FROM jsonb_array_elements(CASE"                                       \
    "  WHEN jsonb_typeof(" rec "->'connections') = 'array'"                 \
    "  THEN " rec "->'connections' ELSE '[]'::jsonb END)"                   \
    "  WITH ORDINALITY AS x(e, i)"                                          \
    " WHERE jsonb_typeof(x.e) = 'object'"                                   \
    "  AND jsonb_typeof(x.e->'org_id') = 'string'"                          \
    "  AND jsonb_typeof(x.e->'connection_status') = 'string'"               \
    "  AND x.e->>'connection_status' = 'CONNECTED'"                         \
    "  AND octet_length(x.e->>'org_id') <= 128"                             \
    " GROUP BY 1)"

/*
 * What erasing a job sets, in an UPDATE of pdf_report_jobs j
 * (pdf_report_store_revoked()'s rules): a job not ended fails
 * NOT_CONNECTED at "now", and its object's deletion is due at once; a
 * deletion already started keeps its place.
 */
#define PDF_REPORT_PG_ERASE_SET(now)                                        \
    "   flags = j.flags | 1"                                                \
    "     | CASE WHEN j.status IN (0, 1) THEN 2 ELSE 0 END,"                \
    "   status = CASE WHEN j.status IN (0, 1) THEN 3 ELSE j.status END,"    \
    "   error_code = CASE WHEN j.status IN (0, 1) THEN 'NOT_CONNECTED'"     \
    "     ELSE j.error_code END,"                                           \
    "   error_message = CASE WHEN j.status IN (0, 1)"                       \
    "     THEN 'The user is no longer connected to this organisation.'"     \
    "     ELSE j.error_message END,"                                        \
    "   lease_token = CASE WHEN j.status IN (0, 1) THEN 0"                  \
    "     ELSE j.lease_token END,"                                          \
    "   lease_until_ms = CASE WHEN j.status IN (0, 1) THEN 0"               \
    "     ELSE j.lease_until_ms END,"                                       \
    "   updated_ms = CASE WHEN j.status IN (0, 1) THEN " now "::bigint"     \
    "     ELSE j.updated_ms END,"                                           \
    "   completed_ms = CASE WHEN j.status IN (0, 1) THEN " now "::bigint"   \
    "     ELSE j.completed_ms END,"                                         \
    "   terminal_ms = CASE WHEN j.status IN (0, 1) THEN " now "::bigint"    \
    "     ELSE j.terminal_ms END,"                                          \
    "   purge_after_ms = CASE WHEN j.status IN (0, 1)"                      \
    "     OR j.purge_after_ms IS NULL THEN " now "::bigint"                 \
    "     ELSE j.purge_after_ms END,"                                       \
    "   purge_attempts = CASE WHEN j.status IN (0, 1)"                      \
    "     OR j.purge_after_ms IS NULL THEN 0 ELSE j.purge_attempts END"

/*
 * The events of jobs an erasure just ended (er: an UPDATE of
 * pdf_report_jobs j that sets PDF_REPORT_PG_ERASE_SET and RETURNs j AS
 * jr): a job cut short (flags & 2) whose org is in hooks (text[]).
 */
#define PDF_REPORT_PG_ERASED_EVENTS(now, hooks)                             \
    "INSERT INTO pdf_report_hooks (job_id, org, due_ms, ended_ms, body)"    \
    " SELECT (er.jr).id, (er.jr).org, " now "::bigint, " now "::bigint,"    \
    "  pdf_report_event(er.jr, " now "::bigint)"                            \
    " FROM er WHERE (er.jr).flags & 2 <> 0"                                 \
    " AND (er.jr).org = ANY(" hooks "::text[])"                             \
    " ON CONFLICT (job_id) DO NOTHING"

/* a scan fails at most this many jobs a pass, as the LMDB store */
#define PDF_REPORT_PG_SCAN_BATCH   64
#define PDF_REPORT_PG_PURGE_BATCH  64

/* revocations written in SQL that a deletion pass takes */
#define PDF_REPORT_PG_REVOKED_BATCH  1024


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
    PDF_REPORT_PG_PURGE_REVOKED,
    PDF_REPORT_PG_HOOKS_DUE,
    PDF_REPORT_PG_HOOKS_CANDIDATES,
    PDF_REPORT_PG_HOOKS_LEASE,
    PDF_REPORT_PG_HOOKS_GONE,
    PDF_REPORT_PG_HOOKS_AGAIN,
    PDF_REPORT_PG_PURGE_GONE,
    PDF_REPORT_PG_PURGE_AGAIN,
    PDF_REPORT_PG_IMPORT,
    PDF_REPORT_PG_USAGE,
    PDF_REPORT_PG_JOB_USER,
    PDF_REPORT_PG_LOCKS,
    PDF_REPORT_PG_STEP1_IDEM,
    PDF_REPORT_PG_IDEM_SELECT,
    PDF_REPORT_PG_IDEM_PUT,
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
    char                   connect_timeout[12];  /* s, libpq's text */
    char                  *hook_orgs;    /* text[] of orgs with webhooks */
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
PGconn *pdf_report_pg_connect_start(pdf_report_pg_t *pg,
    const char *hostaddr);
int pdf_report_pg_resolve(pdf_report_pg_t *pg, char *hostaddr, size_t len);

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

#define PDF_REPORT_PG_NUM  24        /* an int64 as text */

/* v as text into buf, of PDF_REPORT_PG_NUM bytes */
void pdf_report_pg_num(char *buf, int64_t v);

/*
 * A statement of its own text (schema, directory loads), not prepared:
 * with parameters when n > 0, several statements in one when none.  res
 * (may be NULL) gets the result, for the caller to clear.
 */
int pdf_report_pg_query(pdf_report_pg_conn_t *c, const char *sql, int n,
    const char *const *values, PGresult **res);


/* a step-1 statement in another file's pipeline (pg_jobs.c) */
extern const size_t  pdf_report_pg_step1_size;
int pdf_report_pg_step1_send(pdf_report_pg_pipe_t *p, pdf_report_op_t *op,
    int create, void *args, const char *const *idem);
void pdf_report_pg_step1_read(PGresult *r, pdf_report_op_t *op,
    int create);

/* a scan pass in another file's pipeline: three statements (pg_jobs.c) */
void *pdf_report_pg_scan_start(pdf_report_pg_t *pg,
    pdf_report_pg_pipe_t *p, const pdf_report_scan_t *scan);
void pdf_report_pg_scan_finish(void *args, PGresult **r,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res);


#endif /* _PDF_REPORT_PG_INT_H_INCLUDED_ */
