
/*
 * What the worker processes will need, checked in the master as their
 * user.  The master runs as root and reaches everything, so "nginx -t"
 * and a reload used to pass with a store or fonts under a directory only
 * root may enter; the new workers then could not open the store (a
 * reload left the edge without workers) or render a report.  A child
 * process takes the workers' user and group, as a worker does, and tries
 * each path; the master names the user and what blocks it, and refuses
 * the configuration while the old workers keep serving.
 */


#include "ngx_http_pdf_report_module.h"

#include <grp.h>
#include <sys/wait.h>


typedef enum {
    NGX_HTTP_PDF_REPORT_ACCESS_OK = 0,
    NGX_HTTP_PDF_REPORT_ACCESS_USER,       /* cannot become the user */
    NGX_HTTP_PDF_REPORT_ACCESS_STORE,
    NGX_HTTP_PDF_REPORT_ACCESS_FONT
} ngx_http_pdf_report_access_e;


typedef struct {
    int                       what;
    int                       err;
    char                      path[NGX_MAX_PATH];   /* what was checked */
    char                      block[NGX_MAX_PATH];  /* what stops it */
} ngx_http_pdf_report_access_t;


static void ngx_http_pdf_report_access_child(ngx_core_conf_t *ccf,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_access_t *a);
static int ngx_http_pdf_report_access_path(const char *path, int mode,
    ngx_http_pdf_report_access_t *a);
static ngx_int_t ngx_http_pdf_report_access_read(ngx_fd_t fd,
    ngx_http_pdf_report_access_t *a);


ngx_int_t
ngx_http_pdf_report_preflight(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    int                            fds[2], status;
    pid_t                          pid;
    const char                    *what;
    ngx_int_t                      rc;
    ngx_core_conf_t               *ccf;
    ngx_http_pdf_report_access_t   a;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* workers of another user only when the master is root */
    if (geteuid() != 0 || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT
        || ccf->user == 0)
    {
        return NGX_OK;
    }

    if (pipe(fds) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "pdf_report: pipe() failed");
        return NGX_ERROR;
    }

    pid = fork();

    if (pid == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "pdf_report: fork() failed");
        (void) close(fds[0]);
        (void) close(fds[1]);
        return NGX_ERROR;
    }

    if (pid == 0) {
        (void) close(fds[0]);

        ngx_memzero(&a, sizeof(ngx_http_pdf_report_access_t));
        ngx_http_pdf_report_access_child(ccf, pmcf, &a);

        /* a short write is seen by the master as an unfinished check */
        (void) ngx_write_fd(fds[1], &a, sizeof(ngx_http_pdf_report_access_t));
        _exit(0);
    }

    (void) close(fds[1]);

    rc = ngx_http_pdf_report_access_read(fds[0], &a);

    (void) close(fds[0]);

    while (waitpid(pid, &status, 0) == -1) {
        if (ngx_errno != NGX_EINTR) {
            break;
        }
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: the check of the store and fonts as "
                      "the workers' user \"%s\" did not finish",
                      ccf->username);
        return NGX_ERROR;
    }

    if (a.what == NGX_HTTP_PDF_REPORT_ACCESS_OK) {
        return NGX_OK;
    }

    if (a.what == NGX_HTTP_PDF_REPORT_ACCESS_USER) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, a.err,
                      "pdf_report: cannot take the workers' user \"%s\" "
                      "to check the store and fonts: %s failed",
                      ccf->username, a.block);
        return NGX_ERROR;
    }

    what = (a.what == NGX_HTTP_PDF_REPORT_ACCESS_STORE)
           ? "use the store" : "read the report font";

    if (ngx_strcmp(a.block, a.path) != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, a.err,
                      "pdf_report: the workers' user \"%s\" cannot %s "
                      "\"%s\": it cannot search the directory \"%s\"",
                      ccf->username, what, a.path, a.block);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, a.err,
                      "pdf_report: the workers' user \"%s\" cannot %s "
                      "\"%s\"", ccf->username, what, a.path);
    }

    return NGX_ERROR;
}


/* in the child: the workers' identity, as ngx_worker_process_init() */

static void
ngx_http_pdf_report_access_child(ngx_core_conf_t *ccf,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_http_pdf_report_access_t *a)
{
    ngx_uint_t   i;
    const char  *fonts[2], *files[2] = { "data.mdb", "lock.mdb" };

    if (setgid(ccf->group) == -1) {
        a->what = NGX_HTTP_PDF_REPORT_ACCESS_USER;
        a->err = errno;
        ngx_cpystrn((u_char *) a->block, (u_char *) "setgid()", NGX_MAX_PATH);
        return;
    }

    if (initgroups(ccf->username, ccf->group) == -1) {
        a->what = NGX_HTTP_PDF_REPORT_ACCESS_USER;
        a->err = errno;
        ngx_cpystrn((u_char *) a->block, (u_char *) "initgroups()",
                    NGX_MAX_PATH);
        return;
    }

    if (setuid(ccf->user) == -1) {
        a->what = NGX_HTTP_PDF_REPORT_ACCESS_USER;
        a->err = errno;
        ngx_cpystrn((u_char *) a->block, (u_char *) "setuid()", NGX_MAX_PATH);
        return;
    }

    a->what = NGX_HTTP_PDF_REPORT_ACCESS_STORE;

    /* a PostgreSQL store has no files here: the fonts only */
    if (pmcf->store_dir.data != NULL
        && ngx_http_pdf_report_access_path((char *) pmcf->store_dir.data,
                                           R_OK|W_OK|X_OK, a)
           != 0)
    {
        return;
    }

    /* the environment's files, which the master created */
    for (i = 0; pmcf->store_dir.data != NULL && i < 2; i++) {
        if (ngx_snprintf((u_char *) a->block, NGX_MAX_PATH, "%V/%s%Z",
                         &pmcf->store_dir, files[i])
            == (u_char *) a->block + NGX_MAX_PATH)
        {
            a->err = ENAMETOOLONG;
            return;
        }

        if (access(a->block, R_OK|W_OK) != 0) {
            a->err = errno;
            ngx_cpystrn((u_char *) a->path, (u_char *) a->block,
                        NGX_MAX_PATH);
            return;
        }
    }

    a->what = NGX_HTTP_PDF_REPORT_ACCESS_FONT;

    fonts[0] = pmcf->render.font_regular;
    fonts[1] = pmcf->render.font_bold;

    for (i = 0; i < 2; i++) {
        if (ngx_http_pdf_report_access_path(fonts[i], R_OK, a) != 0) {
            return;
        }
    }

    a->what = NGX_HTTP_PDF_REPORT_ACCESS_OK;
}


/*
 * Every directory on the way must let the user search it, and the path
 * itself give the access asked for; the first that does not is named.
 */

static int
ngx_http_pdf_report_access_path(const char *path, int mode,
    ngx_http_pdf_report_access_t *a)
{
    char  *p;

    ngx_cpystrn((u_char *) a->path, (u_char *) path, NGX_MAX_PATH);
    ngx_cpystrn((u_char *) a->block, (u_char *) path, NGX_MAX_PATH);

    for (p = a->block + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';

        if (access(a->block, X_OK) != 0) {
            a->err = errno;
            return -1;
        }

        *p = '/';
    }

    if (access(a->block, mode) != 0) {
        a->err = errno;
        return -1;
    }

    return 0;
}


static ngx_int_t
ngx_http_pdf_report_access_read(ngx_fd_t fd, ngx_http_pdf_report_access_t *a)
{
    size_t    got;
    ssize_t   n;

    got = 0;

    while (got < sizeof(ngx_http_pdf_report_access_t)) {
        n = ngx_read_fd(fd, (u_char *) a + got,
                        sizeof(ngx_http_pdf_report_access_t) - got);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            return NGX_ERROR;
        }

        got += n;
    }

    return NGX_OK;
}
