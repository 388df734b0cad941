
/*
 * An HTTP(S) GET into memory with libcurl, for the documents the module
 * fetches itself (the JWKS of "pdf_report_jwt_keys <url>"): TLS always
 * verified (peer and host name), against the system's CA store or a CA
 * file of the operator's; http and https only, no redirects, a bounded
 * body and time.  No nginx dependency: it runs in a pool thread.
 */


#ifndef _PDF_REPORT_FETCH_H_INCLUDED_
#define _PDF_REPORT_FETCH_H_INCLUDED_


#include <stddef.h>


typedef struct {
    const char  *url;
    const char  *ca_file;       /* NULL: libcurl's default, the system's */
    size_t       max_size;      /* a longer body fails the fetch */
    long         connect_ms;
    long         timeout_ms;    /* the whole transfer */
    int        (*cancelled)(void);  /* polled; non-zero stops the fetch */
} pdf_report_fetch_conf_t;


typedef struct {
    long         status;        /* the HTTP status; 0: no answer */
    char        *body;          /* malloc()ed, NUL-terminated; or NULL */
    size_t       len;
    /* why it failed, for a log line: never the URL's user or query part */
    char         error[256];
} pdf_report_fetch_result_t;


/*
 * GET conf->url.  0 when a 200 arrived whole within the limits (res->body
 * then holds it: free() it); -1 otherwise, with res->error set and no
 * body.
 */
int pdf_report_fetch(const pdf_report_fetch_conf_t *conf,
    pdf_report_fetch_result_t *res);

/*
 * The URL as a log line may show it: scheme, host, port and path, without
 * a user part, query or fragment (where a secret could be), printable
 * ASCII only.  Returns dst (cut to fit size, which must be at least 8).
 */
char *pdf_report_fetch_log_url(char *dst, size_t size, const char *url);


#endif /* _PDF_REPORT_FETCH_H_INCLUDED_ */
