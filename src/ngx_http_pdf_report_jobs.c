
/*
 * Job execution (contract section 6).  The LMDB record is the truth; each
 * worker runs a scan timer that fails overdue jobs and claims PENDING (or
 * abandoned) ones with a lease, then posts each claim to the configured
 * thread pool.  The pool task renders, uploads and records the outcome in
 * the store itself, so a worker that exits or dies loses nothing: an
 * unfinished claim's lease runs out and another worker takes the job.
 * The task touches no nginx API; the completion handler on the event loop
 * logs what the task found and frees its memory.
 */


#include "ngx_http_pdf_report_module.h"

#include <stdlib.h>
#include <openssl/evp.h>


typedef enum {
    NGX_HTTP_PDF_REPORT_TASK_DONE = 0,   /* recorded COMPLETE or FAILED */
    NGX_HTTP_PDF_REPORT_TASK_LOST,       /* another claim owns the job */
    NGX_HTTP_PDF_REPORT_TASK_RELEASED,   /* given back: worker exiting */
    NGX_HTTP_PDF_REPORT_TASK_WAITING,    /* given back: no S3 credentials */
    NGX_HTTP_PDF_REPORT_TASK_STORE_ERROR
} ngx_http_pdf_report_outcome_e;


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    ngx_pool_t                       *pool;
    pdf_report_db_t                   db;
    pdf_report_s3_conf_t              s3;
    pdf_report_render_conf_t          render;
    pdf_report_job_t                  job;       /* the claim */
    pdf_report_job_t                  result;
    char                             *key;       /* S3 object key */
    int64_t                           lease_ms;
    int64_t                           deadline_ms;
    int64_t                           render_ms;
    ngx_uint_t                        outcome;
    int                               store_rc;
    int                               s3_attempts;

    /* how long the outcome waited for a remote store that was away */
    int64_t                           store_waited_ms;

    /* the job was erased or ended elsewhere after an upload: 1 when the
     * object was deleted again, 2 when that failed (res says why) */
    ngx_uint_t                        unput;
    const char                       *unput_why;
    pdf_report_s3_result_t            unput_res;

    /* a failure: what only the error log gets, never the client */
    char                              detail[512];
    char                              cause[96];   /* "": not the conf */
    const char                       *hint;
} ngx_http_pdf_report_task_t;


/*
 * A failure that means the configuration is wrong (S3 refusing the
 * request, a font the workers cannot use) fails every job alike: it is
 * logged at "error" once per cause and window in each worker, the other
 * jobs it fails at "warn".
 */

#define NGX_HTTP_PDF_REPORT_CAUSES        8
#define NGX_HTTP_PDF_REPORT_CAUSE_WINDOW  60

typedef struct {
    char                              cause[96];
    time_t                            logged;
    ngx_uint_t                        since;   /* failures not at error */
} ngx_http_pdf_report_cause_t;


static void ngx_http_pdf_report_scan_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_pdf_report_post(
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_job_t *claim);
static void ngx_http_pdf_report_task_handler(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_task_run(ngx_http_pdf_report_task_t *t);
static int ngx_http_pdf_report_task_renew(void *data);
static void ngx_http_pdf_report_task_fail(ngx_http_pdf_report_task_t *t,
    const char *code, const char *message, const char *fmt, ...);
static void ngx_http_pdf_report_upload_failed(ngx_http_pdf_report_task_t *t,
    pdf_report_s3_result_t *res);
static void ngx_http_pdf_report_task_finish(ngx_http_pdf_report_task_t *t);
static void ngx_http_pdf_report_task_release(ngx_http_pdf_report_task_t *t);
static void ngx_http_pdf_report_task_unput(ngx_http_pdf_report_task_t *t);
static int ngx_http_pdf_report_cancelled(void);
static void ngx_http_pdf_report_task_done(ngx_event_t *ev);
static void ngx_http_pdf_report_log_failure(ngx_http_pdf_report_task_t *t);


static ngx_http_pdf_report_cause_t
    ngx_http_pdf_report_causes[NGX_HTTP_PDF_REPORT_CAUSES];


ngx_int_t
ngx_http_pdf_report_jobs_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_event_t  *ev;

    pmcf->log = cycle->log;
    pmcf->in_flight = 0;

    if (ngx_http_pdf_report_commit_init_worker(cycle, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ev = &pmcf->scan_event;
    ev->handler = ngx_http_pdf_report_scan_handler;
    ev->data = pmcf;
    ev->log = cycle->log;

    /* a pending scan must not keep a gracefully exiting worker alive */
    ev->cancelable = 1;

    /* workers start their scans apart from each other */
    ngx_add_timer(ev, ngx_random() % pmcf->scan_interval + 1);

    return NGX_OK;
}


/* a new job: scan now rather than at the next tick */

void
ngx_http_pdf_report_jobs_kick(ngx_http_pdf_report_main_conf_t *pmcf)
{
    if (!pmcf->scan_event.posted && !ngx_exiting) {
        ngx_post_event(&pmcf->scan_event, &ngx_posted_events);
    }
}


/* the pass itself runs in the store's pool (commit.c): it may write */

static void
ngx_http_pdf_report_scan_handler(ngx_event_t *ev)
{
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate || pmcf->db.db == NULL) {
        return;
    }

    /* a remote store not set up yet: its set-up kicks the first scan */
    if (pmcf->db.ops->remote && !pmcf->store_ready) {
        return;
    }

    ngx_http_pdf_report_commit_scan(pmcf);

    if (!ev->timer_set) {
        ngx_add_timer(ev, pmcf->scan_interval);
    }
}


/* claims made by a store batch: each to the render pool */

void
ngx_http_pdf_report_jobs_run(ngx_http_pdf_report_main_conf_t *pmcf,
    pdf_report_job_t *claims, ngx_uint_t n)
{
    ngx_uint_t                     i;
    ngx_time_t                    *tp;
    ngx_http_pdf_report_commit_t  *c;

    for (i = 0; i < n; i++) {
        if (ngx_http_pdf_report_post(pmcf, &claims[i]) == NGX_OK) {
            continue;
        }

        /* give it back now rather than when the lease runs out */
        c = ngx_http_pdf_report_commit_alloc(pmcf);
        if (c == NULL) {
            continue;
        }

        tp = ngx_timeofday();

        c->op.kind = PDF_REPORT_OP_RELEASE;
        c->op.now_ms = (int64_t) tp->sec * 1000 + tp->msec;
        ngx_memcpy(c->op.job.id, claims[i].id, sizeof(claims[i].id));
        c->op.job.lease_token = claims[i].lease_token;

        ngx_http_pdf_report_commit_post(c, NULL, NULL);
    }
}


static ngx_int_t
ngx_http_pdf_report_post(ngx_http_pdf_report_main_conf_t *pmcf,
    pdf_report_job_t *claim)
{
    size_t                       len;
    ngx_pool_t                  *pool;
    ngx_thread_task_t           *task;
    ngx_http_pdf_report_task_t  *t;
    char                         org[PDF_REPORT_LOG_ORG];

    pool = ngx_create_pool(1024, pmcf->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(pool, sizeof(ngx_http_pdf_report_task_t));
    if (task == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    t = task->ctx;

    t->pmcf = pmcf;
    t->pool = pool;
    t->db = pmcf->db;
    t->s3 = pmcf->s3;
    t->s3.cancelled = ngx_http_pdf_report_cancelled;
    t->render = pmcf->render;
    t->job = *claim;
    t->lease_ms = pmcf->job_lease;
    t->deadline_ms = claim->created_ms + pmcf->job_timeout;

    len = PDF_REPORT_S3_OBJECT_KEY_SIZE(pmcf->s3_prefix.len,
                                        ngx_strlen(claim->org),
                                        ngx_strlen(claim->id));

    t->key = ngx_pnalloc(pool, len);
    if (t->key == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    /* the org is one key segment, whatever its claim held */
    if (pdf_report_s3_object_key(t->key, len,
                                 (const char *) pmcf->s3_prefix.data,
                                 pmcf->s3_prefix.len, claim->org, claim->id)
        < 0)
    {
        ngx_log_error(NGX_LOG_ALERT, pmcf->log, 0,
                      "pdf_report: no object key for job %s", claim->id);
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    task->handler = ngx_http_pdf_report_task_handler;
    task->event.handler = ngx_http_pdf_report_task_done;
    task->event.data = t;

    if (ngx_thread_task_post(pmcf->render_pool.pool, task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: thread pool \"%V\" refused job %s; "
                      "it stays queued", &pmcf->render_pool.name, claim->id);
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    pmcf->in_flight++;

    ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                  "pdf_report: job %s started: attempt %uD; org \"%s\"",
                  claim->id, claim->attempts,
                  pdf_report_log_escape(org, sizeof(org), claim->org));

    return NGX_OK;
}


/* ---- in a pool thread: plain C and thread-safe libraries only ---- */


static void
ngx_http_pdf_report_task_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_task_run(data);
}


static void
ngx_http_pdf_report_task_run(ngx_http_pdf_report_task_t *t)
{
    int                          rc;
    char                        *text, err[256];
    size_t                       text_len, pdf_len;
    json_t                      *user;
    int64_t                      start;
    unsigned int                 md_len;
    unsigned char               *pdf;
    json_error_t                 jerr;
    pdf_report_s3_result_t       s3res;
    pdf_report_render_input_t    in;
    char                         hex[PDF_REPORT_SHA256_HEX + 1];

    t->result = t->job;

    if (ngx_http_pdf_report_cancelled()) {
        ngx_http_pdf_report_task_release(t);
        return;
    }

    if (pdf_report_now_ms() >= t->deadline_ms) {
        ngx_http_pdf_report_task_fail(t, "TIMEOUT",
                                      "The report was not started in time.",
                                      "its time ran out in the thread pool's "
                                      "queue");
        return;
    }

    /*
     * Without credentials the upload cannot be signed: the job waits in
     * the store's queue (the scanner takes none meanwhile) rather than in
     * a pool thread, where it would hold up the credentials fetch too
     */
    if (!ngx_http_pdf_report_creds_ready(t->pmcf->creds)) {
        ngx_http_pdf_report_task_release(t);

        if (t->outcome == NGX_HTTP_PDF_REPORT_TASK_RELEASED) {
            t->outcome = NGX_HTTP_PDF_REPORT_TASK_WAITING;
        }

        return;
    }

    /* waiting in the pool's queue may have outlasted the lease */
    rc = t->db.ops->job_renew(t->db.db, t->job.id, t->job.lease_token,
                              pdf_report_now_ms(), t->lease_ms);
    if (rc != 0) {
        t->outcome = (rc == PDF_REPORT_STORE_LOST)
                     ? NGX_HTTP_PDF_REPORT_TASK_LOST
                     : NGX_HTTP_PDF_REPORT_TASK_STORE_ERROR;
        t->store_rc = rc;
        return;
    }

    rc = t->db.ops->user_get(t->db.db, t->job.user, strlen(t->job.user),
                             &text, &text_len);

    if (rc == PDF_REPORT_STORE_NOT_FOUND) {
        ngx_http_pdf_report_task_fail(t, "USER_NOT_FOUND",
                                      "The user is no longer in the SQR "
                                      "user directory.",
                                      "the user left the directory");
        return;
    }

    if (rc != 0) {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_STORE_ERROR;
        t->store_rc = rc;
        return;
    }

    user = pdf_report_json_loadb(text, text_len, 0, &jerr);
    free(text);

    if (user == NULL) {
        ngx_http_pdf_report_task_fail(t, "RENDER_FAILED",
                                      "The user's record could not be "
                                      "read.",
                                      "the user record in the store is not "
                                      "valid JSON: %s", jerr.text);
        return;
    }

    if (!pdf_report_user_connected(user, t->job.org)) {
        json_decref(user);
        ngx_http_pdf_report_task_fail(t, "NOT_CONNECTED",
                                      "The user is no longer connected to "
                                      "this organisation.",
                                      "the user's connection was withdrawn");
        return;
    }

    in.user = user;
    in.org_id = t->job.org;
    in.job_id = t->job.id;
    in.generated_ms = t->job.generated_ms;

    start = pdf_report_now_ms();

    rc = pdf_report_render(&t->render, &in, &pdf, &pdf_len, err,
                           sizeof(err));

    t->render_ms = pdf_report_now_ms() - start;
    json_decref(user);

    if (rc == PDF_REPORT_RENDER_FONT) {
        snprintf(t->cause, sizeof(t->cause), "RENDER_FAILED font");
        t->hint = "check pdf_report_fonts: the workers' user must be able "
                  "to read both files";
    }

    if (rc != 0) {
        ngx_http_pdf_report_task_fail(t, "RENDER_FAILED",
                                      "The report could not be rendered; "
                                      "retry later, or contact support if "
                                      "it fails again.", "%s", err);
        return;
    }

    if (EVP_Digest(pdf, pdf_len, t->result.sha256, &md_len, EVP_sha256(),
                   NULL)
        != 1)
    {
        free(pdf);
        ngx_http_pdf_report_task_fail(t, "RENDER_FAILED",
                                      "The report could not be rendered; "
                                      "retry later.",
                                      "EVP_Digest() of the PDF failed");
        return;
    }

    pdf_report_hex(hex, t->result.sha256, PDF_REPORT_SHA256_LEN);
    hex[PDF_REPORT_SHA256_HEX] = '\0';

    rc = pdf_report_s3_put(&t->s3, t->key, pdf, pdf_len, hex,
                           t->deadline_ms, ngx_http_pdf_report_task_renew, t,
                           &s3res);
    free(pdf);

    t->s3_attempts = s3res.attempts;

    if (rc != 0) {
        if (t->outcome == NGX_HTTP_PDF_REPORT_TASK_LOST) {
            /* an attempt that timed out may have been stored anyway */
            ngx_http_pdf_report_task_unput(t);
            return;
        }

        if (strcmp(s3res.code, "Cancelled") == 0) {
            ngx_http_pdf_report_task_release(t);
            return;
        }

        /* the credentials went while it retried: as above, while the
         * job has time left; after that it timed out like any upload */
        if (strcmp(s3res.code, "CredentialsUnavailable") == 0
            && pdf_report_now_ms() < t->deadline_ms - 200)
        {
            ngx_http_pdf_report_task_release(t);

            if (t->outcome == NGX_HTTP_PDF_REPORT_TASK_RELEASED) {
                t->outcome = NGX_HTTP_PDF_REPORT_TASK_WAITING;
            }

            return;
        }

        ngx_http_pdf_report_upload_failed(t, &s3res);
        return;
    }

    t->result.status = PDF_REPORT_COMPLETE;
    t->result.size_bytes = pdf_len;
    t->result.duration_ms = (uint32_t) (pdf_report_now_ms()
                                        - t->job.claimed_ms);
    snprintf(t->result.template_version, sizeof(t->result.template_version),
             "%s", PDF_REPORT_TEMPLATE_VERSION);

    ngx_http_pdf_report_task_finish(t);
}


/* between upload attempts: keep the claim, or stop if it was taken */

static int
ngx_http_pdf_report_task_renew(void *data)
{
    ngx_http_pdf_report_task_t  *t = data;

    int  rc;

    rc = t->db.ops->job_renew(t->db.db, t->job.id, t->job.lease_token,
                              pdf_report_now_ms(), t->lease_ms);

    if (rc == PDF_REPORT_STORE_LOST) {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_LOST;
        return 1;
    }

    return 0;
}


/*
 * What the client reads in errorMessage helps it and says nothing of this
 * edge (hosts, ports, paths, library errors): those go, as the detail, to
 * the error log with the job id.
 */

static void
ngx_http_pdf_report_task_fail(ngx_http_pdf_report_task_t *t,
    const char *code, const char *message, const char *fmt, ...)
{
    va_list  args;

    t->result.status = PDF_REPORT_FAILED;

    snprintf(t->result.error_code, sizeof(t->result.error_code), "%s", code);
    snprintf(t->result.error_message, sizeof(t->result.error_message), "%s",
             message);

    va_start(args, fmt);
    vsnprintf(t->detail, sizeof(t->detail), fmt, args);
    va_end(args);

    ngx_http_pdf_report_task_finish(t);
}


/*
 * S3's own error code (AccessDenied, NoSuchBucket) is about the request
 * and may reach the client; its message, curl's errors and the endpoint
 * only reach the log.
 */

static void
ngx_http_pdf_report_upload_failed(ngx_http_pdf_report_task_t *t,
    pdf_report_s3_result_t *res)
{
    size_t  n;
    char    message[PDF_REPORT_ERR_MSG_MAX + 1];

    /* retried until the budget ran out: the job did not finish in time,
     * whatever S3 said last */
    if (pdf_report_now_ms() >= t->deadline_ms - 200) {
        snprintf(t->cause, sizeof(t->cause), "TIMEOUT %s", res->code);
        t->hint = (strcmp(res->code, "CredentialsUnavailable") == 0)
                  ? "no S3 credentials could be had until the job's time "
                    "ran out: see the pdf_report_s3_credentials errors"
                  : "S3 kept failing until the job's time ran out: check "
                    "that the S3 endpoint is reachable from this host";

        ngx_http_pdf_report_task_fail(t, "TIMEOUT",
                                      "The report could not be stored in "
                                      "time; retry later.",
                                      "the last of %d upload attempt(s) "
                                      "ended with: %s %s", res->attempts,
                                      res->code, res->message);
        return;
    }

    snprintf(t->cause, sizeof(t->cause), "UPLOAD_FAILED %s", res->code);
    t->hint = "check the S3 settings: pdf_report_s3_credentials, "
              "pdf_report_s3_endpoint, pdf_report_s3_region and the "
              "bucket and its policy";

    n = strlen(res->code);

    /* S3's codes are words; anything else is not shown */
    if (res->http_status && n > 0
        && strspn(res->code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz0123456789") == n)
    {
        snprintf(message, sizeof(message), "The report could not be "
                 "stored: S3 answered %d %s. Contact support if it fails "
                 "again.", res->http_status, res->code);

    } else {
        snprintf(message, sizeof(message), "The report could not be "
                 "stored; retry later, or contact support if it fails "
                 "again.");
    }

    if (res->http_status) {
        ngx_http_pdf_report_task_fail(t, "UPLOAD_FAILED", message,
                                      "S3 answered %d %s after %d "
                                      "attempt(s): %s", res->http_status,
                                      res->code, res->attempts,
                                      res->message);
        return;
    }

    ngx_http_pdf_report_task_fail(t, "UPLOAD_FAILED", message,
                                  "S3 could not be reached after %d "
                                  "attempt(s): %s %s", res->attempts,
                                  res->code, res->message);
}


/*
 * A remote store away when the outcome is ready: the report is in S3
 * and the claim still ours, so the outcome waits here, in the pool
 * thread, and is recorded as soon as the store is back (the lease only
 * lets another claim take over; the record needs our token, not the
 * lease's time).  A worker that exits stops waiting: the lease then runs
 * out and the job is run again, never dropped.
 */

#define NGX_HTTP_PDF_REPORT_FINISH_WAIT_MIN  100
#define NGX_HTTP_PDF_REPORT_FINISH_WAIT_MAX  1000

static void
ngx_http_pdf_report_task_finish(ngx_http_pdf_report_task_t *t)
{
    int         rc;
    int64_t     since;
    ngx_msec_t  wait;

    since = 0;
    wait = NGX_HTTP_PDF_REPORT_FINISH_WAIT_MIN;

    for ( ;; ) {
        rc = t->db.ops->job_finish(t->db.db, &t->result, t->job.lease_token,
                                   pdf_report_now_ms());

        if (rc != PDF_REPORT_STORE_UNAVAILABLE
            || ngx_http_pdf_report_cancelled())
        {
            break;
        }

        if (since == 0) {
            since = pdf_report_now_ms();
        }

        ngx_msleep(wait);
        wait = ngx_min(wait * 2, NGX_HTTP_PDF_REPORT_FINISH_WAIT_MAX);
    }

    if (since != 0) {
        t->store_waited_ms = pdf_report_now_ms() - since;
    }

    if (rc == 0) {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_DONE;

    } else if (rc == PDF_REPORT_STORE_LOST
               || rc == PDF_REPORT_STORE_NOT_FOUND)
    {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_LOST;

        if (t->result.status == PDF_REPORT_COMPLETE) {
            ngx_http_pdf_report_task_unput(t);
        }

    } else {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_STORE_ERROR;
        t->store_rc = rc;
    }
}


/*
 * An upload done for a claim that is no longer the job's must not leave
 * a report behind: when the job was erased (its pair revoked), failed
 * (it timed out) or is gone (its deletion ran while the upload did),
 * the object goes again, with a few tries.  A job that another claim
 * took over keeps it: same key, same bytes, and that claim uploads them
 * again anyway.  A failure here is logged with the key to delete.
 */

#define NGX_HTTP_PDF_REPORT_UNPUT_TRIES  3

static void
ngx_http_pdf_report_task_unput(ngx_http_pdf_report_task_t *t)
{
    int                    rc;
    ngx_uint_t             i;
    pdf_report_job_t       job;
    pdf_report_s3_conn_t  *conn;

    rc = t->db.ops->job_record(t->db.db, t->job.id, &job);

    if (rc == PDF_REPORT_STORE_NOT_FOUND) {
        t->unput_why = "was deleted";

    } else if (rc != 0) {
        return;         /* retention deletes the object in the end */

    } else if (job.flags & PDF_REPORT_JOB_ERASED) {
        t->unput_why = "was erased (its user's connection was revoked)";

    } else if (job.status == PDF_REPORT_FAILED) {
        t->unput_why = "failed";

    } else {
        return;
    }

    conn = NULL;

    for (i = 0; i < NGX_HTTP_PDF_REPORT_UNPUT_TRIES; i++) {
        if (i > 0) {
            ngx_msleep(1000 * i);
        }

        rc = pdf_report_s3_delete(&t->s3, t->key, pdf_report_now_ms() + 10000,
                                  &conn, &t->unput_res);

        if (rc == 0 || ngx_http_pdf_report_cancelled()) {
            break;
        }
    }

    pdf_report_s3_conn_free(conn);

    t->unput = (rc == 0) ? 1 : 2;
}


/*
 * The worker is exiting (reload, quit): the job goes back to PENDING at
 * once for another worker rather than holding this one's exit up to the
 * job timeout, or waiting for its lease to run out.
 */

static void
ngx_http_pdf_report_task_release(ngx_http_pdf_report_task_t *t)
{
    int  rc;

    rc = t->db.ops->job_release(t->db.db, t->job.id, t->job.lease_token,
                                pdf_report_now_ms());

    if (rc == 0) {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_RELEASED;

    } else if (rc == PDF_REPORT_STORE_LOST) {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_LOST;

    } else {
        t->outcome = NGX_HTTP_PDF_REPORT_TASK_STORE_ERROR;
        t->store_rc = rc;
    }
}


/*
 * Polled from pool threads during uploads: nginx's own flags, written by
 * the worker's signal handling; reading a stale value only delays the
 * cancel by one poll.
 */

static int
ngx_http_pdf_report_cancelled(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


/* ---- back on the event loop ---- */


static void
ngx_http_pdf_report_task_done(ngx_event_t *ev)
{
    ngx_http_pdf_report_task_t       *t = ev->data;

    ngx_http_pdf_report_main_conf_t  *pmcf;
    char                              org[PDF_REPORT_LOG_ORG];

    pmcf = t->pmcf;
    pmcf->in_flight--;

    switch (t->outcome) {

    case NGX_HTTP_PDF_REPORT_TASK_DONE:

        /* every attempt but the last was retried */
        if (t->s3_attempts > 0) {
            ngx_http_pdf_report_metrics_s3(pmcf, 0, 1, t->s3_attempts - 1);
            ngx_http_pdf_report_metrics_s3(pmcf, 0,
                               t->result.status == PDF_REPORT_COMPLETE ? 0 : 2,
                               1);
        }

        ngx_http_pdf_report_metrics_finished(pmcf,
                               t->result.status == PDF_REPORT_COMPLETE
                               ? NULL : t->result.error_code,
                               1, t->result.duration_ms);

        if (t->store_waited_ms) {
            ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                          "pdf_report: job %s: its outcome waited %L ms "
                          "for the store to come back, then was recorded",
                          t->job.id, t->store_waited_ms);
        }

        if (t->result.status == PDF_REPORT_COMPLETE) {
            ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                          "pdf_report: job %s complete: %uL bytes in %uD ms "
                          "(render %L ms, %d upload attempt(s)); org \"%s\"",
                          t->job.id, t->result.size_bytes,
                          t->result.duration_ms, t->render_ms,
                          t->s3_attempts,
                          pdf_report_log_escape(org, sizeof(org),
                                                t->job.org));

        } else {
            ngx_http_pdf_report_log_failure(t);
        }

        break;

    case NGX_HTTP_PDF_REPORT_TASK_RELEASED:
        ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                      "pdf_report: job %s given back: worker exiting",
                      t->job.id);
        break;

    case NGX_HTTP_PDF_REPORT_TASK_WAITING:
        ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                      "pdf_report: job %s given back: no S3 credentials to "
                      "sign its upload with yet; it waits in the queue",
                      t->job.id);
        break;

    case NGX_HTTP_PDF_REPORT_TASK_LOST:
        if (t->unput == 1) {
            ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                          "pdf_report: job %s %s while its upload ran; "
                          "the report it stored was deleted again",
                          t->job.id, t->unput_why);
            break;
        }

        if (t->unput == 2) {
            ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                          "pdf_report: job %s %s while its upload ran, and "
                          "the report it stored could not be deleted: %d "
                          "%s %s; delete \"%s\" from the bucket",
                          t->job.id, t->unput_why,
                          t->unput_res.http_status, t->unput_res.code,
                          t->unput_res.message, t->key);
            break;
        }

        ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                      "pdf_report: job %s was taken over or timed out; "
                      "this attempt's result is dropped", t->job.id);
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: job %s: store failed: %s; the job will "
                      "be retried when its lease runs out", t->job.id,
                      t->db.ops->strerror(t->store_rc));
    }

    /* its event, when its org has a webhook, is due now */
    if (t->outcome == NGX_HTTP_PDF_REPORT_TASK_DONE) {
        ngx_http_pdf_report_webhooks_kick(pmcf);
    }

    ngx_destroy_pool(t->pool);

    /* a slot is free: take the next waiting job now */
    ngx_http_pdf_report_jobs_kick(pmcf);
}


/*
 * A failed job: at "warn" with its id and the detail; the first of a
 * cause that means the configuration is wrong in each window at "error",
 * where Debian's default error_log level shows it.
 */

static void
ngx_http_pdf_report_log_failure(ngx_http_pdf_report_task_t *t)
{
    time_t                        now;
    ngx_uint_t                    i, since;
    ngx_http_pdf_report_cause_t  *c, *oldest;
    char                          org[PDF_REPORT_LOG_ORG];

    pdf_report_log_escape(org, sizeof(org), t->job.org);

    now = ngx_time();
    c = NULL;
    oldest = &ngx_http_pdf_report_causes[0];

    for (i = 0; t->cause[0] != '\0' && i < NGX_HTTP_PDF_REPORT_CAUSES; i++) {
        if (ngx_strcmp(ngx_http_pdf_report_causes[i].cause, t->cause) == 0) {
            c = &ngx_http_pdf_report_causes[i];
            break;
        }

        if (ngx_http_pdf_report_causes[i].logged < oldest->logged) {
            oldest = &ngx_http_pdf_report_causes[i];
        }
    }

    /* not the configuration, or its cause was named in this window */
    if (t->cause[0] == '\0'
        || (c != NULL && now - c->logged < NGX_HTTP_PDF_REPORT_CAUSE_WINDOW))
    {
        if (c != NULL) {
            c->since++;
        }

        ngx_log_error(NGX_LOG_WARN, t->pmcf->log, 0,
                      "pdf_report: job %s failed: %s: %s; org \"%s\"",
                      t->job.id, t->result.error_code, t->detail, org);
        return;
    }

    if (c == NULL) {
        c = oldest;
        ngx_memzero(c, sizeof(ngx_http_pdf_report_cause_t));
        ngx_cpystrn((u_char *) c->cause, (u_char *) t->cause,
                    sizeof(c->cause));
    }

    since = c->since;
    c->since = 0;
    c->logged = now;

    ngx_log_error(NGX_LOG_ERR, t->pmcf->log, 0,
                  "pdf_report: job %s failed: %s: %s; org \"%s\"; %s "
                  "(%ui more job(s) failed the same way since the last "
                  "such line; the next %d s log them at \"warn\")",
                  t->job.id, t->result.error_code, t->detail, org, t->hint,
                  since, NGX_HTTP_PDF_REPORT_CAUSE_WINDOW);
}
