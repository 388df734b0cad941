
/*
 * AWS credentials that rotate, without nginx: the shared-credentials
 * file read again, the EC2 instance metadata service (IMDSv2) and the
 * container credentials endpoint (ECS, EKS Pod Identity) asked with
 * libcurl, and what can be checked without a network: the credentials
 * document and its Expiration, the endpoints' URL rules, when to fetch
 * again.  Everything here runs in nginx pool threads and in unit tests;
 * no message ever quotes a secret, a session token or an IMDS token.
 */


#ifndef _PDF_REPORT_CREDS_H_INCLUDED_
#define _PDF_REPORT_CREDS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/stat.h>

#include "pdf_report_s3.h"


#define PDF_REPORT_CREDS_URL_MAX        1024
#define PDF_REPORT_CREDS_AUTH_MAX       4096
#define PDF_REPORT_CREDS_ERR_MAX        256
#define PDF_REPORT_IMDS_TOKEN_MAX       256
#define PDF_REPORT_IMDS_ROLE_MAX        128

/* the IMDS token's life asked for, in seconds (AWS's own maximum) */
#define PDF_REPORT_IMDS_TOKEN_TTL       21600

/* well before Expiration: this long before, when the life allows it */
#define PDF_REPORT_CREDS_MARGIN         300

/* after a failed fetch: 1 s, doubling up to this */
#define PDF_REPORT_CREDS_RETRY_CAP      10

#define PDF_REPORT_IMDS_ENDPOINT        "http://169.254.169.254"
#define PDF_REPORT_IMDS_ENDPOINT_IPV6   "http://[fd00:ec2::254]"
#define PDF_REPORT_ECS_HOST             "http://169.254.170.2"


/* an IMDSv2 session token, kept between fetches */
typedef struct {
    char            value[PDF_REPORT_IMDS_TOKEN_MAX];   /* "": none */
    time_t          expires;
} pdf_report_imds_token_t;


/* what a file was when it was read: a change shows in one of these */
typedef struct {
    uint64_t        dev;
    uint64_t        ino;
    int64_t         size;
    int64_t         mtime_ns;
    int64_t         ctime_ns;
} pdf_report_creds_file_id_t;


/* one fetch: its settings, and what it found besides the credentials */
typedef struct {
    int           (*cancelled)(void);   /* polled during transfers */
    long            timeout_ms;         /* each request; 0: 2 s */

    char            role[PDF_REPORT_IMDS_ROLE_MAX];     /* IMDS */
    unsigned        token_refused:1;    /* IMDS answered 401: renewed */
    unsigned        token_new:1;        /* a token was taken */
    int             http_status;        /* the last answer, 0: none */
    char            err[PDF_REPORT_CREDS_ERR_MAX];
} pdf_report_creds_fetch_t;


/*
 * The role's credentials from IMDSv2 at endpoint (no trailing '/'):
 * PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds) unless
 * token holds one with more than a minute left, then GET
 * /latest/meta-data/iam/security-credentials/ (the role's name) and
 * .../<role> with X-aws-ec2-metadata-token.  A 401 means the token
 * expired or was revoked: a new one is taken and the request made again,
 * once.  token is updated in place.  0, or -1 with f->err.
 */
int pdf_report_creds_imds(const char *endpoint, pdf_report_imds_token_t *token,
    pdf_report_creds_fetch_t *f, pdf_report_s3_creds_t *out);

/*
 * The container's credentials: GET url, with "Authorization: <auth>"
 * when auth is not NULL.  0, or -1 with f->err.
 */
int pdf_report_creds_container(const char *url, const char *auth,
    pdf_report_creds_fetch_t *f, pdf_report_s3_creds_t *out);

/*
 * The JSON both endpoints answer: AccessKeyId, SecretAccessKey, Token
 * and Expiration (ISO 8601), and IMDS's "Code": "Success".  0, or -1
 * with a message in err that names the field, never its value.
 */
int pdf_report_creds_parse(const char *text, size_t len,
    pdf_report_s3_creds_t *out, char *err, size_t err_size);

/*
 * "2026-12-03T18:00:00Z", with optional fractions of a second and an
 * offset ("+01:00", "-0500") instead of 'Z'.  0 with *t, or -1.
 */
int pdf_report_creds_time(const char *s, size_t len, time_t *t);

/*
 * The container endpoint's URL from the environment's values (NULL when
 * unset), as the AWS SDKs take it: a relative URI (which wins) is joined
 * to http://169.254.170.2; a full URI must be https, or http to a
 * loopback address, 169.254.170.2, 169.254.170.23 or [fd00:ec2::23].
 * 0 with url, or -1 with err.
 */
int pdf_report_creds_container_url(const char *full, const char *relative,
    char *url, size_t size, char *err, size_t err_size);

/*
 * The IMDS endpoint: endpoint when set (AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * http or https, its trailing '/' dropped), else the IPv6 one when mode
 * (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE) is "IPv6", else the IPv4 one.
 * 0 with out, or -1 with err.
 */
int pdf_report_creds_imds_endpoint(const char *endpoint, const char *mode,
    char *out, size_t size, char *err, size_t err_size);

/*
 * The value of an Authorization header from a token or the file that
 * holds it (read whole, trailing white space dropped).  A value with a
 * control character is refused: it would end the header.  0, or -1.
 */
int pdf_report_creds_auth_check(const char *value, char *err,
    size_t err_size);
int pdf_report_creds_auth_file(const char *path, char *out, size_t size,
    char *err, size_t err_size);

/*
 * The shared-credentials file read again: its text parsed for profile,
 * *id filled from the open file (fstat), the text wiped.  0, or -1 with
 * err (id is filled whenever the file could be opened; a file that
 * cannot be opened gives an id of zeros).
 */
int pdf_report_creds_file(const char *path, const char *profile,
    pdf_report_s3_creds_t *out, pdf_report_creds_file_id_t *id, char *err,
    size_t err_size);

/* what identifies the file that st describes */
void pdf_report_creds_file_id(const struct stat *st,
    pdf_report_creds_file_id_t *id);

/*
 * When to fetch credentials of this expiration again, fetched at now:
 * PDF_REPORT_CREDS_MARGIN before they expire when more than twice that
 * is left, else halfway through what is left (at least a second later),
 * so that credentials a source keeps giving with the same short life are
 * asked for less and less often, never in a loop.  0 for none.
 */
time_t pdf_report_creds_refresh_at(time_t now, time_t expiration);

/* seconds to wait after the n-th failure in a row (n >= 1) */
time_t pdf_report_creds_backoff(unsigned n);


#endif /* _PDF_REPORT_CREDS_H_INCLUDED_ */
