
/*
 * AWS credentials that rotate, without nginx.  See pdf_report_creds.h.
 *
 * The endpoints are asked with one curl easy handle a request: they are
 * local (link-local or loopback), asked once in minutes or hours, so a
 * kept connection would buy nothing.  No proxy is ever used for them, as
 * the AWS SDKs do not; no redirect is followed.  Every buffer that held
 * an answer is wiped before it is freed: the answers carry secrets.
 */


#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "pdf_report_util.h"
#include "pdf_report_creds.h"


/* a credentials document is about 1.5 KB with a long session token */
#define PDF_REPORT_CREDS_BODY_MAX     16384
#define PDF_REPORT_CREDS_FILE_MAX     (1024 * 1024)
#define PDF_REPORT_CREDS_TIMEOUT_MS   2000
#define PDF_REPORT_CREDS_CONNECT_MS   1000

#define PDF_REPORT_IMDS_TOKEN_PATH    "/latest/api/token"
#define PDF_REPORT_IMDS_ROLE_PATH                                         \
    "/latest/meta-data/iam/security-credentials/"


typedef struct {
    char       data[PDF_REPORT_CREDS_BODY_MAX + 1];
    size_t     len;
    unsigned   over:1;
} pdf_report_creds_body_t;


static int pdf_report_creds_http(const char *method, const char *url,
    const char *header, pdf_report_creds_fetch_t *f,
    pdf_report_creds_body_t *body, long *status);
static int pdf_report_creds_imds_token(const char *endpoint,
    pdf_report_imds_token_t *token, pdf_report_creds_fetch_t *f,
    pdf_report_creds_body_t *body);
static int pdf_report_creds_imds_get(const char *url,
    pdf_report_imds_token_t *token, pdf_report_creds_fetch_t *f,
    pdf_report_creds_body_t *body, long *status);
static int pdf_report_creds_role(const char *text, size_t len, char *role,
    size_t size);
static int pdf_report_creds_string(json_t *doc, const char *name,
    char *dst, size_t size, int required, char *err, size_t err_size);
static size_t pdf_report_creds_write(char *buf, size_t size, size_t n,
    void *data);
static int pdf_report_creds_progress(void *data, curl_off_t dltotal,
    curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static int pdf_report_creds_digits(const char *s, int n, int *v);
static int64_t pdf_report_creds_days(int y, int m, int d);
static int pdf_report_creds_loopback(const char *host, size_t len);
static void pdf_report_creds_wipe(pdf_report_creds_body_t *body);


int
pdf_report_creds_imds(const char *endpoint, pdf_report_imds_token_t *token,
    pdf_report_creds_fetch_t *f, pdf_report_s3_creds_t *out)
{
    int                       rc, renewed;
    long                      status;
    char                      url[PDF_REPORT_CREDS_URL_MAX];
    size_t                    n;
    pdf_report_creds_body_t  *body;

    memset(out, 0, sizeof(pdf_report_s3_creds_t));
    f->role[0] = '\0';
    f->err[0] = '\0';
    f->token_refused = 0;
    f->token_new = 0;
    f->http_status = 0;

    n = strlen(endpoint);

    if (n + sizeof(PDF_REPORT_IMDS_ROLE_PATH) + PDF_REPORT_IMDS_ROLE_MAX
        > sizeof(url))
    {
        snprintf(f->err, sizeof(f->err), "the IMDS endpoint is too long");
        return -1;
    }

    body = malloc(sizeof(pdf_report_creds_body_t));
    if (body == NULL) {
        snprintf(f->err, sizeof(f->err), "out of memory");
        return -1;
    }

    rc = -1;
    renewed = 0;

    if (token->value[0] == '\0' || token->expires - 60 <= time(NULL)) {
        if (pdf_report_creds_imds_token(endpoint, token, f, body) != 0) {
            goto done;
        }

        renewed = 1;
    }

again:

    /* the role's name: the instance profile has exactly one */

    snprintf(url, sizeof(url), "%s" PDF_REPORT_IMDS_ROLE_PATH, endpoint);

    if (pdf_report_creds_imds_get(url, token, f, body, &status) != 0) {
        goto done;
    }

    if (status == 401 && !renewed) {
        goto renew;
    }

    if (status != 200) {
        snprintf(f->err, sizeof(f->err),
                 "IMDS answered %ld to the request for the instance "
                 "role%s", status,
                 status == 404 ? " (no instance profile is attached)" : "");
        goto done;
    }

    if (pdf_report_creds_role(body->data, body->len, f->role,
                              sizeof(f->role))
        != 0)
    {
        snprintf(f->err, sizeof(f->err),
                 "IMDS gave no usable instance role name");
        goto done;
    }

    snprintf(url, sizeof(url), "%s" PDF_REPORT_IMDS_ROLE_PATH "%s", endpoint,
             f->role);

    if (pdf_report_creds_imds_get(url, token, f, body, &status) != 0) {
        goto done;
    }

    if (status == 401 && !renewed) {
        goto renew;
    }

    if (status != 200) {
        snprintf(f->err, sizeof(f->err),
                 "IMDS answered %ld to the request for the credentials of "
                 "the role \"%s\"", status, f->role);
        goto done;
    }

    if (pdf_report_creds_parse(body->data, body->len, out, f->err,
                               sizeof(f->err))
        != 0)
    {
        goto done;
    }

    rc = 0;
    goto done;

renew:

    /* 401: the token expired or was revoked; a new one, and once more */

    f->token_refused = 1;
    renewed = 1;

    if (pdf_report_creds_imds_token(endpoint, token, f, body) != 0) {
        goto done;
    }

    goto again;

done:

    if (rc != 0) {
        OPENSSL_cleanse(out, sizeof(pdf_report_s3_creds_t));

        /* a refused token is of no use to the next fetch */
        if (f->http_status == 401) {
            OPENSSL_cleanse(token, sizeof(pdf_report_imds_token_t));
        }
    }

    pdf_report_creds_wipe(body);
    free(body);

    return rc;
}


static int
pdf_report_creds_imds_token(const char *endpoint,
    pdf_report_imds_token_t *token, pdf_report_creds_fetch_t *f,
    pdf_report_creds_body_t *body)
{
    long     status;
    char     url[PDF_REPORT_CREDS_URL_MAX], ttl[64];
    size_t   i, n;
    time_t   now;

    OPENSSL_cleanse(token, sizeof(pdf_report_imds_token_t));

    snprintf(url, sizeof(url), "%s" PDF_REPORT_IMDS_TOKEN_PATH, endpoint);
    snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %d",
             PDF_REPORT_IMDS_TOKEN_TTL);

    now = time(NULL);

    if (pdf_report_creds_http("PUT", url, ttl, f, body, &status) != 0)
    {
        return -1;
    }

    if (status != 200) {
        snprintf(f->err, sizeof(f->err),
                 "IMDS answered %ld to the token request (PUT "
                 PDF_REPORT_IMDS_TOKEN_PATH ")%s", status,
                 status == 403 ? ": IMDS is disabled, or the hop limit is "
                                 "too low for this host"
                 : (status == 404 || status == 405)
                   ? ": the endpoint does not speak IMDSv2" : "");
        return -1;
    }

    n = body->len;

    while (n > 0 && isspace((unsigned char) body->data[n - 1])) {
        n--;
    }

    if (n == 0 || n >= sizeof(token->value)) {
        snprintf(f->err, sizeof(f->err),
                 "IMDS gave a token of %zu bytes", n);
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (body->data[i] <= ' ' || body->data[i] == 0x7f) {
            snprintf(f->err, sizeof(f->err),
                     "IMDS gave a token that cannot go into a header");
            return -1;
        }
    }

    memcpy(token->value, body->data, n);
    token->value[n] = '\0';
    token->expires = now + PDF_REPORT_IMDS_TOKEN_TTL;
    f->token_new = 1;

    return 0;
}


static int
pdf_report_creds_imds_get(const char *url, pdf_report_imds_token_t *token,
    pdf_report_creds_fetch_t *f, pdf_report_creds_body_t *body, long *status)
{
    int   rc;
    char  header[sizeof("X-aws-ec2-metadata-token: ")
                 + PDF_REPORT_IMDS_TOKEN_MAX];

    snprintf(header, sizeof(header), "X-aws-ec2-metadata-token: %s",
             token->value);

    rc = pdf_report_creds_http("GET", url, header, f, body, status);

    OPENSSL_cleanse(header, sizeof(header));

    return rc;
}


/* the first line of the answer, a role name as IAM allows it */

static int
pdf_report_creds_role(const char *text, size_t len, char *role, size_t size)
{
    size_t       n;
    const char  *p, *e;

    p = text;
    e = text + len;

    while (p < e && isspace((unsigned char) *p)) {
        p++;
    }

    for (n = 0; p + n < e && p[n] != '\n' && p[n] != '\r'; n++) {
        if (!isalnum((unsigned char) p[n])
            && strchr("+=,.@_-", p[n]) == NULL)
        {
            return -1;
        }
    }

    if (n == 0 || n >= size) {
        return -1;
    }

    memcpy(role, p, n);
    role[n] = '\0';

    return 0;
}


int
pdf_report_creds_container(const char *url, const char *auth,
    pdf_report_creds_fetch_t *f, pdf_report_s3_creds_t *out)
{
    int                       rc;
    long                      status;
    char                     *header;
    size_t                    n;
    pdf_report_creds_body_t  *body;

    memset(out, 0, sizeof(pdf_report_s3_creds_t));
    f->role[0] = '\0';
    f->err[0] = '\0';
    f->token_refused = 0;
    f->token_new = 0;
    f->http_status = 0;

    header = NULL;

    if (auth != NULL) {
        if (pdf_report_creds_auth_check(auth, f->err, sizeof(f->err)) != 0) {
            return -1;
        }

        n = sizeof("Authorization: ") + strlen(auth);

        header = malloc(n);
        if (header == NULL) {
            snprintf(f->err, sizeof(f->err), "out of memory");
            return -1;
        }

        snprintf(header, n, "Authorization: %s", auth);
    }

    body = malloc(sizeof(pdf_report_creds_body_t));
    if (body == NULL) {
        snprintf(f->err, sizeof(f->err), "out of memory");
        rc = -1;
        goto done;
    }

    rc = -1;

    if (pdf_report_creds_http("GET", url, header, f, body, &status) != 0) {
        goto done;
    }

    if (status != 200) {
        snprintf(f->err, sizeof(f->err),
                 "the container credentials endpoint answered %ld%s",
                 status,
                 (status == 401 || status == 403)
                 ? " (check AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE)"
                 : "");
        goto done;
    }

    rc = pdf_report_creds_parse(body->data, body->len, out, f->err,
                                sizeof(f->err));

done:

    if (body != NULL) {
        pdf_report_creds_wipe(body);
        free(body);
    }

    if (header != NULL) {
        OPENSSL_cleanse(header, strlen(header));
        free(header);
    }

    return rc;
}


/*
 * One request: 0 when an answer came (*status, the body in body), -1 when
 * none did (f->err).  A body over the limit is an error of its own.
 */

static int
pdf_report_creds_http(const char *method, const char *url,
    const char *header, pdf_report_creds_fetch_t *f,
    pdf_report_creds_body_t *body, long *status)
{
    int                 rc;
    long                timeout, connect;
    CURL               *curl;
    CURLcode            cc;
    struct curl_slist  *headers, *h;
    char                errbuf[CURL_ERROR_SIZE];

    *status = 0;
    body->len = 0;
    body->over = 0;
    body->data[0] = '\0';
    errbuf[0] = '\0';
    headers = NULL;
    rc = -1;

    timeout = f->timeout_ms > 0 ? f->timeout_ms : PDF_REPORT_CREDS_TIMEOUT_MS;
    connect = timeout < PDF_REPORT_CREDS_CONNECT_MS
              ? timeout : PDF_REPORT_CREDS_CONNECT_MS;

    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(f->err, sizeof(f->err), "curl_easy_init() failed");
        return -1;
    }

    if (header != NULL) {
        h = curl_slist_append(headers, header);
        if (h == NULL) {
            snprintf(f->err, sizeof(f->err), "out of memory");
            goto done;
        }

        headers = h;
    }

    /* no catch-all "Accept": the smallest request the endpoints take */
    h = curl_slist_append(headers, "Accept:");
    if (h == NULL) {
        snprintf(f->err, sizeof(f->err), "out of memory");
        goto done;
    }

    headers = h;

    /*
     * NOSIGNAL: a pool thread must not take SIGALRM; NOPROXY: the
     * metadata endpoints are never reached through a proxy
     */
    if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#endif
        || curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                            pdf_report_creds_write) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEDATA, body) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_USERAGENT,
                            "ngx_http_pdf_report_module") != CURLE_OK
        || (f->cancelled != NULL
            && (curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                                    pdf_report_creds_progress) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFODATA, f)
                   != CURLE_OK)))
    {
        snprintf(f->err, sizeof(f->err), "cannot set up the curl handle");
        goto done;
    }

    cc = curl_easy_perform(curl);

    if (body->over) {
        snprintf(f->err, sizeof(f->err),
                 "the answer to %s was over %d bytes", method,
                 PDF_REPORT_CREDS_BODY_MAX);
        goto done;
    }

    if (cc != CURLE_OK) {
        snprintf(f->err, sizeof(f->err), "%s", errbuf[0] != '\0'
                 ? errbuf : curl_easy_strerror(cc));
        goto done;
    }

    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
    {
        snprintf(f->err, sizeof(f->err), "no HTTP status");
        goto done;
    }

    f->http_status = (int) *status;
    body->data[body->len] = '\0';
    rc = 0;

done:

    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);

    return rc;
}


static size_t
pdf_report_creds_write(char *buf, size_t size, size_t n, void *data)
{
    pdf_report_creds_body_t  *body = data;

    size_t  len;

    len = size * n;

    if (len > PDF_REPORT_CREDS_BODY_MAX - body->len) {
        body->over = 1;
        return 0;
    }

    memcpy(body->data + body->len, buf, len);
    body->len += len;

    return len;
}


static int
pdf_report_creds_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
    pdf_report_creds_fetch_t  *f = data;

    return f->cancelled() ? 1 : 0;
}


static void
pdf_report_creds_wipe(pdf_report_creds_body_t *body)
{
    OPENSSL_cleanse(body->data, body->len + 1 < sizeof(body->data)
                                ? body->len + 1 : sizeof(body->data));
    body->len = 0;
}


int
pdf_report_creds_parse(const char *text, size_t len,
    pdf_report_s3_creds_t *out, char *err, size_t err_size)
{
    char          code[64], when[64];
    size_t        n;
    json_t       *doc;
    json_error_t  jerr;

    memset(out, 0, sizeof(pdf_report_s3_creds_t));

    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

    if (doc == NULL || !json_is_object(doc)) {
        /* jerr.text may quote the text: not repeated */
        snprintf(err, err_size, "the credentials are not a JSON object");
        goto failed;
    }

    if (json_object_get(doc, "Code") != NULL) {
        if (pdf_report_creds_string(doc, "Code", code, sizeof(code), 1, err,
                                    err_size)
            != 0)
        {
            goto failed;
        }

        if (strcmp(code, "Success") != 0) {
            n = strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz0123456789");

            snprintf(err, err_size, "the credentials' Code is \"%s\"",
                     code[n] == '\0' ? code : "(not a word)");
            goto failed;
        }
    }

    if (pdf_report_creds_string(doc, "AccessKeyId", out->access_key,
                                sizeof(out->access_key), 1, err, err_size)
        != 0
        || pdf_report_creds_string(doc, "SecretAccessKey", out->secret_key,
                                   sizeof(out->secret_key), 1, err,
                                   err_size)
           != 0
        || pdf_report_creds_string(doc, "Token", out->session_token,
                                   sizeof(out->session_token), 0, err,
                                   err_size)
           != 0
        || pdf_report_creds_string(doc, "Expiration", when, sizeof(when), 1,
                                   err, err_size)
           != 0)
    {
        goto failed;
    }

    if (pdf_report_creds_time(when, strlen(when), &out->expiration) != 0
        || out->expiration <= 0)
    {
        snprintf(err, err_size, "the credentials' Expiration \"%s\" is not "
                 "an ISO 8601 time", when);
        goto failed;
    }

    json_decref(doc);

    return 0;

failed:

    if (doc != NULL) {
        json_decref(doc);
    }

    OPENSSL_cleanse(out, sizeof(pdf_report_s3_creds_t));

    return -1;
}


/*
 * A string member of printable ASCII without spaces, as keys, tokens and
 * times are; an error names the member, never its value.
 */

static int
pdf_report_creds_string(json_t *doc, const char *name, char *dst,
    size_t size, int required, char *err, size_t err_size)
{
    size_t       i, n;
    json_t      *v;
    const char  *s;

    dst[0] = '\0';

    v = json_object_get(doc, name);

    if (v == NULL || json_is_null(v)) {
        if (!required) {
            return 0;
        }

        snprintf(err, err_size, "the credentials have no %s", name);
        return -1;
    }

    if (!json_is_string(v)) {
        snprintf(err, err_size, "the credentials' %s is not a string", name);
        return -1;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    if (n == 0 && required) {
        snprintf(err, err_size, "the credentials' %s is empty", name);
        return -1;
    }

    if (n >= size) {
        snprintf(err, err_size, "the credentials' %s is too long (%zu "
                 "bytes)", name, n);
        return -1;
    }

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] <= ' ' || (unsigned char) s[i] >= 0x7f) {
            snprintf(err, err_size, "the credentials' %s holds a byte that "
                     "cannot go into a request", name);
            return -1;
        }
    }

    memcpy(dst, s, n);
    dst[n] = '\0';

    return 0;
}


int
pdf_report_creds_time(const char *s, size_t len, time_t *t)
{
    int          y, mo, d, h, mi, sec, oh, om, sign;
    int64_t      v;
    const char  *p, *e;

    static const int  mdays[] = {
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    e = s + len;

    if (len < 20
        || pdf_report_creds_digits(s, 4, &y) != 0 || s[4] != '-'
        || pdf_report_creds_digits(s + 5, 2, &mo) != 0 || s[7] != '-'
        || pdf_report_creds_digits(s + 8, 2, &d) != 0
        || (s[10] != 'T' && s[10] != 't')
        || pdf_report_creds_digits(s + 11, 2, &h) != 0 || s[13] != ':'
        || pdf_report_creds_digits(s + 14, 2, &mi) != 0 || s[16] != ':'
        || pdf_report_creds_digits(s + 17, 2, &sec) != 0)
    {
        return -1;
    }

    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
        || (mo == 2 && d == 29
            && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        || h > 23 || mi > 59 || sec > 60)
    {
        return -1;
    }

    p = s + 19;

    if (p < e && *p == '.') {
        p++;

        if (p == e || !isdigit((unsigned char) *p)) {
            return -1;
        }

        while (p < e && isdigit((unsigned char) *p)) {
            p++;
        }
    }

    sign = 0;
    oh = 0;
    om = 0;

    if (p < e && (*p == 'Z' || *p == 'z')) {
        p++;

    } else if (p < e && (*p == '+' || *p == '-')) {
        sign = (*p == '+') ? 1 : -1;
        p++;

        if (e - p == 5 && p[2] == ':') {
            if (pdf_report_creds_digits(p, 2, &oh) != 0
                || pdf_report_creds_digits(p + 3, 2, &om) != 0)
            {
                return -1;
            }

        } else if (e - p == 4) {
            if (pdf_report_creds_digits(p, 2, &oh) != 0
                || pdf_report_creds_digits(p + 2, 2, &om) != 0)
            {
                return -1;
            }

        } else {
            return -1;
        }

        if (oh > 23 || om > 59) {
            return -1;
        }

        p = e;

    } else {
        return -1;
    }

    if (p != e) {
        return -1;
    }

    v = pdf_report_creds_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
        - sign * (oh * 3600 + om * 60);

    if ((int64_t) (time_t) v != v) {
        return -1;
    }

    *t = (time_t) v;

    return 0;
}


static int
pdf_report_creds_digits(const char *s, int n, int *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


/* days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar */

static int64_t
pdf_report_creds_days(int y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


int
pdf_report_creds_container_url(const char *full, const char *relative,
    char *url, size_t size, char *err, size_t err_size)
{
    size_t       n;
    const char  *p, *host, *end;

    if (relative != NULL && relative[0] != '\0') {
        if (relative[0] != '/') {
            snprintf(err, err_size, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                     "does not start with '/'");
            return -1;
        }

        p = relative;
        full = NULL;

    } else if (full != NULL && full[0] != '\0') {
        p = full;

    } else {
        snprintf(err, err_size, "neither AWS_CONTAINER_CREDENTIALS_"
                 "RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is in "
                 "the workers' environment");
        return -1;
    }

    for (n = 0; p[n] != '\0'; n++) {
        if ((unsigned char) p[n] <= ' ' || (unsigned char) p[n] >= 0x7f) {
            snprintf(err, err_size, "the container credentials URI holds a "
                     "space or a byte that is not ASCII");
            return -1;
        }
    }

    if (full == NULL) {
        if (snprintf(url, size, PDF_REPORT_ECS_HOST "%s", relative)
            >= (int) size)
        {
            snprintf(err, err_size, "the container credentials URI is too "
                     "long");
            return -1;
        }

        return 0;
    }

    if (strncasecmp(full, "https://", 8) == 0) {
        host = NULL;

    } else if (strncasecmp(full, "http://", 7) == 0) {
        /* plain http only to this host or the container agent's */
        host = full + 7;
        end = host + strcspn(host, "/?#");

        if (memchr(host, '@', end - host) != NULL) {
            snprintf(err, err_size, "AWS_CONTAINER_CREDENTIALS_FULL_URI "
                     "has a user part");
            return -1;
        }

        if (!pdf_report_creds_loopback(host, end - host)) {
            snprintf(err, err_size, "AWS_CONTAINER_CREDENTIALS_FULL_URI "
                     "over http must name a loopback address, "
                     "169.254.170.2, 169.254.170.23 or [fd00:ec2::23]; use "
                     "https for any other host");
            return -1;
        }

    } else {
        snprintf(err, err_size, "AWS_CONTAINER_CREDENTIALS_FULL_URI is "
                 "neither http nor https");
        return -1;
    }

    if (n >= size) {
        snprintf(err, err_size, "the container credentials URI is too long");
        return -1;
    }

    memcpy(url, full, n + 1);

    return 0;
}


/* host[:port] or [v6][:port]: loopback or the container agents' */

static int
pdf_report_creds_loopback(const char *host, size_t len)
{
    char             name[64];
    size_t           n;
    const char      *p;
    struct in_addr   a4;
    struct in6_addr  a6, lo6, eks6;

    if (len > 0 && host[0] == '[') {
        p = memchr(host, ']', len);
        if (p == NULL) {
            return 0;
        }

        n = p - host - 1;
        host++;

    } else {
        p = memchr(host, ':', len);
        n = (p != NULL) ? (size_t) (p - host) : len;
    }

    if (n == 0 || n >= sizeof(name)) {
        return 0;
    }

    memcpy(name, host, n);
    name[n] = '\0';

    if (strcasecmp(name, "localhost") == 0) {
        return 1;
    }

    if (inet_pton(AF_INET, name, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127
               || strcmp(name, "169.254.170.2") == 0
               || strcmp(name, "169.254.170.23") == 0;
    }

    if (inet_pton(AF_INET6, name, &a6) == 1
        && inet_pton(AF_INET6, "::1", &lo6) == 1
        && inet_pton(AF_INET6, "fd00:ec2::23", &eks6) == 1)
    {
        return memcmp(&a6, &lo6, sizeof(a6)) == 0
               || memcmp(&a6, &eks6, sizeof(a6)) == 0;
    }

    return 0;
}


int
pdf_report_creds_imds_endpoint(const char *endpoint, const char *mode,
    char *out, size_t size, char *err, size_t err_size)
{
    size_t  i, n;

    if (endpoint != NULL && endpoint[0] != '\0') {
        if (strncasecmp(endpoint, "http://", 7) != 0
            && strncasecmp(endpoint, "https://", 8) != 0)
        {
            snprintf(err, err_size, "AWS_EC2_METADATA_SERVICE_ENDPOINT is "
                     "neither http nor https");
            return -1;
        }

        n = strlen(endpoint);

        for (i = 0; i < n; i++) {
            if ((unsigned char) endpoint[i] <= ' '
                || (unsigned char) endpoint[i] >= 0x7f
                || endpoint[i] == '?' || endpoint[i] == '#')
            {
                snprintf(err, err_size, "AWS_EC2_METADATA_SERVICE_ENDPOINT "
                         "is not a plain URL");
                return -1;
            }
        }

        while (n > 0 && endpoint[n - 1] == '/') {
            n--;
        }

        if (n >= size) {
            snprintf(err, err_size, "AWS_EC2_METADATA_SERVICE_ENDPOINT is "
                     "too long");
            return -1;
        }

        memcpy(out, endpoint, n);
        out[n] = '\0';

        return 0;
    }

    if (mode != NULL && strcasecmp(mode, "IPv6") == 0) {
        snprintf(out, size, "%s", PDF_REPORT_IMDS_ENDPOINT_IPV6);
        return 0;
    }

    if (mode != NULL && mode[0] != '\0' && strcasecmp(mode, "IPv4") != 0) {
        snprintf(err, err_size, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is "
                 "neither IPv4 nor IPv6");
        return -1;
    }

    snprintf(out, size, "%s", PDF_REPORT_IMDS_ENDPOINT);

    return 0;
}


int
pdf_report_creds_auth_check(const char *value, char *err, size_t err_size)
{
    size_t  i;

    if (value[0] == '\0') {
        snprintf(err, err_size, "the container authorization token is "
                 "empty");
        return -1;
    }

    for (i = 0; value[i] != '\0'; i++) {
        if ((unsigned char) value[i] < ' ' || value[i] == 0x7f) {
            snprintf(err, err_size, "the container authorization token "
                     "holds a control character");
            return -1;
        }
    }

    if (i >= PDF_REPORT_CREDS_AUTH_MAX) {
        snprintf(err, err_size, "the container authorization token is too "
                 "long");
        return -1;
    }

    return 0;
}


int
pdf_report_creds_auth_file(const char *path, char *out, size_t size,
    char *err, size_t err_size)
{
    int      fd;
    size_t   n;
    ssize_t  r;

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        snprintf(err, err_size, "cannot open the container authorization "
                 "token file \"%s\": %s", path, strerror(errno));
        return -1;
    }

    n = 0;

    while (n < size - 1) {
        r = read(fd, out + n, size - 1 - n);

        if (r == -1 && errno == EINTR) {
            continue;
        }

        if (r <= 0) {
            break;
        }

        n += r;
    }

    (void) close(fd);

    while (n > 0 && isspace((unsigned char) out[n - 1])) {
        n--;
    }

    out[n] = '\0';

    if (n >= size - 1) {
        OPENSSL_cleanse(out, size);
        snprintf(err, err_size, "the container authorization token file "
                 "\"%s\" is too long", path);
        return -1;
    }

    if (pdf_report_creds_auth_check(out, err, err_size) != 0) {
        OPENSSL_cleanse(out, size);
        return -1;
    }

    return 0;
}


int
pdf_report_creds_file(const char *path, const char *profile,
    pdf_report_s3_creds_t *out, pdf_report_creds_file_id_t *id, char *err,
    size_t err_size)
{
    int          fd, rc;
    char        *text;
    size_t       size, n;
    ssize_t      r;
    struct stat  st;

    memset(id, 0, sizeof(pdf_report_creds_file_id_t));
    memset(out, 0, sizeof(pdf_report_s3_creds_t));

    fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        snprintf(err, err_size, "open() failed (%d: %s)", errno,
                 strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) == -1) {
        snprintf(err, err_size, "fstat() failed (%d: %s)", errno,
                 strerror(errno));
        (void) close(fd);
        return -1;
    }

    pdf_report_creds_file_id(&st, id);

    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "not a regular file");
        (void) close(fd);
        return -1;
    }

    if (st.st_size > PDF_REPORT_CREDS_FILE_MAX) {
        snprintf(err, err_size, "over %d bytes", PDF_REPORT_CREDS_FILE_MAX);
        (void) close(fd);
        return -1;
    }

    /* a byte more than fstat() said: a file still being written shows */
    size = (size_t) st.st_size + 2;

    text = malloc(size);
    if (text == NULL) {
        snprintf(err, err_size, "out of memory");
        (void) close(fd);
        return -1;
    }

    n = 0;

    while (n < size - 1) {
        r = read(fd, text + n, size - 1 - n);

        if (r == -1 && errno == EINTR) {
            continue;
        }

        if (r == -1) {
            snprintf(err, err_size, "read() failed (%d: %s)", errno,
                     strerror(errno));
            n = 0;
            rc = -1;
            goto done;
        }

        if (r == 0) {
            break;
        }

        n += r;
    }

    if (n != (size_t) st.st_size) {
        snprintf(err, err_size, "it changed while it was read");
        rc = -1;
        goto done;
    }

    text[n] = '\0';

    rc = pdf_report_aws_credentials_parse(text, n, profile, out->access_key,
                                          sizeof(out->access_key),
                                          out->secret_key,
                                          sizeof(out->secret_key),
                                          out->session_token,
                                          sizeof(out->session_token), err,
                                          err_size);

done:

    OPENSSL_cleanse(text, size);
    free(text);
    (void) close(fd);

    if (rc != 0) {
        OPENSSL_cleanse(out, sizeof(pdf_report_s3_creds_t));
    }

    return rc;
}


void
pdf_report_creds_file_id(const struct stat *st,
    pdf_report_creds_file_id_t *id)
{
    memset(id, 0, sizeof(pdf_report_creds_file_id_t));

    id->dev = (uint64_t) st->st_dev;
    id->ino = (uint64_t) st->st_ino;
    id->size = (int64_t) st->st_size;
    id->mtime_ns = (int64_t) st->st_mtim.tv_sec * 1000000000
                   + st->st_mtim.tv_nsec;
    id->ctime_ns = (int64_t) st->st_ctim.tv_sec * 1000000000
                   + st->st_ctim.tv_nsec;
}


time_t
pdf_report_creds_refresh_at(time_t now, time_t expiration)
{
    time_t  left, half;

    if (expiration == 0) {
        return 0;
    }

    left = expiration - now;

    if (left > 2 * PDF_REPORT_CREDS_MARGIN) {
        return expiration - PDF_REPORT_CREDS_MARGIN;
    }

    half = left / 2;

    return now + (half > 1 ? half : 1);
}


time_t
pdf_report_creds_backoff(unsigned n)
{
    time_t  t;

    for (t = 1; n > 1 && t < PDF_REPORT_CREDS_RETRY_CAP; n--) {
        t *= 2;
    }

    return t < PDF_REPORT_CREDS_RETRY_CAP ? t : PDF_REPORT_CREDS_RETRY_CAP;
}
