
/*
 * ngx_http_pdf_report_module: the SQR PDF Report API inside nginx.
 * Configuration structures and what the module's files share.
 */


#ifndef _NGX_HTTP_PDF_REPORT_MODULE_H_INCLUDED_
#define _NGX_HTTP_PDF_REPORT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "pdf_report_util.h"
#include "pdf_report_jwt.h"
#include "pdf_report_jwt_cache.h"
#include "pdf_report_s3.h"
#include "pdf_report_store.h"
#include "pdf_report_backend.h"
#include "pdf_report_pg.h"
#include "pdf_report_users.h"
#include "pdf_report_render.h"


#define NGX_HTTP_PDF_REPORT_VERSION      "0.1.0"

/* the first poll interval, in the 202 and while a job is running */
#define NGX_HTTP_PDF_REPORT_RETRY_AFTER  3


/* a thread pool as a directive names it, kept for the log lines */
typedef struct {
    ngx_str_t                 name;
    ngx_thread_pool_t        *pool;
} ngx_http_pdf_report_pool_t;


typedef struct ngx_http_pdf_report_metrics_s  ngx_http_pdf_report_metrics_t;
typedef struct ngx_http_pdf_report_creds_s    ngx_http_pdf_report_creds_t;
typedef struct ngx_http_pdf_report_jwks_shm_s  ngx_http_pdf_report_jwks_shm_t;


typedef struct {
    ngx_str_t                 store_dir;
    size_t                    store_size;
    ngx_str_t                 pg_uri;          /* postgresql://... */
    ngx_uint_t                pg_pool;         /* connections a worker */
    ngx_flag_t                users_off;       /* the table is SQR's */
    ngx_uint_t                pg_set_up;       /* by the master, at start */
    ngx_str_t                 users_file;
    ngx_str_t                 jwt_keys_file;   /* a file, or the URL */
    char                     *jwks_url;        /* NULL: a file */
    char                     *jwks_ca;         /* NULL: the system's CAs */
    char                     *jwks_log_url;    /* as the log shows it */
    ngx_msec_t                jwks_refresh;
    ngx_str_t                 jwt_issuer;
    ngx_str_t                 jwt_audience;
    ngx_str_t                 jwt_org_claim;
    time_t                    jwt_leeway;
    ngx_uint_t                jwt_cache_slots; /* 0 when off */
    ngx_str_t                 create_scope;    /* "" when off */
    ngx_str_t                 read_scope;
    ngx_uint_t                rate_limit;      /* 0 when off */
    ngx_msec_t                rate_period;
    ngx_msec_t                job_timeout;
    ngx_msec_t                job_lease;
    ngx_msec_t                scan_interval;
    ngx_uint_t                worker_jobs;
    time_t                    url_ttl;
    ngx_str_t                 s3_endpoint;
    ngx_str_t                 s3_region;
    ngx_str_t                 s3_bucket;
    ngx_str_t                 s3_prefix;
    ngx_flag_t                s3_path_style;
    ngx_http_pdf_report_creds_t  *creds;       /* S3 keys: where from */
    ngx_str_t                 font_regular;
    ngx_str_t                 font_bold;

    /* lifecycle (contract section 7) */
    time_t                    retention;       /* seconds, 0 when off */
    time_t                    idem_ttl;        /* Idempotency-Key, s */
    ngx_flag_t                erase_on_revoke;

    /* webhooks (contract section 10) */
    ngx_str_t                 webhooks_file;
    ngx_str_t                 webhooks_ca;     /* ca=, or none */
    ngx_uint_t                webhooks_off;
    ngx_array_t              *webhook_allow;   /* pdf_report_webhook_allow_t */
    ngx_array_t              *webhook_schedule;    /* ngx_msec_t */
    ngx_http_pdf_report_pool_t  webhook_pool;
    pdf_report_webhooks_t    *webhooks;        /* NULL: none */
    pdf_report_webhook_conf_t  webhook_conf;

    /* set while parsing */
    ngx_uint_t                enabled;         /* a pdf_report_api exists */
    ngx_str_t                 api_file;        /* where the first one is */
    ngx_uint_t                api_line;
    ngx_array_t               api_locations;   /* body limit takeover */
    ngx_http_pdf_report_pool_t  render_pool;
    ngx_http_pdf_report_pool_t  store_pool;    /* store writes */
    /* a file's; with a URL, the set this worker parsed, NULL until one */
    pdf_report_jwks_t        *jwks;
    ngx_uint_t                jwks_gen;        /* the zone's, of jwks */
    ngx_http_pdf_report_jwks_shm_t  *jwks_shm; /* with a URL */
    ngx_slab_pool_t          *jwks_shpool;
    ngx_cycle_t              *cycle;           /* the one being configured */
    ngx_uint_t                metrics_used;    /* a pdf_report_metrics */
    ngx_http_pdf_report_metrics_t  *metrics;   /* in the shared zone */
    pdf_report_s3_conf_t      s3;              /* C strings from above;
                                                  keys from creds */
    pdf_report_render_conf_t  render;

    /* per worker process */
    pdf_report_store_t       *store;           /* LMDB's, when it is */
    pdf_report_pg_t          *pg;              /* PostgreSQL's */
    pdf_report_db_t           db;              /* what the rest uses */
    ngx_uint_t                store_ready;     /* a remote one: set up */
    pdf_report_jwt_cache_t   *jwt_cache;
    ngx_event_t               scan_event;
    ngx_uint_t                in_flight;
    ngx_log_t                *log;
} ngx_http_pdf_report_main_conf_t;


typedef struct {
    ngx_flag_t                api;
    ngx_str_t                 base;            /* the location's prefix */
    off_t                     max_body;        /* client_max_body_size */
} ngx_http_pdf_report_loc_conf_t;


typedef struct ngx_http_pdf_report_commit_s  ngx_http_pdf_report_commit_t;

/* after the commit, on the event loop: what finalizes the request */
typedef ngx_int_t (*ngx_http_pdf_report_commit_pt)(ngx_http_request_t *r,
    ngx_http_pdf_report_commit_t *c);

/* one store write waiting for a group commit */
struct ngx_http_pdf_report_commit_s {
    pdf_report_op_t                 op;
    ngx_queue_t                     queue;
    ngx_http_request_t             *request;   /* NULL: nobody waits */
    ngx_http_pdf_report_commit_pt   handler;
};


typedef struct ngx_http_pdf_report_read_s  ngx_http_pdf_report_read_t;

/* after a read, on the event loop: what answers the request */
typedef ngx_int_t (*ngx_http_pdf_report_read_pt)(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd);

/* the same values as PDF_REPORT_PG_READ_* (pdf_report_pg_async.h) */
#define NGX_HTTP_PDF_REPORT_READ_ACCESS      1   /* (org, user) */
#define NGX_HTTP_PDF_REPORT_READ_JOB         2   /* id */
#define NGX_HTTP_PDF_REPORT_READ_JOB_ACCESS  3   /* id, then its user */

/*
 * A request's read of the store (ngx_http_pdf_report_read.c): the
 * handlers say what they need and what answers once it is there, and do
 * not know which backend reads it.
 */
struct ngx_http_pdf_report_read_s {
    ngx_uint_t                    what;
    const char                   *org;         /* the caller's org */
    char                          user[PDF_REPORT_USER_ID_MAX + 1];
    size_t                        user_len;
    char                          id[PDF_REPORT_UUID_LEN + 1];
    ngx_http_pdf_report_read_pt   done;

    int                           rc;          /* the job's or the user's */
    int                           access_rc;   /* JOB_ACCESS: the user's */
    pdf_report_job_t              job;
    char                          stem[PDF_REPORT_FILENAME_MAX];
    size_t                        stem_len;
};


typedef struct ngx_http_pdf_report_idem_s  ngx_http_pdf_report_idem_t;

/* what a step-1 request's Idempotency-Key lookup found */
#define NGX_HTTP_PDF_REPORT_IDEM_NEW      0    /* go on: remembered */
#define NGX_HTTP_PDF_REPORT_IDEM_REPLAY   1    /* the first answer */
#define NGX_HTTP_PDF_REPORT_IDEM_REUSED   2    /* 422 */
#define NGX_HTTP_PDF_REPORT_IDEM_IN_USE   3    /* 409 */
#define NGX_HTTP_PDF_REPORT_IDEM_FAILED   4    /* the store's rc */

typedef ngx_int_t (*ngx_http_pdf_report_idem_pt)(ngx_http_request_t *r);

/* a step-1 request's Idempotency-Key (ngx_http_pdf_report_idempotency.c) */
struct ngx_http_pdf_report_idem_s {
    pdf_report_idem_op_t          op;        /* the store's part */
    ngx_uint_t                    outcome;   /* NGX_HTTP_..._IDEM_* */
    int                           rc;        /* FAILED: the store's */
    unsigned                      looked:1;  /* the lookup is done */
    unsigned                      armed:1;   /* answers are remembered */
    unsigned                      held:1;    /* in the in-flight tree */
    ngx_str_node_t                node;      /* str: org "\0" key */
    ngx_http_request_t           *request;
    ngx_http_pdf_report_idem_pt   resume;
    pdf_report_db_t               db;
    const char                   *org;
};


typedef struct {
    ngx_str_t                 org;             /* $pdf_report_org */
    ngx_str_t                 job_id;          /* $pdf_report_job_id */
    ngx_str_t                 user_id;         /* $pdf_report_user_id */
    ngx_str_t                 error;           /* $pdf_report_error */
    ngx_uint_t                endpoint;        /* 1 + which, 0: none */
    off_t                     body_seen;       /* chunked body so far */
    ngx_str_t                 error_body;      /* replaces an error page */
    pdf_report_rate_t         rate;
    ngx_uint_t                refuse_status;   /* answered after the hit */
    const char               *refuse_code;
    const char               *refuse_message;
    unsigned                  counted:1;       /* the rate-limit hit */
    unsigned                  body_too_large:1;
    unsigned                  own_response:1;  /* written by the module */
    unsigned                  replace_body:1;
    pdf_report_jwt_claims_t   claims;
    ngx_http_pdf_report_read_t  read;
    ngx_http_pdf_report_idem_t  *idem;         /* Idempotency-Key, or NULL */
} ngx_http_pdf_report_ctx_t;


extern ngx_module_t  ngx_http_pdf_report_module;


/* ngx_http_pdf_report_handler.c */
ngx_int_t ngx_http_pdf_report_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_pdf_report_body_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_pdf_report_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);
ngx_int_t ngx_http_pdf_report_add_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);

/* ngx_http_pdf_report_module.c */
void ngx_http_pdf_report_users_loaded(ngx_log_t *log, ngx_str_t *file,
    pdf_report_users_load_t *load);

/* ngx_http_pdf_report_remote.c */
ngx_int_t ngx_http_pdf_report_remote_init_master(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
ngx_int_t ngx_http_pdf_report_remote_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_remote_exit(ngx_http_pdf_report_main_conf_t *pmcf);

/* ngx_http_pdf_report_listen.c */
void ngx_http_pdf_report_listen_init(ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_listen_exit(void);

/* ngx_http_pdf_report_pgread.c */
void ngx_http_pdf_report_pgread_init(ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_pgread_exit(void);
const char *ngx_http_pdf_report_pgread_hostaddr(void);
ngx_int_t ngx_http_pdf_report_pgread_read(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd);

/* ngx_http_pdf_report_read.c */
ngx_int_t ngx_http_pdf_report_read(ngx_http_request_t *r,
    ngx_http_pdf_report_read_t *rd);
void ngx_http_pdf_report_read_run(pdf_report_db_t *db,
    ngx_http_pdf_report_read_t *rd);

/* ngx_http_pdf_report_auth.c */
ngx_int_t ngx_http_pdf_report_authenticate(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_str_t *scope);

/* ngx_http_pdf_report_jwks.c */
ngx_int_t ngx_http_pdf_report_jwks_add_zone(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf);
ngx_int_t ngx_http_pdf_report_jwks_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_jwks_exit_worker(
    ngx_http_pdf_report_main_conf_t *pmcf);
pdf_report_jwks_t *ngx_http_pdf_report_jwks_current(
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_log_t *log,
    time_t *retry_after);
void ngx_http_pdf_report_jwks_unknown_kid(
    ngx_http_pdf_report_main_conf_t *pmcf);

/* ngx_http_pdf_report_jobs.c */
ngx_int_t ngx_http_pdf_report_jobs_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_jobs_kick(ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_jobs_run(ngx_http_pdf_report_main_conf_t *pmcf,
    pdf_report_job_t *claims, ngx_uint_t n);

/* ngx_http_pdf_report_metrics.c */
ngx_int_t ngx_http_pdf_report_metrics_init(ngx_shm_zone_t *shm_zone,
    ngx_http_pdf_report_metrics_t **metrics);
size_t ngx_http_pdf_report_metrics_zone_size(void);
ngx_int_t ngx_http_pdf_report_metrics_handler(ngx_http_request_t *r);
void ngx_http_pdf_report_metrics_response(
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_uint_t endpoint,
    ngx_uint_t status);
void ngx_http_pdf_report_metrics_created(
    ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_metrics_jwt_cache(
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_uint_t hit);
void ngx_http_pdf_report_metrics_finished(
    ngx_http_pdf_report_main_conf_t *pmcf, const char *error_code,
    ngx_uint_t n, ngx_msec_t duration_ms);
void ngx_http_pdf_report_metrics_s3(ngx_http_pdf_report_main_conf_t *pmcf,
    ngx_uint_t op, ngx_uint_t result, ngx_uint_t n);
void ngx_http_pdf_report_metrics_jobs(ngx_http_pdf_report_main_conf_t *pmcf,
    size_t pending, size_t running);
void ngx_http_pdf_report_metrics_deleted(
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_uint_t reason, ngx_uint_t n);

/* ngx_http_pdf_report_creds.c */
char *ngx_http_pdf_report_creds_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_pdf_report_creds_zone(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf);
ngx_int_t ngx_http_pdf_report_creds_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
ngx_int_t ngx_http_pdf_report_creds_get(ngx_http_pdf_report_creds_t *cr,
    pdf_report_s3_creds_t *creds, time_t *retry_after);
int ngx_http_pdf_report_creds_source(void *data,
    pdf_report_s3_creds_t *creds);
ngx_uint_t ngx_http_pdf_report_creds_ready(ngx_http_pdf_report_creds_t *cr);

/* ngx_http_pdf_report_module.c */
ngx_int_t ngx_http_pdf_report_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out);

/* ngx_http_pdf_report_webhooks.c */
char *ngx_http_pdf_report_webhooks_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_pdf_report_webhook_allow(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_pdf_report_webhook_schedule(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_pdf_report_webhooks_conf(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf);
ngx_int_t ngx_http_pdf_report_webhooks_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_webhooks_kick(ngx_http_pdf_report_main_conf_t *pmcf);
/* ngx_http_pdf_report_idempotency.c */
ngx_int_t ngx_http_pdf_report_idem_header(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx);
ngx_int_t ngx_http_pdf_report_idem_lookup(ngx_http_request_t *r,
    ngx_http_pdf_report_ctx_t *ctx, ngx_str_t *body,
    ngx_http_pdf_report_idem_pt resume);
ngx_int_t ngx_http_pdf_report_idem_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
char *ngx_http_pdf_report_idem_ttl_post(ngx_conf_t *cf, void *post,
    void *data);

/* ngx_http_pdf_report_purge.c */
ngx_int_t ngx_http_pdf_report_purge_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);

/* ngx_http_pdf_report_preflight.c */
ngx_int_t ngx_http_pdf_report_preflight(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);

/* ngx_http_pdf_report_commit.c */
ngx_int_t ngx_http_pdf_report_commit_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
ngx_http_pdf_report_commit_t *ngx_http_pdf_report_commit_alloc(
    ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_commit_post(ngx_http_pdf_report_commit_t *c,
    ngx_http_request_t *r, ngx_http_pdf_report_commit_pt handler);
void ngx_http_pdf_report_commit_scan(ngx_http_pdf_report_main_conf_t *pmcf);
void ngx_http_pdf_report_commit_exit(void);


#endif /* _NGX_HTTP_PDF_REPORT_MODULE_H_INCLUDED_ */
