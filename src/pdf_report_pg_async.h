
/*
 * The reads of steps 1 to 3 on a connection that the caller's event
 * loop drives: libpq's asynchronous API in pipeline mode, so that one
 * connection carries the reads of many requests at a time and nothing
 * waits for the database.  What to send, and what an answer means; the
 * socket, its events and the order of the answers are the caller's
 * (ngx_http_pdf_report_pgread.c).  No nginx dependency.
 */


#ifndef _PDF_REPORT_PG_ASYNC_H_INCLUDED_
#define _PDF_REPORT_PG_ASYNC_H_INCLUDED_


#include <libpq-fe.h>

#include "pdf_report_pg.h"


#define PDF_REPORT_PG_READ_ACCESS      1   /* (org, user) */
#define PDF_REPORT_PG_READ_JOB         2   /* id */
#define PDF_REPORT_PG_READ_JOB_ACCESS  3   /* id, then its user */

/* the results pdf_report_pg_async_prepare() queues before its sync */
#define PDF_REPORT_PG_ASYNC_PREPARES   3


/*
 * A connection started with the pool's options, non-blocking, for
 * PQconnectPoll() to go on with; NULL when out of memory.  hostaddr:
 * what pdf_report_pg_async_resolve() gave, so that libpq resolves no
 * name here, which would wait.
 */
PGconn *pdf_report_pg_async_start(pdf_report_pg_t *pg, const char *hostaddr);

/*
 * The URI's host names resolved into "host", "hostaddr" and "port" lists
 * ("" when there is nothing to resolve), in a pool thread: DNS waits.
 * 0, or -1.
 */
#define PDF_REPORT_PG_HOSTADDR_LEN  2048
int pdf_report_pg_async_resolve(pdf_report_pg_t *pg, char *hostaddr,
    size_t len);

/*
 * Once connected: pipeline mode, the reads' statements prepared and a
 * sync, all queued and flushed as far as the socket takes (PQflush()
 * again when it says 1).  0, or -1: PQerrorMessage() says why.
 */
int pdf_report_pg_async_prepare(PGconn *conn);

/*
 * A read queued in the pipeline, not flushed: 1 when sent (one result
 * comes), 0 when answered without the database (*rc: no such UUID or
 * user id is NOT_FOUND), -1 when libpq refused it.
 */
int pdf_report_pg_async_send(PGconn *conn, int what, const char *id,
    const char *user, size_t user_len, int *rc);

/*
 * What a read's result means, as pdf_report_pg_job_get() and
 * pdf_report_pg_user_access() answer: rc for the job (or the user, for
 * ACCESS), access_rc for JOB_ACCESS's user when the job is org's.
 */
void pdf_report_pg_async_result(PGresult *r, int what, const char *org,
    pdf_report_job_t *job, int *rc, int *access_rc, char *stem,
    size_t *stem_len);


#endif /* _PDF_REPORT_PG_ASYNC_H_INCLUDED_ */
