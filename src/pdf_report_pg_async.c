
/*
 * The reads of steps 1 to 3 for an event loop: see pdf_report_pg_async.h.
 * Each read is one prepared statement by primary key (step 3's job and
 * its user's record in one), so that a request costs the database one
 * index lookup and the event loop one result.
 */


#include <stdio.h>
#include <string.h>

#include "pdf_report_pg_async.h"
#include "pdf_report_pg_int.h"


static const pdf_report_pg_stmt_e  pdf_report_pg_async_stmts[] = {
    PDF_REPORT_PG_USER_GET,
    PDF_REPORT_PG_JOB_GET,
    PDF_REPORT_PG_JOB_USER
};


PGconn *
pdf_report_pg_async_start(pdf_report_pg_t *pg, const char *hostaddr)
{
    PGconn  *conn;

    conn = pdf_report_pg_connect_start(pg, hostaddr);

    if (conn != NULL && PQstatus(conn) != CONNECTION_BAD) {
        if (PQsetnonblocking(conn, 1) != 0) {
            PQfinish(conn);
            return NULL;
        }

        pdf_report_pg_drop_notices(conn);
    }

    return conn;
}


int
pdf_report_pg_async_resolve(pdf_report_pg_t *pg, char *hostaddr, size_t len)
{
    return pdf_report_pg_resolve(pg, hostaddr, len);
}


int
pdf_report_pg_async_prepare(PGconn *conn)
{
    char    name[32];
    size_t  i;

    if (PQenterPipelineMode(conn) != 1) {
        return -1;
    }

    for (i = 0; i < PDF_REPORT_PG_ASYNC_PREPARES; i++) {
        snprintf(name, sizeof(name), PDF_REPORT_PG_STMT_NAME,
                 (int) pdf_report_pg_async_stmts[i]);

        if (PQsendPrepare(conn, name,
                          pdf_report_pg_stmt_sql(
                              pdf_report_pg_async_stmts[i]),
                          0, NULL)
            != 1)
        {
            return -1;
        }
    }

    /* PQpipelineSync() flushes what the socket takes */
    return (PQpipelineSync(conn) == 1) ? 0 : -1;
}


int
pdf_report_pg_async_send(PGconn *conn, int what, const char *id,
    const char *user, size_t user_len, int *rc)
{
    char                   name[32], key[PDF_REPORT_USER_ID_MAX + 1];
    const char            *vals[1];
    pdf_report_pg_stmt_e   stmt;

    *rc = PDF_REPORT_STORE_NOT_FOUND;

    if (what == PDF_REPORT_PG_READ_ACCESS) {
        if (user_len == 0 || user_len > PDF_REPORT_USER_ID_MAX
            || memchr(user, '\0', user_len) != NULL)
        {
            return 0;
        }

        memcpy(key, user, user_len);
        key[user_len] = '\0';
        vals[0] = key;
        stmt = PDF_REPORT_PG_USER_GET;

    } else {
        /* no UUID is no job (and no query the server would refuse) */
        if (!pdf_report_is_uuid(id, strlen(id))) {
            return 0;
        }

        vals[0] = id;
        stmt = (what == PDF_REPORT_PG_READ_JOB) ? PDF_REPORT_PG_JOB_GET
                                                : PDF_REPORT_PG_JOB_USER;
    }

    snprintf(name, sizeof(name), PDF_REPORT_PG_STMT_NAME, (int) stmt);

    *rc = 0;

    return (PQsendQueryPrepared(conn, name, 1, vals, NULL, NULL, 0) == 1)
           ? 1 : -1;
}


void
pdf_report_pg_async_result(PGresult *r, int what, const char *org,
    pdf_report_job_t *job, int *rc, int *access_rc, char *stem,
    size_t *stem_len)
{
    const char  *msg, *state;

    *access_rc = PDF_REPORT_STORE_NOT_FOUND;
    *stem_len = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        pdf_report_pg_set_error("%s", msg ? msg : "no result");

        /*
         * The server going away (08: connection exception, 57P0x: it
         * shuts down) answers the read 503, as a pool read's would
         */
        if (state == NULL || strncmp(state, "08", 2) == 0
            || strncmp(state, "57P0", 4) == 0)
        {
            *rc = PDF_REPORT_STORE_UNAVAILABLE;
            *access_rc = PDF_REPORT_STORE_UNAVAILABLE;
            return;
        }

        *rc = PDF_REPORT_PG_ERROR;
        return;
    }

    if (PQntuples(r) != 1) {
        *rc = PDF_REPORT_STORE_NOT_FOUND;
        return;
    }

    if (what == PDF_REPORT_PG_READ_ACCESS) {
        *rc = pdf_report_pg_access_of(PQgetvalue(r, 0, 0),
                                      (size_t) PQgetlength(r, 0, 0), org,
                                      stem, stem_len);
        return;
    }

    pdf_report_pg_job_of(r, 0, 0, job);

    /* revoked: gone for the API at once, whatever is left to delete */
    if (job->flags & PDF_REPORT_JOB_ERASED) {
        *rc = PDF_REPORT_STORE_NOT_FOUND;
        return;
    }

    *rc = 0;

    /* another org's job is not looked into further */
    if (what != PDF_REPORT_PG_READ_JOB_ACCESS || strcmp(job->org, org) != 0)
    {
        return;
    }

    if (PQgetisnull(r, 0, PDF_REPORT_PG_JOB_NCOLS)) {
        return;
    }

    *access_rc = pdf_report_pg_access_of(
                     PQgetvalue(r, 0, PDF_REPORT_PG_JOB_NCOLS),
                     (size_t) PQgetlength(r, 0, PDF_REPORT_PG_JOB_NCOLS),
                     org, stem, stem_len);
}
