
/*
 * Bearer authentication of API requests (contract section 3): the token
 * is taken from the Authorization header, verified by pdf_report_jwt.c,
 * and its org and scopes land in the request ctx.  Failures answer 401
 * or 403 with the RFC 6750 challenge; with a JWKS URL and no key set
 * loaded yet, 503 KEYS_UNAVAILABLE.  The token itself is never logged.
 */


#include "ngx_http_pdf_report_module.h"


static ngx_int_t ngx_http_pdf_report_challenge(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *challenge, const char *code,
    const char *message);


ngx_int_t
ngx_http_pdf_report_authenticate(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_str_t *scope)
{
    int                               cached;
    u_char                           *p, *end;
    time_t                            retry;
    ngx_str_t                         token, challenge, value;
    pdf_report_jwks_t                *jwks;
    unsigned char                     key[PDF_REPORT_JWT_CACHE_KEY];
    pdf_report_jwt_policy_t           policy;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    if (r->headers_in.authorization == NULL) {
        goto no_token;
    }

    p = r->headers_in.authorization->value.data;
    end = p + r->headers_in.authorization->value.len;

    /*
     * "Bearer" (case-insensitive), spaces, the token.  "Bearer" with
     * nothing after it is no token at all, however many spaces follow
     * (HTTP/1.1 strips them, HTTP/2 does not: the same answer for both).
     */
    if (end - p < 6 || ngx_strncasecmp(p, (u_char *) "Bearer", 6) != 0
        || (end - p > 6 && p[6] != ' '))
    {
        goto no_token;
    }

    p += 6;

    while (p < end && *p == ' ') {
        p++;
    }

    while (end > p && end[-1] == ' ') {
        end--;
    }

    token.data = p;
    token.len = end - p;

    if (token.len == 0) {
        goto no_token;
    }

    /*
     * A JWKS URL: the set all workers share, before the token cache, which
     * is emptied when the set changed.  No token at all was answered
     * above: that needs no key.
     */
    jwks = pmcf->jwks;

    if (pmcf->jwks_url != NULL) {
        jwks = ngx_http_pdf_report_jwks_current(pmcf, r->connection->log,
                                                &retry);

        if (jwks == NULL) {
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
                                                  "KEYS_UNAVAILABLE",
                                                  "The keys that verify "
                                                  "tokens are not loaded "
                                                  "yet; retry later.");
        }
    }

    policy.now = ngx_time();
    policy.leeway = pmcf->jwt_leeway;
    policy.issuer = pmcf->jwt_issuer.len
                    ? (const char *) pmcf->jwt_issuer.data : NULL;
    policy.audience = pmcf->jwt_audience.len
                      ? (const char *) pmcf->jwt_audience.data : NULL;
    policy.org_claim = (const char *) pmcf->jwt_org_claim.data;

    /* a token verified before, still within its exp: no signature check */
    cached = (pmcf->jwt_cache != NULL)
             ? pdf_report_jwt_cache_get(pmcf->jwt_cache, (char *) token.data,
                                        token.len, policy.now, policy.leeway,
                                        &ctx->claims, key)
             : -1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "pdf_report: token cache %s",
                   cached == 1 ? "hit" : cached == 0 ? "miss" : "off");

    if (cached != -1) {
        ngx_http_pdf_report_metrics_jwt_cache(pmcf, cached);
    }

    if (cached == 1) {
        goto verified;
    }

    if (pdf_report_jwt_verify(jwks, (char *) token.data, token.len,
                              &policy, &ctx->claims)
        != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "pdf_report: bearer token refused: %s",
                      ctx->claims.reason);

        /* the set may be older than the token: fetched again, at most
         * once a minute whatever kids a flood of tokens names */
        if (ctx->claims.unknown_kid && pmcf->jwks_url != NULL) {
            ngx_http_pdf_report_jwks_unknown_kid(pmcf);
        }

        ngx_str_set(&challenge, "Bearer error=\"invalid_token\"");
        return ngx_http_pdf_report_challenge(r, NGX_HTTP_UNAUTHORIZED,
                                             &challenge, "INVALID_TOKEN",
                                             "The bearer token is invalid "
                                             "or expired.");
    }

    if (cached == 0) {
        pdf_report_jwt_cache_put(pmcf->jwt_cache, key, &ctx->claims);
    }

verified:

    ctx->org.data = (u_char *) ctx->claims.org;
    ctx->org.len = ngx_strlen(ctx->claims.org);

    if (scope->len
        && !pdf_report_jwt_has_scope(&ctx->claims, (char *) scope->data))
    {
        challenge.len = sizeof("Bearer error=\"insufficient_scope\", "
                               "scope=\"\"") - 1 + scope->len;
        challenge.data = ngx_pnalloc(r->pool, challenge.len);
        if (challenge.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(challenge.data,
                    "Bearer error=\"insufficient_scope\", scope=\"%V\"",
                    scope);

        return ngx_http_pdf_report_challenge(r, NGX_HTTP_FORBIDDEN,
                                             &challenge,
                                             "INSUFFICIENT_SCOPE",
                                             "The bearer token lacks the "
                                             "scope this call needs.");
    }

    return NGX_OK;

no_token:

    ngx_str_set(&challenge, "Bearer");

    return ngx_http_pdf_report_challenge(r, NGX_HTTP_UNAUTHORIZED,
                                         &challenge, "UNAUTHORIZED",
                                         "A bearer token is required.");
}


static ngx_int_t
ngx_http_pdf_report_challenge(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *challenge, const char *code, const char *message)
{
    if (ngx_http_pdf_report_add_header(r, "WWW-Authenticate", challenge)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_pdf_report_send_error(r, status, code, message);
}
