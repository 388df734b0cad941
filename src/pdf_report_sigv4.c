
/*
 * AWS Signature Version 4: RFC 3986 encoding, the signature of a canonical
 * request and the x-amz-date stamp.  See pdf_report_s3.h.
 *
 * Pure C on OpenSSL libcrypto: no nginx, no global state, so it runs in
 * pool threads and in the unit tests.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pdf_report_util.h"
#include "pdf_report_s3.h"


#define PDF_REPORT_SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define PDF_REPORT_SIGV4_SECRET_MAX 256


typedef struct {
    int            valid;
    char           date[8];
    char           region[64];
    char           service[16];
    unsigned char  tag[PDF_REPORT_SHA256_LEN];
    unsigned char  key[PDF_REPORT_SHA256_LEN];
} pdf_report_sigv4_key_t;


static __thread pdf_report_sigv4_key_t  pdf_report_sigv4_key_cache;


static int pdf_report_sigv4_key(const char *secret, size_t secret_len,
    const char *amz_date, const char *region, const char *service,
    unsigned char *key);
static int pdf_report_sigv4_sha256_hex(const void *data, size_t len,
    char *hex);
static int pdf_report_sigv4_hmac(const unsigned char *key, size_t key_len,
    const void *msg, size_t msg_len, unsigned char *out);


size_t
pdf_report_sigv4_encode(char *dst, const char *src, size_t len,
    int keep_slash)
{
    static const char  hex[] = "0123456789ABCDEF";
    size_t             i, n;
    unsigned char      c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~'
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
    char           *creq, *sts;
    char            creq_hash[PDF_REPORT_SHA256_HEX + 1];
    char            secret[4 + PDF_REPORT_SIGV4_SECRET_MAX + 1];
    size_t          creq_size, sts_size, secret_len;
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

    creq = malloc(creq_size);
    if (creq == NULL) {
        goto done;
    }

    if (snprintf(creq, creq_size, "%s\n%s\n%s\n%s\n%s\n%s", method,
                 canonical_uri, canonical_query, canonical_headers,
                 signed_headers, payload_hash)
        >= (int) creq_size)
    {
        goto done;
    }

    if (pdf_report_sigv4_sha256_hex(creq, strlen(creq), creq_hash) != 0) {
        goto done;
    }

    sts_size = sizeof(PDF_REPORT_SIGV4_ALGORITHM) + 16 + 8 + strlen(region)
               + strlen(service) + sizeof("aws4_request")
               + PDF_REPORT_SHA256_HEX + 8;

    sts = malloc(sts_size);
    if (sts == NULL) {
        goto done;
    }

    if (snprintf(sts, sts_size, PDF_REPORT_SIGV4_ALGORITHM "\n%s\n"
                 "%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date, region,
                 service, creq_hash)
        >= (int) sts_size)
    {
        goto done;
    }

    /* kDate, kRegion, kService, kSigning, then the signature itself */

    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, secret_key, secret_len);

    if (pdf_report_sigv4_key(secret, 4 + secret_len, amz_date, region,
                             service, k2)
        != 0
        || pdf_report_sigv4_hmac(k2, sizeof(k2), sts, strlen(sts), mac) != 0)
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

    free(creq);
    free(sts);

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
    unsigned char *key)
{
    size_t                   region_len, service_len;
    unsigned int             n;
    unsigned char            tag[EVP_MAX_MD_SIZE];
    unsigned char            k1[PDF_REPORT_SHA256_LEN];
    pdf_report_sigv4_key_t  *c;

    c = &pdf_report_sigv4_key_cache;
    region_len = strlen(region);
    service_len = strlen(service);

    if (EVP_Digest(secret, secret_len, tag, &n, EVP_sha256(), NULL) != 1
        || n != PDF_REPORT_SHA256_LEN)
    {
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

    if (region_len < sizeof(c->region) && service_len < sizeof(c->service)) {
        memcpy(c->date, amz_date, 8);
        memcpy(c->region, region, region_len + 1);
        memcpy(c->service, service, service_len + 1);
        memcpy(c->tag, tag, PDF_REPORT_SHA256_LEN);
        memcpy(c->key, key, PDF_REPORT_SHA256_LEN);
        c->valid = 1;
    }

    return 0;
}


void
pdf_report_sigv4_amz_date(char *dst, time_t t)
{
    struct tm  tm;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(dst, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
    {
        /* only for times past year 9999; keep the output well-formed */
        memcpy(dst, "19700101T000000Z", 17);
    }
}


static int
pdf_report_sigv4_sha256_hex(const void *data, size_t len, char *hex)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1
        || n != PDF_REPORT_SHA256_LEN)
    {
        return -1;
    }

    pdf_report_hex(hex, md, PDF_REPORT_SHA256_LEN);
    hex[PDF_REPORT_SHA256_HEX] = '\0';

    return 0;
}


static int
pdf_report_sigv4_hmac(const unsigned char *key, size_t key_len,
    const void *msg, size_t msg_len, unsigned char *out)
{
    unsigned int  n;

    n = 0;

    /* HMAC() is the one-shot API both OpenSSL 1.1.1 and 3.x keep */
    if (HMAC(EVP_sha256(), key, (int) key_len, msg, msg_len, out, &n) == NULL
        || n != PDF_REPORT_SHA256_LEN)
    {
        return -1;
    }

    return 0;
}
