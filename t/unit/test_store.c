
/*
 * The LMDB store on a real environment in a temporary directory: jobs,
 * the pending index, the sliding window, claims and leases, timeouts,
 * the user directory and the format check; retention, erasure when a
 * directory load revokes a pair, the migration of a version-1 store, and
 * a full map that clears once the purge frees its pages.
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


/* directory lines for the erasure tests: a user CONNECTED to orgs */
#define CONN(org)  "{\"org_id\":\"" org "\",\"connection_status\":" \
                   "\"CONNECTED\"}"
#define EU(id, conns)  "{\"id\":\"" id "\",\"connections\":[" conns "]}\n"


/* a job of (org, user) created at t, claimed and finished at t + 10 */
static int
finished_job(pdf_report_store_t *st, const char *id, const char *org,
    const char *user, int64_t t, uint32_t status)
{
    int                       rc;
    char                      pending[PDF_REPORT_UUID_LEN + 1];
    pdf_report_job_t          job, claim;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;

    job = new_job(id, org, user, t);

    rc = pdf_report_store_job_create(st, &job, pending);
    if (rc != 0) {
        return rc;
    }

    /* only this job is PENDING: the pass claims it */
    scan = new_scan(t + 5, 300000, 1);

    rc = pdf_report_store_scan(st, &scan, &claim, &res);
    if (rc != 0 || res.claimed != 1 || strcmp(claim.id, id) != 0) {
        return rc ? rc : -1;
    }

    if (status == PDF_REPORT_IN_PROGRESS) {
        return 0;
    }

    job = claim;
    job.status = status;

    if (status == PDF_REPORT_FAILED) {
        snprintf(job.error_code, sizeof(job.error_code), "TEST");
    }

    return pdf_report_store_job_finish(st, &job, claim.lease_token, t + 10);
}


/* set every item's outcome, then record them */
static int
purge_done_all(pdf_report_store_t *st, pdf_report_purge_t *items, size_t n,
    unsigned outcome, int64_t next_ms, unsigned *retention, unsigned *revoked)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        items[i].outcome = outcome;
        items[i].next_ms = next_ms;
    }

    return pdf_report_store_purge_done(st, items, n, retention, revoked);
}


static void
test_retention(const char *dir)
{
    size_t               n;
    unsigned             more, fmt, ret, rev;
    pdf_report_job_t     got;
    pdf_report_store_t  *st;
    pdf_report_purge_t   items[8], stale[8];

    const char  *a = "a0000000-0000-4000-8000-000000000001";
    const char  *b = "b0000000-0000-4000-8000-000000000002";
    const char  *c = "c0000000-0000-4000-8000-000000000003";

    /* a: COMPLETE at 1010; b: FAILED at 20010; c: still running */

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "retention: open");
    is_int(fmt, PDF_REPORT_STORE_FORMAT, "retention: a new store is of "
           "this layout version");
    is_int(finished_job(st, a, "org_r", "U1", 1000, PDF_REPORT_COMPLETE), 0,
           "retention: job a COMPLETE at 1010");
    is_int(finished_job(st, b, "org_r", "U2", 20000, PDF_REPORT_FAILED), 0,
           "retention: job b FAILED at 20010");
    is_int(finished_job(st, c, "org_r", "U3", 30000, PDF_REPORT_IN_PROGRESS),
           0, "retention: job c running");

    is_int(pdf_report_store_purge_due(st, 1000000, -1), 0,
           "retention off: nothing is ever due");
    is_int(pdf_report_store_purge_due(st, 1010 + 5000 - 1, 5000), 0,
           "retention 5 s: nothing due 1 ms before a's time");
    is_int(pdf_report_store_purge_due(st, 1010 + 5000, 5000), 1,
           "retention 5 s: a due at completedAt + 5 s");

    is_int(pdf_report_store_purge_take(st, 6010, 5000, 60000, items, 8, &n,
                                       &more),
           0, "take at 6010");
    is_int(n, 1, "take: one job due");
    is_str(items[0].id, a, "take: it is a");
    is_str(items[0].org, "org_r", "take: with its org, for the object key");
    is_int(items[0].attempts, 0, "take: no failed delete yet");
    is_int(items[0].erased, 0, "take: retention, not erasure");
    is_int(more, 0, "take: nothing left over");

    is_int(pdf_report_store_job_get(st, a, &got), 0,
           "a still answers while its object is being deleted");
    is_int(pdf_report_store_purge_due(st, 6010, 5000), 0,
           "a leased entry is not due for another pass");
    is_int(pdf_report_store_purge_take(st, 6011, 5000, 60000, stale, 8, &n,
                                       &more),
           0, "another pass");
    is_int(n, 0, "another pass takes nothing while the lease holds");

    /* S3 refused: due again at the time given, one attempt more */

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_FAILED, 9000, &ret,
                          &rev),
           0, "done: the delete failed");
    is_int(ret + rev, 0, "done: nothing deleted");
    is_int(pdf_report_store_job_get(st, a, &got), 0,
           "the job stays while its object does");
    is_int(pdf_report_store_purge_due(st, 8999, 5000), 0,
           "not due before its retry time");
    is_int(pdf_report_store_purge_take(st, 9000, 5000, 60000, items, 8, &n,
                                       &more),
           0, "take at the retry time");
    ok(n == 1 && strcmp(items[0].id, a) == 0 && items[0].attempts == 1,
       "take: a again, one failed attempt counted");

    /* not tried (the batch stopped): the count does not move */

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_UNTRIED, 9500, &ret,
                          &rev),
           0, "done: not tried");
    is_int(pdf_report_store_purge_take(st, 9500, 5000, 60000, items, 8, &n,
                                       &more),
           0, "take again");
    ok(n == 1 && items[0].attempts == 1, "take: still one attempt");

    /* the lease runs out (the worker died): another pass takes it over */

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_UNTRIED, 9600, &ret,
                          &rev),
           0, "done: not tried");
    is_int(pdf_report_store_purge_take(st, 9600, 5000, 1000, stale, 8, &n,
                                       &more),
           0, "take with a lease of 1 s");
    is_int(pdf_report_store_purge_take(st, 10600, 5000, 60000, items, 8, &n,
                                       &more),
           0, "take after the lease ran out");
    ok(n == 1 && strcmp(items[0].id, a) == 0, "take: a taken over");
    is_int(purge_done_all(st, stale, 1, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done of the first pass, too late");
    is_int(ret, 0, "done: a lease taken over is left to its new pass");
    is_int(pdf_report_store_job_get(st, a, &got), 0, "a still there");

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done: the object is gone");
    is_int(ret, 1, "done: one job deleted for retention");
    is_int(rev, 0, "done: none for erasure");
    is_int(pdf_report_store_job_get(st, a, &got), PDF_REPORT_STORE_NOT_FOUND,
           "a is gone");
    is_int(pdf_report_store_job_record(st, a, &got),
           PDF_REPORT_STORE_NOT_FOUND, "its record too");

    /* b FAILED at 20010: retention starts at updatedAt */

    is_int(pdf_report_store_purge_due(st, 25009, 5000), 0,
           "b not due 1 ms before updatedAt + 5 s");
    is_int(pdf_report_store_purge_take(st, 25010, 5000, 60000, items, 8, &n,
                                       &more),
           0, "take at 25010");
    ok(n == 1 && strcmp(items[0].id, b) == 0, "take: b");

    /* a reload lengthens retention: b goes back to waiting */

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_FAILED, 25100,
                          &ret, &rev),
           0, "done: b's delete failed");
    is_int(pdf_report_store_purge_take(st, 25100, 60000, 60000, items, 8, &n,
                                       &more),
           0, "take with a retention of 60 s");
    is_int(n, 0, "take: b is not due under the longer retention");
    is_int(pdf_report_store_purge_due(st, 25100, 60000), 0,
           "nothing due under it");
    is_int(pdf_report_store_purge_due(st, 80009, 60000), 0,
           "b not due 1 ms before updatedAt + 60 s");
    is_int(pdf_report_store_purge_due(st, 80010, 60000), 1,
           "b due at updatedAt + 60 s");
    is_int(pdf_report_store_purge_take(st, 80010, -1, 60000, items, 8, &n,
                                       &more),
           0, "take with retention off");
    is_int(n, 0, "take: nothing with retention off");

    /* c is running: never due; the batch is bounded */

    is_int(pdf_report_store_purge_due(st, 100000000, 1), 1,
           "b due with any retention");
    is_int(pdf_report_store_purge_take(st, 100000000, 1, 60000, items, 8,
                                       &n, &more),
           0, "take far in the future");
    ok(n == 1 && strcmp(items[0].id, b) == 0,
       "take: b only, not the running c");
    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done: b gone");
    is_int(pdf_report_store_job_get(st, c, &got), 0, "c stays");

    pdf_report_store_close(st);
}


static void
test_erasure(const char *dir)
{
    char                  pending[PDF_REPORT_UUID_LEN + 1];
    size_t                n;
    int64_t               now;
    unsigned              more, fmt, ret, rev;
    pdf_report_job_t      got, job, claim;
    pdf_report_store_t   *st;
    pdf_report_purge_t    items[8];
    pdf_report_users_load_t  load;

    const char  *j1 = "10000000-0000-4000-8000-000000000001";
    const char  *j2 = "20000000-0000-4000-8000-000000000002";
    const char  *j3 = "30000000-0000-4000-8000-000000000003";
    const char  *j4 = "40000000-0000-4000-8000-000000000004";
    const char  *j5 = "50000000-0000-4000-8000-000000000005";
    const char  *j6 = "60000000-0000-4000-8000-000000000006";

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "erasure: open");
    pdf_report_store_set_erase_on_revoke(st, 1);

    /* US1 in org_a and org_b, US2 in org_a, US3 in org_a */
    is_int(load_users(st, dir, EU("US1", CONN("org_a") "," CONN("org_b"))
                               EU("US2", CONN("org_a"))
                               EU("US3", CONN("org_a")), 0, 0, &load),
           0, "erasure: directory loaded");

    is_int(finished_job(st, j6, "org_b", "US1", 500, PDF_REPORT_FAILED), 0,
           "j6 (org_b, US1) FAILED");
    is_int(finished_job(st, j1, "org_a", "US1", 1000, PDF_REPORT_COMPLETE),
           0, "j1 (org_a, US1) COMPLETE");
    is_int(finished_job(st, j3, "org_b", "US1", 2000, PDF_REPORT_COMPLETE),
           0, "j3 (org_b, US1) COMPLETE");
    is_int(finished_job(st, j2, "org_a", "US1", 3000, PDF_REPORT_IN_PROGRESS),
           0, "j2 (org_a, US1) running");
    job = new_job(j4, "org_a", "US2", 4000);
    is_int(pdf_report_store_job_create(st, &job, pending), 0,
           "j4 (org_a, US2) PENDING");
    is_int(pdf_report_store_job_record(st, j2, &claim), 0, "j2's claim");

    /* a reload: US1 no longer connected to org_a */

    is_int(load_users(st, dir, EU("US1", CONN("org_b"))
                               EU("US2", CONN("org_a"))
                               EU("US3", CONN("org_a")), 0, 0, &load),
           0, "reload: US1 left org_a");
    is_int(load.revoked_pairs, 1, "reload: one pair revoked");
    is_int(load.erased_pairs, 1, "reload: with jobs");
    is_int(load.erased_jobs, 2, "reload: its two jobs erased");
    is_str(revoked, "org_a/US1", "reload: it is (org_a, US1)");

    is_int(pdf_report_store_job_get(st, j1, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j1 answers 404 at once");
    is_int(pdf_report_store_job_get(st, j2, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j2 answers 404 at once");
    is_int(pdf_report_store_job_record(st, j2, &got), 0,
           "j2's record stays until its object is gone");
    is_int(got.status, PDF_REPORT_FAILED, "j2 FAILED");
    is_str(got.error_code, "NOT_CONNECTED", "j2 NOT_CONNECTED");
    ok(got.flags & PDF_REPORT_JOB_ERASED, "j2 flagged erased");
    ok(got.flags & PDF_REPORT_JOB_CUT_SHORT, "j2 flagged cut short");
    is_int(pdf_report_store_job_record(st, j1, &got), 0, "j1's record");
    is_int(got.flags, PDF_REPORT_JOB_ERASED, "j1 erased, not cut short");
    is_int(got.status, PDF_REPORT_COMPLETE, "j1 still COMPLETE inside");

    job = claim;
    job.status = PDF_REPORT_COMPLETE;
    is_int(pdf_report_store_job_finish(st, &job, claim.lease_token, 3500),
           PDF_REPORT_STORE_LOST, "j2's running task cannot finish it");
    is_int(pdf_report_store_job_renew(st, j2, claim.lease_token, 3500, 1000),
           PDF_REPORT_STORE_LOST, "nor renew its lease");

    is_int(pdf_report_store_job_get(st, j3, &got), 0,
           "j3 of the same user in another org stays");
    is_int(pdf_report_store_job_get(st, j4, &got), 0,
           "j4 of another user stays");
    is_int(got.status, PDF_REPORT_PENDING, "j4 still PENDING");

    /* due at once (the load's clock), whatever the retention */

    now = pdf_report_now_ms();

    is_int(pdf_report_store_purge_due(st, now, -1), 1,
           "erased jobs are due with retention off");
    is_int(pdf_report_store_purge_take(st, now, -1, 60000, items, 8, &n,
                                       &more),
           0, "take");
    is_int(n, 2, "take: both erased jobs");
    ok(items[0].erased && items[1].erased, "take: as erased");
    ok(!items[0].cut_short && items[1].cut_short,
       "take: j2 as cut short, j1 not");
    is_int(items[1].created_ms, 3000, "take: with its createdAt");
    is_int(purge_done_all(st, items, n, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done: objects gone");
    is_int(rev, 2, "done: two deleted for erasure");
    is_int(ret, 0, "done: none for retention");
    is_int(pdf_report_store_job_record(st, j1, &got),
           PDF_REPORT_STORE_NOT_FOUND, "j1's record gone");

    job = new_job(j5, "org_a", "US1", 6000);
    is_int(pdf_report_store_job_create(st, &job, pending), 0,
           "nothing pending is left of the pair in the store");

    /* the same load again erases nothing more: j5's pair is not
     * connected, but it was not connected before this load either */
    is_int(load_users(st, dir, EU("US1", CONN("org_b"))
                               EU("US2", CONN("org_a"))
                               EU("US3", CONN("org_a"))
                               "{\"id\":\"US9\"}\n", 0, 0, &load),
           0, "a directory with one user more");
    is_int(load.revoked_pairs + load.erased_jobs, 0,
           "nothing revoked by it");
    is_int(pdf_report_store_job_get(st, j5, &got), 0, "j5 stays");

    /* erasure off: a revoked pair keeps its jobs */

    pdf_report_store_set_erase_on_revoke(st, 0);
    is_int(load_users(st, dir, EU("US1", CONN("org_b"))
                               "{\"id\":\"US2\"}\n"
                               EU("US3", CONN("org_a")), 0, 0, &load),
           0, "erasure off: US2 leaves org_a");
    is_int(load.revoked_pairs, 1, "erasure off: the pair is revoked");
    is_int(load.erased_jobs, 0, "erasure off: no job erased");
    is_int(pdf_report_store_job_get(st, j4, &got), 0, "j4 stays");
    is_int(got.status, PDF_REPORT_PENDING, "still PENDING");

    /* a user gone from the directory altogether */

    pdf_report_store_set_erase_on_revoke(st, 1);
    is_int(load_users(st, dir, "{\"id\":\"US2\"}\n"
                               EU("US3", CONN("org_a")), 0, 0, &load),
           0, "US1 gone from the directory");
    is_int(load.erased_pairs, 1, "its one pair with jobs");
    is_int(load.erased_jobs, 2, "j3 and j6");
    is_int(pdf_report_store_job_get(st, j3, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j3 erased with its user");
    is_int(pdf_report_store_job_get(st, j6, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j6 too");
    is_int(pdf_report_store_job_get(st, j5, &got), 0,
           "j5 (org_a, US1, not connected before) stays");
    is_int(pdf_report_store_job_get(st, j4, &got), 0, "j4 stays");

    pdf_report_store_close(st);
}


/*
 * A version-1 store: made here from one of this version by taking away
 * what version 1 did not have, raw LMDB
 */
static int
make_v1(const char *dir)
{
    int             rc;
    MDB_env        *env;
    MDB_txn        *txn;
    MDB_dbi         dbi;
    MDB_val         k, v;
    unsigned char   fmt[4] = { 0, 0, 0, 1 };
    const char     *names[] = { "retain", "purge", "byuser", "running" };
    int             i;

    if (mdb_env_create(&env) != 0) {
        return -1;
    }

    (void) mdb_env_set_maxdbs(env, 16);

    rc = mdb_env_open(env, dir, 0, 0600);

    if (rc == 0) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    }

    for (i = 0; rc == 0 && i < 4; i++) {
        rc = mdb_dbi_open(txn, names[i], 0, &dbi);

        if (rc == 0) {
            rc = mdb_drop(txn, dbi, 1);
        }
    }

    if (rc == 0) {
        rc = mdb_dbi_open(txn, "meta", 0, &dbi);
    }

    if (rc == 0) {
        k.mv_data = "format";
        k.mv_size = 6;
        v.mv_data = fmt;
        v.mv_size = 4;
        rc = mdb_put(txn, dbi, &k, &v, 0);
    }

    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    }

    mdb_env_close(env);

    return rc;
}


static void
test_migration(const char *dir)
{
    size_t                n, jobs, npend, nrun;
    unsigned              more, fmt;
    pdf_report_job_t      got;
    pdf_report_store_t   *st;
    pdf_report_purge_t    items[8];
    pdf_report_users_load_t  load;

    const char  *j1 = "11000000-0000-4000-8000-000000000001";
    const char  *j2 = "22000000-0000-4000-8000-000000000002";
    const char  *j3 = "33000000-0000-4000-8000-000000000003";

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "migration: open");
    is_int(load_users(st, dir, EU("US1", CONN("org_m")), 0, 0, &load), 0,
           "migration: directory");
    is_int(finished_job(st, j1, "org_m", "US1", 1000, PDF_REPORT_COMPLETE),
           0, "j1 COMPLETE");
    is_int(finished_job(st, j2, "org_m", "US1", 2000, PDF_REPORT_FAILED), 0,
           "j2 FAILED");
    is_int(finished_job(st, j3, "org_m", "US1", 3000, PDF_REPORT_IN_PROGRESS),
           0, "j3 running");
    pdf_report_store_close(st);

    is_int(make_v1(dir), 0, "made a version-1 store of it");

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "a version-1 store opens");
    is_int(fmt, 1, "as version 1");
    is_int(pdf_report_store_purge_due(st, 1000000, 1), 0,
           "nothing due: no index yet");
    is_int(pdf_report_store_migrate(st, &jobs), 0, "migrate");
    is_int(jobs, 3, "three jobs indexed");
    is_int(pdf_report_store_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 0 && nrun == 1, "the running one indexed (%zu, %zu)", npend,
       nrun);
    is_int(pdf_report_store_migrate(st, &jobs), 0, "migrate again");
    is_int(jobs, 0, "nothing to do the second time");
    pdf_report_store_close(st);

    is_int(pdf_report_store_open(&st, dir, 16 * 1024 * 1024, &fmt), 0,
           "reopen");
    is_int(fmt, PDF_REPORT_STORE_FORMAT, "this layout version now");
    pdf_report_store_set_erase_on_revoke(st, 1);

    is_int(pdf_report_store_purge_take(st, 2010 + 1000, 1000, 60000, items,
                                       8, &n, &more),
           0, "retention of the migrated terminal jobs");
    ok(n == 2 && strcmp(items[0].id, j1) == 0 && strcmp(items[1].id, j2) == 0,
       "both due, oldest first; not the running one");

    is_int(load_users(st, dir, "{\"id\":\"US1\"}\n", 0, 0, &load), 0,
           "US1 leaves org_m");
    is_int(pdf_report_store_job_get(st, j3, &got), PDF_REPORT_STORE_NOT_FOUND,
           "the migrated running job is erased");
    is_int(pdf_report_store_job_record(st, j3, &got), 0, "its record");
    is_str(got.error_code, "NOT_CONNECTED", "FAILED NOT_CONNECTED");

    pdf_report_store_close(st);
}


/* a full map clears once deletion frees its pages */
static void
test_full_clears(const char *dir)
{
    int                       rc, i, made;
    size_t                    n, total;
    unsigned                  more, fmt, ret, rev;
    int64_t                   t0, worst;
    char                      pending[PDF_REPORT_UUID_LEN + 1];
    pdf_report_job_t          job, claims[4];
    pdf_report_scan_t         scan;
    pdf_report_store_t       *st;
    pdf_report_purge_t        items[64];
    pdf_report_scan_result_t  res;

    is_int(pdf_report_store_open(&st, dir, 1024 * 1024, &fmt), 0,
           "full: open a 1 MB store");

    rc = create_jobs(st, "org_full", "0000", 'U', 1000, 100000, &made);
    is_int(rc, PDF_REPORT_STORE_FULL, "full: STORE_FULL after %d jobs",
           made);

    /* every job times out: terminal at 5000000 */
    scan = new_scan(5000000, 1000, 0);

    for (i = 0; i < 1000; i++) {
        rc = pdf_report_store_scan(st, &scan, claims, &res);
        if (rc != 0 || res.failed == 0) {
            break;
        }
    }

    is_int(rc, 0, "full: all timed out");

    /* the room the jobs held for their ends: new ones, full again */
    rc = create_jobs(st, "org_full", "0001", 'V', 5000000, 100000, &i);
    is_int(rc, PDF_REPORT_STORE_FULL, "full: full again after %d more", i);

    job = new_job("ffffffff-0000-4000-8000-000000000000", "org_full",
                  "Unew", 5000001);
    is_int(pdf_report_store_job_create(st, &job, pending),
           PDF_REPORT_STORE_FULL, "full: a create is refused");

    total = 0;
    worst = 0;

    for (i = 0; i < 1000; i++) {
        t0 = pdf_report_now_ms();
        rc = pdf_report_store_purge_take(st, 5001000, 1000, 60000, items, 64,
                                         &n, &more);
        if (rc == 0) {
            rc = purge_done_all(st, items, n, PDF_REPORT_PURGE_GONE, 0, &ret,
                                &rev);
        }
        t0 = pdf_report_now_ms() - t0;
        worst = t0 > worst ? t0 : worst;

        if (rc != 0 || n == 0) {
            break;
        }

        total += ret;
    }

    is_int(rc, 0, "full: purged, a few jobs a transaction in this small map");
    is_int(total, made, "full: every job deleted");
    printf("# slowest take + done (two commits): %lld ms\n",
           (long long) worst);

    is_int(pdf_report_store_job_create(st, &job, pending), 0,
           "full: a new job is accepted again");

    pdf_report_store_close(st);
}


int
main(void)
{
    int                       rc, i;
    size_t                    npend, nrun;
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
    is_int(pdf_report_store_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 1 && nrun == 1, "one PENDING, one IN_PROGRESS (%zu, %zu)",
       npend, nrun);

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
    is_int(pdf_report_store_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 0 && nrun == 1, "B still running (%zu, %zu)", npend, nrun);

    job = new_job(c, "org_acme", "US1", 14000);
    is_int(pdf_report_store_job_create(st, &job, pending), 0,
           "a new job once the first is terminal");

    /* timeout */

    scan.now_ms = 14000 + 300000;
    scan.max_claims = 0;
    is_int(pdf_report_store_scan(st, &scan, claims, &res), 0,
           "scan after the timeout");
    is_int(res.failed, 2, "B and C time out");
    is_int(res.ended, 2, "both named for the log");
    ok(res.end[0].timed_out && res.end[1].timed_out
       && strcmp(res.end[0].org, "org_other") == 0,
       "as TIMEOUT, with their orgs (B first: %s)", res.end[0].id);
    is_int(pdf_report_store_job_get(st, c, &got), 0, "get C");
    is_int(got.status, PDF_REPORT_FAILED, "C failed");
    is_str(got.error_code, "TIMEOUT", "with TIMEOUT");
    is_int(pdf_report_store_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 0 && nrun == 0, "none after the timeouts (%zu, %zu)", npend,
       nrun);

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
    ok(res.ended == 1 && !res.end[0].timed_out
       && strcmp(res.end[0].id, job.id) == 0, "named as PROCESSING_FAILED");
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
    is_int(res.ended, PDF_REPORT_SCAN_ENDED_MAX,
           "backlog: the first %d named, the rest counted",
           PDF_REPORT_SCAN_ENDED_MAX);
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

    /* retention and erasure, each on a store of its own */

    snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
    if (system(cmd) != 0) {
        printf("# could not empty %s\n", dir);
    }

    test_retention(dir);

    if (system(cmd) != 0) {
        printf("# could not empty %s\n", dir);
    }

    test_erasure(dir);

    if (system(cmd) != 0) {
        printf("# could not empty %s\n", dir);
    }

    test_migration(dir);

    if (system(cmd) != 0) {
        printf("# could not empty %s\n", dir);
    }

    test_full_clears(dir);

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", dir);
    }

    return done_testing();
}
