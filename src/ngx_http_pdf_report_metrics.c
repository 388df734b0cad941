
/*
 * Prometheus metrics (contract section 9).  The counters live in the
 * module's shared memory zone, so they are summed over all workers
 * without a lock (atomic adds) and kept across reloads (nginx hands a
 * zone of the same name and size to the new cycle); a scrape reads them
 * and two numbers of the store, and walks no job.
 */


#include "ngx_http_pdf_report_module.h"


#define NGX_HTTP_PDF_REPORT_M_BUCKETS  16


/*
 * Job duration (claim to upload done): a render takes 5 to 30 ms, an
 * upload tens of ms, retries seconds, and the job timeout is minutes
 */
static const ngx_msec_t  ngx_http_pdf_report_m_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
    120000, 300000
};

static const char  *ngx_http_pdf_report_m_le[] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10", "30", "60", "120", "300"
};


static const char  *ngx_http_pdf_report_m_endpoints[] = {
    "create", "status", "url"
};


/* the FAILED errorCodes, in the order of the finished[] counters */
static const char  *ngx_http_pdf_report_m_codes[] = {
    "USER_NOT_FOUND", "NOT_CONNECTED", "RENDER_FAILED", "UPLOAD_FAILED",
    "TIMEOUT", "PROCESSING_FAILED", NULL
};


#define NGX_HTTP_PDF_REPORT_M_CODES  6


struct ngx_http_pdf_report_metrics_s {
    ngx_atomic_t              created;
    ngx_atomic_t              complete;
    ngx_atomic_t              failed[NGX_HTTP_PDF_REPORT_M_CODES + 1];
    ngx_atomic_t              responses[3][500];   /* status 100 to 599 */
    ngx_atomic_t              duration[NGX_HTTP_PDF_REPORT_M_BUCKETS];
    ngx_atomic_t              duration_count;
    ngx_atomic_t              duration_ms;         /* the sum */
    ngx_atomic_t              s3[2][3];            /* op x result */
    ngx_atomic_t              deleted[2];          /* retention, revoked */
    ngx_atomic_t              jwt_hits;
    ngx_atomic_t              jwt_misses;

    /* a remote store's job gauges, as a worker's last scan counted */
    ngx_atomic_t              jobs_pending;
    ngx_atomic_t              jobs_running;
    ngx_atomic_t              jobs_counted;
};


static ngx_http_pdf_report_metrics_t *ngx_http_pdf_report_m(
    ngx_http_request_t *r);
static u_char *ngx_http_pdf_report_metrics_text(u_char *p, u_char *end,
    ngx_http_pdf_report_metrics_t *m, ngx_http_pdf_report_main_conf_t *pmcf);


/*
 * In the zone's init, in the master: the last cycle's counters when the
 * zone was handed over with them, new ones otherwise.
 */

ngx_int_t
ngx_http_pdf_report_metrics_init(ngx_shm_zone_t *shm_zone,
    ngx_http_pdf_report_metrics_t **metrics)
{
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shpool->data != NULL) {
        *metrics = shpool->data;
        return NGX_OK;
    }

    *metrics = ngx_slab_calloc(shpool, sizeof(ngx_http_pdf_report_metrics_t));
    if (*metrics == NULL) {
        return NGX_ERROR;
    }

    shpool->data = *metrics;

    return NGX_OK;
}


/* the zone's size: the counters and the slab pool's own pages */

size_t
ngx_http_pdf_report_metrics_zone_size(void)
{
    return ngx_align(sizeof(ngx_http_pdf_report_metrics_t), ngx_pagesize)
           + 8 * ngx_pagesize;
}


void
ngx_http_pdf_report_metrics_response(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_uint_t endpoint, ngx_uint_t status)
{
    if (pmcf->metrics != NULL && endpoint < 3
        && status >= 100 && status < 600)
    {
        (void) ngx_atomic_fetch_add(
                   &pmcf->metrics->responses[endpoint][status - 100], 1);
    }
}


void
ngx_http_pdf_report_metrics_created(ngx_http_pdf_report_main_conf_t *pmcf)
{
    if (pmcf->metrics != NULL) {
        (void) ngx_atomic_fetch_add(&pmcf->metrics->created, 1);
    }
}


void
ngx_http_pdf_report_metrics_jwt_cache(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_uint_t hit)
{
    if (pmcf->metrics != NULL) {
        (void) ngx_atomic_fetch_add(hit ? &pmcf->metrics->jwt_hits
                                        : &pmcf->metrics->jwt_misses, 1);
    }
}


/* a job that became terminal: its errorCode, NULL for COMPLETE */

void
ngx_http_pdf_report_metrics_finished(ngx_http_pdf_report_main_conf_t *pmcf,
    const char *error_code, ngx_uint_t n, ngx_msec_t duration_ms)
{
    ngx_uint_t                      i;
    ngx_http_pdf_report_metrics_t  *m;

    m = pmcf->metrics;

    if (m == NULL || n == 0) {
        return;
    }

    if (error_code != NULL) {
        for (i = 0; ngx_http_pdf_report_m_codes[i] != NULL; i++) {
            if (ngx_strcmp(ngx_http_pdf_report_m_codes[i], error_code) == 0)
            {
                break;
            }
        }

        (void) ngx_atomic_fetch_add(&m->failed[i], n);
        return;
    }

    (void) ngx_atomic_fetch_add(&m->complete, 1);

    for (i = 0; i < NGX_HTTP_PDF_REPORT_M_BUCKETS - 1; i++) {
        if (duration_ms <= ngx_http_pdf_report_m_bounds[i]) {
            break;
        }
    }

    /* per bucket here; the scrape adds them up as Prometheus wants */
    (void) ngx_atomic_fetch_add(&m->duration[i], 1);
    (void) ngx_atomic_fetch_add(&m->duration_count, 1);
    (void) ngx_atomic_fetch_add(&m->duration_ms, duration_ms);
}


/* op: 0 put, 1 delete; result: 0 ok, 1 retry, 2 error */

void
ngx_http_pdf_report_metrics_s3(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_uint_t op, ngx_uint_t result, ngx_uint_t n)
{
    if (pmcf->metrics != NULL && n > 0) {
        (void) ngx_atomic_fetch_add(&pmcf->metrics->s3[op][result], n);
    }
}


/* a remote store's gauges, counted in a pool thread */

void
ngx_http_pdf_report_metrics_jobs(ngx_http_pdf_report_main_conf_t *pmcf,
    size_t pending, size_t running)
{
    if (pmcf->metrics != NULL) {
        pmcf->metrics->jobs_pending = pending;
        pmcf->metrics->jobs_running = running;
        pmcf->metrics->jobs_counted = 1;
    }
}


/* reason: 0 retention, 1 revoked */

void
ngx_http_pdf_report_metrics_deleted(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_uint_t reason, ngx_uint_t n)
{
    if (pmcf->metrics != NULL && n > 0) {
        (void) ngx_atomic_fetch_add(&pmcf->metrics->deleted[reason], n);
    }
}


/* the handler of a "pdf_report_metrics" location */

ngx_int_t
ngx_http_pdf_report_metrics_handler(ngx_http_request_t *r)
{
    u_char                         *p;
    size_t                          size;
    ngx_int_t                       rc;
    ngx_uint_t                      i, j, n;
    ngx_buf_t                      *b;
    ngx_chain_t                     out;
    ngx_http_pdf_report_metrics_t  *m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_pdf_report_m(r);
    if (m == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    /*
     * 160 bytes a line, more than the longest: the 52 fixed lines, the
     * buckets, the statuses seen so far and 16 that other workers may
     * add before they are printed (ngx_slprintf() stops at the end)
     */
    n = 52 + 16 + NGX_HTTP_PDF_REPORT_M_BUCKETS;

    for (i = 0; i < 3; i++) {
        for (j = 0; j < 500; j++) {
            n += (m->responses[i][j] != 0);
        }
    }

    size = 160 * n;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_pdf_report_metrics_text(b->last, b->end, m,
              ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module));
    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_http_pdf_report_metrics_t *
ngx_http_pdf_report_m(ngx_http_request_t *r)
{
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    return pmcf->metrics;
}


static u_char *
ngx_http_pdf_report_metrics_text(u_char *p, u_char *end,
    ngx_http_pdf_report_metrics_t *m, ngx_http_pdf_report_main_conf_t *pmcf)
{
    size_t      used, size, pending, running;
    ngx_uint_t  i, j, sum, counted;

    p = ngx_slprintf(p, end,
            "# HELP pdf_report_jobs_created_total Jobs accepted with 202.\n"
            "# TYPE pdf_report_jobs_created_total counter\n"
            "pdf_report_jobs_created_total %uA\n"
            "# HELP pdf_report_jobs_finished_total Jobs that became "
            "COMPLETE or FAILED.\n"
            "# TYPE pdf_report_jobs_finished_total counter\n"
            "pdf_report_jobs_finished_total{status=\"COMPLETE\"} %uA\n",
            m->created, m->complete);

    for (i = 0; i < NGX_HTTP_PDF_REPORT_M_CODES; i++) {
        p = ngx_slprintf(p, end,
                "pdf_report_jobs_finished_total{status=\"FAILED\","
                "error_code=\"%s\"} %uA\n",
                ngx_http_pdf_report_m_codes[i], m->failed[i]);
    }

    p = ngx_slprintf(p, end,
            "# HELP pdf_report_responses_total API answers by endpoint and "
            "HTTP status.\n"
            "# TYPE pdf_report_responses_total counter\n");

    for (i = 0; i < 3; i++) {
        for (j = 0; j < 500; j++) {
            if (m->responses[i][j] == 0) {
                continue;
            }

            p = ngx_slprintf(p, end,
                    "pdf_report_responses_total{endpoint=\"%s\","
                    "code=\"%ui\"} %uA\n",
                    ngx_http_pdf_report_m_endpoints[i], j + 100,
                    m->responses[i][j]);
        }
    }

    p = ngx_slprintf(p, end,
            "# HELP pdf_report_job_duration_seconds From claim to the "
            "report stored, of COMPLETE jobs.\n"
            "# TYPE pdf_report_job_duration_seconds histogram\n");

    sum = 0;

    for (i = 0; i < NGX_HTTP_PDF_REPORT_M_BUCKETS; i++) {
        sum += m->duration[i];

        if (i == NGX_HTTP_PDF_REPORT_M_BUCKETS - 1) {
            p = ngx_slprintf(p, end,
                    "pdf_report_job_duration_seconds_bucket{le=\"+Inf\"} "
                    "%ui\n", sum);
            break;
        }

        p = ngx_slprintf(p, end,
                "pdf_report_job_duration_seconds_bucket{le=\"%s\"} %ui\n",
                ngx_http_pdf_report_m_le[i], sum);
    }

    p = ngx_slprintf(p, end,
            "pdf_report_job_duration_seconds_sum %uA.%03uA\n"
            "pdf_report_job_duration_seconds_count %uA\n"
            "# HELP pdf_report_s3_requests_total S3 requests by operation "
            "and result.\n"
            "# TYPE pdf_report_s3_requests_total counter\n"
            "pdf_report_s3_requests_total{op=\"put\",result=\"ok\"} %uA\n"
            "pdf_report_s3_requests_total{op=\"put\",result=\"retry\"} %uA\n"
            "pdf_report_s3_requests_total{op=\"put\",result=\"error\"} %uA\n"
            "pdf_report_s3_requests_total{op=\"delete\",result=\"ok\"} %uA\n"
            "pdf_report_s3_requests_total{op=\"delete\",result=\"retry\"} "
            "%uA\n"
            "pdf_report_s3_requests_total{op=\"delete\",result=\"error\"} "
            "%uA\n"
            "# HELP pdf_report_jobs_deleted_total Jobs deleted, with their "
            "reports.\n"
            "# TYPE pdf_report_jobs_deleted_total counter\n"
            "pdf_report_jobs_deleted_total{reason=\"retention\"} %uA\n"
            "pdf_report_jobs_deleted_total{reason=\"revoked\"} %uA\n"
            "# HELP pdf_report_jwt_cache_hits_total Tokens found verified "
            "in a worker's cache.\n"
            "# TYPE pdf_report_jwt_cache_hits_total counter\n"
            "pdf_report_jwt_cache_hits_total %uA\n"
            "# HELP pdf_report_jwt_cache_misses_total Tokens whose "
            "signature was checked.\n"
            "# TYPE pdf_report_jwt_cache_misses_total counter\n"
            "pdf_report_jwt_cache_misses_total %uA\n",
            m->duration_ms / 1000, m->duration_ms % 1000, m->duration_count,
            m->s3[0][0], m->s3[0][1], m->s3[0][2],
            m->s3[1][0], m->s3[1][1], m->s3[1][2],
            m->deleted[0], m->deleted[1], m->jwt_hits, m->jwt_misses);

    /*
     * From the store, as every worker (and edge) sees it, without a scan:
     * LMDB's two counts now; a remote store's as a scan pass last read
     * them in a pool thread (at most a scan interval old).
     */
    if (pmcf->db.db != NULL && pmcf->db.ops->remote) {
        pending = m->jobs_pending;
        running = m->jobs_running;
        counted = (m->jobs_counted != 0);

    } else {
        counted = (pmcf->db.db != NULL
                   && pmcf->db.ops->jobs_count(pmcf->db.db, &pending,
                                               &running)
                      == 0);
    }

    if (counted) {
        p = ngx_slprintf(p, end,
                "# HELP pdf_report_jobs Jobs not yet terminal, by status.\n"
                "# TYPE pdf_report_jobs gauge\n"
                "pdf_report_jobs{status=\"PENDING\"} %uz\n"
                "pdf_report_jobs{status=\"IN_PROGRESS\"} %uz\n",
                pending, running);
    }

    if (pmcf->db.db != NULL && pmcf->db.ops->usage != NULL
        && pmcf->db.ops->usage(pmcf->db.db, &used, &size) == 0)
    {
        p = ngx_slprintf(p, end,
                "# HELP pdf_report_store_used_bytes Pages of the store in "
                "use.\n"
                "# TYPE pdf_report_store_used_bytes gauge\n"
                "pdf_report_store_used_bytes %uz\n"
                "# HELP pdf_report_store_size_bytes The store's map size.\n"
                "# TYPE pdf_report_store_size_bytes gauge\n"
                "pdf_report_store_size_bytes %uz\n", used, size);
    }

    return p;
}
