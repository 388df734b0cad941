
/*
 * The PostgreSQL store's jobs: step 1 (rate limit and create, alone or
 * group-committed), steps 2 and 3's reads, claims and leases, the scan,
 * and retention's purge.  The answers are those of the LMDB store
 * (pdf_report_store.c); every call is one round trip: a single
 * statement, or a transaction sent as one pipeline.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <limits.h>
#include <errno.h>
#include <openssl/rand.h>

#include "pdf_report_pg.h"
#include "pdf_report_pg_int.h"



/* the parameters of PDF_REPORT_PG_STEP1 for one operation */
typedef struct {
    char          now[PDF_REPORT_PG_NUM];
    char          cutoff[PDF_REPORT_PG_NUM];
    char          created[PDF_REPORT_PG_NUM];
    char          limit[PDF_REPORT_PG_NUM];
    const char   *values[8];
} pdf_report_pg_step1_t;


typedef struct {
    char          now[PDF_REPORT_PG_NUM];
    char          cutoff[PDF_REPORT_PG_NUM];
    char          attempts[PDF_REPORT_PG_NUM];
    char          claims[PDF_REPORT_PG_NUM];
    char          until[PDF_REPORT_PG_NUM];
    char          msg[PDF_REPORT_ERR_MSG_MAX + 1];
    char         *tokens;        /* "{t1,t2,...}", malloc()ed */
    const char   *fail[5];
    const char   *claim[6];
} pdf_report_pg_scan_args_t;


static void pdf_report_pg_step1_args(pdf_report_pg_step1_t *a,
    const char *org, const char *user, const char *id, int64_t created_ms,
    int64_t now_ms, int64_t period_ms, long limit, int create);
static int pdf_report_pg_step1_result(PGresult *r, int64_t now_ms,
    int64_t period_ms, unsigned limit, int counted, int create,
    pdf_report_rate_t *rate, char *pending);
static int pdf_report_pg_scan_args(pdf_report_pg_scan_args_t *a,
    const pdf_report_scan_t *scan);
static void pdf_report_pg_scan_send(pdf_report_pg_pipe_t *p,
    pdf_report_pg_scan_args_t *a);
static void pdf_report_pg_scan_result(PGresult **r,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res);
static int pdf_report_pg_same_job(PGresult *r);
static int pdf_report_pg_job_read(pdf_report_pg_t *pg, const char *id,
    pdf_report_job_t *job);
static int pdf_report_pg_lock_orgs(pdf_report_pg_pipe_t *p,
    pdf_report_op_t **ops, size_t n, char *buf);
static int pdf_report_pg_key_cmp(const void *a, const void *b);
static int pdf_report_pg_batch_once(pdf_report_pg_t *pg,
    pdf_report_op_t **ops, size_t n, const pdf_report_scan_t *scan,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res);


/* ---- step 1 ---- */

int
pdf_report_pg_rate_hit(pdf_report_pg_t *pg, const char *org,
    int64_t now_ms, int64_t period_ms, unsigned limit,
    pdf_report_rate_t *rate)
{
    int                    rc;
    char                   key[PDF_REPORT_PG_NUM];
    const char            *vals[1];
    pdf_report_pg_conn_t  *c;
    pdf_report_pg_pipe_t   p;
    pdf_report_pg_step1_t  a;

    memset(rate, 0, sizeof(pdf_report_rate_t));
    rate->limit = limit;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_pg_pipe_begin(&p, c, 4);
    if (rc != 0) {
        pdf_report_pg_release(pg, c);
        return rc;
    }

    pdf_report_pg_num(key, pdf_report_pg_lock_key("org", org, strlen(org)));
    vals[0] = key;

    pdf_report_pg_step1_args(&a, org, NULL, NULL, 0, now_ms, period_ms,
                             (long) limit, 0);

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_LOCK, 1, vals);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_STEP1, 8, a.values);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    if (rc == 0) {
        rc = pdf_report_pg_step1_result(p.res[2], now_ms, period_ms, limit,
                                        1, 0, rate, NULL);

        /* a refusal is an answer of its own here */
        if (rc == PDF_REPORT_STORE_LIMITED) {
            rc = 0;
        }
    }

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);

    if (rc != 0) {
        rate->allowed = 0;
    }

    return rc;
}


/*
 * The create takes the org's lock too: a conflict on the pending index
 * then always finds the pending job in the statement's snapshot.
 */

int
pdf_report_pg_job_create(pdf_report_pg_t *pg, pdf_report_job_t *job,
    char *pending_id)
{
    int                    rc;
    char                   key[PDF_REPORT_PG_NUM];
    const char            *vals[1];
    pdf_report_pg_conn_t  *c;
    pdf_report_pg_pipe_t   p;
    pdf_report_pg_step1_t  a;

    if (!pdf_report_is_uuid(job->id, strlen(job->id))) {
        pdf_report_pg_set_error("a job id that is no UUID");
        return PDF_REPORT_PG_ERROR;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_pg_pipe_begin(&p, c, 4);
    if (rc != 0) {
        pdf_report_pg_release(pg, c);
        return rc;
    }

    pdf_report_pg_num(key, pdf_report_pg_lock_key("org", job->org,
                                                  strlen(job->org)));
    vals[0] = key;

    pdf_report_pg_step1_args(&a, job->org, job->user, job->id,
                             job->created_ms, job->created_ms, 0, -1, 1);

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_LOCK, 1, vals);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_STEP1, 8, a.values);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    if (rc == 0) {
        rc = pdf_report_pg_step1_result(p.res[2], job->created_ms, 0, 0, 0,
                                        1, NULL, pending_id);
    }

    if (rc == 0) {
        job->status = PDF_REPORT_PENDING;
        job->flags = 0;
        job->updated_ms = job->created_ms;
    }

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);

    return rc;
}


static void
pdf_report_pg_step1_args(pdf_report_pg_step1_t *a, const char *org,
    const char *user, const char *id, int64_t created_ms, int64_t now_ms,
    int64_t period_ms, long limit, int create)
{
    pdf_report_pg_num(a->now, now_ms);
    pdf_report_pg_num(a->cutoff, now_ms - period_ms);
    pdf_report_pg_num(a->created, created_ms);
    pdf_report_pg_num(a->limit, limit);

    a->values[0] = org;
    a->values[1] = create ? user : NULL;
    a->values[2] = create ? id : NULL;
    a->values[3] = a->created;
    a->values[4] = a->now;
    a->values[5] = a->cutoff;
    a->values[6] = a->limit;
    a->values[7] = create ? "t" : "f";
}


/*
 * The answer of one PDF_REPORT_PG_STEP1 row, as pdf_report_rate_txn()
 * and pdf_report_create_txn() give it: 0, LIMITED (the hit was refused,
 * nothing created) or EXISTS (with the pending job's id).
 */

static int
pdf_report_pg_step1_result(PGresult *r, int64_t now_ms, int64_t period_ms,
    unsigned limit, int counted, int create, pdf_report_rate_t *rate,
    char *pending)
{
    int64_t   count, oldest;
    unsigned  allowed;

    if (r == NULL || PQntuples(r) != 1 || PQnfields(r) != 6) {
        pdf_report_pg_set_error("an unexpected answer to step 1");
        return PDF_REPORT_PG_ERROR;
    }

    allowed = (strcmp(PQgetvalue(r, 0, 2), "t") == 0);

    if (counted) {
        count = pdf_report_pg_int(r, 0, 0);
        oldest = PQgetisnull(r, 0, 1) ? now_ms : pdf_report_pg_int(r, 0, 1);

        rate->allowed = allowed;
        rate->limit = limit;
        rate->remaining = allowed ? (unsigned) (limit - count - 1) : 0;
        rate->reset_s = (unsigned) ((oldest + period_ms - now_ms + 999)
                                    / 1000);

        if (!allowed && rate->reset_s == 0) {
            rate->reset_s = 1;
        }

        if (!allowed) {
            return PDF_REPORT_STORE_LIMITED;
        }
    }

    if (!create || pdf_report_pg_int(r, 0, 3) == 1) {
        return 0;
    }

    if (PQgetisnull(r, 0, 5)) {
        /* not created and nothing pending: cannot happen under the lock */
        pdf_report_pg_set_error("a create refused without a pending job");
        return PDF_REPORT_PG_ERROR;
    }

    snprintf(pending, PDF_REPORT_UUID_LEN + 1, "%s", PQgetvalue(r, 0, 5));

    return PDF_REPORT_STORE_EXISTS;
}


/* ---- steps 2 and 3 ---- */

int
pdf_report_pg_job_get(pdf_report_pg_t *pg, const char *id,
    pdf_report_job_t *job)
{
    int  rc;

    rc = pdf_report_pg_job_read(pg, id, job);

    /* revoked: gone for the API at once, whatever is left to delete */
    if (rc == 0 && (job->flags & PDF_REPORT_JOB_ERASED)) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    return rc;
}


int
pdf_report_pg_job_record(pdf_report_pg_t *pg, const char *id,
    pdf_report_job_t *job)
{
    return pdf_report_pg_job_read(pg, id, job);
}


static int
pdf_report_pg_job_read(pdf_report_pg_t *pg, const char *id,
    pdf_report_job_t *job)
{
    int                    rc;
    PGresult              *r;
    const char            *vals[1];
    pdf_report_pg_conn_t  *c;

    /* no UUID is no job (and no query the server would refuse) */
    if (!pdf_report_is_uuid(id, strlen(id))) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    vals[0] = id;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_JOB_GET, 1, vals);

    if (!pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = pdf_report_pg_failed(c, r);

    } else {
        if (PQntuples(r) == 1) {
            pdf_report_pg_job_of(r, 0, 0, job);

        } else {
            rc = PDF_REPORT_STORE_NOT_FOUND;
        }

        PQclear(r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


/* ---- processing ---- */

int
pdf_report_pg_scan(pdf_report_pg_t *pg, const pdf_report_scan_t *scan,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res)
{
    int                        rc;
    pdf_report_pg_conn_t      *c;
    pdf_report_pg_pipe_t       p;
    pdf_report_pg_scan_args_t  a;

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    rc = pdf_report_pg_scan_args(&a, scan);
    a.fail[4] = pg->hook_orgs;
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);

    if (rc == 0) {
        rc = pdf_report_pg_pipe_begin(&p, c, 5);

        if (rc == 0) {
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);
            pdf_report_pg_scan_send(&p, &a);
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

            rc = pdf_report_pg_pipe_end(&p);

            if (rc == 0) {
                pdf_report_pg_scan_result(&p.res[1], claims, res);
            }

            pdf_report_pg_pipe_free(&p);
        }

        pdf_report_pg_release(pg, c);
    }

    free(a.tokens);

    return rc;
}


/* the parameters of a pass, a random lease token for each claim */

static int
pdf_report_pg_scan_args(pdf_report_pg_scan_args_t *a,
    const pdf_report_scan_t *scan)
{
    size_t    i, n;
    uint64_t  token;

    pdf_report_pg_num(a->now, scan->now_ms);
    pdf_report_pg_num(a->cutoff, scan->now_ms - scan->timeout_ms);
    pdf_report_pg_num(a->attempts, scan->max_attempts);
    pdf_report_pg_num(a->claims, scan->max_claims);
    pdf_report_pg_num(a->until, scan->now_ms + scan->lease_ms);

    snprintf(a->msg, sizeof(a->msg),
             "The report was not finished within %lld seconds.",
             (long long) (scan->timeout_ms / 1000));

    /* "{" and "}" and the NUL around the tokens */
    a->tokens = malloc(3 + (size_t) scan->max_claims * PDF_REPORT_PG_NUM);
    if (a->tokens == NULL) {
        pdf_report_pg_set_error("out of memory");
        return PDF_REPORT_PG_ERROR;
    }

    n = 0;
    a->tokens[n++] = '{';

    for (i = 0; i < scan->max_claims; i++) {
        if (RAND_bytes((unsigned char *) &token, sizeof(token)) != 1) {
            free(a->tokens);
            a->tokens = NULL;
            pdf_report_pg_set_error("no randomness for a lease token");
            return PDF_REPORT_PG_ERROR;
        }

        token |= 1;     /* never 0, the "no lease" value */

        n += snprintf(a->tokens + n, PDF_REPORT_PG_NUM, "%s%lld",
                      i ? "," : "", (long long) (int64_t) token);
    }

    a->tokens[n++] = '}';
    a->tokens[n] = '\0';

    a->fail[0] = a->now;
    a->fail[1] = a->cutoff;
    a->fail[2] = a->attempts;
    a->fail[3] = a->msg;

    a->claim[0] = a->now;
    a->claim[1] = a->cutoff;
    a->claim[2] = a->attempts;
    a->claim[3] = a->claims;
    a->claim[4] = a->until;
    a->claim[5] = a->tokens;

    return 0;
}


static void
pdf_report_pg_scan_send(pdf_report_pg_pipe_t *p,
    pdf_report_pg_scan_args_t *a)
{
    pdf_report_pg_pipe_send(p, PDF_REPORT_PG_SCAN_FAIL, 5, a->fail);
    pdf_report_pg_pipe_send(p, PDF_REPORT_PG_SCAN_CLAIM, 6, a->claim);
    pdf_report_pg_pipe_send(p, PDF_REPORT_PG_SCAN_WAIT, 3, a->claim);
}


/* r: the results of the three statements of a pass */

static void
pdf_report_pg_scan_result(PGresult **r, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int                     i, timed_out;
    pdf_report_scan_end_t  *end;

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    for (i = 0; i < PQntuples(r[0]); i++) {
        timed_out = (strcmp(PQgetvalue(r[0], i, 2), "t") == 0);

        res->failed++;
        res->timed_out += timed_out;

        if (res->ended < PDF_REPORT_SCAN_ENDED_MAX) {
            end = &res->end[res->ended++];
            snprintf(end->id, sizeof(end->id), "%s", PQgetvalue(r[0], i, 0));
            snprintf(end->org, sizeof(end->org), "%s",
                     PQgetvalue(r[0], i, 1));
            end->timed_out = timed_out;
        }
    }

    for (i = 0; i < PQntuples(r[1]); i++) {
        pdf_report_pg_job_of(r[1], i, 0, &claims[res->claimed++]);
    }

    res->waiting = (PQntuples(r[2]) == 1
                    && strcmp(PQgetvalue(r[2], 0, 0), "t") == 0);
}


int
pdf_report_pg_job_renew(pdf_report_pg_t *pg, const char *id,
    uint64_t token, int64_t now_ms, int64_t lease_ms)
{
    int                    rc;
    char                   tok[PDF_REPORT_PG_NUM], until[PDF_REPORT_PG_NUM];
    PGresult              *r;
    const char            *vals[3];
    pdf_report_pg_conn_t  *c;

    if (!pdf_report_is_uuid(id, strlen(id))) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_num(tok, (int64_t) token);
    pdf_report_pg_num(until, now_ms + lease_ms);

    vals[0] = id;
    vals[1] = tok;
    vals[2] = until;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_RENEW, 3, vals);

    rc = pdf_report_pg_ok(r, PGRES_TUPLES_OK) ? pdf_report_pg_same_job(r)
                                              : pdf_report_pg_failed(c, r);

    pdf_report_pg_release(pg, c);

    return rc;
}


int
pdf_report_pg_job_finish(pdf_report_pg_t *pg, const pdf_report_job_t *done,
    uint64_t token, int64_t now_ms)
{
    int                    rc;
    char                   tok[PDF_REPORT_PG_NUM], now[PDF_REPORT_PG_NUM];
    char                   status[PDF_REPORT_PG_NUM], size[PDF_REPORT_PG_NUM];
    char                   dur[PDF_REPORT_PG_NUM];
    char                   sha[PDF_REPORT_SHA256_HEX + 1];
    PGresult              *r;
    const char            *vals[11];
    pdf_report_pg_conn_t  *c;

    if (!pdf_report_is_uuid(done->id, strlen(done->id))) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_num(tok, (int64_t) token);
    pdf_report_pg_num(now, now_ms);
    pdf_report_pg_num(status, done->status);
    pdf_report_pg_num(size, (int64_t) done->size_bytes);
    pdf_report_pg_num(dur, done->duration_ms);
    pdf_report_hex(sha, done->sha256, PDF_REPORT_SHA256_LEN);
    sha[PDF_REPORT_SHA256_HEX] = '\0';

    vals[0] = done->id;
    vals[1] = tok;
    vals[2] = now;
    vals[3] = status;
    vals[4] = size;
    vals[5] = dur;
    vals[6] = sha;
    vals[7] = done->template_version;
    vals[8] = done->error_code;
    vals[9] = done->error_message;
    vals[10] = pg->hook_orgs;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_FINISH, 11, vals);

    rc = pdf_report_pg_ok(r, PGRES_TUPLES_OK) ? pdf_report_pg_same_job(r)
                                              : pdf_report_pg_failed(c, r);

    pdf_report_pg_release(pg, c);

    return rc;
}


int
pdf_report_pg_job_release(pdf_report_pg_t *pg, const char *id,
    uint64_t token, int64_t now_ms)
{
    int                    rc;
    char                   tok[PDF_REPORT_PG_NUM], now[PDF_REPORT_PG_NUM];
    PGresult              *r;
    const char            *vals[3];
    pdf_report_pg_conn_t  *c;

    if (!pdf_report_is_uuid(id, strlen(id))) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_num(tok, (int64_t) token);
    pdf_report_pg_num(now, now_ms);

    vals[0] = id;
    vals[1] = tok;
    vals[2] = now;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_RELEASE, 3, vals);

    rc = pdf_report_pg_ok(r, PGRES_TUPLES_OK) ? pdf_report_pg_same_job(r)
                                              : pdf_report_pg_failed(c, r);

    pdf_report_pg_release(pg, c);

    return rc;
}


/* (updated, exists): 0, LOST (not ours) or NOT_FOUND; clears r */

static int
pdf_report_pg_same_job(PGresult *r)
{
    int  rc;

    if (PQntuples(r) != 1) {
        rc = PDF_REPORT_PG_ERROR;

    } else if (pdf_report_pg_int(r, 0, 0) == 1) {
        rc = 0;

    } else {
        rc = (strcmp(PQgetvalue(r, 0, 1), "t") == 0)
             ? PDF_REPORT_STORE_LOST : PDF_REPORT_STORE_NOT_FOUND;
    }

    PQclear(r);

    return rc;
}


/*
 * A batch that the server chose as a deadlock's victim (a directory
 * load erasing jobs of the same users holds rows the other way round),
 * or failed for serialization, wrote nothing: it runs once more.
 */

int
pdf_report_pg_batch(pdf_report_pg_t *pg, pdf_report_op_t **ops, size_t n,
    const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int  rc;

    rc = pdf_report_pg_batch_once(pg, ops, n, scan, claims, res);

    if (rc == PDF_REPORT_PG_ERROR
        && (strncmp(pdf_report_pg_error(), "40P01", 5) == 0
            || strncmp(pdf_report_pg_error(), "40001", 5) == 0))
    {
        rc = pdf_report_pg_batch_once(pg, ops, n, scan, claims, res);
    }

    return rc;
}


/*
 * Group commit: BEGIN, the locks of the batch's orgs (sorted, so that
 * two edges' batches take them in one order and never deadlock), one
 * statement per operation, the scan, COMMIT; sent at once, answered in
 * one round trip.
 */

static int
pdf_report_pg_batch_once(pdf_report_pg_t *pg, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int                         rc, counted;
    size_t                      i, first;
    char                        (*keys)[PDF_REPORT_PG_NUM];
    char                       *args;
    const char                 *vals[3];
    pdf_report_op_t            *op;
    pdf_report_pg_conn_t       *c;
    pdf_report_pg_pipe_t        p;
    pdf_report_pg_step1_t      *a;
    pdf_report_pg_scan_args_t   sa;
    pdf_report_scan_result_t    none;

    if (res == NULL) {
        res = &none;
    }

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    sa.tokens = NULL;
    c = NULL;

    /* per operation: its lock key, and its statement's parameters */
    keys = malloc((n + 1) * PDF_REPORT_PG_NUM);
    args = malloc((n + 1) * sizeof(pdf_report_pg_step1_t));

    if (keys == NULL || args == NULL) {
        pdf_report_pg_set_error("out of memory");
        rc = PDF_REPORT_PG_ERROR;
        goto failed;
    }

    a = (pdf_report_pg_step1_t *) args;

    if (scan != NULL) {
        rc = pdf_report_pg_scan_args(&sa, scan);
        sa.fail[4] = pg->hook_orgs;
        if (rc != 0) {
            goto failed;
        }
    }

    for (i = 0; i < n; i++) {
        op = ops[i];
        op->rc = 0;
        op->pending[0] = '\0';

        if (op->kind == PDF_REPORT_OP_RELEASE) {
            continue;
        }

        if (op->kind == PDF_REPORT_OP_CREATE) {
            if (pdf_report_uuid4(op->job.id) != 0) {
                pdf_report_pg_set_error("no randomness for a job id");
                rc = PDF_REPORT_PG_ERROR;
                goto failed;
            }

            op->job.id[PDF_REPORT_UUID_LEN] = '\0';
        }

        counted = (op->kind == PDF_REPORT_OP_RATE || op->rate);

        pdf_report_pg_step1_args(&a[i], op->job.org, op->job.user,
                                 op->job.id, op->job.created_ms, op->now_ms,
                                 op->period_ms,
                                 counted ? (long) op->limit : -1,
                                 op->kind == PDF_REPORT_OP_CREATE);
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        goto failed;
    }

    rc = pdf_report_pg_pipe_begin(&p, c, 2 * n + 8);
    if (rc != 0) {
        goto failed;
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);

    first = 1 + pdf_report_pg_lock_orgs(&p, ops, n, (char *) keys);

    for (i = 0; i < n; i++) {
        op = ops[i];

        if (op->kind == PDF_REPORT_OP_RELEASE) {
            pdf_report_pg_num(a[i].now, op->now_ms);
            pdf_report_pg_num(a[i].limit, (int64_t) op->job.lease_token);

            vals[0] = op->job.id;
            vals[1] = a[i].limit;
            vals[2] = a[i].now;

            /* a malformed id answers NOT_FOUND, not an error */
            if (!pdf_report_is_uuid(op->job.id, strlen(op->job.id))) {
                vals[0] = "00000000-0000-0000-0000-000000000000";
            }

            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_RELEASE, 3, vals);
            continue;
        }

        pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_STEP1, 8, a[i].values);
    }

    if (scan != NULL) {
        pdf_report_pg_scan_send(&p, &sa);
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    if (rc != 0) {
        pdf_report_pg_pipe_free(&p);
        goto failed;
    }

    for (i = 0; i < n; i++) {
        op = ops[i];

        if (op->kind == PDF_REPORT_OP_RELEASE) {
            op->rc = pdf_report_pg_same_job(p.res[first + i]);
            p.res[first + i] = NULL;
            continue;
        }

        counted = (op->kind == PDF_REPORT_OP_RATE || op->rate);

        op->rc = pdf_report_pg_step1_result(p.res[first + i], op->now_ms,
                                            op->period_ms, op->limit,
                                            counted,
                                            op->kind == PDF_REPORT_OP_CREATE,
                                            &op->rate_result, op->pending);

        if (op->rc == 0 && op->kind == PDF_REPORT_OP_CREATE) {
            op->job.status = PDF_REPORT_PENDING;
            op->job.flags = 0;
            op->job.updated_ms = op->job.created_ms;
        }
    }

    if (scan != NULL) {
        pdf_report_pg_scan_result(&p.res[first + n], claims, res);
    }

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);

    free(sa.tokens);
    free(keys);
    free(args);

    return 0;

failed:

    /* nothing of the batch was written: every operation fails with rc */
    for (i = 0; i < n; i++) {
        ops[i]->rc = rc;
        ops[i]->rate_result.allowed = 0;
    }

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    if (c != NULL) {
        pdf_report_pg_release(pg, c);
    }

    free(sa.tokens);
    free(keys);
    free(args);

    return rc;
}


/*
 * The locks of the batch's orgs in one statement (one statement an org
 * cost the server as much as the create itself): the keys sorted and
 * sent as an array, taken in its order.  1 when it was sent, 0 when the
 * batch has no org.
 */

static int
pdf_report_pg_lock_orgs(pdf_report_pg_pipe_t *p, pdf_report_op_t **ops,
    size_t n, char *buf)
{
    size_t       i, k, nkeys, len;
    int64_t     *ks;
    const char  *vals[1];

    ks = (int64_t *) malloc((n + 1) * sizeof(int64_t));
    if (ks == NULL) {
        p->rc = PDF_REPORT_PG_ERROR;
        pdf_report_pg_set_error("out of memory");
        return 0;
    }

    nkeys = 0;

    for (i = 0; i < n; i++) {
        if (ops[i]->kind != PDF_REPORT_OP_RELEASE) {
            ks[nkeys++] = pdf_report_pg_lock_key("org", ops[i]->job.org,
                                                 strlen(ops[i]->job.org));
        }
    }

    qsort(ks, nkeys, sizeof(int64_t), pdf_report_pg_key_cmp);

    len = 0;
    buf[len++] = '{';

    for (i = 0, k = 0; i < nkeys; i++) {
        if (k > 0 && ks[i] == ks[k - 1]) {
            continue;
        }

        ks[k++] = ks[i];

        /* (n + 1) * PDF_REPORT_PG_NUM bytes hold n keys, "{", "}" */
        len += snprintf(buf + len, PDF_REPORT_PG_NUM, "%s%lld",
                        (k > 1) ? "," : "", (long long) ks[i]);
    }

    buf[len++] = '}';
    buf[len] = '\0';

    free(ks);

    if (k == 0) {
        return 0;
    }

    vals[0] = buf;
    pdf_report_pg_pipe_send(p, PDF_REPORT_PG_LOCKS, 1, vals);

    return 1;
}


static int
pdf_report_pg_key_cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


int
pdf_report_pg_jobs_count(pdf_report_pg_t *pg, size_t *pending,
    size_t *running)
{
    int                    rc;
    PGresult              *r;
    pdf_report_pg_conn_t  *c;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_COUNT, 0, NULL);

    if (pdf_report_pg_ok(r, PGRES_TUPLES_OK) && PQntuples(r) == 1) {
        *pending = (size_t) pdf_report_pg_int(r, 0, 0);
        *running = (size_t) pdf_report_pg_int(r, 0, 1);
        PQclear(r);

    } else {
        rc = pdf_report_pg_failed(c, r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


/* the text of an imported job's numbers and hash, until it is sent */
typedef struct {
    char          num[10][PDF_REPORT_PG_NUM];
    char          sha[PDF_REPORT_SHA256_HEX + 1];
} pdf_report_pg_import_t;


int
pdf_report_pg_jobs_import(pdf_report_pg_t *pg, const pdf_report_job_t *jobs,
    size_t n)
{
    int                      rc;
    size_t                   i, k;
    int64_t                  v[10];
    const char              *vals[17];
    const pdf_report_job_t  *job;
    pdf_report_pg_conn_t    *c;
    pdf_report_pg_pipe_t     pp;
    pdf_report_pg_import_t  *args;

    for (i = 0; i < n; i++) {
        if ((jobs[i].status != PDF_REPORT_COMPLETE
             && jobs[i].status != PDF_REPORT_FAILED)
            || !pdf_report_is_uuid(jobs[i].id, strlen(jobs[i].id)))
        {
            return EINVAL;
        }
    }

    args = malloc((n + 1) * sizeof(pdf_report_pg_import_t));
    if (args == NULL) {
        return ENOMEM;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        free(args);
        return rc;
    }

    rc = pdf_report_pg_pipe_begin(&pp, c, n + 2);
    if (rc != 0) {
        pdf_report_pg_release(pg, c);
        free(args);
        return rc;
    }

    pdf_report_pg_pipe_send(&pp, PDF_REPORT_PG_BEGIN, 0, NULL);

    for (i = 0; i < n; i++) {
        job = &jobs[i];

        v[0] = job->status;
        v[1] = job->flags;
        v[2] = job->attempts;
        v[3] = job->created_ms;
        v[4] = job->updated_ms;
        v[5] = job->completed_ms;
        v[6] = job->generated_ms;
        v[7] = job->claimed_ms;
        v[8] = (int64_t) job->size_bytes;
        v[9] = job->duration_ms;

        vals[0] = job->id;
        vals[1] = job->org;
        vals[2] = job->user;

        for (k = 0; k < 10; k++) {
            pdf_report_pg_num(args[i].num[k], v[k]);
            vals[3 + k] = args[i].num[k];
        }

        pdf_report_hex(args[i].sha, job->sha256, PDF_REPORT_SHA256_LEN);
        args[i].sha[PDF_REPORT_SHA256_HEX] = '\0';

        vals[13] = args[i].sha;
        vals[14] = job->template_version;
        vals[15] = job->error_code;
        vals[16] = job->error_message;

        pdf_report_pg_pipe_send(&pp, PDF_REPORT_PG_IMPORT, 17, vals);
    }

    pdf_report_pg_pipe_send(&pp, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&pp);

    /* an id taken (unique_violation): nothing was written */
    if (rc == PDF_REPORT_PG_ERROR
        && strncmp(pdf_report_pg_error(), "23505", 5) == 0)
    {
        rc = PDF_REPORT_STORE_EXISTS;
    }

    pdf_report_pg_pipe_free(&pp);
    pdf_report_pg_release(pg, c);
    free(args);

    return rc;
}


int
pdf_report_pg_usage(pdf_report_pg_t *pg, size_t *used)
{
    int                    rc;
    PGresult              *r;
    pdf_report_pg_conn_t  *c;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_USAGE, 0, NULL);

    if (pdf_report_pg_ok(r, PGRES_TUPLES_OK) && PQntuples(r) == 1) {
        *used = (size_t) pdf_report_pg_int(r, 0, 0);
        PQclear(r);

    } else {
        rc = pdf_report_pg_failed(c, r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


/* ---- lifecycle ---- */

int
pdf_report_pg_purge_due(pdf_report_pg_t *pg, int64_t now_ms,
    int64_t retention_ms)
{
    int                    rc;
    char                   now[PDF_REPORT_PG_NUM], cut[PDF_REPORT_PG_NUM];
    PGresult              *r;
    const char            *vals[2];
    pdf_report_pg_conn_t  *c;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_num(now, now_ms);
    pdf_report_pg_num(cut, retention_ms < 0 ? INT64_MIN
                                            : now_ms - retention_ms);
    vals[0] = now;
    vals[1] = cut;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_PURGE_DUE, 2, vals);

    if (pdf_report_pg_ok(r, PGRES_TUPLES_OK) && PQntuples(r) == 1) {
        rc = (strcmp(PQgetvalue(r, 0, 0), "t") == 0);
        PQclear(r);

    } else {
        rc = pdf_report_pg_failed(c, r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


int
pdf_report_pg_purge_take(pdf_report_pg_t *pg, int64_t now_ms,
    int64_t retention_ms, int64_t lease_ms, pdf_report_purge_t *items,
    size_t max, size_t *n, unsigned *more)
{
    int                    rc, i, take;
    char                   now[PDF_REPORT_PG_NUM], cut[PDF_REPORT_PG_NUM];
    char                   lim[PDF_REPORT_PG_NUM], until[PDF_REPORT_PG_NUM];
    char                   rlim[PDF_REPORT_PG_NUM];
    PGresult              *r;
    const char            *vals[5];
    pdf_report_purge_t    *it;
    pdf_report_pg_conn_t  *c;
    pdf_report_pg_pipe_t   p;

    *n = 0;
    *more = 0;

    if (max > PDF_REPORT_PG_PURGE_BATCH) {
        max = PDF_REPORT_PG_PURGE_BATCH;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_pg_pipe_begin(&p, c, 5);
    if (rc != 0) {
        pdf_report_pg_release(pg, c);
        return rc;
    }

    pdf_report_pg_num(now, now_ms);
    pdf_report_pg_num(cut, retention_ms < 0 ? INT64_MIN
                                            : now_ms - retention_ms);
    pdf_report_pg_num(lim, (int64_t) max);
    pdf_report_pg_num(rlim, PDF_REPORT_PG_REVOKED_BATCH);
    pdf_report_pg_num(until, now_ms + lease_ms);

    vals[0] = now;
    vals[1] = cut;
    vals[2] = lim;

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);

    /* revocations that other systems wrote to the directory table */
    vals[1] = pg->erase_on_revoke ? "t" : "f";
    vals[2] = rlim;
    vals[3] = pg->hook_orgs;
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_PURGE_REVOKED, 4, vals);
    vals[1] = cut;
    vals[2] = lim;

    take = 2;

    if (retention_ms >= 0) {
        pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_PURGE_RETAIN, 3, vals);
        take = 3;
    }

    vals[3] = until;

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_PURGE_TAKE, 4, vals);
    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    if (rc == 0) {
        if (pdf_report_pg_int(p.res[1], 0, 0) == PDF_REPORT_PG_REVOKED_BATCH
            || (take == 3 && (size_t) pdf_report_pg_int(p.res[2], 0, 0)
                             > max))
        {
            *more = 1;
        }

        r = p.res[take];

        for (i = 0; i < PQntuples(r); i++) {
            if ((size_t) pdf_report_pg_int(r, i, 5) > max) {
                *more = 1;
            }

            if (PQgetisnull(r, i, 0)) {
                continue;
            }

            it = &items[(*n)++];

            memset(it, 0, sizeof(pdf_report_purge_t));
            snprintf(it->id, sizeof(it->id), "%s", PQgetvalue(r, i, 0));
            snprintf(it->org, sizeof(it->org), "%s", PQgetvalue(r, i, 1));
            it->attempts = (uint32_t) pdf_report_pg_int(r, i, 2);
            it->erased = (pdf_report_pg_int(r, i, 3)
                          & PDF_REPORT_JOB_ERASED) ? 1 : 0;
            it->cut_short = (pdf_report_pg_int(r, i, 3)
                             & PDF_REPORT_JOB_CUT_SHORT) ? 1 : 0;
            it->created_ms = pdf_report_pg_int(r, i, 4);
            it->lease_ms = now_ms + lease_ms;
        }
    }

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);

    return rc;
}


int
pdf_report_pg_purge_done(pdf_report_pg_t *pg,
    const pdf_report_purge_t *items, size_t n, unsigned *retention,
    unsigned *revoked)
{
    int                        rc;
    size_t                     i;
    char                      *nums;
    const char                *vals[4];
    const pdf_report_purge_t  *it;
    pdf_report_pg_conn_t      *c;
    pdf_report_pg_pipe_t       p;

    *retention = 0;
    *revoked = 0;

    if (n == 0) {
        return 0;
    }

    nums = malloc(n * 2 * PDF_REPORT_PG_NUM);
    if (nums == NULL) {
        pdf_report_pg_set_error("out of memory");
        return PDF_REPORT_PG_ERROR;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        free(nums);
        return rc;
    }

    rc = pdf_report_pg_pipe_begin(&p, c, n + 2);
    if (rc != 0) {
        pdf_report_pg_release(pg, c);
        free(nums);
        return rc;
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);

    for (i = 0; i < n; i++) {
        it = &items[i];

        pdf_report_pg_num(nums + 2 * i * PDF_REPORT_PG_NUM, it->lease_ms);
        pdf_report_pg_num(nums + (2 * i + 1) * PDF_REPORT_PG_NUM,
                          it->next_ms);

        vals[0] = pdf_report_is_uuid(it->id, strlen(it->id))
                  ? it->id : "00000000-0000-0000-0000-000000000000";
        vals[1] = nums + 2 * i * PDF_REPORT_PG_NUM;
        vals[2] = nums + (2 * i + 1) * PDF_REPORT_PG_NUM;
        vals[3] = (it->outcome == PDF_REPORT_PURGE_FAILED) ? "1" : "0";

        if (it->outcome == PDF_REPORT_PURGE_GONE) {
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_PURGE_GONE, 2, vals);

        } else {
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_PURGE_AGAIN, 4, vals);
        }
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    for (i = 0; rc == 0 && i < n; i++) {
        /* a lease taken over meanwhile: left to its new pass */
        if (items[i].outcome != PDF_REPORT_PURGE_GONE
            || PQntuples(p.res[1 + i]) != 1)
        {
            continue;
        }

        if (pdf_report_pg_int(p.res[1 + i], 0, 0) & PDF_REPORT_JOB_ERASED) {
            (*revoked)++;

        } else {
            (*retention)++;
        }
    }

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);
    free(nums);

    return rc;
}


void
pdf_report_pg_num(char *buf, int64_t v)
{
    snprintf(buf, PDF_REPORT_PG_NUM, "%lld", (long long) v);
}


/*
 * The step-1 statement of op in a pipeline of another file's transaction
 * (pdf_report_pg_idem.c), the org's lock held: args, of
 * pdf_report_pg_step1_size bytes, live until the pipeline ends; create
 * says whether the operation creates (a CREATE whose key was not used
 * yet) or only counts.  With idem (the six values $9 to $14 of
 * PDF_REPORT_PG_STEP1_IDEM), the statement also records the answer
 * under the key.  0, or an error that sent nothing.
 */

const size_t  pdf_report_pg_step1_size = sizeof(pdf_report_pg_step1_t);


int
pdf_report_pg_step1_send(pdf_report_pg_pipe_t *p, pdf_report_op_t *op,
    int create, void *args, const char *const *idem)
{
    size_t                  i;
    const char             *values[14];
    pdf_report_pg_step1_t  *a = args;

    if (create) {
        if (pdf_report_uuid4(op->job.id) != 0) {
            pdf_report_pg_set_error("no randomness for a job id");
            return PDF_REPORT_PG_ERROR;
        }

        op->job.id[PDF_REPORT_UUID_LEN] = '\0';
    }

    pdf_report_pg_step1_args(a, op->job.org, op->job.user, op->job.id,
                             op->job.created_ms, op->now_ms, op->period_ms,
                             op->rate ? (long) op->limit : -1, create);

    if (idem == NULL) {
        pdf_report_pg_pipe_send(p, PDF_REPORT_PG_STEP1, 8, a->values);
        return 0;
    }

    for (i = 0; i < 8; i++) {
        values[i] = a->values[i];
    }

    for (i = 0; i < 6; i++) {
        values[8 + i] = idem[i];
    }

    pdf_report_pg_pipe_send(p, PDF_REPORT_PG_STEP1_IDEM, 14, values);

    return 0;
}


/* its row: op->rc, rate_result and pending as a batch gives them */

void
pdf_report_pg_step1_read(PGresult *r, pdf_report_op_t *op, int create)
{
    op->rc = pdf_report_pg_step1_result(r, op->now_ms, op->period_ms,
                                        op->limit, op->rate, create,
                                        &op->rate_result, op->pending);

    if (op->rc == 0 && create) {
        op->job.status = PDF_REPORT_PENDING;
        op->job.flags = 0;
        op->job.updated_ms = op->job.created_ms;
    }
}


/*
 * A scan pass in another file's pipeline and transaction
 * (pdf_report_pg_idem.c): its three statements sent into p; NULL (and
 * p->rc set) when they could not be.  _finish() reads their results
 * (r NULL: the pipeline failed, nothing claimed) and frees the state.
 */

void *
pdf_report_pg_scan_start(pdf_report_pg_t *pg, pdf_report_pg_pipe_t *p,
    const pdf_report_scan_t *scan)
{
    pdf_report_pg_scan_args_t  *a;

    a = malloc(sizeof(pdf_report_pg_scan_args_t));
    if (a == NULL) {
        pdf_report_pg_set_error("out of memory");
        p->rc = PDF_REPORT_PG_ERROR;
        return NULL;
    }

    if (pdf_report_pg_scan_args(a, scan) != 0) {
        free(a);
        p->rc = PDF_REPORT_PG_ERROR;
        return NULL;
    }

    a->fail[4] = pg->hook_orgs;

    pdf_report_pg_scan_send(p, a);

    return a;
}


void
pdf_report_pg_scan_finish(void *args, PGresult **r,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res)
{
    pdf_report_pg_scan_args_t  *a = args;

    if (r != NULL) {
        pdf_report_pg_scan_result(r, claims, res);

    } else {
        memset(res, 0, sizeof(pdf_report_scan_result_t));
    }

    if (a != NULL) {
        free(a->tokens);
        free(a);
    }
}
