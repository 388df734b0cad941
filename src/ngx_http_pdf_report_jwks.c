
/*
 * The JWKS of "pdf_report_jwt_keys <url>" (contract section 11): one key
 * set for all workers, fetched by one of them at a time, off the event
 * loop, and again every refresh= or when a token names a kid the set does
 * not have (at most once a minute).
 *
 * The set lives in a shared zone of its own ("pdf_report_jwks"): the
 * document as fetched, a generation bumped when it changes, and who
 * fetches next and when.  A worker whose timer finds a fetch due takes a
 * lease on it under the zone's lock, so the workers make one fetch, not
 * one each; the fetch runs in a task of pdf_report_thread_pool
 * (pdf_report_fetch.c: libcurl, TLS verified) and checks the document
 * with the same parser as a file.  Its completion handler, on the event
 * loop, stores a valid document in the zone; a failed or invalid one is
 * logged, keeps the last good set and is tried again sooner (1 s,
 * doubling to a minute).  Each worker compares the zone's generation
 * with the one it parsed on every request and timer tick, and on a change
 * parses the new document and empties its token cache, so no cached
 * token outlives a key that left the set.  Until a first set is loaded
 * there is none: authentication answers 503 KEYS_UNAVAILABLE.
 *
 * Times are ngx_current_msec, CLOCK_MONOTONIC, the same in every process.
 * The zone is kept across reloads (same name and size), with its set when
 * the URL and CA are the same.
 */


#include "ngx_http_pdf_report_module.h"
#include "pdf_report_fetch.h"


/* the largest JWKS taken: some 250 RSA keys */
#define NGX_HTTP_PDF_REPORT_JWKS_MAX        (256 * 1024)

#define NGX_HTTP_PDF_REPORT_JWKS_CONNECT    5000
#define NGX_HTTP_PDF_REPORT_JWKS_TIMEOUT    15000

/* longer than a fetch: then the fetcher is taken for dead */
#define NGX_HTTP_PDF_REPORT_JWKS_LEASE      (NGX_HTTP_PDF_REPORT_JWKS_TIMEOUT \
                                             + 5000)

/* an unknown kid fetches at most this often, across the workers */
#define NGX_HTTP_PDF_REPORT_JWKS_KID_EVERY  60000

/* a failed fetch: again after 1 s, doubling to a minute */
#define NGX_HTTP_PDF_REPORT_JWKS_RETRY      1000
#define NGX_HTTP_PDF_REPORT_JWKS_RETRY_CAP  60000

/* how often a worker looks at the zone when nothing is due sooner */
#define NGX_HTTP_PDF_REPORT_JWKS_TICK       1000


struct ngx_http_pdf_report_jwks_shm_s {
    ngx_atomic_t              generation;  /* of doc; 0: none yet */
    uint32_t                  crc;         /* of the URL and CA */
    ngx_uint_t                epoch;       /* bumped when they change */
    ngx_msec_t                next_fetch;
    ngx_msec_t                kid_fetch;   /* the last for an unknown kid */
    ngx_uint_t                kid_fetched;
    ngx_pid_t                 fetcher;     /* 0: nobody fetches */
    ngx_msec_t                lease;       /* the fetcher's, until then */
    ngx_uint_t                failures;    /* in a row */
    time_t                    fetched;     /* the last good fetch */
    size_t                    len;
    u_char                    doc[NGX_HTTP_PDF_REPORT_JWKS_MAX];
};


typedef struct {
    ngx_http_pdf_report_main_conf_t  *pmcf;
    ngx_uint_t                        epoch;

    /* filled in the pool thread */
    pdf_report_fetch_result_t         res;
    int                               valid;
    size_t                            keys;
    char                              invalid[256];
    char                              skipped[512];
} ngx_http_pdf_report_jwks_task_t;


typedef struct {
    ngx_thread_task_t                *task;
    ngx_uint_t                        busy;
    ngx_event_t                       timer;
} ngx_http_pdf_report_jwks_worker_t;


static ngx_int_t ngx_http_pdf_report_jwks_init_zone(ngx_shm_zone_t *zone,
    void *data);
static uint32_t ngx_http_pdf_report_jwks_crc(
    ngx_http_pdf_report_main_conf_t *pmcf);
static void ngx_http_pdf_report_jwks_tick(ngx_event_t *ev);
static void ngx_http_pdf_report_jwks_sync(
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_log_t *log);
static void ngx_http_pdf_report_jwks_fetch(
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_uint_t kid);
static void ngx_http_pdf_report_jwks_handler(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_jwks_skipped(void *data, const char *msg);
static int ngx_http_pdf_report_jwks_cancelled(void);
static void ngx_http_pdf_report_jwks_done(ngx_event_t *ev);
static void ngx_http_pdf_report_jwks_arm(
    ngx_http_pdf_report_main_conf_t *pmcf);


/* one per worker process */
static ngx_http_pdf_report_jwks_worker_t  ngx_http_pdf_report_jwks_worker;


ngx_int_t
ngx_http_pdf_report_jwks_add_zone(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    size_t           size;
    ngx_str_t        name;
    ngx_shm_zone_t  *zone;

    ngx_str_set(&name, "pdf_report_jwks");

    /* the slab pool's own pages besides */
    size = ngx_align(sizeof(ngx_http_pdf_report_jwks_shm_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size,
                                 &ngx_http_pdf_report_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_pdf_report_jwks_init_zone;
    zone->data = pmcf;

    return NGX_OK;
}


/*
 * In the master.  A zone handed over by a reload keeps its set when the
 * URL and CA are the same; otherwise the set goes (the old workers keep
 * the one they parsed while they finish) and is fetched anew.
 */

static ngx_int_t
ngx_http_pdf_report_jwks_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = zone->data;

    uint32_t                         crc;
    ngx_slab_pool_t                 *shpool;
    ngx_http_pdf_report_jwks_shm_t  *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    crc = ngx_http_pdf_report_jwks_crc(pmcf);

    if (shpool->data != NULL) {
        sh = shpool->data;

        ngx_shmtx_lock(&shpool->mutex);

        if (sh->crc != crc) {
            sh->crc = crc;
            sh->epoch++;
            sh->len = 0;
            sh->next_fetch = 0;
            sh->kid_fetched = 0;
            sh->fetcher = 0;
            sh->failures = 0;
            sh->fetched = 0;
        }

        ngx_shmtx_unlock(&shpool->mutex);

        pmcf->jwks_shm = sh;
        pmcf->jwks_shpool = shpool;

        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_pdf_report_jwks_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->crc = crc;
    shpool->data = sh;

    pmcf->jwks_shm = sh;
    pmcf->jwks_shpool = shpool;

    return NGX_OK;
}


static uint32_t
ngx_http_pdf_report_jwks_crc(ngx_http_pdf_report_main_conf_t *pmcf)
{
    uint32_t  crc;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, (u_char *) pmcf->jwks_url,
                     ngx_strlen(pmcf->jwks_url) + 1);

    if (pmcf->jwks_ca != NULL) {
        ngx_crc32_update(&crc, (u_char *) pmcf->jwks_ca,
                         ngx_strlen(pmcf->jwks_ca));
    }

    ngx_crc32_final(crc);

    return crc;
}


ngx_int_t
ngx_http_pdf_report_jwks_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_thread_task_t                  *task;
    ngx_http_pdf_report_jwks_task_t    *t;
    ngx_http_pdf_report_jwks_worker_t  *w;

    w = &ngx_http_pdf_report_jwks_worker;

    ngx_memzero(w, sizeof(ngx_http_pdf_report_jwks_worker_t));

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_jwks_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    t = task->ctx;
    t->pmcf = pmcf;

    task->handler = ngx_http_pdf_report_jwks_handler;
    task->event.handler = ngx_http_pdf_report_jwks_done;
    task->event.data = task;
    w->task = task;

    w->timer.handler = ngx_http_pdf_report_jwks_tick;
    w->timer.data = pmcf;
    w->timer.log = cycle->log;

    /* a pending look must not keep a gracefully exiting worker alive */
    w->timer.cancelable = 1;

    /* at once: until a set is loaded, authentication answers 503 */
    ngx_add_timer(&w->timer, 1);

    return NGX_OK;
}


/* the pool threads were joined: no fetch is running */

void
ngx_http_pdf_report_jwks_exit_worker(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_jwks_shm_t   *sh;
    ngx_http_pdf_report_jwks_task_t  *t;

    sh = pmcf->jwks_shm;

    /* a fetch that ended after the last turn of the event loop */
    if (ngx_http_pdf_report_jwks_worker.task != NULL) {
        t = ngx_http_pdf_report_jwks_worker.task->ctx;
        free(t->res.body);
        t->res.body = NULL;
    }

    /* the lease of a fetch that will not finish goes back at once */
    if (sh != NULL && sh->fetcher == ngx_pid) {
        ngx_shmtx_lock(&pmcf->jwks_shpool->mutex);

        if (sh->fetcher == ngx_pid) {
            sh->fetcher = 0;
        }

        ngx_shmtx_unlock(&pmcf->jwks_shpool->mutex);
    }

    pdf_report_jwks_free(pmcf->jwks);
    pmcf->jwks = NULL;
}


/*
 * The set this worker verifies with, brought up to date with the zone;
 * NULL until a first one is loaded, with *retry_after the seconds until
 * the next attempt to fetch it.
 */

pdf_report_jwks_t *
ngx_http_pdf_report_jwks_current(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_log_t *log, time_t *retry_after)
{
    ngx_msec_int_t  d;

    ngx_http_pdf_report_jwks_sync(pmcf, log);

    if (pmcf->jwks == NULL) {
        d = (ngx_msec_int_t) (pmcf->jwks_shm->next_fetch - ngx_current_msec);
        *retry_after = (d > 1000) ? (time_t) ((d + 999) / 1000) : 1;
    }

    return pmcf->jwks;
}


/* a token named a kid the set does not have: the set may be old */

void
ngx_http_pdf_report_jwks_unknown_kid(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_http_pdf_report_jwks_fetch(pmcf, 1);
}


static void
ngx_http_pdf_report_jwks_tick(ngx_event_t *ev)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_pdf_report_jwks_sync(pmcf, ev->log);
    ngx_http_pdf_report_jwks_fetch(pmcf, 0);
    ngx_http_pdf_report_jwks_arm(pmcf);
}


/* the next look: when the next fetch is due, or within a second */

static void
ngx_http_pdf_report_jwks_arm(ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_msec_int_t                      d;
    ngx_http_pdf_report_jwks_worker_t  *w;

    w = &ngx_http_pdf_report_jwks_worker;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    d = (ngx_msec_int_t) (pmcf->jwks_shm->next_fetch - ngx_current_msec);

    if (d <= 0 || d > NGX_HTTP_PDF_REPORT_JWKS_TICK) {
        d = NGX_HTTP_PDF_REPORT_JWKS_TICK;
    }

    ngx_add_timer(&w->timer, (ngx_msec_t) d);
}


/*
 * The zone's document parsed into this worker's set when its generation
 * is not the one this worker has.  A copy is taken under the lock and
 * parsed outside it; it was checked by the worker that fetched it.
 */

static void
ngx_http_pdf_report_jwks_sync(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_log_t *log)
{
    char                             err[256];
    size_t                           len;
    u_char                          *copy;
    ngx_uint_t                       gen;
    pdf_report_jwks_t               *jwks;
    ngx_http_pdf_report_jwks_shm_t  *sh;

    sh = pmcf->jwks_shm;

    if (sh->generation == pmcf->jwks_gen) {
        return;
    }

    /* the largest a document may be: no malloc() under the lock */
    copy = ngx_alloc(NGX_HTTP_PDF_REPORT_JWKS_MAX, log);

    /* no memory: tried again at the next request */
    if (copy == NULL) {
        return;
    }

    ngx_shmtx_lock(&pmcf->jwks_shpool->mutex);

    gen = sh->generation;
    len = sh->len;
    ngx_memcpy(copy, sh->doc, len);

    ngx_shmtx_unlock(&pmcf->jwks_shpool->mutex);

    /* a reload to another URL: the set goes with it */
    if (len == 0) {
        ngx_free(copy);
        pmcf->jwks_gen = gen;
        return;
    }

    jwks = pdf_report_jwks_load((char *) copy, len, NULL, NULL, err,
                                sizeof(err));
    ngx_free(copy);

    pmcf->jwks_gen = gen;

    if (jwks == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "pdf_report: cannot use the JWKS of generation %ui "
                      "from \"%s\": %s; keeping the one before",
                      gen, pmcf->jwks_log_url, err);
        return;
    }

    pdf_report_jwks_free(pmcf->jwks);
    pmcf->jwks = jwks;

    /* what a removed key verified must be verified again, and refused */
    pdf_report_jwt_cache_clear(pmcf->jwt_cache);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "pdf_report: JWKS generation %ui in use, %uz key%s; the "
                  "token cache was emptied", gen, pdf_report_jwks_count(jwks),
                  pdf_report_jwks_count(jwks) == 1 ? "" : "s");
}


/*
 * On the event loop: a fetch when one is due (kid: for an unknown kid,
 * at most once a minute) and no other worker is fetching.
 */

static void
ngx_http_pdf_report_jwks_fetch(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_uint_t kid)
{
    ngx_msec_t                          now;
    ngx_slab_pool_t                    *shpool;
    ngx_http_pdf_report_jwks_shm_t     *sh;
    ngx_http_pdf_report_jwks_task_t    *t;
    ngx_http_pdf_report_jwks_worker_t  *w;

    w = &ngx_http_pdf_report_jwks_worker;

    if (w->task == NULL || w->busy
        || ngx_exiting || ngx_quit || ngx_terminate)
    {
        return;
    }

    sh = pmcf->jwks_shm;
    shpool = pmcf->jwks_shpool;
    t = w->task->ctx;
    now = ngx_current_msec;

    ngx_shmtx_lock(&shpool->mutex);

    if (sh->fetcher != 0 && (ngx_msec_int_t) (sh->lease - now) > 0) {
        ngx_shmtx_unlock(&shpool->mutex);
        return;
    }

    if (kid) {
        if (sh->kid_fetched
            && now - sh->kid_fetch < NGX_HTTP_PDF_REPORT_JWKS_KID_EVERY)
        {
            ngx_shmtx_unlock(&shpool->mutex);

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pmcf->log, 0,
                           "pdf_report: unknown kid, JWKS fetched for one "
                           "less than a minute ago");
            return;
        }

        sh->kid_fetched = 1;
        sh->kid_fetch = now;

    } else if ((ngx_msec_int_t) (sh->next_fetch - now) > 0) {
        ngx_shmtx_unlock(&shpool->mutex);
        return;
    }

    sh->fetcher = ngx_pid;
    sh->lease = now + NGX_HTTP_PDF_REPORT_JWKS_LEASE;
    t->epoch = sh->epoch;

    ngx_shmtx_unlock(&shpool->mutex);

    if (kid) {
        ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                      "pdf_report: a token names a kid that the JWKS does "
                      "not have: fetching \"%s\" again",
                      pmcf->jwks_log_url);
    }

    if (ngx_thread_task_post(pmcf->render_pool.pool, w->task) != NGX_OK) {
        ngx_shmtx_lock(&shpool->mutex);

        if (sh->fetcher == ngx_pid) {
            sh->fetcher = 0;
        }

        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: thread pool \"%V\" refused the JWKS "
                      "fetch; it is tried again shortly",
                      &pmcf->render_pool.name);
        return;
    }

    w->busy = 1;
}


/* ---- in a pool thread: libcurl and the parser only ---- */

static void
ngx_http_pdf_report_jwks_handler(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_jwks_task_t  *t = data;

    pdf_report_jwks_t        *jwks;
    pdf_report_fetch_conf_t   conf;

    t->valid = 0;
    t->keys = 0;
    t->invalid[0] = '\0';
    t->skipped[0] = '\0';

    conf.url = t->pmcf->jwks_url;
    conf.ca_file = t->pmcf->jwks_ca;
    conf.max_size = NGX_HTTP_PDF_REPORT_JWKS_MAX;
    conf.connect_ms = NGX_HTTP_PDF_REPORT_JWKS_CONNECT;
    conf.timeout_ms = NGX_HTTP_PDF_REPORT_JWKS_TIMEOUT;
    conf.cancelled = ngx_http_pdf_report_jwks_cancelled;

    if (pdf_report_fetch(&conf, &t->res) != 0) {
        return;
    }

    /* the rules of a file: kid, key size, no private members */
    jwks = pdf_report_jwks_load(t->res.body, t->res.len,
                                ngx_http_pdf_report_jwks_skipped, t,
                                t->invalid, sizeof(t->invalid));

    if (jwks == NULL) {
        return;
    }

    t->keys = pdf_report_jwks_count(jwks);
    t->valid = 1;

    pdf_report_jwks_free(jwks);
}


/* the keys skipped, for one log line: "JWKS key #2 (kid ...) skipped: ..." */

static void
ngx_http_pdf_report_jwks_skipped(void *data, const char *msg)
{
    ngx_http_pdf_report_jwks_task_t  *t = data;

    size_t  len;

    len = ngx_strlen(t->skipped);

    if (len + 2 >= sizeof(t->skipped)) {
        return;
    }

    (void) snprintf(t->skipped + len, sizeof(t->skipped) - len, "%s%s",
                    len ? "; " : "", msg);
}


/* nginx's own flags, as the uploads poll them */

static int
ngx_http_pdf_report_jwks_cancelled(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


/* ---- back on the event loop ---- */

static void
ngx_http_pdf_report_jwks_done(ngx_event_t *ev)
{
    ngx_thread_task_t  *task = ev->data;

    size_t                              len;
    time_t                              fetched;
    ngx_msec_t                          now, delay;
    ngx_uint_t                          gen, changed, had;
    ngx_slab_pool_t                    *shpool;
    ngx_http_pdf_report_jwks_shm_t     *sh;
    ngx_http_pdf_report_jwks_task_t    *t;
    ngx_http_pdf_report_main_conf_t    *pmcf;

    t = task->ctx;
    pmcf = t->pmcf;
    sh = pmcf->jwks_shm;
    shpool = pmcf->jwks_shpool;

    ngx_http_pdf_report_jwks_worker.busy = 0;

    len = t->res.len;
    now = ngx_current_msec;
    changed = 0;
    delay = 0;

    ngx_shmtx_lock(&shpool->mutex);

    /* a reload pointed the zone at another URL meanwhile */
    if (sh->epoch != t->epoch) {
        ngx_shmtx_unlock(&shpool->mutex);
        goto done;
    }

    if (sh->fetcher == ngx_pid) {
        sh->fetcher = 0;
    }

    /* cancelled by a reload or shutdown: no failure, the others go on */
    if (!t->valid && (ngx_exiting || ngx_quit || ngx_terminate)) {
        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_error(NGX_LOG_INFO, pmcf->log, 0,
                      "pdf_report: JWKS fetch from \"%s\" given up: the "
                      "worker is exiting", pmcf->jwks_log_url);
        goto done;
    }

    had = (sh->len > 0);
    fetched = sh->fetched;

    if (t->valid) {
        if (len != sh->len || ngx_memcmp(sh->doc, t->res.body, len) != 0) {
            ngx_memcpy(sh->doc, t->res.body, len);
            sh->len = len;

            /* after the copy: a worker that sees it takes the lock */
            (void) ngx_atomic_fetch_add(&sh->generation, 1);
            changed = 1;
        }

        sh->fetched = ngx_time();
        sh->failures = 0;
        sh->next_fetch = now + pmcf->jwks_refresh;

    } else {
        sh->failures++;

        delay = NGX_HTTP_PDF_REPORT_JWKS_RETRY_CAP;

        if (sh->failures <= 6) {
            delay = NGX_HTTP_PDF_REPORT_JWKS_RETRY << (sh->failures - 1);
        }

        if (delay > pmcf->jwks_refresh) {
            delay = pmcf->jwks_refresh;
        }

        sh->next_fetch = now + delay;
    }

    gen = sh->generation;

    ngx_shmtx_unlock(&shpool->mutex);

    /* the keys skipped, once for each new document (not at each refresh) */
    if (t->skipped[0] != '\0' && (changed || !t->valid)) {
        ngx_log_error(NGX_LOG_WARN, pmcf->log, 0,
                      "pdf_report: JWKS from \"%s\": %s",
                      pmcf->jwks_log_url, t->skipped);
    }

    if (t->valid && changed) {
        ngx_log_error(NGX_LOG_NOTICE, pmcf->log, 0,
                      "pdf_report: JWKS fetched from \"%s\": %uz key%s, "
                      "generation %ui", pmcf->jwks_log_url, t->keys,
                      t->keys == 1 ? "" : "s", gen);

    } else if (t->valid) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pmcf->log, 0,
                       "pdf_report: JWKS from \"%s\" unchanged, generation "
                       "%ui", pmcf->jwks_log_url, gen);

    } else if (had) {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: JWKS fetch from \"%s\" failed: %s%s; "
                      "keeping the keys fetched %T s ago, next attempt in "
                      "%M ms", pmcf->jwks_log_url,
                      t->res.error[0] ? t->res.error : "invalid JWKS: ",
                      t->res.error[0] ? "" : t->invalid,
                      ngx_time() - fetched, delay);

    } else {
        ngx_log_error(NGX_LOG_ERR, pmcf->log, 0,
                      "pdf_report: JWKS fetch from \"%s\" failed: %s%s; no "
                      "keys yet: authenticated requests are answered 503 "
                      "KEYS_UNAVAILABLE, next attempt in %M ms",
                      pmcf->jwks_log_url,
                      t->res.error[0] ? t->res.error : "invalid JWKS: ",
                      t->res.error[0] ? "" : t->invalid, delay);
    }

done:

    free(t->res.body);
    t->res.body = NULL;

    ngx_http_pdf_report_jwks_sync(pmcf, pmcf->log);
    ngx_http_pdf_report_jwks_arm(pmcf);
}
