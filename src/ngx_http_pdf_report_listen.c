
/*
 * An idle edge starts a job that another edge created within a second:
 * each worker keeps one PostgreSQL connection that LISTENs on the jobs'
 * channel (a create or a released claim NOTIFYs it in its transaction),
 * driven by libpq's asynchronous API as an nginx connection on the event
 * loop, and a notification starts a scan pass at once.  Scans every
 * pdf_report_scan_interval still run: a lost connection loses nothing
 * but speed, and is made again after 1 s, doubling up to 30 s.
 */


#include "ngx_http_pdf_report_module.h"
#include "pdf_report_pg_async.h"

#include <libpq-fe.h>


#define NGX_HTTP_PDF_REPORT_LISTEN_RETRY      1000
#define NGX_HTTP_PDF_REPORT_LISTEN_RETRY_MAX  30000

#define NGX_HTTP_PDF_REPORT_LISTEN_CONNECTING  1
#define NGX_HTTP_PDF_REPORT_LISTEN_LISTENING   2


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    PGconn                           *conn;
    ngx_connection_t                 *c;
    ngx_uint_t                        state;
    ngx_event_t                       retry;
    ngx_msec_t                        backoff;
    ngx_uint_t                        failures;
} ngx_http_pdf_report_listener_t;


static void ngx_http_pdf_report_listen_start(ngx_event_t *ev);
static void ngx_http_pdf_report_listen_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_pdf_report_listen_connect(
    ngx_http_pdf_report_listener_t *l);
static ngx_int_t ngx_http_pdf_report_listen_read(
    ngx_http_pdf_report_listener_t *l);
static void ngx_http_pdf_report_listen_fail(ngx_http_pdf_report_listener_t *l,
    const char *what);
static void ngx_http_pdf_report_listen_close(
    ngx_http_pdf_report_listener_t *l);


static ngx_http_pdf_report_listener_t  ngx_http_pdf_report_listener;


void
ngx_http_pdf_report_listen_init(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_listener_t  *l;

    l = &ngx_http_pdf_report_listener;

    if (l->pmcf != NULL) {
        return;         /* started already */
    }

    l->pmcf = pmcf;
    l->backoff = NGX_HTTP_PDF_REPORT_LISTEN_RETRY;

    l->retry.handler = ngx_http_pdf_report_listen_start;
    l->retry.data = l;
    l->retry.log = pmcf->log;
    l->retry.cancelable = 1;

    ngx_http_pdf_report_listen_start(&l->retry);
}


void
ngx_http_pdf_report_listen_exit(void)
{
    ngx_http_pdf_report_listen_close(&ngx_http_pdf_report_listener);
}


static void
ngx_http_pdf_report_listen_start(ngx_event_t *ev)
{
    ngx_http_pdf_report_listener_t  *l = ev->data;

    ngx_socket_t       fd;
    const char        *hostaddr;
    ngx_connection_t  *c;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /*
     * The hosts' addresses as the read connection resolved them in a
     * pool thread: libpq would look a name up here, waiting.  Until
     * then, a look again shortly.
     */
    hostaddr = ngx_http_pdf_report_pgread_hostaddr();

    if (hostaddr == NULL) {
        ngx_add_timer(&l->retry, 100);
        return;
    }

    /* a connection's socket, like the pool's, never crosses fork() */
    l->conn = pdf_report_pg_async_start(l->pmcf->pg, hostaddr);

    if (l->conn == NULL || PQstatus(l->conn) == CONNECTION_BAD
        || PQsetnonblocking(l->conn, 1) != 0)
    {
        ngx_http_pdf_report_listen_fail(l, "connect");
        return;
    }

    fd = PQsocket(l->conn);

    c = ngx_get_connection(fd, l->pmcf->log);
    if (c == NULL) {
        ngx_http_pdf_report_listen_fail(l, "connection slot");
        return;
    }

    c->data = l;
    c->read->handler = ngx_http_pdf_report_listen_handler;
    c->write->handler = ngx_http_pdf_report_listen_handler;
    c->read->log = l->pmcf->log;
    c->write->log = l->pmcf->log;
    l->c = c;
    l->state = NGX_HTTP_PDF_REPORT_LISTEN_CONNECTING;

    /* libpq starts by writing: level-triggered, as libpq expects */
    if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
    {
        ngx_http_pdf_report_listen_fail(l, "event");
    }
}


static void
ngx_http_pdf_report_listen_handler(ngx_event_t *ev)
{
    ngx_connection_t                *c = ev->data;
    ngx_http_pdf_report_listener_t  *l = c->data;

    ngx_int_t  rc;

    if (l->state == NGX_HTTP_PDF_REPORT_LISTEN_CONNECTING) {
        rc = ngx_http_pdf_report_listen_connect(l);

    } else {
        rc = ngx_http_pdf_report_listen_read(l);
    }

    if (rc == NGX_ERROR) {
        ngx_http_pdf_report_listen_fail(l, l->state
                                    == NGX_HTTP_PDF_REPORT_LISTEN_CONNECTING
                                    ? "connect" : "read");
    }
}


/* one step of PQconnectPoll(); then LISTEN */

static ngx_int_t
ngx_http_pdf_report_listen_connect(ngx_http_pdf_report_listener_t *l)
{
    ngx_connection_t  *c = l->c;

    switch (PQconnectPoll(l->conn)) {

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
    if (PQsocket(l->conn) != c->fd) {
        return NGX_ERROR;
    }

    if (c->write->active
        && ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!c->read->active
        && ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a few bytes on a fresh socket: sent at once, or flushed below */
    if (!PQsendQuery(l->conn, "LISTEN " PDF_REPORT_PG_CHANNEL)
        || PQflush(l->conn) != 0)
    {
        return NGX_ERROR;
    }

    l->state = NGX_HTTP_PDF_REPORT_LISTEN_LISTENING;

    if (l->failures) {
        ngx_log_error(NGX_LOG_NOTICE, l->pmcf->log, 0,
                      "pdf_report: listening for new jobs again, after %ui "
                      "failed tries", l->failures);
    }

    l->failures = 0;
    l->backoff = NGX_HTTP_PDF_REPORT_LISTEN_RETRY;

    /* what was created while nobody listened */
    ngx_http_pdf_report_jobs_kick(l->pmcf);

    return NGX_OK;
}


/* LISTEN's answer and notifications: any of them starts a scan */

static ngx_int_t
ngx_http_pdf_report_listen_read(ngx_http_pdf_report_listener_t *l)
{
    PGresult  *res;
    PGnotify  *note;
    ngx_uint_t n;

    if (!PQconsumeInput(l->conn)) {
        return NGX_ERROR;
    }

    while (!PQisBusy(l->conn)) {
        res = PQgetResult(l->conn);
        if (res == NULL) {
            break;
        }

        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            PQclear(res);
            return NGX_ERROR;
        }

        PQclear(res);
    }

    n = 0;

    while ((note = PQnotifies(l->conn)) != NULL) {
        PQfreemem(note);
        n++;
    }

    if (n && l->pmcf->store_ready) {
        ngx_http_pdf_report_jobs_kick(l->pmcf);
    }

    return NGX_OK;
}


static void
ngx_http_pdf_report_listen_fail(ngx_http_pdf_report_listener_t *l,
    const char *what)
{
    ngx_uint_t  level;

    /* the first failure at warn, the rest at info: scans still run */
    level = l->failures++ ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(level, l->pmcf->log, 0,
                  "pdf_report: cannot listen for new jobs (%s): %s; jobs "
                  "created elsewhere start at the next scan meanwhile; "
                  "trying again in %M ms", what,
                  l->conn ? PQerrorMessage(l->conn) : "out of memory",
                  l->backoff);

    ngx_http_pdf_report_listen_close(l);

    if (!(ngx_exiting || ngx_quit || ngx_terminate)) {
        ngx_add_timer(&l->retry, l->backoff);
        l->backoff = ngx_min(l->backoff * 2,
                             NGX_HTTP_PDF_REPORT_LISTEN_RETRY_MAX);
    }
}


/* libpq owns the socket: nginx lets go of it, PQfinish() closes it */

static void
ngx_http_pdf_report_listen_close(ngx_http_pdf_report_listener_t *l)
{
    ngx_connection_t  *c = l->c;

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
        l->c = NULL;
    }

    if (l->conn != NULL) {
        PQfinish(l->conn);
        l->conn = NULL;
    }

    l->state = 0;
}
