
/*
 * The PostgreSQL store against a real PostgreSQL (Debian 12's 15): the
 * cases of test_store.c and test_store_batch.c with the same answers,
 * then what only a shared database has: rate hits and creates racing
 * from threads and from two pools (two edges), the schema created by
 * two at once and refused when newer, NOTIFY on a create, and the
 * database going away and coming back under an open pool.
 *
 * The cluster: PDF_REPORT_PG_URI when set (the down-and-up case is then
 * left out, not skipped silently: it says so); otherwise one started
 * here with tools/pg-test-cluster (PDF_REPORT_PG_CLUSTER names it), and
 * a test that cannot start it fails.
 */


#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <utime.h>
#include <pthread.h>
#include <poll.h>
#include <sys/wait.h>
#include <libpq-fe.h>
#include <jansson.h>

#include "tap.h"
#include "pdf_report_pg.h"


static char         base_uri[512];
static char         cluster_dir[] = "/tmp/pdf-report-pg-XXXXXX";
static const char  *cluster;
static int          own_cluster;
static PGconn      *admin;


/* ---- the cluster and its databases ---- */

static int
sh(const char *fmt, const char *arg)
{
    char  cmd[1024];

    snprintf(cmd, sizeof(cmd), fmt, cluster, arg);

    /* what the child writes must not land inside a buffered TAP line */
    fflush(stdout);

    return system(cmd);
}


static int
start_cluster(void)
{
    char   cmd[1024];
    FILE  *f;

    cluster = getenv("PDF_REPORT_PG_CLUSTER");
    if (cluster == NULL) {
        cluster = "tools/pg-test-cluster";
    }

    if (mkdtemp(cluster_dir) == NULL) {
        return -1;
    }

    /* stopped by the script itself should this test crash */
    snprintf(cmd, sizeof(cmd), "'%s' start '%s' %ld", cluster, cluster_dir,
             (long) getpid());

    fflush(stdout);
    f = popen(cmd, "r");
    if (f == NULL) {
        return -1;
    }

    if (fgets(base_uri, sizeof(base_uri), f) == NULL) {
        base_uri[0] = '\0';
    }

    if (pclose(f) != 0 || base_uri[0] == '\0') {
        return -1;
    }

    base_uri[strcspn(base_uri, "\n")] = '\0';
    own_cluster = 1;

    return 0;
}


/* the base URI with another database name */
static const char *
uri_of(const char *db)
{
    char         *slash;
    static char   uri[600];

    snprintf(uri, sizeof(uri), "%s", base_uri);

    slash = strrchr(uri, '/');
    if (slash != NULL && slash > uri && slash[-1] != '/') {
        snprintf(slash + 1, sizeof(uri) - (slash + 1 - uri), "%s", db);
    }

    return uri;
}


static int
sql(const char *text)
{
    int        ok;
    PGresult  *r;

    r = PQexec(admin, text);
    ok = (PQresultStatus(r) == PGRES_COMMAND_OK
          || PQresultStatus(r) == PGRES_TUPLES_OK);

    if (!ok) {
        printf("# %s: %s", text, PQerrorMessage(admin));
    }

    PQclear(r);

    return ok ? 0 : -1;
}


static void
quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}


/* a connection of the test's own, its notices unprinted (they would cut
 * into the TAP lines on stdout) */
static PGconn *
connect_to(const char *uri)
{
    PGconn  *conn;

    conn = PQconnectdb(uri);

    if (conn != NULL) {
        (void) PQsetNoticeProcessor(conn, quiet, NULL);
    }

    return conn;
}


/* a statement on another database */
static int
db_sql(const char *db, const char *text)
{
    int        ok;
    PGconn    *conn;
    PGresult  *r;

    conn = connect_to(uri_of(db));
    r = PQexec(conn, text);
    ok = (PQresultStatus(r) == PGRES_COMMAND_OK
          || PQresultStatus(r) == PGRES_TUPLES_OK);

    if (!ok) {
        printf("# %s: %s", text, PQerrorMessage(conn));
    }

    PQclear(r);
    PQfinish(conn);

    return ok ? 0 : -1;
}


/* a new database and a pool on it with the schema made */
static pdf_report_pg_t *
fresh(const char *db, unsigned pool)
{
    char              q[256], err[256];
    unsigned          found;
    pdf_report_pg_t  *pg;

    snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", db);
    (void) sql(q);
    snprintf(q, sizeof(q), "CREATE DATABASE %s ENCODING 'UTF8'", db);

    if (sql(q) != 0
        || pdf_report_pg_open(&pg, uri_of(db), pool, err, sizeof(err)) != 0)
    {
        return NULL;
    }

    if (pdf_report_pg_schema(pg, &found, err, sizeof(err)) != 0) {
        printf("# schema: %s\n", err);
        pdf_report_pg_close(pg);
        return NULL;
    }

    return pg;
}


/* ---- as test_store.c ---- */

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


static int
create_jobs(pdf_report_pg_t *st, const char *org, const char *tail, char u,
    int64_t t0, int n, int *made)
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

        rc = pdf_report_pg_job_create(st, &job, pending);
        if (rc != 0) {
            break;
        }
    }

    *made = i;

    return rc;
}


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


static char  revoked[4096];


static void
on_revoked(void *data, const char *org, size_t org_len, const char *user,
    size_t user_len)
{
    size_t  n;

    n = strlen(revoked);
    snprintf(revoked + n, sizeof(revoked) - n, "%s%.*s/%.*s",
             n ? "," : "", (int) org_len, org, (int) user_len, user);
}


static int
load_users(pdf_report_pg_t *st, const char *dir, const char *text,
    unsigned check, pdf_report_users_load_t *load)
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
    load->revoked = on_revoked;
    revoked[0] = '\0';

    rc = pdf_report_pg_users_load(st, load);

    close(fd);

    return rc;
}


static int
access_of(pdf_report_pg_t *st, const char *org, const char *id, char *stem)
{
    size_t  stem_len;

    stem[0] = '\0';

    return pdf_report_pg_user_access(st, org, id, strlen(id), stem,
                                     &stem_len);
}


/* 1 when the stored record of id is the JSON want (jsonb reorders) */
static int
record_is(pdf_report_pg_t *st, const char *id, const char *want)
{
    int      same;
    char    *json;
    size_t   len;
    json_t  *a, *b;

    if (pdf_report_pg_user_get(st, id, strlen(id), &json, &len) != 0) {
        return want == NULL;
    }

    if (want == NULL) {
        free(json);
        return 0;
    }

    a = json_loads(json, 0, NULL);
    b = json_loads(want, 0, NULL);
    same = (a != NULL && b != NULL && json_equal(a, b));

    json_decref(a);
    json_decref(b);
    free(json);

    return same;
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
test_directory(pdf_report_pg_t *st, const char *dir)
{
    int                       rc;
    char                      stem[PDF_REPORT_FILENAME_MAX], path[256];
    pdf_report_users_load_t   load;

    is_int(load_users(st, dir, U1 "\n" U2 "\n" U3 "\n{\"id\":7}\n", 0,
                      &load), PDF_REPORT_USERS_INVALID,
           "dir: a first load with a bad line");
    is_int(load.line, 4, "dir: on line 4");
    ok(record_is(st, "US1", NULL), "dir: nothing written");

    is_int(load_users(st, dir, U1 "\n" U2 "\n" U3 "\n", 0, &load), 0,
           "dir: first load");
    is_int(load.unchanged, PDF_REPORT_USERS_LOADED, "dir: loaded");
    ok(load.users == 3 && load.added == 3 && load.changed == 0
       && load.removed == 0, "dir: 3 users, 3 added (%zu %zu %zu %zu)",
       load.users, load.added, load.changed, load.removed);
    is_str(revoked, "", "dir: nothing revoked");
    ok(record_is(st, "US2", U2), "dir: US2's record");

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
    is_int(pdf_report_pg_user_access(st, "org_a", "US1", 2, stem,
                                     (size_t *) &rc),
           PDF_REPORT_STORE_NOT_FOUND, "access: keys are exact");

    is_int(load_users(st, dir, NULL, 0, &load), 0, "dir: same file");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA,
           "dir: unchanged, by its SHA-256 (too new for its stat)");
    is_int(load.users, 0, "dir: not parsed");

    is_int(load_users(st, dir, U1B "\n" U2 "\n" U4 "\n", 1, &load), 0,
           "dir: check a changed file");
    ok(load.unchanged == PDF_REPORT_USERS_LOADED && load.users == 3
       && load.added == 1 && load.changed == 1 && load.removed == 1,
       "dir: would add 1, change 1, remove 1 (%zu %zu %zu)",
       load.added, load.changed, load.removed);
    is_str(revoked, "", "dir: check revokes nothing");
    is_int(access_of(st, "org_b", "US1", stem), 0, "dir: check wrote nothing");
    ok(record_is(st, "US4", NULL), "dir: US4 not added by the check");

    is_int(load_users(st, dir, NULL, 0, &load), 0, "dir: changed file");
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
    ok(record_is(st, "US1", U1B), "dir: US1's new record");
    ok(record_is(st, "US2", U2), "dir: US2 as it was");

    is_int(load_users(st, dir, U1 "\n" U2B "\n{\"id\":\"US4\",\n", 0,
                      &load), PDF_REPORT_USERS_INVALID,
           "dir: a bad line refused");
    is_int(load.line, 3, "dir: on line 3");
    ok(strncmp(load.err, "invalid JSON at column", 22) == 0,
       "dir: invalid JSON: %s", load.err);
    is_str(revoked, "", "dir: nothing revoked");
    ok(record_is(st, "US2", U2), "dir: US2 kept (line 2 not applied)");
    ok(record_is(st, "US1", U1B), "dir: US1 kept");
    is_int(access_of(st, "org_c", "US4", stem), 0, "dir: US4 kept");

    is_int(load_users(st, dir, U1B "\n\n" U2 "\n"
                      "{\"id\":\"US8\",\"x\":1e999999}\n", 0, &load),
           PDF_REPORT_USERS_INVALID,
           "dir: a number jsonb cannot hold (jansson can): refused");
    is_int(load.line, 4, "dir: on line 4 (blank line 2 not a row)");
    is_str(load.err, "refused by PostgreSQL's jsonb: 22003 value overflows "
           "numeric format", "dir: jsonb's reason, no part of the record");
    ok(record_is(st, "US2", U2), "dir: nothing written");

    is_int(load_users(st, dir, U1B "\n" U2 "\n" U4 "\n" U2B "\n", 0,
                      &load), PDF_REPORT_USERS_INVALID,
           "dir: a stored line and a changed copy of its id: refused");
    is_int(load.line, 4, "dir: the later line");
    is_str(load.err, "duplicate \"id\" \"US2\"", "dir: duplicate id");
    ok(record_is(st, "US2", U2), "dir: US2 kept");

    is_int(load_users(st, dir, U1B "\n\n" U2 "\n" U4 "\n", 0, &load), 0,
           "dir: a blank line added");
    ok(load.unchanged == PDF_REPORT_USERS_LOADED && load.users == 3
       && load.added + load.changed + load.removed == 0,
       "dir: nothing added, changed or removed");
    is_int(load_users(st, dir, NULL, 0, &load), 0, "dir: again");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA, "dir: unchanged");

    /* tabs, backslashes and escapes survive COPY's text format */
    is_int(load_users(st, dir, U1 "\n" U2 "\n" U3 "\n"
                      "{\"id\":\"US\\\\5\",\t\"city\":\"a\\tb\\\\c\\n\"}\n",
                      0, &load), 0, "dir: back to the first, and US\\5");
    ok(load.users == 4 && load.added == 2 && load.changed == 1
       && load.removed == 1,
       "dir: added 2, changed 1, removed 1 (%zu %zu %zu)",
       load.added, load.changed, load.removed);
    is_str(revoked, "org_c/US4", "dir: revoked US4's org");
    is_int(access_of(st, "org_b", "US1", stem), 0, "dir: US1 and org_b again");
    is_int(access_of(st, "org_a", "US3", stem), 0, "dir: US3 back");
    ok(record_is(st, "US4", NULL), "dir: US4 gone");
    ok(record_is(st, "US\\5",
                 "{\"id\":\"US\\\\5\",\"city\":\"a\\tb\\\\c\\n\"}"),
       "dir: US\\5's record, escapes and all");

    is_int(load_users(st, dir, U1D "\n" U2 "\n" U3 "\n", 0, &load), 0,
           "dir: org_a listed twice");
    ok(load.changed == 1 && load.revoked_pairs == 0,
       "dir: changed, nothing revoked");
    is_int(load_users(st, dir, U1E "\n" U2 "\n" U3 "\n", 0, &load), 0,
           "dir: org_a REVOKED and SUSPENDED");
    is_str(revoked, "org_a/US1", "dir: the pair revoked once");
    is_int(access_of(st, "org_a", "US1", stem),
           PDF_REPORT_STORE_NOT_CONNECTED, "dir: US1 not connected to org_a");
    is_int(access_of(st, "org_b", "US1", stem), 0, "dir: still to org_b");

    sleep(3);

    is_int(load_users(st, dir, NULL, 0, &load), 0, "dir: later");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA,
           "dir: still read once (its load was too close to its change)");
    is_int(load_users(st, dir, NULL, 0, &load), 0, "dir: later again");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_STAT,
           "dir: unchanged by its inode, size and times");

    snprintf(path, sizeof(path), "%s/users.jsonl", dir);
    is_int(utime(path, NULL), 0, "dir: touched");
    is_int(load_users(st, dir, NULL, 0, &load), 0, "dir: touched file");
    is_int(load.unchanged, PDF_REPORT_USERS_SAME_SHA,
           "dir: read again, the same content");

    /* a row written in SQL (pdf_report_users off): seen at once */
    ok(db_sql("t_jobs", "INSERT INTO pdf_report_users VALUES ('US7', "
              "'{\"id\":\"US7\",\"last_name\":\"Ng\",\"connections\":"
              "[{\"org_id\":\"org_q\",\"connection_status\":"
              "\"CONNECTED\"}]}')") == 0, "dir: a row written in SQL");
    is_int(access_of(st, "org_q", "US7", stem), 0,
           "dir: seen by the next request");
    is_str(stem, "SQR_X_Ng_", "dir: with its stem");
    ok(db_sql("t_jobs", "UPDATE pdf_report_users SET record = "
              "jsonb_set(record, '{connections,0,connection_status}', "
              "'\"REVOKED\"') WHERE id = 'US7'") == 0,
       "dir: its connection revoked in SQL");
    is_int(access_of(st, "org_q", "US7", stem),
           PDF_REPORT_STORE_NOT_CONNECTED, "dir: not connected at once");
    ok(db_sql("t_jobs", "UPDATE pdf_report_users SET record = '[1]' "
              "WHERE id = 'US7'") == 0, "dir: a record that is no object");
    is_int(access_of(st, "org_q", "US7", stem),
           PDF_REPORT_STORE_NOT_CONNECTED, "dir: exists, connected to none");

    is_int(load_users(st, dir, "", 0, &load), 0, "dir: an empty file");
    ok(load.users == 0 && load.removed == 4,
       "dir: everyone removed, the row written in SQL too (%zu)",
       load.removed);
    is_str(revoked, "org_b/US1,org_a/US3", "dir: their pairs revoked");
    is_int(access_of(st, "org_a", "US3", stem), PDF_REPORT_STORE_NOT_FOUND,
           "dir: US3 unknown now");
}


#define CONN(org)  "{\"org_id\":\"" org "\",\"connection_status\":" \
                   "\"CONNECTED\"}"
#define EU(id, conns)  "{\"id\":\"" id "\",\"connections\":[" conns "]}\n"


static int
finished_job(pdf_report_pg_t *st, const char *id, const char *org,
    const char *user, int64_t t, uint32_t status)
{
    int                       rc;
    char                      pending[PDF_REPORT_UUID_LEN + 1];
    pdf_report_job_t          job, claim;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;

    job = new_job(id, org, user, t);

    rc = pdf_report_pg_job_create(st, &job, pending);
    if (rc != 0) {
        return rc;
    }

    scan = new_scan(t + 5, 300000, 1);

    rc = pdf_report_pg_scan(st, &scan, &claim, &res);
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

    return pdf_report_pg_job_finish(st, &job, claim.lease_token, t + 10);
}


static int
purge_done_all(pdf_report_pg_t *st, pdf_report_purge_t *items, size_t n,
    unsigned outcome, int64_t next_ms, unsigned *retention, unsigned *revoked)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        items[i].outcome = outcome;
        items[i].next_ms = next_ms;
    }

    return pdf_report_pg_purge_done(st, items, n, retention, revoked);
}


static void
test_retention(void)
{
    size_t               n;
    unsigned             more, ret, rev;
    pdf_report_job_t     got;
    pdf_report_pg_t     *st;
    pdf_report_purge_t   items[8], stale[8];

    const char  *a = "a0000000-0000-4000-8000-000000000001";
    const char  *b = "b0000000-0000-4000-8000-000000000002";
    const char  *c = "c0000000-0000-4000-8000-000000000003";

    st = fresh("t_retention", 2);
    ok(st != NULL, "retention: a database of its own");
    if (st == NULL) {
        return;
    }

    is_int(finished_job(st, a, "org_r", "U1", 1000, PDF_REPORT_COMPLETE), 0,
           "retention: job a COMPLETE at 1010");
    is_int(finished_job(st, b, "org_r", "U2", 20000, PDF_REPORT_FAILED), 0,
           "retention: job b FAILED at 20010");
    is_int(finished_job(st, c, "org_r", "U3", 30000, PDF_REPORT_IN_PROGRESS),
           0, "retention: job c running");

    is_int(pdf_report_pg_purge_due(st, 1000000, -1), 0,
           "retention off: nothing is ever due");
    is_int(pdf_report_pg_purge_due(st, 1010 + 5000 - 1, 5000), 0,
           "retention 5 s: nothing due 1 ms before a's time");
    is_int(pdf_report_pg_purge_due(st, 1010 + 5000, 5000), 1,
           "retention 5 s: a due at completedAt + 5 s");

    is_int(pdf_report_pg_purge_take(st, 6010, 5000, 60000, items, 8, &n,
                                    &more),
           0, "take at 6010");
    is_int(n, 1, "take: one job due");
    is_str(items[0].id, a, "take: it is a");
    is_str(items[0].org, "org_r", "take: with its org, for the object key");
    is_int(items[0].attempts, 0, "take: no failed delete yet");
    is_int(items[0].erased, 0, "take: retention, not erasure");
    is_int(more, 0, "take: nothing left over");

    is_int(pdf_report_pg_job_get(st, a, &got), 0,
           "a still answers while its object is being deleted");
    is_int(pdf_report_pg_purge_due(st, 6010, 5000), 0,
           "a leased entry is not due for another pass");
    is_int(pdf_report_pg_purge_take(st, 6011, 5000, 60000, stale, 8, &n,
                                    &more),
           0, "another pass");
    is_int(n, 0, "another pass takes nothing while the lease holds");

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_FAILED, 9000, &ret,
                          &rev),
           0, "done: the delete failed");
    is_int(ret + rev, 0, "done: nothing deleted");
    is_int(pdf_report_pg_job_get(st, a, &got), 0,
           "the job stays while its object does");
    is_int(pdf_report_pg_purge_due(st, 8999, 5000), 0,
           "not due before its retry time");
    is_int(pdf_report_pg_purge_take(st, 9000, 5000, 60000, items, 8, &n,
                                    &more),
           0, "take at the retry time");
    ok(n == 1 && strcmp(items[0].id, a) == 0 && items[0].attempts == 1,
       "take: a again, one failed attempt counted");

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_UNTRIED, 9500, &ret,
                          &rev),
           0, "done: not tried");
    is_int(pdf_report_pg_purge_take(st, 9500, 5000, 60000, items, 8, &n,
                                    &more),
           0, "take again");
    ok(n == 1 && items[0].attempts == 1, "take: still one attempt");

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_UNTRIED, 9600, &ret,
                          &rev),
           0, "done: not tried");
    is_int(pdf_report_pg_purge_take(st, 9600, 5000, 1000, stale, 8, &n,
                                    &more),
           0, "take with a lease of 1 s");
    is_int(pdf_report_pg_purge_take(st, 10600, 5000, 60000, items, 8, &n,
                                    &more),
           0, "take after the lease ran out");
    ok(n == 1 && strcmp(items[0].id, a) == 0, "take: a taken over");
    is_int(purge_done_all(st, stale, 1, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done of the first pass, too late");
    is_int(ret, 0, "done: a lease taken over is left to its new pass");
    is_int(pdf_report_pg_job_get(st, a, &got), 0, "a still there");

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done: the object is gone");
    is_int(ret, 1, "done: one job deleted for retention");
    is_int(rev, 0, "done: none for erasure");
    is_int(pdf_report_pg_job_get(st, a, &got), PDF_REPORT_STORE_NOT_FOUND,
           "a is gone");
    is_int(pdf_report_pg_job_record(st, a, &got),
           PDF_REPORT_STORE_NOT_FOUND, "its record too");

    is_int(pdf_report_pg_purge_due(st, 25009, 5000), 0,
           "b not due 1 ms before updatedAt + 5 s");
    is_int(pdf_report_pg_purge_take(st, 25010, 5000, 60000, items, 8, &n,
                                    &more),
           0, "take at 25010");
    ok(n == 1 && strcmp(items[0].id, b) == 0, "take: b");

    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_FAILED, 25100,
                          &ret, &rev),
           0, "done: b's delete failed");
    is_int(pdf_report_pg_purge_take(st, 25100, 60000, 60000, items, 8, &n,
                                    &more),
           0, "take with a retention of 60 s");
    is_int(n, 0, "take: b is not due under the longer retention");
    is_int(pdf_report_pg_purge_due(st, 25100, 60000), 0,
           "nothing due under it");
    is_int(pdf_report_pg_purge_due(st, 80009, 60000), 0,
           "b not due 1 ms before updatedAt + 60 s");
    is_int(pdf_report_pg_purge_due(st, 80010, 60000), 1,
           "b due at updatedAt + 60 s");
    is_int(pdf_report_pg_purge_take(st, 80010, -1, 60000, items, 8, &n,
                                    &more),
           0, "take with retention off");
    is_int(n, 0, "take: nothing with retention off");

    is_int(pdf_report_pg_purge_due(st, 100000000, 1), 1,
           "b due with any retention");
    is_int(pdf_report_pg_purge_take(st, 100000000, 1, 60000, items, 8,
                                    &n, &more),
           0, "take far in the future");
    ok(n == 1 && strcmp(items[0].id, b) == 0,
       "take: b only, not the running c");
    is_int(purge_done_all(st, items, 1, PDF_REPORT_PURGE_GONE, 0, &ret,
                          &rev),
           0, "done: b gone");
    is_int(pdf_report_pg_job_get(st, c, &got), 0, "c stays");

    pdf_report_pg_close(st);
}


static void
test_erasure(const char *dir)
{
    char                  pending[PDF_REPORT_UUID_LEN + 1];
    size_t                n;
    int64_t               now;
    unsigned              more, ret, rev;
    pdf_report_job_t      got, job, claim;
    pdf_report_pg_t      *st;
    pdf_report_purge_t    items[8];
    pdf_report_users_load_t  load;

    const char  *j1 = "10000000-0000-4000-8000-000000000001";
    const char  *j2 = "20000000-0000-4000-8000-000000000002";
    const char  *j3 = "30000000-0000-4000-8000-000000000003";
    const char  *j4 = "40000000-0000-4000-8000-000000000004";
    const char  *j5 = "50000000-0000-4000-8000-000000000005";
    const char  *j6 = "60000000-0000-4000-8000-000000000006";

    st = fresh("t_erasure", 2);
    ok(st != NULL, "erasure: a database of its own");
    if (st == NULL) {
        return;
    }

    pdf_report_pg_set_erase_on_revoke(st, 1);

    is_int(load_users(st, dir, EU("US1", CONN("org_a") "," CONN("org_b"))
                               EU("US2", CONN("org_a"))
                               EU("US3", CONN("org_a")), 0, &load),
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
    is_int(pdf_report_pg_job_create(st, &job, pending), 0,
           "j4 (org_a, US2) PENDING");
    is_int(pdf_report_pg_job_record(st, j2, &claim), 0, "j2's claim");

    is_int(load_users(st, dir, EU("US1", CONN("org_b"))
                               EU("US2", CONN("org_a"))
                               EU("US3", CONN("org_a")), 0, &load),
           0, "reload: US1 left org_a");
    is_int(load.revoked_pairs, 1, "reload: one pair revoked");
    is_int(load.erased_pairs, 1, "reload: with jobs");
    is_int(load.erased_jobs, 2, "reload: its two jobs erased");
    is_str(revoked, "org_a/US1", "reload: it is (org_a, US1)");

    is_int(pdf_report_pg_job_get(st, j1, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j1 answers 404 at once");
    is_int(pdf_report_pg_job_get(st, j2, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j2 answers 404 at once");
    is_int(pdf_report_pg_job_record(st, j2, &got), 0,
           "j2's record stays until its object is gone");
    is_int(got.status, PDF_REPORT_FAILED, "j2 FAILED");
    is_str(got.error_code, "NOT_CONNECTED", "j2 NOT_CONNECTED");
    ok(got.flags & PDF_REPORT_JOB_ERASED, "j2 flagged erased");
    ok(got.flags & PDF_REPORT_JOB_CUT_SHORT, "j2 flagged cut short");
    is_int(pdf_report_pg_job_record(st, j1, &got), 0, "j1's record");
    is_int(got.flags, PDF_REPORT_JOB_ERASED, "j1 erased, not cut short");
    is_int(got.status, PDF_REPORT_COMPLETE, "j1 still COMPLETE inside");

    job = claim;
    job.status = PDF_REPORT_COMPLETE;
    is_int(pdf_report_pg_job_finish(st, &job, claim.lease_token, 3500),
           PDF_REPORT_STORE_LOST, "j2's running task cannot finish it");
    is_int(pdf_report_pg_job_renew(st, j2, claim.lease_token, 3500, 1000),
           PDF_REPORT_STORE_LOST, "nor renew its lease");

    is_int(pdf_report_pg_job_get(st, j3, &got), 0,
           "j3 of the same user in another org stays");
    is_int(pdf_report_pg_job_get(st, j4, &got), 0,
           "j4 of another user stays");
    is_int(got.status, PDF_REPORT_PENDING, "j4 still PENDING");

    now = pdf_report_now_ms();

    is_int(pdf_report_pg_purge_due(st, now, -1), 1,
           "erased jobs are due with retention off");
    is_int(pdf_report_pg_purge_take(st, now, -1, 60000, items, 8, &n, &more),
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
    is_int(pdf_report_pg_job_record(st, j1, &got),
           PDF_REPORT_STORE_NOT_FOUND, "j1's record gone");

    job = new_job(j5, "org_a", "US1", 6000);
    is_int(pdf_report_pg_job_create(st, &job, pending), 0,
           "nothing pending is left of the pair in the store");

    is_int(load_users(st, dir, EU("US1", CONN("org_b"))
                               EU("US2", CONN("org_a"))
                               EU("US3", CONN("org_a"))
                               "{\"id\":\"US9\"}\n", 0, &load),
           0, "a directory with one user more");
    is_int(load.revoked_pairs + load.erased_jobs, 0,
           "nothing revoked by it");
    is_int(pdf_report_pg_job_get(st, j5, &got), 0, "j5 stays");

    pdf_report_pg_set_erase_on_revoke(st, 0);
    is_int(load_users(st, dir, EU("US1", CONN("org_b"))
                               "{\"id\":\"US2\"}\n"
                               EU("US3", CONN("org_a")), 0, &load),
           0, "erasure off: US2 leaves org_a");
    is_int(load.revoked_pairs, 1, "erasure off: the pair is revoked");
    is_int(load.erased_jobs, 0, "erasure off: no job erased");
    is_int(pdf_report_pg_job_get(st, j4, &got), 0, "j4 stays");
    is_int(got.status, PDF_REPORT_PENDING, "still PENDING");

    pdf_report_pg_set_erase_on_revoke(st, 1);
    is_int(load_users(st, dir, "{\"id\":\"US2\"}\n"
                               EU("US3", CONN("org_a")), 0, &load),
           0, "US1 gone from the directory");
    is_int(load.erased_pairs, 1, "its one pair with jobs");
    is_int(load.erased_jobs, 2, "j3 and j6");
    is_int(pdf_report_pg_job_get(st, j3, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j3 erased with its user");
    is_int(pdf_report_pg_job_get(st, j6, &got), PDF_REPORT_STORE_NOT_FOUND,
           "j6 too");
    is_int(pdf_report_pg_job_get(st, j5, &got), 0,
           "j5 (org_a, US1, not connected before) stays");
    is_int(pdf_report_pg_job_get(st, j4, &got), 0, "j4 stays");

    pdf_report_pg_close(st);
}


/* the cases of test_store.c's main() */
static void
test_jobs(const char *dir)
{
    int                       rc, i;
    size_t                    npend, nrun;
    char                      pending[PDF_REPORT_UUID_LEN + 1];
    pdf_report_pg_t          *st;
    pdf_report_job_t          job, got, claims[4], done;
    pdf_report_rate_t         rate;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;

    const char  *a = "11111111-1111-4111-8111-111111111111";
    const char  *b = "22222222-2222-4222-8222-222222222222";
    const char  *c = "33333333-3333-4333-8333-333333333333";

    st = fresh("t_jobs", 4);
    ok(st != NULL, "jobs: a database of its own");
    if (st == NULL) {
        return;
    }

    job = new_job(a, "org_acme", "US1", 1000);
    is_int(pdf_report_pg_job_create(st, &job, pending), 0, "create job A");

    job = new_job(b, "org_acme", "US1", 1001);
    is_int(pdf_report_pg_job_create(st, &job, pending),
           PDF_REPORT_STORE_EXISTS, "second job of the same user refused");
    is_str(pending, a, "the refusal names the pending job");

    job = new_job(b, "org_other", "US1", 1002);
    is_int(pdf_report_pg_job_create(st, &job, pending), 0,
           "the same user in another org is independent");

    is_int(pdf_report_pg_job_get(st, a, &got), 0, "get job A");
    is_str(got.org, "org_acme", "org kept");
    is_str(got.user, "US1", "user kept");
    is_int(got.status, PDF_REPORT_PENDING, "new job is PENDING");
    is_int(got.created_ms, 1000, "createdAt kept");
    is_int(pdf_report_pg_job_get(st, c, &got), PDF_REPORT_STORE_NOT_FOUND,
           "unknown job not found");
    is_int(pdf_report_pg_job_get(st, "not-a-uuid", &got),
           PDF_REPORT_STORE_NOT_FOUND, "no UUID, no job (and no error)");

    scan = new_scan(2000, 300000, 1);

    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0, "scan");
    is_int(res.claimed, 1, "one claim when one slot is free");
    is_int(res.waiting, 1, "the other job waits");
    is_str(claims[0].id, a, "oldest job claimed first");
    is_int(claims[0].status, PDF_REPORT_IN_PROGRESS, "claimed is running");
    is_int(claims[0].attempts, 1, "first attempt");
    is_int(claims[0].generated_ms, 2000, "generation time fixed at claim");
    ok(claims[0].lease_token != 0, "with a lease token");
    is_int(claims[0].lease_until_ms, 12000, "and a lease deadline");
    is_int(pdf_report_pg_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 1 && nrun == 1, "one PENDING, one IN_PROGRESS (%zu, %zu)",
       npend, nrun);

    scan.max_claims = 4;
    scan.now_ms = 3000;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0, "scan again");
    is_int(res.claimed, 1, "a leased job is not claimed twice");
    is_str(claims[0].id, b, "the waiting job is claimed");

    scan.now_ms = 4000;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0, "idle scan");
    is_int(res.claimed + res.failed + res.waiting, 0, "nothing to do");

    scan.now_ms = 12500;
    is_int(pdf_report_pg_job_renew(st, b, claims[0].lease_token, 12000,
                                   10000),
           0, "B renews its lease");
    is_int(pdf_report_pg_job_renew(st, b, claims[0].lease_token ^ 2, 12000,
                                   10000),
           PDF_REPORT_STORE_LOST, "another token cannot renew it");
    is_int(pdf_report_pg_job_renew(st, c, 1, 12000, 10000),
           PDF_REPORT_STORE_NOT_FOUND, "nor a job that does not exist");
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0,
           "scan after A's lease expired");
    is_int(res.claimed, 1, "A reclaimed");
    is_str(claims[0].id, a, "it is A");
    is_int(claims[0].attempts, 2, "second attempt");
    is_int(claims[0].generated_ms, 2000, "same generation time on re-run");

    is_int(pdf_report_pg_job_get(st, a, &got), 0, "get A");

    done = got;
    done.status = PDF_REPORT_COMPLETE;
    done.size_bytes = 1234;
    done.duration_ms = 42;
    memset(done.sha256, 0xab, sizeof(done.sha256));
    snprintf(done.template_version, sizeof(done.template_version), "v2");

    is_int(pdf_report_pg_job_finish(st, &done, got.lease_token ^ 2, 13000),
           PDF_REPORT_STORE_LOST, "a stale claim cannot finish the job");
    is_int(pdf_report_pg_job_finish(st, &done, got.lease_token, 13000), 0,
           "the current claim finishes it");
    is_int(pdf_report_pg_job_finish(st, &done, got.lease_token, 13001),
           PDF_REPORT_STORE_LOST, "once");

    is_int(pdf_report_pg_job_get(st, a, &got), 0, "get A");
    is_int(got.status, PDF_REPORT_COMPLETE, "A complete");
    is_int(got.size_bytes, 1234, "size recorded");
    is_int(got.duration_ms, 42, "duration recorded");
    is_int(got.completed_ms, 13000, "completion time recorded");
    is_str(got.template_version, "v2", "template recorded");
    ok(memcmp(got.sha256, done.sha256, sizeof(got.sha256)) == 0,
       "sha256 recorded");
    is_int(pdf_report_pg_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 0 && nrun == 1, "B still running (%zu, %zu)", npend, nrun);

    job = new_job(c, "org_acme", "US1", 14000);
    is_int(pdf_report_pg_job_create(st, &job, pending), 0,
           "a new job once the first is terminal");

    scan.now_ms = 14000 + 300000;
    scan.max_claims = 0;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0,
           "scan after the timeout");
    is_int(res.failed, 2, "B and C time out");
    is_int(res.ended, 2, "both named for the log");
    ok(res.end[0].timed_out && res.end[1].timed_out
       && strcmp(res.end[0].org, "org_other") == 0,
       "as TIMEOUT, with their orgs (B first: %s)", res.end[0].id);
    is_int(pdf_report_pg_job_get(st, c, &got), 0, "get C");
    is_int(got.status, PDF_REPORT_FAILED, "C failed");
    is_str(got.error_code, "TIMEOUT", "with TIMEOUT");
    is_str(got.error_message,
           "The report was not finished within 300 seconds.",
           "and the message");
    is_int(pdf_report_pg_jobs_count(st, &npend, &nrun), 0, "count");
    ok(npend == 0 && nrun == 0, "none after the timeouts (%zu, %zu)", npend,
       nrun);

    job = new_job(b, "org_x", "US9", 400000);
    snprintf(job.id, sizeof(job.id), "44444444-4444-4444-8444-444444444444");
    is_int(pdf_report_pg_job_create(st, &job, pending), 0, "create D");
    scan.now_ms = 400001;
    scan.max_claims = 1;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0, "claim D");
    is_int(pdf_report_pg_job_release(st, job.id, claims[0].lease_token ^ 2,
                                     400002),
           PDF_REPORT_STORE_LOST, "another token cannot release D");
    is_int(pdf_report_pg_job_release(st, job.id, claims[0].lease_token,
                                     400002),
           0, "release D");
    is_int(pdf_report_pg_job_get(st, job.id, &got), 0, "get D");
    is_int(got.status, PDF_REPORT_PENDING, "D pending again");
    is_int(got.attempts, 0, "no attempt used");

    scan.max_attempts = 1;
    scan.lease_ms = 1;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0, "claim D");
    scan.now_ms += 10;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0,
           "scan after its lease ran out");
    is_int(res.failed, 1, "D given up");
    ok(res.ended == 1 && !res.end[0].timed_out
       && strcmp(res.end[0].id, job.id) == 0, "named as PROCESSING_FAILED");
    is_int(pdf_report_pg_job_get(st, job.id, &got), 0, "get D");
    is_str(got.error_code, "PROCESSING_FAILED", "PROCESSING_FAILED");
    is_str(got.error_message, "Processing stopped 1 times without finishing.",
           "and the message");

    for (i = 0; i < 3; i++) {
        is_int(pdf_report_pg_rate_hit(st, "org_r", 100000 + i * 1000,
                                      10000, 3, &rate),
               0, "rate hit %d", i + 1);
        is_int(rate.allowed, 1, "hit %d allowed", i + 1);
        is_int(rate.remaining, 2 - i, "hit %d remaining", i + 1);
    }

    is_int(pdf_report_pg_rate_hit(st, "org_r", 109999, 10000, 3, &rate),
           0, "fourth hit");
    is_int(rate.allowed, 0, "fourth hit inside the window refused");
    is_int(rate.reset_s, 1, "retry after the oldest leaves (1 ms, so 1 s)");

    is_int(pdf_report_pg_rate_hit(st, "org_s", 109999, 10000, 3, &rate),
           0, "another org");
    is_int(rate.allowed, 1, "another org has its own window");

    is_int(pdf_report_pg_rate_hit(st, "org_r", 110000, 10000, 3, &rate),
           0, "hit when the first left the window");
    is_int(rate.allowed, 1, "allowed again");
    is_int(rate.remaining, 0, "no slot left");
    is_int(rate.reset_s, 1, "next slot frees in 1 s");

    is_int(pdf_report_pg_rate_hit(st, "org_r", 110500, 10000, 3, &rate),
           0, "refused hit");
    is_int(rate.allowed, 0, "refused");
    is_int(rate.reset_s, 1, "second counted request leaves at 111000");

    test_directory(st, dir);

    /* finished jobs imported in one transaction, all or nothing */
    {
        size_t            used;
        pdf_report_job_t  imp[3];

        const char  *d = "77777777-7777-4777-8777-777777777777";
        const char  *e = "88888888-8888-4888-8888-888888888888";

        imp[0] = new_job(d, "org_imp", "U1", 5000);
        imp[0].status = PDF_REPORT_COMPLETE;
        imp[0].size_bytes = 24000;
        imp[0].completed_ms = 5100;
        memset(imp[0].sha256, 0x5a, sizeof(imp[0].sha256));
        imp[1] = new_job(e, "org_imp", "U1", 5001);
        imp[1].status = PDF_REPORT_FAILED;
        imp[1].updated_ms = 5200;
        snprintf(imp[1].error_code, sizeof(imp[1].error_code), "TIMEOUT");
        imp[2] = new_job(c, "org_imp", "U2", 5002);     /* c exists */
        imp[2].status = PDF_REPORT_COMPLETE;

        is_int(pdf_report_pg_jobs_import(st, imp, 3),
               PDF_REPORT_STORE_EXISTS, "import: an existing id refused");
        is_int(pdf_report_pg_job_get(st, d, &got),
               PDF_REPORT_STORE_NOT_FOUND, "import: and nothing written");

        imp[2].status = PDF_REPORT_PENDING;
        is_int(pdf_report_pg_jobs_import(st, imp + 1, 2), EINVAL,
               "import: an unfinished job refused");

        is_int(pdf_report_pg_jobs_import(st, imp, 2), 0,
               "import: two finished jobs");
        is_int(pdf_report_pg_job_get(st, d, &got), 0, "import: D there");
        ok(got.status == PDF_REPORT_COMPLETE && got.size_bytes == 24000
           && strcmp(got.org, "org_imp") == 0
           && memcmp(got.sha256, imp[0].sha256, 32) == 0,
           "import: D as written");
        is_int(pdf_report_pg_job_get(st, e, &got), 0, "import: E there");
        is_str(got.error_code, "TIMEOUT", "import: E's error code");
        is_int(pdf_report_pg_purge_due(st, 5200, 100), 1,
               "import: D's retention runs from its completedAt");
        is_int(pdf_report_pg_purge_due(st, 5199, 100), 0,
               "import: not before it");

        job = new_job("99999999-9999-4999-8999-999999999999", "org_imp",
                      "U1", 6000);
        is_int(pdf_report_pg_job_create(st, &job, pending), 0,
               "import: nothing pending for their user");

        ok(pdf_report_pg_usage(st, &used) == 0 && used > 100000,
           "usage: the tables take %zu bytes", used);
    }

    /* a backlog: the pass stops at the first job it has no slot for */
    rc = create_jobs(st, "org_backlog", "b10c", 'B', 100000, 300, &i);
    is_int(rc, 0, "backlog: 300 jobs created");

    scan = new_scan(100000 + 300000 + 10, 300000, 0);

    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0,
           "backlog: a scan with no slot");
    /* and the import test's PENDING job, older still */
    is_int(res.failed, 12, "backlog: the 11 timed-out jobs failed");
    is_int(res.ended, PDF_REPORT_SCAN_ENDED_MAX,
           "backlog: the first %d named, the rest counted",
           PDF_REPORT_SCAN_ENDED_MAX);
    is_int(pdf_report_pg_job_get(st, "0000000a-0000-4000-8000-00000000b10c",
                                 &got), 0, "backlog: the 11th job");
    is_str(got.error_code, "TIMEOUT", "backlog: FAILED TIMEOUT");
    is_int(res.waiting, 1, "backlog: jobs wait");
    is_int(pdf_report_pg_job_get(st, "0000000b-0000-4000-8000-00000000b10c",
                                 &got), 0, "backlog: the 12th job");
    is_int(got.status, PDF_REPORT_PENDING, "backlog: still PENDING");

    scan.max_claims = 2;
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0,
           "backlog: a scan with two slots");
    is_int(res.claimed, 2, "backlog: two claimed");
    is_str(claims[0].id, "0000000b-0000-4000-8000-00000000b10c",
           "backlog: the oldest first");

    /* more than a batch timed out: the rest in the next pass */
    scan = new_scan(100000 + 300000 + 200, 300000, 0);
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0,
           "backlog: 189 more overdue");
    is_int(res.failed, 64, "backlog: a batch of them a pass");
    is_int(pdf_report_pg_scan(st, &scan, claims, &res), 0, "next pass");
    is_int(res.failed, 64, "backlog: the next batch");

    pdf_report_pg_close(st);
}


/* ---- as test_store_batch.c ---- */

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


static void
test_batch(void)
{
    int                       rc, i;
    pdf_report_pg_t          *st;
    pdf_report_job_t          got, claims[N];
    pdf_report_rate_t         rate;
    pdf_report_scan_t         scan;
    pdf_report_scan_result_t  res;

    st = fresh("t_batch", 2);
    ok(st != NULL, "batch: a database of its own");
    if (st == NULL) {
        return;
    }

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

    rc = pdf_report_pg_batch(st, ops, 6, &scan, claims, &res);
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
    is_int(res.waiting, 1, "the third new job waits");

    is_int(pdf_report_pg_job_get(st, ops[0]->job.id, &got), 0,
           "the first job is in the store");
    is_int(got.status, PDF_REPORT_IN_PROGRESS, "as claimed");
    is_int(pdf_report_pg_job_get(st, ops[5]->job.id, &got), 0,
           "and the other org's");
    is_int(got.status, PDF_REPORT_PENDING, "still waiting");

    rc = pdf_report_pg_rate_hit(st, "org_a", 1020, 600000, 4, &rate);
    is_int(rc, 0, "a single hit after the batch");
    is_int(rate.remaining, 0, "the batch counted exactly three (4 - 3 - 1)");

    op(0, PDF_REPORT_OP_RELEASE, "org_a", "US1", 1030, 0);
    memcpy(ops[0]->job.id, claims[1].id, sizeof(claims[1].id));
    ops[0]->job.lease_token = claims[1].lease_token;
    op(1, PDF_REPORT_OP_RELEASE, "org_a", "US1", 1030, 0);
    memcpy(ops[1]->job.id, claims[0].id, sizeof(claims[0].id));
    ops[1]->job.lease_token = claims[0].lease_token + 1;
    op(2, PDF_REPORT_OP_RELEASE, "org_a", "US1", 1030, 0);
    snprintf(ops[2]->job.id, sizeof(ops[2]->job.id),
             "99999999-9999-4999-8999-999999999999");

    rc = pdf_report_pg_batch(st, ops, 3, NULL, NULL, NULL);
    is_int(rc, 0, "a batch of releases commits");
    is_int(ops[0]->rc, 0, "our claim released");
    is_int(ops[1]->rc, PDF_REPORT_STORE_LOST,
           "another lease's token is refused");
    is_int(ops[2]->rc, PDF_REPORT_STORE_NOT_FOUND,
           "a job that does not exist is not found");
    is_int(pdf_report_pg_job_get(st, claims[1].id, &got), 0, "read it");
    is_int(got.status, PDF_REPORT_PENDING, "released: PENDING");
    is_int(pdf_report_pg_job_get(st, claims[0].id, &got), 0, "read A");
    is_int(got.status, PDF_REPORT_IN_PROGRESS, "the other one untouched");

    op(0, PDF_REPORT_OP_RATE, "org_t", "", 400000, 10);
    scan.now_ms = 400000;
    scan.max_claims = 0;

    rc = pdf_report_pg_batch(st, ops, 1, &scan, claims, &res);
    is_int(rc, 0, "a batch with a scan and no free slot commits");
    is_int(res.claimed, 0, "nothing claimed");
    ok(res.failed >= 3, "the overdue jobs failed (%u)", res.failed);
    is_int(pdf_report_pg_job_get(st, op_mem[5].job.id, &got), 0,
           "read the other org's job");
    is_int(got.status, PDF_REPORT_FAILED, "it timed out");
    is_str(got.error_code, "TIMEOUT", "with TIMEOUT");

    /* many operations in one batch: one round trip still */
    for (i = 0; i < 64; i++) {
        char  user[16];

        snprintf(user, sizeof(user), "UB%d", i);
        op(i, PDF_REPORT_OP_CREATE, i % 2 ? "org_m" : "org_n", user,
           500000 + i, 100);
    }

    rc = pdf_report_pg_batch(st, ops, 64, NULL, NULL, NULL);
    is_int(rc, 0, "a batch of 64 creates over two orgs");

    for (rc = 0, i = 0; i < 64; i++) {
        rc += (ops[i]->rc == 0);
    }

    is_int(rc, 64, "every one created");
    is_int(ops[63]->rate_result.remaining, 100 - 32,
           "each org counted its own 32");

    pdf_report_pg_close(st);
}


/* ---- what only a shared database has ---- */

typedef struct {
    pdf_report_pg_t     *pg;
    pthread_barrier_t   *go;
    int                  n;
    int                  allowed;
    int                  rc;
    pdf_report_op_t    **list;
    pdf_report_job_t     job;
    char                 pending[PDF_REPORT_UUID_LEN + 1];
    unsigned             found;
    char                 err[256];
    const char          *path;
    pdf_report_users_load_t  load;
} worker_t;


static void *
rate_worker(void *data)
{
    worker_t          *w = data;
    int                i;
    pdf_report_rate_t  rate;

    pthread_barrier_wait(w->go);

    for (i = 0; i < w->n; i++) {
        w->rc |= pdf_report_pg_rate_hit(w->pg, "org_race",
                                        1000000 + i, 600000, 20, &rate);
        w->allowed += rate.allowed;
    }

    return NULL;
}


static void *
create_worker(void *data)
{
    worker_t  *w = data;

    pthread_barrier_wait(w->go);

    w->rc = pdf_report_pg_job_create(w->pg, &w->job, w->pending);

    return NULL;
}


static void *
schema_worker(void *data)
{
    worker_t  *w = data;

    pthread_barrier_wait(w->go);

    w->rc = pdf_report_pg_schema(w->pg, &w->found, w->err, sizeof(w->err));

    return NULL;
}


static void *
load_worker(void *data)
{
    worker_t  *w = data;
    int        fd;

    fd = open(w->path, O_RDONLY);

    memset(&w->load, 0, sizeof(pdf_report_users_load_t));
    w->load.fd = fd;
    w->load.now_ms = 1000;

    pthread_barrier_wait(w->go);

    w->rc = pdf_report_pg_users_load(w->pg, &w->load);

    close(fd);

    return NULL;
}


static void *
batch_worker(void *data)
{
    worker_t  *w = data;

    pthread_barrier_wait(w->go);

    w->rc = pdf_report_pg_batch(w->pg, w->list, w->n, NULL, NULL, NULL);

    return NULL;
}


static void
test_concurrency(const char *dir)
{
    int                i, ok_n, exists_n, bad;
    char               err[256], id[2][PDF_REPORT_UUID_LEN + 1];
    pthread_t          t[8];
    pthread_barrier_t  go;
    pdf_report_pg_t   *pg, *edge2;
    worker_t           w[8];

    /* schema: two edges starting together on a new database */

    (void) sql("DROP DATABASE IF EXISTS t_race");
    ok(sql("CREATE DATABASE t_race ENCODING 'UTF8'") == 0,
       "race: a new database");

    is_int(pdf_report_pg_open(&pg, uri_of("t_race"), 4, err, sizeof(err)), 0,
           "race: edge 1's pool");
    is_int(pdf_report_pg_open(&edge2, uri_of("t_race"), 4, err, sizeof(err)),
           0, "race: edge 2's pool");

    pthread_barrier_init(&go, NULL, 2);
    memset(w, 0, sizeof(w));

    for (i = 0; i < 2; i++) {
        w[i].pg = i ? edge2 : pg;
        w[i].go = &go;
        pthread_create(&t[i], NULL, schema_worker, &w[i]);
    }

    for (i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }

    pthread_barrier_destroy(&go);

    ok(w[0].rc == 0 && w[1].rc == 0,
       "race: the schema made by two at once (%d %s, %d %s)",
       w[0].rc, w[0].err, w[1].rc, w[1].err);
    ok(w[0].found + w[1].found == PDF_REPORT_PG_SCHEMA_VERSION,
       "race: one made it, the other found it (%u, %u)", w[0].found,
       w[1].found);

    /* rate hits of one org from 8 threads over two pools: exactly 20 */

    pthread_barrier_init(&go, NULL, 8);
    memset(w, 0, sizeof(w));

    for (i = 0; i < 8; i++) {
        w[i].pg = (i % 2) ? edge2 : pg;
        w[i].go = &go;
        w[i].n = 10;
        pthread_create(&t[i], NULL, rate_worker, &w[i]);
    }

    ok_n = 0;
    bad = 0;

    for (i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok_n += w[i].allowed;
        bad |= w[i].rc;
    }

    pthread_barrier_destroy(&go);

    is_int(bad, 0, "race: 80 rate hits, no error");
    is_int(ok_n, 20, "race: exactly the limit of 20 allowed");

    /* two creates for one user, one from each edge, 20 times */

    pthread_barrier_init(&go, NULL, 2);
    ok_n = 0;
    exists_n = 0;
    bad = 0;

    for (int round = 0; round < 20; round++) {
        memset(w, 0, 2 * sizeof(worker_t));

        for (i = 0; i < 2; i++) {
            w[i].pg = i ? edge2 : pg;
            w[i].go = &go;
            memset(&w[i].job, 0, sizeof(pdf_report_job_t));
            pdf_report_uuid4(w[i].job.id);
            w[i].job.id[PDF_REPORT_UUID_LEN] = '\0';
            snprintf(w[i].job.org, sizeof(w[i].job.org), "org_race");
            snprintf(w[i].job.user, sizeof(w[i].job.user), "UR%d", round);
            w[i].job.created_ms = 1000 + round;
            memcpy(id[i], w[i].job.id, sizeof(id[i]));
            pthread_create(&t[i], NULL, create_worker, &w[i]);
        }

        for (i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
        }

        for (i = 0; i < 2; i++) {
            if (w[i].rc == 0) {
                ok_n++;

            } else if (w[i].rc == PDF_REPORT_STORE_EXISTS
                       && strcmp(w[i].pending, id[1 - i]) == 0)
            {
                exists_n++;

            } else {
                bad++;
                printf("# round %d: rc %d pending '%s' (%s)\n", round,
                       w[i].rc, w[i].pending, pdf_report_pg_error());
            }
        }
    }

    pthread_barrier_destroy(&go);

    ok(ok_n == 20 && exists_n == 20 && bad == 0,
       "race: each of 20 rounds one 202 and one 409 naming the other's "
       "job (%d, %d, %d)", ok_n, exists_n, bad);

    /* batches of two edges over the same two orgs in opposite orders */

    pthread_barrier_init(&go, NULL, 2);
    bad = 0;

    for (int round = 0; round < 20; round++) {
        int               k;
        pdf_report_op_t   mem[2][4], *list[2][4];

        memset(w, 0, 2 * sizeof(worker_t));

        for (i = 0; i < 2; i++) {
            for (k = 0; k < 4; k++) {
                memset(&mem[i][k], 0, sizeof(pdf_report_op_t));
                mem[i][k].kind = PDF_REPORT_OP_CREATE;
                mem[i][k].rate = 1;
                mem[i][k].limit = 100000;
                mem[i][k].period_ms = 600000;
                mem[i][k].now_ms = 2000000 + round;
                mem[i][k].job.created_ms = 2000000 + round;
                snprintf(mem[i][k].job.org, sizeof(mem[i][k].job.org),
                         "%s", ((k + i) % 2) ? "org_x1" : "org_x2");
                snprintf(mem[i][k].job.user, sizeof(mem[i][k].job.user),
                         "E%dR%dK%d", i, round, k);
                list[i][k] = &mem[i][k];
            }

            w[i].pg = i ? edge2 : pg;
            w[i].go = &go;
            w[i].list = list[i];
            w[i].n = 4;
            pthread_create(&t[i], NULL, batch_worker, &w[i]);
        }

        for (i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            bad += (w[i].rc != 0);

            for (k = 0; k < 4; k++) {
                bad += (list[i][k]->rc != 0);
            }
        }
    }

    pthread_barrier_destroy(&go);

    is_int(bad, 0, "race: 20 rounds of two edges' batches over two orgs "
           "taken in opposite orders: no deadlock, every job created");

    /* two edges load the same new directory at once: one loads it */
    {
        char   path[256];
        FILE  *f;

        snprintf(path, sizeof(path), "%s/race.jsonl", dir);
        f = fopen(path, "w");
        ok(f != NULL && fputs(U1 "\n" U2 "\n" U3 "\n", f) != EOF
           && fclose(f) == 0, "race: a directory file");

        pthread_barrier_init(&go, NULL, 2);
        memset(w, 0, 2 * sizeof(worker_t));

        for (i = 0; i < 2; i++) {
            w[i].pg = i ? edge2 : pg;
            w[i].go = &go;
            w[i].path = path;
            pthread_create(&t[i], NULL, load_worker, &w[i]);
        }

        for (i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
        }

        pthread_barrier_destroy(&go);

        ok(w[0].rc == 0 && w[1].rc == 0, "race: both loads succeed");
        ok((w[0].load.unchanged == PDF_REPORT_USERS_LOADED)
           + (w[1].load.unchanged == PDF_REPORT_USERS_LOADED) == 1
           && w[0].load.added + w[1].load.added == 3,
           "race: one loaded it (3 added), the other found it loaded "
           "(%u %zu, %u %zu)", w[0].load.unchanged, w[0].load.added,
           w[1].load.unchanged, w[1].load.added);
    }

    pdf_report_pg_close(edge2);
    pdf_report_pg_close(pg);
}


static void
test_schema(void)
{
    char              err[512];
    unsigned          found;
    pdf_report_pg_t  *pg;

    pg = fresh("t_schema", 1);
    ok(pg != NULL, "schema: made on a new database");
    if (pg == NULL) {
        return;
    }

    is_int(pdf_report_pg_schema(pg, &found, err, sizeof(err)), 0,
           "schema: again");
    is_int(found, PDF_REPORT_PG_SCHEMA_VERSION, "schema: found as it is");

    PQfinish(admin);
    admin = connect_to(uri_of("t_schema"));
    ok(sql("UPDATE pdf_report_schema SET version = 99") == 0,
       "schema: a newer module's version written");

    is_int(pdf_report_pg_schema(pg, &found, err, sizeof(err)),
           PDF_REPORT_PG_SCHEMA_NEWER, "schema: a newer version refused");
    is_int(found, 99, "schema: found 99");
    ok(strstr(err, "version 99, newer than this module's 4") != NULL,
       "schema: says why: %s", err);

    ok(sql("UPDATE pdf_report_schema SET version = 4") == 0
       && pdf_report_pg_schema(pg, &found, err, sizeof(err)) == 0,
       "schema: this version again is fine");

    /* a version-1 database, as the first release made it */
    ok(sql("DROP TABLE pdf_report_idempotency;"
           "DROP FUNCTION pdf_report_event(pdf_report_jobs, bigint);"
           "DROP FUNCTION pdf_report_iso(bigint);"
           "DROP TABLE pdf_report_hooks;"
           "DROP TRIGGER pdf_report_users_revoked ON pdf_report_users;"
           "DROP FUNCTION pdf_report_users_revoked();"
           "DROP TABLE pdf_report_revoked;"
           "UPDATE pdf_report_schema SET version = 1") == 0,
       "schema: brought back to version 1");

    is_int(pdf_report_pg_schema(pg, &found, err, sizeof(err)), 0,
           "schema: version 1 migrated");
    is_int(found, 1, "schema: found 1");
    ok(sql("SELECT 1 FROM pdf_report_revoked") == 0
       && sql("SELECT 1 FROM pdf_report_hooks") == 0
       && sql("DO $$ BEGIN IF (SELECT version FROM pdf_report_schema)"
              " <> 4 THEN RAISE 'not version 4'; END IF; END $$") == 0
       && sql("SELECT 1 FROM pdf_report_idempotency") == 0,
       "schema: now version 4, with the revocations, webhook events and "
       "Idempotency-Keys");

    PQfinish(admin);
    admin = connect_to(uri_of("postgres"));

    pdf_report_pg_close(pg);
}


/* NOTIFY pdf_report_jobs when a job is created: an idle edge wakes */
static void
test_notify(void)
{
    int                  got, n;
    int64_t              t0;
    PGconn              *listener;
    PGresult            *r;
    PGnotify            *note;
    struct pollfd        pfd;
    pdf_report_pg_t     *pg;
    pdf_report_job_t     job;
    char                 pending[PDF_REPORT_UUID_LEN + 1];

    pg = fresh("t_notify", 1);
    ok(pg != NULL, "notify: a database of its own");
    if (pg == NULL) {
        return;
    }

    listener = connect_to(uri_of("t_notify"));
    r = PQexec(listener, "LISTEN " PDF_REPORT_PG_CHANNEL);
    ok(PQresultStatus(r) == PGRES_COMMAND_OK, "notify: LISTEN");
    PQclear(r);

    job = new_job("aaaaaaaa-0000-4000-8000-000000000001", "org_n", "U1",
                  1000);
    is_int(pdf_report_pg_job_create(pg, &job, pending), 0,
           "notify: a job created");

    got = 0;
    t0 = pdf_report_now_ms();

    while (!got && pdf_report_now_ms() - t0 < 1000) {
        pfd.fd = PQsocket(listener);
        pfd.events = POLLIN;
        n = poll(&pfd, 1, 100);

        if (n > 0 && PQconsumeInput(listener) == 1) {
            while ((note = PQnotifies(listener)) != NULL) {
                got += (strcmp(note->relname, PDF_REPORT_PG_CHANNEL) == 0);
                PQfreemem(note);
            }
        }
    }

    ok(got == 1, "notify: the listener heard of it within a second");

    job = new_job("aaaaaaaa-0000-4000-8000-000000000002", "org_n", "U1",
                  1001);
    is_int(pdf_report_pg_job_create(pg, &job, pending),
           PDF_REPORT_STORE_EXISTS, "notify: a 409");
    usleep(200000);
    (void) PQconsumeInput(listener);
    note = PQnotifies(listener);
    ok(note == NULL, "notify: and no notification for it");
    PQfreemem(note);

    {
        pdf_report_job_t          claim;
        pdf_report_scan_t         scan;
        pdf_report_scan_result_t  res;

        scan = new_scan(2000, 300000, 1);
        ok(pdf_report_pg_scan(pg, &scan, &claim, &res) == 0
           && res.claimed == 1, "notify: the job claimed");
        is_int(pdf_report_pg_job_release(pg, claim.id, claim.lease_token,
                                         2001),
               0, "notify: and given back");
        usleep(200000);
        (void) PQconsumeInput(listener);
        note = PQnotifies(listener);
        ok(note != NULL, "notify: a job given back is announced too");
        PQfreemem(note);
    }

    PQfinish(listener);
    pdf_report_pg_close(pg);
}


/* nothing connects at open; a database that is not there answers 503 */
static void
test_unreachable(void)
{
    int               rc;
    char              err[256], desc[256];
    int64_t           t0, t1;
    pdf_report_pg_t  *pg;
    pdf_report_job_t  got;

    is_int(pdf_report_pg_open(&pg,
                              "postgresql://u:s3cr3t@127.0.0.1:1/none", 2,
                              err, sizeof(err)),
           0, "down: open connects to nothing");

    pdf_report_pg_describe(pg, desc, sizeof(desc));
    ok(strstr(desc, "s3cr3t") == NULL && strstr(desc, "port=1") != NULL,
       "down: described without the password: %s", desc);

    t0 = pdf_report_now_ms();
    rc = pdf_report_pg_job_get(pg, "11111111-1111-4111-8111-111111111111",
                               &got);
    t1 = pdf_report_now_ms();

    is_int(rc, PDF_REPORT_STORE_UNAVAILABLE, "down: a read is UNAVAILABLE");
    ok(t1 - t0 < 1000, "down: quickly (%lld ms)", (long long) (t1 - t0));
    ok(strstr(pdf_report_pg_error(), "s3cr3t") == NULL
       && pdf_report_pg_error()[0] != '\0',
       "down: the error names no password: %s", pdf_report_pg_error());

    t0 = pdf_report_now_ms();

    for (rc = 0; rc < 100; rc++) {
        (void) pdf_report_pg_job_get(pg,
                                     "11111111-1111-4111-8111-111111111111",
                                     &got);
    }

    t1 = pdf_report_now_ms();
    ok(t1 - t0 < 1000, "down: 100 more calls in %lld ms, not tried again "
       "within a second", (long long) (t1 - t0));

    pdf_report_pg_close(pg);

    rc = pdf_report_pg_open(&pg, "postgresql://u:s3cr3t@[bad/x?sslmode=zz",
                            2, err, sizeof(err));
    ok(rc == EINVAL && strstr(err, "s3cr3t") == NULL,
       "down: a bad URI refused without its text: %s", err);
}


/* the server stops and starts again under an open pool */
static void
test_down_and_up(void)
{
    int               rc, tries;
    int64_t           t0, t1;
    pdf_report_pg_t  *pg;
    pdf_report_job_t  job, got;
    pdf_report_rate_t rate;
    char              pending[PDF_REPORT_UUID_LEN + 1];

    const char  *a = "dddddddd-0000-4000-8000-000000000001";

    if (!own_cluster) {
        ok(1, "# the down-and-up case needs a cluster of its own: "
           "PDF_REPORT_PG_URI was given");
        return;
    }

    pg = fresh("t_down", 3);
    ok(pg != NULL, "down: a database of its own");
    if (pg == NULL) {
        return;
    }

    job = new_job(a, "org_d", "U1", 1000);
    is_int(pdf_report_pg_job_create(pg, &job, pending), 0,
           "down: a job accepted before");
    is_int(pdf_report_pg_job_get(pg, a, &got), 0, "down: read");

    PQfinish(admin);
    admin = NULL;

    is_int(sh("'%s' down '%s'", cluster_dir), 0, "down: the server stops");

    t0 = pdf_report_now_ms();
    rc = pdf_report_pg_job_get(pg, a, &got);
    t1 = pdf_report_now_ms();
    is_int(rc, PDF_REPORT_STORE_UNAVAILABLE, "down: UNAVAILABLE");
    ok(t1 - t0 < 1000, "down: at once (%lld ms)", (long long) (t1 - t0));
    is_int(pdf_report_pg_rate_hit(pg, "org_d", 2000, 1000, 5, &rate),
           PDF_REPORT_STORE_UNAVAILABLE, "down: a write too");
    ok(!rate.allowed, "down: not allowed");

    is_int(sh("'%s' up '%s'", cluster_dir), 0, "down: the server is back");

    t0 = pdf_report_now_ms();

    for (tries = 1; tries < 100; tries++) {
        rc = pdf_report_pg_job_get(pg, a, &got);
        if (rc == 0) {
            break;
        }

        usleep(100000);
    }

    t1 = pdf_report_now_ms();

    is_int(rc, 0, "down: the same pool reads again (after %d tries, "
           "%lld ms)", tries, (long long) (t1 - t0));
    ok(t1 - t0 < 3000, "down: within 3 s of the server's return");
    is_str(got.id, a, "down: the job accepted before is there");

    for (tries = 0, rc = 0; tries < 10 && rc == 0; tries++) {
        rc = pdf_report_pg_rate_hit(pg, "org_d", 3000 + tries, 1000, 50,
                                    &rate);
    }

    is_int(rc, 0, "down: every connection of the pool works again");

    admin = connect_to(uri_of("postgres"));

    pdf_report_pg_close(pg);
}


/* a pool that crosses fork(): refused in the child, intact in the parent */
static void
test_fork(void)
{
    int               status;
    pid_t             pid;
    pdf_report_pg_t  *pg;
    pdf_report_job_t  got;

    const char  *a = "ffffffff-0000-4000-8000-000000000001";

    pg = fresh("t_fork", 2);
    ok(pg != NULL, "fork: a database of its own");
    if (pg == NULL) {
        return;
    }

    is_int(pdf_report_pg_job_get(pg, a, &got), PDF_REPORT_STORE_NOT_FOUND,
           "fork: the parent's pool connected");

    fflush(stdout);
    pid = fork();

    if (pid == 0) {
        /* no TAP from here: the child answers by its exit status */
        status = (pdf_report_pg_job_get(pg, a, &got) == PDF_REPORT_PG_ERROR
                  && strstr(pdf_report_pg_error(), "fork") != NULL)
                 ? 0 : 1;
        pdf_report_pg_close(pg);
        _exit(status);
    }

    ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
       && WEXITSTATUS(status) == 0, "fork: the child's calls are refused");
    is_int(pdf_report_pg_job_get(pg, a, &got), PDF_REPORT_STORE_NOT_FOUND,
           "fork: the parent's sessions survive the child's close");

    pdf_report_pg_close(pg);
}


int
main(void)
{
    char  dir[] = "/tmp/pdf-report-pg-dir-XXXXXX";
    char  cmd[256];

    if (getenv("PDF_REPORT_PG_URI") != NULL) {
        snprintf(base_uri, sizeof(base_uri), "%s",
                 getenv("PDF_REPORT_PG_URI"));

    } else if (start_cluster() != 0) {
        ok(0, "a PostgreSQL cluster started for the test (%s): install "
           "postgresql, or set PDF_REPORT_PG_URI", cluster);
        return done_testing();
    }

    ok(1, "PostgreSQL at %s", own_cluster ? "a cluster of its own"
                                          : "PDF_REPORT_PG_URI");

    admin = connect_to(base_uri);

    if (PQstatus(admin) != CONNECTION_OK || mkdtemp(dir) == NULL) {
        ok(0, "connected: %s", PQerrorMessage(admin));
        goto done;
    }

    test_unreachable();
    test_schema();
    test_jobs(dir);
    test_retention();
    test_erasure(dir);
    test_batch();
    test_notify();
    test_concurrency(dir);
    test_fork();
    test_down_and_up();

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        printf("# could not remove %s\n", dir);
    }

done:

    PQfinish(admin);

    if (own_cluster) {
        (void) sh("'%s' stop '%s'", cluster_dir);
    }

    return done_testing();
}
