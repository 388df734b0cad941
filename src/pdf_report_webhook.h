
/*
 * Webhooks as the Standard Webhooks specification has them (contract
 * section 10): the secret's decoding, the signature, the SSRF guard on
 * every address a delivery would connect to, and one delivery, a POST
 * with libcurl.  No nginx dependency: deliveries run in pool threads.
 */


#ifndef _PDF_REPORT_WEBHOOK_H_INCLUDED_
#define _PDF_REPORT_WEBHOOK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>


/* "whsec_" and the base64 of 24 to 64 bytes */
#define PDF_REPORT_WEBHOOK_KEY_MIN     24
#define PDF_REPORT_WEBHOOK_KEY_MAX     64

/* "v1," and the base64 of an HMAC-SHA256 */
#define PDF_REPORT_WEBHOOK_SIG_LEN     (3 + 44)

/* one delivery's time, the whole of it (the specification's 15 s) */
#define PDF_REPORT_WEBHOOK_TIMEOUT_MS  15000

#define PDF_REPORT_WEBHOOK_HOST_MAX    253


/* an allowed destination: a network (CIDR) or a host name as written */
typedef struct {
    int            family;       /* AF_INET, AF_INET6; 0: a host name */
    unsigned char  addr[16];
    unsigned char  mask[16];
    char           host[PDF_REPORT_WEBHOOK_HOST_MAX + 1];
} pdf_report_webhook_allow_t;


typedef struct {
    const pdf_report_webhook_allow_t  *allow;
    size_t                             nallow;
    const char                        *ca_file;   /* NULL: the system's */
    long                               timeout_ms;
    int                              (*cancelled)(void);
} pdf_report_webhook_conf_t;


typedef struct {
    const char           *url;
    const unsigned char  *key;          /* the secret, decoded */
    size_t                key_len;
    const char           *id;           /* webhook-id */
    int64_t               timestamp;    /* webhook-timestamp, seconds */
    const char           *body;
    size_t                len;
} pdf_report_webhook_msg_t;


typedef struct {
    long          status;         /* the HTTP status; 0: no answer */
    unsigned      refused;        /* the SSRF guard refused an address */
    /* why it failed, for a log line: never the URL's user or query part,
     * never the secret or the signature */
    char          error[256];
} pdf_report_webhook_result_t;


/*
 * The secret "whsec_<base64>" decoded into key (PDF_REPORT_WEBHOOK_KEY_MAX
 * bytes); 0, or -1 when it is not one (24 to 64 bytes).
 */
int pdf_report_webhook_secret(const char *secret, size_t len,
    unsigned char *key, size_t *key_len);

/*
 * "v1,<base64 HMAC-SHA256 of id.timestamp.body>" into dst, NUL-terminated
 * (PDF_REPORT_WEBHOOK_SIG_LEN + 1 bytes); 0, or -1.
 */
int pdf_report_webhook_sign(char *dst, const unsigned char *key,
    size_t key_len, const char *id, int64_t timestamp, const char *body,
    size_t len);

/*
 * "<host>" or "<address>[/<bits>]" of pdf_report_webhook_allow; 0, or -1
 * with err set.
 */
int pdf_report_webhook_allow_parse(pdf_report_webhook_allow_t *a,
    const char *text, size_t len, char *err, size_t errlen);

/*
 * May a delivery to host connect to sa?  Loopback, private, link-local,
 * unspecified (and the like: shared, multicast, reserved) addresses only
 * when an allow entry holds the address or names the host.
 */
int pdf_report_webhook_addr_ok(const pdf_report_webhook_conf_t *conf,
    const char *host, const struct sockaddr *sa);

/* one delivery under way: for curl's easy or multi interface */
typedef struct {
    void                        *curl;          /* CURL * */
    void                        *headers;       /* struct curl_slist * */
    const pdf_report_webhook_conf_t  *conf;
    char                         host[PDF_REPORT_WEBHOOK_HOST_MAX + 3];
    unsigned                     refused;
    char                         url[128];      /* as logs may show it */
    char                         errbuf[256];   /* CURL_ERROR_SIZE */
} pdf_report_webhook_req_t;

/*
 * Sets up the POST of msg (signed now) in req->curl; msg's strings and
 * conf must outlive the request.  0, or -1 with res set (nothing to
 * finish).
 */
int pdf_report_webhook_start(pdf_report_webhook_req_t *req,
    const pdf_report_webhook_conf_t *conf,
    const pdf_report_webhook_msg_t *msg, pdf_report_webhook_result_t *res);

/*
 * Once curl is done with it (cc: its CURLcode), what came of it, and the
 * request freed: 0 when it got a 2xx, -1 otherwise (res says what).
 * Redirects are not followed: a 3xx is a failure.
 */
int pdf_report_webhook_finish(pdf_report_webhook_req_t *req, int cc,
    pdf_report_webhook_result_t *res);

/* start, curl_easy_perform() and finish */
int pdf_report_webhook_post(const pdf_report_webhook_conf_t *conf,
    const pdf_report_webhook_msg_t *msg, pdf_report_webhook_result_t *res);


/* ---- pdf_report_webhooks <file.jsonl>: one org a line ---- */

#define PDF_REPORT_WEBHOOK_URL_MAX     2048

typedef struct {
    char           *org;
    char           *url;
    unsigned char   key[PDF_REPORT_WEBHOOK_KEY_MAX];
    size_t          key_len;
} pdf_report_webhook_t;

typedef struct {
    pdf_report_webhook_t  *hooks;       /* sorted by org */
    size_t                 n;
} pdf_report_webhooks_t;


/*
 * Reads the file: every line {"org_id", "url", "secret"} (blank lines
 * skipped), an http or https URL, a whsec_ secret, each org once.  0, or
 * -1 with err naming the line and never the secret.  Free with
 * pdf_report_webhooks_free().
 */
int pdf_report_webhooks_load(const char *file, pdf_report_webhooks_t *hooks,
    char *err, size_t errlen);

void pdf_report_webhooks_free(pdf_report_webhooks_t *hooks);

/* the org's webhook, or NULL */
const pdf_report_webhook_t *pdf_report_webhooks_find(
    const pdf_report_webhooks_t *hooks, const char *org);


#endif /* _PDF_REPORT_WEBHOOK_H_INCLUDED_ */
