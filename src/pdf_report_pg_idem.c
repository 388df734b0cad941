
/*
 * Idempotency-Key in the PostgreSQL store (pdf_report_pg.h): the table
 * pdf_report_idempotency, one row per (org, key).  A keyed step-1
 * operation is a transaction of its own under the org's advisory lock,
 * the lock every step-1 write of that org takes on every edge: the key
 * looked up, then the rate-limit hit and the job, then the answer's
 * row, all committed together.  Two requests of one key on two edges
 * thus never both create: the second finds the first's row.  A few
 * round trips, unlike the pipelined batch: only keyed requests pay
 * them.  No nginx API.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "pdf_report_pg.h"
#include "pdf_report_pg_int.h"


#define PDF_REPORT_PG_IDEM_NUM  24


static const char  pdf_report_pg_idem_select[] =
    "SELECT encode(sha256, 'hex'), status, job_id, user_id, created_ms,"
    " code, message, expires_ms FROM pdf_report_idempotency"
    " WHERE org = $1::text AND key = $2::text AND expires_ms > $3::bigint";

/* an expired row of the key is replaced */
static const char  pdf_report_pg_idem_upsert[] =
    "INSERT INTO pdf_report_idempotency (org, key, sha256, status, job_id,"
    " user_id, created_ms, code, message, expires_ms)"
    " VALUES ($1::text, $2::text, decode($3::text, 'hex'), $4::int,"
    " $5::text, $6::text, $7::bigint, $8::text, $9::text, $10::bigint)"
    " ON CONFLICT (org, key) DO UPDATE SET sha256 = EXCLUDED.sha256,"
    " status = EXCLUDED.status, job_id = EXCLUDED.job_id,"
    " user_id = EXCLUDED.user_id, created_ms = EXCLUDED.created_ms,"
    " code = EXCLUDED.code, message = EXCLUDED.message,"
    " expires_ms = EXCLUDED.expires_ms";

/* oldest first, a bounded batch; rows another edge deletes are its own */
static const char  pdf_report_pg_idem_delete[] =
    "DELETE FROM pdf_report_idempotency i USING"
    " (SELECT org, key FROM pdf_report_idempotency"
    "  WHERE expires_ms <= $1::bigint ORDER BY expires_ms LIMIT $2::int"
    "  FOR UPDATE SKIP LOCKED) d"
    " WHERE i.org = d.org AND i.key = d.key";


static int pdf_report_pg_idem_find(pdf_report_pg_conn_t *c,
    const char *org, const char *key, int64_t now_ms,
    pdf_report_idem_t *rec);
static int pdf_report_pg_idem_put(pdf_report_pg_conn_t *c,
    pdf_report_op_t *op);
static int pdf_report_pg_idem_txn(pdf_report_pg_conn_t *c,
    pdf_report_op_t *op);
static void pdf_report_pg_idem_num(char *buf, int64_t v);


int
pdf_report_pg_idem_get(pdf_report_pg_t *pg, const char *org,
    const char *key, int64_t now_ms, pdf_report_idem_t *rec)
{
    int                    rc;
    pdf_report_pg_conn_t  *c;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_pg_idem_find(c, org, key, now_ms, rec);

    pdf_report_pg_release(pg, c);

    return rc;
}


int
pdf_report_pg_idem_op(pdf_report_pg_t *pg, pdf_report_op_t *op)
{
    int                    rc;
    pdf_report_pg_conn_t  *c;

    op->rc = 0;
    op->pending[0] = '\0';
    op->rate_result.allowed = 0;

    rc = pdf_report_pg_acquire(pg, 1, &c);

    if (rc == 0) {
        rc = pdf_report_pg_idem_txn(c, op);

        /* a transaction left open (an error) is rolled back here */
        pdf_report_pg_release(pg, c);
    }

    if (rc != 0) {
        op->rc = rc;
        op->rate_result.allowed = 0;
    }

    return op->rc;
}


/* 0 with op->rc the answer, or the error that wrote nothing */

static int
pdf_report_pg_idem_txn(pdf_report_pg_conn_t *c, pdf_report_op_t *op)
{
    int                    rc;
    unsigned               kind;
    char                   lock[PDF_REPORT_PG_IDEM_NUM];
    PGresult              *r;
    const char            *vals[1];
    pdf_report_idem_op_t  *idem;

    idem = op->idem;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_BEGIN, 0, NULL);
    if (!pdf_report_pg_ok(r, PGRES_COMMAND_OK)) {
        return pdf_report_pg_failed(c, r);
    }

    PQclear(r);

    pdf_report_pg_idem_num(lock, pdf_report_pg_lock_key("org", op->job.org,
                                                        strlen(op->job.org)));
    vals[0] = lock;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_LOCK, 1, vals);
    if (!pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        return pdf_report_pg_failed(c, r);
    }

    PQclear(r);

    rc = pdf_report_pg_idem_find(c, op->job.org, idem->key, op->now_ms,
                                 &idem->found);

    if (rc == 0) {
        if (memcmp(idem->found.sha256, idem->sha256, PDF_REPORT_SHA256_LEN)
            == 0)
        {
            /* the first answer again: nothing counted, nothing written */
            op->rc = PDF_REPORT_STORE_IDEM_REPLAY;
            goto commit;
        }

        /* another body: a refusal, counted as one */
        if (op->rate) {
            kind = op->kind;
            op->kind = PDF_REPORT_OP_RATE;

            rc = pdf_report_pg_step1_exec(c, op);

            op->kind = kind;

            if (rc != 0) {
                return rc;
            }
        }

        if (op->rc == 0) {
            op->rc = PDF_REPORT_STORE_IDEM_REUSED;
        }

        goto commit;
    }

    if (rc != PDF_REPORT_STORE_NOT_FOUND) {
        return rc;
    }

    if (op->kind == PDF_REPORT_OP_CREATE || op->rate) {
        rc = pdf_report_pg_step1_exec(c, op);
        if (rc != 0) {
            return rc;
        }
    }

    if (op->kind == PDF_REPORT_OP_CREATE
        && (op->rc == 0 || op->rc == PDF_REPORT_STORE_EXISTS))
    {
        memset(&idem->rec, 0, sizeof(pdf_report_idem_t));

        if (op->rc == 0) {
            idem->rec.status = 202;
            idem->rec.created_ms = op->job.created_ms;
            memcpy(idem->rec.job_id, op->job.id, PDF_REPORT_UUID_LEN);
            memcpy(idem->rec.user, op->job.user, sizeof(idem->rec.user));

        } else {
            idem->rec.status = 409;
            memcpy(idem->rec.job_id, op->pending, PDF_REPORT_UUID_LEN);
        }

        rc = pdf_report_pg_idem_put(c, op);

    } else if (op->kind == PDF_REPORT_OP_RATE && op->rc == 0
               && idem->rec.status != 0)
    {
        rc = pdf_report_pg_idem_put(c, op);
    }

    if (rc != 0) {
        return rc;
    }

commit:

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_COMMIT, 0, NULL);
    if (!pdf_report_pg_ok(r, PGRES_COMMAND_OK)) {
        return pdf_report_pg_failed(c, r);
    }

    PQclear(r);

    return 0;
}


/* 0 with the key's live record, NOT_FOUND, or an error */

static int
pdf_report_pg_idem_find(pdf_report_pg_conn_t *c, const char *org,
    const char *key, int64_t now_ms, pdf_report_idem_t *rec)
{
    int          rc;
    char         now[PDF_REPORT_PG_IDEM_NUM];
    PGresult    *r;
    const char  *vals[3], *hex;
    size_t       i;
    unsigned     hi, lo;

    pdf_report_pg_idem_num(now, now_ms);

    vals[0] = org;
    vals[1] = key;
    vals[2] = now;

    rc = pdf_report_pg_query(c, pdf_report_pg_idem_select, 3, vals, &r);
    if (rc != 0) {
        return rc;
    }

    if (PQntuples(r) != 1) {
        PQclear(r);
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    memset(rec, 0, sizeof(pdf_report_idem_t));

    hex = PQgetvalue(r, 0, 0);

    if (strlen(hex) != PDF_REPORT_SHA256_HEX) {
        PQclear(r);
        pdf_report_pg_set_error("an Idempotency-Key row without its hash");
        return PDF_REPORT_PG_ERROR;
    }

    for (i = 0; i < PDF_REPORT_SHA256_LEN; i++) {
        hi = (unsigned) (hex[2 * i] <= '9' ? hex[2 * i] - '0'
                                           : hex[2 * i] - 'a' + 10);
        lo = (unsigned) (hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0'
                                               : hex[2 * i + 1] - 'a' + 10);
        rec->sha256[i] = (unsigned char) (hi << 4 | lo);
    }

    rec->status = (uint32_t) pdf_report_pg_int(r, 0, 1);
    snprintf(rec->job_id, sizeof(rec->job_id), "%s", PQgetvalue(r, 0, 2));
    snprintf(rec->user, sizeof(rec->user), "%s", PQgetvalue(r, 0, 3));
    rec->created_ms = pdf_report_pg_int(r, 0, 4);
    snprintf(rec->code, sizeof(rec->code), "%s", PQgetvalue(r, 0, 5));
    snprintf(rec->message, sizeof(rec->message), "%s",
             PQgetvalue(r, 0, 6));
    rec->expires_ms = pdf_report_pg_int(r, 0, 7);

    PQclear(r);

    return 0;
}


static int
pdf_report_pg_idem_put(pdf_report_pg_conn_t *c, pdf_report_op_t *op)
{
    char                   status[PDF_REPORT_PG_IDEM_NUM];
    char                   created[PDF_REPORT_PG_IDEM_NUM];
    char                   expires[PDF_REPORT_PG_IDEM_NUM];
    char                   sha[PDF_REPORT_SHA256_HEX + 1];
    const char            *vals[10];
    pdf_report_idem_op_t  *idem;

    idem = op->idem;

    memcpy(idem->rec.sha256, idem->sha256, PDF_REPORT_SHA256_LEN);
    idem->rec.expires_ms = op->now_ms + idem->ttl_ms;

    pdf_report_hex(sha, idem->sha256, PDF_REPORT_SHA256_LEN);
    sha[PDF_REPORT_SHA256_HEX] = '\0';

    pdf_report_pg_idem_num(status, idem->rec.status);
    pdf_report_pg_idem_num(created, idem->rec.created_ms);
    pdf_report_pg_idem_num(expires, idem->rec.expires_ms);

    vals[0] = op->job.org;
    vals[1] = idem->key;
    vals[2] = sha;
    vals[3] = status;
    vals[4] = idem->rec.job_id;
    vals[5] = idem->rec.user;
    vals[6] = created;
    vals[7] = idem->rec.code;
    vals[8] = idem->rec.message;
    vals[9] = expires;

    return pdf_report_pg_query(c, pdf_report_pg_idem_upsert, 10, vals, NULL);
}


int
pdf_report_pg_idem_expire(pdf_report_pg_t *pg, int64_t now_ms, size_t max,
    size_t *n)
{
    int                    rc;
    char                   now[PDF_REPORT_PG_IDEM_NUM];
    char                   lim[PDF_REPORT_PG_IDEM_NUM];
    PGresult              *r;
    const char            *vals[2];
    pdf_report_pg_conn_t  *c;

    *n = 0;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_idem_num(now, now_ms);
    pdf_report_pg_idem_num(lim, (int64_t) max);

    vals[0] = now;
    vals[1] = lim;

    rc = pdf_report_pg_query(c, pdf_report_pg_idem_delete, 2, vals, &r);

    if (rc == 0) {
        *n = (size_t) strtoul(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


static void
pdf_report_pg_idem_num(char *buf, int64_t v)
{
    snprintf(buf, PDF_REPORT_PG_IDEM_NUM, "%lld", (long long) v);
}
