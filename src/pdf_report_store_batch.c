
/*
 * Group commit for the store (see pdf_report_store.h): an fsync costs
 * far more than the few B-tree updates of a step-1 request, so the
 * requests that arrive while one batch commits go into the next, and
 * every batch pays for one.  Runs in a pool thread; no nginx API.
 */


#include <stdint.h>
#include <string.h>
#include <errno.h>

#include "pdf_report_store.h"
#include "pdf_report_store_int.h"


static int pdf_report_batch_failed(int rc);
static int pdf_report_batch_fail(pdf_report_op_t **ops, size_t n, int rc,
    pdf_report_scan_result_t *res);
static int pdf_report_batch_write(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_op_t *op);
static int pdf_report_batch_rate(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_op_t *op);
static int pdf_report_batch_remember(pdf_report_store_t *store,
    MDB_txn *txn, pdf_report_op_t *op);


int
pdf_report_store_batch(pdf_report_store_t *store, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int       rc;
    MDB_txn  *txn;

    rc = pdf_report_store_batch_begin(store, &txn);

    return pdf_report_store_batch_run(store, txn, rc, ops, n, scan, claims,
                                      res);
}


/* waits for the writer lock, which another worker's batch may hold */

int
pdf_report_store_batch_begin(pdf_report_store_t *store, MDB_txn **txn)
{
    return mdb_txn_begin(store->env, NULL, 0, txn);
}


int
pdf_report_store_batch_run(pdf_report_store_t *store, MDB_txn *txn,
    int begun, pdf_report_op_t **ops, size_t n,
    const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int                       rc, failed;
    size_t                    i;
    MDB_txn                  *child;
    pdf_report_op_t          *op;
    pdf_report_scan_result_t  none;

    if (res == NULL) {
        res = &none;
    }

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    if (begun != 0) {
        return pdf_report_batch_fail(ops, n, begun, res);
    }

    /*
     * The operations run in the batch's transaction itself: a nested
     * one costs LMDB two large allocations, more than the operation.
     * An answer such as 409 or 429 writes nothing that matters; an LMDB
     * error leaves the transaction unusable, and so fails the batch.
     */
    failed = 0;

    for (i = 0; i < n && !failed; i++) {
        op = ops[i];
        op->rc = 0;

        /* a key answered already: its answer, before anything counts */
        if (op->idem != NULL) {
            op->rc = pdf_report_idem_check_txn(store, txn, op->job.org,
                                               op->idem, op->now_ms);

            if (op->rc == PDF_REPORT_STORE_IDEM_REUSED && op->rate) {
                op->rc = pdf_report_batch_rate(store, txn, op);

                if (op->rc == 0) {
                    op->rc = PDF_REPORT_STORE_IDEM_REUSED;
                }
            }

            if (op->rc != 0) {
                failed = pdf_report_batch_failed(op->rc);
                continue;
            }
        }

        /* the hit counts whatever the create's outcome (409 counts) */
        if ((op->kind == PDF_REPORT_OP_RATE
             || op->kind == PDF_REPORT_OP_CREATE)
            && op->rate)
        {
            op->rc = pdf_report_batch_rate(store, txn, op);

            if (op->rc != 0) {
                failed = pdf_report_batch_failed(op->rc);
                continue;
            }
        }

        if (op->kind == PDF_REPORT_OP_RATE) {
            /* a refusal after its hit, remembered under its key */
            if (op->idem != NULL && op->idem->rec.status != 0) {
                op->rc = pdf_report_idem_put_txn(store, txn, op->job.org,
                                                 op->idem, op->now_ms);
            }

            failed = pdf_report_batch_failed(op->rc);
            continue;
        }

        op->rc = pdf_report_batch_write(store, txn, op);

        /* a 202 or a 409, remembered in the transaction of the job */
        if (op->idem != NULL
            && (op->rc == 0 || op->rc == PDF_REPORT_STORE_EXISTS))
        {
            rc = pdf_report_batch_remember(store, txn, op);
            if (rc != 0) {
                op->rc = rc;
            }
        }

        /* refused before writing: this one answers 503, the rest go on */
        if (op->rc == PDF_REPORT_STORE_NEARLY_FULL) {
            op->rc = PDF_REPORT_STORE_FULL;
            continue;
        }

        failed = pdf_report_batch_failed(op->rc);
    }

    if (failed) {
        mdb_txn_abort(txn);
        return pdf_report_batch_fail(ops, n, failed, res);
    }

    /*
     * A scan pass (time-outs, and claims of the new jobs) rides on the
     * same commit, in a nested transaction: a scan that does not fit (a
     * nearly full map) must not take the creates down with it; the next
     * scan retries.
     */
    if (scan != NULL && mdb_txn_begin(store->env, txn, 0, &child) == 0)
    {
        /* as many actions as one pass takes; claims are bounded apart */
        if (pdf_report_scan_txn(store, child, scan, SIZE_MAX, claims, res)
            != 0)
        {
            mdb_txn_abort(child);
            memset(res, 0, sizeof(pdf_report_scan_result_t));

        } else if (mdb_txn_commit(child) != 0) {
            memset(res, 0, sizeof(pdf_report_scan_result_t));
        }
    }

    rc = mdb_txn_commit(txn);

    return (rc == 0) ? 0 : pdf_report_batch_fail(ops, n, rc, res);
}


/* nothing of the batch was written: every operation fails with rc */

static int
pdf_report_batch_fail(pdf_report_op_t **ops, size_t n, int rc,
    pdf_report_scan_result_t *res)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        ops[i]->rc = rc;
        ops[i]->rate_result.allowed = 0;
    }

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    return rc;
}


/* an LMDB error, as opposed to an answer: the batch cannot commit */

static int
pdf_report_batch_failed(int rc)
{
    switch (rc) {
    case 0:
    case PDF_REPORT_STORE_LIMITED:
    case PDF_REPORT_STORE_EXISTS:
    case PDF_REPORT_STORE_LOST:
    case PDF_REPORT_STORE_NOT_FOUND:
    case PDF_REPORT_STORE_IDEM_REPLAY:
    case PDF_REPORT_STORE_IDEM_REUSED:
        return 0;

    default:
        return rc;
    }
}


/* the hit: 0, LIMITED (429) or LMDB's */

static int
pdf_report_batch_rate(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_op_t *op)
{
    int  rc;

    rc = pdf_report_rate_txn(store, txn, op->job.org, op->now_ms,
                             op->period_ms, op->limit, &op->rate_result);

    if (rc == 0 && !op->rate_result.allowed) {
        rc = PDF_REPORT_STORE_LIMITED;
    }

    return rc;
}


/* a create's answer under its key: the new job, or the pending one */

static int
pdf_report_batch_remember(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_op_t *op)
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

    return pdf_report_idem_put_txn(store, txn, op->job.org, op->idem,
                                   op->now_ms);
}


/* a create (with a fresh id) or a release */

static int
pdf_report_batch_write(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_op_t *op)
{
    int       rc;
    unsigned  tries;

    if (op->kind == PDF_REPORT_OP_RELEASE) {
        return pdf_report_release_txn(store, txn, op->job.id,
                                      op->job.lease_token, op->now_ms);
    }

    for (tries = 0; /* void */; tries++) {
        if (pdf_report_uuid4(op->job.id) != 0) {
            return EIO;
        }

        op->job.id[PDF_REPORT_UUID_LEN] = '\0';

        rc = pdf_report_create_txn(store, txn, &op->job, op->pending);

        /* a repeated random id: practically never */
        if (rc != MDB_KEYEXIST || tries == 2) {
            return rc;
        }
    }
}
