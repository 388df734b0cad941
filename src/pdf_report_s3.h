
/*
 * S3 access without nginx: SigV4 signing (header and query forms),
 * pre-signed GET URLs, the object PUT with retries (libcurl, run from a
 * pool thread) and the AWS shared-credentials file.
 */


#ifndef _PDF_REPORT_S3_H_INCLUDED_
#define _PDF_REPORT_S3_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>


#define PDF_REPORT_S3_KEY_MAX      1024
#define PDF_REPORT_S3_URL_MAX      4096

/* the sizes of a key pair's parts, with their NUL */
#define PDF_REPORT_S3_ACCESS_MAX   256
#define PDF_REPORT_S3_SECRET_MAX   256
#define PDF_REPORT_S3_TOKEN_MAX    4096


/* one set of AWS credentials, as a credentials source gives it */
typedef struct {
    char         access_key[PDF_REPORT_S3_ACCESS_MAX];
    char         secret_key[PDF_REPORT_S3_SECRET_MAX];
    char         session_token[PDF_REPORT_S3_TOKEN_MAX];  /* "": none */
    time_t       expiration;      /* 0: they do not expire */
} pdf_report_s3_creds_t;


typedef struct {
    const char  *endpoint;        /* "http://127.0.0.1:4569", no path */
    const char  *region;          /* "us-east-1" */
    const char  *bucket;
    int          path_style;      /* 1: endpoint/bucket/key */
    const char  *access_key;
    const char  *secret_key;
    const char  *session_token;   /* NULL when none */
    /* polled during a PUT (NULL: never): non-zero aborts it at once with
     * code "Cancelled", e.g. when the worker process is exiting */
    int        (*cancelled)(void);
    /*
     * When set, asked before each PUT or DELETE attempt for the keys to
     * sign it with, since they may rotate (access_key, secret_key and
     * session_token are then not used): 0 with creds filled, or -1 when
     * none can be had now, and the attempt is not made (code
     * "CredentialsUnavailable").  Called from the thread that signs.
     */
    int        (*credentials)(void *data, pdf_report_s3_creds_t *creds);
    void        *credentials_data;
} pdf_report_s3_conf_t;


typedef struct {
    int          http_status;     /* last HTTP status, 0: no response */
    int          attempts;
    int          retry;           /* DELETE: a network error, 5xx or
                                     SlowDown, worth another try soon */
    char         code[64];        /* S3 <Code>, or a curl error name */
    char         message[256];    /* one line, never a secret */
} pdf_report_s3_result_t;


/* one extra query parameter of a pre-signed URL, neither part encoded */
typedef struct {
    const char  *name;
    const char  *value;
} pdf_report_s3_param_t;


/*
 * Called between PUT attempts (e.g. to renew the job's lease); returning
 * non-zero stops retrying.
 */
typedef int (*pdf_report_s3_between_pt)(void *data);


/*
 * RFC 3986 encoding as SigV4 wants it: unreserved characters as they are,
 * everything else %XX upper-case; '/' kept when keep_slash is set.
 * Returns the length written; dst must hold 3 * len + 1 bytes.
 */
size_t pdf_report_sigv4_encode(char *dst, const char *src, size_t len,
    int keep_slash);

/*
 * The SigV4 signature (64 hex chars + NUL into sig) of a canonical request
 * built from its parts: method, canonical URI (already encoded), canonical
 * query string (already sorted and encoded, "" for none), canonical
 * headers ("name:value\n" lines, sorted, lower-case names), signed header
 * list ("host;x-amz-date"), payload hash.  amz_date is YYYYMMDDTHHMMSSZ.
 * service is "s3" for S3.  Returns 0, or -1 on a crypto failure.
 */
int pdf_report_sigv4_signature(const char *secret_key, const char *region,
    const char *service, const char *amz_date, const char *method,
    const char *canonical_uri, const char *canonical_query,
    const char *canonical_headers, const char *signed_headers,
    const char *payload_hash, char *sig);

/* "20130524T000000Z" (16 chars + NUL) for t */
void pdf_report_sigv4_amz_date(char *dst, time_t t);

/* at process exit, once no thread signs: the algorithms fetched once */
void pdf_report_sigv4_cleanup(void);

/*
 * The object key of a report: <prefix><org>/<job_id>.pdf, where the org
 * (and the job id) is always exactly one key segment.  In the org, '%'
 * is written "%25", '/' "%2F", '\\' "%5C", control bytes (< 0x20, 0x7f)
 * %XX (upper-case hex), and an org that is "." or ".." as a whole is
 * written "%2E" or "%2E%2E"; every other byte is kept, so plain ids
 * (org_acme, org-1, org.acme, Org42) give the key they always gave.  The
 * mapping is injective: percent-decoding the segment gives the org back.
 * The job id is escaped in the same way (a UUID is kept as it is).  The
 * prefix (the operator's) is copied as it is.  The key is SigV4-encoded
 * once more when it goes into a request path, so the server keeps "%2F"
 * as three bytes of the key.
 * Returns the key length (NUL-terminated in buf), or -1 when the org or
 * the job id is empty or buf is too small;
 * PDF_REPORT_S3_OBJECT_KEY_SIZE() bytes are always enough.
 */
long pdf_report_s3_object_key(char *buf, size_t size, const char *prefix,
    size_t prefix_len, const char *org, const char *job_id);

#define PDF_REPORT_S3_OBJECT_KEY_SIZE(prefix_len, org_len, id_len)         \
    ((prefix_len) + 3 * (org_len) + 1 + 3 * (id_len) + sizeof(".pdf"))

/*
 * Pre-signed GET URL of key (not encoded) with X-Amz-Expires = expires,
 * signed header host, response-content-disposition
 * = attachment; filename="<filename>" and response-content-type
 * = application/pdf.  Path-style or virtual-hosted per conf.
 * filename NULL leaves the disposition out; a filename with '"', '\\' or
 * a control character is refused.  expires is 1 to 604800 (S3's limit).
 * Returns the URL length (NUL-terminated in buf) or -1.  The URL holds
 * only RFC 3986 characters (the endpoint's host is checked to be a name
 * or an IP literal): it goes into JSON as it is.
 */
long pdf_report_s3_presign(const pdf_report_s3_conf_t *conf,
    const char *key, time_t now, unsigned expires, const char *filename,
    char *buf, size_t size);

/*
 * The same with any extra query parameters (at most 16, none named
 * X-Amz-*) instead of the two response-* ones: pdf_report_s3_presign is
 * this with response-content-disposition and response-content-type.
 * With none it is the plain pre-signed GET that AWS documents and that
 * other signers (aws s3 presign) produce, which is how it is tested.
 */
long pdf_report_s3_presign_params(const pdf_report_s3_conf_t *conf,
    const char *key, time_t now, unsigned expires,
    const pdf_report_s3_param_t *params, size_t nparams, char *buf,
    size_t size);

/*
 * PUT data to key with Content-Type application/pdf,
 * x-amz-content-sha256 = sha256_hex and a SigV4 Authorization header.
 * Network errors, 5xx and SlowDown are retried with exponential backoff
 * and full jitter while the clock (pdf_report_now_ms) is before
 * deadline_ms; every attempt's timeouts end at the deadline.  Other 4xx
 * fail at once.  Returns 0 on a 2xx, -1 otherwise with res filled.
 * With conf->credentials, S3's ExpiredToken is retried too (the source
 * may have new keys by then).
 * When conf->credentials has none to give before an attempt, the PUT
 * stops there with code "CredentialsUnavailable" (http_status 0): the
 * caller decides whether to wait, without holding its thread meanwhile.
 * Thread-safe; curl_global_init() must have been called.
 */
int pdf_report_s3_put(const pdf_report_s3_conf_t *conf, const char *key,
    const unsigned char *data, size_t len, const char *sha256_hex,
    int64_t deadline_ms, pdf_report_s3_between_pt between, void *bdata,
    pdf_report_s3_result_t *res);

/* a connection kept between DELETEs (a curl handle) */
typedef struct pdf_report_s3_conn_s  pdf_report_s3_conn_t;

/*
 * DELETE key, one attempt, SigV4-signed (host, x-amz-content-sha256 of
 * the empty payload, x-amz-date, and the session token when there is
 * one), its timeouts ending at deadline_ms.  Returns 0 when the object
 * is gone: a 2xx, or a 404 (S3's 404 counts as deleted); -1 otherwise
 * with res filled, res->retry set for network errors, 5xx, SlowDown and
 * credentials that conf->credentials cannot give now
 * ("CredentialsUnavailable", no request made).
 * *conn is NULL at first and keeps the connection open for the next
 * call (a batch of deletes); pdf_report_s3_conn_free() closes it.
 * Thread-safe as pdf_report_s3_put is.
 */
int pdf_report_s3_delete(const pdf_report_s3_conf_t *conf, const char *key,
    int64_t deadline_ms, pdf_report_s3_conn_t **conn,
    pdf_report_s3_result_t *res);
void pdf_report_s3_conn_free(pdf_report_s3_conn_t *conn);

/*
 * Parse an AWS shared-credentials INI text for profile ("default" when
 * NULL): aws_access_key_id, aws_secret_access_key, optional
 * aws_session_token.  Outputs are NUL-terminated (token "" when absent).
 * Returns 0, or -1 with a message in err that never quotes a secret.
 */
int pdf_report_aws_credentials_parse(const char *text, size_t len,
    const char *profile, char *access_key, size_t access_size,
    char *secret_key, size_t secret_size, char *token, size_t token_size,
    char *err, size_t err_size);


#endif /* _PDF_REPORT_S3_H_INCLUDED_ */
