
/*
 * The LMDB store on a real environment in a temporary directory: jobs,
 * the pending index, the sliding window, claims and leases, timeouts,
 * the user directory and the format check.
 */


#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <utime.h>
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


/* ---- the user directory, loaded from files ---- */

static char  revoked[4096];


/* every pair a load revokes, in order: "org/user,org/user" */
static void
on_revoked(void *data, const char *org, size_t org_len, const char *user,
    size_t user_len)
{
    size_t  n;

    n = strlen(revoked);
    snprintf(revoked + n, sizeof(revoked) - n, "%s%.*s/%.*s",
             n ? "," : "", (int) org_len, org, (int) user_len, user);
}


/*
 * Write text (unless NULL) to dir/users.jsonl as operators do (a new
 * file renamed over the old one), then load it: chunk of 7 bytes, so
 * that lines cross reads.
 */
static int
load_users(pdf_report_store_t *st, const char *dir, const char *text,
    unsigned check, size_t diff_max, pdf_report_users_load_t *load)
{
    int    rc, fd;
    char   path[256], tmp[300];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/users.jsonl", dir);

    if (text != NULL) {
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "w");
        if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0
            || rename(tmp, path) != 0)
        {
            return errno;
        }
    }

    fd = open(path, O_RDONLY);
    if (fd == -1) {
        return errno;
    }

    memset(load, 0, sizeof(pdf_report_users_load_t));
    load->fd = fd;
    load->check = check;
    load->now_ms = 1000;
    load->chunk = 7;
    load->diff_max = diff_max;
    load->revoked = on_revoked;
    revoked[0] = '\0';

    rc = pdf_report_store_users_load(st, load);

    close(fd);

    return rc;
}


static int
access_of(pdf_report_store_t *st, const char *org, const char *id,
    char *stem)
{
    size_t  stem_len;

    stem[0] = '\0';

    return pdf_report_store_user_access(st, org, id, strlen(id), stem,
                                        &stem_len);
}


/* the stored record of id, "" when none */
static const char *
record_of(pdf_report_store_t *st, const char *id)
{
    char         *json;
    size_t        len;
    static char   buf[1024];

    buf[0] = '\0';

    if (pdf_report_store_user_get(st, id, strlen(id), &json, &len) == 0) {
        snprintf(buf, sizeof(buf), "%s", json);
        free(json);
    }

    return buf;
}


#define U1  "{\"id\":\"US1\",\"first_name\":\"John\",\"last_name\":\"Smith\"," \
            "\"connections\":[{\"org_id\":\"org_a\",\"connection_status\":" \
            "\"CONNECTED\"},{\"org_id\":\"org_b\",\"connection_status\":"    \
            "\"CONNECTED\"}]}"
#define U1B "{\"id\":\"US1\",\"first_name\":\"Mary\",\"last_name\":\"Smith\"," \
            "\"connections\":[{\"org_id\":\"org_a\",\"connection_status\":" \
            "\"CONNECTED\"},{\"org_id\":\"org_b\",\"connection_status\":"    \
            "\"REVOKED\"}]}"
#define U2  "{\"id\":\"US2\"}"
#define U2B "{\"id\":\"US2\",\"city\":\"Leeds\"}"
#define U3  "{\"id\":\"US3\",\"connections\":[{\"org_id\":\"org_a\","      \
            "\"connection_status\":\"CONNECTED\"}]}"
#define U4  "{\"id\":\"US4\",\"connections\":[{\"org_id\":\"org_c\","      \
            "\"connection_status\":\"CONNECTED\"}]}"
#define U1D "{\"id\":\"US1\",\"connections\":["                             \
            "{\"org_id\":\"org_a\",\"connection_status\":\"CONNECTED\"},"    \
            "{\"org_id\":\"org_b\",\"connection_status\":\"CONNECTED\"},"    \
            "{\"org_id\":\"org_a\",\"connection_status\":\"CONNECTED\"}]}"
#define U1E "{\"id\":\"US1\",\"connections\":["                             \
            "{\"org_id\":\"org_a\",\"connection_status\":\"REVOKED\"},"      \
            "{\"org_id\":\"org_b\",\"connection_status\":\"CONNECTED\"},"    \
            "{\"org_id\":\"org_a\",\"connection_status\":\"SUSPENDED\"}]}"


static void
test_directory(pdf_report_store_t **store, const char *dir)
{
    int                       rc;
    char                      stem[PDF_REPORT_FILENAME_MAX], path[256];
    unsigned                  fmt;
    MDB_env                  *env;
    MDB_txn                  *txn;
    MDB_dbi                   dbi;
    MDB_val                   k;
    pdf_report_store_t       *st;
    pdf_report_users_load_t   load;

    st = *store;

    /* a new store: one pass checks and writes; a bad line, nothing */

    is_int(load_users(st, dir, U1 "\n" U2 "\n" U3 "\n{\"id\":7}\n", 0, 0,
                      &load), PDF_REPORT_USERS_INVALID,
           "dir: a first load with a bad line");
    is_int(load.line, 4, "dir: on line 4");
    is_str(record_of(st, "US1"), "", "dir: nothing written");

    /* a first load: everything added */

    is_int(load_users(st, dir, U1 "\n" U2 "\n" U3 "\n", 0, 0, &load), 0,
           "dir: first load");
    is_int(load.unchanged, PDF_REPORT_USERS_LOADED, "dir: loaded");
    ok(load.users == 3 && load.added == 3 && load.changed == 0
       && load.removed == 0, "dir: 3 users, 3 added (%zu %zu %zu %zu)",
       load.users, load.added, load.changed, load.removed);
    is_str(revoked, "", "dir: nothing revoked");
    is_str(record_of(st, "US2"), U2, "dir: US2's record");

    is_int(access_of(st, "org_b", "US1", stem), 0,
           "access: US1 is connected to its second org");
    is_str(stem, "SQR_J_Smith_", "access: with its filename stem");
    is_int(access_of(st, "org_a", "US1", stem), 0, "access: and its first");
    is_int(access_of(st, "org_c", "US1", stem),
           PDF_REPORT_STORE_NOT_CONNECTED, "access: not to another");
    is_int(access_of(st, "org_a", "US2", stem),
           PDF_REPORT_STORE_NOT_CONNECTED,
           "access: a user with no connection exists, not connected");
    is_int(access_of(st, "org_a", "US9", stem), PDF_REPORT_STORE_NOT_FOUND,
           "access: an unknown user");
    is_int(pdf_report_store_user_access(st, "org_a", "US1", 2, stem,
                                        (size_t *) &rc),
           PDF_REPORT_STORE_NOT_FOUND, "access: keys are exact");

    /* the same file again: not loaded (read: it was written just now) */

    is_int(load_users(st, dir, NULL, 0, 0, &load), 0, "dir: same file");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA,
           "dir: unchanged, by its SHA-256 (too new for its stat)");
    is_int(load.users, 0, "dir: not parsed");

    /* nginx -t on a changed file: counted, nothing written */

    is_int(load_users(st, dir, U1B "\n" U2 "\n" U4 "\n", 1, 0, &load), 0,
           "dir: check a changed file");
    ok(load.unchanged == PDF_REPORT_USERS_LOADED && load.users == 3
       && load.added == 1 && load.changed == 1 && load.removed == 1,
       "dir: would add 1, change 1, remove 1 (%zu %zu %zu)",
       load.added, load.changed, load.removed);
    is_str(revoked, "", "dir: check revokes nothing");
    is_int(access_of(st, "org_b", "US1", stem), 0, "dir: check wrote nothing");
    is_str(record_of(st, "US4"), "", "dir: US4 not added by the check");

    /* the same, loaded: the difference */

    is_int(load_users(st, dir, NULL, 0, 0, &load), 0, "dir: changed file");
    ok(load.unchanged == PDF_REPORT_USERS_LOADED && load.users == 3
       && load.added == 1 && load.changed == 1 && load.removed == 1
       && load.revoked_pairs == 2 && !load.second_read,
       "dir: added 1, changed 1, removed 1, 2 revoked (%zu %zu %zu %zu)",
       load.added, load.changed, load.removed, load.revoked_pairs);
    is_str(revoked, "org_b/US1,org_a/US3",
           "dir: revoked: US1's REVOKED org, US3's org (US3 gone)");
    is_int(access_of(st, "org_b", "US1", stem),
           PDF_REPORT_STORE_NOT_CONNECTED, "dir: US1 not connected to org_b");
    is_int(access_of(st, "org_a", "US1", stem), 0, "dir: still to org_a");
    is_str(stem, "SQR_M_Smith_", "dir: with the new stem (Mary)");
    is_int(access_of(st, "org_a", "US3", stem), PDF_REPORT_STORE_NOT_FOUND,
           "dir: US3 gone");
    is_int(access_of(st, "org_c", "US4", stem), 0, "dir: US4 connected");
    is_str(record_of(st, "US1"), U1B, "dir: US1's new record");
    is_str(record_of(st, "US2"), U2, "dir: US2 as it was");

    /* a bad line in a changed file: nothing written */

    is_int(load_users(st, dir, U1 "\n" U2B "\n{\"id\":\"US4\",\n", 0, 0,
                      &load), PDF_REPORT_USERS_INVALID,
           "dir: a bad line refused");
    is_int(load.line, 3, "dir: on line 3");
    ok(strncmp(load.err, "invalid JSON at column", 22) == 0,
       "dir: invalid JSON: %s", load.err);
    is_str(revoked, "", "dir: nothing revoked");
    is_str(record_of(st, "US2"), U2, "dir: US2 kept (line 2 not applied)");
    is_str(record_of(st, "US1"), U1B, "dir: US1 kept");
    is_int(access_of(st, "org_c", "US4", stem), 0, "dir: US4 kept");

    is_int(load_users(st, dir, U1B "\n" U2 "\n" U4 "\n" U2B "\n", 0, 0,
                      &load), PDF_REPORT_USERS_INVALID,
           "dir: a stored line and a changed copy of its id: refused");
    is_int(load.line, 4, "dir: the later line");
    is_str(load.err, "duplicate \"id\" \"US2\"", "dir: duplicate id");
    is_str(record_of(st, "US2"), U2, "dir: US2 kept");

    /* only a blank line more: read, nothing to change */

    is_int(load_users(st, dir, U1B "\n\n" U2 "\n" U4 "\n", 0, 0, &load), 0,
           "dir: a blank line added");
    ok(load.unchanged == PDF_REPORT_USERS_LOADED && load.users == 3
       && load.added + load.changed + load.removed == 0,
       "dir: nothing added, changed or removed");
    is_int(load_users(st, dir, NULL, 0, 0, &load), 0, "dir: again");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA, "dir: unchanged");

    /* back to the first file, the difference too large to keep */

    is_int(load_users(st, dir, U1 "\n" U2 "\n" U3 "\n", 0, 10, &load), 0,
           "dir: a difference past diff_max");
    ok(load.second_read && load.users == 3 && load.added == 1
       && load.changed == 1 && load.removed == 1,
       "dir: read twice; added 1, changed 1, removed 1 (%zu %zu %zu)",
       load.added, load.changed, load.removed);
    is_str(revoked, "org_c/US4", "dir: revoked US4's org");
    is_int(access_of(st, "org_b", "US1", stem), 0, "dir: US1 and org_b again");
    is_int(access_of(st, "org_a", "US3", stem), 0, "dir: US3 back");
    is_str(record_of(st, "US4"), "", "dir: US4 gone");

    /* an org listed twice; then one of its statuses changes */

    is_int(load_users(st, dir, U1D "\n" U2 "\n" U3 "\n", 0, 0, &load), 0,
           "dir: org_a listed twice");
    ok(load.changed == 1 && load.revoked_pairs == 0,
       "dir: changed, nothing revoked");
    is_int(load_users(st, dir, U1E "\n" U2 "\n" U3 "\n", 0, 0, &load), 0,
           "dir: org_a REVOKED and SUSPENDED");
    is_str(revoked, "org_a/US1", "dir: the pair revoked once");
    is_int(access_of(st, "org_a", "US1", stem),
           PDF_REPORT_STORE_NOT_CONNECTED, "dir: US1 not connected to org_a");
    is_int(access_of(st, "org_b", "US1", stem), 0, "dir: still to org_b");

    /* once its times are 2 s older than its load: not even read */

    sleep(3);

    is_int(load_users(st, dir, NULL, 0, 0, &load), 0, "dir: later");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA,
           "dir: still read once (its load was too close to its change)");
    is_int(load_users(st, dir, NULL, 0, 0, &load), 0, "dir: later again");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_STAT,
           "dir: unchanged by its inode, size and times");

    snprintf(path, sizeof(path), "%s/users.jsonl", dir);
    is_int(utime(path, NULL), 0, "dir: touched");
    is_int(load_users(st, dir, NULL, 0, 0, &load), 0, "dir: touched file");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA,
           "dir: read again, the same content");

    /*
     * Something else changed the users db (as an older module would):
     * the fingerprint no longer vouches for it, the file is read whole.
     */

    pdf_report_store_close(st);

    rc = mdb_env_create(&env);
    (void) mdb_env_set_maxdbs(env, 16);
    rc = rc ? rc : mdb_env_open(env, dir, 0, 0600);
    rc = rc ? rc : mdb_txn_begin(env, NULL, 0, &txn);
    rc = rc ? rc : mdb_dbi_open(txn, "users", 0, &dbi);
    k.mv_data = "US2";
    k.mv_size = 3;
    rc = rc ? rc : mdb_del(txn, dbi, &k, NULL);
    rc = rc ? rc : mdb_txn_commit(txn);
    mdb_env_close(env);
    is_int(rc, 0, "dir: US2 deleted behind the store's back");

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "dir: reopened");
    *store = st;

    is_int(load_users(st, dir, NULL, 0, 0, &load), 0,
           "dir: the same file, a changed store");
    ok(load.unchanged == PDF_REPORT_USERS_LOADED && load.added == 1
       && load.changed == 0 && load.removed == 0,
       "dir: read whole, US2 added again (%zu %zu %zu)",
       load.added, load.changed, load.removed);
    is_str(record_of(st, "US2"), U2, "dir: US2 back");

    is_int(load_users(st, dir, "", 0, 0, &load), 0, "dir: an empty file");
    ok(load.users == 0 && load.removed == 3, "dir: everyone removed");
    is_str(revoked, "org_b/US1,org_a/US3", "dir: their pairs revoked");
    is_int(access_of(st, "org_a", "US3", stem), PDF_REPORT_STORE_NOT_FOUND,
           "dir: US3 unknown now");
}


int
main(void)
{
    int                       rc, i;
    char                      dir[] = "/tmp/pdf-report-store-XXXXXX";
    char                      pending[PDF_REPORT_UUID_LEN + 1];
    char                      cmd[256];
    unsigned                  fmt;
    pdf_report_store_t       *st;
    pdf_report_job_t          job, got, claims[4], done;
    pdf_report_rate_t         rate;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;

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

    test_directory(&st, dir);

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
