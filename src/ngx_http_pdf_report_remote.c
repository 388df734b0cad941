
/*
 * A remote store (PostgreSQL) in a worker.  Its pool is opened without
 * connecting, so that nginx starts and reloads while the database is
 * away; then a task of the store's pool creates or checks the schema and
 * loads the user directory file (section 7's rules, under the database's
 * advisory lock), and does so again every second until it succeeds.
 * Until then steps 1 to 3 answer 503 STORE_UNAVAILABLE and no job is
 * scanned; then the worker also LISTENs for jobs created elsewhere
 * (ngx_http_pdf_report_listen.c).  Each worker sets up for itself: a
 * set-up that found nothing to do costs two statements.
 */


#include "ngx_http_pdf_report_module.h"


/* how soon a set-up that failed is tried again */
#define NGX_HTTP_PDF_REPORT_SETUP_RETRY   1000


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    pdf_report_pg_t                  *pg;
    const char                       *users;      /* NULL: "off" */
    const char                       *what;       /* what failed */
    int                               rc;
    unsigned                          found;      /* schema version */
    pdf_report_users_load_t           load;
    char                              err[320];   /* a line's err too */
} ngx_http_pdf_report_setup_t;


typedef struct {
    ngx_thread_task_t                *task;
    ngx_event_t                       timer;
    ngx_uint_t                        failures;
    time_t                            logged;
} ngx_http_pdf_report_setup_ctx_t;


static void ngx_http_pdf_report_setup_post(ngx_event_t *ev);
static void ngx_http_pdf_report_setup_handler(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_setup_done(ngx_event_t *ev);


static ngx_http_pdf_report_setup_ctx_t  ngx_http_pdf_report_setup;


ngx_int_t
ngx_http_pdf_report_remote_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    char                              err[256];
    ngx_thread_task_t                *task;
    ngx_http_pdf_report_setup_t      *s;
    ngx_http_pdf_report_setup_ctx_t  *sc;

    if (pdf_report_pg_open(&pmcf->pg, (char *) pmcf->pg_uri.data,
                           (unsigned) pmcf->pg_pool, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: the PostgreSQL store: %s", err);
        return NGX_ERROR;
    }

    pdf_report_pg_set_erase_on_revoke(pmcf->pg, pmcf->erase_on_revoke);

    pmcf->db.ops = &pdf_report_pg_backend;
    pmcf->db.db = pmcf->pg;
    pmcf->store_ready = 0;

    sc = &ngx_http_pdf_report_setup;
    ngx_memzero(sc, sizeof(ngx_http_pdf_report_setup_ctx_t));

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_setup_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    s = task->ctx;
    s->pmcf = pmcf;
    s->pg = pmcf->pg;
    s->users = pmcf->users_off ? NULL : (char *) pmcf->users_file.data;

    task->handler = ngx_http_pdf_report_setup_handler;
    task->event.handler = ngx_http_pdf_report_setup_done;
    task->event.data = sc;
    sc->task = task;

    sc->timer.handler = ngx_http_pdf_report_setup_post;
    sc->timer.data = pmcf;
    sc->timer.log = cycle->log;
    sc->timer.cancelable = 1;

    ngx_http_pdf_report_setup_post(&sc->timer);

    return NGX_OK;
}


void
ngx_http_pdf_report_remote_exit(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_listen_exit();
    ngx_http_pdf_report_pgread_exit();

    /* the thread pools were joined before: no task uses the pool now */
    if (pmcf->pg != NULL) {
        pmcf->db.db = NULL;
        pdf_report_pg_close(pmcf->pg);
        pmcf->pg = NULL;
    }
}


static void
ngx_http_pdf_report_setup_post(ngx_event_t *ev)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (ngx_thread_task_post(pmcf->store_pool.pool,
                             ngx_http_pdf_report_setup.task)
        != NGX_OK)
    {
        ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_SETUP_RETRY);
    }
}


/* in a pool thread: the database and the file only */

static void
ngx_http_pdf_report_setup_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_setup_t  *s = data;

    int  fd;

    s->what = NULL;
    s->err[0] = '\0';

    s->rc = pdf_report_pg_schema(s->pg, &s->found, s->err, sizeof(s->err));

    if (s->rc != 0) {
        s->what = "schema";
        return;
    }

    if (s->users == NULL) {
        return;
    }

    fd = open(s->users, O_RDONLY);

    if (fd == -1) {
        s->rc = errno;
        s->what = "user directory";
        (void) snprintf(s->err, sizeof(s->err), "open(): %s",
                        strerror(s->rc));
        return;
    }

    ngx_memzero(&s->load, sizeof(pdf_report_users_load_t));
    s->load.fd = fd;
    s->load.now_ms = pdf_report_now_ms();

    s->rc = pdf_report_pg_users_load(s->pg, &s->load);

    (void) close(fd);

    if (s->rc != 0) {
        s->what = "user directory";

        if (s->rc == PDF_REPORT_USERS_INVALID) {
            (void) snprintf(s->err, sizeof(s->err), "line %zu: %s",
                            s->load.line, s->load.err);

        } else {
            (void) snprintf(s->err, sizeof(s->err), "%s",
                            pdf_report_pg_error());
        }
    }
}


static void
ngx_http_pdf_report_setup_done(ngx_event_t *ev)
{
    ngx_http_pdf_report_setup_ctx_t  *sc = ev->data;

    time_t                            now;
    ngx_uint_t                        level;
    ngx_http_pdf_report_setup_t      *s;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    s = sc->task->ctx;
    pmcf = s->pmcf;

    if (s->rc == 0) {
        if (sc->failures) {
            ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                          "pdf_report: the PostgreSQL store is set up, "
                          "after %ui failed tries", sc->failures);
        }

        if (s->users != NULL) {
            ngx_http_pdf_report_users_loaded(pmcf->log, &pmcf->users_file,
                                             &s->load);
        }

        pmcf->store_ready = 1;
        ngx_http_pdf_report_jobs_kick(pmcf);
        ngx_http_pdf_report_listen_init(pmcf);
        ngx_http_pdf_report_pgread_init(pmcf);
        return;
    }

    /* the first failure, then one line a minute while it lasts */
    now = ngx_time();
    level = NGX_LOG_INFO;

    if (sc->failures == 0 || now - sc->logged >= 60) {
        level = (s->rc == PDF_REPORT_STORE_UNAVAILABLE) ? NGX_LOG_WARN
                                                        : NGX_LOG_ERR;
        sc->logged = now;
    }

    sc->failures++;

    ngx_log_error(level, pmcf->log, 0,
                  "pdf_report: the PostgreSQL store's %s could not be set "
                  "up: %s; steps 1 to 3 answer 503 until it is (try %ui, "
                  "again in 1 s)", s->what, s->err[0] ? s->err : "failed",
                  sc->failures);

    ngx_add_timer(&sc->timer, NGX_HTTP_PDF_REPORT_SETUP_RETRY);
}
