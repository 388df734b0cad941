
/*
 * Idempotency-Key in the PostgreSQL store (pdf_report_pg.h): the table
 * pdf_report_idempotency, one row per (org, key).  The keyed step-1
 * operations of a batch are a transaction of their own under their
 * orgs' advisory locks, the locks every step-1 write of those orgs
 * takes on every edge: the keys looked up, then the rate-limit hits and
 * the jobs, each statement recording its answer under its key, all
 * committed together.  Two requests of one key on two edges thus never
 * both create: the second finds the first's row.  Two pipelined round
 * trips and one commit a batch, beside the batch of the operations
 * without a key.  No nginx API.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "pdf_report_pg.h"
#include "pdf_report_pg_int.h"


#define PDF_REPORT_PG_IDEM_NUM  24


/* oldest first, a bounded batch; rows another edge deletes are its own */
static const char  pdf_report_pg_idem_delete[] =
    "DELETE FROM pdf_report_idempotency i USING"
    " (SELECT org, key FROM pdf_report_idempotency"
    "  WHERE expires_ms <= $1::bigint ORDER BY expires_ms LIMIT $2::int"
    "  FOR UPDATE SKIP LOCKED) d"
    " WHERE i.org = d.org AND i.key = d.key";


/* what the second round trip sent for an operation */
#define PDF_REPORT_PG_IDEM_SENT_NONE   0
#define PDF_REPORT_PG_IDEM_SENT_STEP1  1     /* STEP1 or STEP1_IDEM */
#define PDF_REPORT_PG_IDEM_SENT_PUT    2     /* the answer only */


/* per operation: the values of the key's record, as text */
typedef struct {
    char         sha[PDF_REPORT_SHA256_HEX + 1];
    char         status[PDF_REPORT_PG_IDEM_NUM];
    char         created[PDF_REPORT_PG_IDEM_NUM];
    char         expires[PDF_REPORT_PG_IDEM_NUM];
    const char  *put[10];      /* PDF_REPORT_PG_IDEM_PUT's */
    const char  *step1[6];     /* $9 to $14 of PDF_REPORT_PG_STEP1_IDEM */
} pdf_report_pg_idem_args_t;


static int pdf_report_pg_idem_run(pdf_report_pg_t *pg,
    pdf_report_op_t **ops, size_t n, unsigned *state,
    const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);
static int pdf_report_pg_idem_found(PGresult *r, pdf_report_op_t *op,
    unsigned *state);
static void pdf_report_pg_idem_answer(pdf_report_op_t *op);
static int pdf_report_pg_idem_cmp(const void *a, const void *b);
static int pdf_report_pg_idem_row(PGresult *r, pdf_report_idem_t *rec);
static void pdf_report_pg_idem_args(pdf_report_pg_idem_args_t *a,
    pdf_report_op_t *op, int create);
static void pdf_report_pg_idem_recorded(pdf_report_op_t *op);
static void pdf_report_pg_idem_num(char *buf, int64_t v);


int
pdf_report_pg_idem_get(pdf_report_pg_t *pg, const char *org,
    const char *key, int64_t now_ms, pdf_report_idem_t *rec)
{
    int                    rc;
    char                   now[PDF_REPORT_PG_IDEM_NUM];
    PGresult              *r;
    const char            *vals[3];
    pdf_report_pg_conn_t  *c;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_idem_num(now, now_ms);

    vals[0] = org;
    vals[1] = key;
    vals[2] = now;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_IDEM_SELECT, 3, vals);

    if (pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = pdf_report_pg_idem_row(r, rec);
        PQclear(r);

    } else {
        rc = pdf_report_pg_failed(c, r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


/* what the first round trip found for an operation */
#define PDF_REPORT_PG_IDEM_NEW     0     /* the key is not used: run it */
#define PDF_REPORT_PG_IDEM_DONE    1     /* replayed: nothing to run */
#define PDF_REPORT_PG_IDEM_COUNT   2     /* another body: only counted */
#define PDF_REPORT_PG_IDEM_LATER   3     /* the key twice in the batch */


int
pdf_report_pg_idem_batch(pdf_report_pg_t *pg, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int                        rc;
    size_t                     i, j;
    unsigned                  *state;
    pdf_report_scan_result_t   none;

    if (res == NULL) {
        res = &none;
    }

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    if (n == 0) {
        return 0;
    }

    state = calloc(n, sizeof(unsigned));
    if (state == NULL) {
        pdf_report_pg_set_error("out of memory");
        rc = PDF_REPORT_PG_ERROR;
        goto failed;
    }

    /*
     * A key twice in one batch (rare: this worker's second request of a
     * key is 409 IN_USE before it writes): the second runs after the
     * first has committed, and finds its row
     */
    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(ops[i]->job.org, ops[j]->job.org) == 0
                && strcmp(ops[i]->idem->key, ops[j]->idem->key) == 0)
            {
                state[i] = PDF_REPORT_PG_IDEM_LATER;
                break;
            }
        }
    }

    rc = pdf_report_pg_idem_run(pg, ops, n, state, scan, claims, res);

    for (i = 0; i < n; i++) {
        if (state[i] == PDF_REPORT_PG_IDEM_LATER) {
            state[i] = PDF_REPORT_PG_IDEM_NEW;
            (void) pdf_report_pg_idem_run(pg, &ops[i], 1, &state[i],
                                          NULL, NULL, NULL);
        }
    }

    free(state);

    return rc;

failed:

    for (i = 0; i < n; i++) {
        ops[i]->rc = rc;
        ops[i]->rate_result.allowed = 0;
    }

    return rc;
}


/*
 * The operations whose state is NEW, in one transaction of two round
 * trips: the orgs' locks and the keys looked up; then each operation's
 * step-1 statement, which records its answer under its key as it gives
 * it (PDF_REPORT_PG_STEP1_IDEM), the scan, and the commit.
 */

static int
pdf_report_pg_idem_run(pdf_report_pg_t *pg, pdf_report_op_t **ops,
    size_t n, unsigned *state, const pdf_report_scan_t *scan,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res)
{
    int                         rc, create, remember;
    char                       *args, *nums, *sent;
    void                       *sargs;
    size_t                      i, m, nkeys, sel, at;
    int64_t                    *keys;
    const char                 *vals[3];
    pdf_report_op_t            *op;
    pdf_report_pg_conn_t       *c;
    pdf_report_pg_pipe_t        p;
    pdf_report_pg_idem_args_t  *ia;

    c = NULL;
    keys = malloc(n * sizeof(int64_t));
    nums = malloc((2 * n + 1) * PDF_REPORT_PG_IDEM_NUM);
    args = malloc(n * pdf_report_pg_step1_size + 1);
    ia = malloc(n * sizeof(pdf_report_pg_idem_args_t));
    sent = calloc(n, 1);

    if (keys == NULL || nums == NULL || args == NULL || ia == NULL
        || sent == NULL)
    {
        pdf_report_pg_set_error("out of memory");
        rc = PDF_REPORT_PG_ERROR;
        goto failed;
    }

    for (i = 0; i < n; i++) {
        op = ops[i];

        if (state[i] != PDF_REPORT_PG_IDEM_NEW) {
            continue;
        }

        op->rc = 0;
        op->pending[0] = '\0';
        memset(&op->rate_result, 0, sizeof(pdf_report_rate_t));
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        c = NULL;
        goto failed;
    }

    /* 1: the orgs' locks, in one order on every edge, and the keys */

    nkeys = 0;

    for (i = 0; i < n; i++) {
        if (state[i] == PDF_REPORT_PG_IDEM_NEW) {
            keys[nkeys++] = pdf_report_pg_lock_key("org", ops[i]->job.org,
                                                   strlen(ops[i]->job.org));
        }
    }

    qsort(keys, nkeys, sizeof(int64_t), pdf_report_pg_idem_cmp);

    for (i = 0, m = 0; i < nkeys; i++) {
        if (m == 0 || keys[i] != keys[m - 1]) {
            keys[m++] = keys[i];
        }
    }

    nkeys = m;

    rc = pdf_report_pg_pipe_begin(&p, c, 1 + nkeys + n);
    if (rc != 0) {
        goto failed;
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);

    for (i = 0; i < nkeys; i++) {
        pdf_report_pg_idem_num(nums + i * PDF_REPORT_PG_IDEM_NUM, keys[i]);
        vals[0] = nums + i * PDF_REPORT_PG_IDEM_NUM;
        pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_LOCK, 1, vals);
    }

    sel = 1 + nkeys;

    for (i = 0; i < n; i++) {
        if (state[i] != PDF_REPORT_PG_IDEM_NEW) {
            continue;
        }

        op = ops[i];

        pdf_report_pg_idem_num(nums + (n + i) * PDF_REPORT_PG_IDEM_NUM,
                               op->now_ms);

        vals[0] = op->job.org;
        vals[1] = op->idem->key;
        vals[2] = nums + (n + i) * PDF_REPORT_PG_IDEM_NUM;

        pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_IDEM_SELECT, 3, vals);
    }

    rc = pdf_report_pg_pipe_end(&p);

    if (rc == 0) {
        for (i = 0, m = sel; i < n; i++) {
            if (state[i] != PDF_REPORT_PG_IDEM_NEW) {
                continue;
            }

            rc = pdf_report_pg_idem_found(p.res[m++], ops[i], &state[i]);
            if (rc != 0) {
                break;
            }
        }
    }

    pdf_report_pg_pipe_free(&p);

    if (rc != 0) {
        goto failed;
    }

    /* 2: the hits, the jobs and their answers, the scan, the commit */

    rc = pdf_report_pg_pipe_begin(&p, c, n + 4);
    if (rc != 0) {
        goto failed;
    }

    for (i = 0; i < n && rc == 0; i++) {
        op = ops[i];

        if (state[i] == PDF_REPORT_PG_IDEM_COUNT) {
            if (op->rate) {
                sent[i] = PDF_REPORT_PG_IDEM_SENT_STEP1;
                rc = pdf_report_pg_step1_send(&p, op, 0,
                                         args + i * pdf_report_pg_step1_size,
                                         NULL);
            }

            continue;
        }

        if (state[i] != PDF_REPORT_PG_IDEM_NEW) {
            continue;
        }

        create = (op->kind == PDF_REPORT_OP_CREATE);
        remember = (create || op->idem->rec.status != 0);

        if (remember) {
            pdf_report_pg_idem_args(&ia[i], op, create);
        }

        if (create || op->rate) {
            sent[i] = PDF_REPORT_PG_IDEM_SENT_STEP1;
            rc = pdf_report_pg_step1_send(&p, op, create,
                                         args + i * pdf_report_pg_step1_size,
                                         remember ? ia[i].step1 : NULL);

        } else if (remember) {
            /* a refusal, not counted: only remembered */
            sent[i] = PDF_REPORT_PG_IDEM_SENT_PUT;
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_IDEM_PUT, 10,
                                    ia[i].put);
        }
    }

    /* a failure to send still leaves the pipeline mode */
    if (rc != 0) {
        p.rc = rc;
    }

    /* after the creates, in their snapshot: it claims their jobs */
    sargs = NULL;
    at = p.n;

    if (scan != NULL) {
        sargs = pdf_report_pg_scan_start(pg, &p, scan);
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    if (scan != NULL) {
        pdf_report_pg_scan_finish(sargs, rc == 0 ? &p.res[at] : NULL,
                                  claims, res);
    }

    if (rc != 0) {
        pdf_report_pg_pipe_free(&p);
        goto failed;
    }

    /* committed: each operation's own answer */
    for (i = 0, m = 0; i < n; i++) {
        op = ops[i];

        if (sent[i] == PDF_REPORT_PG_IDEM_SENT_PUT) {
            m++;
            pdf_report_pg_idem_recorded(op);
            continue;
        }

        if (sent[i] != PDF_REPORT_PG_IDEM_SENT_STEP1) {
            continue;
        }

        create = (state[i] == PDF_REPORT_PG_IDEM_NEW
                  && op->kind == PDF_REPORT_OP_CREATE);

        pdf_report_pg_step1_read(p.res[m++], op, create);

        if (state[i] == PDF_REPORT_PG_IDEM_COUNT) {
            /* another body: a refusal, counted as one (or 429 first) */
            if (op->rc == 0) {
                op->rc = PDF_REPORT_STORE_IDEM_REUSED;
            }

            continue;
        }

        /* what the statement recorded, as the caller reads it */
        if (create && (op->rc == 0 || op->rc == PDF_REPORT_STORE_EXISTS)) {
            pdf_report_pg_idem_answer(op);
            pdf_report_pg_idem_recorded(op);

        } else if (!create && op->rc == 0 && op->idem->rec.status != 0) {
            pdf_report_pg_idem_recorded(op);
        }
    }

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);

    free(keys);
    free(nums);
    free(args);
    free(ia);
    free(sent);

    return 0;

failed:

    /* nothing was written: every operation of the transaction fails */
    for (i = 0; i < n; i++) {
        if (state[i] != PDF_REPORT_PG_IDEM_LATER) {
            ops[i]->rc = rc;
            ops[i]->rate_result.allowed = 0;
        }
    }

    if (c != NULL) {
        pdf_report_pg_release(pg, c);
    }

    free(keys);
    free(nums);
    free(args);
    free(ia);
    free(sent);

    return rc;
}


/* the first round trip's row of an operation: what it is to do */

static int
pdf_report_pg_idem_found(PGresult *r, pdf_report_op_t *op,
    unsigned *state)
{
    int  rc;

    rc = pdf_report_pg_idem_row(r, &op->idem->found);

    if (rc == PDF_REPORT_STORE_NOT_FOUND) {
        *state = PDF_REPORT_PG_IDEM_NEW;
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    if (memcmp(op->idem->found.sha256, op->idem->sha256,
               PDF_REPORT_SHA256_LEN)
        == 0)
    {
        /* the first answer again: nothing counted, nothing written */
        op->rc = PDF_REPORT_STORE_IDEM_REPLAY;
        *state = PDF_REPORT_PG_IDEM_DONE;
        return 0;
    }

    *state = PDF_REPORT_PG_IDEM_COUNT;

    if (!op->rate) {
        op->rc = PDF_REPORT_STORE_IDEM_REUSED;
    }

    return 0;
}


/* a create's answer: the new job, or the pending one */

static void
pdf_report_pg_idem_answer(pdf_report_op_t *op)
{
    pdf_report_idem_t  *rec;

    rec = &op->idem->rec;

    memset(rec, 0, sizeof(pdf_report_idem_t));

    if (op->rc == 0) {
        rec->status = 202;
        rec->created_ms = op->job.created_ms;
        memcpy(rec->job_id, op->job.id, PDF_REPORT_UUID_LEN);
        memcpy(rec->user, op->job.user, sizeof(rec->user));

    } else {
        rec->status = 409;
        memcpy(rec->job_id, op->pending, PDF_REPORT_UUID_LEN);
    }
}


static int
pdf_report_pg_idem_cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


/* the key's record of a select's result (0 rows: NOT_FOUND) */

static int
pdf_report_pg_idem_row(PGresult *r, pdf_report_idem_t *rec)
{
    size_t       i;
    unsigned     hi, lo;
    const char  *hex;

    if (PQntuples(r) != 1) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    memset(rec, 0, sizeof(pdf_report_idem_t));

    hex = PQgetvalue(r, 0, 0);

    if (strlen(hex) != PDF_REPORT_SHA256_HEX) {
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

    return 0;
}


/*
 * The values that record op's answer under its key: a create's comes
 * from its statement (202 or 409), a refusal's is op->idem->rec
 */

static void
pdf_report_pg_idem_args(pdf_report_pg_idem_args_t *a, pdf_report_op_t *op,
    int create)
{
    pdf_report_idem_op_t  *idem;

    idem = op->idem;

    pdf_report_hex(a->sha, idem->sha256, PDF_REPORT_SHA256_LEN);
    a->sha[PDF_REPORT_SHA256_HEX] = '\0';

    pdf_report_pg_idem_num(a->status, create ? 0 : idem->rec.status);
    pdf_report_pg_idem_num(a->created, idem->rec.created_ms);
    pdf_report_pg_idem_num(a->expires, op->now_ms + idem->ttl_ms);

    a->put[0] = op->job.org;
    a->put[1] = idem->key;
    a->put[2] = a->sha;
    a->put[3] = a->status;
    a->put[4] = idem->rec.job_id;
    a->put[5] = idem->rec.user;
    a->put[6] = a->created;
    a->put[7] = idem->rec.code;
    a->put[8] = idem->rec.message;
    a->put[9] = a->expires;

    a->step1[0] = idem->key;
    a->step1[1] = a->sha;
    a->step1[2] = a->expires;
    a->step1[3] = a->status;
    a->step1[4] = create ? "" : idem->rec.code;
    a->step1[5] = create ? "" : idem->rec.message;
}


/* op->idem->rec as the store now holds it */

static void
pdf_report_pg_idem_recorded(pdf_report_op_t *op)
{
    pdf_report_idem_op_t  *idem;

    idem = op->idem;

    memcpy(idem->rec.sha256, idem->sha256, PDF_REPORT_SHA256_LEN);
    idem->rec.expires_ms = op->now_ms + idem->ttl_ms;
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
