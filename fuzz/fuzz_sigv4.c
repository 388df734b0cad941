
/*
 * libFuzzer target: the SigV4 encoder and the pre-signer.  The input is
 *
 *     <flags byte> key NUL filename NUL endpoint NUL bucket NUL region
 *     NUL access key NUL secret key NUL session token NUL first name
 *     NUL last name
 *
 * and a missing field takes the test configuration's value.  flags:
 * bit 0 keep '/' when encoding, bit 1 path style, bit 2 no filename,
 * bits 3-4 the URL buffer size (4096, 512, 64, 1), bits 5-7 the expiry.
 *
 * Calls pdf_report_sigv4_encode() on every field, pdf_report_s3_presign()
 * with them, pdf_report_s3_presign_params() with the fields as extra
 * parameters, pdf_report_sigv4_signature() with them as canonical parts,
 * and the download filename rule then the pre-signer, as step 3 does.
 *
 * Properties: the encoding uses only unreserved characters and upper-case
 * %XX and decodes back to its input; a URL is NUL-terminated, as long as
 * returned, shorter than the buffer, and ends with a 64-hex signature;
 * a failure leaves no half URL; the filename rule gives only letters,
 * digits, '-', '_' and '.', which the pre-signer always takes.
 */


#include "fuzz.h"
#include "pdf_report_s3.h"
#include "pdf_report_util.h"


#define NFIELDS  10

#define F_KEY       0
#define F_FILENAME  1
#define F_ENDPOINT  2
#define F_BUCKET    3
#define F_REGION    4
#define F_ACCESS    5
#define F_SECRET    6
#define F_TOKEN     7
#define F_FIRST     8
#define F_LAST      9

#define JOB_ID  "0f9c3b1e-8a4d-4c2b-9e7f-123456789abc"


static const char  *defaults[NFIELDS] = {
    "reports/org_acme/" JOB_ID ".pdf",
    "SQR_J_Smith_0F9C.pdf",
    "http://127.0.0.1:4569",
    "sqr-reports",
    "us-east-1",
    "S3RVER",
    "S3RVER",
    "",
    "John",
    "Smith"
};

static const size_t    sizes[] = { PDF_REPORT_S3_URL_MAX, 512, 64, 1 };
static const unsigned  expiries[] = { 300, 1, 604800, 604801, 0, 3600,
                                      86400, 60 };


static void check_encode(const char *s, size_t len, int keep_slash);
static void check_url(const char *buf, size_t size, long rc);
static int hexval(int c);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     flags;
    long                    rc;
    char                   *copy, *field[NFIELDS], *p, *q, *end, *buf;
    char                    sig[PDF_REPORT_SHA256_HEX + 1], name[512];
    size_t                  i, n, nf, bsize, len;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_param_t   params[NFIELDS / 2];

    if (size == 0) {
        return 0;
    }

    flags = data[0];

    /* the fields, each NUL-terminated in its own exact-size copy */
    copy = fuzz_dup(data + 1, size - 1);
    end = copy + size - 1;
    nf = 0;

    for (p = copy; size > 1 && nf < NFIELDS; p = q + 1) {
        q = memchr(p, '\0', (size_t) (end - p));
        len = (size_t) ((q != NULL ? q : end) - p);

        field[nf] = malloc(len + 1);
        if (field[nf] == NULL) {
            abort();
        }

        memcpy(field[nf], p, len);
        field[nf++][len] = '\0';

        if (q == NULL) {
            break;
        }
    }

    for (i = nf; i < NFIELDS; i++) {
        len = strlen(defaults[i]);
        field[i] = fuzz_dup((const uint8_t *) defaults[i], len + 1);
    }

    for (i = 0; i < NFIELDS; i++) {
        check_encode(field[i], strlen(field[i]), flags & 1);
    }

    memset(&conf, 0, sizeof(pdf_report_s3_conf_t));
    conf.endpoint = field[F_ENDPOINT];
    conf.bucket = field[F_BUCKET];
    conf.region = field[F_REGION];
    conf.access_key = field[F_ACCESS];
    conf.secret_key = field[F_SECRET];
    conf.session_token = field[F_TOKEN][0] ? field[F_TOKEN] : NULL;
    conf.path_style = (flags & 2) ? 1 : 0;

    bsize = sizes[(flags >> 3) & 3];
    buf = malloc(bsize);
    if (buf == NULL) {
        abort();
    }

    rc = pdf_report_s3_presign(&conf, field[F_KEY], FUZZ_NOW,
                               expiries[(flags >> 5) & 7],
                               (flags & 4) ? NULL : field[F_FILENAME],
                               buf, bsize);
    check_url(buf, bsize, rc);

    /* the fields as extra query parameters, names and values */
    n = 0;

    for (i = 0; i + 1 < NFIELDS; i += 2) {
        params[n].name = field[i];
        params[n].value = field[i + 1];
        n++;
    }

    rc = pdf_report_s3_presign_params(&conf, field[F_KEY], FUZZ_NOW, 300,
                                      params, n, buf, bsize);
    check_url(buf, bsize, rc);

    /* and as the parts of a canonical request */
    if (pdf_report_sigv4_signature(field[F_SECRET], field[F_REGION], "s3",
                                   "20250505T100000Z", field[F_FIRST],
                                   field[F_KEY], field[F_FILENAME],
                                   field[F_BUCKET], field[F_LAST],
                                   field[F_TOKEN], sig)
        == 0)
    {
        fuzz_assert(strlen(sig) == PDF_REPORT_SHA256_HEX
                    && strspn(sig, "0123456789abcdef") == strlen(sig),
                    "signature is 64 lower-case hex digits");
    }

    /* step 3: the filename rule on the names, then the pre-signer */
    len = pdf_report_filename(name, sizeof(name), field[F_FIRST],
                              field[F_LAST], JOB_ID);

    fuzz_assert(len > 0 && len < sizeof(name) && strlen(name) == len,
                "the filename rule fits its buffer");
    fuzz_assert(strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                             "vwxyz0123456789-_.")
                == len, "filename characters");

    conf.endpoint = defaults[F_ENDPOINT];
    conf.bucket = defaults[F_BUCKET];
    conf.region = defaults[F_REGION];
    conf.access_key = defaults[F_ACCESS];
    conf.secret_key = defaults[F_SECRET];
    conf.session_token = NULL;

    free(buf);
    buf = malloc(PDF_REPORT_S3_URL_MAX);
    if (buf == NULL) {
        abort();
    }

    rc = pdf_report_s3_presign(&conf, defaults[F_KEY], FUZZ_NOW, 300, name,
                               buf, PDF_REPORT_S3_URL_MAX);

    fuzz_assert(rc > 0, "any filename of the rule can be signed");
    check_url(buf, PDF_REPORT_S3_URL_MAX, rc);
    fuzz_assert(strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                            "vwxyz0123456789-_.~%/:?&=")
                == (size_t) rc, "URL characters");

    free(buf);

    for (i = 0; i < NFIELDS; i++) {
        free(field[i]);
    }

    free(copy);

    return 0;
}


static void
check_encode(const char *s, size_t len, int keep_slash)
{
    int     hi, lo;
    char   *dst;
    size_t  n, i, k;

    dst = malloc(3 * len + 1);
    if (dst == NULL) {
        abort();
    }

    n = pdf_report_sigv4_encode(dst, s, len, keep_slash);

    fuzz_assert(n <= 3 * len && dst[n] == '\0' && strlen(dst) == n,
                "encoding length");

    for (i = 0, k = 0; i < n; k++) {
        fuzz_assert(k < len, "encoding decodes to no more than its input");

        if (dst[i] == '%') {
            fuzz_assert(i + 2 < n, "complete %XX");
            hi = hexval(dst[i + 1]);
            lo = hexval(dst[i + 2]);
            fuzz_assert(hi >= 0 && lo >= 0, "upper-case hex");
            fuzz_assert((unsigned char) s[k] == (unsigned) (hi << 4 | lo),
                        "%XX decodes to the input byte");
            i += 3;
            continue;
        }

        fuzz_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                           "vwxyz0123456789-._~", dst[i]) != NULL
                    || (keep_slash && dst[i] == '/'),
                    "only unreserved characters as they are");
        fuzz_assert(dst[i] == s[k], "unreserved characters unchanged");
        i++;
    }

    fuzz_assert(k == len, "encoding decodes to all of its input");

    free(dst);
}


static void
check_url(const char *buf, size_t size, long rc)
{
    size_t  len;

    if (rc < 0) {
        fuzz_assert(rc == -1, "returns -1 on failure");
        return;
    }

    len = strnlen(buf, size);

    fuzz_assert(len < size && (size_t) rc == len, "URL length");
    fuzz_assert(strncmp(buf, "http://", 7) == 0
                || strncmp(buf, "https://", 8) == 0, "URL scheme");
    fuzz_assert(len > 81 && memcmp(buf + len - 81, "&X-Amz-Signature=", 17)
                == 0, "URL ends with the signature");
    fuzz_assert(strspn(buf + len - 64, "0123456789abcdef") == 64,
                "64 hex signature");
}


static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}
