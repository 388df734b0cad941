
/*
 * Group commit (pdf_report_store_batch) on a real LMDB environment: one
 * transaction gives each operation the answer the single calls give, in
 * order: the rate limit exact inside a batch, a second job of a user in
 * the same batch refused with the first one's id, refusals still
 * counted, claims of the new jobs in the same commit, releases, and a
 * full map answering 503 for creates but not failing the others.
 */


#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <lmdb.h>

#include "tap.h"
#include "pdf_report_store.h"


#define N  8


static pdf_report_op_t  op_mem[64];
static pdf_report_op_t *ops[64];


static pdf_report_op_t *
op(int i, unsigned kind, const char *org, const char *user, int64_t now,
    unsigned limit)
{
    pdf_report_op_t  *o = &op_mem[i];

    memset(o, 0, sizeof(pdf_report_op_t));
    o->kind = kind;
    o->rate = limit > 0;
    o->now_ms = now;
    o->period_ms = 600000;
    o->limit = limit;
    snprintf(o->job.org, sizeof(o->job.org), "%s", org);
    snprintf(o->job.user, sizeof(o->job.user), "%s", user);
    o->job.created_ms = now;
    ops[i] = o;

    return o;
}


int
main(void)
{
    int                       rc, i, created;
    char                      dir[] = "/tmp/pdf-report-batch-XXXXXX";
    char                      cmd[256], user[32];
    unsigned                  fmt;
    pdf_report_store_t       *st;
    pdf_report_job_t          got, claims[N];
    pdf_report_rate_t         rate;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;

    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }

    rc = pdf_report_store_open(&st, dir, 1024 * 1024, &fmt);
    is_int(rc, 0, "open a new store (1 MiB map)");

    /* five creates of one org under a limit of 3, and a duplicate user */

    op(0, PDF_REPORT_OP_CREATE, "org_a", "US1", 1000, 3);
    op(1, PDF_REPORT_OP_CREATE, "org_a", "US1", 1001, 3);
    op(2, PDF_REPORT_OP_CREATE, "org_a", "US2", 1002, 3);
    op(3, PDF_REPORT_OP_CREATE, "org_a", "US3", 1003, 3);
    op(4, PDF_REPORT_OP_RATE, "org_a", "", 1004, 3);
    op(5, PDF_REPORT_OP_CREATE, "org_b", "US1", 1005, 0);

    memset(&scan, 0, sizeof(scan));
    scan.now_ms = 1010;
    scan.timeout_ms = 300000;
    scan.lease_ms = 10000;
    scan.max_attempts = 3;
    scan.max_claims = 2;

    rc = pdf_report_store_batch(st, ops, 6, &scan, claims, &res);
    is_int(rc, 0, "a batch of six commits");

    is_int(ops[0]->rc, 0, "first create: 202");
    ok(ops[0]->rate_result.allowed, "first create counted");
    is_int(ops[0]->rate_result.remaining, 2, "two left after the first");
    is_int(ops[1]->rc, PDF_REPORT_STORE_EXISTS,
           "the same user again in the batch: 409");
    is_str(ops[1]->pending, ops[0]->job.id,
           "the 409 names the job made earlier in the same batch");
    ok(ops[1]->rate_result.allowed, "the 409 was counted");
    is_int(ops[2]->rc, 0, "third: 202, the last slot");
    is_int(ops[2]->rate_result.remaining, 0, "no slot left");
    is_int(ops[3]->rc, PDF_REPORT_STORE_LIMITED, "fourth: 429");
    ok(!ops[3]->rate_result.allowed, "the 429 not counted");
    ok(ops[3]->rate_result.reset_s > 0, "with a Retry-After");
    is_int(ops[4]->rc, PDF_REPORT_STORE_LIMITED,
           "a refusal's hit (400 and the like) is 429 as well now");
    is_int(ops[5]->rc, 0, "no limit for the other: 202");
    ok(ops[0]->job.id[14] == '4', "job ids are UUID v4 (%s)",
       ops[0]->job.id);
    ok(strcmp(ops[0]->job.id, ops[2]->job.id) != 0, "distinct ids");

    is_int(res.claimed, 2, "two of the new jobs claimed in the same commit");
    is_str(claims[0].id, ops[0]->job.id, "the oldest first");
    is_int(claims[0].status, PDF_REPORT_IN_PROGRESS, "claimed: IN_PROGRESS");

    is_int(pdf_report_store_job_get(st, ops[0]->job.id, &got), 0,
           "the first job is in the store");
    is_int(got.status, PDF_REPORT_IN_PROGRESS, "as claimed");
    is_int(pdf_report_store_job_get(st, ops[5]->job.id, &got), 0,
           "and the other org's");
    is_int(got.status, PDF_REPORT_PENDING, "still waiting");

    /* the window, as the single call sees it: three counted */
    rc = pdf_report_store_rate_hit(st, "org_a", 1020, 600000, 4, &rate);
    is_int(rc, 0, "a single hit after the batch");
    is_int(rate.remaining, 0, "the batch counted exactly three (4 - 3 - 1)");

    /* a release: the claim given back, PENDING again */
    op(0, PDF_REPORT_OP_RELEASE, "org_a", "US1", 1030, 0);
    memcpy(ops[0]->job.id, claims[1].id, sizeof(claims[1].id));
    ops[0]->job.lease_token = claims[1].lease_token;
    op(1, PDF_REPORT_OP_RELEASE, "org_a", "US1", 1030, 0);
    memcpy(ops[1]->job.id, claims[0].id, sizeof(claims[0].id));
    ops[1]->job.lease_token = claims[0].lease_token + 1;

    rc = pdf_report_store_batch(st, ops, 2, NULL, NULL, NULL);
    is_int(rc, 0, "a batch of releases commits");
    is_int(ops[0]->rc, 0, "our claim released");
    is_int(ops[1]->rc, PDF_REPORT_STORE_LOST,
           "another lease's token is refused");
    is_int(pdf_report_store_job_get(st, claims[1].id, &got), 0, "read it");
    is_int(got.status, PDF_REPORT_PENDING, "released: PENDING");
    is_int(pdf_report_store_job_get(st, claims[0].id, &got), 0, "read A");
    is_int(got.status, PDF_REPORT_IN_PROGRESS, "the other one untouched");

    /* a scan with no free slot still times jobs out, in a batch */
    op(0, PDF_REPORT_OP_RATE, "org_t", "", 400000, 10);
    scan.now_ms = 400000;
    scan.max_claims = 0;

    rc = pdf_report_store_batch(st, ops, 1, &scan, claims, &res);
    is_int(rc, 0, "a batch with a scan and no free slot commits");
    is_int(res.claimed, 0, "nothing claimed");
    ok(res.failed >= 3, "the overdue jobs failed (%u)", res.failed);
    is_int(pdf_report_store_job_get(st, op_mem[5].job.id, &got), 0,
           "read the other org's job");
    is_int(got.status, PDF_REPORT_FAILED, "it timed out");
    is_str(got.error_code, "TIMEOUT", "with TIMEOUT");

    /* fill the map: creates answer FULL, a hit in the same batch counts */
    created = 0;

    for (i = 0; i < 20000; i++) {
        snprintf(user, sizeof(user), "UF%d", i);
        op(0, PDF_REPORT_OP_CREATE, "org_f", user, 2000 + i, 0);
        op(1, PDF_REPORT_OP_RATE, "org_g", "", 2000 + i, 100000);

        rc = pdf_report_store_batch(st, ops, 2, NULL, NULL, NULL);

        if (rc != 0 || ops[0]->rc != 0) {
            break;
        }

        created++;
    }

    ok(created > 10, "%d jobs fit in the map", created);
    is_int(rc, 0, "the batch with the refused create still commits");
    is_int(ops[0]->rc, PDF_REPORT_STORE_FULL, "then a create is 503");
    is_int(ops[1]->rc, 0, "and the hit beside it is counted");

    rc = pdf_report_store_rate_hit(st, "org_g", 3000, 600000, 100000, &rate);
    is_int(rc, 0, "the window of the second org");
    is_int(rate.remaining, 100000 - created - 2,
           "every hit of those batches counted");

    pdf_report_store_close(st);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", dir);
    }

    return done_testing();
}
