
/*
 * Webhooks (contract section 10): the directives, and each worker's
 * deliveries.  The store records a job's event in the transaction that
 * ends the job (pdf_report_store_hooks.c; pdf_report_pg_jobs.c), so a
 * crash loses none.  Each worker looks every second (and when one of its
 * jobs ends), and when an event is due posts its one delivery task to
 * pdf_report_webhook_thread_pool.  The task takes due events under a
 * lease, a few of each org at a time, and sends them all at once with
 * curl's multi interface, taking more as others finish: a receiver that
 * is slow or dead holds its own org's few slots for up to 15 s and
 * nobody else's.  Outcomes are recorded as they come: a 2xx ends the
 * event, a 410 stops it, anything else is tried again on
 * pdf_report_webhook_schedule with up to a tenth added at random, and
 * the event is given up after the last.  A worker that exits gives its
 * events back at once; one that dies leaves them leased, and another
 * takes them over when the lease runs out.  The task touches no nginx
 * API: what it saw is logged by its completion handler.
 */


#include "ngx_http_pdf_report_module.h"

#include <curl/curl.h>
#include <openssl/rand.h>


/* deliveries in flight a worker, and of one org */
#define NGX_HTTP_PDF_REPORT_HOOK_SLOTS      64
#define NGX_HTTP_PDF_REPORT_HOOK_ORG_SLOTS  4

/* a taken event is another worker's after this (a delivery takes 15 s) */
#define NGX_HTTP_PDF_REPORT_HOOK_LEASE      20000

/* how often each worker looks for due events */
#define NGX_HTTP_PDF_REPORT_HOOK_CHECK      1000

/* a task stops taking new events after this, so that it ends and logs */
#define NGX_HTTP_PDF_REPORT_HOOK_ROUND      10000

/* outcomes one task keeps for the log; the rest are counted */
#define NGX_HTTP_PDF_REPORT_HOOK_LOGS       128


typedef struct {
    char                          id[PDF_REPORT_UUID_LEN + 1];
    char                          org[PDF_REPORT_ORG_MAX + 1];
    char                          error[160];
    unsigned                      outcome;
    uint32_t                      attempt;      /* this one, from 1 */
    long                          status;
    int64_t                       next_ms;
} ngx_http_pdf_report_hook_log_t;


typedef struct {
    pdf_report_hook_t             hook;
    pdf_report_webhook_req_t      req;
    pdf_report_webhook_msg_t      msg;
    char                          msg_id[4 + PDF_REPORT_UUID_LEN + 1];
    unsigned                      busy;
} ngx_http_pdf_report_hook_slot_t;


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    pdf_report_db_t                   db;
    pdf_report_webhook_conf_t         conf;

    ngx_http_pdf_report_hook_slot_t   slots[NGX_HTTP_PDF_REPORT_HOOK_SLOTS];
    pdf_report_hook_t                 taken[NGX_HTTP_PDF_REPORT_HOOK_SLOTS];
    pdf_report_hook_t                 done[NGX_HTTP_PDF_REPORT_HOOK_SLOTS];

    ngx_http_pdf_report_hook_log_t    logs[NGX_HTTP_PDF_REPORT_HOOK_LOGS];
    ngx_uint_t                        nlogs;
    char                              room[NGX_HTTP_PDF_REPORT_HOOK_SLOTS]
                                          [PDF_REPORT_ORG_MAX + 1];
    ngx_uint_t                        nroom;
    ngx_uint_t                        unlogged;
    ngx_uint_t                        delivered;
    unsigned                          more;
    int                               store_rc;
    const char                       *store_what;
} ngx_http_pdf_report_hook_task_t;


typedef struct {
    ngx_thread_task_t                *task;
    ngx_uint_t                        busy;
    ngx_uint_t                        again;     /* kicked while busy */
    ngx_event_t                       timer;
} ngx_http_pdf_report_hooker_t;


static void ngx_http_pdf_report_hooks_check(ngx_event_t *ev);
static void ngx_http_pdf_report_hooks_post(
    ngx_http_pdf_report_main_conf_t *pmcf);
static void ngx_http_pdf_report_hooks_handler(void *data, ngx_log_t *log);
static ngx_uint_t ngx_http_pdf_report_hooks_fill(
    ngx_http_pdf_report_hook_task_t *t, CURLM *multi, ngx_uint_t *inflight);
static void ngx_http_pdf_report_hooks_outcome(
    ngx_http_pdf_report_hook_task_t *t, ngx_http_pdf_report_hook_slot_t *s,
    int rc, pdf_report_webhook_result_t *res);
static void ngx_http_pdf_report_hooks_record(
    ngx_http_pdf_report_hook_task_t *t, ngx_uint_t n);
static int ngx_http_pdf_report_hooks_room(void *data, const char *org);
static int ngx_http_pdf_report_hooks_cancelled(void);
static void ngx_http_pdf_report_hooks_done(ngx_event_t *ev);


/* one per worker process */
static ngx_http_pdf_report_hooker_t  ngx_http_pdf_report_hooker;


/* ---- directives ---- */


static void
ngx_http_pdf_report_webhooks_free(void *data)
{
    pdf_report_webhooks_free(data);
}


/* pdf_report_webhooks <file.jsonl> [ca=<file>] | off */

char *
ngx_http_pdf_report_webhooks_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    char                    err[512];
    ngx_str_t              *value;
    ngx_pool_cleanup_t     *cln;
    pdf_report_webhooks_t  *hooks;

    if (pmcf->webhooks_file.data != NULL || pmcf->webhooks_off) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes nothing after \"off\"";
        }

        pmcf->webhooks_off = 1;
        return NGX_CONF_OK;
    }

    pmcf->webhooks_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &pmcf->webhooks_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (value[2].len <= 3 || ngx_strncmp(value[2].data, "ca=", 3) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": only ca=<file> "
                               "may follow the file", &value[2]);
            return NGX_CONF_ERROR;
        }

        pmcf->webhooks_ca.data = value[2].data + 3;
        pmcf->webhooks_ca.len = value[2].len - 3;

        if (ngx_conf_full_name(cf->cycle, &pmcf->webhooks_ca, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    /* read here, so that a bad line is reported against this one */
    hooks = ngx_pcalloc(cf->pool, sizeof(pdf_report_webhooks_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (hooks == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pdf_report_webhooks_load((char *) pmcf->webhooks_file.data, hooks,
                                 err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid webhooks: %s",
                           err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_pdf_report_webhooks_free;
    cln->data = hooks;
    pmcf->webhooks = hooks;

    return NGX_CONF_OK;
}


/* pdf_report_webhook_allow <host|address|CIDR> ...; more lines add */

char *
ngx_http_pdf_report_webhook_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    char                         err[128];
    ngx_str_t                   *value;
    ngx_uint_t                   i;
    pdf_report_webhook_allow_t  *a;

    if (pmcf->webhook_allow == NULL) {
        pmcf->webhook_allow = ngx_array_create(cf->pool, 4,
                                  sizeof(pdf_report_webhook_allow_t));
        if (pmcf->webhook_allow == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        a = ngx_array_push(pmcf->webhook_allow);
        if (a == NULL) {
            return NGX_CONF_ERROR;
        }

        if (pdf_report_webhook_allow_parse(a, (char *) value[i].data,
                                           value[i].len, err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid destination \"%V\": %s",
                               &value[i], err);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* pdf_report_webhook_schedule <time> ...: the delays between attempts */

char *
ngx_http_pdf_report_webhook_schedule(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_msec_t  *ms, v;

    if (pmcf->webhook_schedule != NULL) {
        return "is duplicate";
    }

    pmcf->webhook_schedule = ngx_array_create(cf->pool, cf->args->nelts,
                                              sizeof(ngx_msec_t));
    if (pmcf->webhook_schedule == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        v = ngx_parse_time(&value[i], 0);

        if (v == (ngx_msec_t) NGX_ERROR || v == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid delay \"%V\": a time of at least "
                               "1ms, as in 5s, 5m or 2h", &value[i]);
            return NGX_CONF_ERROR;
        }

        ms = ngx_array_push(pmcf->webhook_schedule);
        if (ms == NULL) {
            return NGX_CONF_ERROR;
        }

        *ms = v;
    }

    return NGX_CONF_OK;
}


/* from init_main_conf: the file read (a bad line refuses the config) */

ngx_int_t
ngx_http_pdf_report_webhooks_conf(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_msec_t  *ms;

    /* the Standard Webhooks schedule */
    static ngx_msec_t  standard[] = { 5000, 300000, 1800000, 7200000,
                                      18000000, 36000000, 36000000 };

    if (pmcf->webhook_schedule == NULL) {
        pmcf->webhook_schedule = ngx_array_create(cf->pool, 7,
                                                  sizeof(ngx_msec_t));
        if (pmcf->webhook_schedule == NULL) {
            return NGX_ERROR;
        }

        ms = ngx_array_push_n(pmcf->webhook_schedule, 7);
        if (ms == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ms, standard, sizeof(standard));
    }

    if (pmcf->webhook_pool.pool == NULL) {
        pmcf->webhook_pool = pmcf->render_pool;
    }

    if (pmcf->webhooks == NULL) {
        return NGX_OK;
    }

    pmcf->webhook_conf.allow = pmcf->webhook_allow
                               ? pmcf->webhook_allow->elts : NULL;
    pmcf->webhook_conf.nallow = pmcf->webhook_allow
                                ? pmcf->webhook_allow->nelts : 0;
    pmcf->webhook_conf.ca_file = pmcf->webhooks_ca.data
                                 ? (char *) pmcf->webhooks_ca.data : NULL;
    pmcf->webhook_conf.timeout_ms = PDF_REPORT_WEBHOOK_TIMEOUT_MS;
    pmcf->webhook_conf.cancelled = ngx_http_pdf_report_hooks_cancelled;

    return NGX_OK;
}


/* ---- each worker ---- */


ngx_int_t
ngx_http_pdf_report_webhooks_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_thread_task_t                *task;
    ngx_http_pdf_report_hooker_t     *hk;
    ngx_http_pdf_report_hook_task_t  *t;

    hk = &ngx_http_pdf_report_hooker;
    ngx_memzero(hk, sizeof(ngx_http_pdf_report_hooker_t));

    if (pmcf->webhooks == NULL) {
        return NGX_OK;
    }

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_hook_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    t = task->ctx;
    t->pmcf = pmcf;
    t->db = pmcf->db;
    t->conf = pmcf->webhook_conf;

    task->handler = ngx_http_pdf_report_hooks_handler;
    task->event.handler = ngx_http_pdf_report_hooks_done;
    task->event.data = hk;
    hk->task = task;

    hk->timer.handler = ngx_http_pdf_report_hooks_check;
    hk->timer.data = pmcf;
    hk->timer.log = cycle->log;
    hk->timer.cancelable = 1;

    ngx_add_timer(&hk->timer,
                  ngx_random() % NGX_HTTP_PDF_REPORT_HOOK_CHECK + 1);

    return NGX_OK;
}


/* a job of this worker ended: its event may be due now */

void
ngx_http_pdf_report_webhooks_kick(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_hooker_t  *hk;

    hk = &ngx_http_pdf_report_hooker;

    if (hk->task == NULL || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (hk->busy) {
        hk->again = 1;
        return;
    }

    ngx_http_pdf_report_hooks_post(pmcf);
}


static void
ngx_http_pdf_report_hooks_check(ngx_event_t *ev)
{
    int                               rc;
    ngx_time_t                       *tp;
    ngx_http_pdf_report_hooker_t     *hk;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ev->data;
    hk = &ngx_http_pdf_report_hooker;

    if (ngx_exiting || ngx_quit || ngx_terminate || pmcf->db.db == NULL) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_HOOK_CHECK);

    if (hk->busy) {
        return;
    }

    /* a remote store is not read on the event loop: the task looks */
    if (pmcf->db.ops->remote) {
        if (pmcf->store_ready) {
            ngx_http_pdf_report_hooks_post(pmcf);
        }

        return;
    }

    tp = ngx_timeofday();

    rc = pmcf->db.ops->hooks_due(pmcf->db.db,
                                 (int64_t) tp->sec * 1000 + tp->msec);

    if (rc < 0 || rc > 1) {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: store read for webhooks failed: %s",
                      pmcf->db.ops->strerror(rc));
        return;
    }

    if (rc == 1) {
        ngx_http_pdf_report_hooks_post(pmcf);
    }
}


static void
ngx_http_pdf_report_hooks_post(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_hooker_t  *hk;

    hk = &ngx_http_pdf_report_hooker;
    hk->again = 0;

    /* a full queue: the next look tries again */
    if (ngx_thread_task_post(pmcf->webhook_pool.pool, hk->task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: thread pool \"%V\" refused a webhook "
                      "delivery pass; it is tried again shortly",
                      &pmcf->webhook_pool.name);
        return;
    }

    hk->busy = 1;
}


/* ---- in a pool thread: the store and curl only ---- */


static void
ngx_http_pdf_report_hooks_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_hook_task_t  *t = data;

    int                                rc, running, numfds;
    int64_t                            start;
    CURL                              *easy;
    CURLM                             *multi;
    CURLMsg                           *m;
    CURLcode                           cc;
    ngx_uint_t                         i, inflight, finished, taking;
    pdf_report_webhook_req_t          *req;
    pdf_report_webhook_result_t        res;
    ngx_http_pdf_report_hook_slot_t   *s;

    t->nlogs = 0;
    t->unlogged = 0;
    t->delivered = 0;
    t->more = 0;
    t->store_rc = 0;

    for (i = 0; i < NGX_HTTP_PDF_REPORT_HOOK_SLOTS; i++) {
        t->slots[i].busy = 0;
    }

    multi = curl_multi_init();
    if (multi == NULL) {
        t->store_rc = -1;
        t->store_what = "curl_multi_init()";
        return;
    }

    start = pdf_report_now_ms();
    inflight = 0;
    taking = 1;

    for ( ;; ) {
        if (ngx_http_pdf_report_hooks_cancelled()
            || pdf_report_now_ms() - start >= NGX_HTTP_PDF_REPORT_HOOK_ROUND
            || t->store_rc != 0)
        {
            taking = 0;
        }

        /* while others are under way, events that came due meanwhile
         * (another org's, say) start at once: a look, then a take */
        if (taking && inflight < NGX_HTTP_PDF_REPORT_HOOK_SLOTS
            && (inflight == 0
                || t->db.ops->hooks_due(t->db.db, pdf_report_now_ms()) == 1))
        {
            if (!ngx_http_pdf_report_hooks_fill(t, multi, &inflight)
                && inflight == 0)
            {
                break;
            }
        }

        if (inflight == 0) {
            break;
        }

        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            break;
        }

        finished = 0;

        while ((m = curl_multi_info_read(multi, &rc)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }

            /* the message goes with its handle */
            cc = m->data.result;
            easy = m->easy_handle;

            req = NULL;
            (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &req);
            (void) curl_multi_remove_handle(multi, easy);

            s = (ngx_http_pdf_report_hook_slot_t *)
                ((char *) req - offsetof(ngx_http_pdf_report_hook_slot_t,
                                         req));

            rc = pdf_report_webhook_finish(&s->req, cc, &res);

            /* cut short by the worker's exit: not an attempt */
            if (cc == CURLE_ABORTED_BY_CALLBACK) {
                s->hook.outcome = PDF_REPORT_HOOK_UNTRIED;
                s->hook.next_ms = pdf_report_now_ms();

            } else {
                ngx_http_pdf_report_hooks_outcome(t, s, rc, &res);
            }

            t->done[finished++] = s->hook;
            s->busy = 0;
            inflight--;
        }

        if (finished > 0) {
            ngx_http_pdf_report_hooks_record(t, finished);
        }

        if (inflight > 0) {
            (void) curl_multi_poll(multi, NULL, 0, taking ? 200 : 1000,
                                   &numfds);
        }
    }

    /* given back when the worker exits or curl failed: due again now */
    finished = 0;

    for (i = 0; i < NGX_HTTP_PDF_REPORT_HOOK_SLOTS; i++) {
        s = &t->slots[i];

        if (!s->busy) {
            continue;
        }

        (void) curl_multi_remove_handle(multi, s->req.curl);
        (void) pdf_report_webhook_finish(&s->req, CURLE_ABORTED_BY_CALLBACK,
                                         &res);
        s->hook.outcome = PDF_REPORT_HOOK_UNTRIED;
        s->hook.next_ms = pdf_report_now_ms();
        t->done[finished++] = s->hook;
        s->busy = 0;
    }

    if (finished > 0) {
        ngx_http_pdf_report_hooks_record(t, finished);
    }

    curl_multi_cleanup(multi);
}


/* takes due events into free slots and starts them; 0: none was due */

static ngx_uint_t
ngx_http_pdf_report_hooks_fill(ngx_http_pdf_report_hook_task_t *t,
    CURLM *multi, ngx_uint_t *inflight)
{
    int                               rc;
    size_t                            n, i, j, untried;
    unsigned                          more;
    int64_t                           now;
    pdf_report_webhook_result_t       res;
    const pdf_report_webhook_t       *w;
    ngx_http_pdf_report_hook_slot_t  *s;

    now = pdf_report_now_ms();
    t->nroom = 0;

    rc = t->db.ops->hooks_take(t->db.db, now, NGX_HTTP_PDF_REPORT_HOOK_LEASE,
                               ngx_http_pdf_report_hooks_room, t, t->taken,
                               NGX_HTTP_PDF_REPORT_HOOK_SLOTS - *inflight,
                               &n, &more);
    if (rc != 0) {
        t->store_rc = rc;
        t->store_what = "take";
        return 0;
    }

    t->more = more;
    untried = 0;
    j = 0;

    for (i = 0; i < n; i++) {
        while (t->slots[j].busy) {
            j++;
        }

        s = &t->slots[j];
        s->hook = t->taken[i];

        /* the org's webhook went with a reload: the event is dropped */
        w = pdf_report_webhooks_find(t->pmcf->webhooks, s->hook.org);

        if (w == NULL) {
            s->hook.outcome = PDF_REPORT_HOOK_DROPPED;
            ngx_http_pdf_report_hooks_outcome(t, s, -2, NULL);
            t->done[untried++] = s->hook;
            continue;
        }

        ngx_memcpy(s->msg_id, "msg_", 4);
        ngx_memcpy(s->msg_id + 4, s->hook.id, sizeof(s->hook.id));

        s->msg.url = w->url;
        s->msg.key = w->key;
        s->msg.key_len = w->key_len;
        s->msg.id = s->msg_id;
        s->msg.timestamp = pdf_report_now_ms() / 1000;
        s->msg.body = s->hook.body;
        s->msg.len = s->hook.len;

        if (pdf_report_webhook_start(&s->req, &t->conf, &s->msg, &res) != 0
            || curl_multi_add_handle(multi, s->req.curl) != CURLM_OK)
        {
            if (s->req.curl != NULL) {
                (void) pdf_report_webhook_finish(&s->req, CURLE_FAILED_INIT,
                                                 &res);
            }

            ngx_http_pdf_report_hooks_outcome(t, s, -1, &res);
            t->done[untried++] = s->hook;
            continue;
        }

        s->busy = 1;
        (*inflight)++;
    }

    if (untried > 0) {
        ngx_http_pdf_report_hooks_record(t, untried);
    }

    return n > 0;
}


/* what an attempt's end means for its event, and a line for the log */

static void
ngx_http_pdf_report_hooks_outcome(ngx_http_pdf_report_hook_task_t *t,
    ngx_http_pdf_report_hook_slot_t *s, int rc,
    pdf_report_webhook_result_t *res)
{
    uint32_t                         n, jitter;
    ngx_msec_t                      *delays;
    pdf_report_hook_t               *h;
    ngx_http_pdf_report_hook_log_t  *l;

    h = &s->hook;
    n = t->pmcf->webhook_schedule->nelts;
    delays = t->pmcf->webhook_schedule->elts;

    if (rc == 0) {
        h->outcome = PDF_REPORT_HOOK_DELIVERED;
        t->delivered++;

    } else if (rc == -2) {
        h->outcome = PDF_REPORT_HOOK_DROPPED;

    } else if (res->status == 410 || h->attempts >= n) {
        h->outcome = PDF_REPORT_HOOK_DROPPED;

    } else {
        if (RAND_bytes((u_char *) &jitter, sizeof(jitter)) != 1) {
            jitter = 0;
        }

        /* up to a tenth more, so retries of many events spread out */
        h->outcome = PDF_REPORT_HOOK_RETRY;
        h->next_ms = pdf_report_now_ms() + delays[h->attempts]
                     + (int64_t) (jitter % (delays[h->attempts] / 10 + 1));
    }

    if (t->nlogs == NGX_HTTP_PDF_REPORT_HOOK_LOGS) {
        t->unlogged++;
        return;
    }

    l = &t->logs[t->nlogs++];
    ngx_memcpy(l->id, h->id, sizeof(l->id));
    ngx_memcpy(l->org, h->org, sizeof(l->org));
    l->outcome = h->outcome;
    l->attempt = h->attempts + 1;
    l->next_ms = h->next_ms;
    l->status = res ? res->status : 0;
    ngx_cpystrn((u_char *) l->error, (u_char *) (res ? res->error : ""),
                sizeof(l->error));
}


static void
ngx_http_pdf_report_hooks_record(ngx_http_pdf_report_hook_task_t *t,
    ngx_uint_t n)
{
    int  rc;

    rc = t->db.ops->hooks_done(t->db.db, t->done, n);

    /* the leases run out and the events are delivered again: at least
     * once, which receivers deduplicate by webhook-id */
    if (rc != 0 && t->store_rc == 0) {
        t->store_rc = rc;
        t->store_what = "record";
    }
}


/* called by the store for each due event before it takes it */

static int
ngx_http_pdf_report_hooks_room(void *data, const char *org)
{
    ngx_http_pdf_report_hook_task_t  *t = data;

    ngx_uint_t  i, n;

    n = 0;

    for (i = 0; i < NGX_HTTP_PDF_REPORT_HOOK_SLOTS; i++) {
        if (t->slots[i].busy && ngx_strcmp(t->slots[i].hook.org, org) == 0) {
            n++;
        }
    }

    /* and those this take has said yes to */
    for (i = 0; i < t->nroom; i++) {
        if (ngx_strcmp(t->room[i], org) == 0) {
            n++;
        }
    }

    if (n >= NGX_HTTP_PDF_REPORT_HOOK_ORG_SLOTS
        || t->nroom == NGX_HTTP_PDF_REPORT_HOOK_SLOTS)
    {
        return 0;
    }

    ngx_cpystrn((u_char *) t->room[t->nroom++], (u_char *) org,
                PDF_REPORT_ORG_MAX + 1);

    return 1;
}


static int
ngx_http_pdf_report_hooks_cancelled(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


/* ---- back on the event loop ---- */


static void
ngx_http_pdf_report_hooks_done(ngx_event_t *ev)
{
    ngx_http_pdf_report_hooker_t     *hk = ev->data;

    time_t                            in;
    ngx_uint_t                        i;
    ngx_http_pdf_report_hook_task_t  *t;
    ngx_http_pdf_report_hook_log_t   *l;
    ngx_http_pdf_report_main_conf_t  *pmcf;
    char                              org[PDF_REPORT_LOG_ORG];

    t = hk->task->ctx;
    pmcf = t->pmcf;
    hk->busy = 0;

    for (i = 0; i < t->nlogs; i++) {
        l = &t->logs[i];
        pdf_report_log_escape(org, sizeof(org), l->org);

        switch (l->outcome) {

        case PDF_REPORT_HOOK_DELIVERED:
            ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                          "pdf_report: webhook msg_%s of job %s delivered "
                          "(attempt %uD); org \"%s\"", l->id, l->id,
                          l->attempt, org);
            break;

        case PDF_REPORT_HOOK_RETRY:
            in = (time_t) ((l->next_ms - pdf_report_now_ms() + 999) / 1000);
            ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                          "pdf_report: webhook msg_%s of job %s failed "
                          "(attempt %uD): %s; tried again in %T s; org "
                          "\"%s\"", l->id, l->id, l->attempt, l->error, in,
                          org);
            break;

        default:
            if (l->error[0] == '\0') {
                ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                              "pdf_report: webhook msg_%s of job %s "
                              "dropped: org \"%s\" has no webhook any more",
                              l->id, l->id, org);

            } else if (l->status == 410) {
                ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                              "pdf_report: webhook msg_%s of job %s "
                              "stopped: %s (410 Gone: no more attempts); "
                              "org \"%s\"", l->id, l->id, l->error, org);

            } else {
                ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                              "pdf_report: webhook msg_%s of job %s given "
                              "up after %uD attempts: %s; org \"%s\"",
                              l->id, l->id, l->attempt, l->error, org);
            }
        }
    }

    if (t->unlogged) {
        ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                      "pdf_report: %ui more webhook outcome(s) not logged "
                      "one by one", t->unlogged);
    }

    if (t->store_rc != 0) {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: webhooks: %s failed: %s", t->store_what,
                      t->store_rc == -1 ? "out of memory"
                      : pmcf->db.ops->strerror(t->store_rc));
        return;
    }

    if ((t->more || hk->again)
        && !(ngx_exiting || ngx_quit || ngx_terminate))
    {
        ngx_http_pdf_report_hooks_post(pmcf);
    }
}
