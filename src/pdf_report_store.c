
/*
 * The LMDB store; see pdf_report_store.h.
 *
 * Databases in one environment:
 *   meta     "format" -> u32 layout version; "users_fp" -> the
 *            fingerprint of the directory file last loaded (a key added
 *            without a new layout version: a store without it loads
 *            its next directory as a changed one)
 *   jobs     job id (36 bytes) -> encoded job record
 *   pending  org "\0" user -> job id, while that job is not terminal
 *   queue    created_ms (8 bytes, big-endian) job id -> "", every job that
 *            is not terminal, oldest first: the queue of record
 *   rate     org -> sorted duplicates of ms (8, BE) + nonce (4): the
 *            counted step-1 requests still inside some window
 *   users    user id -> the user's record as one line of JSON
 *   access   org "\0" user id -> the user's filename stem, for every
 *            CONNECTED connection: steps 1 and 3 without a JSON parse;
 *            derived from users, and changed with it
 *   byuser   org "\0" user "\0" job id -> "", every job: a pair's jobs,
 *            for erasure when the pair is revoked
 *   retain   terminal_ms (8, BE) job id -> "", every terminal job whose
 *            deletion has not started, oldest first: retention's queue
 *            (the time it became terminal, not when it is due, so that a
 *            reload that changes the retention applies to every job)
 *   purge    not_before_ms (8, BE) job id -> u32 failed attempts, every
 *            job being deleted (due under retention, or erased), in the
 *            order its next delete may start; a pass leases an entry by
 *            moving its key to now + lease
 *   running  job id -> "", every IN_PROGRESS job: with queue's count,
 *            the metrics' gauges of PENDING and IN_PROGRESS jobs without
 *            a scan (kept by pdf_report_job_write())
 *   hooks    due_ms (8, BE) job id -> a webhook event: u32 attempts,
 *            i64 when the job ended, org (u8 length + bytes), the body;
 *            recorded with the job's end when its org has a webhook, in
 *            the order its next delivery is due; a delivery leases an
 *            entry by moving its key to now + lease
 *   idem     org "\0" Idempotency-Key -> the answer it was given
 *            (pdf_report_store_idem.c); idemexp, expires_ms (8, BE)
 *            org "\0" key -> "", the same records by expiry, so that
 *            expired ones are deleted oldest first.  Both added without
 *            a new layout version: a store without them gets them empty.
 *
 * A job is in byuser while its record exists; a terminal one is in
 * exactly one of retain and purge; a job that is not terminal is in
 * pending and queue, and in running while IN_PROGRESS.
 *
 * Write transactions are short and never span rendering or uploads;
 * LMDB serialises them across processes and threads.
 */


#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/rand.h>

#include "pdf_report_store.h"
#include "pdf_report_store_int.h"
#include "pdf_report_users.h"


#define PDF_REPORT_JOB_VERSION   1
#define PDF_REPORT_JOB_ENC_MAX   1024
#define PDF_REPORT_SCAN_BATCH    64
#define PDF_REPORT_RATE_VAL_LEN  12
#define PDF_REPORT_QUEUE_KEY_LEN (8 + PDF_REPORT_UUID_LEN)
#define PDF_REPORT_BYUSER_KEY_MAX                                           \
    (PDF_REPORT_ORG_MAX + 1 + PDF_REPORT_USER_ID_MAX + 1 + PDF_REPORT_UUID_LEN)
#define PDF_REPORT_PURGE_BATCH   64


typedef enum {
    PDF_REPORT_ACT_DROP = 0,     /* stale queue entry */
    PDF_REPORT_ACT_TIMEOUT,
    PDF_REPORT_ACT_GIVE_UP,
    PDF_REPORT_ACT_CLAIM
} pdf_report_act_e;


typedef struct {
    unsigned char   key[PDF_REPORT_QUEUE_KEY_LEN];
    pdf_report_act_e  act;
} pdf_report_action_t;


static size_t pdf_report_job_encode(const pdf_report_job_t *job,
    unsigned char *buf);
static int pdf_report_job_decode(const MDB_val *v, pdf_report_job_t *job);
static int pdf_report_job_read(pdf_report_store_t *store, MDB_txn *txn,
    const char *id, pdf_report_job_t *job);
static int pdf_report_job_write(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job);
static size_t pdf_report_pending_key(const pdf_report_job_t *job,
    unsigned char *buf);
static void pdf_report_queue_key(const pdf_report_job_t *job,
    unsigned char *buf);
static int pdf_report_job_retire(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job);
static int pdf_report_scan_collect(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_scan_t *scan, pdf_report_action_t *acts, size_t max,
    size_t *nacts, pdf_report_scan_result_t *res);
static int pdf_report_scan_apply(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_scan_t *scan, const pdf_report_action_t *act,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res);
static void pdf_report_job_fail(pdf_report_job_t *job, int64_t now_ms,
    const char *code, const char *message);
static int pdf_report_nearly_full(pdf_report_store_t *store, MDB_txn *txn);
static int64_t pdf_report_terminal_ms(const pdf_report_job_t *job);
static size_t pdf_report_byuser_key(const pdf_report_job_t *job,
    unsigned char *buf);
static int pdf_report_job_terminal(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job);
static int pdf_report_purge_put(pdf_report_store_t *store, MDB_txn *txn,
    int64_t not_before_ms, const char *id, uint32_t attempts);
static int pdf_report_job_delete(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job);
static int pdf_report_store_revoked(pdf_report_store_t *store,
    MDB_txn *txn, const char *org, size_t org_len, const char *user,
    size_t user_len, int64_t now_ms, pdf_report_users_load_t *load);
static int pdf_report_purge_take_txn(pdf_report_store_t *store,
    MDB_txn *txn, int64_t now_ms, int64_t retention_ms, int64_t lease_ms,
    pdf_report_purge_t *items, size_t max, size_t *n, unsigned *more);
static int pdf_report_purge_done_txn(pdf_report_store_t *store,
    const pdf_report_purge_t *items, size_t n, unsigned *retention,
    unsigned *revoked);
static size_t pdf_report_purge_room(pdf_report_store_t *store);


int
pdf_report_store_open(pdf_report_store_t **store, const char *dir,
    size_t map_size, unsigned *found_format)
{
    int                  rc;
    MDB_txn             *txn;
    MDB_val              k, v;
    pdf_report_store_t  *st;
    unsigned char        fmt[4];
    MDB_stat             stat;

    *store = NULL;
    *found_format = 0;

    st = calloc(1, sizeof(pdf_report_store_t));
    if (st == NULL) {
        return ENOMEM;
    }

    if (snprintf(st->path, sizeof(st->path), "%s/data.mdb", dir)
        >= (int) sizeof(st->path))
    {
        free(st);
        return ENAMETOOLONG;
    }

    rc = mdb_env_create(&st->env);
    if (rc != 0) {
        free(st);
        return rc;
    }

    (void) mdb_env_set_maxdbs(st->env, 16);

    /* reader slots: every worker's event loop and pool threads */
    (void) mdb_env_set_maxreaders(st->env, 1024);

    rc = mdb_env_set_mapsize(st->env, map_size);
    if (rc != 0) {
        goto failed;
    }

    /* MDB_NOTLS: read transactions are not tied to the opening thread */
    rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600);
    if (rc != 0) {
        goto failed;
    }

    rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0) {
        goto failed;
    }

    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0
        || (rc = mdb_dbi_open(txn, "jobs", MDB_CREATE, &st->jobs)) != 0
        || (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &st->pending))
           != 0
        || (rc = mdb_dbi_open(txn, "queue", MDB_CREATE, &st->queue)) != 0
        || (rc = mdb_dbi_open(txn, "rate",
                              MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                              &st->rate)) != 0
        || (rc = mdb_dbi_open(txn, "users", MDB_CREATE, &st->users)) != 0
        || (rc = mdb_dbi_open(txn, "access", MDB_CREATE, &st->access))
           != 0
        || (rc = mdb_dbi_open(txn, "retain", MDB_CREATE, &st->retain))
           != 0
        || (rc = mdb_dbi_open(txn, "purge", MDB_CREATE, &st->purge)) != 0
        || (rc = mdb_dbi_open(txn, "byuser", MDB_CREATE, &st->byuser))
           != 0
        || (rc = mdb_dbi_open(txn, "running", MDB_CREATE, &st->running))
           != 0
        || (rc = mdb_dbi_open(txn, "hooks", MDB_CREATE, &st->hooks)) != 0
        || (rc = mdb_dbi_open(txn, "idem", MDB_CREATE, &st->idem)) != 0
        || (rc = mdb_dbi_open(txn, "idemexp", MDB_CREATE, &st->idemexp))
           != 0)
    {
        mdb_txn_abort(txn);
        goto failed;
    }

    /* the module sets it from pdf_report_erase_on_revoke (default on) */
    st->erase_on_revoke = 0;

    k.mv_data = "format";
    k.mv_size = sizeof("format") - 1;

    rc = mdb_get(txn, st->meta, &k, &v);

    if (rc == MDB_NOTFOUND) {
        rc = mdb_stat(txn, st->jobs, &stat);
        if (rc != 0) {
            mdb_txn_abort(txn);
            goto failed;
        }

        if (stat.ms_entries != 0) {
            /* jobs without a format mark: written by something else */
            mdb_txn_abort(txn);
            rc = PDF_REPORT_STORE_EXISTS;
            goto failed;
        }

        pdf_report_put_u32(fmt, PDF_REPORT_STORE_FORMAT);
        v.mv_data = fmt;
        v.mv_size = sizeof(fmt);

        rc = mdb_put(txn, st->meta, &k, &v, 0);
        if (rc != 0) {
            mdb_txn_abort(txn);
            goto failed;
        }

        st->format = PDF_REPORT_STORE_FORMAT;

    } else if (rc != 0) {
        mdb_txn_abort(txn);
        goto failed;

    } else if (v.mv_size != 4
               || (pdf_report_get_u32(v.mv_data) != PDF_REPORT_STORE_FORMAT
                   && pdf_report_get_u32(v.mv_data) != 1))
    {
        *found_format = v.mv_size == 4 ? pdf_report_get_u32(v.mv_data) : 0;
        mdb_txn_abort(txn);
        rc = PDF_REPORT_STORE_EXISTS;
        goto failed;

    } else {
        /* this version, or 1: pdf_report_store_migrate() upgrades it */
        st->format = pdf_report_get_u32(v.mv_data);
    }

    *found_format = st->format;

    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        goto failed;
    }

    *store = st;

    return 0;

failed:

    mdb_env_close(st->env);
    free(st);

    return rc;
}


void
pdf_report_store_close(pdf_report_store_t *store)
{
    if (store == NULL) {
        return;
    }

    mdb_env_close(store->env);
    free(store);
}


int
pdf_report_store_reader_check(pdf_report_store_t *store, int *dead)
{
    return mdb_reader_check(store->env, dead);
}


const char *
pdf_report_store_path(pdf_report_store_t *store)
{
    return store->path;
}


/*
 * Version 1 had no lifecycle indexes: each job gets its byuser entry,
 * and each terminal one its retain entry, as if it had been written by
 * this version; the mark goes to this version in the same transaction.
 */

int
pdf_report_store_migrate(pdf_report_store_t *store, size_t *jobs)
{
    int               rc;
    MDB_txn          *txn;
    MDB_val           k, v;
    MDB_cursor       *cur;
    unsigned char     fmt[4], key[PDF_REPORT_BYUSER_KEY_MAX];
    pdf_report_job_t  job;

    *jobs = 0;

    if (store->format == PDF_REPORT_STORE_FORMAT) {
        return 0;
    }

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, store->jobs, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size != PDF_REPORT_UUID_LEN
            || pdf_report_job_decode(&v, &job) != 0)
        {
            rc = MDB_CORRUPTED;
            break;
        }

        memcpy(job.id, k.mv_data, PDF_REPORT_UUID_LEN);
        job.id[PDF_REPORT_UUID_LEN] = '\0';

        k.mv_data = key;
        k.mv_size = pdf_report_byuser_key(&job, key);
        v.mv_data = "";
        v.mv_size = 0;

        rc = mdb_put(txn, store->byuser, &k, &v, 0);

        if (rc == 0 && (job.status == PDF_REPORT_COMPLETE
                        || job.status == PDF_REPORT_FAILED))
        {
            rc = pdf_report_job_terminal(store, txn, &job);
        }

        if (rc == 0 && job.status == PDF_REPORT_IN_PROGRESS) {
            k.mv_data = job.id;
            k.mv_size = PDF_REPORT_UUID_LEN;

            rc = mdb_put(txn, store->running, &k, &v, 0);
        }

        if (rc != 0) {
            break;
        }

        (*jobs)++;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        *jobs = 0;
        return rc;
    }

    k.mv_data = "format";
    k.mv_size = sizeof("format") - 1;
    pdf_report_put_u32(fmt, PDF_REPORT_STORE_FORMAT);
    v.mv_data = fmt;
    v.mv_size = sizeof(fmt);

    rc = mdb_put(txn, store->meta, &k, &v, 0);

    rc = pdf_report_commit(txn, rc);

    if (rc != 0) {
        *jobs = 0;
        return rc;
    }

    store->format = PDF_REPORT_STORE_FORMAT;

    return 0;
}


/*
 * The directory load (see pdf_report_store.h).  One pass over the file
 * runs in one of three modes: CHECK counts what would change (nginx -t),
 * COLLECT also keeps the changed lines and the ids of the users gone,
 * APPLY writes in the write transaction.
 */

#define PDF_REPORT_USERS_CHECK    0
#define PDF_REPORT_USERS_COLLECT  1
#define PDF_REPORT_USERS_APPLY    2

#define PDF_REPORT_USERS_FP_VERSION  1
#define PDF_REPORT_USERS_FP_LEN      (4 + 4 + 32 + 11 * 8)

/* a file changed this close before it was read may change again unseen */
#define PDF_REPORT_USERS_RACY_NS     2000000000LL


typedef struct {
    uint32_t        rules;
    unsigned char   sha256[PDF_REPORT_SHA256_LEN];
    uint64_t        dev;
    uint64_t        ino;
    uint64_t        size;
    int64_t         mtime_ns;
    int64_t         ctime_ns;
    int64_t         loaded_ns;       /* when the file was read */
    uint64_t        entries;         /* the users db that load left */
    uint64_t        depth;
    uint64_t        branch;
    uint64_t        leaf;
    uint64_t        overflow;
} pdf_report_users_fp_t;


typedef struct {
    pdf_report_store_t          *store;
    MDB_txn                     *txn;
    pdf_report_users_load_t     *load;
    unsigned                     mode;
    unsigned                     overflow;   /* COLLECT: too much */
    pdf_report_users_buf_t       diff;       /* changed lines, "\n" */
    pdf_report_users_buf_t       gone;       /* removed ids, NUL */
    size_t                       users;
    size_t                       added;
    size_t                       changed;
    size_t                       removed;
    pdf_report_user_rec_t        old;        /* a stored record's */
} pdf_report_users_ctx_t;


static int pdf_report_users_pass(pdf_report_users_ctx_t *ctx, int fd,
    const char *mem, size_t mem_len, pdf_report_idset_t *set, int known,
    unsigned char *sha256);
static int pdf_report_users_known(void *data, const char *id,
    size_t id_len, const char *json, size_t json_len, int *same);
static int pdf_report_users_record(void *data, pdf_report_user_rec_t *rec);
static int pdf_report_users_apply(pdf_report_users_ctx_t *ctx,
    const pdf_report_user_rec_t *rec);
static int pdf_report_users_absent(pdf_report_users_ctx_t *ctx,
    pdf_report_idset_t *set);
static int pdf_report_users_remove(pdf_report_users_ctx_t *ctx,
    const char *id, size_t id_len);
static int pdf_report_users_access_del(pdf_report_users_ctx_t *ctx,
    const char *id, size_t id_len, const pdf_report_user_rec_t *keep);
static size_t pdf_report_users_access_key(char *key, const char *org,
    size_t org_len, const char *id, size_t id_len);
static int pdf_report_users_revoke(pdf_report_users_ctx_t *ctx,
    const char *org, size_t org_len, const char *user, size_t user_len);
static int pdf_report_users_keep(pdf_report_users_ctx_t *ctx,
    pdf_report_users_buf_t *buf, const char *p, size_t len, int sep);
static int pdf_report_users_fp_get(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_users_fp_t *fp);
static int pdf_report_users_fp_put(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_users_fp_t *fp);
static int pdf_report_users_shape(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_users_fp_t *fp);


int
pdf_report_store_users_load(pdf_report_store_t *store,
    pdf_report_users_load_t *load)
{
    int                      rc, trusted, first;
    char                    *p;
    size_t                   users;
    MDB_txn                 *txn;
    struct stat              st;
    struct timespec          ts;
    pdf_report_idset_t       set;
    pdf_report_users_fp_t    fp, now;
    pdf_report_users_ctx_t   ctx;
    unsigned char            sha[PDF_REPORT_SHA256_LEN];

    pdf_report_users_load_reset(load);

    if (fstat(load->fd, &st) == -1
        || clock_gettime(CLOCK_REALTIME, &ts) == -1)
    {
        return errno;
    }

    memset(&now, 0, sizeof(pdf_report_users_fp_t));
    now.rules = PDF_REPORT_USERS_RULES;
    now.dev = (uint64_t) st.st_dev;
    now.ino = (uint64_t) st.st_ino;
    now.size = (uint64_t) st.st_size;
    now.mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000
                   + st.st_mtim.tv_nsec;
    now.ctime_ns = (int64_t) st.st_ctim.tv_sec * 1000000000
                   + st.st_ctim.tv_nsec;
    now.loaded_ns = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_users_fp_get(store, txn, &fp);

    if (rc == 0 || rc == PDF_REPORT_STORE_NOT_FOUND) {
        trusted = (rc == 0);
        rc = pdf_report_users_shape(store, txn, &now);
    }

    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    /*
     * The records stored are those this fingerprint's load left, checked
     * under these rules: nothing else wrote the users db since (its shape
     * is the recorded one).
     */
    trusted = trusted && fp.rules == PDF_REPORT_USERS_RULES
              && fp.entries == now.entries && fp.depth == now.depth
              && fp.branch == now.branch && fp.leaf == now.leaf
              && fp.overflow == now.overflow;

    if (trusted && fp.dev == now.dev && fp.ino == now.ino
        && fp.size == now.size && fp.mtime_ns == now.mtime_ns
        && fp.ctime_ns == now.ctime_ns
        && fp.mtime_ns < fp.loaded_ns - PDF_REPORT_USERS_RACY_NS
        && fp.ctime_ns < fp.loaded_ns - PDF_REPORT_USERS_RACY_NS)
    {
        mdb_txn_abort(txn);
        load->unchanged = PDF_REPORT_USERS_SAME_STAT;
        return 0;
    }

    mdb_txn_abort(txn);

    if (trusted) {
        rc = pdf_report_users_digest(load->fd, sha);
        if (rc != 0) {
            return rc;
        }

        if (memcmp(sha, fp.sha256, PDF_REPORT_SHA256_LEN) == 0) {
            load->unchanged = PDF_REPORT_USERS_SAME_SHA;

            if (load->check) {
                return 0;
            }

            /* the same content: next time its new stat will do */
            memcpy(now.sha256, sha, PDF_REPORT_SHA256_LEN);

            rc = mdb_txn_begin(store->env, NULL, 0, &txn);
            if (rc != 0) {
                return rc;
            }

            rc = pdf_report_users_shape(store, txn, &now);

            if (rc == 0) {
                rc = pdf_report_users_fp_put(store, txn, &now);
            }

            return pdf_report_commit(txn, rc);
        }

        if (lseek(load->fd, 0, SEEK_SET) == -1) {
            return errno;
        }
    }

    first = 0;
    users = 0;

    memset(&ctx, 0, sizeof(pdf_report_users_ctx_t));
    ctx.store = store;
    ctx.load = load;
    ctx.mode = load->check ? PDF_REPORT_USERS_CHECK
                           : PDF_REPORT_USERS_COLLECT;

    rc = pdf_report_idset_init(&set, (size_t) now.entries);
    if (rc != 0) {
        return rc;
    }

    if (now.entries == 0 && !load->check) {
        /*
         * Nothing to tell apart (a new store): every line is new, and one
         * pass checks and writes, holding the writer while it parses.
         */
        first = 1;
        ctx.mode = PDF_REPORT_USERS_APPLY;
        ctx.overflow = 1;
        goto write;
    }

    /* the whole file checked, with no lock held against the workers */

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &ctx.txn);

    if (rc == 0) {
        rc = pdf_report_users_pass(&ctx, load->fd, NULL, 0, &set, trusted,
                                   now.sha256);
        mdb_txn_abort(ctx.txn);
    }

    load->users = ctx.users;
    load->added = ctx.added;
    load->changed = ctx.changed;
    load->removed = ctx.removed;

    if (rc != 0 || load->check) {
        goto done;
    }

    /* the difference, in one write transaction */

    users = ctx.users;
    ctx.mode = PDF_REPORT_USERS_APPLY;
    ctx.users = 0;
    ctx.added = 0;
    ctx.changed = 0;
    ctx.removed = 0;

write:

    rc = mdb_txn_begin(store->env, NULL, 0, &ctx.txn);
    if (rc != 0) {
        goto done;
    }

    if (!ctx.overflow) {
        rc = pdf_report_users_pass(&ctx, -1, ctx.diff.data, ctx.diff.len,
                                   NULL, 0, NULL);

        for (p = ctx.gone.data;
             rc == 0 && p != NULL && p < ctx.gone.data + ctx.gone.len;
             p += strlen(p) + 1)
        {
            rc = pdf_report_users_remove(&ctx, p, strlen(p));
        }

    } else {
        /* too large a difference to keep: read the file (again) */
        if (!first) {
            load->second_read = 1;
            pdf_report_idset_free(&set);

            rc = pdf_report_idset_init(&set, users);

            if (rc == 0 && lseek(load->fd, 0, SEEK_SET) == -1) {
                rc = errno;
            }
        }

        if (rc == 0) {
            rc = pdf_report_users_pass(&ctx, load->fd, NULL, 0, &set,
                                       trusted, now.sha256);
            users = ctx.users;
        }
    }

    if (rc == 0) {
        rc = pdf_report_users_shape(store, ctx.txn, &now);
    }

    if (rc == 0) {
        rc = pdf_report_users_fp_put(store, ctx.txn, &now);
    }

    rc = pdf_report_commit(ctx.txn, rc);

    if (rc == 0) {
        load->users = users;
        load->added = ctx.added;
        load->changed = ctx.changed;
        load->removed = ctx.removed;

    } else {
        load->revoked_pairs = 0;
        load->erased_pairs = 0;
        load->erased_jobs = 0;
    }

done:

    pdf_report_idset_free(&set);
    pdf_report_users_buf_free(&ctx.diff);
    pdf_report_users_buf_free(&ctx.gone);
    pdf_report_user_rec_free(&ctx.old);

    return rc;
}


/* one pass over a file (fd) or the kept lines (mem), then the absent */

static int
pdf_report_users_pass(pdf_report_users_ctx_t *ctx, int fd, const char *mem,
    size_t mem_len, pdf_report_idset_t *set, int known,
    unsigned char *sha256)
{
    int                         rc;
    pdf_report_users_scan_t     scan;
    pdf_report_users_reader_t   r;

    rc = pdf_report_users_reader_init(&r, fd, mem, mem_len,
                                      ctx->load->chunk);
    if (rc != 0) {
        return rc;
    }

    scan.known = known ? pdf_report_users_known : NULL;
    scan.record = pdf_report_users_record;
    scan.data = ctx;

    rc = pdf_report_users_scan(&r, set, &scan, &ctx->load->line,
                               ctx->load->err, sizeof(ctx->load->err));

    if (rc == 0 && sha256 != NULL) {
        rc = pdf_report_users_reader_digest(&r, sha256);
    }

    pdf_report_users_reader_close(&r);

    if (rc == 0 && set != NULL) {
        rc = pdf_report_users_absent(ctx, set);
    }

    return rc;
}


static int
pdf_report_users_known(void *data, const char *id, size_t id_len,
    const char *json, size_t json_len, int *same)
{
    pdf_report_users_ctx_t  *ctx = data;

    int      rc;
    MDB_val  k, v;

    k.mv_data = (void *) id;
    k.mv_size = id_len;

    rc = mdb_get(ctx->txn, ctx->store->users, &k, &v);

    *same = (rc == 0 && v.mv_size == json_len
             && memcmp(v.mv_data, json, json_len) == 0);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


static int
pdf_report_users_record(void *data, pdf_report_user_rec_t *rec)
{
    pdf_report_users_ctx_t  *ctx = data;

    int      rc;
    MDB_val  k, v;

    ctx->users++;

    if (!rec->parsed) {
        return 0;       /* stored as it is */
    }

    if (ctx->mode == PDF_REPORT_USERS_APPLY) {
        return pdf_report_users_apply(ctx, rec);
    }

    k.mv_data = (void *) rec->e.id;
    k.mv_size = rec->e.id_len;

    rc = mdb_get(ctx->txn, ctx->store->users, &k, &v);

    if (rc == 0 && v.mv_size == rec->e.json_len
        && memcmp(v.mv_data, rec->e.json, rec->e.json_len) == 0)
    {
        return 0;
    }

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    if (rc == 0) {
        ctx->changed++;

    } else {
        ctx->added++;
    }

    return pdf_report_users_keep(ctx, &ctx->diff, rec->e.json,
                                 rec->e.json_len, '\n');
}


/* a record of the file in the write transaction, unless stored as it is */

static int
pdf_report_users_apply(pdf_report_users_ctx_t *ctx,
    const pdf_report_user_rec_t *rec)
{
    int          rc;
    char         key[PDF_REPORT_ORG_MAX + 1 + PDF_REPORT_USER_ID_MAX];
    size_t       org_len;
    MDB_val      k, v;
    const char  *org;

    k.mv_data = (void *) rec->e.id;
    k.mv_size = rec->e.id_len;

    rc = mdb_get(ctx->txn, ctx->store->users, &k, &v);

    if (rc == 0) {
        if (v.mv_size == rec->e.json_len
            && memcmp(v.mv_data, rec->e.json, rec->e.json_len) == 0)
        {
            return 0;
        }

        /* the orgs it was CONNECTED to and no longer is */
        rc = pdf_report_users_access_del(ctx, rec->e.id, rec->e.id_len,
                                         rec);
        if (rc != 0) {
            return rc;
        }

        ctx->changed++;

    } else if (rc == MDB_NOTFOUND) {
        ctx->added++;

    } else {
        return rc;
    }

    k.mv_data = (void *) rec->e.id;
    k.mv_size = rec->e.id_len;
    v.mv_data = (void *) rec->e.json;
    v.mv_size = rec->e.json_len;

    rc = mdb_put(ctx->txn, ctx->store->users, &k, &v, 0);
    if (rc != 0) {
        return rc;
    }

    for (org = rec->e.orgs; org < rec->e.orgs + rec->e.orgs_len;
         org += org_len + 1)
    {
        org_len = strlen(org);

        if (org_len > PDF_REPORT_ORG_MAX) {
            continue;    /* no token can name it */
        }

        k.mv_data = key;
        k.mv_size = pdf_report_users_access_key(key, org, org_len,
                                                rec->e.id, rec->e.id_len);
        v.mv_data = (void *) rec->e.stem;
        v.mv_size = rec->e.stem_len;

        rc = mdb_put(ctx->txn, ctx->store->access, &k, &v, 0);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


/* the stored users whose ids the file does not hold */

static int
pdf_report_users_absent(pdf_report_users_ctx_t *ctx,
    pdf_report_idset_t *set)
{
    int          rc, in;
    char         id[512];
    size_t       id_len;
    MDB_val      k, v;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(ctx->txn, ctx->store->users, &cur);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);

    while (rc == 0) {
        in = pdf_report_idset_has(set, k.mv_data, k.mv_size);

        if (in == -1) {
            rc = EIO;
            break;
        }

        if (in) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }

        if (ctx->mode == PDF_REPORT_USERS_CHECK) {
            ctx->removed++;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }

        if (ctx->mode == PDF_REPORT_USERS_COLLECT) {
            ctx->removed++;

            if (k.mv_size > PDF_REPORT_USER_ID_MAX
                || memchr(k.mv_data, '\0', k.mv_size) != NULL)
            {
                /* no load wrote it: only a second read removes it */
                ctx->overflow = 1;
            }

            rc = pdf_report_users_keep(ctx, &ctx->gone, k.mv_data,
                                       k.mv_size, '\0');
            if (rc == 0) {
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            }

            continue;
        }

        /* APPLY: remove it, then go on from the key after it */

        id_len = (k.mv_size < sizeof(id)) ? k.mv_size : sizeof(id) - 1;
        memcpy(id, k.mv_data, id_len);

        rc = pdf_report_users_remove(ctx, id, id_len);
        if (rc != 0) {
            break;
        }

        k.mv_data = id;
        k.mv_size = id_len;

        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }

    mdb_cursor_close(cur);

    return (rc == MDB_NOTFOUND) ? 0 : rc;
}


static int
pdf_report_users_remove(pdf_report_users_ctx_t *ctx, const char *id,
    size_t id_len)
{
    int      rc;
    MDB_val  k;

    rc = pdf_report_users_access_del(ctx, id, id_len, NULL);

    if (rc == PDF_REPORT_STORE_NOT_FOUND) {
        return 0;
    }

    if (rc != 0) {
        return rc;
    }

    k.mv_data = (void *) id;
    k.mv_size = id_len;

    rc = mdb_del(ctx->txn, ctx->store->users, &k, NULL);
    if (rc != 0) {
        return rc;
    }

    ctx->removed++;

    return 0;
}


/*
 * The access entries of a stored user, but those of orgs keep is still
 * CONNECTED to (keep NULL: all), are deleted and those pairs revoked.
 * PDF_REPORT_STORE_NOT_FOUND when the user is not stored.
 */

static int
pdf_report_users_access_del(pdf_report_users_ctx_t *ctx, const char *id,
    size_t id_len, const pdf_report_user_rec_t *keep)
{
    int          rc;
    char         key[PDF_REPORT_ORG_MAX + 1 + PDF_REPORT_USER_ID_MAX];
    size_t       org_len;
    MDB_val      k, v;
    const char  *org;

    k.mv_data = (void *) id;
    k.mv_size = id_len;

    rc = mdb_get(ctx->txn, ctx->store->users, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_user_access_of(v.mv_data, v.mv_size, &ctx->old);

    if (rc == PDF_REPORT_USERS_INVALID) {
        return MDB_CORRUPTED;
    }

    if (rc != 0) {
        return rc;
    }

    for (org = ctx->old.e.orgs; org < ctx->old.e.orgs + ctx->old.e.orgs_len;
         org += org_len + 1)
    {
        org_len = strlen(org);

        if (org_len > PDF_REPORT_ORG_MAX || id_len > PDF_REPORT_USER_ID_MAX
            || (keep != NULL
                && pdf_report_user_rec_has_org(keep, org, org_len)))
        {
            continue;
        }

        k.mv_data = key;
        k.mv_size = pdf_report_users_access_key(key, org, org_len, id,
                                                id_len);

        rc = mdb_del(ctx->txn, ctx->store->access, &k, NULL);

        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }

        rc = pdf_report_users_revoke(ctx, org, org_len, id, id_len);
        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


static size_t
pdf_report_users_access_key(char *key, const char *org, size_t org_len,
    const char *id, size_t id_len)
{
    memcpy(key, org, org_len);
    key[org_len] = '\0';
    memcpy(key + org_len + 1, id, id_len);

    return org_len + 1 + id_len;
}


static int
pdf_report_users_revoke(pdf_report_users_ctx_t *ctx, const char *org,
    size_t org_len, const char *user, size_t user_len)
{
    ctx->load->revoked_pairs++;

    if (ctx->load->revoked != NULL) {
        ctx->load->revoked(ctx->load->data, org, org_len, user, user_len);
    }

    return pdf_report_store_revoked(ctx->store, ctx->txn, org, org_len,
                                    user, user_len, ctx->load->now_ms,
                                    ctx->load);
}


/* COLLECT keeps what it can; past the limit, a second read applies */

static int
pdf_report_users_keep(pdf_report_users_ctx_t *ctx,
    pdf_report_users_buf_t *buf, const char *p, size_t len, int sep)
{
    size_t  max;

    if (ctx->mode != PDF_REPORT_USERS_COLLECT || ctx->overflow) {
        return 0;
    }

    max = (ctx->load->diff_max != 0) ? ctx->load->diff_max
                                     : PDF_REPORT_USERS_DIFF_MAX;

    if (ctx->diff.len + ctx->gone.len + len + 1 > max) {
        ctx->overflow = 1;
        pdf_report_users_buf_free(&ctx->diff);
        pdf_report_users_buf_free(&ctx->gone);
        return 0;
    }

    return pdf_report_users_buf_add(buf, p, len, sep);
}


/*
 * The fingerprint, big-endian: version u32, rules u32, sha256[32], then
 * dev, ino, size, mtime_ns, ctime_ns, loaded_ns, entries, depth,
 * branch, leaf and overflow pages of the users db (u64 each).
 * PDF_REPORT_STORE_NOT_FOUND when there is none (or of another version).
 */

static int
pdf_report_users_fp_get(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_users_fp_t *fp)
{
    int                   rc, i;
    MDB_val               k, v;
    uint64_t             *u[11];
    const unsigned char  *p;

    k.mv_data = "users_fp";
    k.mv_size = sizeof("users_fp") - 1;

    rc = mdb_get(txn, store->meta, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    if (rc != 0) {
        return rc;
    }

    p = v.mv_data;

    if (v.mv_size != PDF_REPORT_USERS_FP_LEN
        || pdf_report_get_u32(p) != PDF_REPORT_USERS_FP_VERSION)
    {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    fp->rules = pdf_report_get_u32(p + 4);
    memcpy(fp->sha256, p + 8, PDF_REPORT_SHA256_LEN);
    p += 8 + PDF_REPORT_SHA256_LEN;

    u[0] = &fp->dev;
    u[1] = &fp->ino;
    u[2] = &fp->size;
    u[3] = (uint64_t *) &fp->mtime_ns;
    u[4] = (uint64_t *) &fp->ctime_ns;
    u[5] = (uint64_t *) &fp->loaded_ns;
    u[6] = &fp->entries;
    u[7] = &fp->depth;
    u[8] = &fp->branch;
    u[9] = &fp->leaf;
    u[10] = &fp->overflow;

    for (i = 0; i < 11; i++) {
        *u[i] = pdf_report_get_u64(p + i * 8);
    }

    return 0;
}


static int
pdf_report_users_fp_put(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_users_fp_t *fp)
{
    int            i;
    MDB_val        k, v;
    uint64_t       u[11];
    unsigned char  buf[PDF_REPORT_USERS_FP_LEN], *p;

    p = buf;

    pdf_report_put_u32(p, PDF_REPORT_USERS_FP_VERSION);
    pdf_report_put_u32(p + 4, fp->rules);
    memcpy(p + 8, fp->sha256, PDF_REPORT_SHA256_LEN);
    p += 8 + PDF_REPORT_SHA256_LEN;

    u[0] = fp->dev;
    u[1] = fp->ino;
    u[2] = fp->size;
    u[3] = (uint64_t) fp->mtime_ns;
    u[4] = (uint64_t) fp->ctime_ns;
    u[5] = (uint64_t) fp->loaded_ns;
    u[6] = fp->entries;
    u[7] = fp->depth;
    u[8] = fp->branch;
    u[9] = fp->leaf;
    u[10] = fp->overflow;

    for (i = 0; i < 11; i++) {
        pdf_report_put_u64(p + i * 8, u[i]);
    }

    k.mv_data = "users_fp";
    k.mv_size = sizeof("users_fp") - 1;
    v.mv_data = buf;
    v.mv_size = sizeof(buf);

    return mdb_put(txn, store->meta, &k, &v, 0);
}


/* the users db as txn sees it */

static int
pdf_report_users_shape(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_users_fp_t *fp)
{
    int       rc;
    MDB_stat  st;

    rc = mdb_stat(txn, store->users, &st);
    if (rc != 0) {
        return rc;
    }

    fp->entries = st.ms_entries;
    fp->depth = st.ms_depth;
    fp->branch = st.ms_branch_pages;
    fp->leaf = st.ms_leaf_pages;
    fp->overflow = st.ms_overflow_pages;

    return 0;
}


int
pdf_report_store_user_access(pdf_report_store_t *store, const char *org,
    const char *id, size_t id_len, char *stem, size_t *stem_len)
{
    int       rc;
    size_t    org_len;
    MDB_txn  *txn;
    MDB_val   k, v;
    char      key[PDF_REPORT_ORG_MAX + 1 + PDF_REPORT_USER_ID_MAX];

    org_len = strlen(org);

    if (id_len == 0 || id_len > PDF_REPORT_USER_ID_MAX
        || org_len > PDF_REPORT_ORG_MAX)
    {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    memcpy(key, org, org_len + 1);
    memcpy(key + org_len + 1, id, id_len);

    k.mv_data = key;
    k.mv_size = org_len + 1 + id_len;

    rc = mdb_get(txn, store->access, &k, &v);

    if (rc == 0) {
        if (v.mv_size < PDF_REPORT_FILENAME_MAX) {
            memcpy(stem, v.mv_data, v.mv_size);
            stem[v.mv_size] = '\0';
            *stem_len = v.mv_size;

        } else {
            rc = MDB_CORRUPTED;
        }

    } else if (rc == MDB_NOTFOUND) {
        k.mv_data = (void *) id;
        k.mv_size = id_len;

        rc = mdb_get(txn, store->users, &k, &v);

        rc = (rc == 0) ? PDF_REPORT_STORE_NOT_CONNECTED
             : (rc == MDB_NOTFOUND) ? PDF_REPORT_STORE_NOT_FOUND : rc;
    }

    mdb_txn_abort(txn);

    return rc;
}


int
pdf_report_store_user_get(pdf_report_store_t *store, const char *id,
    size_t id_len, char **json, size_t *len)
{
    int       rc;
    char     *p;
    MDB_txn  *txn;
    MDB_val   k, v;

    *json = NULL;

    if (id_len == 0 || id_len > PDF_REPORT_USER_ID_MAX) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    k.mv_data = (void *) id;
    k.mv_size = id_len;

    rc = mdb_get(txn, store->users, &k, &v);

    if (rc == 0) {
        p = malloc(v.mv_size + 1);

        if (p == NULL) {
            rc = ENOMEM;

        } else {
            memcpy(p, v.mv_data, v.mv_size);
            p[v.mv_size] = '\0';
            *json = p;
            *len = v.mv_size;
        }

    } else if (rc == MDB_NOTFOUND) {
        rc = PDF_REPORT_STORE_NOT_FOUND;
    }

    mdb_txn_abort(txn);

    return rc;
}


int
pdf_report_store_rate_hit(pdf_report_store_t *store, const char *org,
    int64_t now_ms, int64_t period_ms, unsigned limit,
    pdf_report_rate_t *rate)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_rate_txn(store, txn, org, now_ms, period_ms, limit,
                             rate);

    /* refused requests are not counted: nothing to keep */
    if (rc == 0 && !rate->allowed) {
        mdb_txn_abort(txn);
        return 0;
    }

    rc = pdf_report_commit(txn, rc);

    if (rc != 0) {
        rate->allowed = 0;
    }

    return rc;
}


/*
 * The sliding window inside the caller's write transaction: counts the
 * hit when there is room.  A refusal writes nothing but may leave the
 * expired entries deleted, which is harmless to commit.
 */

int
pdf_report_rate_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, int64_t now_ms, int64_t period_ms, unsigned limit,
    pdf_report_rate_t *rate)
{
    int             rc;
    int64_t         oldest, cutoff;
    size_t          dups;
    unsigned        count;
    MDB_cursor     *cur;
    MDB_val         k, v;
    unsigned char   val[PDF_REPORT_RATE_VAL_LEN];

    rate->allowed = 0;
    rate->limit = limit;
    rate->remaining = 0;
    rate->reset_s = 0;

    rc = mdb_cursor_open(txn, store->rate, &cur);
    if (rc != 0) {
        return rc;
    }
    cutoff = now_ms - period_ms;
    oldest = now_ms;
    count = 0;

    /*
     * Drop what left the window: the duplicates are sorted by time, so
     * the expired ones come first.  The cursor is positioned afresh after
     * each delete rather than trusting where a delete leaves it.
     */
    for ( ;; ) {
        k.mv_data = (void *) org;
        k.mv_size = strlen(org);

        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (rc != 0) {
            break;
        }

        if ((int64_t) pdf_report_get_u64(v.mv_data) > cutoff) {
            oldest = (int64_t) pdf_report_get_u64(v.mv_data);
            break;
        }

        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }
    }

    if (rc == 0) {
        rc = mdb_cursor_count(cur, &dups);
        count = (unsigned) dups;
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    if (count >= limit) {
        rate->reset_s = (unsigned) ((oldest + period_ms - now_ms + 999)
                                    / 1000);
        if (rate->reset_s == 0) {
            rate->reset_s = 1;
        }

        return 0;
    }

    pdf_report_put_u64(val, (uint64_t) now_ms);

    /* a nonce keeps two requests of the same millisecond apart */
    if (RAND_bytes(&val[8], 4) != 1) {
        memset(&val[8], 0, 4);
    }

    k.mv_data = (void *) org;
    k.mv_size = strlen(org);
    v.mv_data = val;
    v.mv_size = sizeof(val);

    rc = mdb_put(txn, store->rate, &k, &v, 0);
    if (rc != 0 && rc != MDB_KEYEXIST) {
        return rc;
    }

    rate->allowed = 1;
    rate->remaining = limit - count - 1;
    rate->reset_s = (unsigned) ((oldest + period_ms - now_ms + 999) / 1000);

    return 0;
}


int
pdf_report_store_job_create(pdf_report_store_t *store,
    pdf_report_job_t *job, char *pending_id)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_create_txn(store, txn, job, pending_id);

    if (rc == PDF_REPORT_STORE_NEARLY_FULL) {
        rc = PDF_REPORT_STORE_FULL;
    }

    /* EXISTS, FULL and KEYEXIST abort too: they wrote nothing */
    return pdf_report_commit(txn, rc);
}


/*
 * A new PENDING job, its pending index entry and its queue entry, in the
 * caller's write transaction; PDF_REPORT_STORE_EXISTS (with the pending
 * job's id), PDF_REPORT_STORE_NEARLY_FULL and MDB_KEYEXIST (the id is
 * taken) write nothing.
 */

int
pdf_report_create_txn(pdf_report_store_t *store, MDB_txn *txn,
    pdf_report_job_t *job, char *pending_id)
{
    int             rc;
    size_t          plen;
    MDB_val         k, v;
    unsigned char   pkey[PDF_REPORT_ORG_MAX + 1 + PDF_REPORT_USER_ID_MAX];
    unsigned char   qkey[PDF_REPORT_QUEUE_KEY_LEN];
    unsigned char   ukey[PDF_REPORT_BYUSER_KEY_MAX];
    pdf_report_job_t  other;

    if (pdf_report_nearly_full(store, txn)) {
        return PDF_REPORT_STORE_NEARLY_FULL;
    }

    /* a repeated random id: practically never, but never overwrite */
    k.mv_data = job->id;
    k.mv_size = PDF_REPORT_UUID_LEN;

    rc = mdb_get(txn, store->jobs, &k, &v);
    if (rc != MDB_NOTFOUND) {
        return rc == 0 ? MDB_KEYEXIST : rc;
    }
    plen = pdf_report_pending_key(job, pkey);

    k.mv_data = pkey;
    k.mv_size = plen;

    rc = mdb_get(txn, store->pending, &k, &v);

    if (rc == 0 && v.mv_size == PDF_REPORT_UUID_LEN) {
        memcpy(pending_id, v.mv_data, PDF_REPORT_UUID_LEN);
        pending_id[PDF_REPORT_UUID_LEN] = '\0';

        rc = pdf_report_job_read(store, txn, pending_id, &other);

        if (rc == 0 && (other.status == PDF_REPORT_PENDING
                        || other.status == PDF_REPORT_IN_PROGRESS))
        {
            return PDF_REPORT_STORE_EXISTS;
        }

        /* a stale index entry: the job below replaces it */

    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    job->status = PDF_REPORT_PENDING;
    job->flags = 0;
    job->updated_ms = job->created_ms;

    rc = pdf_report_job_write(store, txn, job);
    if (rc != 0) {
        return rc;
    }

    k.mv_data = pkey;
    k.mv_size = plen;
    v.mv_data = job->id;
    v.mv_size = PDF_REPORT_UUID_LEN;

    rc = mdb_put(txn, store->pending, &k, &v, 0);

    if (rc == 0) {
        pdf_report_queue_key(job, qkey);
        k.mv_data = qkey;
        k.mv_size = sizeof(qkey);
        v.mv_data = "";
        v.mv_size = 0;

        rc = mdb_put(txn, store->queue, &k, &v, 0);
    }

    if (rc == 0) {
        k.mv_data = ukey;
        k.mv_size = pdf_report_byuser_key(job, ukey);
        v.mv_data = "";
        v.mv_size = 0;

        rc = mdb_put(txn, store->byuser, &k, &v, 0);
    }

    return rc;
}


int
pdf_report_store_job_get(pdf_report_store_t *store, const char *id,
    pdf_report_job_t *job)
{
    int  rc;

    rc = pdf_report_store_job_record(store, id, job);

    /* revoked: gone for the API at once, whatever is left to delete */
    if (rc == 0 && (job->flags & PDF_REPORT_JOB_ERASED)) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    return rc;
}


int
pdf_report_store_job_record(pdf_report_store_t *store, const char *id,
    pdf_report_job_t *job)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_job_read(store, txn, id, job);

    mdb_txn_abort(txn);

    return rc;
}


int
pdf_report_store_scan(pdf_report_store_t *store,
    const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int                  rc;
    size_t               n, max;
    MDB_txn             *txn;
    pdf_report_action_t  acts[PDF_REPORT_SCAN_BATCH];

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    /* look first: most passes find nothing and need no write */
    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_scan_collect(store, txn, scan, acts,
                                 PDF_REPORT_SCAN_BATCH, &n, res);

    mdb_txn_abort(txn);

    if (rc != 0 || n == 0) {
        return rc;
    }

    /*
     * In a nearly full map a big batch may not fit in one transaction:
     * smaller ones then, down to one job, so that time-outs and claims
     * still move.
     */
    for (max = PDF_REPORT_SCAN_BATCH; /* void */; max /= 2) {
        rc = mdb_txn_begin(store->env, NULL, 0, &txn);
        if (rc != 0) {
            return rc;
        }

        rc = pdf_report_scan_txn(store, txn, scan, max, claims, res);
        rc = pdf_report_commit(txn, rc);

        if (rc != MDB_MAP_FULL || max == 1) {
            break;
        }
    }

    if (rc != 0) {
        res->claimed = 0;
        res->failed = 0;
        res->timed_out = 0;
        res->ended = 0;
    }

    return rc;
}


/* one scan pass of up to max jobs in the caller's write transaction */

int
pdf_report_scan_txn(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_scan_t *scan, size_t max, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res)
{
    int                  rc;
    size_t               i, n;
    pdf_report_action_t  acts[PDF_REPORT_SCAN_BATCH];

    if (max > PDF_REPORT_SCAN_BATCH) {
        max = PDF_REPORT_SCAN_BATCH;
    }

    memset(res, 0, sizeof(pdf_report_scan_result_t));

    rc = pdf_report_scan_collect(store, txn, scan, acts, max, &n, res);

    res->claimed = 0;
    res->failed = 0;
    res->timed_out = 0;
    res->ended = 0;

    for (i = 0; rc == 0 && i < n; i++) {
        rc = pdf_report_scan_apply(store, txn, scan, &acts[i], claims, res);
    }

    return rc;
}


int
pdf_report_store_job_renew(pdf_report_store_t *store, const char *id,
    uint64_t token, int64_t now_ms, int64_t lease_ms)
{
    int               rc;
    MDB_txn          *txn;
    pdf_report_job_t  job;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_job_read(store, txn, id, &job);

    if (rc == 0 && (job.status != PDF_REPORT_IN_PROGRESS
                    || job.lease_token != token))
    {
        rc = PDF_REPORT_STORE_LOST;
    }

    if (rc == 0) {
        job.lease_until_ms = now_ms + lease_ms;
        rc = pdf_report_job_write(store, txn, &job);
    }

    return pdf_report_commit(txn, rc);
}


int
pdf_report_store_job_finish(pdf_report_store_t *store,
    const pdf_report_job_t *done, uint64_t token, int64_t now_ms)
{
    int               rc;
    MDB_txn          *txn;
    pdf_report_job_t  job;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_job_read(store, txn, done->id, &job);

    if (rc == 0 && (job.status != PDF_REPORT_IN_PROGRESS
                    || job.lease_token != token))
    {
        rc = PDF_REPORT_STORE_LOST;
    }

    if (rc == 0) {
        job.status = done->status;
        job.updated_ms = now_ms;
        job.completed_ms = now_ms;
        job.lease_until_ms = 0;

        if (done->status == PDF_REPORT_COMPLETE) {
            job.size_bytes = done->size_bytes;
            job.duration_ms = done->duration_ms;
            memcpy(job.sha256, done->sha256, sizeof(job.sha256));
            memcpy(job.template_version, done->template_version,
                   sizeof(job.template_version));

        } else {
            memcpy(job.error_code, done->error_code, sizeof(job.error_code));
            memcpy(job.error_message, done->error_message,
                   sizeof(job.error_message));
        }

        rc = pdf_report_job_write(store, txn, &job);
    }

    if (rc == 0) {
        rc = pdf_report_job_retire(store, txn, &job);
    }

    if (rc == 0) {
        rc = pdf_report_job_terminal(store, txn, &job);
    }

    if (rc == 0) {
        rc = pdf_report_hook_put(store, txn, &job, now_ms);
    }

    return pdf_report_commit(txn, rc);
}


int
pdf_report_store_job_release(pdf_report_store_t *store, const char *id,
    uint64_t token, int64_t now_ms)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_release_txn(store, txn, id, token, now_ms);

    return pdf_report_commit(txn, rc);
}


int
pdf_report_release_txn(pdf_report_store_t *store, MDB_txn *txn,
    const char *id, uint64_t token, int64_t now_ms)
{
    int               rc;
    pdf_report_job_t  job;

    rc = pdf_report_job_read(store, txn, id, &job);

    if (rc == 0 && (job.status != PDF_REPORT_IN_PROGRESS
                    || job.lease_token != token))
    {
        rc = PDF_REPORT_STORE_LOST;
    }

    if (rc == 0) {
        /* never started: the claim does not count as an attempt */
        job.status = PDF_REPORT_PENDING;
        job.attempts = job.attempts ? job.attempts - 1 : 0;
        job.lease_until_ms = 0;
        job.lease_token = 0;
        job.updated_ms = now_ms;

        rc = pdf_report_job_write(store, txn, &job);
    }

    return rc;
}


int
pdf_report_store_jobs_import(pdf_report_store_t *store,
    const pdf_report_job_t *jobs, size_t n)
{
    int             rc;
    size_t          i;
    MDB_txn        *txn;
    MDB_val         k, v;
    unsigned char   buf[PDF_REPORT_JOB_ENC_MAX];
    unsigned char   ukey[PDF_REPORT_BYUSER_KEY_MAX];

    for (i = 0; i < n; i++) {
        if (jobs[i].status != PDF_REPORT_COMPLETE
            && jobs[i].status != PDF_REPORT_FAILED)
        {
            return EINVAL;
        }
    }

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; rc == 0 && i < n; i++) {
        k.mv_data = (void *) jobs[i].id;
        k.mv_size = PDF_REPORT_UUID_LEN;
        v.mv_data = buf;
        v.mv_size = pdf_report_job_encode(&jobs[i], buf);

        rc = mdb_put(txn, store->jobs, &k, &v, MDB_NOOVERWRITE);

        if (rc == 0) {
            k.mv_data = ukey;
            k.mv_size = pdf_report_byuser_key(&jobs[i], ukey);
            v.mv_data = "";
            v.mv_size = 0;

            rc = mdb_put(txn, store->byuser, &k, &v, 0);
        }

        if (rc == 0) {
            rc = pdf_report_job_terminal(store, txn, &jobs[i]);
        }
    }

    return pdf_report_commit(txn, rc == MDB_KEYEXIST
                                  ? PDF_REPORT_STORE_EXISTS : rc);
}


const char *
pdf_report_status_name(uint32_t status)
{
    switch (status) {

    case PDF_REPORT_PENDING:
        return "PENDING";

    case PDF_REPORT_IN_PROGRESS:
        return "IN_PROGRESS";

    case PDF_REPORT_COMPLETE:
        return "COMPLETE";

    default:
        return "FAILED";
    }
}


/* collect up to a batch of things to do, oldest job first */

static int
pdf_report_scan_collect(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_scan_t *scan, pdf_report_action_t *acts, size_t max,
    size_t *nacts, pdf_report_scan_result_t *res)
{
    int                rc;
    size_t             n;
    unsigned           claims;
    MDB_cursor        *cur;
    MDB_val            k, v;
    pdf_report_job_t   job;
    pdf_report_act_e   act;
    char               id[PDF_REPORT_UUID_LEN + 1];

    *nacts = 0;
    n = 0;
    claims = 0;

    rc = mdb_cursor_open(txn, store->queue, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == 0 && n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size != PDF_REPORT_QUEUE_KEY_LEN) {
            act = PDF_REPORT_ACT_DROP;
            goto add;
        }

        memcpy(id, (char *) k.mv_data + 8, PDF_REPORT_UUID_LEN);
        id[PDF_REPORT_UUID_LEN] = '\0';

        rc = pdf_report_job_read(store, txn, id, &job);

        if (rc == PDF_REPORT_STORE_NOT_FOUND
            || (rc == 0 && job.status != PDF_REPORT_PENDING
                && job.status != PDF_REPORT_IN_PROGRESS))
        {
            act = PDF_REPORT_ACT_DROP;
            goto add;
        }

        if (rc != 0) {
            break;
        }

        if (scan->now_ms >= job.created_ms + scan->timeout_ms) {
            act = PDF_REPORT_ACT_TIMEOUT;
            goto add;
        }

        if (job.status == PDF_REPORT_IN_PROGRESS
            && job.lease_until_ms > scan->now_ms)
        {
            continue;      /* running somewhere */
        }

        if (job.status == PDF_REPORT_IN_PROGRESS
            && job.attempts >= scan->max_attempts)
        {
            act = PDF_REPORT_ACT_GIVE_UP;
            goto add;
        }

        if (claims >= scan->max_claims) {
            /*
             * No slot for it, and the queue is in creation order: no job
             * after it has timed out either.  Stopping here keeps a pass
             * as short as the jobs it can act on, however long a backlog
             * (an S3 outage, a burst) grows behind them.
             */
            res->waiting++;
            break;
        }

        claims++;
        act = PDF_REPORT_ACT_CLAIM;

    add:

        memcpy(acts[n].key, k.mv_data,
               k.mv_size < PDF_REPORT_QUEUE_KEY_LEN
               ? k.mv_size : PDF_REPORT_QUEUE_KEY_LEN);
        if (k.mv_size < PDF_REPORT_QUEUE_KEY_LEN) {
            memset(acts[n].key + k.mv_size, 0,
                   PDF_REPORT_QUEUE_KEY_LEN - k.mv_size);
        }

        acts[n].act = act;
        n++;
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    *nacts = n;

    return 0;
}


static int
pdf_report_scan_apply(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_scan_t *scan, const pdf_report_action_t *act,
    pdf_report_job_t *claims, pdf_report_scan_result_t *res)
{
    int                     rc;
    MDB_val                 k;
    pdf_report_job_t        job;
    pdf_report_scan_end_t  *end;
    char                    id[PDF_REPORT_UUID_LEN + 1];
    char                    msg[PDF_REPORT_ERR_MSG_MAX + 1];

    if (act->act == PDF_REPORT_ACT_DROP) {
        k.mv_data = (void *) act->key;
        k.mv_size = PDF_REPORT_QUEUE_KEY_LEN;

        rc = mdb_del(txn, store->queue, &k, NULL);

        return rc == MDB_NOTFOUND ? 0 : rc;
    }

    memcpy(id, act->key + 8, PDF_REPORT_UUID_LEN);
    id[PDF_REPORT_UUID_LEN] = '\0';

    rc = pdf_report_job_read(store, txn, id, &job);
    if (rc != 0) {
        return rc;
    }

    switch (act->act) {

    case PDF_REPORT_ACT_TIMEOUT:
        snprintf(msg, sizeof(msg),
                 "The report was not finished within %lld seconds.",
                 (long long) (scan->timeout_ms / 1000));
        pdf_report_job_fail(&job, scan->now_ms, "TIMEOUT", msg);
        res->failed++;
        res->timed_out++;
        break;

    case PDF_REPORT_ACT_GIVE_UP:
        snprintf(msg, sizeof(msg),
                 "Processing stopped %u times without finishing.",
                 job.attempts);
        pdf_report_job_fail(&job, scan->now_ms, "PROCESSING_FAILED", msg);
        res->failed++;
        break;

    default: /* PDF_REPORT_ACT_CLAIM */
        job.status = PDF_REPORT_IN_PROGRESS;
        job.attempts++;
        job.claimed_ms = scan->now_ms;
        job.updated_ms = scan->now_ms;
        job.lease_until_ms = scan->now_ms + scan->lease_ms;

        if (job.generated_ms == 0) {
            job.generated_ms = scan->now_ms;
        }

        if (RAND_bytes((unsigned char *) &job.lease_token,
                       sizeof(job.lease_token)) != 1)
        {
            return EIO;
        }

        job.lease_token |= 1;     /* never 0, the "no lease" value */

        rc = pdf_report_job_write(store, txn, &job);
        if (rc != 0) {
            return rc;
        }

        claims[res->claimed++] = job;

        return 0;
    }

    rc = pdf_report_job_write(store, txn, &job);
    if (rc != 0) {
        return rc;
    }

    if (res->ended < PDF_REPORT_SCAN_ENDED_MAX) {
        end = &res->end[res->ended++];
        memcpy(end->id, job.id, sizeof(end->id));
        memcpy(end->org, job.org, sizeof(end->org));
        end->timed_out = (act->act == PDF_REPORT_ACT_TIMEOUT);
    }

    rc = pdf_report_job_retire(store, txn, &job);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_job_terminal(store, txn, &job);
    if (rc != 0) {
        return rc;
    }

    return pdf_report_hook_put(store, txn, &job, scan->now_ms);
}


static void
pdf_report_job_fail(pdf_report_job_t *job, int64_t now_ms, const char *code,
    const char *message)
{
    job->status = PDF_REPORT_FAILED;
    job->updated_ms = now_ms;
    job->completed_ms = now_ms;
    job->lease_until_ms = 0;

    snprintf(job->error_code, sizeof(job->error_code), "%s", code);
    snprintf(job->error_message, sizeof(job->error_message), "%s", message);
}


/* a terminal job leaves the pending index and the queue */

static int
pdf_report_job_retire(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job)
{
    int             rc;
    MDB_val         k, v;
    unsigned char   pkey[PDF_REPORT_ORG_MAX + 1 + PDF_REPORT_USER_ID_MAX];
    unsigned char   qkey[PDF_REPORT_QUEUE_KEY_LEN];

    k.mv_data = pkey;
    k.mv_size = pdf_report_pending_key(job, pkey);

    rc = mdb_get(txn, store->pending, &k, &v);

    /* only our own entry: a newer job of the same user keeps its own */
    if (rc == 0 && v.mv_size == PDF_REPORT_UUID_LEN
        && memcmp(v.mv_data, job->id, PDF_REPORT_UUID_LEN) == 0)
    {
        rc = mdb_del(txn, store->pending, &k, NULL);
    }

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    pdf_report_queue_key(job, qkey);
    k.mv_data = qkey;
    k.mv_size = sizeof(qkey);

    rc = mdb_del(txn, store->queue, &k, NULL);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


static size_t
pdf_report_pending_key(const pdf_report_job_t *job, unsigned char *buf)
{
    size_t  olen, ulen;

    olen = strlen(job->org);
    ulen = strlen(job->user);

    memcpy(buf, job->org, olen);
    buf[olen] = '\0';
    memcpy(buf + olen + 1, job->user, ulen);

    return olen + 1 + ulen;
}


static void
pdf_report_queue_key(const pdf_report_job_t *job, unsigned char *buf)
{
    pdf_report_put_u64(buf, (uint64_t) job->created_ms);
    memcpy(buf + 8, job->id, PDF_REPORT_UUID_LEN);
}


static int
pdf_report_job_read(pdf_report_store_t *store, MDB_txn *txn,
    const char *id, pdf_report_job_t *job)
{
    int      rc;
    MDB_val  k, v;

    k.mv_data = (void *) id;
    k.mv_size = strlen(id);

    rc = mdb_get(txn, store->jobs, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return PDF_REPORT_STORE_NOT_FOUND;
    }

    if (rc != 0) {
        return rc;
    }

    if (pdf_report_job_decode(&v, job) != 0) {
        return MDB_CORRUPTED;
    }

    memcpy(job->id, id, PDF_REPORT_UUID_LEN);
    job->id[PDF_REPORT_UUID_LEN] = '\0';

    return 0;
}


static int
pdf_report_job_write(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job)
{
    int            rc;
    MDB_val        k, v;
    unsigned char  buf[PDF_REPORT_JOB_ENC_MAX];

    k.mv_data = (void *) job->id;
    k.mv_size = PDF_REPORT_UUID_LEN;
    v.mv_data = buf;
    v.mv_size = pdf_report_job_encode(job, buf);

    rc = mdb_put(txn, store->jobs, &k, &v, 0);
    if (rc != 0) {
        return rc;
    }

    v.mv_data = "";
    v.mv_size = 0;

    if (job->status == PDF_REPORT_IN_PROGRESS) {
        return mdb_put(txn, store->running, &k, &v, 0);
    }

    rc = mdb_del(txn, store->running, &k, NULL);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


/*
 * Job record layout (big-endian): version u8, status u8, flags u8 (0
 * in layout version 1, which wrote it as reserved), a reserved byte,
 * attempts u32, duration u32, created, updated, completed,
 * generated, claimed, lease_until (i64 each), lease_token u64, size u64,
 * sha256[32], then org, user, template, error code (u8 length + bytes)
 * and error message (u16 length + bytes).  The id is the key.
 */

#define PDF_REPORT_JOB_FIXED  (4 + 4 + 4 + 6 * 8 + 8 + 8 + 32)

static size_t
pdf_report_job_encode(const pdf_report_job_t *job, unsigned char *buf)
{
    size_t          len;
    unsigned char  *p;
    const char     *s[4];
    int             i;

    p = buf;

    *p++ = PDF_REPORT_JOB_VERSION;
    *p++ = (unsigned char) job->status;
    *p++ = (unsigned char) job->flags;
    *p++ = 0;
    pdf_report_put_u32(p, job->attempts); p += 4;
    pdf_report_put_u32(p, job->duration_ms); p += 4;
    pdf_report_put_u64(p, (uint64_t) job->created_ms); p += 8;
    pdf_report_put_u64(p, (uint64_t) job->updated_ms); p += 8;
    pdf_report_put_u64(p, (uint64_t) job->completed_ms); p += 8;
    pdf_report_put_u64(p, (uint64_t) job->generated_ms); p += 8;
    pdf_report_put_u64(p, (uint64_t) job->claimed_ms); p += 8;
    pdf_report_put_u64(p, (uint64_t) job->lease_until_ms); p += 8;
    pdf_report_put_u64(p, job->lease_token); p += 8;
    pdf_report_put_u64(p, job->size_bytes); p += 8;
    memcpy(p, job->sha256, 32); p += 32;

    s[0] = job->org;
    s[1] = job->user;
    s[2] = job->template_version;
    s[3] = job->error_code;

    /* each is NUL-terminated within its array, so at most 255 bytes */
    for (i = 0; i < 4; i++) {
        len = strlen(s[i]);
        *p++ = (unsigned char) len;
        memcpy(p, s[i], len);
        p += len;
    }

    len = strlen(job->error_message);
    *p++ = (unsigned char) (len >> 8);
    *p++ = (unsigned char) len;
    memcpy(p, job->error_message, len);
    p += len;

    return (size_t) (p - buf);
}


static int
pdf_report_job_decode(const MDB_val *v, pdf_report_job_t *job)
{
    size_t                len, i;
    const unsigned char  *p, *end;
    char                 *s[4];
    size_t                max[4];

    p = v->mv_data;
    end = p + v->mv_size;

    if (v->mv_size < PDF_REPORT_JOB_FIXED || p[0] != PDF_REPORT_JOB_VERSION) {
        return -1;
    }

    memset(job, 0, sizeof(pdf_report_job_t));

    job->status = p[1];
    job->flags = p[2];
    p += 4;
    job->attempts = pdf_report_get_u32(p); p += 4;
    job->duration_ms = pdf_report_get_u32(p); p += 4;
    job->created_ms = (int64_t) pdf_report_get_u64(p); p += 8;
    job->updated_ms = (int64_t) pdf_report_get_u64(p); p += 8;
    job->completed_ms = (int64_t) pdf_report_get_u64(p); p += 8;
    job->generated_ms = (int64_t) pdf_report_get_u64(p); p += 8;
    job->claimed_ms = (int64_t) pdf_report_get_u64(p); p += 8;
    job->lease_until_ms = (int64_t) pdf_report_get_u64(p); p += 8;
    job->lease_token = pdf_report_get_u64(p); p += 8;
    job->size_bytes = pdf_report_get_u64(p); p += 8;
    memcpy(job->sha256, p, 32); p += 32;

    s[0] = job->org;
    s[1] = job->user;
    s[2] = job->template_version;
    s[3] = job->error_code;
    max[0] = sizeof(job->org) - 1;
    max[1] = sizeof(job->user) - 1;
    max[2] = sizeof(job->template_version) - 1;
    max[3] = sizeof(job->error_code) - 1;

    for (i = 0; i < 4; i++) {
        if (p >= end) {
            return -1;
        }

        len = *p++;

        if (len > max[i] || (size_t) (end - p) < len) {
            return -1;
        }

        memcpy(s[i], p, len);
        s[i][len] = '\0';
        p += len;
    }

    if (end - p < 2) {
        return -1;
    }

    len = ((size_t) p[0] << 8) | p[1];
    p += 2;

    if (len > sizeof(job->error_message) - 1 || (size_t) (end - p) < len) {
        return -1;
    }

    memcpy(job->error_message, p, len);
    job->error_message[len] = '\0';

    return 0;
}


/*
 * New jobs stop while a tenth of the map is still free, plus what the
 * jobs not yet terminal need to become terminal (a record that grows by
 * its error message, and a retain entry each), so that the jobs already
 * accepted can always be claimed, finished or timed out: an update needs
 * fresh pages too (copy-on-write).  Pages on LMDB's free list count as
 * free; they are only added up once the file has grown past the mark.
 * LMDB refuses a cursor on the free list in a write transaction, so they
 * are counted in a read transaction of the last commit (MDB_NOTLS lets a
 * thread have one beside its write transaction): what deletion freed.
 */

#define PDF_REPORT_TERMINAL_NEED  192    /* bytes a job not yet terminal */

static int
pdf_report_nearly_full(pdf_report_store_t *store, MDB_txn *txn)
{
    size_t        limit, free_pages, n, reserve;
    MDB_txn      *rtxn;
    MDB_val       k, v;
    MDB_stat      st, qst;
    MDB_cursor   *cur;
    MDB_envinfo   info;

    if (mdb_env_info(store->env, &info) != 0
        || mdb_env_stat(store->env, &st) != 0
        || mdb_stat(txn, store->queue, &qst) != 0)
    {
        return 0;
    }

    reserve = info.me_mapsize / st.ms_psize / 10
              + qst.ms_entries * PDF_REPORT_TERMINAL_NEED / st.ms_psize;

    limit = info.me_mapsize / st.ms_psize;
    limit = reserve < limit ? limit - reserve : 0;

    if (info.me_last_pgno + 1 < limit) {
        return 0;
    }

    free_pages = 0;

    /* database 0 is the free list: each value starts with its count */
    if (mdb_txn_begin(store->env, NULL, MDB_RDONLY, &rtxn) == 0) {
        if (mdb_cursor_open(rtxn, 0, &cur) == 0) {
            while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
                if (v.mv_size >= sizeof(size_t)) {
                    memcpy(&n, v.mv_data, sizeof(size_t));
                    free_pages += n;
                }
            }

            mdb_cursor_close(cur);
        }

        mdb_txn_abort(rtxn);
    }

    return info.me_last_pgno + 1 < limit + free_pages ? 0 : 1;
}


/* ---- lifecycle: retention and erasure ---- */


/* when retention starts: completedAt, or updatedAt for FAILED */

static int64_t
pdf_report_terminal_ms(const pdf_report_job_t *job)
{
    return job->status == PDF_REPORT_COMPLETE ? job->completed_ms
                                              : job->updated_ms;
}


void
pdf_report_time_key(int64_t ms, const char *id, unsigned char *buf)
{
    pdf_report_put_u64(buf, (uint64_t) (ms < 0 ? 0 : ms));
    memcpy(buf + 8, id, PDF_REPORT_UUID_LEN);
}


static size_t
pdf_report_byuser_key(const pdf_report_job_t *job, unsigned char *buf)
{
    size_t  len;

    len = pdf_report_pending_key(job, buf);
    buf[len++] = '\0';
    memcpy(buf + len, job->id, PDF_REPORT_UUID_LEN);

    return len + PDF_REPORT_UUID_LEN;
}


/* a job just became terminal: its retention starts */

static int
pdf_report_job_terminal(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job)
{
    MDB_val        k, v;
    unsigned char  key[PDF_REPORT_TIME_KEY_LEN];

    pdf_report_time_key(pdf_report_terminal_ms(job), job->id, key);

    k.mv_data = key;
    k.mv_size = sizeof(key);
    v.mv_data = "";
    v.mv_size = 0;

    return mdb_put(txn, store->retain, &k, &v, 0);
}


static int
pdf_report_purge_put(pdf_report_store_t *store, MDB_txn *txn,
    int64_t not_before_ms, const char *id, uint32_t attempts)
{
    MDB_val        k, v;
    unsigned char  key[PDF_REPORT_TIME_KEY_LEN], val[4];

    pdf_report_time_key(not_before_ms, id, key);
    pdf_report_put_u32(val, attempts);

    k.mv_data = key;
    k.mv_size = sizeof(key);
    v.mv_data = val;
    v.mv_size = sizeof(val);

    return mdb_put(txn, store->purge, &k, &v, 0);
}


/*
 * The record and every entry of a job whose object is gone; its purge
 * entry is the caller's.
 */

static int
pdf_report_job_delete(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job)
{
    int            rc;
    MDB_val        k;
    unsigned char  key[PDF_REPORT_BYUSER_KEY_MAX];

    k.mv_data = (void *) job->id;
    k.mv_size = PDF_REPORT_UUID_LEN;

    rc = mdb_del(txn, store->jobs, &k, NULL);

    if (rc == 0 || rc == MDB_NOTFOUND) {
        k.mv_data = key;
        k.mv_size = pdf_report_byuser_key(job, key);

        rc = mdb_del(txn, store->byuser, &k, NULL);
    }

    if (rc == 0 || rc == MDB_NOTFOUND) {
        pdf_report_time_key(pdf_report_terminal_ms(job), job->id, key);
        k.mv_data = key;
        k.mv_size = PDF_REPORT_TIME_KEY_LEN;

        rc = mdb_del(txn, store->retain, &k, NULL);
    }

    if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = pdf_report_job_retire(store, txn, job);
    }

    return rc == MDB_NOTFOUND ? 0 : rc;
}


void
pdf_report_store_set_erase_on_revoke(pdf_report_store_t *store, int on)
{
    store->erase_on_revoke = on ? 1 : 0;
}


/*
 * (org, user) is no longer connected: every job of the pair is erased,
 * in the caller's write transaction.  A job not yet terminal fails with
 * NOT_CONNECTED at once (its lease is void: a running task's result is
 * refused as LOST, and the task deletes what it uploaded); every job of
 * the pair answers 404 from now on and is due for deletion now.  A job
 * whose deletion had already started keeps its place in purge.
 */

static int
pdf_report_store_revoked(pdf_report_store_t *store, MDB_txn *txn,
    const char *org, size_t org_len, const char *user, size_t user_len,
    int64_t now_ms, pdf_report_users_load_t *load)
{
    int               rc;
    size_t            plen, jobs;
    MDB_val           k, v;
    MDB_cursor       *cur;
    unsigned char     prefix[PDF_REPORT_BYUSER_KEY_MAX];
    unsigned char     rkey[PDF_REPORT_TIME_KEY_LEN];
    pdf_report_job_t  job;
    char              id[PDF_REPORT_UUID_LEN + 1];

    if (!store->erase_on_revoke
        || org_len > PDF_REPORT_ORG_MAX || user_len > PDF_REPORT_USER_ID_MAX)
    {
        return 0;     /* off, or no job can have been created for it */
    }

    memcpy(prefix, org, org_len);
    prefix[org_len] = '\0';
    memcpy(prefix + org_len + 1, user, user_len);
    prefix[org_len + 1 + user_len] = '\0';
    plen = org_len + 1 + user_len + 1;
    jobs = load->erased_jobs;

    rc = mdb_cursor_open(txn, store->byuser, &cur);
    if (rc != 0) {
        return rc;
    }

    k.mv_data = prefix;
    k.mv_size = plen;

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size != plen + PDF_REPORT_UUID_LEN
            || memcmp(k.mv_data, prefix, plen) != 0)
        {
            /* past the pair's entries */
            if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0) {
                break;
            }

            continue;
        }

        memcpy(id, (char *) k.mv_data + plen, PDF_REPORT_UUID_LEN);
        id[PDF_REPORT_UUID_LEN] = '\0';

        rc = pdf_report_job_read(store, txn, id, &job);

        if (rc == PDF_REPORT_STORE_NOT_FOUND) {
            continue;
        }

        if (rc != 0) {
            break;
        }

        if ((job.flags & PDF_REPORT_JOB_ERASED)
            || strlen(job.org) != org_len
            || memcmp(job.org, org, org_len) != 0
            || strlen(job.user) != user_len
            || memcmp(job.user, user, user_len) != 0)
        {
            continue;
        }

        job.flags |= PDF_REPORT_JOB_ERASED;

        if (load->erased_jobs++ == jobs) {
            load->erased_pairs++;
        }

        if (job.status == PDF_REPORT_PENDING
            || job.status == PDF_REPORT_IN_PROGRESS)
        {
            pdf_report_job_fail(&job, now_ms, "NOT_CONNECTED",
                                "The user is no longer connected to this "
                                "organisation.");
            job.lease_token = 0;
            job.flags |= PDF_REPORT_JOB_CUT_SHORT;

            rc = pdf_report_job_write(store, txn, &job);

            if (rc == 0) {
                rc = pdf_report_job_retire(store, txn, &job);
            }

            if (rc == 0) {
                rc = pdf_report_purge_put(store, txn, now_ms, job.id, 0);
            }

            if (rc == 0) {
                rc = pdf_report_hook_put(store, txn, &job, now_ms);
            }

        } else {
            rc = pdf_report_job_write(store, txn, &job);

            if (rc == 0) {
                pdf_report_time_key(pdf_report_terminal_ms(&job), job.id,
                                    rkey);
                k.mv_data = rkey;
                k.mv_size = sizeof(rkey);

                rc = mdb_del(txn, store->retain, &k, NULL);

                /* not in retain: its deletion started, it is in purge */
                if (rc == 0) {
                    rc = pdf_report_purge_put(store, txn, now_ms, job.id, 0);

                } else if (rc == MDB_NOTFOUND) {
                    rc = 0;
                }
            }
        }

        if (rc != 0) {
            break;
        }
    }

    mdb_cursor_close(cur);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


/*
 * Jobs one purge transaction may take or delete: each dirties two or
 * three pages (its record's leaf, its byuser entry's, branches), and the
 * pages a transaction frees are only reused after the next commit, so a
 * batch stays a small part of the tenth of the map that new jobs leave
 * free: 64 from a map of 16 MB up, 4 in a map of 1 MB.
 */

static size_t
pdf_report_purge_room(pdf_report_store_t *store)
{
    size_t        room;
    MDB_stat      st;
    MDB_envinfo   info;

    if (mdb_env_info(store->env, &info) != 0
        || mdb_env_stat(store->env, &st) != 0)
    {
        return 1;
    }

    room = info.me_mapsize / st.ms_psize / 64;

    return room < 1 ? 1 : room > PDF_REPORT_PURGE_BATCH
                          ? PDF_REPORT_PURGE_BATCH : room;
}


int
pdf_report_store_purge_due(pdf_report_store_t *store, int64_t now_ms,
    int64_t retention_ms)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_first_due(txn, store->purge, now_ms);

    if (rc == MDB_NOTFOUND && retention_ms >= 0) {
        rc = pdf_report_first_due(txn, store->retain, now_ms - retention_ms);
    }

    mdb_txn_abort(txn);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


/* 1 when the first key of a time-keyed db is at or before ms, else
 * MDB_NOTFOUND, or an error */

int
pdf_report_first_due(MDB_txn *txn, MDB_dbi dbi, int64_t ms)
{
    int          rc;
    MDB_val      k, v;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);

    if (rc == 0) {
        rc = (k.mv_size == PDF_REPORT_TIME_KEY_LEN
              && (int64_t) pdf_report_get_u64(k.mv_data) > ms)
             ? MDB_NOTFOUND : 1;
    }

    return rc;
}


int
pdf_report_store_purge_take(pdf_report_store_t *store, int64_t now_ms,
    int64_t retention_ms, int64_t lease_ms, pdf_report_purge_t *items,
    size_t max, size_t *n, unsigned *more)
{
    int       rc;
    size_t    room;
    MDB_txn  *txn;

    room = pdf_report_purge_room(store);

    if (max > room) {
        max = room;
    }

    /*
     * In a nearly full map the moves may not fit: smaller batches then,
     * down to one entry, so that deletion still frees room.
     */
    for ( ;; ) {
        *n = 0;
        *more = 0;

        rc = mdb_txn_begin(store->env, NULL, 0, &txn);
        if (rc != 0) {
            return rc;
        }

        rc = pdf_report_purge_take_txn(store, txn, now_ms, retention_ms,
                                       lease_ms, items, max, n, more);
        rc = pdf_report_commit(txn, rc);

        if (rc != MDB_MAP_FULL || max == 1) {
            break;
        }

        max /= 2;
    }

    if (rc != 0) {
        *n = 0;
        *more = 0;
    }

    return rc;
}


static int
pdf_report_purge_take_txn(pdf_report_store_t *store, MDB_txn *txn,
    int64_t now_ms, int64_t retention_ms, int64_t lease_ms,
    pdf_report_purge_t *items, size_t max, size_t *n, unsigned *more)
{
    int                 rc;
    size_t              i, nkeys;
    uint32_t            attempts;
    MDB_val             k, v;
    MDB_cursor         *cur;
    pdf_report_job_t    job;
    pdf_report_purge_t *it;
    unsigned char       keys[PDF_REPORT_PURGE_BATCH][PDF_REPORT_TIME_KEY_LEN];
    uint32_t            vals[PDF_REPORT_PURGE_BATCH];
    char                id[PDF_REPORT_UUID_LEN + 1];

    /* retention ran out: from retain into purge, due now */

    nkeys = 0;

    if (retention_ms >= 0) {
        rc = mdb_cursor_open(txn, store->retain, &cur);
        if (rc != 0) {
            return rc;
        }

        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
             rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        {
            if (k.mv_size == PDF_REPORT_TIME_KEY_LEN
                && (int64_t) pdf_report_get_u64(k.mv_data)
                   > now_ms - retention_ms)
            {
                break;
            }

            if (nkeys == max) {
                *more = 1;
                break;
            }

            /* a malformed key is dropped below, and nothing else */
            memset(keys[nkeys], 0, PDF_REPORT_TIME_KEY_LEN);
            memcpy(keys[nkeys], k.mv_data,
                   k.mv_size < PDF_REPORT_TIME_KEY_LEN
                   ? k.mv_size : PDF_REPORT_TIME_KEY_LEN);
            vals[nkeys] = (uint32_t) k.mv_size;
            nkeys++;
        }

        mdb_cursor_close(cur);

        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }

        for (i = 0; i < nkeys; i++) {
            if (vals[i] != PDF_REPORT_TIME_KEY_LEN) {
                continue;
            }

            k.mv_data = keys[i];
            k.mv_size = PDF_REPORT_TIME_KEY_LEN;

            rc = mdb_del(txn, store->retain, &k, NULL);

            if (rc == 0) {
                memcpy(id, keys[i] + 8, PDF_REPORT_UUID_LEN);
                id[PDF_REPORT_UUID_LEN] = '\0';

                rc = pdf_report_purge_put(store, txn, now_ms, id, 0);
            }

            if (rc != 0) {
                return rc;
            }
        }
    }

    /* due deletes, oldest first: leased to this pass */

    nkeys = 0;

    rc = mdb_cursor_open(txn, store->purge, &cur);
    if (rc != 0) {
        return rc;
    }

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size == PDF_REPORT_TIME_KEY_LEN
            && (int64_t) pdf_report_get_u64(k.mv_data) > now_ms)
        {
            break;
        }

        if (nkeys == max) {
            *more = 1;
            break;
        }

        if (k.mv_size != PDF_REPORT_TIME_KEY_LEN) {
            /* not ours to read: dropped */
            rc = mdb_cursor_del(cur, 0);
            if (rc != 0) {
                break;
            }

            continue;
        }

        memcpy(keys[nkeys], k.mv_data, PDF_REPORT_TIME_KEY_LEN);
        vals[nkeys] = v.mv_size == 4 ? pdf_report_get_u32(v.mv_data) : 0;
        nkeys++;
    }

    mdb_cursor_close(cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }

    for (i = 0; i < nkeys; i++) {
        k.mv_data = keys[i];
        k.mv_size = PDF_REPORT_TIME_KEY_LEN;

        rc = mdb_del(txn, store->purge, &k, NULL);
        if (rc != 0) {
            return rc;
        }

        memcpy(id, keys[i] + 8, PDF_REPORT_UUID_LEN);
        id[PDF_REPORT_UUID_LEN] = '\0';

        rc = pdf_report_job_read(store, txn, id, &job);

        if (rc == PDF_REPORT_STORE_NOT_FOUND) {
            continue;                      /* nothing left to delete */
        }

        if (rc != 0) {
            return rc;
        }

        /* a reload turned retention off or made it longer */
        if (!(job.flags & PDF_REPORT_JOB_ERASED)
            && (retention_ms < 0
                || pdf_report_terminal_ms(&job) > now_ms - retention_ms))
        {
            rc = pdf_report_job_terminal(store, txn, &job);
            if (rc != 0) {
                return rc;
            }

            continue;
        }

        attempts = vals[i];

        rc = pdf_report_purge_put(store, txn, now_ms + lease_ms, id,
                                  attempts);
        if (rc != 0) {
            return rc;
        }

        it = &items[(*n)++];

        memset(it, 0, sizeof(pdf_report_purge_t));
        memcpy(it->id, id, sizeof(it->id));
        memcpy(it->org, job.org, sizeof(it->org));
        it->attempts = attempts;
        it->erased = (job.flags & PDF_REPORT_JOB_ERASED) ? 1 : 0;
        it->cut_short = (job.flags & PDF_REPORT_JOB_CUT_SHORT) ? 1 : 0;
        it->created_ms = job.created_ms;
        it->lease_ms = now_ms + lease_ms;
    }

    return 0;
}


/*
 * A batch may touch more pages than a nearly full map has free (each
 * job's record and byuser entry are on leaves of their own): then in
 * halves, down to one job a transaction, so that deletion still frees
 * room.
 */

int
pdf_report_store_purge_done(pdf_report_store_t *store,
    const pdf_report_purge_t *items, size_t n, unsigned *retention,
    unsigned *revoked)
{
    int       rc;
    size_t    i, chunk;
    unsigned  ret, rev;

    *retention = 0;
    *revoked = 0;

    chunk = pdf_report_purge_room(store);

    for (i = 0; i < n; /* void */) {
        if (chunk > n - i) {
            chunk = n - i;
        }

        rc = pdf_report_purge_done_txn(store, items + i, chunk, &ret, &rev);

        if (rc == MDB_MAP_FULL && chunk > 1) {
            chunk /= 2;
            continue;
        }

        if (rc != 0) {
            return rc;
        }

        *retention += ret;
        *revoked += rev;
        i += chunk;
    }

    return 0;
}


static int
pdf_report_purge_done_txn(pdf_report_store_t *store,
    const pdf_report_purge_t *items, size_t n, unsigned *retention,
    unsigned *revoked)
{
    int                        rc;
    size_t                     i;
    MDB_txn                   *txn;
    MDB_val                    k, v;
    uint32_t                   attempts;
    pdf_report_job_t           job;
    const pdf_report_purge_t  *it;
    unsigned char              key[PDF_REPORT_TIME_KEY_LEN];

    *retention = 0;
    *revoked = 0;

    if (n == 0) {
        return 0;
    }

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; rc == 0 && i < n; i++) {
        it = &items[i];

        pdf_report_time_key(it->lease_ms, it->id, key);
        k.mv_data = key;
        k.mv_size = sizeof(key);

        rc = mdb_get(txn, store->purge, &k, &v);

        if (rc == MDB_NOTFOUND) {
            /* the lease ran out and another pass has the entry now */
            rc = 0;
            continue;
        }

        if (rc != 0) {
            break;
        }

        attempts = v.mv_size == 4 ? pdf_report_get_u32(v.mv_data) : 0;

        rc = mdb_del(txn, store->purge, &k, NULL);
        if (rc != 0) {
            break;
        }

        if (it->outcome == PDF_REPORT_PURGE_GONE) {
            rc = pdf_report_job_read(store, txn, it->id, &job);

            if (rc == 0) {
                if (job.flags & PDF_REPORT_JOB_ERASED) {
                    (*revoked)++;

                } else {
                    (*retention)++;
                }

                rc = pdf_report_job_delete(store, txn, &job);

            } else if (rc == PDF_REPORT_STORE_NOT_FOUND) {
                rc = 0;
            }

            continue;
        }

        if (it->outcome == PDF_REPORT_PURGE_FAILED) {
            attempts++;
        }

        rc = pdf_report_purge_put(store, txn, it->next_ms, it->id, attempts);
    }

    if (rc != 0) {
        *retention = 0;
        *revoked = 0;
    }

    return pdf_report_commit(txn, rc);
}


/* commit when all went well, abort otherwise; returns the first error */

int
pdf_report_commit(MDB_txn *txn, int rc)
{
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    return mdb_txn_commit(txn);
}


void
pdf_report_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


void
pdf_report_put_u64(unsigned char *p, uint64_t v)
{
    pdf_report_put_u32(p, (uint32_t) (v >> 32));
    pdf_report_put_u32(p + 4, (uint32_t) v);
}


uint32_t
pdf_report_get_u32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


uint64_t
pdf_report_get_u64(const unsigned char *p)
{
    return ((uint64_t) pdf_report_get_u32(p) << 32)
           | pdf_report_get_u32(p + 4);
}


int
pdf_report_store_usage(pdf_report_store_t *store, size_t *used,
    size_t *size)
{
    int          rc;
    MDB_stat     st;
    MDB_envinfo  info;

    rc = mdb_env_info(store->env, &info);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_env_stat(store->env, &st);
    if (rc != 0) {
        return rc;
    }

    *used = (info.me_last_pgno + 1) * (size_t) st.ms_psize;
    *size = info.me_mapsize;

    return 0;
}


int
pdf_report_store_jobs_count(pdf_report_store_t *store, size_t *pending,
    size_t *running)
{
    int        rc;
    MDB_txn   *txn;
    MDB_stat   queue, run;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_stat(txn, store->queue, &queue);

    if (rc == 0) {
        rc = mdb_stat(txn, store->running, &run);
    }

    mdb_txn_abort(txn);

    if (rc != 0) {
        return rc;
    }

    *running = run.ms_entries;
    *pending = queue.ms_entries > run.ms_entries
               ? queue.ms_entries - run.ms_entries : 0;

    return 0;
}


/* a load's results, before either backend's load fills them in */

void
pdf_report_users_load_reset(pdf_report_users_load_t *load)
{
    load->unchanged = PDF_REPORT_USERS_LOADED;
    load->second_read = 0;
    load->users = 0;
    load->added = 0;
    load->changed = 0;
    load->removed = 0;
    load->revoked_pairs = 0;
    load->erased_pairs = 0;
    load->erased_jobs = 0;
    load->line = 0;
    load->err[0] = '\0';
}
