
/*
 * A remote store (PostgreSQL).  The master creates or checks the schema
 * and loads the user directory file (section 7's rules, under the
 * database's advisory lock) on every start and reload, before the
 * workers start: blocking is fine there, no event loop runs yet, and a
 * worker that starts with its store set up serves its first request.
 * When the database cannot be reached then, nginx starts all the same:
 * the worker's pool is opened without connecting, and a task of the
 * store's pool does the set-up, again every second until it succeeds.
 * Until then steps 1 to 3 answer 503 STORE_UNAVAILABLE and no job is
 * scanned; then the worker also LISTENs for jobs created elsewhere
 * (ngx_http_pdf_report_listen.c).
 */


#include "ngx_http_pdf_report_module.h"


/* how soon a set-up that failed is tried again */
#define NGX_HTTP_PDF_REPORT_SETUP_RETRY   1000

/* the master's connections, unless the URI says otherwise: seconds */
#define NGX_HTTP_PDF_REPORT_SETUP_CONNECT 2


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


static ngx_int_t ngx_http_pdf_report_setup_users(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_pg_t *pg);
static void ngx_http_pdf_report_setup_post(ngx_event_t *ev);
static void ngx_http_pdf_report_setup_ready(ngx_event_t *ev);
static void ngx_http_pdf_report_setup_handler(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_setup_done(ngx_event_t *ev);


static ngx_http_pdf_report_setup_ctx_t  ngx_http_pdf_report_setup;


/*
 * In the master, on a start or reload (not "nginx -t"): NGX_OK when the
 * store was set up or could not be reached (the workers then set it up),
 * NGX_ERROR for what refuses the configuration, as with LMDB: a schema
 * newer than the module's, a user directory line refused.
 */

ngx_int_t
ngx_http_pdf_report_remote_init_master(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    int               rc;
    char              err[256];
    unsigned          found;
    ngx_int_t         ret;
    ngx_uint_t        level;
    pdf_report_pg_t  *pg;

    pmcf->pg_set_up = 0;

    if (pdf_report_pg_open(&pg, (char *) pmcf->pg_uri.data, 1, err,
                           sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: the PostgreSQL store: %s", err);
        return NGX_ERROR;
    }

    pdf_report_pg_set_erase_on_revoke(pg, pmcf->erase_on_revoke);
    pdf_report_pg_set_connect_timeout(pg, NGX_HTTP_PDF_REPORT_SETUP_CONNECT);

    /* a load that erases a running job records its event */
    if (pdf_report_pg_set_webhooks(pg, pmcf->webhooks) != 0) {
        pdf_report_pg_close(pg);
        return NGX_ERROR;
    }

    rc = pdf_report_pg_schema(pg, &found, err, sizeof(err));

    if (rc == PDF_REPORT_PG_SCHEMA_NEWER) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: the PostgreSQL store: %s", err);
        pdf_report_pg_close(pg);
        return NGX_ERROR;
    }

    if (rc != 0) {
        level = (rc == PDF_REPORT_STORE_UNAVAILABLE) ? NGX_LOG_WARN
                                                     : NGX_LOG_ERR;
        ngx_log_error(level, cycle->log, 0,
                      "pdf_report: the PostgreSQL store's schema could not "
                      "be set up before the workers start: %s; they set it "
                      "up once it can be", err[0] ? err : "failed");
        pdf_report_pg_close(pg);
        return NGX_OK;
    }

    ret = NGX_OK;

    if (!pmcf->users_off) {
        ret = ngx_http_pdf_report_setup_users(cycle, pmcf, pg);
    }

    pdf_report_pg_close(pg);

    if (ret == NGX_DECLINED) {
        return NGX_OK;
    }

    if (ret == NGX_OK) {
        pmcf->pg_set_up = 1;
    }

    return ret;
}


/* NGX_DECLINED: the database failed, the workers try again */

static ngx_int_t
ngx_http_pdf_report_setup_users(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_pg_t *pg)
{
    int                       rc;
    ngx_fd_t                  fd;
    ngx_uint_t                level;
    pdf_report_users_load_t   load;

    fd = ngx_open_file(pmcf->users_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &pmcf->users_file);
        return NGX_ERROR;
    }

    ngx_memzero(&load, sizeof(pdf_report_users_load_t));
    load.fd = fd;
    load.now_ms = pdf_report_now_ms();

    rc = pdf_report_pg_users_load(pg, &load);

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &pmcf->users_file);
    }

    if (rc == PDF_REPORT_USERS_INVALID) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "invalid user directory \"%V\", line %uz: %s",
                      &pmcf->users_file, load.line, load.err);
        return NGX_ERROR;
    }

    if (rc != 0) {
        level = (rc == PDF_REPORT_STORE_UNAVAILABLE) ? NGX_LOG_WARN
                                                     : NGX_LOG_ERR;
        ngx_log_error(level, cycle->log, 0,
                      "pdf_report: the user directory \"%V\" could not be "
                      "loaded into the PostgreSQL store before the workers "
                      "start: %s; they load it once it can be",
                      &pmcf->users_file, pdf_report_pg_error());
        return NGX_DECLINED;
    }

    ngx_http_pdf_report_users_loaded(cycle->log, &pmcf->users_file, &load);

    return NGX_OK;
}


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

    if (pdf_report_pg_set_webhooks(pmcf->pg, pmcf->webhooks) != 0) {
        return NGX_ERROR;
    }

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

    if (pmcf->pg_set_up) {
        /* by the master: served at once, the first scan and LISTEN next */
        pmcf->store_ready = 1;
        sc->timer.handler = ngx_http_pdf_report_setup_ready;
        ngx_add_timer(&sc->timer, 1);
        return NGX_OK;
    }

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


static void
ngx_http_pdf_report_setup_ready(ngx_event_t *ev)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_pdf_report_jobs_kick(pmcf);
    ngx_http_pdf_report_listen_init(pmcf);
    ngx_http_pdf_report_pgread_init(pmcf);
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
