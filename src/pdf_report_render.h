
/*
 * The report document (template v2, ../shared/spec/report-v2.md) rendered
 * with libharu into memory.  No nginx dependency: runs in pool threads,
 * in the command-line renderer and in unit tests.
 */


#ifndef _PDF_REPORT_RENDER_H_INCLUDED_
#define _PDF_REPORT_RENDER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <jansson.h>


#define PDF_REPORT_TEMPLATE_VERSION  "v2"


typedef struct {
    const char  *font_regular;   /* TrueType file paths */
    const char  *font_bold;
    int          whole_fonts;    /* 1: embed as libharu does, every table
                                    whole and a width for every character
                                    (about 90 KB a face): only to measure
                                    what the subsetting saves */
} pdf_report_render_conf_t;


typedef struct {
    const json_t  *user;         /* one user-directory record (object) */
    const char    *org_id;       /* the job's org: picks the connection */
    const char    *job_id;
    int64_t        generated_ms; /* shown, and the document dates */
} pdf_report_render_input_t;


/* a font file could not be opened or used: the configuration is wrong */
#define PDF_REPORT_RENDER_FONT  -2


/*
 * Render the report.  On success returns 0 and *pdf (free() it) holds
 * *len bytes; the same input gives the same bytes.  On failure returns
 * -1, or PDF_REPORT_RENDER_FONT when a font was at fault, with a
 * one-line reason in err.  Thread-safe: no global state.
 */
int pdf_report_render(const pdf_report_render_conf_t *conf,
    const pdf_report_render_input_t *in, unsigned char **pdf, size_t *len,
    char *err, size_t err_size);


#endif /* _PDF_REPORT_RENDER_H_INCLUDED_ */
