
/*
 * Retention and erasure, the deleting half (contract section 7).  The store
 * knows what is due (pdf_report_store.h, "lifecycle"); each worker looks
 * every second, on the event loop, with one read transaction, and when
 * something is due posts its one purge task to the render pool.  The task
 * leases up to a batch of due jobs in a write transaction, deletes their
 * objects with SigV4 DELETEs on one kept connection, and records the
 * outcome in a second write transaction: the records of the jobs whose
 * objects are gone (S3's 404 counts) go with every entry they have; a
 * failed delete comes back after a backoff (2 s doubling to an hour, with
 * jitter).  A job erased before it ended, while an upload of it may still be
 * under way (a worker told to exit by the very reload that revoked the pair
 * cancels its upload, and S3 may store it all the same), is deleted twice:
 * at once, and again once every upload attempt of it has ended, its
 * createdAt + pdf_report_job_timeout + 15 s; its record (404 to the API
 * from the start) goes after that second delete.  The first failure ends the
 * batch: what S3 refused once it would refuse again now, and a batch of
 * deletes that each time out would hold a thread for minutes.  A lease that
 * outlives its worker runs out and another worker takes the jobs over.  The
 * task touches no nginx API; its completion handler logs.
 */


#include "ngx_http_pdf_report_module.h"

#include <openssl/rand.h>


/* jobs one task deletes; the store takes fewer in a small map */
#define NGX_HTTP_PDF_REPORT_PURGE_BATCH     64

/* how often each worker looks for due deletions */
#define NGX_HTTP_PDF_REPORT_PURGE_CHECK     1000

/* one DELETE's time; the time a batch may start DELETEs in */
#define NGX_HTTP_PDF_REPORT_DELETE_MS       10000
#define NGX_HTTP_PDF_REPORT_BATCH_MS        60000

/* longer than a batch can take: then the jobs are another pass's */
#define NGX_HTTP_PDF_REPORT_PURGE_LEASE     300000

/* after a job's deadline, when an upload of it can no longer land */
#define NGX_HTTP_PDF_REPORT_LATE_PUT_MS     15000

/* a failed delete: again after 2 s, doubling up to an hour */
#define NGX_HTTP_PDF_REPORT_RETRY_BASE      2000
#define NGX_HTTP_PDF_REPORT_RETRY_CAP       3600000

/* the first failure of each cause a minute is logged at its level */
#define NGX_HTTP_PDF_REPORT_PURGE_WINDOW    60


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    pdf_report_db_t                   db;
    pdf_report_s3_conf_t              s3;
    int64_t                           retention_ms;   /* -1: off */
    int64_t                           last_put_ms;    /* after createdAt */

    pdf_report_purge_t                items[NGX_HTTP_PDF_REPORT_PURGE_BATCH];
    size_t                            n;
    unsigned                          more;
    unsigned                          retention;      /* jobs deleted */
    unsigned                          revoked;
    unsigned                          failed;         /* 0 or 1 */
    unsigned                          deletes;        /* S3 said gone */
    unsigned                          untried;
    int                               store_rc;
    const char                       *store_what;
    int64_t                           retry_s;
    int64_t                           took_ms;
    int64_t                           take_ms;    /* the two store writes, */
    int64_t                           done_ms;    /* waits for the lock in */

    /* the failed delete, for the log */
    char                              id[PDF_REPORT_UUID_LEN + 1];
    char                              key[PDF_REPORT_S3_KEY_MAX + 1];
    pdf_report_s3_result_t            res;
} ngx_http_pdf_report_purge_task_t;


typedef struct {
    ngx_thread_task_t                *task;
    ngx_uint_t                        busy;
    ngx_event_t                       timer;
    char                              cause[96];
    time_t                            logged;
    ngx_uint_t                        since;
} ngx_http_pdf_report_purger_t;


static void ngx_http_pdf_report_purge_check(ngx_event_t *ev);
static void ngx_http_pdf_report_purge_post(
    ngx_http_pdf_report_purger_t *pg);
static void ngx_http_pdf_report_purge_handler(void *data, ngx_log_t *log);
static int64_t ngx_http_pdf_report_purge_backoff(uint32_t attempts);
static int ngx_http_pdf_report_purge_cancelled(void);
static void ngx_http_pdf_report_purge_done(ngx_event_t *ev);
static void ngx_http_pdf_report_purge_log(ngx_http_pdf_report_purger_t *pg,
    ngx_http_pdf_report_purge_task_t *t);


/* one per worker process */
static ngx_http_pdf_report_purger_t  ngx_http_pdf_report_purger;


ngx_int_t
ngx_http_pdf_report_purge_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_thread_task_t                 *task;
    ngx_http_pdf_report_purger_t      *pg;
    ngx_http_pdf_report_purge_task_t  *t;

    pg = &ngx_http_pdf_report_purger;

    ngx_memzero(pg, sizeof(ngx_http_pdf_report_purger_t));

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_purge_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    t = task->ctx;
    t->pmcf = pmcf;
    t->db = pmcf->db;
    t->s3 = pmcf->s3;
    t->s3.cancelled = ngx_http_pdf_report_purge_cancelled;
    t->retention_ms = pmcf->retention ? (int64_t) pmcf->retention * 1000
                                      : -1;
    t->last_put_ms = (int64_t) pmcf->job_timeout
                     + NGX_HTTP_PDF_REPORT_LATE_PUT_MS;

    task->handler = ngx_http_pdf_report_purge_handler;
    task->event.handler = ngx_http_pdf_report_purge_done;
    task->event.data = pg;
    pg->task = task;

    pg->timer.handler = ngx_http_pdf_report_purge_check;
    pg->timer.data = pmcf;
    pg->timer.log = cycle->log;

    /* a pending look must not keep a gracefully exiting worker alive */
    pg->timer.cancelable = 1;

    ngx_add_timer(&pg->timer,
                  ngx_random() % NGX_HTTP_PDF_REPORT_PURGE_CHECK + 1);

    return NGX_OK;
}


/* on the event loop: one read transaction, a task only when it is due */

static void
ngx_http_pdf_report_purge_check(ngx_event_t *ev)
{
    int                                rc;
    ngx_time_t                        *tp;
    ngx_http_pdf_report_purger_t      *pg;
    ngx_http_pdf_report_purge_task_t  *t;
    ngx_http_pdf_report_main_conf_t   *pmcf;

    pmcf = ev->data;
    pg = &ngx_http_pdf_report_purger;

    if (ngx_exiting || ngx_quit || ngx_terminate || pmcf->db.db == NULL) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_PURGE_CHECK);

    /* deletes that cannot be signed would only push the jobs back */
    if (pg->busy || !ngx_http_pdf_report_creds_ready(pmcf->creds)) {
        return;
    }

    /* a remote store is not read on the event loop: the task looks */
    if (pmcf->db.ops->remote) {
        if (pmcf->store_ready) {
            ngx_http_pdf_report_purge_post(pg);
        }

        return;
    }

    t = pg->task->ctx;
    tp = ngx_timeofday();

    rc = pmcf->db.ops->purge_due(pmcf->db.db,
                                 (int64_t) tp->sec * 1000 + tp->msec,
                                 t->retention_ms);

    if (rc < 0 || rc > 1) {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: store read for deletions failed: %s",
                      pmcf->db.ops->strerror(rc));
        return;
    }

    if (rc == 1) {
        ngx_http_pdf_report_purge_post(pg);
    }
}


static void
ngx_http_pdf_report_purge_post(ngx_http_pdf_report_purger_t *pg)
{
    ngx_http_pdf_report_purge_task_t  *t;
    ngx_http_pdf_report_main_conf_t   *pmcf;

    t = pg->task->ctx;
    pmcf = t->pmcf;

    /* a full queue: the next look tries again */
    if (ngx_thread_task_post(pmcf->render_pool.pool, pg->task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: thread pool \"%V\" refused a deletion "
                      "pass; it is tried again shortly",
                      &pmcf->render_pool.name);
        return;
    }

    pg->busy = 1;
}


/* ---- in a pool thread: the store and S3 only ---- */

static void
ngx_http_pdf_report_purge_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_purge_task_t  *t = data;

    int                     rc;
    size_t                  i, len;
    int64_t                 start, now, until, next;
    ngx_str_t              *prefix;
    pdf_report_purge_t     *it;
    pdf_report_s3_conn_t   *conn;
    pdf_report_s3_result_t  res;

    t->n = 0;
    t->more = 0;
    t->retention = 0;
    t->revoked = 0;
    t->deletes = 0;
    t->failed = 0;
    t->untried = 0;
    t->store_rc = 0;
    t->retry_s = 0;

    start = pdf_report_now_ms();

    rc = t->db.ops->purge_take(t->db.db, start, t->retention_ms,
                               NGX_HTTP_PDF_REPORT_PURGE_LEASE, t->items,
                               NGX_HTTP_PDF_REPORT_PURGE_BATCH, &t->n,
                               &t->more);

    t->take_ms = pdf_report_now_ms() - start;
    t->done_ms = 0;

    if (rc != 0) {
        t->store_rc = rc;
        t->store_what = "lease";
        t->took_ms = pdf_report_now_ms() - start;
        return;
    }

    prefix = &t->pmcf->s3_prefix;
    conn = NULL;
    next = 0;
    until = start + NGX_HTTP_PDF_REPORT_BATCH_MS;

    for (i = 0; i < t->n; i++) {
        it = &t->items[i];

        /* after a failure, or out of time: the rest are not tried */
        if (next != 0 || ngx_http_pdf_report_purge_cancelled()) {
            it->outcome = PDF_REPORT_PURGE_UNTRIED;
            it->next_ms = next ? next : pdf_report_now_ms();
            t->untried++;
            continue;
        }

        now = pdf_report_now_ms();

        if (now >= until) {
            it->outcome = PDF_REPORT_PURGE_UNTRIED;
            it->next_ms = now;
            t->untried++;
            t->more = 1;
            continue;
        }

        len = PDF_REPORT_S3_OBJECT_KEY_SIZE(prefix->len, ngx_strlen(it->org),
                                            ngx_strlen(it->id));

        if (len > sizeof(t->key)
            || pdf_report_s3_object_key(t->key, sizeof(t->key),
                                        (const char *) prefix->data,
                                        prefix->len, it->org, it->id)
               < 0)
        {
            /* no object can have been stored under no key */
            it->outcome = PDF_REPORT_PURGE_GONE;
            continue;
        }

        rc = pdf_report_s3_delete(&t->s3, t->key,
                                  now + NGX_HTTP_PDF_REPORT_DELETE_MS, &conn,
                                  &res);

        if (rc == 0) {
            it->outcome = PDF_REPORT_PURGE_GONE;
            t->deletes++;

            /* erased in time for an upload to land still: once more */
            if (it->cut_short
                && it->created_ms + t->last_put_ms > pdf_report_now_ms())
            {
                it->outcome = PDF_REPORT_PURGE_UNTRIED;
                it->next_ms = it->created_ms + t->last_put_ms;
            }

            continue;
        }

        if (ngx_strcmp(res.code, "Cancelled") == 0) {
            it->outcome = PDF_REPORT_PURGE_UNTRIED;
            it->next_ms = pdf_report_now_ms();
            t->untried++;
            continue;
        }

        next = pdf_report_now_ms()
               + ngx_http_pdf_report_purge_backoff(it->attempts + 1);

        it->outcome = PDF_REPORT_PURGE_FAILED;
        it->next_ms = next;

        t->failed = 1;
        t->res = res;
        t->retry_s = (next - pdf_report_now_ms() + 999) / 1000;
        ngx_memcpy(t->id, it->id, sizeof(t->id));
    }

    pdf_report_s3_conn_free(conn);

    now = pdf_report_now_ms();

    rc = t->db.ops->purge_done(t->db.db, t->items, t->n, &t->retention,
                               &t->revoked);

    t->done_ms = pdf_report_now_ms() - now;

    if (rc != 0) {
        /* the leases run out and another pass takes the jobs over */
        t->store_rc = rc;
        t->store_what = "record of";
    }

    t->took_ms = pdf_report_now_ms() - start;
}


/* full jitter over the upper half: uniform in [d / 2, d] */

static int64_t
ngx_http_pdf_report_purge_backoff(uint32_t attempts)
{
    int64_t   d;
    uint32_t  r;

    d = NGX_HTTP_PDF_REPORT_RETRY_BASE;

    while (--attempts > 0 && d < NGX_HTTP_PDF_REPORT_RETRY_CAP) {
        d *= 2;
    }

    if (d > NGX_HTTP_PDF_REPORT_RETRY_CAP) {
        d = NGX_HTTP_PDF_REPORT_RETRY_CAP;
    }

    /* RAND_bytes is thread-safe; random() shares hidden state */
    if (RAND_bytes((unsigned char *) &r, sizeof(r)) != 1) {
        return d * 3 / 4;
    }

    return d / 2 + (int64_t) (r % (uint32_t) (d / 2 + 1));
}


/* nginx's own flags, as the uploads poll them */

static int
ngx_http_pdf_report_purge_cancelled(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


/* ---- back on the event loop ---- */

static void
ngx_http_pdf_report_purge_done(ngx_event_t *ev)
{
    ngx_http_pdf_report_purger_t      *pg = ev->data;

    ngx_http_pdf_report_purge_task_t  *t;
    ngx_http_pdf_report_main_conf_t   *pmcf;

    t = pg->task->ctx;
    pmcf = t->pmcf;
    pg->busy = 0;

    /* a failed delete is always tried again: "error" if it needs a fix */
    ngx_http_pdf_report_metrics_s3(pmcf, 1, 0, t->deletes);
    ngx_http_pdf_report_metrics_s3(pmcf, 1, t->res.retry ? 1 : 2, t->failed);

    if (t->store_rc == 0) {
        ngx_http_pdf_report_metrics_deleted(pmcf, 0, t->retention);
        ngx_http_pdf_report_metrics_deleted(pmcf, 1, t->revoked);
    }

    if (t->store_rc != 0) {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: store %s %uz jobs to delete failed: %s; "
                      "they are taken again when their lease runs out",
                      t->store_what, t->n,
                      t->db.ops->strerror(t->store_rc));

    } else if (t->retention + t->revoked) {
        ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                      "pdf_report: deleted %ud jobs and their objects "
                      "(%ud for retention, %ud revoked) in %L ms (store "
                      "writes: lease %L ms, record %L ms)",
                      t->retention + t->revoked, t->retention, t->revoked,
                      t->took_ms, t->take_ms, t->done_ms);
    }

    if (t->failed) {
        ngx_http_pdf_report_purge_log(pg, t);
    }

    /* a full batch: the rest now, not at the next look */
    if (t->more && t->store_rc == 0 && !t->failed
        && !(ngx_exiting || ngx_quit || ngx_terminate))
    {
        ngx_http_pdf_report_purge_post(pg);
    }
}


/*
 * A failed delete, with the job id and the key (neither is a secret):
 * the first of each cause a minute at "error" for an answer that means
 * the configuration is wrong (a 4xx such as AccessDenied), at "warn" for
 * a transient one (S3 down, 5xx, SlowDown); the others at "info".
 */

static void
ngx_http_pdf_report_purge_log(ngx_http_pdf_report_purger_t *pg,
    ngx_http_pdf_report_purge_task_t *t)
{
    char        cause[96];
    time_t      now;
    ngx_uint_t  level, since;

    ngx_snprintf((u_char *) cause, sizeof(cause) - 1, "%d %s%Z",
                 t->res.http_status, t->res.code);
    cause[sizeof(cause) - 1] = '\0';

    now = ngx_time();

    if (ngx_strcmp(pg->cause, cause) == 0
        && now - pg->logged < NGX_HTTP_PDF_REPORT_PURGE_WINDOW)
    {
        pg->since++;
        level = NGX_LOG_INFO;
        since = 0;

    } else {
        ngx_cpystrn((u_char *) pg->cause, (u_char *) cause,
                    sizeof(pg->cause));
        pg->logged = now;
        since = pg->since;
        pg->since = 0;
        level = t->res.retry ? NGX_LOG_WARN : NGX_LOG_ERR;
    }

    if (t->res.http_status) {
        ngx_log_error(level, t->pmcf->log, 0,
                      "pdf_report: job %s: S3 answered %d %s to the "
                      "delete of \"%s\": %s; it and %ud more wait %L s for "
                      "another try (%ui failed the same way since the last "
                      "such line)%s", t->id, t->res.http_status,
                      t->res.code, t->key, t->res.message, t->untried,
                      t->retry_s, since,
                      t->res.retry ? ""
                      : "; check the S3 credentials and the bucket policy: "
                        "deletes need s3:DeleteObject");
        return;
    }

    ngx_log_error(level, t->pmcf->log, 0,
                  "pdf_report: job %s: the delete of \"%s\" failed: %s %s; "
                  "it and %ud more wait %L s for another try (%ui failed "
                  "the same way since the last such line)", t->id, t->key,
                  t->res.code, t->res.message, t->untried, t->retry_s,
                  since);
}
