
/*
 * Idempotency-Key in the LMDB store (pdf_report_store_idem.c): the
 * sf-string syntax of a key; in a group commit, a keyed create recorded
 * with its job, a second operation of the key in the same batch given
 * the first's answer without counting, another body refused (and
 * counted), a refusal recorded, 429 not; the expiry, a record replaced
 * once expired, and the deletion of expired records in bounded batches.
 */


#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <lmdb.h>

#include "tap.h"
#include "pdf_report_store.h"


static pdf_report_op_t       op_mem[600];
static pdf_report_op_t      *ops[600];
static pdf_report_idem_op_t  idem_mem[600];


static pdf_report_op_t *
op(int i, unsigned kind, const char *org, const char *user, int64_t now,
    unsigned limit, const char *key, char body)
{
    pdf_report_op_t       *o = &op_mem[i];
    pdf_report_idem_op_t  *k = &idem_mem[i];

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

    if (key != NULL) {
        memset(k, 0, sizeof(pdf_report_idem_op_t));
        snprintf(k->key, sizeof(k->key), "%s", key);
        memset(k->sha256, body, sizeof(k->sha256));
        k->ttl_ms = 10000;
        o->idem = k;
    }

    return o;
}


static int
parse(const char *value)
{
    char  key[PDF_REPORT_IDEM_KEY_MAX + 1];

    return pdf_report_idem_key_parse(value, strlen(value), key);
}


int
main(void)
{
    int                 rc, i;
    char                dir[] = "/tmp/pdf-report-idem-XXXXXX";
    char                cmd[256], key[PDF_REPORT_IDEM_KEY_MAX + 1];
    char                long_key[PDF_REPORT_IDEM_KEY_MAX + 4];
    char                k[32];
    size_t              n;
    unsigned            fmt;
    pdf_report_store_t *st;
    pdf_report_idem_t   rec;

    /* ---- the key's syntax ---- */

    ok(parse("\"abc\"") == 0, "key: a quoted string");
    rc = pdf_report_idem_key_parse("\"a\\\"b\\\\c\"", 9, key);
    ok(rc == 0 && strcmp(key, "a\"b\\c") == 0,
       "key: \\\" and \\\\ unescaped: %s", key);
    ok(parse("  \"x\"  ") == 0, "key: spaces around it");
    ok(parse("\"\"") == -1, "key: empty refused");
    ok(parse("abc") == -1, "key: a token refused");
    ok(parse("\"abc") == -1, "key: unterminated refused");
    ok(parse("\"a\"b\"") == -1, "key: a bare quote refused");
    ok(parse("\"a\\nb\"") == -1, "key: another escape refused");
    ok(parse("\"a\\\"") == -1, "key: an escape at the end refused");
    ok(parse("\"a\tb\"") == -1, "key: a control character refused");
    ok(parse("\"caf\xc3\xa9\"") == -1, "key: non-ASCII refused");
    ok(parse("\"a\";p=1") == -1, "key: parameters refused");

    long_key[0] = '"';
    memset(long_key + 1, 'k', PDF_REPORT_IDEM_KEY_MAX);
    long_key[PDF_REPORT_IDEM_KEY_MAX + 1] = '"';
    long_key[PDF_REPORT_IDEM_KEY_MAX + 2] = '\0';
    ok(parse(long_key) == 0, "key: 255 characters");

    long_key[PDF_REPORT_IDEM_KEY_MAX + 1] = 'k';
    long_key[PDF_REPORT_IDEM_KEY_MAX + 2] = '"';
    long_key[PDF_REPORT_IDEM_KEY_MAX + 3] = '\0';
    ok(parse(long_key) == -1, "key: 256 characters refused");

    /* ---- in a group commit ---- */

    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }

    rc = pdf_report_store_open(&st, dir, 8 * 1024 * 1024, &fmt);
    is_int(rc, 0, "open a new store");

    /* limit 3: the key's first create, its replay in the same batch, its
     * other body, an unknown user's refusal recorded, then 429 */
    op(0, PDF_REPORT_OP_CREATE, "org_a", "US1", 1000, 3, "k1", 'a');
    op(1, PDF_REPORT_OP_CREATE, "org_a", "US1", 1001, 3, "k1", 'a');
    op(2, PDF_REPORT_OP_CREATE, "org_a", "US2", 1002, 3, "k1", 'b');
    op(3, PDF_REPORT_OP_RATE, "org_a", "", 1003, 3, "k404", 'c');
    idem_mem[3].rec.status = 404;
    snprintf(idem_mem[3].rec.code, sizeof(idem_mem[3].rec.code),
             "USER_NOT_FOUND");
    op(4, PDF_REPORT_OP_CREATE, "org_a", "US3", 1004, 3, "k429", 'd');
    op(5, PDF_REPORT_OP_CREATE, "org_b", "US1", 1005, 0, "k1", 'a');

    rc = pdf_report_store_batch(st, ops, 6, NULL, NULL, NULL);
    is_int(rc, 0, "batch committed");

    is_int(op_mem[0].rc, 0, "first of the key: created");
    is_int(op_mem[0].rate_result.remaining, 2, "first: counted");
    is_int(op_mem[1].rc, PDF_REPORT_STORE_IDEM_REPLAY,
           "same key and body in the batch: the replay");
    ok(strcmp(idem_mem[1].found.job_id, op_mem[0].job.id) == 0
       && idem_mem[1].found.status == 202,
       "the replay names the first's job and 202");
    is_int(op_mem[2].rc, PDF_REPORT_STORE_IDEM_REUSED,
           "another body: REUSED");
    is_int(op_mem[2].rate_result.remaining, 1,
           "REUSED counted; the replay was not");
    is_int(op_mem[3].rc, 0, "a refusal's hit");
    is_int(op_mem[4].rc, PDF_REPORT_STORE_LIMITED, "then 429");
    is_int(op_mem[5].rc, 0, "the same key in another org: its own");

    rc = pdf_report_store_idem_get(st, "org_a", "k1", 2000, &rec);
    ok(rc == 0 && rec.status == 202
       && strcmp(rec.job_id, op_mem[0].job.id) == 0
       && strcmp(rec.user, "US1") == 0 && rec.created_ms == 1000
       && rec.expires_ms == 11000,
       "k1's record: 202, the job, its user, createdAt, expiry");

    rc = pdf_report_store_idem_get(st, "org_a", "k404", 2000, &rec);
    ok(rc == 0 && rec.status == 404
       && strcmp(rec.code, "USER_NOT_FOUND") == 0,
       "the refusal recorded");

    is_int(pdf_report_store_idem_get(st, "org_a", "k429", 2000, &rec),
           PDF_REPORT_STORE_NOT_FOUND, "429 not recorded");

    is_int(pdf_report_store_idem_get(st, "org_a", "k1", 11000, &rec),
           PDF_REPORT_STORE_NOT_FOUND, "expired at expires_ms");

    /* a pending job of the user under a new key: 409 recorded */
    op(0, PDF_REPORT_OP_CREATE, "org_a", "US1", 3000, 0, "k409", 'e');
    rc = pdf_report_store_batch(st, ops, 1, NULL, NULL, NULL);
    ok(rc == 0 && op_mem[0].rc == PDF_REPORT_STORE_EXISTS,
       "409 for the pending job");
    rc = pdf_report_store_idem_get(st, "org_a", "k409", 3000, &rec);
    ok(rc == 0 && rec.status == 409 && rec.code[0] == '\0'
       && strcmp(rec.job_id, idem_mem[1].found.job_id) == 0,
       "409 JOB_PENDING recorded with the pending job");

    /* expired: the key answers anew, the record replaced */
    op(0, PDF_REPORT_OP_CREATE, "org_a", "US9", 12000, 0, "k1", 'z');
    rc = pdf_report_store_batch(st, ops, 1, NULL, NULL, NULL);
    ok(rc == 0 && op_mem[0].rc == 0, "after the TTL: created anew");
    rc = pdf_report_store_idem_get(st, "org_a", "k1", 12000, &rec);
    ok(rc == 0 && strcmp(rec.user, "US9") == 0
       && rec.expires_ms == 22000, "the record replaced");

    pdf_report_store_idem_count(st, &n);
    is_int((int) n, 4, "records: k1, k404 and k409 of org_a, k1 of org_b");

    /* nothing expired at 12000 but org_b's k1 and k404 (11005, 11003) */
    rc = pdf_report_store_idem_expire(st, 12000, 256, &n);
    ok(rc == 0 && n == 2, "expired ones deleted: %zu", n);

    rc = pdf_report_store_idem_expire(st, 12000, 256, &n);
    ok(rc == 0 && n == 0, "none left expired: %zu", n);

    /* 500 more, deleted 256 at a time */
    for (i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "bulk-%d", i);
        op(i, PDF_REPORT_OP_RATE, "org_c", "", 20000, 0, k, 'x');
        idem_mem[i].rec.status = 400;
    }

    rc = pdf_report_store_batch(st, ops, 500, NULL, NULL, NULL);
    is_int(rc, 0, "500 refusals recorded in one batch");

    rc = pdf_report_store_idem_expire(st, 40000, 256, &n);
    ok(rc == 0 && n == 256, "a batch of 256 at most: %zu", n);
    rc = pdf_report_store_idem_expire(st, 40000, 256, &n);
    ok(rc == 0 && n == 246, "then the rest, with k1 and k409: %zu", n);

    pdf_report_store_idem_count(st, &n);
    is_int((int) n, 0, "nothing left");

    pdf_report_store_close(st);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void) system(cmd);

    return done_testing();
}
