
/*
 * The LMDB store on a real environment in a temporary directory: jobs,
 * the pending index, the sliding window, claims and leases, timeouts,
 * the user directory and the format check.
 */


#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <lmdb.h>

#include "tap.h"
#include "pdf_report_store.h"


static pdf_report_job_t
new_job(const char *id, const char *org, const char *user, int64_t now)
{
    pdf_report_job_t  job;

    memset(&job, 0, sizeof(job));
    snprintf(job.id, sizeof(job.id), "%s", id);
    snprintf(job.org, sizeof(job.org), "%s", org);
    snprintf(job.user, sizeof(job.user), "%s", user);
    job.created_ms = now;

    return job;
}


/*
 * n jobs of org, the i-th with id %08x-0000-4000-8000-00000000<tail>,
 * user <u>i and createdAt t0 + i; stops at the first refusal, which it
 * returns, with *made the jobs created
 */
static int
create_jobs(pdf_report_store_t *st, const char *org, const char *tail,
    char u, int64_t t0, int n, int *made)
{
    int               i, rc;
    char              pending[PDF_REPORT_UUID_LEN + 1];
    pdf_report_job_t  job;

    rc = 0;

    for (i = 0; i < n; i++) {
        job = new_job("", org, "", t0 + i);
        snprintf(job.id, sizeof(job.id),
                 "%08x-0000-4000-8000-00000000%.4s", i, tail);
        snprintf(job.user, sizeof(job.user), "%c%d", u, i);

        rc = pdf_report_store_job_create(st, &job, pending);
        if (rc != 0) {
            break;
        }
    }

    *made = i;

    return rc;
}


/* a scan pass at now: 3 attempts, 10 s leases */
static pdf_report_scan_t
new_scan(int64_t now, int64_t timeout, unsigned max_claims)
{
    pdf_report_scan_t  scan;

    memset(&scan, 0, sizeof(scan));
    scan.now_ms = now;
    scan.timeout_ms = timeout;
    scan.lease_ms = 10000;
    scan.max_attempts = 3;
    scan.max_claims = max_claims;

    return scan;
}


int
main(void)
{
    int                       rc, i;
    char                      dir[] = "/tmp/pdf-report-store-XXXXXX";
    char                      pending[PDF_REPORT_UUID_LEN + 1], *json;
    char                      cmd[256];
    size_t                    len;
    unsigned                  fmt;
    pdf_report_store_t       *st;
    pdf_report_job_t          job, got, claims[4], done;
    pdf_report_rate_t         rate;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;
    pdf_report_user_entry_t   users[2];

    const char  *a = "11111111-1111-4111-8111-111111111111";
    const char  *b = "22222222-2222-4222-8222-222222222222";
    const char  *c = "33333333-3333-4333-8333-333333333333";

    if (mkdtemp(dir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }

    rc = pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt);
    is_int(rc, 0, "open a new store");

    /* jobs and the pending index */

    job = new_job(a, "org_acme", "US1", 1000);
    is_int(pdf_report_store_job_create(st, &job, pending), 0, "create job A");

    job = new_job(b, "org_acme", "US1", 1001);
    is_int(pdf_report_store_job_create(st, &job, pending),
           PDF_REPORT_STORE_EXISTS, "second job of the same user refused");
    is_str(pending, a, "the refusal names the pending job");

    job = new_job(b, "org_other", "US1", 1002);
    is_int(pdf_report_store_job_create(st, &job, pending), 0,
           "the same user in another org is independent");

    is_int(pdf_report_store_job_get(st, a, &got), 0, "get job A");
    is_str(got.org, "org_acme", "org kept");
    is_str(got.user, "US1", "user kept");
    is_int(got.status, PDF_REPORT_PENDING, "new job is PENDING");
    is_int(got.created_ms, 1000, "createdAt kept");
    is_int(pdf_report_store_job_get(st, c, &got), PDF_REPORT_STORE_NOT_FOUND,
           "unknown job not found");

    /* claims */

    scan = new_scan(2000, 300000, 1);

    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0, "scan");
    is_int(res.claimed, 1, "one claim when one slot is free");
    is_int(res.waiting, 1, "the other job waits");
    is_str(claims[0].id, a, "oldest job claimed first");
    is_int(claims[0].status, PDF_REPORT_IN_PROGRESS, "claimed is running");
    is_int(claims[0].attempts, 1, "first attempt");
    is_int(claims[0].generated_ms, 2000, "generation time fixed at claim");

    scan.max_claims = 4;
    scan.now_ms = 3000;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0, "scan again");
    is_int(res.claimed, 1, "a leased job is not claimed twice");
    is_str(claims[0].id, b, "the waiting job is claimed");

    scan.now_ms = 4000;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0, "idle scan");
    is_int(res.claimed + res.failed + res.waiting, 0, "nothing to do");

    /* the lease of A runs out (its worker died): reclaimed */
    scan.now_ms = 12500;
    is_int(pdf_report_store_job_renew(st, b, claims[0].lease_token, 12000,
                                      10000),
           0, "B renews its lease");
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "scan after A's lease expired");
    is_int(res.claimed, 1, "A reclaimed");
    is_str(claims[0].id, a, "it is A");
    is_int(claims[0].attempts, 2, "second attempt");
    is_int(claims[0].generated_ms, 2000, "same generation time on re-run");

    is_int(pdf_report_store_job_get(st, a, &got), 0, "get A");

    done = got;
    done.status = PDF_REPORT_COMPLETE;
    done.size_bytes = 1234;
    done.duration_ms = 42;
    memset(done.sha256, 0xab, sizeof(done.sha256));
    snprintf(done.template_version, sizeof(done.template_version), "v2");

    is_int(pdf_report_store_job_finish(st, &done, got.lease_token ^ 2,
                                       13000),
           PDF_REPORT_STORE_LOST, "a stale claim cannot finish the job");
    is_int(pdf_report_store_job_finish(st, &done, got.lease_token, 13000), 0,
           "the current claim finishes it");

    is_int(pdf_report_store_job_get(st, a, &got), 0, "get A");
    is_int(got.status, PDF_REPORT_COMPLETE, "A complete");
    is_int(got.size_bytes, 1234, "size recorded");
    is_int(got.duration_ms, 42, "duration recorded");
    is_int(got.completed_ms, 13000, "completion time recorded");
    is_str(got.template_version, "v2", "template recorded");

    job = new_job(c, "org_acme", "US1", 14000);
    is_int(pdf_report_store_job_create(st, &job, pending), 0,
           "a new job once the first is terminal");

    /* timeout */

    scan.now_ms = 14000 + 300000;
    scan.max_claims = 0;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "scan after the timeout");
    is_int(res.failed, 2, "B and C time out");
    is_int(pdf_report_store_job_get(st, c, &got), 0, "get C");
    is_int(got.status, PDF_REPORT_FAILED, "C failed");
    is_str(got.error_code, "TIMEOUT", "with TIMEOUT");

    /* release: back to PENDING without using an attempt */

    job = new_job(b, "org_x", "US9", 400000);
    snprintf(job.id, sizeof(job.id), "44444444-4444-4444-8444-444444444444");
    is_int(pdf_report_store_job_create(st, &job, pending), 0, "create D");
    scan.now_ms = 400001;
    scan.max_claims = 1;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0, "claim D");
    is_int(pdf_report_store_job_release(st, job.id, claims[0].lease_token,
                                        400002),
           0, "release D");
    is_int(pdf_report_store_job_get(st, job.id, &got), 0, "get D");
    is_int(got.status, PDF_REPORT_PENDING, "D pending again");
    is_int(got.attempts, 0, "no attempt used");

    /* attempts exhausted */

    scan.max_attempts = 1;
    scan.lease_ms = 1;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0, "claim D");
    scan.now_ms += 10;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "scan after its lease ran out");
    is_int(res.failed, 1, "D given up");
    is_int(pdf_report_store_job_get(st, job.id, &got), 0, "get D");
    is_str(got.error_code, "PROCESSING_FAILED", "PROCESSING_FAILED");

    /* rate limit: 3 per 10 s, exact */

    for (i = 0; i < 3; i++) {
        is_int(pdf_report_store_rate_hit(st, "org_r", 100000 + i * 1000,
                                         10000, 3, &rate),
               0, "rate hit %d", i + 1);
        is_int(rate.allowed, 1, "hit %d allowed", i + 1);
        is_int(rate.remaining, 2 - i, "hit %d remaining", i + 1);
    }

    is_int(pdf_report_store_rate_hit(st, "org_r", 109999, 10000, 3, &rate),
           0, "fourth hit");
    is_int(rate.allowed, 0, "fourth hit inside the window refused");
    is_int(rate.reset_s, 1, "retry after the oldest leaves (1 ms, so 1 s)");

    is_int(pdf_report_store_rate_hit(st, "org_s", 109999, 10000, 3, &rate),
           0, "another org");
    is_int(rate.allowed, 1, "another org has its own window");

    is_int(pdf_report_store_rate_hit(st, "org_r", 110000, 10000, 3, &rate),
           0, "hit when the first left the window");
    is_int(rate.allowed, 1, "allowed again");
    is_int(rate.remaining, 0, "no slot left");
    is_int(rate.reset_s, 1, "next slot frees in 1 s");

    is_int(pdf_report_store_rate_hit(st, "org_r", 110500, 10000, 3, &rate),
           0, "refused hit");
    is_int(rate.allowed, 0, "refused");
    is_int(rate.reset_s, 1, "second counted request leaves at 111000");

    /* user directory */

    memset(users, 0, sizeof(users));
    users[0].id = "US1";
    users[0].id_len = 3;
    users[0].json = "{\"id\":\"US1\"}";
    users[0].json_len = strlen(users[0].json);
    users[0].stem = "SQR_J_Smith_";
    users[0].stem_len = 12;
    users[0].orgs = "org_a\0org_b";
    users[0].orgs_len = 12;
    users[1].id = "US2";
    users[1].id_len = 3;
    users[1].json = "{\"id\":\"US2\"}";
    users[1].json_len = strlen(users[1].json);
    users[1].stem = "SQR_X_X_";
    users[1].stem_len = 8;

    is_int(pdf_report_store_users_replace(st, users, 2), 0, "load users");
    is_int(pdf_report_store_user_get(st, "US2", 3, &json, &len), 0,
           "get US2");
    is_str(json, "{\"id\":\"US2\"}", "US2 record");
    free(json);

    {
        char    stem[PDF_REPORT_FILENAME_MAX];
        size_t  stem_len;

        is_int(pdf_report_store_user_access(st, "org_b", "US1", 3, stem,
                                            &stem_len),
               0, "access: US1 is connected to its second org");
        is_str(stem, "SQR_J_Smith_", "access: with its filename stem");
        is_int(stem_len, 12, "access: stem length");
        is_int(pdf_report_store_user_access(st, "org_a", "US1", 3, stem,
                                            &stem_len),
               0, "access: and to its first");
        is_int(pdf_report_store_user_access(st, "org_c", "US1", 3, stem,
                                            &stem_len),
               PDF_REPORT_STORE_NOT_CONNECTED, "access: not to another");
        is_int(pdf_report_store_user_access(st, "org_a", "US2", 3, stem,
                                            &stem_len),
               PDF_REPORT_STORE_NOT_CONNECTED,
               "access: a user with no connection exists, not connected");
        is_int(pdf_report_store_user_access(st, "org_a", "US9", 3, stem,
                                            &stem_len),
               PDF_REPORT_STORE_NOT_FOUND, "access: an unknown user");
        is_int(pdf_report_store_user_access(st, "org_a", "US1", 2, stem,
                                            &stem_len),
               PDF_REPORT_STORE_NOT_FOUND, "access: keys are exact");

        users[0].orgs_len = 6;

        is_int(pdf_report_store_users_replace(st, users, 1), 0,
               "reload users: US1 keeps org_a only, US2 gone");
        is_int(pdf_report_store_user_access(st, "org_b", "US1", 3, stem,
                                            &stem_len),
               PDF_REPORT_STORE_NOT_CONNECTED,
               "access: a connection gone after reload is gone");
        is_int(pdf_report_store_user_access(st, "org_a", "US2", 3, stem,
                                            &stem_len),
               PDF_REPORT_STORE_NOT_FOUND, "access: US2 unknown now");
    }

    is_int(pdf_report_store_user_get(st, "US2", 3, &json, &len),
           PDF_REPORT_STORE_NOT_FOUND, "US2 gone after reload");

    /* finished jobs imported in one transaction, all or nothing */
    {
        pdf_report_job_t  imp[3];

        const char  *d = "77777777-7777-4777-8777-777777777777";
        const char  *e = "88888888-8888-4888-8888-888888888888";

        imp[0] = new_job(d, "org_imp", "U1", 5000);
        imp[0].status = PDF_REPORT_COMPLETE;
        imp[0].size_bytes = 24000;
        imp[1] = new_job(e, "org_imp", "U1", 5001);
        imp[1].status = PDF_REPORT_FAILED;
        snprintf(imp[1].error_code, sizeof(imp[1].error_code), "TIMEOUT");
        imp[2] = new_job(c, "org_imp", "U2", 5002);     /* c exists */
        imp[2].status = PDF_REPORT_COMPLETE;

        is_int(pdf_report_store_jobs_import(st, imp, 3),
               PDF_REPORT_STORE_EXISTS, "import: an existing id refused");
        is_int(pdf_report_store_job_get(st, d, &got),
               PDF_REPORT_STORE_NOT_FOUND, "import: and nothing written");

        imp[2].status = PDF_REPORT_PENDING;
        is_int(pdf_report_store_jobs_import(st, imp + 1, 2), EINVAL,
               "import: an unfinished job refused");

        is_int(pdf_report_store_jobs_import(st, imp, 2), 0,
               "import: two finished jobs");
        is_int(pdf_report_store_job_get(st, d, &got), 0, "import: D there");
        ok(got.status == PDF_REPORT_COMPLETE && got.size_bytes == 24000
           && strcmp(got.org, "org_imp") == 0, "import: D as written");
        is_int(pdf_report_store_job_get(st, e, &got), 0, "import: E there");
        is_str(got.error_code, "TIMEOUT", "import: E's error code");

        job = new_job("99999999-9999-4999-8999-999999999999", "org_imp",
                      "U1", 6000);
        is_int(pdf_report_store_job_create(st, &job, pending), 0,
               "import: nothing pending for their user");
    }

    pdf_report_store_close(st);

    /* reopen: everything persisted */

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "reopen");
    is_int(pdf_report_store_job_get(st, a, &got), 0, "A after reopen");
    is_int(got.status, PDF_REPORT_COMPLETE, "still complete");

    /*
     * A backlog: 2,000 PENDING jobs and no free slot.  The pass stops at
     * the first job it cannot take (one waiting, not 2,000) and still
     * fails the old ones that timed out in front of it.
     */
    rc = create_jobs(st, "org_backlog", "b10c", 'B', 100000, 2000, &i);

    is_int(rc, 0, "backlog: 2000 jobs created");

    /* the first 11 timed out */
    scan = new_scan(100000 + 300000 + 10, 300000, 0);

    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "backlog: a scan with no slot");
    /* and the import test's PENDING job, older still */
    is_int(res.failed, 12, "backlog: the 11 timed-out jobs failed");
    is_int(pdf_report_store_job_get(st,
                                    "0000000a-0000-4000-8000-00000000b10c",
                                    &got), 0, "backlog: the 11th job");
    is_str(got.error_code, "TIMEOUT", "backlog: FAILED TIMEOUT");
    is_int(res.waiting, 1, "backlog: the pass stopped at the first waiting");
    is_int(pdf_report_store_job_get(st,
                                    "0000000b-0000-4000-8000-00000000b10c",
                                    &got), 0, "backlog: the 12th job");
    is_int(got.status, PDF_REPORT_PENDING, "backlog: still PENDING");

    scan.max_claims = 2;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "backlog: a scan with two slots");
    is_int(res.claimed, 2, "backlog: two claimed");
    is_str(claims[0].id, "0000000b-0000-4000-8000-00000000b10c",
           "backlog: the oldest first");

    pdf_report_store_close(st);

    /* a full map: new jobs are refused while accepted ones still move */

    snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
    if (system(cmd) != 0) {
        printf("# could not empty %s\n", dir);
    }

    is_int(pdf_report_store_open(&st, dir, 1024 * 1024, &fmt), 0,
           "open a 1 MB store");

    rc = create_jobs(st, "org_full", "0000", 'U', 1000, 100000, &i);

    is_int(rc, PDF_REPORT_STORE_FULL, "creation stops with STORE_FULL");
    ok(i > 1000, "after %d jobs", i);

    scan = new_scan(2000000, 1000000000, 4);

    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "claims still work in a full store");
    is_int(res.claimed, 4, "four claimed");

    for (i = 0; i < 4; i++) {
        done = claims[i];
        done.status = PDF_REPORT_FAILED;
        snprintf(done.error_code, sizeof(done.error_code), "TEST");
        rc = pdf_report_store_job_finish(st, &done, claims[i].lease_token,
                                         2000001);
        if (rc != 0) {
            break;
        }
    }

    is_int(rc, 0, "and so does finishing them");

    scan.now_ms = 2000000000;
    scan.max_claims = 0;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "timing everything out in a full store");
    ok(res.failed > 0, "timed out %u jobs in one pass", res.failed);

    pdf_report_store_close(st);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", dir);
    }

    return done_testing();
}
