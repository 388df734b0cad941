
/*
 * The LMDB store: jobs (the source of truth and the queue of record), the
 * per-(org, user) pending index, the per-org sliding-window rate limiter
 * and the user directory.  No nginx dependency: it is used from the event
 * loop of every worker and from pool threads (the environment is opened
 * with MDB_NOTLS), and from unit tests.
 *
 * Every function returns 0 on success, one of the PDF_REPORT_STORE_*
 * outcomes below, or an LMDB/errno code for mdb_strerror().
 */


#ifndef _PDF_REPORT_STORE_H_INCLUDED_
#define _PDF_REPORT_STORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

#include "pdf_report_util.h"
#include "pdf_report_webhook.h"


/*
 * bumped whenever the on-disk layout changes; kept in the "meta" db.
 * 2: the lifecycle indexes (retain, purge, byuser, running); a version-1
 * store is migrated by pdf_report_store_migrate().
 */
#define PDF_REPORT_STORE_FORMAT     2

#define PDF_REPORT_STORE_NOT_FOUND  (-1001)
#define PDF_REPORT_STORE_EXISTS     (-1002)
#define PDF_REPORT_STORE_LOST       (-1003)  /* the lease is not ours */
#define PDF_REPORT_STORE_LIMITED    (-1004)  /* over the rate limit */
#define PDF_REPORT_STORE_NOT_CONNECTED  (-1006)
#define PDF_REPORT_STORE_UNAVAILABLE  (-1007)  /* a remote store away */
/* an Idempotency-Key already answered: with this body, another one */
#define PDF_REPORT_STORE_IDEM_REPLAY  (-1010)
#define PDF_REPORT_STORE_IDEM_REUSED  (-1011)
/* a line of the directory file is refused: its number and err say why */
#define PDF_REPORT_USERS_INVALID    (-1101)
#define PDF_REPORT_STORE_FULL       MDB_MAP_FULL

#define PDF_REPORT_ORG_MAX          128
#define PDF_REPORT_USER_ID_MAX      64       /* 16 characters of UTF-8 */
#define PDF_REPORT_ERR_CODE_MAX     31
#define PDF_REPORT_ERR_MSG_MAX      255


typedef enum {
    PDF_REPORT_PENDING = 0,
    PDF_REPORT_IN_PROGRESS,
    PDF_REPORT_COMPLETE,
    PDF_REPORT_FAILED
} pdf_report_status_e;


/* pdf_report_job_t.flags */
#define PDF_REPORT_JOB_ERASED       0x01     /* its pair was revoked: gone
                                                for the API, its object
                                                and record being deleted */
#define PDF_REPORT_JOB_CUT_SHORT    0x02     /* erased before it ended: an
                                                upload may be under way */


typedef struct {
    char        id[PDF_REPORT_UUID_LEN + 1];
    char        org[PDF_REPORT_ORG_MAX + 1];
    char        user[PDF_REPORT_USER_ID_MAX + 1];
    uint32_t    status;
    uint32_t    flags;           /* PDF_REPORT_JOB_* */
    uint32_t    attempts;        /* claims so far */
    int64_t     created_ms;
    int64_t     updated_ms;
    int64_t     completed_ms;    /* COMPLETE or FAILED */
    int64_t     generated_ms;    /* fixed at the first claim, so a re-run
                                    renders the same bytes */
    int64_t     claimed_ms;      /* start of the current attempt */
    int64_t     lease_until_ms;
    uint64_t    lease_token;     /* random per claim */
    uint64_t    size_bytes;
    uint32_t    duration_ms;
    unsigned char  sha256[PDF_REPORT_SHA256_LEN];
    char        template_version[8];
    char        error_code[PDF_REPORT_ERR_CODE_MAX + 1];
    char        error_message[PDF_REPORT_ERR_MSG_MAX + 1];
} pdf_report_job_t;


typedef struct {
    unsigned    allowed;         /* 0: refuse with 429, nothing counted */
    unsigned    limit;
    unsigned    remaining;       /* after this request */
    unsigned    reset_s;         /* until the oldest counted one leaves */
} pdf_report_rate_t;


typedef struct pdf_report_store_s  pdf_report_store_t;


/*
 * Open (creating files if missing) the environment in dir.  Each process
 * opens its own after fork.  *found_format is the layout version found
 * (PDF_REPORT_STORE_FORMAT for a new store).  A store of a newer version,
 * or with jobs and no version, is refused with PDF_REPORT_STORE_EXISTS;
 * one of version 1 opens, and is upgraded by pdf_report_store_migrate()
 * before anything else uses it.
 */
int pdf_report_store_open(pdf_report_store_t **store, const char *dir,
    size_t map_size, unsigned *found_format);

/*
 * Bring a version-1 store to this version in one write transaction:
 * the byuser entry of every job, the retain entry of every terminal
 * job and the running entry of every IN_PROGRESS one.  *jobs is how
 * many jobs were indexed (0: nothing to do).
 * MDB_MAP_FULL when the map has no room for the indexes.
 */
int pdf_report_store_migrate(pdf_report_store_t *store, size_t *jobs);
void pdf_report_store_close(pdf_report_store_t *store);

/* clears reader slots left by dead processes; *dead is how many */
int pdf_report_store_reader_check(pdf_report_store_t *store, int *dead);

/* the data file path, for chown() by the master */
const char *pdf_report_store_path(pdf_report_store_t *store);


/* ---- user directory ---- */

typedef struct {
    const char  *id;
    size_t       id_len;
    const char  *json;           /* the record as one line of JSON */
    size_t       json_len;
    const char  *stem;           /* pdf_report_filename_stem() of it */
    size_t       stem_len;
    const char  *orgs;           /* the orgs it is CONNECTED to, each
                                    NUL-terminated, one after another */
    size_t       orgs_len;       /* bytes of orgs */
} pdf_report_user_entry_t;

/*
 * Load the directory file into the store (contract section 7): in
 * proportion to what changed, not to its size.
 *
 * - The file's fingerprint is kept in the meta db ("users_fp": the
 *   SHA-256 of its content, the rules version, its device, inode, size,
 *   mtime and ctime, when it was read, and the shape of the users db it
 *   left).  A file whose device, inode, size, mtime and ctime (in ns)
 *   are the recorded ones, none of them within 2 s before that load
 *   (git's "racily clean" rule), is not read at all; else its SHA-256
 *   is compared; an equal one is not loaded again either.
 * - A changed file is checked whole in a read transaction (a line
 *   stored as it is was checked when stored and is not parsed again),
 *   then applied as the difference in one write transaction: records
 *   whose text changed are put, users no longer in the file deleted,
 *   and their access entries follow; every (org, user) pair no longer
 *   CONNECTED is revoked in that transaction.  A refused line writes
 *   nothing.
 * - check (nginx -t) checks a changed file whole and writes nothing.
 *
 * Memory: one read buffer and a set of 128-bit id hashes (both mmap()ed
 * and unmapped at the end), and the changed lines until they apply (up
 * to PDF_REPORT_USERS_DIFF_MAX; past that the file is read a second time
 * inside the write transaction instead).
 *
 * Returns 0, PDF_REPORT_USERS_INVALID (line and err say why), or an
 * errno or LMDB code.
 */

#define PDF_REPORT_USERS_DIFF_MAX   (64 * 1024 * 1024)

#define PDF_REPORT_USERS_LOADED     0
#define PDF_REPORT_USERS_SAME_STAT  1     /* not read */
#define PDF_REPORT_USERS_SAME_SHA   2     /* read, not loaded */

typedef struct {
    /* in */
    int           fd;            /* the file, read from its start */
    unsigned      check;         /* nginx -t: write nothing */
    int64_t       now_ms;        /* for the revocations */
    size_t        chunk;         /* read size, 0: the default */
    size_t        diff_max;      /* 0: PDF_REPORT_USERS_DIFF_MAX */
    void        (*revoked)(void *data, const char *org, size_t org_len,
                      const char *user, size_t user_len);
    void         *data;          /* for revoked(), which may be NULL */

    /* out */
    unsigned      unchanged;     /* PDF_REPORT_USERS_* above */
    unsigned      second_read;   /* the diff was too large to keep */
    size_t        users;         /* records in the file, once read */
    size_t        added;         /* (check: would be) */
    size_t        changed;
    size_t        removed;
    size_t        revoked_pairs;
    size_t        erased_pairs;  /* of those, with jobs erased */
    size_t        erased_jobs;   /* (pdf_report_erase_on_revoke on) */
    size_t        line;          /* PDF_REPORT_USERS_INVALID: where */
    char          err[256];
} pdf_report_users_load_t;

int pdf_report_store_users_load(pdf_report_store_t *store,
    pdf_report_users_load_t *load);
void pdf_report_users_load_reset(pdf_report_users_load_t *load);

/*
 * pdf_report_erase_on_revoke: when on (the directive's default; a store
 * is opened with it off, until the caller says), a directory load
 * that shows an (org, user) pair no longer connected erases every job
 * of the pair in the same transaction (pdf_report_store_revoked() in
 * pdf_report_store.c): a running one fails with NOT_CONNECTED, all of
 * them answer 404 at once and are deleted with their objects by the
 * next purge pass.  The load counts them in erased_jobs.
 */
void pdf_report_store_set_erase_on_revoke(pdf_report_store_t *store,
    int on);

/*
 * What steps 1 and 3 ask of the directory, without parsing a record:
 * 0 when the user is CONNECTED to org, with its filename stem copied to
 * stem (PDF_REPORT_FILENAME_MAX bytes); PDF_REPORT_STORE_NOT_CONNECTED
 * when the user exists but is not; PDF_REPORT_STORE_NOT_FOUND when it
 * does not exist.
 */
int pdf_report_store_user_access(pdf_report_store_t *store, const char *org,
    const char *id, size_t id_len, char *stem, size_t *stem_len);

/*
 * Copy a user's record into a new malloc()ed, NUL-terminated buffer.
 * PDF_REPORT_STORE_NOT_FOUND when absent.
 */
int pdf_report_store_user_get(pdf_report_store_t *store, const char *id,
    size_t id_len, char **json, size_t *len);


/* ---- step 1 ---- */

/*
 * The two step-1 writes, each in a transaction of its own: the semantics
 * the unit tests pin down.  The module runs the same steps grouped, in
 * pdf_report_store_batch() below.
 *
 * Sliding-window rate limit: when the org has fewer than limit requests
 * in (now - period, now], count this one.  rate->allowed says which.
 */
int pdf_report_store_rate_hit(pdf_report_store_t *store, const char *org,
    int64_t now_ms, int64_t period_ms, unsigned limit,
    pdf_report_rate_t *rate);

/*
 * Create job (id, org, user, created_ms filled by the caller) as PENDING
 * unless (org, user) has a job PENDING or IN_PROGRESS: then
 * PDF_REPORT_STORE_EXISTS with that job's id in pending_id (37 bytes).
 */
int pdf_report_store_job_create(pdf_report_store_t *store,
    pdf_report_job_t *job, char *pending_id);


/* ---- steps 2 and 3 ---- */

/* an erased job (its pair was revoked) is PDF_REPORT_STORE_NOT_FOUND */
int pdf_report_store_job_get(pdf_report_store_t *store, const char *id,
    pdf_report_job_t *job);

/* the record as it is, erased or not (flags say) */
int pdf_report_store_job_record(pdf_report_store_t *store, const char *id,
    pdf_report_job_t *job);


/* ---- processing ---- */

typedef struct {
    int64_t     now_ms;
    int64_t     timeout_ms;      /* pdf_report_job_timeout */
    int64_t     lease_ms;
    unsigned    max_attempts;    /* claims before giving up */
    unsigned    max_claims;      /* how many this caller can run now */
} pdf_report_scan_t;

/* the first jobs a pass failed, for the log: the rest are counted */
#define PDF_REPORT_SCAN_ENDED_MAX  8

typedef struct {
    char        id[PDF_REPORT_UUID_LEN + 1];
    char        org[PDF_REPORT_ORG_MAX + 1];
    unsigned    timed_out;       /* 1: TIMEOUT, 0: PROCESSING_FAILED */
} pdf_report_scan_end_t;

typedef struct {
    unsigned    claimed;
    unsigned    failed;          /* timed out or out of attempts now */
    unsigned    timed_out;       /* of those, TIMEOUT */
    unsigned    waiting;         /* 1: a PENDING job left unclaimed */
    unsigned    ended;           /* of failed, those in end[] */
    pdf_report_scan_end_t  end[PDF_REPORT_SCAN_ENDED_MAX];
} pdf_report_scan_result_t;

/*
 * One pass over the queue, oldest first: every job past its timeout
 * becomes FAILED TIMEOUT, every job whose lease expired too often FAILED
 * PROCESSING_FAILED, and up to max_claims PENDING (or lease-expired) jobs
 * are claimed and copied to claims[].  The pass ends at the first job it
 * has no slot for: the jobs after it are younger, so none has timed out.
 * Read-only (no write transaction) when there is nothing to do.
 */
int pdf_report_store_scan(pdf_report_store_t *store,
    const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);

/* extend the lease of a claimed job; LOST when it is no longer ours */
int pdf_report_store_job_renew(pdf_report_store_t *store, const char *id,
    uint64_t token, int64_t now_ms, int64_t lease_ms);

/*
 * Record the end of a claimed job: done->status COMPLETE (size, sha256,
 * duration, template) or FAILED (error code and message).  LOST when the
 * claim is no longer ours (another worker took it over, or it timed out).
 */
int pdf_report_store_job_finish(pdf_report_store_t *store,
    const pdf_report_job_t *done, uint64_t token, int64_t now_ms);

/* give a claim back (the thread pool refused the task): PENDING again */
int pdf_report_store_job_release(pdf_report_store_t *store, const char *id,
    uint64_t token, int64_t now_ms);

/*
 * Group commit: the step-1 writes of many requests, and a scan pass, in
 * one write transaction and so one fsync (pdf_report_store_batch.c).
 * An answer (429, 409, a full store) is the operation's own; an LMDB
 * error fails every operation of the batch, as does the commit's.
 */

typedef struct pdf_report_idem_op_s  pdf_report_idem_op_t;

typedef enum {
    PDF_REPORT_OP_RATE = 0,      /* count a rate-limit hit, nothing else */
    PDF_REPORT_OP_CREATE,        /* create job (org, user, created_ms) */
    PDF_REPORT_OP_RELEASE        /* give back claim (id, lease_token) */
} pdf_report_op_e;

typedef struct {
    /* in */
    unsigned            kind;
    unsigned            rate;        /* CREATE: count the hit first */
    int64_t             now_ms;
    int64_t             period_ms;
    unsigned            limit;
    pdf_report_job_t    job;         /* CREATE: the id is made here */
    pdf_report_idem_op_t  *idem;     /* the request's Idempotency-Key, or
                                        NULL (pdf_report_store_idem.c) */

    /* out */
    int                 rc;          /* 0, LIMITED (429), EXISTS (409),
                                        FULL (503) or LMDB's */
    pdf_report_rate_t   rate_result; /* when counted: allowed or not */
    char                pending[PDF_REPORT_UUID_LEN + 1];
} pdf_report_op_t;

int pdf_report_store_batch(pdf_report_store_t *store, pdf_report_op_t **ops,
    size_t n, const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);

/*
 * The same in two steps, so that a caller can take the operations that
 * queued while it waited for the writer lock: _begin() returns with the
 * lock held (or an LMDB error), _run() is given what _begin() returned
 * and does the batch in txn, committing or aborting it, as
 * pdf_report_store_batch() does; when begun is an error, every
 * operation fails with it.
 */
int pdf_report_store_batch_begin(pdf_report_store_t *store, MDB_txn **txn);
int pdf_report_store_batch_run(pdf_report_store_t *store, MDB_txn *txn,
    int begun, pdf_report_op_t **ops, size_t n,
    const pdf_report_scan_t *scan, pdf_report_job_t *claims,
    pdf_report_scan_result_t *res);

/*
 * Write n finished (COMPLETE or FAILED) jobs in one transaction, as an
 * archive or a benchmark's store holds them: no queue or pending entry,
 * nothing to run.  EINVAL for a job that is not finished, EXISTS for an
 * id already there; nothing is written then.
 */
int pdf_report_store_jobs_import(pdf_report_store_t *store,
    const pdf_report_job_t *jobs, size_t n);

/*
 * The bytes of the map the store has used (its high-water mark: freed
 * pages are reused before it grows) and the map's size.
 */
int pdf_report_store_usage(pdf_report_store_t *store, size_t *used,
    size_t *size);

/*
 * Jobs PENDING and IN_PROGRESS, in a read transaction and without a
 * scan: the entries of queue (every job not terminal) and of running.
 */
int pdf_report_store_jobs_count(pdf_report_store_t *store, size_t *pending,
    size_t *running);

/* ---- lifecycle: retention and erasure ---- */

/*
 * Every terminal job has an entry in "retain", keyed by the time it
 * became terminal (completedAt, or updatedAt for FAILED), until its
 * deletion starts; it then has one in "purge", keyed by the time its
 * next delete may start.  A purge pass takes the due entries (retain:
 * terminal time + retention <= now, with the retention of the caller's
 * configuration; purge: not-before <= now), leases them (the key moves
 * to now + lease, so no other worker takes them), deletes the objects
 * and then records the outcome with pdf_report_store_purge_done().
 */

#define PDF_REPORT_PURGE_GONE       1    /* the object is gone: delete */
#define PDF_REPORT_PURGE_FAILED     2    /* a delete failed: next_ms */
#define PDF_REPORT_PURGE_UNTRIED    3    /* not tried: next_ms */

typedef struct {
    char        id[PDF_REPORT_UUID_LEN + 1];
    char        org[PDF_REPORT_ORG_MAX + 1];
    uint32_t    attempts;        /* failed deletes before this one */
    unsigned    erased;          /* revoked, rather than retention */
    unsigned    cut_short;       /* erased before it ended */
    int64_t     created_ms;      /* the job's createdAt */
    int64_t     lease_ms;        /* the entry's key while leased */

    /* set by the caller for _done() */
    unsigned    outcome;         /* PDF_REPORT_PURGE_* */
    int64_t     next_ms;         /* FAILED, UNTRIED: when to try again */
} pdf_report_purge_t;

/*
 * Whether a pass would find anything due: read-only, for the event loop.
 * retention_ms < 0: retention off.  Returns 1, 0 or an LMDB error.
 */
int pdf_report_store_purge_due(pdf_report_store_t *store, int64_t now_ms,
    int64_t retention_ms);

/*
 * One write transaction: moves up to max retain entries that are due into
 * purge, then leases up to max due purge entries and copies them to items
 * (*n of them).  max is at most 64, and less in a map under 16 MB, so that a
 * pass still fits in a full map.  An entry whose job is gone is dropped; a
 * job not erased whose retention (as now configured) has not run out after
 * all goes back to retain.  *more is set when due entries were left for
 * another pass.
 */
int pdf_report_store_purge_take(pdf_report_store_t *store, int64_t now_ms,
    int64_t retention_ms, int64_t lease_ms, pdf_report_purge_t *items,
    size_t max, size_t *n, unsigned *more);

/*
 * One write transaction: a GONE item's job goes with every entry it has
 * (jobs, byuser, retain, purge, pending, queue); a FAILED one is due
 * again at next_ms with one more attempt, an UNTRIED one at next_ms.
 * An item whose lease another pass has taken over meanwhile is left to
 * that pass.  *retention and *revoked count the jobs deleted.  As many
 * transactions as a full map needs.
 */
int pdf_report_store_purge_done(pdf_report_store_t *store,
    const pdf_report_purge_t *items, size_t n, unsigned *retention,
    unsigned *revoked);

/* ---- webhooks: events waiting for delivery ---- */

/*
 * A job that becomes terminal (finished, failed by a scan, or erased
 * before it ended) while its org has a webhook gets an event in the same
 * transaction, due at once.  A delivery pass takes the due events, leases
 * them (the key moves to now + lease), delivers them, and records the
 * outcome with pdf_report_store_hooks_done().
 */

#define PDF_REPORT_HOOK_BODY_MAX    3072

#define PDF_REPORT_HOOK_DELIVERED   1    /* a 2xx: the event goes */
#define PDF_REPORT_HOOK_RETRY       2    /* failed: due again at next_ms */
#define PDF_REPORT_HOOK_DROPPED     3    /* 410, given up, no webhook */
#define PDF_REPORT_HOOK_UNTRIED     4    /* not sent: due at next_ms */

typedef struct {
    char        id[PDF_REPORT_UUID_LEN + 1];    /* the job's */
    char        org[PDF_REPORT_ORG_MAX + 1];
    uint32_t    attempts;        /* failed deliveries before this one */
    int64_t     ended_ms;        /* when the job became terminal */
    int64_t     lease_ms;        /* the entry's key while leased */
    size_t      len;
    char        body[PDF_REPORT_HOOK_BODY_MAX];

    /* set by the caller for _done() */
    unsigned    outcome;         /* PDF_REPORT_HOOK_* */
    int64_t     next_ms;
} pdf_report_hook_t;

/* the orgs whose jobs get events (NULL: none); kept, not copied */
void pdf_report_store_set_webhooks(pdf_report_store_t *store,
    const pdf_report_webhooks_t *webhooks);

/* is an event due: read-only, for the event loop; 1, 0 or an error */
int pdf_report_store_hooks_due(pdf_report_store_t *store, int64_t now_ms);

/*
 * One write transaction: leases up to max due events, oldest first, and
 * copies them to items (*n of them), skipping the orgs that room() says
 * have no room (it is called once per event taken, and may count).
 * *more is set when due events were left.
 */
int pdf_report_store_hooks_take(pdf_report_store_t *store, int64_t now_ms,
    int64_t lease_ms, int (*room)(void *data, const char *org), void *data,
    pdf_report_hook_t *items, size_t max, size_t *n, unsigned *more);

/*
 * One write transaction: DELIVERED and DROPPED events go, RETRY ones are
 * due at next_ms with one more attempt, UNTRIED ones at next_ms.  An event
 * whose lease was taken over meanwhile is left alone.
 */
int pdf_report_store_hooks_done(pdf_report_store_t *store,
    const pdf_report_hook_t *items, size_t n);

/* events waiting, for the metrics */
int pdf_report_store_hooks_count(pdf_report_store_t *store, size_t *n);
/* ---- Idempotency-Key (contract section 10) ---- */

/*
 * An Idempotency-Key of step 1 is remembered per (org, key) with the
 * SHA-256 of the request body and the answer given, until expires_ms.
 * The record is written by the operation that gives the answer, in the
 * same transaction as its job and its rate-limit hit: an operation of
 * the batch with op->idem first looks the key up there, and then
 *
 * - finds it with the same body: rc IDEM_REPLAY, found is the record;
 *   nothing is counted or written;
 * - finds it with another body: the hit is counted (rate) and rc is
 *   IDEM_REUSED (or LIMITED), found is the record; nothing written;
 * - finds nothing (or an expired record): the operation runs as
 *   without a key, and an answer worth remembering is recorded: a
 *   CREATE's 202 or 409 JOB_PENDING, a RATE operation's refusal when
 *   rec.status is set (a RATE operation with rate 0 then only records).
 *
 * 429 and store errors are never recorded.
 */

#define PDF_REPORT_IDEM_KEY_MAX     255
#define PDF_REPORT_IDEM_MSG_MAX     127

typedef struct {
    unsigned char  sha256[PDF_REPORT_SHA256_LEN];  /* the request body's */
    int64_t        expires_ms;
    int64_t        created_ms;   /* 202: the job's createdAt */
    uint32_t       status;       /* the HTTP status answered */
    char           job_id[PDF_REPORT_UUID_LEN + 1];   /* 202 and 409 */
    char           user[PDF_REPORT_USER_ID_MAX + 1];  /* 202 */
    char           code[PDF_REPORT_ERR_CODE_MAX + 1]; /* an error's */
    char           message[PDF_REPORT_IDEM_MSG_MAX + 1];
} pdf_report_idem_t;

struct pdf_report_idem_op_s {
    /* in */
    char               key[PDF_REPORT_IDEM_KEY_MAX + 1];  /* its content */
    unsigned char      sha256[PDF_REPORT_SHA256_LEN];
    int64_t            ttl_ms;
    pdf_report_idem_t  rec;      /* RATE: status, code, message */

    /* out */
    pdf_report_idem_t  found;    /* IDEM_REPLAY, IDEM_REUSED */

    /* between a batch's check and put: an expired record to replace */
    unsigned           expired;
};

/*
 * The content of an RFC 8941 sf-string ("..." of printable ASCII, with
 * \" and \\ as the only escapes, nothing after it but spaces) of 1 to
 * PDF_REPORT_IDEM_KEY_MAX characters, NUL-terminated in key (of
 * PDF_REPORT_IDEM_KEY_MAX + 1 bytes).  0, or -1 for anything else.
 */
int pdf_report_idem_key_parse(const char *value, size_t len, char *key);

/* a key's record unless expired at now_ms: 0 or NOT_FOUND */
int pdf_report_store_idem_get(pdf_report_store_t *store, const char *org,
    const char *key, int64_t now_ms, pdf_report_idem_t *rec);

/*
 * Delete up to max records expired at now_ms, oldest first, in one write
 * transaction (none when nothing is due: a read first); *n is how many.
 */
int pdf_report_store_idem_expire(pdf_report_store_t *store, int64_t now_ms,
    size_t max, size_t *n);

/* records kept, expired or not, for tests and the boundedness check */
int pdf_report_store_idem_count(pdf_report_store_t *store, size_t *n);


/* one-line name of a status, "PENDING" ... */
const char *pdf_report_status_name(uint32_t status);


#endif /* _PDF_REPORT_STORE_H_INCLUDED_ */
