
/*
 * The three endpoints: routing, the checks of contract section 5 in their
 * order, JSON responses, and the filters that keep every error of an API
 * location JSON (including the ones nginx itself produces, such as a
 * chunked body over the limit).
 */


#include "ngx_http_pdf_report_module.h"


typedef enum {
    NGX_HTTP_PDF_REPORT_CREATE = 0,
    NGX_HTTP_PDF_REPORT_STATUS,
    NGX_HTTP_PDF_REPORT_URL
} ngx_http_pdf_report_endpoint_e;


static ngx_int_t ngx_http_pdf_report_route(ngx_http_request_t *r,
    ngx_http_pdf_report_loc_conf_t *plcf, ngx_str_t *id);
static ngx_int_t ngx_http_pdf_report_create(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_http_pdf_report_loc_conf_t *plcf, ngx_http_pdf_report_ctx_t *ctx);
static ngx_int_t ngx_http_pdf_report_create_counted(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c);
static ngx_int_t ngx_http_pdf_report_create_checks(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_http_pdf_report_loc_conf_t *plcf, ngx_http_pdf_report_ctx_t *ctx);
static void ngx_http_pdf_report_create_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_pdf_report_create_job(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx);
static ngx_int_t ngx_http_pdf_report_create_user(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd);
static ngx_int_t ngx_http_pdf_report_create_refuse(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx,
    ngx_uint_t status, const char *code, const char *message);
static ngx_int_t ngx_http_pdf_report_create_refused(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c);
static ngx_int_t ngx_http_pdf_report_create_write(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx,
    ngx_uint_t kind, const char *user, ngx_http_pdf_report_commit_pt handler);
static ngx_int_t ngx_http_pdf_report_create_rate(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c);
static ngx_int_t ngx_http_pdf_report_create_done(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c);
static ngx_int_t ngx_http_pdf_report_create_keyed(ngx_http_request_t *r);
static ngx_int_t ngx_http_pdf_report_create_replay(ngx_http_request_t *r,
    pdf_report_idem_t *rec);
static ngx_int_t ngx_http_pdf_report_send_created(ngx_http_request_t *r,
    pdf_report_job_t *job);
static ngx_int_t ngx_http_pdf_report_send_pending(ngx_http_request_t *r,
    char *id);
static ngx_int_t ngx_http_pdf_report_body_text(ngx_http_request_t *r,
    ngx_str_t *text);
static ngx_int_t ngx_http_pdf_report_read_job(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_str_t *id, ngx_uint_t what,
    ngx_http_pdf_report_read_pt done);
static ngx_int_t ngx_http_pdf_report_status(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd);
static ngx_int_t ngx_http_pdf_report_url(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd);
static ngx_int_t ngx_http_pdf_report_found_job(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_http_pdf_report_read_t *rd);
static ngx_int_t ngx_http_pdf_report_store_failed(ngx_http_request_t *r,
    int rc, const char *what);
static ngx_int_t ngx_http_pdf_report_unavailable(ngx_http_request_t *r);
static ngx_int_t ngx_http_pdf_report_rate_headers(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx);
static ngx_int_t ngx_http_pdf_report_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *json, size_t len);
static u_char *ngx_http_pdf_report_json_str(u_char *p, u_char *s,
    size_t len);
static size_t ngx_http_pdf_report_json_str_len(u_char *s, size_t len);
static u_char *ngx_http_pdf_report_error_json(ngx_http_request_t *r,
    const char *code, const char *message, const char *extra_name,
    ngx_str_t *extra, size_t *len);
static ngx_int_t ngx_http_pdf_report_request_body_filter(
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_int_t ngx_http_pdf_report_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_pdf_report_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;
static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_pdf_report_json_type =
    ngx_string("application/json");


ngx_int_t
ngx_http_pdf_report_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc, endpoint;
    ngx_str_t                         id, allow;
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_loc_conf_t   *plcf;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pdf_report_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_pdf_report_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_pdf_report_module);

    /* which endpoint depends on the URL alone: before authentication */
    endpoint = ngx_http_pdf_report_route(r, plcf, &id);
    ctx->endpoint = (endpoint == NGX_DECLINED) ? 0 : endpoint + 1;

    if (endpoint == NGX_DECLINED) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_pdf_report_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "NOT_FOUND",
                                              "No such API resource.");
    }

    if (endpoint == NGX_HTTP_PDF_REPORT_CREATE) {
        if (r->method != NGX_HTTP_POST) {
            ngx_str_set(&allow, "POST");
            goto not_allowed;
        }

    } else if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_str_set(&allow, "GET, HEAD");
        goto not_allowed;
    }

    if (pmcf->db.db == NULL) {
        return ngx_http_pdf_report_send_error(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "SERVICE_UNAVAILABLE",
                                              "The job store is not open.");
    }

    if (pmcf->db.ops->remote && !pmcf->store_ready) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_pdf_report_unavailable(r);
    }

    if (endpoint == NGX_HTTP_PDF_REPORT_CREATE) {
        return ngx_http_pdf_report_create(r, pmcf, plcf, ctx);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a refusal was answered when the module wrote a response */
    rc = ngx_http_pdf_report_authenticate(r, ctx, &pmcf->read_scope);
    if (rc != NGX_OK || ctx->own_response) {
        return rc;
    }

    if (endpoint == NGX_HTTP_PDF_REPORT_STATUS) {
        return ngx_http_pdf_report_read_job(r, ctx, &id,
                                            NGX_HTTP_PDF_REPORT_READ_JOB,
                                            ngx_http_pdf_report_status);
    }

    /* consent is re-checked on every call, against today's directory */
    return ngx_http_pdf_report_read_job(r, ctx, &id,
                                        NGX_HTTP_PDF_REPORT_READ_JOB_ACCESS,
                                        ngx_http_pdf_report_url);

not_allowed:

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_pdf_report_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "METHOD_NOT_ALLOWED",
                                          "This method is not allowed on "
                                          "this resource.");
}


/*
 * <base> is the collection, <base>/<id> a job, <base>/<id>/url its
 * download URL; anything else under the location is not found.
 */

static ngx_int_t
ngx_http_pdf_report_route(ngx_http_request_t *r,
    ngx_http_pdf_report_loc_conf_t *plcf, ngx_str_t *id)
{
    u_char  *p, *last, *slash;

    if (r->uri.len < plcf->base.len
        || ngx_strncmp(r->uri.data, plcf->base.data, plcf->base.len) != 0)
    {
        return NGX_DECLINED;
    }

    p = r->uri.data + plcf->base.len;
    last = r->uri.data + r->uri.len;

    if (p == last) {
        return NGX_HTTP_PDF_REPORT_CREATE;
    }

    if (*p++ != '/') {
        return NGX_DECLINED;
    }

    slash = ngx_strlchr(p, last, '/');

    id->data = p;
    id->len = (slash ? slash : last) - p;

    if (id->len == 0) {
        return NGX_DECLINED;
    }

    if (slash == NULL) {
        return NGX_HTTP_PDF_REPORT_STATUS;
    }

    if (last - slash == 4 && ngx_strncmp(slash, "/url", 4) == 0) {
        return NGX_HTTP_PDF_REPORT_URL;
    }

    return NGX_DECLINED;
}


/*
 * Step 1.  Its writes (the rate-limit hit, the job) go to the store's
 * group commit (ngx_http_pdf_report_commit.c) and the request waits for
 * the commit off the event loop.  Most requests need one write: the
 * checks that need no write are made first, and the hit is counted in
 * the same write as the job, rate limit first, so the answer is the one
 * the contract's order gives.  A chunked body may only turn out too
 * large while it is read, and nginx then answers by itself: for such a
 * body the hit is counted before reading it.
 */

static ngx_int_t
ngx_http_pdf_report_create(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_http_pdf_report_loc_conf_t *plcf, ngx_http_pdf_report_ctx_t *ctx)
{
    ngx_int_t  nrc;

    /* the body is read only once the caller is known */
    nrc = ngx_http_pdf_report_authenticate(r, ctx, &pmcf->create_scope);
    if (nrc != NGX_OK || ctx->own_response) {
        (void) ngx_http_discard_request_body(r);
        return nrc;
    }

    nrc = ngx_http_pdf_report_idem_header(r, ctx);

    if (nrc == NGX_ERROR) {
        (void) ngx_http_discard_request_body(r);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (nrc == NGX_DECLINED) {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                      NGX_HTTP_BAD_REQUEST,
                                      "INVALID_IDEMPOTENCY_KEY",
                                      "Idempotency-Key must be one quoted "
                                      "string of 1 to 255 characters.");
    }

    /*
     * A keyed request is counted with its write, after the lookup of its
     * key: a replay counts nothing (a keyed chunked body that nginx finds
     * too large is then not counted either)
     */
    if (pmcf->rate_limit && r->headers_in.chunked && ctx->idem == NULL) {
        return ngx_http_pdf_report_create_write(r, pmcf, ctx,
                                                PDF_REPORT_OP_RATE, NULL,
                                        ngx_http_pdf_report_create_counted);
    }

    return ngx_http_pdf_report_create_checks(r, pmcf, plcf, ctx);
}


/* after the hit of a chunked request */

static ngx_int_t
ngx_http_pdf_report_create_counted(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c)
{
    ngx_int_t  rc;

    rc = ngx_http_pdf_report_create_rate(r, c);
    if (rc != NGX_DECLINED) {
        (void) ngx_http_discard_request_body(r);
        return rc;
    }

    return ngx_http_pdf_report_create_checks(r,
               ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module),
               ngx_http_get_module_loc_conf(r, ngx_http_pdf_report_module),
               ngx_http_get_module_ctx(r, ngx_http_pdf_report_module));
}


/* size and type, then the body */

static ngx_int_t
ngx_http_pdf_report_create_checks(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_http_pdf_report_loc_conf_t *plcf, ngx_http_pdf_report_ctx_t *ctx)
{
    u_char     *p, *end;
    ngx_int_t   nrc;
    ngx_str_t   type;

    if (plcf->max_body
        && r->headers_in.content_length_n > plcf->max_body)
    {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                      NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "BODY_TOO_LARGE",
                                      "The request body is too large.");
    }

    /* application/json, with parameters such as charset allowed */
    type.len = 0;

    if (r->headers_in.content_type) {
        type = r->headers_in.content_type->value;
        p = type.data;
        end = type.data + type.len;

        while (p < end && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }

        type.len = p - type.data;
    }

    if (type.len != sizeof("application/json") - 1
        || ngx_strncasecmp(type.data, (u_char *) "application/json",
                           type.len) != 0)
    {
        (void) ngx_http_discard_request_body(r);
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                      NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                      "UNSUPPORTED_MEDIA_TYPE",
                                      "The request body must be "
                                      "application/json.");
    }

    r->request_body_in_single_buf = 1;

    nrc = ngx_http_read_client_request_body(r,
                                            ngx_http_pdf_report_create_body);

    /*
     * A chunked body over the limit found at once (the reader has dropped
     * its reference): answered here, finalized by the content phase.
     * Found later, nginx's own 413 page is turned into JSON by the
     * header filter below.  Either way its hit was counted before.
     */
    if (nrc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return ngx_http_pdf_report_send_error(r,
                                           NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                           "BODY_TOO_LARGE",
                                           "The request body is too large.");
    }

    if (nrc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return nrc;
    }

    return NGX_DONE;
}


static void
ngx_http_pdf_report_create_body(ngx_http_request_t *r)
{
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    ngx_http_finalize_request(r, ngx_http_pdf_report_create_job(r, pmcf,
                                                                 ctx));
}


/* the body, the user and the connection; then the write */

static ngx_int_t
ngx_http_pdf_report_create_job(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx)
{
    size_t                       len;
    ngx_str_t                    text;
    ngx_http_pdf_report_read_t  *rd;

    if (ngx_http_pdf_report_body_text(r, &text) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the key's memory first: a replay neither counts nor reads */
    if (ctx->idem != NULL && !ctx->idem->looked) {
        return ngx_http_pdf_report_idem_lookup(r, ctx, &text,
                                        ngx_http_pdf_report_create_keyed);
    }

    rd = &ctx->read;

    switch (pdf_report_body_user_id((char *) text.data, text.len, rd->user,
                                    &len))
    {
    case PDF_REPORT_BODY_OK:
        ctx->user_id.len = len;
        ctx->user_id.data = ngx_pnalloc(r->pool, len);
        if (ctx->user_id.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->user_id.data, rd->user, len);
        break;

    case PDF_REPORT_BODY_NOT_OBJECT:
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                                 NGX_HTTP_BAD_REQUEST,
                                                 "INVALID_JSON",
                                                 "The request body must be "
                                                 "a JSON object.");

    case PDF_REPORT_BODY_NO_USER_ID:
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                                 NGX_HTTP_BAD_REQUEST,
                                                 "INVALID_USER_ID",
                                                 "\"userId\" is required "
                                                 "and must be a string.");

    default: /* PDF_REPORT_BODY_BAD_USER_ID */
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                                 NGX_HTTP_BAD_REQUEST,
                                                 "INVALID_USER_ID",
                                                 "\"userId\" must be 1 to "
                                                 "16 characters.");
    }

    rd->what = NGX_HTTP_PDF_REPORT_READ_ACCESS;
    rd->org = (const char *) ctx->org.data;
    rd->user_len = len;
    rd->done = ngx_http_pdf_report_create_user;

    return ngx_http_pdf_report_read(r, rd);
}


/* the user and its connection to the caller's org; then the write */

static ngx_int_t
ngx_http_pdf_report_create_user(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd)
{
    int                               rc;
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    rc = rd->rc;

    if (rc == PDF_REPORT_STORE_NOT_FOUND) {
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                                 NGX_HTTP_NOT_FOUND,
                                                 "USER_NOT_FOUND",
                                                 "No SQR user has this "
                                                 "userId.");
    }

    if (rc == PDF_REPORT_STORE_NOT_CONNECTED) {
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                                 NGX_HTTP_FORBIDDEN,
                                                 "NOT_CONNECTED",
                                                 "This user is not "
                                                 "connected to your "
                                                 "organisation.");
    }

    if (rc != 0) {
        return ngx_http_pdf_report_store_failed(r, rc, "user lookup");
    }

    return ngx_http_pdf_report_create_write(r, pmcf, ctx,
                                            PDF_REPORT_OP_CREATE, rd->user,
                                            ngx_http_pdf_report_create_done);
}


/*
 * A refusal that writes nothing but the hit: answered at once when the
 * hit is counted already or there is no limit, after the hit otherwise
 * (and then 429 if the window is full, as the order of checks says).
 */

static ngx_int_t
ngx_http_pdf_report_create_refuse(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx,
    ngx_uint_t status, const char *code, const char *message)
{
    ngx_uint_t          remember;
    pdf_report_idem_t  *rec;

    /* a refusal of a keyed request is remembered, written with its hit */
    remember = (ctx->idem != NULL && ctx->idem->armed);

    if ((!pmcf->rate_limit || ctx->counted) && !remember) {
        return ngx_http_pdf_report_send_error(r, status, code, message);
    }

    if (remember) {
        rec = &ctx->idem->op.rec;
        ngx_memzero(rec, sizeof(pdf_report_idem_t));

        rec->status = (uint32_t) status;
        (void) ngx_cpystrn((u_char *) rec->code, (u_char *) code,
                           sizeof(rec->code));
        (void) ngx_cpystrn((u_char *) rec->message, (u_char *) message,
                           sizeof(rec->message));
    }

    ctx->refuse_status = status;
    ctx->refuse_code = code;
    ctx->refuse_message = message;

    return ngx_http_pdf_report_create_write(r, pmcf, ctx, PDF_REPORT_OP_RATE,
                                            NULL,
                                        ngx_http_pdf_report_create_refused);
}


static ngx_int_t
ngx_http_pdf_report_create_refused(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c)
{
    ngx_int_t                   rc;
    ngx_http_pdf_report_ctx_t  *ctx;

    /* the key answered already: found by the write's own check */
    if (c->op.rc == PDF_REPORT_STORE_IDEM_REPLAY) {
        return ngx_http_pdf_report_create_replay(r, &c->op.idem->found);
    }

    rc = ngx_http_pdf_report_create_rate(r, c);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (c->op.rc == PDF_REPORT_STORE_IDEM_REUSED) {
        return ngx_http_pdf_report_send_error(r, 422,
                                              "IDEMPOTENCY_KEY_REUSED",
                                              "This Idempotency-Key was "
                                              "used with another request "
                                              "body.");
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    return ngx_http_pdf_report_send_error(r, ctx->refuse_status,
                                          ctx->refuse_code,
                                          ctx->refuse_message);
}


/* queues the request's write; the handler answers after the commit */

static ngx_int_t
ngx_http_pdf_report_create_write(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx,
    ngx_uint_t kind, const char *user, ngx_http_pdf_report_commit_pt handler)
{
    ngx_time_t                    *tp;
    pdf_report_op_t               *op;
    ngx_http_pdf_report_commit_t  *c;

    c = ngx_http_pdf_report_commit_alloc(pmcf);
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tp = ngx_timeofday();

    op = &c->op;
    op->kind = kind;
    op->rate = pmcf->rate_limit && !ctx->counted;
    op->idem = (ctx->idem != NULL && ctx->idem->armed) ? &ctx->idem->op
                                                         : NULL;
    op->now_ms = (int64_t) tp->sec * 1000 + tp->msec;
    op->period_ms = pmcf->rate_period;
    op->limit = (unsigned) pmcf->rate_limit;

    ngx_memcpy(op->job.org, ctx->org.data, ctx->org.len);
    op->job.created_ms = op->now_ms;

    if (user != NULL) {
        (void) ngx_cpystrn((u_char *) op->job.user, (u_char *) user,
                           sizeof(op->job.user));
    }

    ngx_http_pdf_report_commit_post(c, r, handler);

    return NGX_DONE;
}


/* the outcome of the hit: NGX_DECLINED to go on, or the answer sent */

static ngx_int_t
ngx_http_pdf_report_create_rate(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c)
{
    ngx_str_t                         retry;
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    if (!c->op.rate) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    if (c->op.rc != PDF_REPORT_STORE_LIMITED
        && (c->op.rc != 0 || c->op.kind == PDF_REPORT_OP_CREATE)
        && !c->op.rate_result.allowed)
    {
        return ngx_http_pdf_report_store_failed(r, c->op.rc, "rate limit");
    }

    ctx->counted = 1;
    ctx->rate = c->op.rate_result;

    if (ngx_http_pdf_report_rate_headers(r, pmcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->rate.allowed) {
        return NGX_DECLINED;
    }

    retry.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (retry.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    retry.len = ngx_sprintf(retry.data, "%ui", (ngx_uint_t) ctx->rate.reset_s)
                - retry.data;

    if (ngx_http_pdf_report_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                          "RATE_LIMITED",
                                          "Too many report requests for "
                                          "this organisation; retry "
                                          "later.");
}


/* after the job's write: 202, 409, 429 or a store error */

static ngx_int_t
ngx_http_pdf_report_create_done(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c)
{
    ngx_int_t          rc;
    pdf_report_job_t  *job;
    char               org[PDF_REPORT_LOG_ORG];

    /* the key answered already: found by the write's own check */
    if (c->op.rc == PDF_REPORT_STORE_IDEM_REPLAY) {
        return ngx_http_pdf_report_create_replay(r, &c->op.idem->found);
    }

    rc = ngx_http_pdf_report_create_rate(r, c);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    job = &c->op.job;

    if (c->op.rc == PDF_REPORT_STORE_IDEM_REUSED) {
        return ngx_http_pdf_report_send_error(r, 422,
                                              "IDEMPOTENCY_KEY_REUSED",
                                              "This Idempotency-Key was "
                                              "used with another request "
                                              "body.");
    }

    if (c->op.rc == PDF_REPORT_STORE_EXISTS) {
        return ngx_http_pdf_report_send_pending(r, c->op.pending);
    }

    if (c->op.rc != 0) {
        return ngx_http_pdf_report_store_failed(r, c->op.rc, "job create");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "pdf_report: job %s created; org \"%s\"", job->id,
                  pdf_report_log_escape(org, sizeof(org), job->org));

    ngx_http_pdf_report_metrics_created(
        ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module));

    return ngx_http_pdf_report_send_created(r, job);
}


/* after the lookup of the request's Idempotency-Key */

static ngx_int_t
ngx_http_pdf_report_create_keyed(ngx_http_request_t *r)
{
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    switch (ctx->idem->outcome) {

    case NGX_HTTP_PDF_REPORT_IDEM_REPLAY:
        return ngx_http_pdf_report_create_replay(r, &ctx->idem->op.found);

    case NGX_HTTP_PDF_REPORT_IDEM_REUSED:
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx, 422,
                                                 "IDEMPOTENCY_KEY_REUSED",
                                                 "This Idempotency-Key was "
                                                 "used with another request "
                                                 "body.");

    case NGX_HTTP_PDF_REPORT_IDEM_IN_USE:
        return ngx_http_pdf_report_create_refuse(r, pmcf, ctx,
                                                 NGX_HTTP_CONFLICT,
                                                 "IDEMPOTENCY_KEY_IN_USE",
                                                 "A request with this "
                                                 "Idempotency-Key is still "
                                                 "being answered; retry "
                                                 "shortly.");

    case NGX_HTTP_PDF_REPORT_IDEM_FAILED:
        return ngx_http_pdf_report_store_failed(r, ctx->idem->rc,
                                                "Idempotency-Key lookup");

    default: /* NGX_HTTP_PDF_REPORT_IDEM_NEW: as without a key */
        return ngx_http_pdf_report_create_job(r, pmcf, ctx);
    }
}


/*
 * The first answer of a key again: its status, body and Location, and
 * nothing counted (so no RateLimit headers); Idempotent-Replayed says so
 */

static ngx_int_t
ngx_http_pdf_report_create_replay(ngx_http_request_t *r,
    pdf_report_idem_t *rec)
{
    ngx_str_t          value;
    pdf_report_job_t   job;

    ngx_str_set(&value, "true");

    if (ngx_http_pdf_report_add_header(r, "Idempotent-Replayed", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rec->status == NGX_HTTP_ACCEPTED) {
        ngx_memzero(&job, sizeof(pdf_report_job_t));
        ngx_memcpy(job.id, rec->job_id, PDF_REPORT_UUID_LEN);
        ngx_memcpy(job.user, rec->user, sizeof(job.user));
        job.created_ms = rec->created_ms;

        return ngx_http_pdf_report_send_created(r, &job);
    }

    if (rec->status == NGX_HTTP_CONFLICT && rec->code[0] == '\0') {
        return ngx_http_pdf_report_send_pending(r, rec->job_id);
    }

    return ngx_http_pdf_report_send_error(r, rec->status, rec->code,
                                          rec->message);
}


/* 409: the pending job of the same user, named */

static ngx_int_t
ngx_http_pdf_report_send_pending(ngx_http_request_t *r, char *id)
{
    u_char                     *json;
    size_t                      len;
    ngx_str_t                   extra;
    ngx_http_pdf_report_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    extra.data = (u_char *) id;
    extra.len = PDF_REPORT_UUID_LEN;

    ctx->job_id.len = PDF_REPORT_UUID_LEN;
    ctx->job_id.data = ngx_pstrdup(r->pool, &extra);

    json = ngx_http_pdf_report_error_json(r, "JOB_PENDING",
                                          "A report job for this user "
                                          "is already pending.",
                                          "jobId", &extra, &len);
    if (json == NULL || ctx->job_id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_json(r, NGX_HTTP_CONFLICT, json, len);
}


/* 202: the new job, with Location and the first poll interval */

static ngx_int_t
ngx_http_pdf_report_send_created(ngx_http_request_t *r,
    pdf_report_job_t *job)
{
    u_char                           *json, *p;
    size_t                            len;
    ngx_str_t                         location, value;
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_loc_conf_t   *plcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    ctx->job_id.len = PDF_REPORT_UUID_LEN;
    ctx->job_id.data = ngx_pnalloc(r->pool, PDF_REPORT_UUID_LEN);
    if (ctx->job_id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->job_id.data, job->id, PDF_REPORT_UUID_LEN);

    len = sizeof("{\"jobId\":\"\",\"status\":\"PENDING\",\"userId\":,"
                 "\"createdAt\":\"\",\"updatedAt\":\"\"}") - 1
          + PDF_REPORT_UUID_LEN
          + ngx_http_pdf_report_json_str_len((u_char *) job->user,
                                             ngx_strlen(job->user))
          + 2 * PDF_REPORT_ISO8601_LEN;

    json = ngx_pnalloc(r->pool, len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(json, "{\"jobId\":\"", sizeof("{\"jobId\":\"") - 1);
    p = ngx_cpymem(p, job->id, PDF_REPORT_UUID_LEN);
    p = ngx_cpymem(p, "\",\"status\":\"PENDING\",\"userId\":",
                   sizeof("\",\"status\":\"PENDING\",\"userId\":") - 1);
    p = ngx_http_pdf_report_json_str(p, (u_char *) job->user,
                                     ngx_strlen(job->user));
    p = ngx_cpymem(p, ",\"createdAt\":\"", sizeof(",\"createdAt\":\"") - 1);
    pdf_report_iso8601((char *) p, job->created_ms);
    p += PDF_REPORT_ISO8601_LEN;
    p = ngx_cpymem(p, "\",\"updatedAt\":\"", sizeof("\",\"updatedAt\":\"") - 1);
    pdf_report_iso8601((char *) p, job->created_ms);
    p += PDF_REPORT_ISO8601_LEN;
    p = ngx_cpymem(p, "\"}", 2);

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pdf_report_module);

    location.len = plcf->base.len + 1 + PDF_REPORT_UUID_LEN;
    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(location.data, "%V/%*s", &plcf->base,
                (size_t) PDF_REPORT_UUID_LEN, job->id);

    ngx_str_set(&value, "3");

    if (ngx_http_pdf_report_add_header(r, "Location", &location) != NGX_OK
        || ngx_http_pdf_report_add_header(r, "Retry-After", &value) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_json(r, NGX_HTTP_ACCEPTED, json,
                                         p - json);
}


/* the whole request body as one piece of memory */

static ngx_int_t
ngx_http_pdf_report_body_text(ngx_http_request_t *r, ngx_str_t *text)
{
    size_t        len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    text->len = 0;
    text->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        if (cl->buf->last != cl->buf->pos) {
            text->data = cl->buf->pos;
            text->len = cl->buf->last - cl->buf->pos;
        }

        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    text->data = ngx_pnalloc(r->pool, len + 1);
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    p = text->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            /* a small temp file written moments ago: page cache */
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        /* a chunked body ends in an empty last_buf with no memory */
        if (b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    text->len = p - text->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_pdf_report_status(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd)
{
    u_char                     *json, *p;
    size_t                      len;
    ngx_int_t                   rc;
    ngx_str_t                   value;
    pdf_report_job_t           *job;
    ngx_http_pdf_report_ctx_t  *ctx;
    char                        hex[PDF_REPORT_SHA256_HEX];

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    rc = ngx_http_pdf_report_found_job(r, ctx, rd);
    if (rc != NGX_OK || ctx->own_response) {
        return rc;
    }

    job = &rd->job;

    len = sizeof("{\"jobId\":\"\",\"status\":\"\",\"userId\":,"
                 "\"templateVersion\":\"\",\"sizeBytes\":,\"sha256\":\"\","
                 "\"durationMs\":,\"errorCode\":,\"errorMessage\":,"
                 "\"createdAt\":\"\",\"updatedAt\":\"\",\"completedAt\":\"\"}")
          + PDF_REPORT_UUID_LEN + sizeof("IN_PROGRESS")
          + ngx_http_pdf_report_json_str_len((u_char *) job->user,
                                             ngx_strlen(job->user))
          + sizeof(job->template_version) + NGX_OFF_T_LEN
          + PDF_REPORT_SHA256_HEX + NGX_INT_T_LEN
          + ngx_http_pdf_report_json_str_len((u_char *) job->error_code,
                                             ngx_strlen(job->error_code))
          + ngx_http_pdf_report_json_str_len((u_char *) job->error_message,
                                             ngx_strlen(job->error_message))
          + 3 * PDF_REPORT_ISO8601_LEN;

    json = ngx_pnalloc(r->pool, len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(json, "{\"jobId\":\"%s\",\"status\":\"%s\",\"userId\":",
                    job->id, pdf_report_status_name(job->status));
    p = ngx_http_pdf_report_json_str(p, (u_char *) job->user,
                                     ngx_strlen(job->user));

    if (job->status == PDF_REPORT_COMPLETE) {
        pdf_report_hex(hex, job->sha256, PDF_REPORT_SHA256_LEN);

        p = ngx_sprintf(p, ",\"templateVersion\":\"%s\",\"sizeBytes\":%uL,"
                        "\"sha256\":\"%*s\",\"durationMs\":%uD",
                        job->template_version, job->size_bytes,
                        (size_t) PDF_REPORT_SHA256_HEX, hex,
                        job->duration_ms);

    } else if (job->status == PDF_REPORT_FAILED) {
        p = ngx_cpymem(p, ",\"errorCode\":", sizeof(",\"errorCode\":") - 1);
        p = ngx_http_pdf_report_json_str(p, (u_char *) job->error_code,
                                         ngx_strlen(job->error_code));
        p = ngx_cpymem(p, ",\"errorMessage\":",
                       sizeof(",\"errorMessage\":") - 1);
        p = ngx_http_pdf_report_json_str(p, (u_char *) job->error_message,
                                         ngx_strlen(job->error_message));
    }

    p = ngx_cpymem(p, ",\"createdAt\":\"", sizeof(",\"createdAt\":\"") - 1);
    pdf_report_iso8601((char *) p, job->created_ms);
    p += PDF_REPORT_ISO8601_LEN;
    p = ngx_cpymem(p, "\",\"updatedAt\":\"", sizeof("\",\"updatedAt\":\"") - 1);
    pdf_report_iso8601((char *) p, job->updated_ms);
    p += PDF_REPORT_ISO8601_LEN;

    if (job->status == PDF_REPORT_COMPLETE) {
        p = ngx_cpymem(p, "\",\"completedAt\":\"",
                       sizeof("\",\"completedAt\":\"") - 1);
        pdf_report_iso8601((char *) p, job->completed_ms);
        p += PDF_REPORT_ISO8601_LEN;
    }

    p = ngx_cpymem(p, "\"}", 2);

    if (job->status == PDF_REPORT_PENDING
        || job->status == PDF_REPORT_IN_PROGRESS)
    {
        ngx_str_set(&value, "3");

        if (ngx_http_pdf_report_add_header(r, "Retry-After", &value)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_pdf_report_send_json(r, NGX_HTTP_OK, json, p - json);
}


static ngx_int_t
ngx_http_pdf_report_url(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd)
{
    int                               rc;
    char                             *key, *filename;
    char                              url[PDF_REPORT_S3_URL_MAX];
    long                              url_len;
    u_char                           *json, *p;
    size_t                            len, flen;
    time_t                            now, ttl, retry;
    ngx_int_t                         nrc;
    ngx_str_t                         status, value;
    pdf_report_job_t                 *job;
    pdf_report_s3_conf_t              s3;
    pdf_report_s3_creds_t             creds;
    ngx_http_pdf_report_ctx_t        *ctx;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    nrc = ngx_http_pdf_report_found_job(r, ctx, rd);
    if (nrc != NGX_OK || ctx->own_response) {
        return nrc;
    }

    job = &rd->job;
    rc = rd->access_rc;
    filename = rd->stem;
    flen = rd->stem_len;

    if (rc == PDF_REPORT_STORE_NOT_FOUND
        || rc == PDF_REPORT_STORE_NOT_CONNECTED)
    {
        return ngx_http_pdf_report_send_error(r, NGX_HTTP_FORBIDDEN,
                                              "NOT_CONNECTED",
                                              "This user is no longer "
                                              "connected to your "
                                              "organisation.");
    }

    if (rc != 0) {
        return ngx_http_pdf_report_store_failed(r, rc, "user lookup");
    }

    if (job->status != PDF_REPORT_COMPLETE) {
        status.data = (u_char *) pdf_report_status_name(job->status);
        status.len = ngx_strlen(status.data);

        json = ngx_http_pdf_report_error_json(r, "JOB_NOT_COMPLETE",
                                              "The report is not complete; "
                                              "keep polling the job.",
                                              "status", &status, &len);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_pdf_report_send_json(r, 422, json, len);
    }

    flen = pdf_report_filename_end(filename, sizeof(rd->stem), flen, job->id);

    if (flen == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = PDF_REPORT_S3_OBJECT_KEY_SIZE(pmcf->s3_prefix.len,
                                        ngx_strlen(job->org),
                                        ngx_strlen(job->id));

    key = ngx_pnalloc(r->pool, len);
    if (key == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the key the upload used (ngx_http_pdf_report_post) */
    if (pdf_report_s3_object_key(key, len,
                                 (const char *) pmcf->s3_prefix.data,
                                 pmcf->s3_prefix.len, job->org, job->id)
        < 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the keys of now: rotated ones are in shared memory already */
    if (ngx_http_pdf_report_creds_get(pmcf->creds, &creds, &retry)
        != NGX_OK)
    {
        value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        value.len = ngx_sprintf(value.data, "%T", retry) - value.data;

        if (ngx_http_pdf_report_add_header(r, "Retry-After", &value)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_pdf_report_send_error(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "CREDENTIALS_UNAVAILABLE",
                                              "The download URL cannot be "
                                              "signed right now; retry "
                                              "later.");
    }

    /* a URL never outlives the credentials that sign it */
    now = ngx_time();
    ttl = pmcf->url_ttl;

    if (creds.expiration != 0 && creds.expiration - now < ttl) {
        ttl = creds.expiration - now;
    }

    s3 = pmcf->s3;
    s3.access_key = creds.access_key;
    s3.secret_key = creds.secret_key;
    s3.session_token = creds.session_token[0] ? creds.session_token : NULL;

    /* url is on the stack: from the pool, 4 KB would be a malloc a call */
    url_len = pdf_report_s3_presign(&s3, key, now, (unsigned) ttl, filename,
                                    url, PDF_REPORT_S3_URL_MAX);

    ngx_explicit_memzero(&creds, sizeof(pdf_report_s3_creds_t));

    if (url_len < 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pdf_report: cannot sign the download URL of job %s",
                      job->id);
        return ngx_http_pdf_report_send_error(r,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR,
                                              "INTERNAL_ERROR",
                                              "The download URL could not "
                                              "be signed.");
    }

    /* RFC 3986 characters only (pdf_report_s3_presign): no escaping */
    len = sizeof("{\"url\":\"\",\"expiresInSeconds\":,\"filename\":}")
          + url_len + NGX_TIME_T_LEN
          + ngx_http_pdf_report_json_str_len((u_char *) filename, flen);

    json = ngx_pnalloc(r->pool, len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(json, "{\"url\":\"", sizeof("{\"url\":\"") - 1);
    p = ngx_cpymem(p, url, url_len);
    p = ngx_sprintf(p, "\",\"expiresInSeconds\":%T,\"filename\":", ttl);
    p = ngx_http_pdf_report_json_str(p, (u_char *) filename, flen);
    *p++ = '}';

    return ngx_http_pdf_report_send_json(r, NGX_HTTP_OK, json, p - json);
}


/* another org's job is exactly as unknown as a job that never existed */

static ngx_int_t
ngx_http_pdf_report_read_job(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_str_t *id, ngx_uint_t what,
    ngx_http_pdf_report_read_pt done)
{
    ngx_http_pdf_report_read_t  *rd;

    if (!pdf_report_is_uuid((char *) id->data, id->len)) {
        return ngx_http_pdf_report_send_error(r, NGX_HTTP_NOT_FOUND,
                                              "JOB_NOT_FOUND",
                                              "No report job has this id.");
    }

    rd = &ctx->read;

    ngx_memcpy(rd->id, id->data, PDF_REPORT_UUID_LEN);
    rd->id[PDF_REPORT_UUID_LEN] = '\0';
    ngx_strlow((u_char *) rd->id, (u_char *) rd->id, PDF_REPORT_UUID_LEN);

    rd->what = what;
    rd->org = (const char *) ctx->org.data;
    rd->done = done;

    return ngx_http_pdf_report_read(r, rd);
}


static ngx_int_t
ngx_http_pdf_report_found_job(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_http_pdf_report_read_t *rd)
{
    int                rc;
    pdf_report_job_t  *job;

    rc = rd->rc;
    job = &rd->job;

    if (rc == PDF_REPORT_STORE_NOT_FOUND) {
        goto not_found;
    }

    if (rc != 0) {
        return ngx_http_pdf_report_store_failed(r, rc, "job read");
    }

    if (ngx_strlen(job->org) != ctx->org.len
        || ngx_strncmp(job->org, ctx->org.data, ctx->org.len) != 0)
    {
        goto not_found;
    }

    ctx->job_id.len = PDF_REPORT_UUID_LEN;
    ctx->job_id.data = ngx_pnalloc(r->pool, PDF_REPORT_UUID_LEN);
    ctx->user_id.len = ngx_strlen(job->user);
    ctx->user_id.data = ngx_pnalloc(r->pool, ctx->user_id.len);

    if (ctx->job_id.data == NULL || ctx->user_id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->job_id.data, job->id, PDF_REPORT_UUID_LEN);
    ngx_memcpy(ctx->user_id.data, job->user, ctx->user_id.len);

    return NGX_OK;

not_found:

    return ngx_http_pdf_report_send_error(r, NGX_HTTP_NOT_FOUND,
                                          "JOB_NOT_FOUND",
                                          "No report job has this id.");
}


static ngx_int_t
ngx_http_pdf_report_store_failed(ngx_http_request_t *r, int rc,
    const char *what)
{
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    if (rc == PDF_REPORT_STORE_FULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "pdf_report: store full (%s): raise the size= of "
                      "pdf_report_store", what);
        return ngx_http_pdf_report_send_error(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "STORE_FULL",
                                              "The job store is full; try "
                                              "again later.");
    }

    if (rc == PDF_REPORT_STORE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "pdf_report: store unavailable (%s): %s", what,
                      pmcf->db.ops->strerror(rc));
        return ngx_http_pdf_report_unavailable(r);
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "pdf_report: store failed (%s): %s", what,
                  pmcf->db.ops->strerror(rc));

    return ngx_http_pdf_report_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "INTERNAL_ERROR",
                                          "The job store failed.");
}


/* a remote store away, or not set up yet: try again in a second */

static ngx_int_t
ngx_http_pdf_report_unavailable(ngx_http_request_t *r)
{
    ngx_str_t  value;

    ngx_str_set(&value, "1");

    if (ngx_http_pdf_report_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "STORE_UNAVAILABLE",
                                          "The job store cannot be reached; "
                                          "try again shortly.");
}


static ngx_int_t
ngx_http_pdf_report_rate_headers(ngx_http_request_t *r,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_ctx_t *ctx)
{
    ngx_str_t  v;

    /* header values live as long as the request: pool memory */
    v.data = ngx_pnalloc(r->pool, sizeof("\"org\";q=;w=")
                                  + 2 * NGX_INT_T_LEN);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    v.len = ngx_sprintf(v.data, "\"org\";q=%ui;w=%M", pmcf->rate_limit,
                        pmcf->rate_period / 1000)
            - v.data;

    if (ngx_http_pdf_report_add_header(r, "RateLimit-Policy", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    v.data = ngx_pnalloc(r->pool, sizeof("\"org\";r=;t=")
                                  + 2 * NGX_INT_T_LEN);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    v.len = ngx_sprintf(v.data, "\"org\";r=%ui;t=%ui",
                        (ngx_uint_t) ctx->rate.remaining,
                        (ngx_uint_t) ctx->rate.reset_s)
            - v.data;

    return ngx_http_pdf_report_add_header(r, "RateLimit", &v);
}


ngx_int_t
ngx_http_pdf_report_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    u_char  *json;
    size_t   len;

    json = ngx_http_pdf_report_error_json(r, code, message, NULL, NULL,
                                          &len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_json(r, status, json, len);
}


static u_char *
ngx_http_pdf_report_error_json(ngx_http_request_t *r, const char *code,
    const char *message, const char *extra_name, ngx_str_t *extra,
    size_t *len)
{
    u_char                     *json, *p;
    size_t                      n;
    ngx_http_pdf_report_ctx_t  *ctx;

    /* $pdf_report_error: the code of every error answer, whoever wrote it */
    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    ctx->error.data = (u_char *) code;
    ctx->error.len = ngx_strlen(code);

    n = sizeof("{\"error\":\"\",\"message\":}") + ngx_strlen(code)
        + ngx_http_pdf_report_json_str_len((u_char *) message,
                                           ngx_strlen(message));

    if (extra_name) {
        n += sizeof(",\"\":") + ngx_strlen(extra_name)
             + ngx_http_pdf_report_json_str_len(extra->data, extra->len);
    }

    json = ngx_pnalloc(r->pool, n);
    if (json == NULL) {
        return NULL;
    }

    p = ngx_sprintf(json, "{\"error\":\"%s\",\"message\":", code);
    p = ngx_http_pdf_report_json_str(p, (u_char *) message,
                                     ngx_strlen(message));

    if (extra_name) {
        p = ngx_sprintf(p, ",\"%s\":", extra_name);
        p = ngx_http_pdf_report_json_str(p, extra->data, extra->len);
    }

    *p++ = '}';
    *len = p - json;

    return json;
}


static ngx_int_t
ngx_http_pdf_report_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *json, size_t len)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_str_t                   v;
    ngx_chain_t                 out;
    ngx_http_pdf_report_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);
    ctx->own_response = 1;

    ngx_str_set(&v, "no-store");

    if (ngx_http_pdf_report_add_header(r, "Cache-Control", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;

    /* nginx 1.22 has no reason phrase of its own for 422 */
    if (status == 422) {
        ngx_str_set(&r->headers_out.status_line, "422 Unprocessable Entity");
    }

    r->headers_out.content_type = ngx_http_pdf_report_json_type;
    r->headers_out.content_type_len = ngx_http_pdf_report_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = json;
    b->last = json + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_pdf_report_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


static size_t
ngx_http_pdf_report_json_str_len(u_char *s, size_t len)
{
    return 2 + len + ngx_escape_json(NULL, s, len);
}


static u_char *
ngx_http_pdf_report_json_str(u_char *p, u_char *s, size_t len)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s, len);
    *p++ = '"';

    return p;
}


/* ---- keeping every error of an API location JSON ---- */


ngx_int_t
ngx_http_pdf_report_body_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_pdf_report_request_body_filter;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_pdf_report_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_pdf_report_body_filter;

    return NGX_OK;
}


/* client_max_body_size for chunked bodies of API requests */

static ngx_int_t
ngx_http_pdf_report_request_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in)
{
    off_t                            size;
    ngx_chain_t                     *cl;
    ngx_http_pdf_report_ctx_t       *ctx;
    ngx_http_pdf_report_loc_conf_t  *plcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    if (ctx == NULL) {
        return ngx_http_next_request_body_filter(r, in);
    }

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pdf_report_module);

    size = 0;

    for (cl = in; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    ctx->body_seen += size;

    if (plcf->max_body && ctx->body_seen > plcf->max_body) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "client intended to send too large chunked body: "
                      "%O+ bytes", ctx->body_seen);

        ctx->body_too_large = 1;

        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    return ngx_http_next_request_body_filter(r, in);
}


/*
 * A response of an API request that the module did not write itself
 * (nginx's own error pages: a body over the limit, a bad chunk, an
 * internal error) gets a JSON body instead of HTML.
 */

static ngx_int_t
ngx_http_pdf_report_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                   v;
    const char                 *code, *message;
    ngx_http_pdf_report_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    if (ctx != NULL && ctx->endpoint && r == r->main) {
        ngx_http_pdf_report_metrics_response(
            ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module),
            ctx->endpoint - 1, r->headers_out.status);
    }

    if (ctx == NULL || ctx->own_response || r != r->main
        || r->headers_out.status < 400)
    {
        return ngx_http_next_header_filter(r);
    }

    switch (r->headers_out.status) {

    case NGX_HTTP_BAD_REQUEST:
        code = "BAD_REQUEST";
        message = "The request could not be read.";
        break;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        code = "BODY_TOO_LARGE";
        message = "The request body is too large.";
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        code = "REQUEST_TIMEOUT";
        message = "The request was not received in time.";
        break;

    default:
        if (r->headers_out.status < 500) {
            code = "BAD_REQUEST";
            message = "The request was refused.";

        } else {
            code = "INTERNAL_ERROR";
            message = "The server failed to answer this request.";
        }
    }

    ctx->error_body.data = ngx_http_pdf_report_error_json(r, code,
                                                          message, NULL,
                                                          NULL,
                                                          &ctx->error_body.len);
    if (ctx->error_body.data == NULL) {
        return NGX_ERROR;
    }

    ctx->replace_body = 1;

    ngx_str_set(&v, "no-store");

    if (ngx_http_pdf_report_add_header(r, "Cache-Control", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    r->headers_out.content_type = ngx_http_pdf_report_json_type;
    r->headers_out.content_type_len = ngx_http_pdf_report_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = ctx->error_body.len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_pdf_report_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_pdf_report_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    if (ctx == NULL || in == NULL || !ctx->replace_body) {
        return ngx_http_next_body_filter(r, in);
    }

    /* the error page's buffers are static: dropping them frees nothing */
    if (ctx->error_body.len == 0) {
        return NGX_OK;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->error_body.data;
    b->last = ctx->error_body.data + ctx->error_body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    ctx->error_body.len = 0;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
