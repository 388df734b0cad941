
/*
 * The PostgreSQL store's user directory: the contract's table
 * pdf_report_users (id text PRIMARY KEY, record jsonb NOT NULL), read by
 * primary key for steps 1 and 3, and loaded from the directory file as
 * the difference (contract section 7) under an advisory lock.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "pdf_report_pg.h"
#include "pdf_report_pg_int.h"
#include "pdf_report_users.h"


/* a file changed this close to its load may change again unseen */
#define PDF_REPORT_PG_USERS_RACY_NS  (2LL * 1000000000)

#define PDF_REPORT_PG_COPY_BUF  65536


/*
 * What a load changes, before it changes it: $1 erase, $2 now, $3 the
 * orgs with a webhook (text[]: their erased running jobs' events).  The
 * pairs no longer CONNECTED (those of changed users in the file's
 * order, then those of users gone, by id), the jobs of each erased
 * when $1 (pdf_report_store_revoked()'s rules), and the counts; one
 * row of NULLs when no pair is revoked.
 */
static const char  pdf_report_pg_users_diff[] =
    "WITH cur AS (SELECT t.ln, t.id, t.record AS new, u.record AS old"
    "   FROM pdf_report_users_in t"
    "   LEFT JOIN pdf_report_users u ON u.id = t.id),"
    " gone AS (SELECT u.id, u.record AS old FROM pdf_report_users u"
    "   WHERE NOT EXISTS (SELECT 1 FROM pdf_report_users_in t"
    "                     WHERE t.id = u.id)),"
    " lost AS ("
    "   SELECT 0 AS kind, ch.ln AS ord, ch.id, o.org, o.pos"
    "   FROM cur ch, LATERAL " PDF_REPORT_PG_ORGS("ch.old") " o"
    "   WHERE ch.old IS NOT NULL AND ch.old <> ch.new"
    "   AND octet_length(ch.id) <= 64"
    "   AND NOT EXISTS (SELECT 1 FROM " PDF_REPORT_PG_ORGS("ch.new") " k"
    "                   WHERE k.org = o.org)"
    "   UNION ALL"
    "   SELECT 1, 0, g.id, o.org, o.pos"
    "   FROM gone g, LATERAL " PDF_REPORT_PG_ORGS("g.old") " o"
    "   WHERE octet_length(g.id) <= 64),"
    " er AS (UPDATE pdf_report_jobs j SET"
    PDF_REPORT_PG_ERASE_SET("$2")
    "   FROM lost WHERE $1::boolean AND j.org = lost.org"
    "   AND j.user_id = lost.id AND j.flags & 1 = 0"
    "   RETURNING j.org, j.user_id, j AS jr),"
    " ev AS (" PDF_REPORT_PG_ERASED_EVENTS("$2", "$3") ")"
    " SELECT l.id, l.org, count(er.org),"
    "  (SELECT count(*) FROM cur WHERE old IS NULL),"
    "  (SELECT count(*) FROM cur WHERE old IS NOT NULL AND old <> new),"
    "  (SELECT count(*) FROM gone)"
    " FROM (SELECT 1) one LEFT JOIN lost l ON true"
    " LEFT JOIN er ON er.org = l.org AND er.user_id = l.id"
    " GROUP BY l.kind, l.ord, l.id, l.org, l.pos"
    " ORDER BY l.kind, l.ord, l.id COLLATE \"C\", l.pos";


typedef struct {
    pdf_report_pg_conn_t      *c;
    pdf_report_users_load_t   *load;
    pdf_report_users_reader_t *rd;
    size_t                     users;
    size_t                     len;
    int                        rc;
    char                       buf[PDF_REPORT_PG_COPY_BUF];
} pdf_report_pg_copy_t;


typedef struct {
    int          found;
    char         sha[PDF_REPORT_SHA256_HEX + 1];
    unsigned     rules;
    char         stat[128];
    int64_t      changed_ns;
    int64_t      loaded_ns;
} pdf_report_pg_fp_t;


static int pdf_report_pg_users_apply(pdf_report_pg_conn_t *c,
    pdf_report_users_load_t *load, unsigned erase, const char *hook_orgs,
    const char *host, const char *stat, int64_t changed_ns,
    int64_t loaded_ns);
static int pdf_report_pg_copy_record(void *data,
    pdf_report_user_rec_t *rec);
static int pdf_report_pg_copy_put(pdf_report_pg_copy_t *cp, const char *p,
    size_t len, int escape);
static int pdf_report_pg_copy_flush(pdf_report_pg_copy_t *cp);
static size_t pdf_report_pg_copy_line(int fd, long row);
static int pdf_report_pg_fp_read(pdf_report_pg_conn_t *c, const char *host,
    pdf_report_pg_fp_t *dir, pdf_report_pg_fp_t *mine);
static int pdf_report_pg_fp_write(pdf_report_pg_conn_t *c,
    const char *host, const char *sha, const char *stat, int64_t changed_ns,
    int64_t loaded_ns, int dir);


int
pdf_report_pg_user_access(pdf_report_pg_t *pg, const char *org,
    const char *id, size_t id_len, char *stem, size_t *stem_len)
{
    int                     rc;
    char                    key[PDF_REPORT_USER_ID_MAX + 1];
    size_t                  org_len;
    PGresult               *r;
    const char             *vals[1];
    pdf_report_pg_conn_t   *c;

    org_len = strlen(org);

    if (id_len == 0 || id_len > PDF_REPORT_USER_ID_MAX
        || org_len > PDF_REPORT_ORG_MAX || memchr(id, '\0', id_len) != NULL)
    {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    memcpy(key, id, id_len);
    key[id_len] = '\0';
    vals[0] = key;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_USER_GET, 1, vals);

    if (!pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = pdf_report_pg_failed(c, r);
        pdf_report_pg_release(pg, c);
        return rc;
    }

    pdf_report_pg_release(pg, c);

    if (PQntuples(r) != 1) {
        PQclear(r);
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = pdf_report_pg_access_of(PQgetvalue(r, 0, 0),
                                 (size_t) PQgetlength(r, 0, 0), org, stem,
                                 stem_len);

    PQclear(r);

    return rc;
}


int
pdf_report_pg_access_of(const char *json, size_t len, const char *org,
    char *stem, size_t *stem_len)
{
    int                     rc;
    pdf_report_user_rec_t   rec;

    memset(&rec, 0, sizeof(pdf_report_user_rec_t));

    rc = pdf_report_user_access_of(json, len, &rec);

    /* a record that is no object (written by hand): connected to none */
    if (rc == 0 && pdf_report_user_rec_has_org(&rec, org, strlen(org))) {
        memcpy(stem, rec.e.stem, rec.e.stem_len + 1);
        *stem_len = rec.e.stem_len;

    } else if (rc == 0 || rc == PDF_REPORT_USERS_INVALID) {
        rc = PDF_REPORT_STORE_NOT_CONNECTED;
    }

    pdf_report_user_rec_free(&rec);

    return rc;
}


int
pdf_report_pg_user_get(pdf_report_pg_t *pg, const char *id, size_t id_len,
    char **json, size_t *len)
{
    int                    rc;
    char                   key[PDF_REPORT_USER_ID_MAX + 1];
    PGresult              *r;
    const char            *vals[1];
    pdf_report_pg_conn_t  *c;

    *json = NULL;

    if (id_len == 0 || id_len > PDF_REPORT_USER_ID_MAX
        || memchr(id, '\0', id_len) != NULL)
    {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    memcpy(key, id, id_len);
    key[id_len] = '\0';
    vals[0] = key;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_USER_GET, 1, vals);

    if (!pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = pdf_report_pg_failed(c, r);
        pdf_report_pg_release(pg, c);
        return rc;
    }

    pdf_report_pg_release(pg, c);

    if (PQntuples(r) != 1) {
        PQclear(r);
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    *len = (size_t) PQgetlength(r, 0, 0);
    *json = malloc(*len + 1);

    if (*json == NULL) {
        PQclear(r);
        return ENOMEM;
    }

    memcpy(*json, PQgetvalue(r, 0, 0), *len + 1);

    PQclear(r);

    return 0;
}


/*
 * The load (see pdf_report_pg.h).  Fingerprint rows: the host's (the
 * stat and SHA-256 of its file when last read) and the directory's
 * (source '': the SHA-256 of the file the table was loaded from, and the
 * rules it was checked under).  Several edges with the same file each
 * read it once after another loaded it, and load nothing.
 */

int
pdf_report_pg_users_load(pdf_report_pg_t *pg, pdf_report_users_load_t *load)
{
    int                    rc;
    char                   host[256], stat_text[128];
    char                   sha[PDF_REPORT_SHA256_HEX + 1];
    int64_t                mtime, ctime, changed, loaded;
    struct stat            st;
    struct timespec        ts;
    pdf_report_pg_fp_t     dir, mine;
    pdf_report_pg_conn_t  *c;
    unsigned char          md[PDF_REPORT_SHA256_LEN];

    pdf_report_users_load_reset(load);

    if (fstat(load->fd, &st) == -1
        || clock_gettime(CLOCK_REALTIME, &ts) == -1)
    {
        return errno;
    }

    mtime = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    ctime = (int64_t) st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    changed = mtime > ctime ? mtime : ctime;
    loaded = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;

    snprintf(stat_text, sizeof(stat_text), "%llu:%llu:%llu:%lld:%lld",
             (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
             (unsigned long long) st.st_size, (long long) mtime,
             (long long) ctime);

    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
        snprintf(host, sizeof(host), "localhost");
    }

    host[sizeof(host) - 1] = '\0';

    rc = pdf_report_pg_acquire(pg, 0, &c);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_pg_fp_read(c, host, &dir, &mine);
    if (rc != 0) {
        goto done;
    }

    /* the table holds what this host's unchanged file held */
    if (dir.found && mine.found && dir.rules == PDF_REPORT_USERS_RULES
        && mine.rules == PDF_REPORT_USERS_RULES
        && strcmp(dir.sha, mine.sha) == 0
        && strcmp(mine.stat, stat_text) == 0
        && mine.changed_ns < mine.loaded_ns - PDF_REPORT_PG_USERS_RACY_NS)
    {
        load->unchanged = PDF_REPORT_USERS_SAME_STAT;
        goto done;
    }

    rc = pdf_report_users_digest(load->fd, md);
    if (rc != 0) {
        goto done;
    }

    pdf_report_hex(sha, md, PDF_REPORT_SHA256_LEN);
    sha[PDF_REPORT_SHA256_HEX] = '\0';

    if (dir.found && dir.rules == PDF_REPORT_USERS_RULES
        && strcmp(dir.sha, sha) == 0)
    {
        load->unchanged = PDF_REPORT_USERS_SAME_SHA;

        /* the same content: next time its new stat will do */
        if (!load->check) {
            rc = pdf_report_pg_fp_write(c, host, sha, stat_text, changed,
                                        loaded, 0);
        }

        goto done;
    }

    if (lseek(load->fd, 0, SEEK_SET) == -1) {
        rc = errno;
        goto done;
    }

    rc = pdf_report_pg_users_apply(c, load, pg->erase_on_revoke,
                                   pg->hook_orgs, host,
                                   stat_text, changed, loaded);

done:

    if (rc == PDF_REPORT_PG_ERROR || rc == PDF_REPORT_STORE_UNAVAILABLE) {
        snprintf(load->err, sizeof(load->err), "%s", pdf_report_pg_error());
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


static int
pdf_report_pg_users_apply(pdf_report_pg_conn_t *c,
    pdf_report_users_load_t *load, unsigned erase, const char *hook_orgs,
    const char *host, const char *stat, int64_t changed_ns,
    int64_t loaded_ns)
{
    int                         rc, i, n;
    long                        row;
    char                        key[32], now[32];
    const char                 *ctx;
    char                        sha[PDF_REPORT_SHA256_HEX + 1];
    PGresult                   *r;
    const char                 *vals[3];
    pdf_report_idset_t          set;
    pdf_report_pg_fp_t          dir, mine;
    pdf_report_pg_copy_t       *cp;
    pdf_report_users_scan_t     scan;
    pdf_report_users_reader_t   rd;
    unsigned char               md[PDF_REPORT_SHA256_LEN];

    cp = malloc(sizeof(pdf_report_pg_copy_t));
    if (cp == NULL) {
        return ENOMEM;
    }

    cp->c = c;
    cp->load = load;
    cp->rd = &rd;
    cp->users = 0;
    cp->len = 0;
    cp->rc = 0;

    rc = pdf_report_pg_query(c, "BEGIN ISOLATION LEVEL READ COMMITTED", 0,
                             NULL, NULL);

    /*
     * Edges reloading together: one loads, the others wait, then find
     * the table loaded from their file already (a check writes nothing
     * and waits for nobody).
     */
    /*
     * As long as another edge's load takes; and the file's rows are
     * compared with the whole table: sequential scans again (they are
     * off for the sessions, pdf_report_pg.c)
     */
    if (rc == 0) {
        rc = pdf_report_pg_query(c, "SET LOCAL lock_timeout = 0;"
                                 " SET LOCAL enable_seqscan = on", 0, NULL,
                                 NULL);
    }

    /* the load erases what it revokes itself: the trigger that queues
     * revocations written by other systems leaves its rows alone */
    if (rc == 0) {
        rc = pdf_report_pg_query(c, "SET LOCAL pdf_report.loading = 'on'",
                                 0, NULL, NULL);
    }

    if (rc == 0 && !load->check) {
        snprintf(key, sizeof(key), "%lld",
                 (long long) pdf_report_pg_lock_key("users", "", 0));
        vals[0] = key;

        rc = pdf_report_pg_query(c,
                                 "SELECT pg_advisory_xact_lock($1::bigint)",
                                 1, vals, NULL);
    }

    if (rc == 0) {
        rc = pdf_report_pg_query(c,
                 "CREATE TEMPORARY TABLE pdf_report_users_in"
                 " (ln bigint NOT NULL, id text NOT NULL,"
                 "  record jsonb NOT NULL) ON COMMIT DROP", 0, NULL, NULL);
    }

    if (rc == 0) {
        r = PQexec(c->conn, "COPY pdf_report_users_in FROM STDIN");

        if (!pdf_report_pg_ok(r, PGRES_COPY_IN)) {
            rc = pdf_report_pg_failed(c, r);

        } else {
            PQclear(r);
        }
    }

    if (rc != 0) {
        free(cp);
        return rc;
    }

    /* every line checked as it streams: nothing kept in memory */

    rc = pdf_report_users_reader_init(&rd, load->fd, NULL, 0, load->chunk);

    if (rc == 0) {
        rc = pdf_report_idset_init(&set, 0);

        if (rc == 0) {
            scan.known = NULL;
            scan.record = pdf_report_pg_copy_record;
            scan.data = cp;

            rc = pdf_report_users_scan(&rd, &set, &scan, &load->line,
                                       load->err, sizeof(load->err));

            if (rc == 0) {
                rc = pdf_report_users_reader_digest(&rd, md);
            }

            pdf_report_idset_free(&set);
        }

        pdf_report_users_reader_close(&rd);
    }

    if (rc == 0) {
        rc = pdf_report_pg_copy_flush(cp);
    }

    if (cp->rc != 0) {
        rc = cp->rc;
    }

    load->users = cp->users;

    /* a refused line ends the COPY, and the transaction with it */
    if (c->conn != NULL
        && PQputCopyEnd(c->conn, rc == 0 ? NULL : "refused") != 1)
    {
        rc = rc ? rc : pdf_report_pg_failed(c, NULL);
    }

    if (c->conn != NULL) {
        while ((r = PQgetResult(c->conn)) != NULL) {
            if (rc == 0 && !pdf_report_pg_ok(r, PGRES_COMMAND_OK)) {
                /*
                 * A record jsonb refuses (a number beyond numeric's
                 * range): its row, counted in the context, gives its line.
                 */
                ctx = PQresultErrorField(r, PG_DIAG_CONTEXT);
                ctx = (ctx != NULL) ? strstr(ctx, ", line ") : NULL;
                row = (ctx != NULL) ? strtol(ctx + 7, NULL, 10) : 0;

                rc = pdf_report_pg_failed(c, r);

                if (rc == PDF_REPORT_PG_ERROR) {
                    rc = PDF_REPORT_USERS_INVALID;
                    load->line = pdf_report_pg_copy_line(load->fd, row);
                    snprintf(load->err, sizeof(load->err),
                             "refused by PostgreSQL's jsonb: %s",
                             pdf_report_pg_error());
                }

                continue;
            }

            PQclear(r);
        }
    }

    free(cp);

    if (rc != 0) {
        load->users = 0;
        return rc;
    }

    if (!load->check) {
        /* another edge loaded this very file while this one waited */
        pdf_report_hex(sha, md, PDF_REPORT_SHA256_LEN);
        sha[PDF_REPORT_SHA256_HEX] = '\0';

        rc = pdf_report_pg_fp_read(c, host, &dir, &mine);
        if (rc != 0) {
            return rc;
        }

        if (dir.found && dir.rules == PDF_REPORT_USERS_RULES
            && strcmp(dir.sha, sha) == 0)
        {
            load->unchanged = PDF_REPORT_USERS_SAME_SHA;
            load->users = 0;

            rc = pdf_report_pg_fp_write(c, host, sha, stat, changed_ns,
                                        loaded_ns, 0);
            if (rc == 0) {
                rc = pdf_report_pg_query(c, "COMMIT", 0, NULL, NULL);
            }

            return rc;
        }
    }

    snprintf(now, sizeof(now), "%lld", (long long) load->now_ms);
    vals[0] = (erase && !load->check) ? "t" : "f";
    vals[1] = now;

    vals[2] = hook_orgs;

    rc = pdf_report_pg_query(c, pdf_report_pg_users_diff, 3, vals, &r);
    if (rc != 0) {
        return rc;
    }

    n = PQntuples(r);

    for (i = 0; i < n; i++) {
        load->added = (size_t) pdf_report_pg_int(r, i, 3);
        load->changed = (size_t) pdf_report_pg_int(r, i, 4);
        load->removed = (size_t) pdf_report_pg_int(r, i, 5);

        if (PQgetisnull(r, i, 0) || load->check) {
            continue;
        }

        load->revoked_pairs++;

        if (pdf_report_pg_int(r, i, 2) > 0) {
            load->erased_pairs++;
            load->erased_jobs += (size_t) pdf_report_pg_int(r, i, 2);
        }

        if (load->revoked != NULL) {
            load->revoked(load->data, PQgetvalue(r, i, 1),
                          (size_t) PQgetlength(r, i, 1), PQgetvalue(r, i, 0),
                          (size_t) PQgetlength(r, i, 0));
        }
    }

    PQclear(r);

    /* nginx -t: counted, nothing written */
    if (load->check) {
        return pdf_report_pg_query(c, "ROLLBACK", 0, NULL, NULL);
    }

    rc = pdf_report_pg_query(c,
             "DELETE FROM pdf_report_users u WHERE NOT EXISTS"
             " (SELECT 1 FROM pdf_report_users_in t WHERE t.id = u.id)",
             0, NULL, NULL);

    if (rc == 0) {
        rc = pdf_report_pg_query(c,
                 "INSERT INTO pdf_report_users (id, record)"
                 " SELECT id, record FROM pdf_report_users_in"
                 " ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record"
                 " WHERE pdf_report_users.record <> EXCLUDED.record",
                 0, NULL, NULL);
    }

    if (rc == 0) {
        rc = pdf_report_pg_fp_write(c, host, sha, stat, changed_ns,
                                    loaded_ns, 1);
    }

    if (rc == 0) {
        rc = pdf_report_pg_query(c, "COMMIT", 0, NULL, NULL);
    }

    if (rc != 0) {
        load->revoked_pairs = 0;
        load->erased_pairs = 0;
        load->erased_jobs = 0;
    }

    return rc;
}


/* the line of the file that gave the row-th record: blank lines skipped */

static size_t
pdf_report_pg_copy_line(int fd, long row)
{
    char                       *p;
    long                        n;
    size_t                      len, i, line;
    pdf_report_users_reader_t   rd;

    line = 0;

    if (row <= 0 || lseek(fd, 0, SEEK_SET) == -1
        || pdf_report_users_reader_init(&rd, fd, NULL, 0, 0) != 0)
    {
        return 0;
    }

    for (n = 0; pdf_report_users_reader_next(&rd, &p, &len) == 1; /* void */)
    {
        for (i = 0; i < len && (p[i] == ' ' || p[i] == '\t'); i++) {
            /* void */
        }

        if (i < len && ++n == row) {
            line = rd.line;
            break;
        }
    }

    pdf_report_users_reader_close(&rd);

    return line;
}


/* one checked line as a COPY row: line number, id, record */

static int
pdf_report_pg_copy_record(void *data, pdf_report_user_rec_t *rec)
{
    pdf_report_pg_copy_t  *cp = data;

    char  ln[32];
    int   n;

    cp->users++;

    n = snprintf(ln, sizeof(ln), "%zu\t", cp->rd->line);

    if (pdf_report_pg_copy_put(cp, ln, (size_t) n, 0) != 0
        || pdf_report_pg_copy_put(cp, rec->e.id, rec->e.id_len, 1) != 0
        || pdf_report_pg_copy_put(cp, "\t", 1, 0) != 0
        || pdf_report_pg_copy_put(cp, rec->e.json, rec->e.json_len, 1) != 0
        || pdf_report_pg_copy_put(cp, "\n", 1, 0) != 0)
    {
        return cp->rc;
    }

    return 0;
}


/* COPY's text format: a backslash, tab, newline or CR escaped */

static int
pdf_report_pg_copy_put(pdf_report_pg_copy_t *cp, const char *p, size_t len,
    int escape)
{
    char    ch;
    size_t  i;

    for (i = 0; i < len; i++) {
        if (cp->len + 2 > sizeof(cp->buf)
            && pdf_report_pg_copy_flush(cp) != 0)
        {
            return cp->rc;
        }

        ch = p[i];

        if (escape && (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r'))
        {
            cp->buf[cp->len++] = '\\';
            ch = (ch == '\t') ? 't' : (ch == '\n') ? 'n'
                 : (ch == '\r') ? 'r' : '\\';
        }

        cp->buf[cp->len++] = ch;
    }

    return 0;
}


static int
pdf_report_pg_copy_flush(pdf_report_pg_copy_t *cp)
{
    if (cp->len > 0
        && PQputCopyData(cp->c->conn, cp->buf, (int) cp->len) != 1)
    {
        cp->rc = pdf_report_pg_failed(cp->c, NULL);
        return cp->rc;
    }

    cp->len = 0;

    return 0;
}


static int
pdf_report_pg_fp_read(pdf_report_pg_conn_t *c, const char *host,
    pdf_report_pg_fp_t *dir, pdf_report_pg_fp_t *mine)
{
    int                  rc, i;
    PGresult            *r;
    const char          *vals[1];
    pdf_report_pg_fp_t  *fp;

    memset(dir, 0, sizeof(pdf_report_pg_fp_t));
    memset(mine, 0, sizeof(pdf_report_pg_fp_t));

    vals[0] = host;

    rc = pdf_report_pg_query(c,
             "SELECT source, encode(sha256, 'hex'), rules, stat, changed_ns,"
             " loaded_ns FROM pdf_report_users_fp"
             " WHERE source IN ('', $1::text)", 1, vals, &r);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; i < PQntuples(r); i++) {
        fp = (PQgetvalue(r, i, 0)[0] == '\0') ? dir : mine;

        fp->found = 1;
        snprintf(fp->sha, sizeof(fp->sha), "%s", PQgetvalue(r, i, 1));
        fp->rules = (unsigned) pdf_report_pg_int(r, i, 2);
        snprintf(fp->stat, sizeof(fp->stat), "%s", PQgetvalue(r, i, 3));
        fp->changed_ns = pdf_report_pg_int(r, i, 4);
        fp->loaded_ns = pdf_report_pg_int(r, i, 5);
    }

    PQclear(r);

    return 0;
}


/* the host's row; and the directory's too when dir (it was loaded) */

static int
pdf_report_pg_fp_write(pdf_report_pg_conn_t *c, const char *host,
    const char *sha, const char *stat, int64_t changed_ns, int64_t loaded_ns,
    int dir)
{
    int          rc;
    char         rules[16], changed[32], loaded[32];
    const char  *vals[6];

    snprintf(rules, sizeof(rules), "%d", PDF_REPORT_USERS_RULES);
    snprintf(changed, sizeof(changed), "%lld", (long long) changed_ns);
    snprintf(loaded, sizeof(loaded), "%lld", (long long) loaded_ns);

    vals[0] = host;
    vals[1] = sha;
    vals[2] = rules;
    vals[3] = stat;
    vals[4] = changed;
    vals[5] = loaded;

    rc = pdf_report_pg_query(c,
             "INSERT INTO pdf_report_users_fp"
             " (source, sha256, rules, stat, changed_ns, loaded_ns)"
             " VALUES ($1::text, decode($2::text, 'hex'), $3::int,"
             "  $4::text, $5::bigint, $6::bigint)"
             " ON CONFLICT (source) DO UPDATE SET sha256 = EXCLUDED.sha256,"
             " rules = EXCLUDED.rules, stat = EXCLUDED.stat,"
             " changed_ns = EXCLUDED.changed_ns,"
             " loaded_ns = EXCLUDED.loaded_ns", 6, vals, NULL);

    if (rc != 0 || !dir) {
        return rc;
    }

    vals[0] = "";
    vals[3] = "";
    vals[4] = "0";
    vals[5] = "0";

    return pdf_report_pg_query(c,
             "INSERT INTO pdf_report_users_fp"
             " (source, sha256, rules, stat, changed_ns, loaded_ns)"
             " VALUES ($1::text, decode($2::text, 'hex'), $3::int,"
             "  $4::text, $5::bigint, $6::bigint)"
             " ON CONFLICT (source) DO UPDATE SET sha256 = EXCLUDED.sha256,"
             " rules = EXCLUDED.rules", 6, vals, NULL);
}
