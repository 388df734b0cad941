
/*
 * Steps 1 to 3's reads of a PostgreSQL store on the event loop itself:
 * each worker keeps one connection, driven by libpq's asynchronous API
 * in pipeline mode as an nginx connection (non-blocking; nothing waits
 * but epoll).  A read is queued in libpq's buffer at once; the reads of
 * one pass of the event loop go out together behind one sync, from a
 * posted event, and their answers come back in order on read events.
 * A read through a pool thread cost a thread hop and a blocking round
 * trip of its own (a wake-up of a database process each); here one
 * write and one wake-up carry many (bench/pg).
 *
 * One sync a pass: a statement that fails aborts the rest of its pass,
 * whose reads are sent again.  The connection lost: the reads it
 * carried answer STORE_UNAVAILABLE, and it is made again after 1 s,
 * doubling up to 30 s; meanwhile reads go through the store's thread
 * pool (ngx_http_pdf_report_read.c), as before this connection is up.
 * A host name of the URI is resolved first in a task of that pool, and
 * the connection started with the address: libpq would look it up in
 * PQconnectStart(), waiting.
 */


#include "ngx_http_pdf_report_module.h"
#include "pdf_report_pg_async.h"


#define NGX_HTTP_PDF_REPORT_PGREAD_RETRY      1000
#define NGX_HTTP_PDF_REPORT_PGREAD_RETRY_MAX  30000
#define NGX_HTTP_PDF_REPORT_PGREAD_HOLD       3600000

#define NGX_HTTP_PDF_REPORT_PGREAD_CONNECTING  1
#define NGX_HTTP_PDF_REPORT_PGREAD_PREPARING   2
#define NGX_HTTP_PDF_REPORT_PGREAD_READY       3


typedef struct {
    ngx_queue_t                   queue;
    ngx_http_request_t           *request;
    ngx_http_pdf_report_read_t   *read;
    ngx_event_t                   hold;
} ngx_http_pdf_report_pgread_item_t;


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    PGconn                           *conn;
    ngx_connection_t                 *c;
    ngx_uint_t                        state;
    ngx_queue_t                       sent;      /* answers awaited */
    ngx_uint_t                        unsynced;  /* sent since the sync */
    ngx_uint_t                        syncs;     /* syncs awaited */
    ngx_uint_t                        prepares;  /* results awaited */
    ngx_event_t                       flush;     /* posted: the sync */
    ngx_event_t                       retry;
    ngx_msec_t                        backoff;
    ngx_uint_t                        failures;
    ngx_thread_task_t                *resolve;
    int                               resolve_rc;
    unsigned                          resolved;  /* hostaddr is set */
    char                              resolve_err[128];
    char                              hostaddr[PDF_REPORT_PG_HOSTADDR_LEN];
    /* the task's, copied to hostaddr on the event loop: the listener
     * reads hostaddr there while a new look-up may run */
    char                              found[PDF_REPORT_PG_HOSTADDR_LEN];
} ngx_http_pdf_report_pgread_t;


static void ngx_http_pdf_report_pgread_start(ngx_event_t *ev);
static void ngx_http_pdf_report_pgread_resolve(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_pgread_resolved(ngx_event_t *ev);
static void ngx_http_pdf_report_pgread_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_pdf_report_pgread_connect(
    ngx_http_pdf_report_pgread_t *pr);
static ngx_int_t ngx_http_pdf_report_pgread_results(
    ngx_http_pdf_report_pgread_t *pr);
static ngx_int_t ngx_http_pdf_report_pgread_result(
    ngx_http_pdf_report_pgread_t *pr, PGresult *res);
static ngx_int_t ngx_http_pdf_report_pgread_send(
    ngx_http_pdf_report_pgread_t *pr,
    ngx_http_pdf_report_pgread_item_t *it);
static void ngx_http_pdf_report_pgread_sync(ngx_event_t *ev);
static ngx_int_t ngx_http_pdf_report_pgread_flush(
    ngx_http_pdf_report_pgread_t *pr);
static void ngx_http_pdf_report_pgread_answer(
    ngx_http_pdf_report_pgread_item_t *it);
static void ngx_http_pdf_report_pgread_hold(ngx_event_t *ev);
static void ngx_http_pdf_report_pgread_fail(ngx_http_pdf_report_pgread_t *pr,
    const char *what);
static void ngx_http_pdf_report_pgread_close(
    ngx_http_pdf_report_pgread_t *pr);


static ngx_http_pdf_report_pgread_t  ngx_http_pdf_report_pgread;


void
ngx_http_pdf_report_pgread_init(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_pgread_t  *pr;

    pr = &ngx_http_pdf_report_pgread;

    if (pr->pmcf != NULL) {
        return;         /* started already */
    }

    pr->pmcf = pmcf;
    pr->backoff = NGX_HTTP_PDF_REPORT_PGREAD_RETRY;
    ngx_queue_init(&pr->sent);

    pr->retry.handler = ngx_http_pdf_report_pgread_start;
    pr->retry.data = pr;
    pr->retry.log = pmcf->log;
    pr->retry.cancelable = 1;

    pr->flush.handler = ngx_http_pdf_report_pgread_sync;
    pr->flush.data = pr;
    pr->flush.log = pmcf->log;

    ngx_http_pdf_report_pgread_start(&pr->retry);
}


void
ngx_http_pdf_report_pgread_exit(void)
{
    ngx_http_pdf_report_pgread_t  *pr = &ngx_http_pdf_report_pgread;

    if (pr->pmcf != NULL) {
        ngx_http_pdf_report_pgread_close(pr);
    }
}


/*
 * A read on the event loop: NGX_DONE (the request waits, and done()
 * finalizes it), or NGX_DECLINED when the connection is not up: the
 * caller reads through the thread pool.
 */

ngx_int_t
ngx_http_pdf_report_pgread_read(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd)
{
    ngx_int_t                           rc;
    ngx_http_pdf_report_pgread_t       *pr;
    ngx_http_pdf_report_pgread_item_t  *it;

    pr = &ngx_http_pdf_report_pgread;

    if (pr->state != NGX_HTTP_PDF_REPORT_PGREAD_READY) {
        return NGX_DECLINED;
    }

    it = ngx_pcalloc(r->pool, sizeof(ngx_http_pdf_report_pgread_item_t));
    if (it == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    it->request = r;
    it->read = rd;

    rc = ngx_http_pdf_report_pgread_send(pr, it);

    if (rc == NGX_DECLINED) {
        /* answered without the database: no such id */
        return rd->done(r, rd);
    }

    if (rc != NGX_OK) {
        ngx_http_pdf_report_pgread_fail(pr, "send");
        return NGX_DECLINED;
    }

    /* the request waits for its answer; its done() finalizes it */
    r->main->count++;

    /*
     * Not cancelable, as a pool read's: a gracefully exiting worker
     * waits for the answer rather than closing the request unanswered.
     */
    it->hold.handler = ngx_http_pdf_report_pgread_hold;
    it->hold.data = it;
    it->hold.log = r->connection->log;
    ngx_add_timer(&it->hold, NGX_HTTP_PDF_REPORT_PGREAD_HOLD);

    return NGX_DONE;
}


/* queued in libpq's buffer; the pass's sync goes from a posted event */

static ngx_int_t
ngx_http_pdf_report_pgread_send(ngx_http_pdf_report_pgread_t *pr,
    ngx_http_pdf_report_pgread_item_t *it)
{
    int                          sent, rc;
    ngx_http_pdf_report_read_t  *rd = it->read;

    rd->access_rc = PDF_REPORT_STORE_NOT_FOUND;
    rd->stem_len = 0;

    sent = pdf_report_pg_async_send(pr->conn, (int) rd->what, rd->id,
                                    rd->user, rd->user_len, &rc);

    if (sent == 0) {
        rd->rc = rc;
        return NGX_DECLINED;
    }

    if (sent < 0) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&pr->sent, &it->queue);
    pr->unsynced++;

    if (!pr->flush.posted) {
        ngx_post_event(&pr->flush, &ngx_posted_events);
    }

    return NGX_OK;
}


static void
ngx_http_pdf_report_pgread_sync(ngx_event_t *ev)
{
    ngx_http_pdf_report_pgread_t  *pr = ev->data;

    if (pr->state != NGX_HTTP_PDF_REPORT_PGREAD_READY || pr->unsynced == 0)
    {
        return;
    }

    /* PQpipelineSync() also flushes, as far as the socket takes */
    if (PQpipelineSync(pr->conn) != 1) {
        ngx_http_pdf_report_pgread_fail(pr, "send");
        return;
    }

    pr->syncs++;
    pr->unsynced = 0;

    if (ngx_http_pdf_report_pgread_flush(pr) != NGX_OK) {
        ngx_http_pdf_report_pgread_fail(pr, "send");
    }
}


/* the rest of the buffer when the socket is writable again */

static ngx_int_t
ngx_http_pdf_report_pgread_flush(ngx_http_pdf_report_pgread_t *pr)
{
    int                rc;
    ngx_connection_t  *c = pr->c;

    rc = PQflush(pr->conn);

    if (rc < 0) {
        return NGX_ERROR;
    }

    if (rc == 1) {
        if (!c->write->active
            && ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (c->write->active
        && pr->state != NGX_HTTP_PDF_REPORT_PGREAD_CONNECTING
        && ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The addresses of the URI's hosts as last resolved, for the LISTEN
 * connection (ngx_http_pdf_report_listen.c), which must not look them
 * up on the event loop either; NULL until resolved once.
 */

const char *
ngx_http_pdf_report_pgread_hostaddr(void)
{
    ngx_http_pdf_report_pgread_t  *pr = &ngx_http_pdf_report_pgread;

    return pr->resolved ? pr->hostaddr : NULL;
}


/* first the URI's host names, in a task of the store's pool */

static void
ngx_http_pdf_report_pgread_start(ngx_event_t *ev)
{
    ngx_http_pdf_report_pgread_t  *pr = ev->data;

    ngx_thread_task_t  *task;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    task = pr->resolve;

    if (task == NULL) {
        task = ngx_thread_task_alloc(ngx_cycle->pool, 0);
        if (task == NULL) {
            ngx_http_pdf_report_pgread_fail(pr, "resolve");
            return;
        }

        task->ctx = pr;
        task->handler = ngx_http_pdf_report_pgread_resolve;
        task->event.handler = ngx_http_pdf_report_pgread_resolved;
        task->event.data = pr;
        pr->resolve = task;
    }

    if (ngx_thread_task_post(pr->pmcf->store_pool.pool, task) != NGX_OK) {
        ngx_http_pdf_report_pgread_fail(pr, "resolve");
    }
}


static void
ngx_http_pdf_report_pgread_resolve(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_pgread_t  *pr = data;

    pr->resolve_rc = pdf_report_pg_async_resolve(pr->pmcf->pg, pr->found,
                                                 sizeof(pr->found));

    /* the message is this thread's: copied for the event loop's log */
    if (pr->resolve_rc != 0) {
        ngx_cpystrn((u_char *) pr->resolve_err,
                    (u_char *) pdf_report_pg_error(),
                    sizeof(pr->resolve_err));
    }
}


static void
ngx_http_pdf_report_pgread_resolved(ngx_event_t *ev)
{
    ngx_http_pdf_report_pgread_t  *pr = ev->data;

    ngx_socket_t       fd;
    ngx_connection_t  *c;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (pr->resolve_rc != 0) {
        ngx_http_pdf_report_pgread_fail(pr, "resolve");
        return;
    }

    ngx_memcpy(pr->hostaddr, pr->found, sizeof(pr->hostaddr));
    pr->resolved = 1;

    /* a connection's socket never crosses fork(): made in the worker */
    pr->conn = pdf_report_pg_async_start(pr->pmcf->pg, pr->hostaddr);

    if (pr->conn == NULL || PQstatus(pr->conn) == CONNECTION_BAD) {
        ngx_http_pdf_report_pgread_fail(pr, "connect");
        return;
    }

    fd = PQsocket(pr->conn);

    c = ngx_get_connection(fd, pr->pmcf->log);
    if (c == NULL) {
        ngx_http_pdf_report_pgread_fail(pr, "connection slot");
        return;
    }

    c->data = pr;
    c->read->handler = ngx_http_pdf_report_pgread_handler;
    c->write->handler = ngx_http_pdf_report_pgread_handler;
    c->read->log = pr->pmcf->log;
    c->write->log = pr->pmcf->log;
    pr->c = c;
    pr->state = NGX_HTTP_PDF_REPORT_PGREAD_CONNECTING;

    /* libpq starts by writing: level-triggered, as libpq expects */
    if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
    {
        ngx_http_pdf_report_pgread_fail(pr, "event");
    }
}


static void
ngx_http_pdf_report_pgread_handler(ngx_event_t *ev)
{
    ngx_connection_t              *c = ev->data;
    ngx_http_pdf_report_pgread_t  *pr = c->data;

    ngx_int_t  rc;

    if (pr->state == NGX_HTTP_PDF_REPORT_PGREAD_CONNECTING) {
        rc = ngx_http_pdf_report_pgread_connect(pr);

        if (rc == NGX_ERROR) {
            ngx_http_pdf_report_pgread_fail(pr, "connect");
        }

        return;
    }

    rc = ev->write ? ngx_http_pdf_report_pgread_flush(pr)
                   : ngx_http_pdf_report_pgread_results(pr);

    if (rc == NGX_ERROR) {
        ngx_http_pdf_report_pgread_fail(pr, "read");
    }
}


/* one step of PQconnectPoll(); then the statements are prepared */

static ngx_int_t
ngx_http_pdf_report_pgread_connect(ngx_http_pdf_report_pgread_t *pr)
{
    ngx_connection_t  *c = pr->c;

    switch (PQconnectPoll(pr->conn)) {

    case PGRES_POLLING_READING:
        if (c->write->active
            && ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (!c->read->active
            && ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_AGAIN;

    case PGRES_POLLING_WRITING:
        if (!c->write->active
            && ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_AGAIN;

    case PGRES_POLLING_OK:
        break;

    default:
        return NGX_ERROR;
    }

    /* libpq may have moved to another address's socket meanwhile */
    if (PQsocket(pr->conn) != c->fd) {
        return NGX_ERROR;
    }

    if (!c->read->active
        && ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (pdf_report_pg_async_prepare(pr->conn) != 0) {
        return NGX_ERROR;
    }

    pr->state = NGX_HTTP_PDF_REPORT_PGREAD_PREPARING;
    pr->prepares = PDF_REPORT_PG_ASYNC_PREPARES;
    pr->syncs = 1;

    return ngx_http_pdf_report_pgread_flush(pr);
}


/* the answers that have come, in the order of the reads */

static ngx_int_t
ngx_http_pdf_report_pgread_results(ngx_http_pdf_report_pgread_t *pr)
{
    PGresult    *res;
    ngx_uint_t   nulls;

    if (!PQconsumeInput(pr->conn)) {
        return NGX_ERROR;
    }

    nulls = 0;

    /*
     * A statement's result ends with a NULL; two in a row: nothing more
     * is in the pipeline.  An answer may finalize a request whose next
     * read joins the pipeline meanwhile, or fail the connection.
     */
    while (pr->conn != NULL && !PQisBusy(pr->conn)) {
        res = PQgetResult(pr->conn);

        if (res == NULL) {
            if (++nulls > 1) {
                break;
            }

            continue;
        }

        nulls = 0;

        if (ngx_http_pdf_report_pgread_result(pr, res) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pdf_report_pgread_result(ngx_http_pdf_report_pgread_t *pr,
    PGresult *res)
{
    ngx_queue_t                        *q;
    ExecStatusType                      st;
    ngx_http_pdf_report_read_t         *rd;
    ngx_http_pdf_report_pgread_item_t  *it;

    st = PQresultStatus(res);

    if (st == PGRES_PIPELINE_SYNC) {
        PQclear(res);

        if (pr->syncs == 0) {
            return NGX_ERROR;
        }

        pr->syncs--;

        if (pr->state == NGX_HTTP_PDF_REPORT_PGREAD_PREPARING
            && pr->syncs == 0)
        {
            if (pr->prepares != 0) {
                return NGX_ERROR;
            }

            pr->state = NGX_HTTP_PDF_REPORT_PGREAD_READY;

            if (pr->failures) {
                ngx_log_error(NGX_LOG_NOTICE, pr->pmcf->log, 0,
                              "pdf_report: reading the PostgreSQL store "
                              "on the event loop again, after %ui failed "
                              "tries", pr->failures);
            }

            pr->failures = 0;
            pr->backoff = NGX_HTTP_PDF_REPORT_PGREAD_RETRY;
        }

        return NGX_OK;
    }

    if (pr->state == NGX_HTTP_PDF_REPORT_PGREAD_PREPARING) {
        PQclear(res);

        if (st != PGRES_COMMAND_OK || pr->prepares == 0) {
            return NGX_ERROR;
        }

        pr->prepares--;
        return NGX_OK;
    }

    if (ngx_queue_empty(&pr->sent)) {
        PQclear(res);
        return NGX_ERROR;
    }

    q = ngx_queue_head(&pr->sent);
    ngx_queue_remove(q);
    it = ngx_queue_data(q, ngx_http_pdf_report_pgread_item_t, queue);
    rd = it->read;

    if (st == PGRES_PIPELINE_ABORTED) {
        /* a statement before it in its pass failed: sent again */
        PQclear(res);

        if (ngx_http_pdf_report_pgread_send(pr, it) != NGX_OK) {
            rd->rc = PDF_REPORT_STORE_UNAVAILABLE;
            rd->access_rc = PDF_REPORT_STORE_UNAVAILABLE;
            ngx_http_pdf_report_pgread_answer(it);
        }

        return NGX_OK;
    }

    pdf_report_pg_async_result(res, (int) rd->what, rd->org, &rd->job,
                               &rd->rc, &rd->access_rc, rd->stem,
                               &rd->stem_len);
    PQclear(res);

    if (rd->rc == PDF_REPORT_PG_ERROR) {
        ngx_log_error(NGX_LOG_ERR, it->request->connection->log, 0,
                      "pdf_report: the PostgreSQL store refused a read: %s",
                      pdf_report_pg_error());
    }

    ngx_http_pdf_report_pgread_answer(it);

    return NGX_OK;
}


/* on the event loop, as the thread pool's completion would */

static void
ngx_http_pdf_report_pgread_answer(ngx_http_pdf_report_pgread_item_t *it)
{
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_pdf_report_read_t  *rd;

    r = it->request;
    rd = it->read;

    if (it->hold.timer_set) {
        ngx_del_timer(&it->hold);
    }

    /* the request, and the item in its pool, may be gone after this */
    c = r->connection;

    ngx_http_finalize_request(r, rd->done(r, rd));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_pdf_report_pgread_hold(ngx_event_t *ev)
{
    ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_PGREAD_HOLD);
}


static void
ngx_http_pdf_report_pgread_fail(ngx_http_pdf_report_pgread_t *pr,
    const char *what)
{
    ngx_uint_t                          level;
    ngx_queue_t                        *q;
    ngx_http_pdf_report_pgread_item_t  *it;

    /* the first failure at warn, the rest at info: reads go on */
    level = pr->failures++ ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(level, pr->pmcf->log, 0,
                  "pdf_report: cannot read the PostgreSQL store on the "
                  "event loop (%s): %s; reads go through the store's "
                  "thread pool meanwhile; trying again in %M ms", what,
                  pr->conn ? PQerrorMessage(pr->conn)
                  : pr->resolve_rc ? pr->resolve_err : "out of memory",
                  pr->backoff);

    ngx_http_pdf_report_pgread_close(pr);

    /* what it carried is lost with it: the database is away */
    while (!ngx_queue_empty(&pr->sent)) {
        q = ngx_queue_head(&pr->sent);
        ngx_queue_remove(q);
        it = ngx_queue_data(q, ngx_http_pdf_report_pgread_item_t, queue);

        it->read->rc = PDF_REPORT_STORE_UNAVAILABLE;
        it->read->access_rc = PDF_REPORT_STORE_UNAVAILABLE;
        ngx_http_pdf_report_pgread_answer(it);
    }

    if (!(ngx_exiting || ngx_quit || ngx_terminate)
        && !pr->retry.timer_set)
    {
        ngx_add_timer(&pr->retry, pr->backoff);
        pr->backoff = ngx_min(pr->backoff * 2,
                              NGX_HTTP_PDF_REPORT_PGREAD_RETRY_MAX);
    }
}


/* libpq owns the socket: nginx lets go of it, PQfinish() closes it */

static void
ngx_http_pdf_report_pgread_close(ngx_http_pdf_report_pgread_t *pr)
{
    ngx_connection_t  *c = pr->c;

    if (pr->flush.posted) {
        ngx_delete_posted_event(&pr->flush);
    }

    if (c != NULL) {
        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT,
                                 NGX_CLOSE_EVENT);
        }

        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        pr->c = NULL;
    }

    if (pr->conn != NULL) {
        PQfinish(pr->conn);
        pr->conn = NULL;
    }

    pr->state = 0;
    pr->unsynced = 0;
    pr->syncs = 0;
    pr->prepares = 0;
}
