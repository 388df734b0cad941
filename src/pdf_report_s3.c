
/*
 * S3 without nginx: pre-signed GET URLs, the object PUT with retries and
 * the AWS shared-credentials file.  See pdf_report_s3.h.
 *
 * Everything here runs in nginx pool threads as well as in unit tests:
 * no nginx calls, no global mutable state, one curl easy handle per PUT.
 */


#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "pdf_report_util.h"
#include "pdf_report_s3.h"


#define PDF_REPORT_S3_HOST_MAX        320
#define PDF_REPORT_S3_BUCKET_MAX      255
#define PDF_REPORT_S3_URI_MAX                                                \
    (2 + 3 * (PDF_REPORT_S3_BUCKET_MAX + PDF_REPORT_S3_KEY_MAX) + 1)
#define PDF_REPORT_S3_PARAMS_MAX      16
/* what a pre-signed URL's parts take on the stack before malloc */
#define PDF_REPORT_S3_STACK_BUF       2048
#define PDF_REPORT_S3_EXPIRES_MAX     604800    /* 7 days, S3's limit */
#define PDF_REPORT_S3_ERROR_BODY_MAX  8192

/* backoff: full jitter over min(cap, base * 2^n) */
#define PDF_REPORT_S3_BACKOFF_BASE_MS 100
#define PDF_REPORT_S3_BACKOFF_CAP_MS  5000
/* an attempt with less time than this left is not worth starting */
#define PDF_REPORT_S3_ATTEMPT_MIN_MS  100
#define PDF_REPORT_S3_CONNECT_MAX_MS  10000

#define PDF_REPORT_S3_UNSIGNED        "UNSIGNED-PAYLOAD"
/* SHA-256 of no bytes: the payload hash of a DELETE */
#define PDF_REPORT_S3_EMPTY_SHA256                                          \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define PDF_REPORT_S3_CONTENT_TYPE    "application/pdf"


typedef struct {
    int       https;
    char      host[PDF_REPORT_S3_HOST_MAX];     /* Host header value */
    char      uri[PDF_REPORT_S3_URI_MAX];       /* canonical, encoded */
} pdf_report_s3_target_t;


typedef struct {
    char     *name;                             /* encoded */
    char     *value;                            /* encoded */
    size_t    name_len;
    size_t    value_len;
} pdf_report_s3_qparam_t;


typedef struct {
    const unsigned char  *data;
    size_t                len;
    size_t                pos;
} pdf_report_s3_upload_t;


typedef struct {
    char      data[PDF_REPORT_S3_ERROR_BODY_MAX + 1];
    size_t    len;
} pdf_report_s3_reply_t;


struct pdf_report_s3_conn_s {
    CURL                    *curl;
    pdf_report_s3_reply_t    reply;
    pdf_report_s3_target_t   target;
    char                     errbuf[CURL_ERROR_SIZE];
};


static int pdf_report_s3_target(const pdf_report_s3_conf_t *conf,
    const char *key, pdf_report_s3_target_t *t);
static int pdf_report_s3_conf_ok(const pdf_report_s3_conf_t *conf);
static int pdf_report_s3_keys_ok(const pdf_report_s3_conf_t *conf);
static int pdf_report_s3_keys(const pdf_report_s3_conf_t *conf,
    pdf_report_s3_conf_t *signer, pdf_report_s3_creds_t *creds);
static int pdf_report_s3_qparam_cmp(const void *a, const void *b);
static int pdf_report_s3_put_attempt(CURL *curl,
    const pdf_report_s3_conf_t *conf, const pdf_report_s3_target_t *t,
    const char *sha256_hex, int64_t now_ms, int64_t remaining_ms,
    char *sig, CURLcode *cc);
static int pdf_report_s3_header(struct curl_slist **list, const char *fmt,
    ...);
static pdf_report_s3_conn_t *pdf_report_s3_conn_create(void);
static int pdf_report_s3_delete_attempt(pdf_report_s3_conn_t *c,
    const pdf_report_s3_conf_t *conf, const char *url, int64_t now_ms,
    int64_t remaining_ms, char *sig, CURLcode *cc);
static void pdf_report_s3_error_reply(pdf_report_s3_result_t *res,
    const pdf_report_s3_reply_t *reply);
static int pdf_report_s3_retryable_curl(CURLcode cc);
static const char *pdf_report_s3_curl_name(CURLcode cc);
static int pdf_report_s3_xml_text(const char *xml, size_t len,
    const char *tag, char *dst, size_t size);
static void pdf_report_s3_scrub(pdf_report_s3_result_t *res,
    const pdf_report_s3_conf_t *conf, const char *sig);
static void pdf_report_s3_sleep_ms(const pdf_report_s3_conf_t *conf,
    int64_t ms);
static int pdf_report_s3_is_cancelled(const pdf_report_s3_conf_t *conf);
static int pdf_report_s3_progress(void *data, curl_off_t dltotal,
    curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static int64_t pdf_report_s3_backoff_ms(int attempt);
static size_t pdf_report_s3_read(char *buf, size_t size, size_t n,
    void *data);
static int pdf_report_s3_seek(void *data, curl_off_t offset, int origin);
static size_t pdf_report_s3_write(char *buf, size_t size, size_t n,
    void *data);
static int pdf_report_s3_ini_value(const char *s, size_t len, char *dst,
    size_t size);
static int pdf_report_s3_ieq(const char *a, size_t alen, const char *b);
static size_t pdf_report_s3_key_segment(char *dst, const char *src,
    size_t len);


long
pdf_report_s3_object_key(char *buf, size_t size, const char *prefix,
    size_t prefix_len, const char *org, const char *job_id)
{
    char    *d;
    size_t   org_len, id_len, len;

    org_len = strlen(org);
    id_len = strlen(job_id);

    if (org_len == 0 || id_len == 0) {
        return -1;
    }

    len = prefix_len + pdf_report_s3_key_segment(NULL, org, org_len) + 1
          + pdf_report_s3_key_segment(NULL, job_id, id_len)
          + sizeof(".pdf") - 1;

    if (len >= size) {
        return -1;
    }

    d = buf;

    memcpy(d, prefix, prefix_len);
    d += prefix_len;

    d += pdf_report_s3_key_segment(d, org, org_len);
    *d++ = '/';

    /* a UUID as it is; anything else still one segment */
    d += pdf_report_s3_key_segment(d, job_id, id_len);
    memcpy(d, ".pdf", sizeof(".pdf"));

    return (long) len;
}


long
pdf_report_s3_presign(const pdf_report_s3_conf_t *conf, const char *key,
    time_t now, unsigned expires, const char *filename, char *buf,
    size_t size)
{
    char                    disp[512];
    size_t                  n;
    const char             *p;
    pdf_report_s3_param_t   params[2];

    n = 0;

    if (filename != NULL) {
        /*
         * S3 copies the value into the Content-Disposition header of its
         * answer: nothing may break out of the quoted string
         */
        if (filename[0] == '\0') {
            return -1;
        }

        for (p = filename; *p != '\0'; p++) {
            if ((unsigned char) *p < 0x20 || *p == 0x7f || *p == '"'
                || *p == '\\')
            {
                return -1;
            }
        }

        if (snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"",
                     filename)
            >= (int) sizeof(disp))
        {
            return -1;
        }

        params[n].name = "response-content-disposition";
        params[n].value = disp;
        n++;
    }

    params[n].name = "response-content-type";
    params[n].value = PDF_REPORT_S3_CONTENT_TYPE;
    n++;

    return pdf_report_s3_presign_params(conf, key, now, expires, params, n,
                                        buf, size);
}


long
pdf_report_s3_presign_params(const pdf_report_s3_conf_t *conf,
    const char *key, time_t now, unsigned expires,
    const pdf_report_s3_param_t *params, size_t nparams, char *buf,
    size_t size)
{
    long                     rc;
    char                    *scratch, *query, *p;
    const char              *scheme;
    char                     amz_date[17], expires_s[16], credential[512];
    char                     sig[PDF_REPORT_SHA256_HEX + 1];
    char                     canonical_host[PDF_REPORT_S3_HOST_MAX + 8];
    char                     sbuf[PDF_REPORT_S3_STACK_BUF];
    char                     qbuf[PDF_REPORT_S3_STACK_BUF];
    size_t                   i, n, need, qlen, hlen, ulen, slen, alen;
    size_t                   rlen;
    pdf_report_s3_target_t   t;
    pdf_report_s3_param_t    all[PDF_REPORT_S3_PARAMS_MAX + 6];
    pdf_report_s3_qparam_t   q[PDF_REPORT_S3_PARAMS_MAX + 6];

    if (conf == NULL || key == NULL || buf == NULL || size == 0
        || !pdf_report_s3_conf_ok(conf) || !pdf_report_s3_keys_ok(conf)
        || expires == 0 || expires > PDF_REPORT_S3_EXPIRES_MAX
        || nparams > PDF_REPORT_S3_PARAMS_MAX
        || (nparams > 0 && params == NULL))
    {
        return -1;
    }

    buf[0] = '\0';
    rc = -1;
    scratch = NULL;
    query = NULL;

    /* a URL a download: built on the stack, by copies, without printf */

    if (pdf_report_s3_target(conf, key, &t) != 0) {
        goto done;
    }

    pdf_report_sigv4_amz_date(amz_date, now);
    p = expires_s + sizeof(expires_s) - 1;
    *p = '\0';

    do {
        *--p = (char) ('0' + expires % 10);
        expires /= 10;
    } while (expires != 0);

    memmove(expires_s, p, expires_s + sizeof(expires_s) - p);

    /* <access key>/<date>/<region>/s3/aws4_request */

    alen = strlen(conf->access_key);
    rlen = strlen(conf->region);

    if (alen + 1 + 8 + 1 + rlen + sizeof("/s3/aws4_request")
        > sizeof(credential))
    {
        goto done;
    }

    p = credential;
    memcpy(p, conf->access_key, alen);
    p += alen;
    *p++ = '/';
    memcpy(p, amz_date, 8);
    p += 8;
    *p++ = '/';
    memcpy(p, conf->region, rlen);
    p += rlen;
    memcpy(p, "/s3/aws4_request", sizeof("/s3/aws4_request"));

    n = 0;
    all[n].name = "X-Amz-Algorithm";
    all[n++].value = "AWS4-HMAC-SHA256";
    all[n].name = "X-Amz-Credential";
    all[n++].value = credential;
    all[n].name = "X-Amz-Date";
    all[n++].value = amz_date;
    all[n].name = "X-Amz-Expires";
    all[n++].value = expires_s;
    all[n].name = "X-Amz-SignedHeaders";
    all[n++].value = "host";

    if (conf->session_token != NULL && conf->session_token[0] != '\0') {
        all[n].name = "X-Amz-Security-Token";
        all[n++].value = conf->session_token;
    }

    for (i = 0; i < nparams; i++) {
        if (params[i].name == NULL || params[i].name[0] == '\0'
            || params[i].value == NULL
            || strncasecmp(params[i].name, "x-amz-", 6) == 0)
        {
            goto done;
        }

        all[n++] = params[i];
    }

    /* every name and value encoded once, then sorted by encoded name */

    need = 0;

    for (i = 0; i < n; i++) {
        need += 3 * strlen(all[i].name) + 1 + 3 * strlen(all[i].value) + 1;
    }

    scratch = (need <= sizeof(sbuf)) ? sbuf : malloc(need);
    if (scratch == NULL) {
        goto done;
    }

    p = scratch;
    qlen = 0;

    for (i = 0; i < n; i++) {
        q[i].name = p;
        q[i].name_len = pdf_report_sigv4_encode(p, all[i].name,
                                                strlen(all[i].name), 0);
        p += q[i].name_len + 1;
        q[i].value = p;
        q[i].value_len = pdf_report_sigv4_encode(p, all[i].value,
                                                 strlen(all[i].value), 0);
        p += q[i].value_len + 1;
        qlen += q[i].name_len + 1 + q[i].value_len + 1;
    }

    qsort(q, n, sizeof(pdf_report_s3_qparam_t), pdf_report_s3_qparam_cmp);

    query = (qlen + 1 <= sizeof(qbuf)) ? qbuf : malloc(qlen + 1);
    if (query == NULL) {
        goto done;
    }

    p = query;

    for (i = 0; i < n; i++) {
        if (i > 0) {
            *p++ = '&';
        }

        memcpy(p, q[i].name, q[i].name_len);
        p += q[i].name_len;
        *p++ = '=';
        memcpy(p, q[i].value, q[i].value_len);
        p += q[i].value_len;
    }

    *p = '\0';
    qlen = p - query;

    /* the host fits: pdf_report_s3_target() kept it to its buffer */
    hlen = strlen(t.host);
    memcpy(canonical_host, "host:", 5);
    memcpy(canonical_host + 5, t.host, hlen);
    canonical_host[5 + hlen] = '\n';
    canonical_host[5 + hlen + 1] = '\0';

    if (pdf_report_sigv4_signature(conf->secret_key, conf->region, "s3",
                                   amz_date, "GET", t.uri, query,
                                   canonical_host, "host",
                                   PDF_REPORT_S3_UNSIGNED, sig)
        != 0)
    {
        goto done;
    }

    /* scheme://host uri ? query &X-Amz-Signature= sig, copied: no printf */

    ulen = strlen(t.uri);
    scheme = t.https ? "https://" : "http://";
    slen = strlen(scheme);

    need = slen + hlen + ulen + 1 + qlen
           + sizeof("&X-Amz-Signature=") - 1 + PDF_REPORT_SHA256_HEX;

    if (need >= size) {
        /* no half URL that would look usable */
        goto done;
    }

    p = buf;
    memcpy(p, scheme, slen);
    p += slen;
    memcpy(p, t.host, hlen);
    p += hlen;
    memcpy(p, t.uri, ulen);
    p += ulen;
    *p++ = '?';
    memcpy(p, query, qlen);
    p += qlen;
    memcpy(p, "&X-Amz-Signature=", sizeof("&X-Amz-Signature=") - 1);
    p += sizeof("&X-Amz-Signature=") - 1;
    memcpy(p, sig, PDF_REPORT_SHA256_HEX);
    p += PDF_REPORT_SHA256_HEX;
    *p = '\0';

    rc = (long) (p - buf);

done:

    if (scratch != sbuf) {
        free(scratch);
    }

    if (query != qbuf) {
        free(query);
    }

    return rc;
}


int
pdf_report_s3_put(const pdf_report_s3_conf_t *conf, const char *key,
    const unsigned char *data, size_t len, const char *sha256_hex,
    int64_t deadline_ms, pdf_report_s3_between_pt between, void *bdata,
    pdf_report_s3_result_t *res)
{
    int                      rc, retry, stopped;
    long                     status;
    char                    *url;
    char                     sig[PDF_REPORT_SHA256_HEX + 1];
    char                     errbuf[CURL_ERROR_SIZE];
    size_t                   i, url_size;
    CURL                    *curl;
    int64_t                  now, remaining, delay, room;
    CURLcode                 cc;
    pdf_report_s3_conf_t     signer;
    pdf_report_s3_creds_t   *creds;
    pdf_report_s3_reply_t   *reply;
    pdf_report_s3_target_t  *t;
    pdf_report_s3_upload_t   up;

    if (res == NULL) {
        return -1;
    }

    memset(res, 0, sizeof(pdf_report_s3_result_t));

    if (conf == NULL || key == NULL || (data == NULL && len > 0)
        || sha256_hex == NULL || strlen(sha256_hex) != PDF_REPORT_SHA256_HEX
        || !pdf_report_s3_conf_ok(conf))
    {
        snprintf(res->code, sizeof(res->code), "InvalidArgument");
        snprintf(res->message, sizeof(res->message),
                 "incomplete S3 configuration or request");
        return -1;
    }

    for (i = 0; i < PDF_REPORT_SHA256_HEX; i++) {
        if (!((sha256_hex[i] >= '0' && sha256_hex[i] <= '9')
              || (sha256_hex[i] >= 'a' && sha256_hex[i] <= 'f')))
        {
            snprintf(res->code, sizeof(res->code), "InvalidArgument");
            snprintf(res->message, sizeof(res->message),
                     "payload hash is not 64 lower-case hex digits");
            return -1;
        }
    }

    rc = -1;
    url = NULL;
    curl = NULL;
    reply = NULL;

    t = malloc(sizeof(pdf_report_s3_target_t));
    reply = malloc(sizeof(pdf_report_s3_reply_t));
    creds = malloc(sizeof(pdf_report_s3_creds_t));

    if (t == NULL || reply == NULL || creds == NULL) {
        snprintf(res->code, sizeof(res->code), "OutOfMemory");
        snprintf(res->message, sizeof(res->message), "out of memory");
        goto done;
    }

    if (pdf_report_s3_target(conf, key, t) != 0) {
        snprintf(res->code, sizeof(res->code), "InvalidArgument");
        snprintf(res->message, sizeof(res->message),
                 "bad S3 endpoint, bucket or object key");
        goto done;
    }

    url_size = sizeof("https://") + strlen(t->host) + strlen(t->uri);

    url = malloc(url_size);
    if (url == NULL) {
        snprintf(res->code, sizeof(res->code), "OutOfMemory");
        snprintf(res->message, sizeof(res->message), "out of memory");
        goto done;
    }

    snprintf(url, url_size, "%s://%s%s", t->https ? "https" : "http",
             t->host, t->uri);

    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(res->code, sizeof(res->code), "CURLE_FAILED_INIT");
        snprintf(res->message, sizeof(res->message),
                 "curl_easy_init() failed");
        goto done;
    }

    up.data = data;
    up.len = len;
    up.pos = 0;
    errbuf[0] = '\0';

    /*
     * NOSIGNAL: a pool thread must not take SIGALRM for DNS timeouts;
     * PATH_AS_IS: the path is sent exactly as it was signed, no "/../"
     * squashing; no redirects: a signed request cannot follow one
     */
    if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#endif
        || curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                            (curl_off_t) len) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_READFUNCTION, pdf_report_s3_read)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_READDATA, &up) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, pdf_report_s3_seek)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_SEEKDATA, &up) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                            pdf_report_s3_write) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_USERAGENT,
                            "ngx_http_pdf_report_module") != CURLE_OK
        || (conf->cancelled != NULL
            && (curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                                    pdf_report_s3_progress) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFODATA,
                                    (void *) conf) != CURLE_OK)))
    {
        snprintf(res->code, sizeof(res->code), "CURLE_FAILED_INIT");
        snprintf(res->message, sizeof(res->message),
                 "cannot set up the curl handle");
        goto done;
    }

    stopped = 0;

    for ( ;; ) {
        now = pdf_report_now_ms();
        remaining = deadline_ms - now;

        if (remaining <= 0) {
            if (res->attempts == 0) {
                snprintf(res->code, sizeof(res->code), "DeadlineExceeded");
                snprintf(res->message, sizeof(res->message),
                         "no time left for the upload");
            }

            break;
        }

        /* asked again each attempt: the keys may have rotated */
        if (pdf_report_s3_keys(conf, &signer, creds) != 0) {
            res->http_status = 0;
            snprintf(res->code, sizeof(res->code), "CredentialsUnavailable");
            snprintf(res->message, sizeof(res->message),
                     "no S3 credentials to sign with now");
            break;
        }

        res->attempts++;
        up.pos = 0;
        reply->len = 0;
        reply->data[0] = '\0';
        errbuf[0] = '\0';
        status = 0;
        retry = 0;
        sig[0] = '\0';

        if (pdf_report_s3_put_attempt(curl, &signer, t, sha256_hex, now,
                                      remaining, sig, &cc)
            != 0)
        {
            snprintf(res->code, sizeof(res->code), "InternalError");
            snprintf(res->message, sizeof(res->message),
                     "cannot build the signed request (memory or crypto)");
            break;
        }

        if (cc == CURLE_OK
            && curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status)
               != CURLE_OK)
        {
            status = 0;
        }

        res->http_status = (int) status;
        res->code[0] = '\0';
        res->message[0] = '\0';

        if (pdf_report_s3_is_cancelled(conf)) {
            res->http_status = 0;
            snprintf(res->code, sizeof(res->code), "Cancelled");
            snprintf(res->message, sizeof(res->message),
                     "the upload was cancelled by the caller");
            break;
        }

        if (cc != CURLE_OK) {
            if (pdf_report_s3_curl_name(cc) != NULL) {
                snprintf(res->code, sizeof(res->code), "%s",
                         pdf_report_s3_curl_name(cc));

            } else {
                snprintf(res->code, sizeof(res->code), "CURLE_%d",
                         (int) cc);
            }

            snprintf(res->message, sizeof(res->message), "%s",
                     errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
            retry = pdf_report_s3_retryable_curl(cc);

        } else if (status >= 200 && status < 300) {
            rc = 0;
            break;

        } else {
            pdf_report_s3_error_reply(res, reply);

            if (res->code[0] == '\0') {
                snprintf(res->code, sizeof(res->code), "HTTP%ld", status);
            }

            if (res->message[0] == '\0') {
                snprintf(res->message, sizeof(res->message),
                         "S3 answered HTTP %ld", status);
            }

            /*
             * ExpiredToken: temporary keys that S3 saw expire, with a
             * source that may have new ones by the next attempt
             */
            retry = (status >= 500 || strcmp(res->code, "SlowDown") == 0
                     || (conf->credentials != NULL
                         && strcmp(res->code, "ExpiredToken") == 0));
        }

        pdf_report_s3_scrub(res, &signer, sig);

        if (!retry) {
            break;
        }

        /*
         * a wait that would run past the last useful moment is cut short
         * there, so that the last attempt still happens inside the budget
         */
        delay = pdf_report_s3_backoff_ms(res->attempts);
        room = deadline_ms - pdf_report_now_ms()
               - PDF_REPORT_S3_ATTEMPT_MIN_MS;

        if (room <= 0) {
            stopped = 1;
            break;
        }

        pdf_report_s3_sleep_ms(conf, delay < room ? delay : room);

        if (pdf_report_s3_is_cancelled(conf)) {
            snprintf(res->code, sizeof(res->code), "Cancelled");
            snprintf(res->message, sizeof(res->message),
                     "the upload was cancelled by the caller");
            break;
        }

        /* e.g. the job lease: renewed, or lost and the job is not ours */
        if (between != NULL && between(bdata) != 0) {
            stopped = 2;
            break;
        }
    }

    if (rc != 0 && stopped != 0) {
        i = strlen(res->message);

        snprintf(res->message + i, sizeof(res->message) - i, "%s",
                 stopped == 1 ? " (gave up: deadline)"
                              : " (retries stopped by the caller)");
    }

done:

    if (curl != NULL) {
        curl_easy_cleanup(curl);
    }

    if (creds != NULL) {
        OPENSSL_cleanse(creds, sizeof(pdf_report_s3_creds_t));
    }

    free(url);
    free(reply);
    free(creds);
    free(t);

    return rc;
}


int
pdf_report_s3_delete(const pdf_report_s3_conf_t *conf, const char *key,
    int64_t deadline_ms, pdf_report_s3_conn_t **conn,
    pdf_report_s3_result_t *res)
{
    int                    rc;
    long                   status;
    char                  *url;
    char                   sig[PDF_REPORT_SHA256_HEX + 1];
    size_t                 url_size;
    int64_t                now, remaining;
    CURLcode               cc;
    pdf_report_s3_conf_t   signer;
    pdf_report_s3_conn_t  *c;
    pdf_report_s3_creds_t  creds;

    if (res == NULL) {
        return -1;
    }

    memset(res, 0, sizeof(pdf_report_s3_result_t));

    if (conf == NULL || key == NULL || conn == NULL
        || !pdf_report_s3_conf_ok(conf))
    {
        snprintf(res->code, sizeof(res->code), "InvalidArgument");
        snprintf(res->message, sizeof(res->message),
                 "incomplete S3 configuration or request");
        return -1;
    }

    if (*conn == NULL) {
        *conn = pdf_report_s3_conn_create();

        if (*conn == NULL) {
            snprintf(res->code, sizeof(res->code), "CURLE_FAILED_INIT");
            snprintf(res->message, sizeof(res->message),
                     "cannot set up a curl handle");
            res->retry = 1;
            return -1;
        }
    }

    c = *conn;

    if (pdf_report_s3_target(conf, key, &c->target) != 0) {
        snprintf(res->code, sizeof(res->code), "InvalidArgument");
        snprintf(res->message, sizeof(res->message),
                 "bad S3 endpoint, bucket or object key");
        return -1;
    }

    now = pdf_report_now_ms();
    remaining = deadline_ms - now;

    if (remaining <= 0) {
        snprintf(res->code, sizeof(res->code), "DeadlineExceeded");
        snprintf(res->message, sizeof(res->message),
                 "no time left for the delete");
        res->retry = 1;
        return -1;
    }

    if (pdf_report_s3_keys(conf, &signer, &creds) != 0) {
        snprintf(res->code, sizeof(res->code), "CredentialsUnavailable");
        snprintf(res->message, sizeof(res->message),
                 "no S3 credentials to sign with now");
        res->retry = 1;
        return -1;
    }

    url_size = sizeof("https://") + strlen(c->target.host)
               + strlen(c->target.uri);

    url = malloc(url_size);
    if (url == NULL) {
        OPENSSL_cleanse(&creds, sizeof(pdf_report_s3_creds_t));
        snprintf(res->code, sizeof(res->code), "OutOfMemory");
        snprintf(res->message, sizeof(res->message), "out of memory");
        res->retry = 1;
        return -1;
    }

    snprintf(url, url_size, "%s://%s%s", c->target.https ? "https" : "http",
             c->target.host, c->target.uri);

    res->attempts = 1;
    c->reply.len = 0;
    c->reply.data[0] = '\0';
    c->errbuf[0] = '\0';
    sig[0] = '\0';
    status = 0;

    rc = pdf_report_s3_delete_attempt(c, &signer, url, now, remaining, sig,
                                      &cc);

    free(url);

    if (rc != 0) {
        snprintf(res->code, sizeof(res->code), "InternalError");
        snprintf(res->message, sizeof(res->message),
                 "cannot build the signed request (memory or crypto)");
        res->retry = 1;
        goto done;
    }

    rc = -1;

    if (cc == CURLE_OK
        && curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status)
           != CURLE_OK)
    {
        status = 0;
    }

    res->http_status = (int) status;

    if (pdf_report_s3_is_cancelled(conf)) {
        res->http_status = 0;
        snprintf(res->code, sizeof(res->code), "Cancelled");
        snprintf(res->message, sizeof(res->message),
                 "the delete was cancelled by the caller");
        res->retry = 1;
        goto done;
    }

    if (cc != CURLE_OK) {
        if (pdf_report_s3_curl_name(cc) != NULL) {
            snprintf(res->code, sizeof(res->code), "%s",
                     pdf_report_s3_curl_name(cc));

        } else {
            snprintf(res->code, sizeof(res->code), "CURLE_%d", (int) cc);
        }

        snprintf(res->message, sizeof(res->message), "%s",
                 c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(cc));
        res->retry = pdf_report_s3_retryable_curl(cc);

        pdf_report_s3_scrub(res, &signer, sig);

        goto done;
    }

    if ((status >= 200 && status < 300) || status == 404) {
        if (status == 404) {
            pdf_report_s3_error_reply(res, &c->reply);
            pdf_report_s3_scrub(res, &signer, sig);
        }

        rc = 0;
        goto done;
    }

    pdf_report_s3_error_reply(res, &c->reply);

    if (res->code[0] == '\0') {
        snprintf(res->code, sizeof(res->code), "HTTP%ld", status);
    }

    if (res->message[0] == '\0') {
        snprintf(res->message, sizeof(res->message), "S3 answered HTTP %ld",
                 status);
    }

    res->retry = (status >= 500 || strcmp(res->code, "SlowDown") == 0
                  || (conf->credentials != NULL
                      && strcmp(res->code, "ExpiredToken") == 0));

    pdf_report_s3_scrub(res, &signer, sig);

done:

    OPENSSL_cleanse(&creds, sizeof(pdf_report_s3_creds_t));

    return rc;
}


void
pdf_report_s3_conn_free(pdf_report_s3_conn_t *conn)
{
    if (conn == NULL) {
        return;
    }

    curl_easy_cleanup(conn->curl);
    free(conn);
}


int
pdf_report_aws_credentials_parse(const char *text, size_t len,
    const char *profile, char *access_key, size_t access_size,
    char *secret_key, size_t secret_size, char *token, size_t token_size,
    char *err, size_t err_size)
{
    int          in_profile, found, have_access, have_secret, line;
    size_t       plen, klen, vlen;
    const char  *p, *end, *eol, *s, *e, *k, *v, *name;
    char        *dst;
    size_t       dst_size;

    if (profile == NULL || profile[0] == '\0') {
        profile = "default";
    }

    if (access_key == NULL || access_size == 0 || secret_key == NULL
        || secret_size == 0 || token == NULL || token_size == 0
        || (text == NULL && len > 0))
    {
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "bad arguments");
        }

        return -1;
    }

    access_key[0] = '\0';
    secret_key[0] = '\0';
    token[0] = '\0';

    plen = strlen(profile);
    in_profile = 0;
    found = 0;
    have_access = 0;
    have_secret = 0;
    line = 0;

    p = text;
    end = text + len;

    /* no text file has one, and a value cut at it would come out empty */
    s = (len > 0) ? memchr(text, '\0', len) : NULL;

    if (s != NULL) {
        for (e = text; e < s; e++) {
            line += (*e == '\n');
        }

        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "line %d: a NUL byte", line + 1);
        }

        goto failed;
    }

    /* a UTF-8 byte order mark, as some editors write */
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
    }

    for ( /* void */ ; p < end; p = eol + 1) {
        line++;

        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        /* trim, which also drops the '\r' of CRLF files */
        s = p;
        e = eol;

        while (s < e && isspace((unsigned char) *s)) {
            s++;
        }

        while (e > s && isspace((unsigned char) e[-1])) {
            e--;
        }

        if (s == e || *s == '#' || *s == ';') {
            continue;
        }

        if (*s == '[') {
            if (e[-1] != ']') {
                if (err != NULL && err_size > 0) {
                    snprintf(err, err_size,
                             "line %d: unterminated section header", line);
                }

                goto failed;
            }

            s++;
            e--;

            while (s < e && isspace((unsigned char) *s)) {
                s++;
            }

            while (e > s && isspace((unsigned char) e[-1])) {
                e--;
            }

            /* "[profile name]" is the ~/.aws/config spelling: take it too */
            if (e - s > 8 && strncmp(s, "profile", 7) == 0
                && isspace((unsigned char) s[7]))
            {
                s += 8;

                while (s < e && isspace((unsigned char) *s)) {
                    s++;
                }
            }

            in_profile = ((size_t) (e - s) == plen
                          && memcmp(s, profile, plen) == 0);

            if (in_profile) {
                found = 1;
            }

            continue;
        }

        if (!in_profile) {
            continue;
        }

        /* key = value, or key: value as Python's configparser allows */
        for (v = s; v < e && *v != '=' && *v != ':'; v++) {
            /* void */
        }

        if (v == e) {
            if (err != NULL && err_size > 0) {
                snprintf(err, err_size,
                         "line %d: expected \"key = value\"", line);
            }

            goto failed;
        }

        k = s;
        klen = v - s;

        while (klen > 0 && isspace((unsigned char) k[klen - 1])) {
            klen--;
        }

        v++;

        while (v < e && isspace((unsigned char) *v)) {
            v++;
        }

        vlen = e - v;

        if (pdf_report_s3_ieq(k, klen, "aws_access_key_id")) {
            dst = access_key;
            dst_size = access_size;
            name = "aws_access_key_id";
            have_access = (vlen > 0);

        } else if (pdf_report_s3_ieq(k, klen, "aws_secret_access_key")) {
            dst = secret_key;
            dst_size = secret_size;
            name = "aws_secret_access_key";
            have_secret = (vlen > 0);

        } else if (pdf_report_s3_ieq(k, klen, "aws_session_token")) {
            dst = token;
            dst_size = token_size;
            name = "aws_session_token";

        } else {
            /* region, output, aws_security_token, ...: not ours */
            continue;
        }

        if (pdf_report_s3_ini_value(v, vlen, dst, dst_size) != 0) {
            if (err != NULL && err_size > 0) {
                snprintf(err, err_size, "line %d: %s is too long", line,
                         name);
            }

            goto failed;
        }
    }

    if (!found) {
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "profile \"%.64s\" not found", profile);
        }

        goto failed;
    }

    if (!have_access || !have_secret) {
        if (err != NULL && err_size > 0) {
            snprintf(err, err_size, "profile \"%.64s\" has no %s", profile,
                     have_access ? "aws_secret_access_key"
                                 : "aws_access_key_id");
        }

        goto failed;
    }

    return 0;

failed:

    /* nothing half-read is left behind, a secret least of all */
    access_key[0] = '\0';
    secret_key[0] = '\0';
    token[0] = '\0';

    return -1;
}


/*
 * The request's Host and canonical URI from the endpoint, the bucket and
 * the key: "scheme://host[:port]" with an optional trailing '/', the port
 * dropped when it is the scheme's default (as clients send Host), the
 * host lower-cased, the key encoded segment by segment.
 */

static int
pdf_report_s3_target(const pdf_report_s3_conf_t *conf, const char *key,
    pdf_report_s3_target_t *t)
{
    long         port;
    size_t       n, len, blen, klen;
    const char  *p, *host, *host_end, *port_s, *auth_end, *b;
    char        *d;

    p = conf->endpoint;

    if (strncasecmp(p, "https://", 8) == 0) {
        t->https = 1;
        p += 8;

    } else if (strncasecmp(p, "http://", 7) == 0) {
        t->https = 0;
        p += 7;

    } else {
        return -1;
    }

    auth_end = p + strcspn(p, "/?#");

    /* only "" or "/" may follow the authority; no user info either */
    if ((*auth_end != '\0' && strcmp(auth_end, "/") != 0)
        || memchr(p, '@', auth_end - p) != NULL)
    {
        return -1;
    }

    host = p;

    if (*p == '[') {
        host_end = memchr(p, ']', auth_end - p);
        if (host_end == NULL) {
            return -1;
        }

        host_end++;

    } else {
        host_end = memchr(p, ':', auth_end - p);
        if (host_end == NULL) {
            host_end = auth_end;
        }
    }

    if (host_end == host) {
        return -1;
    }

    /*
     * a host name (with '_', which some private names have), an IPv4
     * address or [IPv6]: the URL then needs no escaping
     */
    for (p = host; p < host_end; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
              || *p == '_'
              || (*host == '[' && (*p == '[' || *p == ']' || *p == ':'))))
        {
            return -1;
        }
    }

    port = 0;
    port_s = NULL;

    if (host_end < auth_end) {
        if (*host_end != ':' || host_end + 1 == auth_end) {
            return -1;
        }

        port_s = host_end + 1;

        for (p = port_s; p < auth_end; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }

            port = port * 10 + (*p - '0');

            if (port > 65535) {
                return -1;
            }
        }

        if (port == 0) {
            return -1;
        }

        if ((t->https && port == 443) || (!t->https && port == 80)) {
            port_s = NULL;
        }
    }

    blen = strlen(conf->bucket);
    klen = strlen(key);

    if (blen == 0 || blen > PDF_REPORT_S3_BUCKET_MAX || klen == 0
        || klen > PDF_REPORT_S3_KEY_MAX)
    {
        return -1;
    }

    /* Host: [bucket.]host[:port] */

    len = (size_t) (host_end - host);

    if ((conf->path_style ? 0 : blen + 1) + len
        + (port_s ? 1 + (size_t) (auth_end - port_s) : 0)
        >= sizeof(t->host))
    {
        return -1;
    }

    d = t->host;

    if (!conf->path_style) {
        /* the bucket becomes a DNS label: only what DNS allows */
        for (b = conf->bucket; *b != '\0'; b++) {
            if (!((*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9')
                  || *b == '-' || *b == '.'))
            {
                return -1;
            }
        }

        memcpy(d, conf->bucket, blen);
        d += blen;
        *d++ = '.';
    }

    for (n = 0; n < len; n++) {
        *d++ = (char) tolower((unsigned char) host[n]);
    }

    if (port_s != NULL) {
        *d++ = ':';
        memcpy(d, port_s, auth_end - port_s);
        d += auth_end - port_s;
    }

    *d = '\0';

    /* URI: /[bucket/]key, '/' in the key kept, all else RFC 3986 */

    d = t->uri;
    *d++ = '/';

    if (conf->path_style) {
        d += pdf_report_sigv4_encode(d, conf->bucket, blen, 0);
        *d++ = '/';
    }

    pdf_report_sigv4_encode(d, key, klen, 1);

    return 0;
}


static int
pdf_report_s3_conf_ok(const pdf_report_s3_conf_t *conf)
{
    return conf->endpoint != NULL && conf->region != NULL
           && conf->region[0] != '\0' && conf->bucket != NULL
           && (conf->credentials != NULL || pdf_report_s3_keys_ok(conf))
           && strlen(conf->region) < 64;
}


static int
pdf_report_s3_keys_ok(const pdf_report_s3_conf_t *conf)
{
    return conf->access_key != NULL && conf->access_key[0] != '\0'
           && strlen(conf->access_key) < PDF_REPORT_S3_ACCESS_MAX
           && conf->secret_key != NULL && conf->secret_key[0] != '\0';
}


/*
 * The configuration an attempt signs with: conf itself, or conf with the
 * keys its credentials source gives now (they may have rotated since the
 * last attempt).  0, or -1 when there are none to sign with.
 */

static int
pdf_report_s3_keys(const pdf_report_s3_conf_t *conf,
    pdf_report_s3_conf_t *signer, pdf_report_s3_creds_t *creds)
{
    *signer = *conf;

    if (conf->credentials == NULL) {
        return 0;
    }

    if (conf->credentials(conf->credentials_data, creds) != 0) {
        return -1;
    }

    signer->access_key = creds->access_key;
    signer->secret_key = creds->secret_key;
    signer->session_token = creds->session_token[0] != '\0'
                            ? creds->session_token : NULL;
    signer->credentials = NULL;

    return pdf_report_s3_keys_ok(signer) ? 0 : -1;
}


static int
pdf_report_s3_qparam_cmp(const void *a, const void *b)
{
    int                            rc;
    const pdf_report_s3_qparam_t  *qa, *qb;

    qa = a;
    qb = b;

    rc = strcmp(qa->name, qb->name);

    return rc != 0 ? rc : strcmp(qa->value, qb->value);
}


/*
 * One signed PUT: headers built and signed for this attempt's time, the
 * attempt's timeouts ending at the deadline.  Returns 0 with the transfer
 * result in *cc, or -1 when the request could not even be made (memory,
 * crypto).  The signature is left in sig so that the caller can make sure
 * no message repeats it.
 */

static int
pdf_report_s3_put_attempt(CURL *curl, const pdf_report_s3_conf_t *conf,
    const pdf_report_s3_target_t *t, const char *sha256_hex,
    int64_t now_ms, int64_t remaining_ms, char *sig, CURLcode *cc)
{
    int                 rc, len, have_token;
    long                connect_ms;
    char               *canonical;
    char                amz_date[17];
    size_t              size;
    const char         *signed_headers;
    struct curl_slist  *headers;

    have_token = (conf->session_token != NULL
                  && conf->session_token[0] != '\0');

    pdf_report_sigv4_amz_date(amz_date, (time_t) (now_ms / 1000));

    signed_headers = have_token
        ? "content-type;host;x-amz-content-sha256;x-amz-date;"
          "x-amz-security-token"
        : "content-type;host;x-amz-content-sha256;x-amz-date";

    rc = -1;
    headers = NULL;

    size = 256 + strlen(t->host) + PDF_REPORT_SHA256_HEX
           + (have_token ? strlen(conf->session_token) : 0);

    canonical = malloc(size);
    if (canonical == NULL) {
        return -1;
    }

    len = snprintf(canonical, size,
                   "content-type:" PDF_REPORT_S3_CONTENT_TYPE "\n"
                   "host:%s\n"
                   "x-amz-content-sha256:%s\n"
                   "x-amz-date:%s\n"
                   "%s%s%s",
                   t->host, sha256_hex, amz_date,
                   have_token ? "x-amz-security-token:" : "",
                   have_token ? conf->session_token : "",
                   have_token ? "\n" : "");
    if (len < 0 || (size_t) len >= size) {
        goto done;
    }

    if (pdf_report_sigv4_signature(conf->secret_key, conf->region, "s3",
                                   amz_date, "PUT", t->uri, "", canonical,
                                   signed_headers, sha256_hex, sig)
        != 0)
    {
        goto done;
    }

    /* "Expect:" drops the 100-continue round trip: S3 answers errors anyway */
    if (pdf_report_s3_header(&headers, "Host: %s", t->host) != 0
        || pdf_report_s3_header(&headers, "Content-Type: %s",
                                PDF_REPORT_S3_CONTENT_TYPE) != 0
        || pdf_report_s3_header(&headers, "x-amz-content-sha256: %s",
                                sha256_hex) != 0
        || pdf_report_s3_header(&headers, "x-amz-date: %s", amz_date) != 0
        || (have_token
            && pdf_report_s3_header(&headers, "x-amz-security-token: %s",
                                    conf->session_token) != 0)
        || pdf_report_s3_header(&headers,
                                "Authorization: AWS4-HMAC-SHA256 "
                                "Credential=%s/%.8s/%s/s3/aws4_request, "
                                "SignedHeaders=%s, Signature=%s",
                                conf->access_key, amz_date, conf->region,
                                signed_headers, sig) != 0
        || pdf_report_s3_header(&headers, "Expect:") != 0)
    {
        goto done;
    }

    connect_ms = (long) (remaining_ms < PDF_REPORT_S3_CONNECT_MAX_MS
                         ? remaining_ms : PDF_REPORT_S3_CONNECT_MAX_MS);

    if (curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) remaining_ms)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms)
           != CURLE_OK)
    {
        goto done;
    }

    *cc = curl_easy_perform(curl);
    rc = 0;

    /* the list is freed below: the handle must not keep pointing at it */
    (void) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);

done:

    curl_slist_free_all(headers);
    free(canonical);

    return rc;
}


/*
 * A handle for DELETEs: no body, the answer's first bytes kept (S3's
 * error document), the same rules as a PUT's handle otherwise.
 */

static pdf_report_s3_conn_t *
pdf_report_s3_conn_create(void)
{
    pdf_report_s3_conn_t  *c;

    c = calloc(1, sizeof(pdf_report_s3_conn_t));
    if (c == NULL) {
        return NULL;
    }

    c->curl = curl_easy_init();

    if (c->curl == NULL
        || curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_PATH_AS_IS, 1L) != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L)
           != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#endif
        || curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "DELETE")
           != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION,
                            pdf_report_s3_write) != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->reply)
           != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf)
           != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_USERAGENT,
                            "ngx_http_pdf_report_module") != CURLE_OK)
    {
        pdf_report_s3_conn_free(c);
        return NULL;
    }

    return c;
}


/* one signed DELETE on the kept handle, as _put_attempt() does a PUT */

static int
pdf_report_s3_delete_attempt(pdf_report_s3_conn_t *c,
    const pdf_report_s3_conf_t *conf, const char *url, int64_t now_ms,
    int64_t remaining_ms, char *sig, CURLcode *cc)
{
    int                 rc, len, have_token;
    long                connect_ms;
    char               *canonical;
    char                amz_date[17];
    size_t              size;
    const char         *signed_headers;
    struct curl_slist  *headers;

    have_token = (conf->session_token != NULL
                  && conf->session_token[0] != '\0');

    pdf_report_sigv4_amz_date(amz_date, (time_t) (now_ms / 1000));

    signed_headers = have_token
        ? "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
        : "host;x-amz-content-sha256;x-amz-date";

    rc = -1;
    headers = NULL;

    size = 256 + strlen(c->target.host) + PDF_REPORT_SHA256_HEX
           + (have_token ? strlen(conf->session_token) : 0);

    canonical = malloc(size);
    if (canonical == NULL) {
        return -1;
    }

    len = snprintf(canonical, size,
                   "host:%s\n"
                   "x-amz-content-sha256:" PDF_REPORT_S3_EMPTY_SHA256 "\n"
                   "x-amz-date:%s\n"
                   "%s%s%s",
                   c->target.host, amz_date,
                   have_token ? "x-amz-security-token:" : "",
                   have_token ? conf->session_token : "",
                   have_token ? "\n" : "");
    if (len < 0 || (size_t) len >= size) {
        goto done;
    }

    if (pdf_report_sigv4_signature(conf->secret_key, conf->region, "s3",
                                   amz_date, "DELETE", c->target.uri, "",
                                   canonical, signed_headers,
                                   PDF_REPORT_S3_EMPTY_SHA256, sig)
        != 0)
    {
        goto done;
    }

    if (pdf_report_s3_header(&headers, "Host: %s", c->target.host) != 0
        || pdf_report_s3_header(&headers, "x-amz-content-sha256: %s",
                                PDF_REPORT_S3_EMPTY_SHA256) != 0
        || pdf_report_s3_header(&headers, "x-amz-date: %s", amz_date) != 0
        || (have_token
            && pdf_report_s3_header(&headers, "x-amz-security-token: %s",
                                    conf->session_token) != 0)
        || pdf_report_s3_header(&headers,
                                "Authorization: AWS4-HMAC-SHA256 "
                                "Credential=%s/%.8s/%s/s3/aws4_request, "
                                "SignedHeaders=%s, Signature=%s",
                                conf->access_key, amz_date, conf->region,
                                signed_headers, sig) != 0)
    {
        goto done;
    }

    connect_ms = (long) (remaining_ms < PDF_REPORT_S3_CONNECT_MAX_MS
                         ? remaining_ms : PDF_REPORT_S3_CONNECT_MAX_MS);

    if (curl_easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers)
           != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long) remaining_ms)
           != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms)
           != CURLE_OK
        || curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS,
                            conf->cancelled != NULL ? 0L : 1L) != CURLE_OK
        || (conf->cancelled != NULL
            && (curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION,
                                 pdf_report_s3_progress) != CURLE_OK
                || curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA,
                                    (void *) conf) != CURLE_OK)))
    {
        goto done;
    }

    *cc = curl_easy_perform(c->curl);
    rc = 0;

    /* the list is freed below: the handle must not keep pointing at it */
    (void) curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);

done:

    curl_slist_free_all(headers);
    free(canonical);

    return rc;
}


/* appends one formatted header line to the list; 0 or -1 */

static int
pdf_report_s3_header(struct curl_slist **list, const char *fmt, ...)
{
    int                 len;
    char               *line;
    va_list             args;
    struct curl_slist  *l;

    va_start(args, fmt);
    len = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    if (len < 0) {
        return -1;
    }

    line = malloc((size_t) len + 1);
    if (line == NULL) {
        return -1;
    }

    va_start(args, fmt);
    (void) vsnprintf(line, (size_t) len + 1, fmt, args);
    va_end(args);

    /* curl_slist_append copies the string */
    l = curl_slist_append(*list, line);

    free(line);

    if (l == NULL) {
        return -1;
    }

    *list = l;

    return 0;
}


/* S3's XML error document: <Error><Code>..</Code><Message>..</Message> */

static void
pdf_report_s3_error_reply(pdf_report_s3_result_t *res,
    const pdf_report_s3_reply_t *reply)
{
    char    code[sizeof(res->code)];
    size_t  i;

    if (pdf_report_s3_xml_text(reply->data, reply->len, "Code", code,
                               sizeof(code))
        == 0)
    {
        /* error codes are identifiers; anything else is not one */
        for (i = 0; code[i] != '\0'; i++) {
            if (!isalnum((unsigned char) code[i]) && code[i] != '.') {
                break;
            }
        }

        if (i > 0 && code[i] == '\0') {
            memcpy(res->code, code, sizeof(code));
        }
    }

    (void) pdf_report_s3_xml_text(reply->data, reply->len, "Message",
                                  res->message, sizeof(res->message));
}


/*
 * Text of the first <tag>..</tag>, entities decoded, reduced to one line
 * of printable ASCII.  Returns 0, or -1 when the element is absent.
 */

static int
pdf_report_s3_xml_text(const char *xml, size_t len, const char *tag,
    char *dst, size_t size)
{
    char         open[32], close[32];
    size_t       n, olen, clen, i;
    const char  *s, *e, *p;

    static const struct {
        const char  *entity;
        char         c;
    }  entities[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
        { "&quot;", '"' }, { "&apos;", '\'' }
    };

    olen = (size_t) snprintf(open, sizeof(open), "<%s>", tag);
    clen = (size_t) snprintf(close, sizeof(close), "</%s>", tag);

    s = NULL;

    for (p = xml; p + olen <= xml + len; p++) {
        if (memcmp(p, open, olen) == 0) {
            s = p + olen;
            break;
        }
    }

    if (s == NULL) {
        return -1;
    }

    e = NULL;

    for (p = s; p + clen <= xml + len; p++) {
        if (memcmp(p, close, clen) == 0) {
            e = p;
            break;
        }
    }

    if (e == NULL) {
        return -1;
    }

    n = 0;

    for (p = s; p < e && n + 1 < size; p++) {
        if (*p == '&') {
            for (i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
                clen = strlen(entities[i].entity);

                if ((size_t) (e - p) >= clen
                    && memcmp(p, entities[i].entity, clen) == 0)
                {
                    break;
                }
            }

            if (i < sizeof(entities) / sizeof(entities[0])) {
                dst[n++] = entities[i].c;
                p += clen - 1;
                continue;
            }
        }

        if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e) {
            if (n > 0 && dst[n - 1] != ' ') {
                dst[n++] = ' ';
            }

            continue;
        }

        dst[n++] = *p;
    }

    dst[n] = '\0';

    return 0;
}


/*
 * The result ends up in logs and in the job record: whatever an endpoint
 * put in its message, it never carries our secret, token or signature.
 */

static void
pdf_report_s3_scrub(pdf_report_s3_result_t *res,
    const pdf_report_s3_conf_t *conf, const char *sig)
{
    if ((strlen(conf->secret_key) >= 4
         && strstr(res->message, conf->secret_key) != NULL)
        || (sig[0] != '\0' && strstr(res->message, sig) != NULL)
        || (conf->session_token != NULL && strlen(conf->session_token) >= 4
            && strstr(res->message, conf->session_token) != NULL))
    {
        snprintf(res->message, sizeof(res->message),
                 "(message withheld: it quoted a credential)");
    }
}


static int
pdf_report_s3_retryable_curl(CURLcode cc)
{
    switch (cc) {

    /* a broken request or setup, not the network: retrying cannot help */
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_FAILED_INIT:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_FUNCTION_NOT_FOUND:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_LOGIN_DENIED:
    case CURLE_FILESIZE_EXCEEDED:
        return 0;

    default:
        return 1;
    }
}


static const char *
pdf_report_s3_curl_name(CURLcode cc)
{
    switch (cc) {

    case CURLE_COULDNT_RESOLVE_PROXY:
        return "CURLE_COULDNT_RESOLVE_PROXY";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "CURLE_COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT:
        return "CURLE_COULDNT_CONNECT";
    case CURLE_WEIRD_SERVER_REPLY:
        return "CURLE_WEIRD_SERVER_REPLY";
    case CURLE_HTTP2:
        return "CURLE_HTTP2";
    case CURLE_HTTP2_STREAM:
        return "CURLE_HTTP2_STREAM";
    case CURLE_PARTIAL_FILE:
        return "CURLE_PARTIAL_FILE";
    case CURLE_WRITE_ERROR:
        return "CURLE_WRITE_ERROR";
    case CURLE_READ_ERROR:
        return "CURLE_READ_ERROR";
    case CURLE_OUT_OF_MEMORY:
        return "CURLE_OUT_OF_MEMORY";
    case CURLE_OPERATION_TIMEDOUT:
        return "CURLE_OPERATION_TIMEDOUT";
    case CURLE_SSL_CONNECT_ERROR:
        return "CURLE_SSL_CONNECT_ERROR";
    case CURLE_GOT_NOTHING:
        return "CURLE_GOT_NOTHING";
    case CURLE_SEND_ERROR:
        return "CURLE_SEND_ERROR";
    case CURLE_RECV_ERROR:
        return "CURLE_RECV_ERROR";
    case CURLE_SEND_FAIL_REWIND:
        return "CURLE_SEND_FAIL_REWIND";
    case CURLE_PEER_FAILED_VERIFICATION:
        return "CURLE_PEER_FAILED_VERIFICATION";
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "CURLE_UNSUPPORTED_PROTOCOL";
    case CURLE_URL_MALFORMAT:
        return "CURLE_URL_MALFORMAT";
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return "CURLE_BAD_FUNCTION_ARGUMENT";
    case CURLE_SSL_CACERT_BADFILE:
        return "CURLE_SSL_CACERT_BADFILE";
    default:
        return NULL;
    }
}


/* sleeps in slices of at most 100 ms so that a cancel is seen quickly */

static void
pdf_report_s3_sleep_ms(const pdf_report_s3_conf_t *conf, int64_t ms)
{
    int64_t          slice;
    struct timespec  ts, rem;

    while (ms > 0 && !pdf_report_s3_is_cancelled(conf)) {
        slice = ms < 100 ? ms : 100;
        ms -= slice;

        ts.tv_sec = 0;
        ts.tv_nsec = (long) slice * 1000000;

        while (nanosleep(&ts, &rem) != 0 && errno == EINTR) {
            ts = rem;
        }
    }
}


static int
pdf_report_s3_is_cancelled(const pdf_report_s3_conf_t *conf)
{
    return conf->cancelled != NULL && conf->cancelled() != 0;
}


/* curl calls this about once a second, and on every transfer step */

static int
pdf_report_s3_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
    return pdf_report_s3_is_cancelled(data);
}


/* "full jitter": uniform in [0, min(cap, base * 2^(attempt - 1))] */

static int64_t
pdf_report_s3_backoff_ms(int attempt)
{
    int64_t   ceiling;
    uint32_t  r;

    ceiling = PDF_REPORT_S3_BACKOFF_BASE_MS;

    while (--attempt > 0 && ceiling < PDF_REPORT_S3_BACKOFF_CAP_MS) {
        ceiling *= 2;
    }

    if (ceiling > PDF_REPORT_S3_BACKOFF_CAP_MS) {
        ceiling = PDF_REPORT_S3_BACKOFF_CAP_MS;
    }

    /* RAND_bytes is thread-safe; rand() would share hidden state */
    if (RAND_bytes((unsigned char *) &r, sizeof(r)) != 1) {
        return ceiling / 2;
    }

    return (int64_t) (r % (uint32_t) (ceiling + 1));
}


static size_t
pdf_report_s3_read(char *buf, size_t size, size_t n, void *data)
{
    size_t                   len;
    pdf_report_s3_upload_t  *up;

    up = data;
    len = size * n;

    if (len > up->len - up->pos) {
        len = up->len - up->pos;
    }

    if (len > 0) {
        memcpy(buf, up->data + up->pos, len);
        up->pos += len;
    }

    return len;
}


static int
pdf_report_s3_seek(void *data, curl_off_t offset, int origin)
{
    pdf_report_s3_upload_t  *up;

    up = data;

    if (origin != SEEK_SET || offset < 0 || (size_t) offset > up->len) {
        return CURL_SEEKFUNC_CANTSEEK;
    }

    up->pos = (size_t) offset;

    return CURL_SEEKFUNC_OK;
}


/* keeps the first bytes of the answer: enough for S3's error document */

static size_t
pdf_report_s3_write(char *buf, size_t size, size_t n, void *data)
{
    size_t                  len, room;
    pdf_report_s3_reply_t  *reply;

    reply = data;
    len = size * n;
    room = PDF_REPORT_S3_ERROR_BODY_MAX - reply->len;

    if (room > len) {
        room = len;
    }

    memcpy(reply->data + reply->len, buf, room);
    reply->len += room;
    reply->data[reply->len] = '\0';

    return len;
}


static int
pdf_report_s3_ini_value(const char *s, size_t len, char *dst, size_t size)
{
    if (len >= size) {
        dst[0] = '\0';
        return -1;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';

    return 0;
}


/* option names are case-insensitive, as configparser makes them */

static int
pdf_report_s3_ieq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}


/*
 * One segment of an object key (see pdf_report_s3_object_key): '%', '/',
 * '\\' and control bytes as %XX, a segment of "." or ".." as "%2E" each;
 * with dst NULL, only the length.  Every '%' written starts an escape,
 * so percent-decoding gives src back: two ids never share a segment.
 */

static size_t
pdf_report_s3_key_segment(char *dst, const char *src, size_t len)
{
    int             dots;
    size_t          i, n;
    unsigned char   c;

    static const char  hex[] = "0123456789ABCDEF";

    /* "." and "..": what a URL or a file system would take as a step */
    dots = (len == 1 && src[0] == '.')
           || (len == 2 && src[0] == '.' && src[1] == '.');

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if (c == '%' || c == '/' || c == '\\' || c < 0x20 || c == 0x7f
            || dots)
        {
            if (dst != NULL) {
                dst[n] = '%';
                dst[n + 1] = hex[c >> 4];
                dst[n + 2] = hex[c & 0xf];
            }

            n += 3;
            continue;
        }

        if (dst != NULL) {
            dst[n] = (char) c;
        }

        n++;
    }

    return n;
}
