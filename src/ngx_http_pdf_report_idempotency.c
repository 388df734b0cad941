
/*
 * Idempotency-Key on step 1 (contract section 10, the IETF httpapi
 * draft): the header, the lookup of the key before anything is
 * counted, the keys of this worker's requests still being answered,
 * and the deletion of expired keys.
 *
 * The store is the memory (pdf_report_store.h): an answer is recorded
 * in the transaction that gives it, so a 202's key is never lost and
 * never makes two jobs.  The key is checked inside that write, which
 * settles the requests of one key on every worker and edge and answers
 * a replay without counting it.  With LMDB a read before the write also
 * answers a replay at once, without reading the user or writing.  A
 * request whose key another request of this worker is still answering
 * (checked, not yet finished) is 409 IDEMPOTENCY_KEY_IN_USE.
 */


#include "ngx_http_pdf_report_module.h"

#include <openssl/evp.h>


/* how often each worker deletes expired keys, and how many at most */
#define NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_MS     5000
#define NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_BATCH  256
#define NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_MAX    4       /* batches a pass */


typedef struct {
    pdf_report_db_t                   db;
    int64_t                           now_ms;
    int                               rc;
    size_t                            deleted;
} ngx_http_pdf_report_idem_expiry_t;


typedef struct {
    ngx_rbtree_t                      tree;      /* keys being answered */
    ngx_rbtree_node_t                 sentinel;
    ngx_http_pdf_report_main_conf_t  *pmcf;
    ngx_thread_task_t                *task;
    ngx_uint_t                        busy;
    ngx_event_t                       timer;
} ngx_http_pdf_report_idem_worker_t;


static void ngx_http_pdf_report_idem_decide(ngx_http_pdf_report_idem_t *idem,
    int rc);
static void ngx_http_pdf_report_idem_release(void *data);
static void ngx_http_pdf_report_idem_expire_check(ngx_event_t *ev);
static void ngx_http_pdf_report_idem_expire_handler(void *data,
    ngx_log_t *log);
static void ngx_http_pdf_report_idem_expire_done(ngx_event_t *ev);


/* one per worker process */
static ngx_http_pdf_report_idem_worker_t  ngx_http_pdf_report_idem_worker;


static ngx_str_t  ngx_http_pdf_report_idem_header_name =
    ngx_string("Idempotency-Key");


/*
 * The request's Idempotency-Key into ctx->idem (NULL without one):
 * NGX_OK, NGX_DECLINED for a malformed one (or several), NGX_ERROR.
 */

ngx_int_t
ngx_http_pdf_report_idem_header(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx)
{
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h, *found;
    ngx_http_pdf_report_idem_t  *idem;

    found = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != ngx_http_pdf_report_idem_header_name.len
            || ngx_strncasecmp(h[i].key.data,
                               ngx_http_pdf_report_idem_header_name.data,
                               h[i].key.len)
               != 0)
        {
            continue;
        }

        /* one key a request: two are no key the draft can tell apart */
        if (found != NULL) {
            return NGX_DECLINED;
        }

        found = &h[i];
    }

    if (found == NULL) {
        return NGX_OK;
    }

    idem = ngx_pcalloc(r->pool, sizeof(ngx_http_pdf_report_idem_t));
    if (idem == NULL) {
        return NGX_ERROR;
    }

    if (pdf_report_idem_key_parse((const char *) found->value.data,
                                  found->value.len, idem->op.key)
        != 0)
    {
        return NGX_DECLINED;
    }

    idem->request = r;
    ctx->idem = idem;

    return NGX_OK;
}


/*
 * Once the body is read: its SHA-256, then the key looked up (LMDB, on
 * the event loop: a read transaction); resume(r) then answers, with
 * idem->outcome saying what was found.
 */

ngx_int_t
ngx_http_pdf_report_idem_lookup(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_str_t *body,
    ngx_http_pdf_report_idem_pt resume)
{
    int                               rc;
    size_t                            klen;
    ngx_time_t                       *tp;
    ngx_http_pdf_report_idem_t       *idem;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);
    idem = ctx->idem;

    if (EVP_Digest(body->data, body->len, idem->op.sha256, NULL,
                   EVP_sha256(), NULL)
        != 1)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    idem->op.ttl_ms = (int64_t) pmcf->idem_ttl * 1000;
    idem->resume = resume;
    idem->db = pmcf->db;
    idem->org = (const char *) ctx->org.data;

    /* the in-flight tree's name: org "\0" key */
    klen = ngx_strlen(idem->op.key);

    idem->node.str.len = ctx->org.len + 1 + klen;
    idem->node.str.data = ngx_pnalloc(r->pool, idem->node.str.len);
    if (idem->node.str.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(idem->node.str.data, ctx->org.data, ctx->org.len);
    idem->node.str.data[ctx->org.len] = '\0';
    ngx_memcpy(idem->node.str.data + ctx->org.len + 1, idem->op.key, klen);

    /*
     * A remote store is not asked here: a round trip for every first
     * request, to spare one for the rare replay, which the write's own
     * check of the key answers as well (nothing counted)
     */
    if (pmcf->db.ops->remote) {
        ngx_http_pdf_report_idem_decide(idem, PDF_REPORT_STORE_NOT_FOUND);
        return resume(r);
    }

    tp = ngx_timeofday();

    rc = pmcf->db.ops->idem_get(pmcf->db.db, idem->org, idem->op.key,
                                (int64_t) tp->sec * 1000 + tp->msec,
                                &idem->op.found);

    ngx_http_pdf_report_idem_decide(idem, rc);

    return resume(r);
}


/* on the event loop: what the lookup means for the request */

static void
ngx_http_pdf_report_idem_decide(ngx_http_pdf_report_idem_t *idem, int rc)
{
    uint32_t                            hash;
    ngx_str_node_t                     *held;
    ngx_pool_cleanup_t                 *cln;
    ngx_http_pdf_report_idem_worker_t  *w;

    w = &ngx_http_pdf_report_idem_worker;

    idem->looked = 1;
    idem->rc = rc;

    if (rc == 0) {
        idem->outcome = (ngx_memcmp(idem->op.found.sha256, idem->op.sha256,
                                    PDF_REPORT_SHA256_LEN)
                         == 0)
                        ? NGX_HTTP_PDF_REPORT_IDEM_REPLAY
                        : NGX_HTTP_PDF_REPORT_IDEM_REUSED;
        return;
    }

    if (rc != PDF_REPORT_STORE_NOT_FOUND) {
        idem->outcome = NGX_HTTP_PDF_REPORT_IDEM_FAILED;
        return;
    }

    hash = ngx_crc32_long(idem->node.str.data, idem->node.str.len);

    held = ngx_str_rbtree_lookup(&w->tree, &idem->node.str, hash);

    if (held != NULL) {
        idem->outcome = NGX_HTTP_PDF_REPORT_IDEM_IN_USE;
        return;
    }

    /* held until the request ends, however it ends */
    cln = ngx_pool_cleanup_add(idem->request->pool, 0);
    if (cln == NULL) {
        idem->outcome = NGX_HTTP_PDF_REPORT_IDEM_FAILED;
        idem->rc = ENOMEM;
        return;
    }

    cln->handler = ngx_http_pdf_report_idem_release;
    cln->data = idem;

    idem->node.node.key = hash;
    ngx_rbtree_insert(&w->tree, &idem->node.node);

    idem->held = 1;
    idem->armed = 1;
    idem->outcome = NGX_HTTP_PDF_REPORT_IDEM_NEW;
}


static void
ngx_http_pdf_report_idem_release(void *data)
{
    ngx_http_pdf_report_idem_t  *idem = data;

    if (idem->held) {
        ngx_rbtree_delete(&ngx_http_pdf_report_idem_worker.tree,
                          &idem->node.node);
        idem->held = 0;
    }
}


char *
ngx_http_pdf_report_idem_ttl_post(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *sec = data;

    if (*sec < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"pdf_report_idempotency_ttl\" must be at "
                           "least 1s");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ---- expired keys: deleted in bounded batches, off the event loop ---- */

ngx_int_t
ngx_http_pdf_report_idem_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_thread_task_t                  *task;
    ngx_http_pdf_report_idem_expiry_t  *x;
    ngx_http_pdf_report_idem_worker_t  *w;

    w = &ngx_http_pdf_report_idem_worker;

    ngx_memzero(w, sizeof(ngx_http_pdf_report_idem_worker_t));

    ngx_rbtree_init(&w->tree, &w->sentinel, ngx_str_rbtree_insert_value);

    w->pmcf = pmcf;

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_idem_expiry_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    x = task->ctx;
    x->db = pmcf->db;

    task->handler = ngx_http_pdf_report_idem_expire_handler;
    task->event.handler = ngx_http_pdf_report_idem_expire_done;
    task->event.data = w;
    w->task = task;

    w->timer.handler = ngx_http_pdf_report_idem_expire_check;
    w->timer.data = w;
    w->timer.log = cycle->log;

    /* a pending look must not keep a gracefully exiting worker alive */
    w->timer.cancelable = 1;

    ngx_add_timer(&w->timer,
                  ngx_random() % NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_MS + 1);

    return NGX_OK;
}


static void
ngx_http_pdf_report_idem_expire_check(ngx_event_t *ev)
{
    ngx_time_t                         *tp;
    ngx_http_pdf_report_idem_expiry_t  *x;
    ngx_http_pdf_report_idem_worker_t  *w;
    ngx_http_pdf_report_main_conf_t    *pmcf;

    w = ev->data;
    pmcf = w->pmcf;

    if (ngx_exiting || ngx_quit || ngx_terminate || pmcf->db.db == NULL) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_MS);

    if (w->busy || (pmcf->db.ops->remote && !pmcf->store_ready)) {
        return;
    }

    x = w->task->ctx;

    tp = ngx_timeofday();
    x->now_ms = (int64_t) tp->sec * 1000 + tp->msec;

    if (ngx_thread_task_post(pmcf->store_pool.pool, w->task) != NGX_OK) {
        return;
    }

    w->busy = 1;
}


/* in a pool thread: a few bounded transactions, each short */

static void
ngx_http_pdf_report_idem_expire_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_idem_expiry_t  *x = data;

    size_t      n;
    ngx_uint_t  i;

    x->rc = 0;
    x->deleted = 0;

    for (i = 0; i < NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_MAX; i++) {
        x->rc = x->db.ops->idem_expire(x->db.db, x->now_ms,
                                       NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_BATCH,
                                       &n);
        x->deleted += n;

        if (x->rc != 0 || n < NGX_HTTP_PDF_REPORT_IDEM_EXPIRE_BATCH) {
            break;
        }
    }
}


static void
ngx_http_pdf_report_idem_expire_done(ngx_event_t *ev)
{
    ngx_http_pdf_report_idem_expiry_t  *x;
    ngx_http_pdf_report_idem_worker_t  *w;
    ngx_http_pdf_report_main_conf_t    *pmcf;

    w = ev->data;
    pmcf = w->pmcf;
    x = w->task->ctx;

    w->busy = 0;

    if (x->rc != 0) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: deleting expired Idempotency-Keys "
                      "failed: %s", pmcf->db.ops->strerror(x->rc));
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pmcf->log, 0,
                   "pdf_report: %uz expired Idempotency-Keys deleted",
                   x->deleted);
}
