
/*
 * Store writes off the event loop, with group commit.  A durable LMDB
 * commit waits for the disk (two fsyncs) and for the writer lock, which
 * another worker may hold for as long, so no write transaction runs on
 * the event loop.  Each worker queues its step-1 writes (rate-limit
 * hits, new jobs), releases of claims and scan passes here; one task at
 * a time, in the store's thread pool, waits for the writer lock and only
 * then takes everything queued (under a mutex: the event loop keeps
 * queueing meanwhile) into one transaction (pdf_report_store_batch_run);
 * what queues after that waits for the next.  Taking the writes once
 * the lock is held, rather than when the task is posted, puts the
 * requests that arrived while the other worker committed into this
 * batch instead of the next.  A burst of creates thus pays one commit
 * per batch instead of two per request, and the new jobs are claimed in
 * the same commit.  The completion handler, on the event loop, resumes each
 * waiting request and posts the claimed jobs.
 */


#include "ngx_http_pdf_report_module.h"


#define NGX_HTTP_PDF_REPORT_BATCH_MAX   256
#define NGX_HTTP_PDF_REPORT_FREE_MAX    256

/* how soon a batch refused by a full pool queue is offered again */
#define NGX_HTTP_PDF_REPORT_REPOST_MS   20

/*
 * A remote store has no single writer: besides the batch that also
 * scans, this many more may be out at a time, with writes only, so that
 * creates do not wait for one commit's fsync after another.
 */
#define NGX_HTTP_PDF_REPORT_BATCH_EXTRA  3

/* how often a remote store's job gauges are counted, at most */
#define NGX_HTTP_PDF_REPORT_COUNT_MS    1000


typedef struct {
    pdf_report_db_t                   db;
    void                             *cm;        /* the committer */
    ngx_uint_t                        n;
    ngx_http_pdf_report_commit_t     *items[NGX_HTTP_PDF_REPORT_BATCH_MAX];
    pdf_report_op_t                  *ops[NGX_HTTP_PDF_REPORT_BATCH_MAX];
    ngx_uint_t                        scan_only;
    ngx_uint_t                        scan_wanted; /* asked for: runs */
    pdf_report_scan_t                 scan;
    pdf_report_job_t                 *claims;
    pdf_report_scan_result_t          res;
    int                               rc;
    int64_t                           took_ms;   /* for the debug log */

    ngx_uint_t                        extra;     /* writes only */
    ngx_uint_t                        busy;      /* an extra one is out */
    ngx_event_t                       hold;      /* an exiting worker */

    /* a remote store's gauges, counted here: never on the event loop */
    ngx_uint_t                        count;     /* wanted: due */
    ngx_uint_t                        counted;
    size_t                            pending;
    size_t                            running;
} ngx_http_pdf_report_batch_t;


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    /* the event loop adds, a batch's thread takes: under mutex */
    ngx_thread_mutex_t                mutex;
    ngx_queue_t                       waiting;   /* for the next batch */
    ngx_queue_t                       free;      /* reused items */
    ngx_uint_t                        nfree;
    ngx_thread_task_t                *task;
    ngx_thread_task_t                *extra[NGX_HTTP_PDF_REPORT_BATCH_EXTRA];
    ngx_uint_t                        nextra;    /* remote: all of them */
    ngx_uint_t                        busy;      /* a batch is out */
    ngx_uint_t                        scan;      /* a scan pass wanted */
    ngx_msec_t                        counted;   /* the gauges, when */
    ngx_event_t                       retry;
} ngx_http_pdf_report_committer_t;


static void ngx_http_pdf_report_commit_start(
    ngx_http_pdf_report_committer_t *cm);
static void ngx_http_pdf_report_batch_handler(void *data, ngx_log_t *log);
static ngx_uint_t ngx_http_pdf_report_batch_take(
    ngx_http_pdf_report_batch_t *b, ngx_log_t *log);
static void ngx_http_pdf_report_batch_done(ngx_event_t *ev);
static void ngx_http_pdf_report_commit_retry(ngx_event_t *ev);
static void ngx_http_pdf_report_commit_extra(
    ngx_http_pdf_report_committer_t *cm);
static void ngx_http_pdf_report_commit_hold(ngx_event_t *ev);
static void ngx_http_pdf_report_commit_free(
    ngx_http_pdf_report_committer_t *cm, ngx_http_pdf_report_commit_t *c);


/* one per worker process */
static ngx_http_pdf_report_committer_t  ngx_http_pdf_report_committer;


ngx_int_t
ngx_http_pdf_report_commit_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_uint_t                        i;
    ngx_thread_task_t                *task;
    ngx_http_pdf_report_batch_t      *b;
    ngx_http_pdf_report_committer_t  *cm;

    cm = &ngx_http_pdf_report_committer;

    ngx_memzero(cm, sizeof(ngx_http_pdf_report_committer_t));

    cm->pmcf = pmcf;
    ngx_queue_init(&cm->waiting);
    ngx_queue_init(&cm->free);

    if (ngx_thread_mutex_create(&cm->mutex, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_batch_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    b = task->ctx;
    b->db = pmcf->db;
    b->cm = cm;

    b->claims = ngx_pcalloc(cycle->pool,
                            pmcf->worker_jobs * sizeof(pdf_report_job_t));
    if (b->claims == NULL) {
        return NGX_ERROR;
    }

    task->handler = ngx_http_pdf_report_batch_handler;
    task->event.handler = ngx_http_pdf_report_batch_done;
    task->event.data = b;
    cm->task = task;

    cm->nextra = pmcf->db.ops->remote ? NGX_HTTP_PDF_REPORT_BATCH_EXTRA : 0;

    for (i = 0; i < cm->nextra; i++) {
        task = ngx_thread_task_alloc(cycle->pool,
                                     sizeof(ngx_http_pdf_report_batch_t));
        if (task == NULL) {
            return NGX_ERROR;
        }

        b = task->ctx;
        b->db = pmcf->db;
        b->cm = cm;
        b->extra = 1;

        /* as the retry timer: held by an exiting worker until it is back */
        b->hold.handler = ngx_http_pdf_report_commit_hold;
        b->hold.data = b;
        b->hold.log = cycle->log;

        task->handler = ngx_http_pdf_report_batch_handler;
        task->event.handler = ngx_http_pdf_report_batch_done;
        task->event.data = b;
        cm->extra[i] = task;
    }

    /*
     * Not cancelable: while a batch is out, a gracefully exiting worker
     * waits for it, so the requests in it get their answers.
     */
    cm->retry.handler = ngx_http_pdf_report_commit_retry;
    cm->retry.data = cm;
    cm->retry.log = cycle->log;

    return NGX_OK;
}


/*
 * At the worker's exit: the items kept for reuse, and any a write
 * without a waiting request left queued.  nginx unloads the module after
 * this, so nothing else would ever find them.
 */

void
ngx_http_pdf_report_commit_exit(void)
{
    ngx_uint_t                        i, busy;
    ngx_queue_t                      *q;
    ngx_http_pdf_report_batch_t      *b;
    ngx_http_pdf_report_committer_t  *cm;

    cm = &ngx_http_pdf_report_committer;

    if (cm->pmcf == NULL) {
        return;
    }

    busy = cm->busy;

    while (!ngx_queue_empty(&cm->free)) {
        q = ngx_queue_head(&cm->free);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_http_pdf_report_commit_t, queue));
    }

    /*
     * A batch still out (a fast shutdown) may yet take from the queue:
     * then nothing is freed, the mutex included
     */
    for (i = 0; i < cm->nextra; i++) {
        b = cm->extra[i]->ctx;
        busy |= b->busy;
    }

    if (busy) {
        cm->nfree = 0;
        return;
    }

    while (!ngx_queue_empty(&cm->waiting)) {
        q = ngx_queue_head(&cm->waiting);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_http_pdf_report_commit_t, queue));
    }

    (void) ngx_thread_mutex_destroy(&cm->mutex, cm->pmcf->log);

    cm->nfree = 0;
}


/* an item for one write; NULL when out of memory */

ngx_http_pdf_report_commit_t *
ngx_http_pdf_report_commit_alloc(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_queue_t                      *q;
    ngx_http_pdf_report_commit_t     *c;
    ngx_http_pdf_report_committer_t  *cm;

    cm = &ngx_http_pdf_report_committer;

    if (!ngx_queue_empty(&cm->free)) {
        q = ngx_queue_head(&cm->free);
        ngx_queue_remove(q);
        cm->nfree--;
        c = ngx_queue_data(q, ngx_http_pdf_report_commit_t, queue);

    } else {
        c = ngx_alloc(sizeof(ngx_http_pdf_report_commit_t), pmcf->log);
        if (c == NULL) {
            return NULL;
        }
    }

    ngx_memzero(c, sizeof(ngx_http_pdf_report_commit_t));

    return c;
}


/*
 * Queues a write.  With a request, the request is held (count and
 * blocked) until handler(r, c) runs after the commit; the handler
 * returns what finalizes the request.  Without one, nobody waits and the
 * item is freed after the commit.
 */

void
ngx_http_pdf_report_commit_post(ngx_http_pdf_report_commit_t *c,
    ngx_http_request_t *r, ngx_http_pdf_report_commit_pt handler)
{
    ngx_http_pdf_report_committer_t  *cm;

    cm = &ngx_http_pdf_report_committer;

    c->request = r;
    c->handler = handler;

    if (r != NULL) {
        r->main->count++;
        r->main->blocked++;
    }

    /* not worth a log line of its own: it only fails on a broken mutex */
    (void) ngx_thread_mutex_lock(&cm->mutex, cm->pmcf->log);
    ngx_queue_insert_tail(&cm->waiting, &c->queue);
    (void) ngx_thread_mutex_unlock(&cm->mutex, cm->pmcf->log);

    ngx_http_pdf_report_commit_start(cm);
}


/* a scan pass (time-outs, abandoned leases, claims) in the next batch */

void
ngx_http_pdf_report_commit_scan(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_committer_t  *cm;

    cm = &ngx_http_pdf_report_committer;

    cm->scan = 1;

    ngx_http_pdf_report_commit_start(cm);
}


static void
ngx_http_pdf_report_commit_start(ngx_http_pdf_report_committer_t *cm)
{
    ngx_time_t                       *tp;
    ngx_uint_t                        empty;
    ngx_http_pdf_report_batch_t      *b;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    if (cm->busy) {
        ngx_http_pdf_report_commit_extra(cm);
        return;
    }

    if (cm->retry.timer_set) {
        return;
    }

    /* no batch of this kind is out */
    empty = ngx_queue_empty(&cm->waiting);

    if (empty && !cm->scan) {
        return;
    }

    pmcf = cm->pmcf;
    b = cm->task->ctx;
    b->n = 0;

    tp = ngx_timeofday();

    b->scan.now_ms = (int64_t) tp->sec * 1000 + tp->msec;
    b->scan.timeout_ms = pmcf->job_timeout;
    b->scan.lease_ms = pmcf->job_lease;
    b->scan.max_attempts = 3;

    /*
     * An exiting worker takes no more jobs, nor does one without S3
     * credentials (their uploads could not be signed): the jobs wait in
     * the queue, and time out there if the credentials never come
     */
    b->scan.max_claims = (ngx_exiting || ngx_quit || ngx_terminate
                          || !ngx_http_pdf_report_creds_ready(pmcf->creds))
                         ? 0 : (unsigned) (pmcf->worker_jobs
                                           - pmcf->in_flight);

    /*
     * A scan asked for (time-outs, abandoned leases) always runs; a
     * batch of new jobs also claims them at once when a slot is free
     * (decided in the thread, which takes the writes).
     */
    b->scan_wanted = cm->scan;
    b->scan_only = empty;

    /*
     * A remote store counts its queue by visiting it (PostgreSQL: every
     * row of it), and every create elsewhere starts a pass here: the
     * gauges are counted once a second at most, not once a pass.
     */
    b->count = (ngx_current_msec - cm->counted
                >= NGX_HTTP_PDF_REPORT_COUNT_MS);

    if (ngx_thread_task_post(pmcf->store_pool.pool, cm->task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: thread pool \"%V\" refused a store "
                      "batch; it is offered again shortly",
                      &pmcf->store_pool.name);
        ngx_add_timer(&cm->retry, NGX_HTTP_PDF_REPORT_REPOST_MS);
        return;
    }

    cm->busy = 1;
    cm->scan = 0;

    /* holds an exiting worker until the batch is back */
    ngx_add_timer(&cm->retry, 3600000);
}


/*
 * A remote store, while the batch that scans is out: the writes queued
 * meanwhile go in another batch, when one of the extra ones is free.
 * A pool queue that refuses it loses nothing: the next batch takes them.
 */

static void
ngx_http_pdf_report_commit_extra(ngx_http_pdf_report_committer_t *cm)
{
    ngx_uint_t                    i;
    ngx_http_pdf_report_batch_t  *b;

    if (ngx_queue_empty(&cm->waiting)) {
        return;
    }

    for (i = 0; i < cm->nextra; i++) {
        b = cm->extra[i]->ctx;

        if (b->busy) {
            continue;
        }

        b->n = 0;
        b->scan_only = 0;
        b->scan_wanted = 0;
        b->count = 0;

        if (ngx_thread_task_post(cm->pmcf->store_pool.pool, cm->extra[i])
            != NGX_OK)
        {
            return;
        }

        b->busy = 1;
        ngx_add_timer(&b->hold, 3600000);

        return;
    }
}


static void
ngx_http_pdf_report_commit_hold(ngx_event_t *ev)
{
    ngx_http_pdf_report_batch_t  *b = ev->data;

    if (b->busy) {
        ngx_add_timer(ev, 3600000);
    }
}


static void
ngx_http_pdf_report_commit_retry(ngx_event_t *ev)
{
    ngx_http_pdf_report_committer_t  *cm = ev->data;

    if (cm->busy) {
        ngx_add_timer(ev, 3600000);
        return;
    }

    ngx_http_pdf_report_commit_start(cm);
}


/* ---- in a pool thread: the store only ---- */

static void
ngx_http_pdf_report_batch_handler(void *data, ngx_log_t *log)
{
    int                           rc;
    void                         *txn;
    int64_t                       start;
    ngx_uint_t                    creates;
    ngx_http_pdf_report_batch_t  *b = data;

    start = pdf_report_now_ms();

    if (b->scan_only) {
        /* read first: most passes find nothing and need no write */
        b->rc = b->db.ops->scan(b->db.db, &b->scan, b->claims, &b->res);

        b->counted = (b->db.ops->remote && b->count
                      && b->db.ops->jobs_count(b->db.db, &b->pending,
                                               &b->running)
                         == 0);

    } else {
        rc = b->db.ops->batch_begin(b->db.db, &txn);

        /* taken even when the lock was not had: they fail with rc */
        creates = ngx_http_pdf_report_batch_take(b, log);

        b->rc = b->db.ops->batch_run(b->db.db, txn, rc, b->ops, b->n,
                                     (b->scan_wanted
                                      || (creates && b->scan.max_claims > 0))
                                     ? &b->scan : NULL,
                                     b->claims, &b->res);
    }

    b->took_ms = pdf_report_now_ms() - start;
}


/* in the thread, the writer lock held: what the event loop queued */

static ngx_uint_t
ngx_http_pdf_report_batch_take(ngx_http_pdf_report_batch_t *b,
    ngx_log_t *log)
{
    ngx_uint_t                        creates;
    ngx_queue_t                      *q;
    ngx_http_pdf_report_commit_t     *c;
    ngx_http_pdf_report_committer_t  *cm;

    cm = b->cm;
    creates = 0;

    (void) ngx_thread_mutex_lock(&cm->mutex, log);

    while (!ngx_queue_empty(&cm->waiting)
           && b->n < NGX_HTTP_PDF_REPORT_BATCH_MAX)
    {
        q = ngx_queue_head(&cm->waiting);
        ngx_queue_remove(q);

        c = ngx_queue_data(q, ngx_http_pdf_report_commit_t, queue);
        b->items[b->n] = c;
        b->ops[b->n] = &c->op;
        b->n++;

        if (c->op.kind == PDF_REPORT_OP_CREATE) {
            creates++;
        }
    }

    (void) ngx_thread_mutex_unlock(&cm->mutex, log);

    return creates;
}


/* ---- back on the event loop ---- */

static void
ngx_http_pdf_report_batch_done(ngx_event_t *ev)
{
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_connection_t                 *conn;
    ngx_http_request_t               *r;
    pdf_report_scan_end_t            *end;
    ngx_http_pdf_report_batch_t      *b;
    ngx_http_pdf_report_commit_t     *c;
    ngx_http_pdf_report_committer_t  *cm;
    ngx_http_pdf_report_main_conf_t  *pmcf;
    char                              org[PDF_REPORT_LOG_ORG];

    b = ev->data;
    cm = b->cm;
    pmcf = cm->pmcf;

    if (b->extra) {
        if (b->hold.timer_set) {
            ngx_del_timer(&b->hold);
        }

    } else if (cm->retry.timer_set) {
        ngx_del_timer(&cm->retry);
    }

    if (b->rc != 0) {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: store %s failed: %s",
                      b->scan_only ? "scan" : "commit",
                      pmcf->db.ops->strerror(b->rc));
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, pmcf->log, 0,
                   "pdf_report: store batch of %ui, %ui claimed, %L ms",
                   b->n, (ngx_uint_t) b->res.claimed, b->took_ms);

    if (b->scan_only && b->counted) {
        cm->counted = ngx_current_msec;
        ngx_http_pdf_report_metrics_jobs(pmcf, b->pending, b->running);
    }

    if (b->res.failed) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: %ud jobs failed for lack of time or "
                      "attempts", b->res.failed);

        /* the changes of state at info, as a finished job's are */
        for (i = 0; i < b->res.ended; i++) {
            end = &b->res.end[i];

            ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                          "pdf_report: job %s failed: %s; org \"%s\"",
                          end->id,
                          end->timed_out ? "TIMEOUT" : "PROCESSING_FAILED",
                          pdf_report_log_escape(org, sizeof(org), end->org));
        }

        if (b->res.failed > b->res.ended) {
            ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                          "pdf_report: and %ud more jobs failed in the same "
                          "pass", b->res.failed - b->res.ended);
        }

        ngx_http_pdf_report_metrics_finished(pmcf, "TIMEOUT",
                                             b->res.timed_out, 0);
        ngx_http_pdf_report_metrics_finished(pmcf, "PROCESSING_FAILED",
                                             b->res.failed
                                             - b->res.timed_out, 0);
    }

    for (i = 0; i < b->n; i++) {
        c = b->items[i];
        r = c->request;

        if (r == NULL) {
            if (c->op.rc != 0 && c->op.rc != PDF_REPORT_STORE_LIMITED) {
                ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                              "pdf_report: store write %ui not done: %s",
                              (ngx_uint_t) c->op.kind,
                              pmcf->db.ops->strerror(c->op.rc));
            }

            ngx_http_pdf_report_commit_free(cm, c);
            continue;
        }

        conn = r->connection;
        r->main->blocked--;

        ngx_http_set_log_request(conn->log, r);

        rc = c->handler(r, c);
        ngx_http_pdf_report_commit_free(cm, c);

        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(conn);
    }

    /* the claims of this pass go to the render pool */
    if (b->res.claimed) {
        ngx_http_pdf_report_jobs_run(pmcf, b->claims, b->res.claimed);
    }

    b->n = 0;
    b->res.claimed = 0;

    /* only now: the handlers above may have queued more for the task */
    if (b->extra) {
        b->busy = 0;

    } else {
        cm->busy = 0;
    }

    ngx_http_pdf_report_commit_start(cm);
}


static void
ngx_http_pdf_report_commit_free(ngx_http_pdf_report_committer_t *cm,
    ngx_http_pdf_report_commit_t *c)
{
    if (cm->nfree >= NGX_HTTP_PDF_REPORT_FREE_MAX) {
        ngx_free(c);
        return;
    }

    ngx_queue_insert_head(&cm->free, &c->queue);
    cm->nfree++;
}
