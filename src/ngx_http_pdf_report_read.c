
/*
 * The store's reads for steps 1 to 3: the user's access entry, a job,
 * or a job and then its user's access (step 3 re-checks consent).
 * LMDB reads on the event loop (a read transaction never waits for a
 * writer) and answers at once.  PostgreSQL is read on the event loop
 * through the worker's asynchronous connection once that is up
 * (ngx_http_pdf_report_pgread.c); until then, and for any other remote
 * backend, in a task of the store's thread pool, and the request goes on
 * when the task is done.
 */


#include "ngx_http_pdf_report_module.h"


/* far off: it only holds a gracefully exiting worker, see below */
#define NGX_HTTP_PDF_REPORT_READ_HOLD  3600000


typedef struct {
    ngx_http_request_t           *request;
    ngx_http_pdf_report_read_t   *read;
    pdf_report_db_t               db;
    ngx_event_t                   hold;
} ngx_http_pdf_report_read_task_t;


static void ngx_http_pdf_report_read_handler(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_read_done(ngx_event_t *ev);
static void ngx_http_pdf_report_read_hold(ngx_event_t *ev);


ngx_int_t
ngx_http_pdf_report_read(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd)
{
    ngx_int_t                         rc;
    ngx_thread_task_t                *task;
    ngx_http_pdf_report_read_task_t  *t;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    if (!pmcf->db.ops->remote) {
        ngx_http_pdf_report_read_run(&pmcf->db, rd);
        return rd->done(r, rd);
    }

    if (pmcf->pg != NULL) {
        rc = ngx_http_pdf_report_pgread_read(r, rd);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_pdf_report_read_task_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t = task->ctx;
    t->request = r;
    t->read = rd;
    t->db = pmcf->db;

    task->handler = ngx_http_pdf_report_read_handler;
    task->event.handler = ngx_http_pdf_report_read_done;
    task->event.data = t;

    if (ngx_thread_task_post(pmcf->store_pool.pool, task) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pdf_report: thread pool \"%V\" refused a store read",
                      &pmcf->store_pool.name);
        rd->rc = PDF_REPORT_STORE_UNAVAILABLE;
        rd->access_rc = PDF_REPORT_STORE_UNAVAILABLE;
        return rd->done(r, rd);
    }

    /* the request waits for the task; its done() finalizes it */
    r->main->count++;

    /*
     * Not cancelable: a gracefully exiting worker waits for the read, so
     * that the request gets its answer rather than a closed connection.
     */
    t->hold.handler = ngx_http_pdf_report_read_hold;
    t->hold.data = t;
    t->hold.log = r->connection->log;
    ngx_add_timer(&t->hold, NGX_HTTP_PDF_REPORT_READ_HOLD);

    return NGX_DONE;
}


static void
ngx_http_pdf_report_read_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_read_task_t  *t = data;

    ngx_http_pdf_report_read_run(&t->db, t->read);
}


static void
ngx_http_pdf_report_read_done(ngx_event_t *ev)
{
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_pdf_report_read_task_t  *t;

    t = ev->data;
    r = t->request;

    if (t->hold.timer_set) {
        ngx_del_timer(&t->hold);
    }

    /* the request, and the task in its pool, may be gone after this */
    c = r->connection;

    ngx_http_finalize_request(r, t->read->done(r, t->read));
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_pdf_report_read_hold(ngx_event_t *ev)
{
    ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_READ_HOLD);
}


/* the read itself: it touches the store only */

void
ngx_http_pdf_report_read_run(pdf_report_db_t *db,
    ngx_http_pdf_report_read_t *rd)
{
    const char  *user;
    size_t       len;

    rd->access_rc = PDF_REPORT_STORE_NOT_FOUND;
    rd->stem_len = 0;

    if (rd->what == NGX_HTTP_PDF_REPORT_READ_ACCESS) {
        rd->rc = db->ops->user_access(db->db, rd->org, rd->user,
                                      rd->user_len, rd->stem, &rd->stem_len);
        return;
    }

    rd->rc = db->ops->job_get(db->db, rd->id, &rd->job);

    /* another org's job is not looked into further */
    if (rd->what != NGX_HTTP_PDF_REPORT_READ_JOB_ACCESS || rd->rc != 0
        || ngx_strcmp(rd->job.org, rd->org) != 0)
    {
        return;
    }

    user = rd->job.user;
    len = ngx_strlen(user);

    rd->access_rc = db->ops->user_access(db->db, rd->org, user, len,
                                         rd->stem, &rd->stem_len);
}
