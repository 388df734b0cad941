
/*
 * AWS Signature Version 4: RFC 3986 encoding, the signature of a canonical
 * request and the x-amz-date stamp.  See pdf_report_s3.h.
 *
 * Pure C on OpenSSL libcrypto: no nginx, no global state, so it runs in
 * pool threads and in the unit tests.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <pthread.h>

#include "pdf_report_util.h"
#include "pdf_report_s3.h"


#define PDF_REPORT_SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define PDF_REPORT_SIGV4_SECRET_MAX 256
/* a canonical request this long is built on the stack, a longer one not */
#define PDF_REPORT_SIGV4_STACK_BUF  4096


/*
 * What a thread keeps between signatures: the day's signing key and, in
 * the thread that fetched the algorithms (nginx's event loop, which
 * signs every step-3 URL), an HMAC context keyed with it and a SHA-256
 * context, so that a signature allocates nothing and derives no key.
 * Pool threads (a PUT a job) allocate per signature instead: a
 * thread-specific destructor would run in an exiting pool thread while
 * the worker goes on to unload the module, and so crash it.
 * pdf_report_sigv4_cleanup() frees the owner's contexts.
 */

typedef struct {
    int            valid;
    char           date[8];
    char           region[64];
    char           service[16];
    unsigned char  tag[PDF_REPORT_SHA256_LEN];
    unsigned char  key[PDF_REPORT_SHA256_LEN];
    EVP_MAC_CTX   *keyed;          /* HMAC with key, when valid */
    EVP_MD_CTX    *md;
    int            owner;          /* the contexts' thread */
} pdf_report_sigv4_key_t;


static __thread pdf_report_sigv4_key_t  pdf_report_sigv4_key_cache;

static pthread_t        pdf_report_sigv4_owner;
static pthread_once_t   pdf_report_sigv4_once = PTHREAD_ONCE_INIT;
static EVP_MD          *pdf_report_sigv4_md;
static EVP_MAC         *pdf_report_sigv4_mac;
static EVP_MAC_CTX     *pdf_report_sigv4_mac_tpl;   /* HMAC-SHA256, no key */


static int pdf_report_sigv4_key(const char *secret, size_t secret_len,
    const char *amz_date, const char *region, const char *service,
    unsigned char *key, EVP_MAC_CTX **keyed);
static pdf_report_sigv4_key_t *pdf_report_sigv4_thread(void);
static void pdf_report_sigv4_thread_free(pdf_report_sigv4_key_t *c);
static void pdf_report_sigv4_fetch(void);
static int pdf_report_sigv4_sha256_raw(const void *data, size_t len,
    unsigned char *md);
static const EVP_MD *pdf_report_sigv4_sha256(void);
static char *pdf_report_sigv4_cat(char *p, const char *s);
static int pdf_report_sigv4_sha256_hex(const void *data, size_t len,
    char *hex);
static int pdf_report_sigv4_hmac(const unsigned char *key, size_t key_len,
    const void *msg, size_t msg_len, unsigned char *out);
static int pdf_report_sigv4_mac_run(EVP_MAC_CTX *ctx,
    const unsigned char *key, size_t key_len, const void *msg,
    size_t msg_len, unsigned char *out);


size_t
pdf_report_sigv4_encode(char *dst, const char *src, size_t len,
    int keep_slash)
{
    static const char      hex[] = "0123456789ABCDEF";
    size_t                 i, n;
    unsigned char          c;

    /* RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~, a bit for each byte */
    static const uint32_t  unreserved[] = {
        0x00000000, 0x03ff6000, 0x87fffffe, 0x47fffffe,
        0x00000000, 0x00000000, 0x00000000, 0x00000000
    };

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if ((unreserved[c >> 5] & (1U << (c & 0x1f)))
            || (c == '/' && keep_slash))
        {
            dst[n++] = (char) c;
            continue;
        }

        dst[n++] = '%';
        dst[n++] = hex[c >> 4];
        dst[n++] = hex[c & 0xf];
    }

    dst[n] = '\0';

    return n;
}


int
pdf_report_sigv4_signature(const char *secret_key, const char *region,
    const char *service, const char *amz_date, const char *method,
    const char *canonical_uri, const char *canonical_query,
    const char *canonical_headers, const char *signed_headers,
    const char *payload_hash, char *sig)
{
    int             rc;
    char           *creq, *sts, *p;
    char            cbuf[PDF_REPORT_SIGV4_STACK_BUF];
    char            sbuf[256];
    char            creq_hash[PDF_REPORT_SHA256_HEX + 1];
    char            secret[4 + PDF_REPORT_SIGV4_SECRET_MAX + 1];
    size_t          creq_size, sts_size, secret_len;
    EVP_MAC_CTX    *keyed;
    unsigned char   k2[PDF_REPORT_SHA256_LEN];
    unsigned char   mac[PDF_REPORT_SHA256_LEN];

    if (secret_key == NULL || region == NULL || service == NULL
        || amz_date == NULL || method == NULL || canonical_uri == NULL
        || canonical_query == NULL || canonical_headers == NULL
        || signed_headers == NULL || payload_hash == NULL || sig == NULL)
    {
        return -1;
    }

    /* YYYYMMDDTHHMMSSZ: the scope's date is its first 8 characters */
    if (strlen(amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z')
    {
        return -1;
    }

    secret_len = strlen(secret_key);

    if (secret_len > PDF_REPORT_SIGV4_SECRET_MAX) {
        return -1;
    }

    rc = -1;
    creq = NULL;
    sts = NULL;

    /*
     * CanonicalRequest: method \n uri \n query \n headers \n signed \n hash;
     * the canonical headers end with their own '\n', which makes the empty
     * line AWS's examples show before the signed header list.
     */

    creq_size = strlen(method) + strlen(canonical_uri)
                + strlen(canonical_query) + strlen(canonical_headers)
                + strlen(signed_headers) + strlen(payload_hash) + 8;

    /* a pre-signed GET's request fits on the stack, a PUT's may not */
    creq = (creq_size <= sizeof(cbuf)) ? cbuf : malloc(creq_size);
    if (creq == NULL) {
        goto done;
    }

    /* the sizes were added up above: plain copies, no printf */
    p = pdf_report_sigv4_cat(creq, method);
    *p++ = '\n';
    p = pdf_report_sigv4_cat(p, canonical_uri);
    *p++ = '\n';
    p = pdf_report_sigv4_cat(p, canonical_query);
    *p++ = '\n';
    p = pdf_report_sigv4_cat(p, canonical_headers);
    *p++ = '\n';
    p = pdf_report_sigv4_cat(p, signed_headers);
    *p++ = '\n';
    p = pdf_report_sigv4_cat(p, payload_hash);

    if (pdf_report_sigv4_sha256_hex(creq, p - creq, creq_hash) != 0) {
        goto done;
    }

    sts_size = sizeof(PDF_REPORT_SIGV4_ALGORITHM) + 16 + 8 + strlen(region)
               + strlen(service) + sizeof("aws4_request")
               + PDF_REPORT_SHA256_HEX + 8;

    sts = (sts_size <= sizeof(sbuf)) ? sbuf : malloc(sts_size);
    if (sts == NULL) {
        goto done;
    }

    p = pdf_report_sigv4_cat(sts, PDF_REPORT_SIGV4_ALGORITHM "\n");
    p = pdf_report_sigv4_cat(p, amz_date);
    *p++ = '\n';
    memcpy(p, amz_date, 8);
    p += 8;
    *p++ = '/';
    p = pdf_report_sigv4_cat(p, region);
    *p++ = '/';
    p = pdf_report_sigv4_cat(p, service);
    p = pdf_report_sigv4_cat(p, "/aws4_request\n");
    p = pdf_report_sigv4_cat(p, creq_hash);
    *p = '\0';

    /* kDate, kRegion, kService, kSigning, then the signature itself */

    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, secret_key, secret_len);

    if (pdf_report_sigv4_key(secret, 4 + secret_len, amz_date, region,
                             service, k2, &keyed)
        != 0)
    {
        goto done;
    }

    if (keyed != NULL) {
        /* a NULL key starts the context again with the key it holds */
        if (pdf_report_sigv4_mac_run(keyed, NULL, 0, sts, p - sts, mac) != 0)
        {
            goto done;
        }

    } else if (pdf_report_sigv4_hmac(k2, sizeof(k2), sts, p - sts, mac)
               != 0)
    {
        goto done;
    }

    pdf_report_hex(sig, mac, sizeof(mac));
    sig[PDF_REPORT_SHA256_HEX] = '\0';

    rc = 0;

done:

    /* the derived keys are as good as the secret for a day: wipe them */
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(mac, sizeof(mac));

    if (creq != cbuf) {
        free(creq);
    }

    if (sts != sbuf) {
        free(sts);
    }

    return rc;
}


/*
 * The signing key depends on the secret, the day, the region and the
 * service only: it is derived once a day and kept, as the AWS SDKs do,
 * per thread (the event loop and each pool thread sign).  The entry is
 * keyed by a SHA-256 of the secret, so no copy of the secret is kept.
 */

static int
pdf_report_sigv4_key(const char *secret, size_t secret_len,
    const char *amz_date, const char *region, const char *service,
    unsigned char *key, EVP_MAC_CTX **keyed)
{
    size_t                   region_len, service_len;
    unsigned char            tag[PDF_REPORT_SHA256_LEN];
    unsigned char            k1[PDF_REPORT_SHA256_LEN];
    pdf_report_sigv4_key_t  *c;

    *keyed = NULL;

    c = pdf_report_sigv4_thread();
    region_len = strlen(region);
    service_len = strlen(service);

    if (pdf_report_sigv4_sha256_raw(secret, secret_len, tag) != 0) {
        return -1;
    }

    if (c->valid
        && memcmp(c->date, amz_date, 8) == 0
        && region_len < sizeof(c->region)
        && service_len < sizeof(c->service)
        && strcmp(c->region, region) == 0
        && strcmp(c->service, service) == 0
        && CRYPTO_memcmp(c->tag, tag, PDF_REPORT_SHA256_LEN) == 0)
    {
        memcpy(key, c->key, PDF_REPORT_SHA256_LEN);
        *keyed = c->keyed;
        return 0;
    }

    c->valid = 0;

    if (pdf_report_sigv4_hmac((const unsigned char *) secret, secret_len,
                              amz_date, 8, key)
        != 0
        || pdf_report_sigv4_hmac(key, PDF_REPORT_SHA256_LEN, region,
                                 region_len, k1)
           != 0
        || pdf_report_sigv4_hmac(k1, sizeof(k1), service, service_len, key)
           != 0
        || pdf_report_sigv4_hmac(key, PDF_REPORT_SHA256_LEN, "aws4_request",
                                 sizeof("aws4_request") - 1, k1)
           != 0)
    {
        OPENSSL_cleanse(k1, sizeof(k1));
        return -1;
    }

    memcpy(key, k1, sizeof(k1));
    OPENSSL_cleanse(k1, sizeof(k1));

    if (region_len >= sizeof(c->region) || service_len >= sizeof(c->service))
    {
        return 0;
    }

    memcpy(c->date, amz_date, 8);
    memcpy(c->region, region, region_len + 1);
    memcpy(c->service, service, service_len + 1);
    memcpy(c->tag, tag, PDF_REPORT_SHA256_LEN);
    memcpy(c->key, key, PDF_REPORT_SHA256_LEN);
    c->valid = 1;

    /* without a context of its own the thread signs the slower way */

    if (c->keyed == NULL && pdf_report_sigv4_mac_tpl != NULL
        && c->owner)
    {
        c->keyed = EVP_MAC_CTX_dup(pdf_report_sigv4_mac_tpl);
    }

    if (c->keyed != NULL) {
        if (EVP_MAC_init(c->keyed, key, PDF_REPORT_SHA256_LEN, NULL) == 1) {
            *keyed = c->keyed;

        } else {
            EVP_MAC_CTX_free(c->keyed);
            c->keyed = NULL;
        }
    }

    return 0;
}


/* this thread's cache; contexts only in the owner thread */

static pdf_report_sigv4_key_t *
pdf_report_sigv4_thread(void)
{
    pdf_report_sigv4_key_t  *c;

    (void) pdf_report_sigv4_sha256();

    c = &pdf_report_sigv4_key_cache;

    /* a forked worker's main thread is its master's, by pthread_self() */
    if (!c->owner && pthread_equal(pthread_self(), pdf_report_sigv4_owner))
    {
        c->owner = 1;
    }

    if (c->md == NULL && c->owner) {
        c->md = EVP_MD_CTX_new();
    }

    return c;
}


static void
pdf_report_sigv4_thread_free(pdf_report_sigv4_key_t *c)
{
    EVP_MAC_CTX_free(c->keyed);
    EVP_MD_CTX_free(c->md);
    OPENSSL_cleanse(c, sizeof(pdf_report_sigv4_key_t));
}


void
pdf_report_sigv4_amz_date(char *dst, time_t t)
{
    char  iso[PDF_REPORT_ISO8601_LEN];

    /* YYYY-MM-DDTHH:MM:SS.mmmZ to YYYYMMDDTHHMMSSZ, no gmtime_r lock */
    pdf_report_iso8601(iso, (int64_t) t * 1000);

    memcpy(dst, iso, 4);
    memcpy(dst + 4, iso + 5, 2);
    memcpy(dst + 6, iso + 8, 2);
    dst[8] = 'T';
    memcpy(dst + 9, iso + 11, 2);
    memcpy(dst + 11, iso + 14, 2);
    memcpy(dst + 13, iso + 17, 2);
    dst[15] = 'Z';
    dst[16] = '\0';
}


/*
 * SHA-256 and HMAC fetched from the provider once for the process: the
 * implicit fetch behind EVP_sha256() and HMAC() costs more than hashing
 * a canonical request.  The fetched objects are shared by all threads.
 */

static void
pdf_report_sigv4_fetch(void)
{
    OSSL_PARAM  params[2];

    pdf_report_sigv4_owner = pthread_self();

    pdf_report_sigv4_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    pdf_report_sigv4_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    if (pdf_report_sigv4_mac == NULL) {
        return;
    }

    /*
     * Naming the digest fetches it again: done once here, and every HMAC
     * starts from a copy of this context
     */

    pdf_report_sigv4_mac_tpl = EVP_MAC_CTX_new(pdf_report_sigv4_mac);
    if (pdf_report_sigv4_mac_tpl == NULL) {
        return;
    }

    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *) "SHA256",
                                                 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_CTX_set_params(pdf_report_sigv4_mac_tpl, params) != 1) {
        EVP_MAC_CTX_free(pdf_report_sigv4_mac_tpl);
        pdf_report_sigv4_mac_tpl = NULL;
    }
}


void
pdf_report_sigv4_cleanup(void)
{
    /* called by the owner thread at exit: its contexts */
    if (pdf_report_sigv4_key_cache.owner) {
        pdf_report_sigv4_thread_free(&pdf_report_sigv4_key_cache);
    }

    /* a later call (there is none) would take the unfetched path */
    EVP_MAC_CTX_free(pdf_report_sigv4_mac_tpl);
    EVP_MD_free(pdf_report_sigv4_md);
    EVP_MAC_free(pdf_report_sigv4_mac);
    pdf_report_sigv4_mac_tpl = NULL;
    pdf_report_sigv4_md = NULL;
    pdf_report_sigv4_mac = NULL;
}


static const EVP_MD *
pdf_report_sigv4_sha256(void)
{
    (void) pthread_once(&pdf_report_sigv4_once, pdf_report_sigv4_fetch);

    return pdf_report_sigv4_md != NULL ? pdf_report_sigv4_md : EVP_sha256();
}


static char *
pdf_report_sigv4_cat(char *p, const char *s)
{
    size_t  n;

    n = strlen(s);
    memcpy(p, s, n);

    return p + n;
}


static int
pdf_report_sigv4_sha256_hex(const void *data, size_t len, char *hex)
{
    unsigned char  md[PDF_REPORT_SHA256_LEN];

    if (pdf_report_sigv4_sha256_raw(data, len, md) != 0) {
        return -1;
    }

    pdf_report_hex(hex, md, PDF_REPORT_SHA256_LEN);
    hex[PDF_REPORT_SHA256_HEX] = '\0';

    return 0;
}


static int
pdf_report_sigv4_sha256_raw(const void *data, size_t len, unsigned char *md)
{
    unsigned int             n;
    pdf_report_sigv4_key_t  *c;

    c = pdf_report_sigv4_thread();
    n = 0;

    if (c->md == NULL) {
        return (EVP_Digest(data, len, md, &n, pdf_report_sigv4_sha256(),
                           NULL) == 1
                && n == PDF_REPORT_SHA256_LEN)
               ? 0 : -1;
    }

    return (EVP_DigestInit_ex2(c->md, pdf_report_sigv4_sha256(), NULL) == 1
            && EVP_DigestUpdate(c->md, data, len) == 1
            && EVP_DigestFinal_ex(c->md, md, &n) == 1
            && n == PDF_REPORT_SHA256_LEN)
           ? 0 : -1;
}


static int
pdf_report_sigv4_hmac(const unsigned char *key, size_t key_len,
    const void *msg, size_t msg_len, unsigned char *out)
{
    int            rc;
    unsigned int   un;
    EVP_MAC_CTX   *ctx;

    (void) pdf_report_sigv4_sha256();

    if (pdf_report_sigv4_mac_tpl == NULL) {
        un = 0;

        if (HMAC(EVP_sha256(), key, (int) key_len, msg, msg_len, out, &un)
            == NULL
            || un != PDF_REPORT_SHA256_LEN)
        {
            return -1;
        }

        return 0;
    }

    /* a copy: the template is shared by the threads and never changes */
    ctx = EVP_MAC_CTX_dup(pdf_report_sigv4_mac_tpl);
    if (ctx == NULL) {
        return -1;
    }

    rc = pdf_report_sigv4_mac_run(ctx, key, key_len, msg, msg_len, out);

    EVP_MAC_CTX_free(ctx);

    return rc;
}


/* HMAC-SHA256 of msg in ctx, keyed anew unless key is NULL */

static int
pdf_report_sigv4_mac_run(EVP_MAC_CTX *ctx, const unsigned char *key,
    size_t key_len, const void *msg, size_t msg_len, unsigned char *out)
{
    size_t  n;

    n = 0;

    return (EVP_MAC_init(ctx, key, key_len, NULL) == 1
            && EVP_MAC_update(ctx, msg, msg_len) == 1
            && EVP_MAC_final(ctx, out, &n, PDF_REPORT_SHA256_LEN) == 1
            && n == PDF_REPORT_SHA256_LEN)
           ? 0 : -1;
}
