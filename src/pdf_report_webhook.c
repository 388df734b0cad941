
/*
 * Webhooks: the secret, the signature, the SSRF guard, one delivery; see
 * pdf_report_webhook.h.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "pdf_report_webhook.h"
#include "pdf_report_fetch.h"
#include "pdf_report_util.h"

#include <jansson.h>


/* the networks a delivery reaches only when an allow entry says so */
typedef struct {
    unsigned char  addr[16];
    unsigned       bits;
} pdf_report_webhook_net_t;

static const pdf_report_webhook_net_t  pdf_report_webhook_v4[] = {
    { { 0 }, 8 },                            /* "this network" */
    { { 10 }, 8 },                           /* private */
    { { 100, 64 }, 10 },                     /* shared (CGNAT) */
    { { 127 }, 8 },                          /* loopback */
    { { 169, 254 }, 16 },                    /* link-local, metadata */
    { { 172, 16 }, 12 },                     /* private */
    { { 192, 0, 0 }, 24 },                   /* IETF protocol */
    { { 192, 168 }, 16 },                    /* private */
    { { 198, 18 }, 15 },                     /* benchmarking */
    { { 224 }, 4 },                          /* multicast */
    { { 240 }, 4 }                           /* reserved, broadcast */
};

static const pdf_report_webhook_net_t  pdf_report_webhook_v6[] = {
    { { 0 }, 128 },                          /* unspecified */
    { { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128 },
    { { 0xfc }, 7 },                         /* unique local */
    { { 0xfe, 0x80 }, 10 },                  /* link-local */
    { { 0xfe, 0xc0 }, 10 },                  /* site-local (old) */
    { { 0xff }, 8 }                          /* multicast */
};


static int pdf_report_webhook_in(const unsigned char *addr,
    const pdf_report_webhook_net_t *nets, size_t n);
static int pdf_report_webhook_v4_denied(const unsigned char *a);
static curl_socket_t pdf_report_webhook_open(void *data,
    curlsocktype purpose, struct curl_sockaddr *address);
static size_t pdf_report_webhook_discard(char *ptr, size_t size, size_t n,
    void *data);
static int pdf_report_webhook_progress(void *data, curl_off_t dltotal,
    curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);


int
pdf_report_webhook_secret(const char *secret, size_t len,
    unsigned char *key, size_t *key_len)
{
    int            n;
    size_t         b64, pad;
    unsigned char  buf[(PDF_REPORT_WEBHOOK_KEY_MAX + 2) / 3 * 3 + 3];

    if (len < 6 || memcmp(secret, "whsec_", 6) != 0) {
        return -1;
    }

    secret += 6;
    b64 = len - 6;

    /* standard base64 with its padding, nothing else */
    if (b64 == 0 || b64 % 4 != 0 || b64 / 4 * 3 > sizeof(buf)) {
        return -1;
    }

    pad = (secret[b64 - 1] == '=') + (secret[b64 - 2] == '=');

    if (strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789+/") != b64 - pad)
    {
        return -1;
    }

    n = EVP_DecodeBlock(buf, (const unsigned char *) secret, (int) b64);
    if (n < 0 || (size_t) n < pad) {
        return -1;
    }

    n -= (int) pad;

    if (n < PDF_REPORT_WEBHOOK_KEY_MIN || n > PDF_REPORT_WEBHOOK_KEY_MAX) {
        return -1;
    }

    memcpy(key, buf, (size_t) n);
    *key_len = (size_t) n;

    return 0;
}


int
pdf_report_webhook_sign(char *dst, const unsigned char *key, size_t key_len,
    const char *id, int64_t timestamp, const char *body, size_t len)
{
    int            n, rc;
    char           ts[24];
    size_t         mac_len;
    EVP_MAC       *mac;
    EVP_MAC_CTX   *ctx;
    OSSL_PARAM     params[2];
    unsigned char  out[EVP_MAX_MD_SIZE];

    n = snprintf(ts, sizeof(ts), "%" PRId64, timestamp);

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx = (mac != NULL) ? EVP_MAC_CTX_new(mac) : NULL;

    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *) "SHA256",
                                                 0);
    params[1] = OSSL_PARAM_construct_end();

    rc = (ctx != NULL
          && EVP_MAC_init(ctx, key, key_len, params) == 1
          && EVP_MAC_update(ctx, (const unsigned char *) id, strlen(id))
             == 1
          && EVP_MAC_update(ctx, (const unsigned char *) ".", 1) == 1
          && EVP_MAC_update(ctx, (const unsigned char *) ts, (size_t) n)
             == 1
          && EVP_MAC_update(ctx, (const unsigned char *) ".", 1) == 1
          && EVP_MAC_update(ctx, (const unsigned char *) body, len) == 1
          && EVP_MAC_final(ctx, out, &mac_len, sizeof(out)) == 1
          && mac_len == 32) ? 0 : -1;

    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);

    if (rc == 0) {
        memcpy(dst, "v1,", 3);
        EVP_EncodeBlock((unsigned char *) dst + 3, out, 32);
    }

    return rc;
}


int
pdf_report_webhook_allow_parse(pdf_report_webhook_allow_t *a,
    const char *text, size_t len, char *err, size_t errlen)
{
    char           buf[PDF_REPORT_WEBHOOK_HOST_MAX + 1], *slash, *end;
    size_t         i, max;
    unsigned long  bits;

    memset(a, 0, sizeof(pdf_report_webhook_allow_t));

    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "an empty or too long entry");
        return -1;
    }

    memcpy(buf, text, len);
    buf[len] = '\0';

    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash++ = '\0';
    }

    if (inet_pton(AF_INET, buf, a->addr) == 1) {
        a->family = AF_INET;
        max = 32;

    } else if (inet_pton(AF_INET6, buf, a->addr) == 1) {
        a->family = AF_INET6;
        max = 128;

    } else if (slash == NULL
               && strspn(buf, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
                  == len
               && buf[0] != '.' && buf[0] != '-')
    {
        for (i = 0; i < len; i++) {
            a->host[i] = (char) (buf[i] >= 'A' && buf[i] <= 'Z'
                                 ? buf[i] + ('a' - 'A') : buf[i]);
        }

        return 0;

    } else {
        snprintf(err, errlen, "not a host name, an address or a CIDR");
        return -1;
    }

    bits = max;

    if (slash != NULL) {
        bits = strtoul(slash, &end, 10);

        if (*slash == '\0' || *end != '\0' || bits > max) {
            snprintf(err, errlen, "a prefix length of 0 to %zu after the "
                     "\"/\"", max);
            return -1;
        }
    }

    for (i = 0; i < max / 8; i++) {
        a->mask[i] = (unsigned char) (bits >= 8 * (i + 1) ? 0xff
                      : bits <= 8 * i ? 0
                      : (0xff00 >> (bits - 8 * i)) & 0xff);

        /* a network, not an address inside one: 10.1.2.3/8 is refused */
        if (a->addr[i] & ~a->mask[i]) {
            snprintf(err, errlen, "bits set beyond the prefix length");
            return -1;
        }
    }

    return 0;
}


int
pdf_report_webhook_addr_ok(const pdf_report_webhook_conf_t *conf,
    const char *host, const struct sockaddr *sa)
{
    size_t                             i, j, n;
    const unsigned char               *addr;
    const pdf_report_webhook_allow_t  *a;
    int                                family, denied;

    if (sa->sa_family == AF_INET) {
        family = AF_INET;
        addr = (const unsigned char *)
               &((const struct sockaddr_in *) sa)->sin_addr;
        denied = pdf_report_webhook_v4_denied(addr);
        n = 4;

    } else if (sa->sa_family == AF_INET6) {
        family = AF_INET6;
        addr = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
        n = 16;

        /* IPv4-mapped and NAT64 addresses are their IPv4 one's */
        if ((memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
            || memcmp(addr, "\0\x64\xff\x9b\0\0\0\0\0\0\0\0", 12) == 0)
        {
            denied = pdf_report_webhook_v4_denied(addr + 12);

        } else {
            denied = pdf_report_webhook_in(addr, pdf_report_webhook_v6,
                         sizeof(pdf_report_webhook_v6)
                         / sizeof(pdf_report_webhook_v6[0]));
        }

    } else {
        return 0;
    }

    if (!denied) {
        return 1;
    }

    for (i = 0; i < conf->nallow; i++) {
        a = &conf->allow[i];

        if (a->family == 0) {
            if (host != NULL && strcasecmp(a->host, host) == 0) {
                return 1;
            }

            continue;
        }

        if (a->family != family) {
            continue;
        }

        for (j = 0; j < n; j++) {
            if ((addr[j] & a->mask[j]) != a->addr[j]) {
                break;
            }
        }

        if (j == n) {
            return 1;
        }
    }

    return 0;
}


static int
pdf_report_webhook_v4_denied(const unsigned char *a)
{
    return pdf_report_webhook_in(a, pdf_report_webhook_v4,
                                 sizeof(pdf_report_webhook_v4)
                                 / sizeof(pdf_report_webhook_v4[0]));
}


static int
pdf_report_webhook_in(const unsigned char *addr,
    const pdf_report_webhook_net_t *nets, size_t n)
{
    size_t    i, j;
    unsigned  bits, mask;

    for (i = 0; i < n; i++) {
        bits = nets[i].bits;

        for (j = 0; bits > 0; j++) {
            mask = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff;

            if ((addr[j] & mask) != nets[i].addr[j]) {
                break;
            }

            bits = bits >= 8 ? bits - 8 : 0;
        }

        if (bits == 0) {
            return 1;
        }
    }

    return 0;
}


int
pdf_report_webhook_start(pdf_report_webhook_req_t *req,
    const pdf_report_webhook_conf_t *conf,
    const pdf_report_webhook_msg_t *msg, pdf_report_webhook_result_t *res)
{
    char                *host;
    char                 line[128], sig[PDF_REPORT_WEBHOOK_SIG_LEN + 1];
    size_t               n;
    CURL                *curl;
    CURLU               *u;
    struct curl_slist   *l;

    memset(req, 0, sizeof(pdf_report_webhook_req_t));
    memset(res, 0, sizeof(pdf_report_webhook_result_t));
    req->conf = conf;

    pdf_report_fetch_log_url(req->url, sizeof(req->url), msg->url);

    host = NULL;
    u = curl_url();

    if (u == NULL
        || curl_url_set(u, CURLUPART_URL, msg->url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || strlen(host) >= sizeof(req->host))
    {
        snprintf(res->error, sizeof(res->error), "%s: not a URL", req->url);
        curl_free(host);
        curl_url_cleanup(u);
        return -1;
    }

    /* an IPv6 literal comes in its brackets */
    n = strlen(host);

    if (n > 1 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(req->host, host + 1, n - 2);
        req->host[n - 2] = '\0';

    } else {
        memcpy(req->host, host, n + 1);
    }

    curl_free(host);
    curl_url_cleanup(u);

    if (pdf_report_webhook_sign(sig, msg->key, msg->key_len, msg->id,
                                msg->timestamp, msg->body, msg->len)
        != 0)
    {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cannot sign the event");
        return -1;
    }

    l = curl_slist_append(NULL, "Content-Type: application/json");
    req->headers = l;

    snprintf(line, sizeof(line), "webhook-id: %s", msg->id);
    l = (l != NULL) ? curl_slist_append(l, line) : NULL;

    snprintf(line, sizeof(line), "webhook-timestamp: %" PRId64,
             msg->timestamp);
    l = (l != NULL) ? curl_slist_append(l, line) : NULL;

    snprintf(line, sizeof(line), "webhook-signature: %s", sig);
    l = (l != NULL) ? curl_slist_append(l, line) : NULL;

    /* no "Expect: 100-continue" round trip on large bodies */
    l = (l != NULL) ? curl_slist_append(l, "Expect:") : NULL;

    curl = curl_easy_init();
    req->curl = curl;

    if (l == NULL || curl == NULL) {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cannot set up a curl handle (out of memory)");
        goto failed;
    }

    /*
     * Every address curl would connect to goes through the guard, so a
     * name that resolves to a private address (or is made to, between a
     * check and the connect) is refused.  No proxy: its address would
     * be the one checked.  No redirects: a 3xx fails the attempt.
     */
    if (curl_easy_setopt(curl, CURLOPT_URL, msg->url) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
#if (LIBCURL_VERSION_NUM >= 0x075500)
        || curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
#endif
        || curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION,
                            pdf_report_webhook_open) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, req) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || (conf->ca_file != NULL
            && (curl_easy_setopt(curl, CURLOPT_CAINFO, conf->ca_file)
                != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_CAPATH, NULL)
                   != CURLE_OK))
        || curl_easy_setopt(curl, CURLOPT_POST, 1L) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_POSTFIELDS, msg->body) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) msg->len)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_HTTPHEADER, req->headers)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                            conf->timeout_ms ? conf->timeout_ms
                            : PDF_REPORT_WEBHOOK_TIMEOUT_MS) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                            pdf_report_webhook_discard) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, req->errbuf)
           != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_PRIVATE, req) != CURLE_OK
        || curl_easy_setopt(curl, CURLOPT_USERAGENT,
                            "ngx_http_pdf_report_module") != CURLE_OK
        || (conf->cancelled != NULL
            && (curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                                    pdf_report_webhook_progress) != CURLE_OK
                || curl_easy_setopt(curl, CURLOPT_XFERINFODATA,
                                    (void *) conf) != CURLE_OK)))
    {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cannot set up the curl handle");
        goto failed;
    }

    return 0;

failed:

    curl_easy_cleanup(req->curl);
    curl_slist_free_all(req->headers);
    req->curl = NULL;
    req->headers = NULL;

    return -1;
}


int
pdf_report_webhook_finish(pdf_report_webhook_req_t *req, int cc,
    pdf_report_webhook_result_t *res)
{
    int  rc;

    rc = -1;
    res->refused = req->refused;

    if (cc == CURLE_OK
        && curl_easy_getinfo(req->curl, CURLINFO_RESPONSE_CODE, &res->status)
           != CURLE_OK)
    {
        res->status = 0;
    }

    if (req->refused && cc != CURLE_OK) {
        snprintf(res->error, sizeof(res->error), "%.100s: refused: the "
                 "host's address is loopback, private, link-local or "
                 "unspecified, and no pdf_report_webhook_allow entry "
                 "allows it", req->url);

    } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(res->error, sizeof(res->error), "%s",
                 "cancelled: the worker is exiting");

    } else if (cc != CURLE_OK) {
        snprintf(res->error, sizeof(res->error), "%.100s: %.150s", req->url,
                 req->errbuf[0] ? req->errbuf
                                : curl_easy_strerror((CURLcode) cc));

    } else if (res->status < 200 || res->status > 299) {
        snprintf(res->error, sizeof(res->error), "%.100s answered %ld",
                 req->url, res->status);

    } else {
        rc = 0;
    }

    curl_easy_cleanup(req->curl);
    curl_slist_free_all(req->headers);
    req->curl = NULL;
    req->headers = NULL;

    return rc;
}


int
pdf_report_webhook_post(const pdf_report_webhook_conf_t *conf,
    const pdf_report_webhook_msg_t *msg, pdf_report_webhook_result_t *res)
{
    CURLcode                  cc;
    pdf_report_webhook_req_t  req;

    if (pdf_report_webhook_start(&req, conf, msg, res) != 0) {
        return -1;
    }

    cc = curl_easy_perform(req.curl);

    return pdf_report_webhook_finish(&req, cc, res);
}


static curl_socket_t
pdf_report_webhook_open(void *data, curlsocktype purpose,
    struct curl_sockaddr *address)
{
    pdf_report_webhook_req_t  *req = data;

    if (purpose != CURLSOCKTYPE_IPCXN
        || !pdf_report_webhook_addr_ok(req->conf, req->host, &address->addr))
    {
        req->refused = 1;
        return CURL_SOCKET_BAD;
    }

    return socket(address->family, address->socktype, address->protocol);
}


/* the receiver's answer is not read beyond its status */

static size_t
pdf_report_webhook_discard(char *ptr, size_t size, size_t n, void *data)
{
    (void) ptr;
    (void) data;

    return size * n;
}


static int
pdf_report_webhook_progress(void *data, curl_off_t dltotal,
    curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const pdf_report_webhook_conf_t  *conf = data;

    (void) dltotal;
    (void) dlnow;
    (void) ultotal;
    (void) ulnow;

    return conf->cancelled() ? 1 : 0;
}


/* ---- the webhooks file ---- */


static int
pdf_report_webhook_cmp(const void *a, const void *b)
{
    return strcmp(((const pdf_report_webhook_t *) a)->org,
                  ((const pdf_report_webhook_t *) b)->org);
}


static int
pdf_report_webhook_line(pdf_report_webhook_t *h, const char *line,
    size_t len, char *err, size_t errlen)
{
    int           rc;
    size_t        i;
    json_t       *j, *org, *url, *secret;
    const char   *u;
    json_error_t  je;

    j = pdf_report_json_loadb(line, len, 0, &je);

    /* jansson's text may quote the line, and so a secret: only where */
    if (j == NULL) {
        snprintf(err, errlen, "not JSON (at byte %d)", je.position);
        return -1;
    }

    if (!json_is_object(j)) {
        snprintf(err, errlen, "not a JSON object");
        json_decref(j);
        return -1;
    }

    org = json_object_get(j, "org_id");
    url = json_object_get(j, "url");
    secret = json_object_get(j, "secret");
    rc = -1;

    if (!json_is_string(org) || json_string_length(org) == 0
        || json_string_length(org) > 128
        || strlen(json_string_value(org)) != json_string_length(org))
    {
        snprintf(err, errlen, "\"org_id\" must be a string of 1 to 128 "
                 "bytes");
        goto done;
    }

    u = json_is_string(url) ? json_string_value(url) : "";

    if ((strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        || strlen(u) > PDF_REPORT_WEBHOOK_URL_MAX
        || strlen(u) != json_string_length(url))
    {
        snprintf(err, errlen, "\"url\" must be an http:// or https:// URL "
                 "of at most %d bytes", PDF_REPORT_WEBHOOK_URL_MAX);
        goto done;
    }

    for (i = 0; u[i] != '\0'; i++) {
        if ((unsigned char) u[i] <= 0x20 || (unsigned char) u[i] >= 0x7f) {
            snprintf(err, errlen, "\"url\" has a space or a byte outside "
                     "printable ASCII");
            goto done;
        }
    }

    /* the secret's value is never repeated in a message */
    if (!json_is_string(secret)
        || pdf_report_webhook_secret(json_string_value(secret),
                                     json_string_length(secret), h->key,
                                     &h->key_len)
           != 0)
    {
        snprintf(err, errlen, "\"secret\" must be \"whsec_\" and the "
                 "base64 of %d to %d bytes", PDF_REPORT_WEBHOOK_KEY_MIN,
                 PDF_REPORT_WEBHOOK_KEY_MAX);
        goto done;
    }

    h->org = strdup(json_string_value(org));
    h->url = strdup(u);

    if (h->org == NULL || h->url == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }

    rc = 0;

done:

    json_decref(j);
    return rc;
}


int
pdf_report_webhooks_load(const char *file, pdf_report_webhooks_t *hooks,
    char *err, size_t errlen)
{
    FILE                  *f;
    char                  *line, lerr[160];
    size_t                 cap, n, lineno, i;
    ssize_t                len;
    pdf_report_webhook_t  *h, *more;

    memset(hooks, 0, sizeof(pdf_report_webhooks_t));

    f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }

    line = NULL;
    cap = 0;
    n = 0;
    lineno = 0;

    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'
                           || line[len - 1] == ' '))
        {
            len--;
        }

        if (len == 0) {
            continue;
        }

        if (hooks->n == n) {
            n = n ? 2 * n : 16;
            more = realloc(hooks->hooks, n * sizeof(pdf_report_webhook_t));

            if (more == NULL) {
                snprintf(err, errlen, "%s: out of memory", file);
                goto failed;
            }

            hooks->hooks = more;
        }

        h = &hooks->hooks[hooks->n];
        memset(h, 0, sizeof(pdf_report_webhook_t));

        if (pdf_report_webhook_line(h, line, (size_t) len, lerr,
                                    sizeof(lerr))
            != 0)
        {
            free(h->org);
            free(h->url);
            snprintf(err, errlen, "%s:%zu: %s", file, lineno, lerr);
            goto failed;
        }

        hooks->n++;
    }

    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        goto failed;
    }

    free(line);
    fclose(f);

    qsort(hooks->hooks, hooks->n, sizeof(pdf_report_webhook_t),
          pdf_report_webhook_cmp);

    for (i = 1; i < hooks->n; i++) {
        if (strcmp(hooks->hooks[i - 1].org, hooks->hooks[i].org) == 0) {
            snprintf(err, errlen, "%s: org \"%.128s\" has two lines", file,
                     hooks->hooks[i].org);
            pdf_report_webhooks_free(hooks);
            return -1;
        }
    }

    return 0;

failed:

    free(line);
    fclose(f);
    pdf_report_webhooks_free(hooks);

    return -1;
}


void
pdf_report_webhooks_free(pdf_report_webhooks_t *hooks)
{
    size_t  i;

    for (i = 0; i < hooks->n; i++) {
        free(hooks->hooks[i].org);
        free(hooks->hooks[i].url);
        /* the keys do not outlive their table */
        OPENSSL_cleanse(hooks->hooks[i].key, sizeof(hooks->hooks[i].key));
    }

    free(hooks->hooks);
    memset(hooks, 0, sizeof(pdf_report_webhooks_t));
}


const pdf_report_webhook_t *
pdf_report_webhooks_find(const pdf_report_webhooks_t *hooks,
    const char *org)
{
    pdf_report_webhook_t  key;

    if (hooks == NULL || hooks->n == 0) {
        return NULL;
    }

    key.org = (char *) org;

    return bsearch(&key, hooks->hooks, hooks->n,
                   sizeof(pdf_report_webhook_t), pdf_report_webhook_cmp);
}
