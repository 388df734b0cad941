
/*
 * The store's reads for steps 1 to 3: the user's access entry, a job,
 * or a job and then its user's access (step 3 re-checks consent).
 * LMDB reads on the event loop (a read transaction never waits for a
 * writer) and answers at once.
 */


#include "ngx_http_pdf_report_module.h"


ngx_int_t
ngx_http_pdf_report_read(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd)
{
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pdf_report_module);

    ngx_http_pdf_report_read_run(&pmcf->db, rd);

    return rd->done(r, rd);
}


/* the read itself: it touches the store only */

void
ngx_http_pdf_report_read_run(pdf_report_db_t *db,
    ngx_http_pdf_report_read_t *rd)
{
    const char  *user;
    size_t       len;

    rd->access_rc = PDF_REPORT_STORE_NOT_FOUND;
    rd->stem_len = 0;

    if (rd->what == NGX_HTTP_PDF_REPORT_READ_ACCESS) {
        rd->rc = db->ops->user_access(db->db, rd->org, rd->user,
                                      rd->user_len, rd->stem, &rd->stem_len);
        return;
    }

    rd->rc = db->ops->job_get(db->db, rd->id, &rd->job);

    /* another org's job is not looked into further */
    if (rd->what != NGX_HTTP_PDF_REPORT_READ_JOB_ACCESS || rd->rc != 0
        || ngx_strcmp(rd->job.org, rd->org) != 0)
    {
        return;
    }

    user = rd->job.user;
    len = ngx_strlen(user);

    rd->access_rc = db->ops->user_access(db->db, rd->org, user, len,
                                         rd->stem, &rd->stem_len);
}
