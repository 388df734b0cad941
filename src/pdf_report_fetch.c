
/*
 * An HTTP(S) GET into memory; see pdf_report_fetch.h.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "pdf_report_fetch.h"
#include "pdf_report_util.h"


typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    size_t   max;
    int      too_large;
} pdf_report_fetch_buf_t;


static size_t pdf_report_fetch_write(char *ptr, size_t size, size_t n,
    void *data);
static int pdf_report_fetch_progress(void *data, curl_off_t dltotal,
    curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);


int
pdf_report_fetch(const pdf_report_fetch_conf_t *conf,
    pdf_report_fetch_result_t *res)
{
    int                      rc;
    CURL                    *curl;
    CURLcode                 cc;
    struct curl_slist       *headers;
    pdf_report_fetch_buf_t   buf;
    char                     errbuf[CURL_ERROR_SIZE];

    memset(res, 0, sizeof(pdf_report_fetch_result_t));
    memset(&buf, 0, sizeof(pdf_report_fetch_buf_t));
    buf.max = conf->max_size;
    errbuf[0] = '\0';
    rc = -1;

    headers = curl_slist_append(NULL, "Accept: application/jwk-set+json, "
                                      "application/json");
    curl = curl_easy_init();

    if (curl == NULL || headers == NULL) {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cannot set up a curl handle (out of memory)");
        goto done;
    }

    /*
     * NOSIGNAL: a pool thread must not take SIGALRM for DNS timeouts.
     * No redirects: the keys come from the URL the operator wrote, and
     * an https URL never ends up on http.  Peer and host are verified,
     * whatever libcurl's defaults; with a CA file of the operator's,
     * only that file is trusted (the system's directory is dropped).
     */
    if (curl_easy_setopt(curl, CURLOPT_URL, conf->url) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#endif
        || curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || (conf->ca_file != NULL
            && (curl_easy_setopt(curl, CURLOPT_CAINFO, conf->ca_file)
                != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_CAPATH, NULL)
                   != CURLE_OK))
        || curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                            conf->connect_ms) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, conf->timeout_ms)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                            pdf_report_fetch_write) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_USERAGENT,
                            "ngx_http_pdf_report_module") != CURLE_OK
        || (conf->cancelled != NULL
            && (curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                                    pdf_report_fetch_progress) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFODATA,
                                    (void *) conf) != CURLE_OK)))
    {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cannot set up the curl handle");
        goto done;
    }

    cc = curl_easy_perform(curl);

    if (cc == CURLE_OK
        && curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status)
           != CURLE_OK)
    {
        res->status = 0;
    }

    if (buf.too_large) {
        snprintf(res->error, sizeof(res->error),
                 "the document is larger than %zu bytes", conf->max_size);
        goto done;
    }

    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cancelled: the worker is exiting");
        goto done;
    }

    if (cc != CURLE_OK) {
        snprintf(res->error, sizeof(res->error), "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto done;
    }

    if (res->status != 200) {
        snprintf(res->error, sizeof(res->error), "HTTP status %ld, not 200",
                 res->status);
        goto done;
    }

    if (buf.data == NULL) {
        snprintf(res->error, sizeof(res->error), "%s", "an empty document");
        goto done;
    }

    res->body = buf.data;
    res->len = buf.len;
    buf.data = NULL;
    rc = 0;

done:

    free(buf.data);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);

    return rc;
}


static size_t
pdf_report_fetch_write(char *ptr, size_t size, size_t n, void *data)
{
    pdf_report_fetch_buf_t  *buf = data;

    char    *p;
    size_t   len, cap;

    len = size * n;

    if (len > buf->max - buf->len) {
        buf->too_large = 1;
        return 0;
    }

    /* room for the NUL too; doubling keeps a large answer linear */
    if (buf->len + len + 1 > buf->cap) {
        cap = buf->cap ? buf->cap : 16384;

        while (cap < buf->len + len + 1) {
            cap *= 2;
        }

        if (cap > buf->max + 1) {
            cap = buf->max + 1;
        }

        p = realloc(buf->data, cap);
        if (p == NULL) {
            return 0;
        }

        buf->data = p;
        buf->cap = cap;
    }

    memcpy(buf->data + buf->len, ptr, len);
    buf->len += len;
    buf->data[buf->len] = '\0';

    return len;
}


static int
pdf_report_fetch_progress(void *data, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
    const pdf_report_fetch_conf_t  *conf = data;

    return conf->cancelled() ? 1 : 0;
}


char *
pdf_report_fetch_log_url(char *dst, size_t size, const char *url)
{
    char        plain[512];
    size_t      n, len;
    const char *p, *auth, *end, *at, *path;

    p = strstr(url, "://");

    if (p == NULL) {
        return pdf_report_log_escape(dst, size, "(not a URL)");
    }

    auth = p + 3;
    end = auth + strcspn(auth, "/?#");

    /* the user part, "user:password@", is left out */
    at = NULL;

    for (path = auth; path < end; path++) {
        if (*path == '@') {
            at = path;
        }
    }

    if (at != NULL) {
        auth = at + 1;
    }

    /* the path, without query and fragment */
    path = end;
    len = (*path == '/') ? strcspn(path, "?#") : 0;

    n = (size_t) snprintf(plain, sizeof(plain), "%.*s://%.*s%.*s",
                          (int) (p - url), url, (int) (end - auth), auth,
                          (int) len, path);

    if (n >= sizeof(plain)) {
        plain[sizeof(plain) - 1] = '\0';
    }

    return pdf_report_log_escape(dst, size, plain);
}
