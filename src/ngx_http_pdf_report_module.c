
/*
 * ngx_http_pdf_report_module: directives, configuration, the store's
 * life across master and workers, and the log variables.
 */


#include "ngx_http_pdf_report_module.h"
#include "pdf_report_fetch.h"

#include <curl/curl.h>

#if (__GLIBC__)
#include <malloc.h>
#endif


#if !(NGX_THREADS)
#error ngx_http_pdf_report_module needs nginx built --with-threads
#endif


#define NGX_HTTP_PDF_REPORT_DEFAULT_FONT \
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define NGX_HTTP_PDF_REPORT_DEFAULT_BOLD \
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


typedef struct {
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_pdf_report_loc_conf_t   *plcf;
} ngx_http_pdf_report_api_loc_t;


static ngx_int_t ngx_http_pdf_report_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_pdf_report_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_pdf_report_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_pdf_report_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_pdf_report_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_pdf_report_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_pdf_report_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_pdf_report_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pdf_report_users(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pdf_report_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pdf_report_jwt_keys_url(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf);
static char *ngx_http_pdf_report_rate_limit(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_pdf_report_jwt_cache(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_pdf_report_s3_endpoint(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_pdf_report_fonts(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pdf_report_metrics(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_pdf_report_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pdf_report_scope_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_scan_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_off_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_ttl_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_second_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_region_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_bucket_post(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_pdf_report_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_pdf_report_retention(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_pdf_report_lifecycle_store(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_store_t *store,
    unsigned format);
static ngx_int_t ngx_http_pdf_report_check_s3(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf);
static char *ngx_http_pdf_report_cstr(ngx_conf_t *cf, ngx_str_t *s);
static void ngx_http_pdf_report_jwks_cleanup(void *data);
static void ngx_http_pdf_report_jwks_warn(void *data, const char *msg);
static ngx_int_t ngx_http_pdf_report_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_pdf_report_load_users(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_store_t *store);
static ngx_int_t ngx_http_pdf_report_check_users(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
static ngx_int_t ngx_http_pdf_report_prepare_store(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf);
static char *ngx_http_pdf_report_store_pg(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_str_t *value, ngx_uint_t n);
static ngx_int_t ngx_http_pdf_report_chown_store(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_core_conf_t *ccf,
    u_char *dir);
static ngx_int_t ngx_http_pdf_report_init_process(ngx_cycle_t *cycle);
static void ngx_http_pdf_report_exit_process(ngx_cycle_t *cycle);
static void ngx_http_pdf_report_exit_master(ngx_cycle_t *cycle);
static void ngx_http_pdf_report_log_store_error(ngx_uint_t level,
    ngx_log_t *log, const char *what, ngx_str_t *dir, int rc,
    unsigned format);


/*
 * Set once this process has opened the store and started its scan timer.
 * With "master_process off" a reload would prepare the store again in
 * that same process, where the running cycle (its store handle, timer
 * and thread pool) is about to be freed; nginx itself does not support
 * thread pools across such a reload, so it is refused instead.
 */
static ngx_uint_t  ngx_http_pdf_report_running;


static ngx_conf_post_handler_pt  ngx_http_pdf_report_scope_p =
    ngx_http_pdf_report_scope_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_scan_p =
    ngx_http_pdf_report_scan_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_off_p =
    ngx_http_pdf_report_off_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_ttl_p =
    ngx_http_pdf_report_ttl_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_second_p =
    ngx_http_pdf_report_second_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_region_p =
    ngx_http_pdf_report_region_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_bucket_p =
    ngx_http_pdf_report_bucket_post;
static ngx_conf_post_handler_pt  ngx_http_pdf_report_idem_ttl_p =
    ngx_http_pdf_report_idem_ttl_post;

static ngx_conf_num_bounds_t  ngx_http_pdf_report_worker_jobs_bounds = {
    ngx_conf_check_num_bounds, 1, 1024
};


static ngx_command_t  ngx_http_pdf_report_commands[] = {

    { ngx_string("pdf_report_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_pdf_report_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_users"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_users,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_jwt_keys"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_pdf_report_jwt_keys,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, jwt_issuer),
      &ngx_http_pdf_report_off_p },

    { ngx_string("pdf_report_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, jwt_audience),
      &ngx_http_pdf_report_off_p },

    { ngx_string("pdf_report_jwt_org_claim"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, jwt_org_claim),
      NULL },

    { ngx_string("pdf_report_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, jwt_leeway),
      NULL },

    { ngx_string("pdf_report_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_jwt_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_create_scope"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, create_scope),
      &ngx_http_pdf_report_scope_p },

    { ngx_string("pdf_report_read_scope"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, read_scope),
      &ngx_http_pdf_report_scope_p },

    { ngx_string("pdf_report_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_pdf_report_rate_limit,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, render_pool),
      NULL },

    { ngx_string("pdf_report_store_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, store_pool),
      NULL },

    { ngx_string("pdf_report_webhook_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, webhook_pool),
      NULL },

    { ngx_string("pdf_report_webhooks"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_pdf_report_webhooks_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_webhook_allow"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_pdf_report_webhook_allow,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_webhook_schedule"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_pdf_report_webhook_schedule,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_job_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, job_timeout),
      &ngx_http_pdf_report_second_p },

    { ngx_string("pdf_report_job_lease"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, job_lease),
      &ngx_http_pdf_report_second_p },

    { ngx_string("pdf_report_scan_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, scan_interval),
      &ngx_http_pdf_report_scan_p },

    { ngx_string("pdf_report_worker_jobs"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, worker_jobs),
      &ngx_http_pdf_report_worker_jobs_bounds },

    { ngx_string("pdf_report_url_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, url_ttl),
      &ngx_http_pdf_report_ttl_p },

    { ngx_string("pdf_report_s3_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_s3_endpoint,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_s3_region"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, s3_region),
      &ngx_http_pdf_report_region_p },

    { ngx_string("pdf_report_s3_bucket"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, s3_bucket),
      &ngx_http_pdf_report_bucket_p },

    { ngx_string("pdf_report_s3_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, s3_prefix),
      NULL },

    { ngx_string("pdf_report_s3_path_style"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, s3_path_style),
      NULL },

    { ngx_string("pdf_report_s3_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_pdf_report_creds_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_fonts"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_pdf_report_fonts,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pdf_report_retention,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_idempotency_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, idem_ttl),
      &ngx_http_pdf_report_idem_ttl_p },

    { ngx_string("pdf_report_erase_on_revoke"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pdf_report_main_conf_t, erase_on_revoke),
      NULL },

    { ngx_string("pdf_report_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pdf_report_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pdf_report_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_pdf_report_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_pdf_report_module_ctx = {
    ngx_http_pdf_report_add_variables,     /* preconfiguration */
    ngx_http_pdf_report_postconfiguration, /* postconfiguration */

    ngx_http_pdf_report_create_main_conf,  /* create main configuration */
    ngx_http_pdf_report_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_pdf_report_create_loc_conf,   /* create location configuration */
    ngx_http_pdf_report_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_pdf_report_module = {
    NGX_MODULE_V1,
    &ngx_http_pdf_report_module_ctx,       /* module context */
    ngx_http_pdf_report_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_pdf_report_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_pdf_report_exit_process,      /* exit process */
    ngx_http_pdf_report_exit_master,       /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_pdf_report_vars[] = {

    { ngx_string("pdf_report_org"), NULL, ngx_http_pdf_report_variable,
      offsetof(ngx_http_pdf_report_ctx_t, org), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("pdf_report_job_id"), NULL, ngx_http_pdf_report_variable,
      offsetof(ngx_http_pdf_report_ctx_t, job_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("pdf_report_user_id"), NULL, ngx_http_pdf_report_variable,
      offsetof(ngx_http_pdf_report_ctx_t, user_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("pdf_report_error"), NULL, ngx_http_pdf_report_variable,
      offsetof(ngx_http_pdf_report_ctx_t, error),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_pdf_report_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_pdf_report_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pdf_report_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  *s;
    ngx_http_pdf_report_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pdf_report_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static void *
ngx_http_pdf_report_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pdf_report_main_conf_t));
    if (pmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pmcf->store_dir = { 0, NULL };
     *     pmcf->users_file = { 0, NULL };
     *     pmcf->s3_endpoint = { 0, NULL };
     *     pmcf->creds = NULL;
     *     pmcf->font_regular = { 0, NULL };
     *     pmcf->enabled = 0;
     *     pmcf->jwks = NULL;
     *     pmcf->store = NULL;
     */

    pmcf->store_size = NGX_CONF_UNSET_SIZE;
    pmcf->jwt_leeway = NGX_CONF_UNSET;
    pmcf->rate_limit = NGX_CONF_UNSET_UINT;
    pmcf->rate_period = NGX_CONF_UNSET_MSEC;
    pmcf->job_timeout = NGX_CONF_UNSET_MSEC;
    pmcf->job_lease = NGX_CONF_UNSET_MSEC;
    pmcf->scan_interval = NGX_CONF_UNSET_MSEC;
    pmcf->worker_jobs = NGX_CONF_UNSET_UINT;
    pmcf->jwt_cache_slots = NGX_CONF_UNSET_UINT;
    pmcf->url_ttl = NGX_CONF_UNSET;
    pmcf->s3_path_style = NGX_CONF_UNSET;
    pmcf->retention = NGX_CONF_UNSET;
    pmcf->idem_ttl = NGX_CONF_UNSET;
    pmcf->erase_on_revoke = NGX_CONF_UNSET;

    if (ngx_array_init(&pmcf->api_locations, cf->pool, 2,
                       sizeof(ngx_http_pdf_report_api_loc_t))
        != NGX_OK)
    {
        return NULL;
    }

    return pmcf;
}


static char *
ngx_http_pdf_report_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    ngx_uint_t   i;
    const char  *missing[4];
    ngx_str_t   *need[4];

    if (pmcf->store_size == NGX_CONF_UNSET_SIZE) {
        pmcf->store_size = 256 * 1024 * 1024;
    }

    if (pmcf->jwt_org_claim.data == NULL) {
        ngx_str_set(&pmcf->jwt_org_claim, "org_id");
    }

    ngx_conf_init_value(pmcf->jwt_leeway, 30);

    if (pmcf->create_scope.data == NULL) {
        ngx_str_set(&pmcf->create_scope, "write:reports");
    }

    if (pmcf->read_scope.data == NULL) {
        ngx_str_set(&pmcf->read_scope, "read:reports");
    }

    if (pmcf->rate_limit == NGX_CONF_UNSET_UINT) {
        pmcf->rate_limit = 10;
        pmcf->rate_period = 600000;
    }

    ngx_conf_init_msec_value(pmcf->job_timeout, 300000);
    ngx_conf_init_msec_value(pmcf->job_lease, 30000);
    ngx_conf_init_msec_value(pmcf->scan_interval, 1000);
    ngx_conf_init_uint_value(pmcf->worker_jobs, 8);
    ngx_conf_init_uint_value(pmcf->jwt_cache_slots, 4096);
    ngx_conf_init_value(pmcf->url_ttl, 300);

    if (pmcf->s3_endpoint.data == NULL) {
        ngx_str_set(&pmcf->s3_endpoint, "https://s3.amazonaws.com");
    }

    if (pmcf->s3_region.data == NULL) {
        ngx_str_set(&pmcf->s3_region, "us-east-1");
    }

    if (pmcf->s3_prefix.data == NULL) {
        ngx_str_set(&pmcf->s3_prefix, "reports/");
    }

    ngx_conf_init_value(pmcf->s3_path_style, 1);
    ngx_conf_init_value(pmcf->retention, 30 * 86400);
    ngx_conf_init_value(pmcf->idem_ttl, 86400);
    ngx_conf_init_value(pmcf->erase_on_revoke, 1);

    if (pmcf->font_regular.data == NULL) {
        ngx_str_set(&pmcf->font_regular, NGX_HTTP_PDF_REPORT_DEFAULT_FONT);
        ngx_str_set(&pmcf->font_bold, NGX_HTTP_PDF_REPORT_DEFAULT_BOLD);
    }

    if (!pmcf->enabled) {
        return NGX_CONF_OK;
    }

    if (pmcf->users_off && pmcf->pg_uri.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"pdf_report_users off\" needs a PostgreSQL store, "
                      "whose table other systems write; an LMDB store "
                      "loads the directory from a file");
        return NGX_CONF_ERROR;
    }

    missing[0] = "pdf_report_store";
    need[0] = pmcf->pg_uri.data ? &pmcf->pg_uri : &pmcf->store_dir;
    missing[1] = "pdf_report_users";
    need[1] = pmcf->users_off ? &pmcf->pg_uri : &pmcf->users_file;
    missing[2] = "pdf_report_jwt_keys";
    need[2] = &pmcf->jwt_keys_file;
    missing[3] = "pdf_report_s3_bucket";
    need[3] = &pmcf->s3_bucket;

    /* named where the first pdf_report_api is, not at the end of http{} */

    for (i = 0; i < 4; i++) {
        if (need[i]->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%s\" is required by \"pdf_report_api\" in "
                          "%V:%ui", missing[i], &pmcf->api_file,
                          pmcf->api_line);
            return NGX_CONF_ERROR;
        }
    }

    if (pmcf->creds == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"pdf_report_s3_credentials\" is required by "
                      "\"pdf_report_api\" in %V:%ui", &pmcf->api_file,
                      pmcf->api_line);
        return NGX_CONF_ERROR;
    }

    if (pmcf->render_pool.pool == NULL) {
        ngx_str_set(&pmcf->render_pool.name, "default");

        pmcf->render_pool.pool = ngx_thread_pool_add(cf,
                                                     &pmcf->render_pool.name);
        if (pmcf->render_pool.pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* store writes share the render pool unless given their own */
    if (pmcf->store_pool.pool == NULL) {
        pmcf->store_pool = pmcf->render_pool;
    }

    pmcf->s3.endpoint = ngx_http_pdf_report_cstr(cf, &pmcf->s3_endpoint);
    pmcf->s3.region = ngx_http_pdf_report_cstr(cf, &pmcf->s3_region);
    pmcf->s3.bucket = ngx_http_pdf_report_cstr(cf, &pmcf->s3_bucket);
    pmcf->s3.path_style = pmcf->s3_path_style;
    pmcf->s3.credentials = ngx_http_pdf_report_creds_source;
    pmcf->s3.credentials_data = pmcf->creds;
    pmcf->render.font_regular = ngx_http_pdf_report_cstr(cf,
                                                         &pmcf->font_regular);
    pmcf->render.font_bold = ngx_http_pdf_report_cstr(cf, &pmcf->font_bold);

    if (pmcf->s3.endpoint == NULL || pmcf->s3.region == NULL
        || pmcf->s3.bucket == NULL || pmcf->render.font_regular == NULL
        || pmcf->render.font_bold == NULL)
    {
        return NGX_CONF_ERROR;
    }

    if (access(pmcf->render.font_regular, R_OK) != 0
        || access(pmcf->render.font_bold, R_OK) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read the report fonts \"%V\" and \"%V\"",
                           &pmcf->font_regular, &pmcf->font_bold);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_pdf_report_check_s3(cf, pmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_pdf_report_webhooks_conf(cf, pmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_pdf_report_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_pdf_report_loc_conf_t  *plcf;

    plcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pdf_report_loc_conf_t));
    if (plcf == NULL) {
        return NULL;
    }

    plcf->api = NGX_CONF_UNSET;

    return plcf;
}


static char *
ngx_http_pdf_report_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_pdf_report_loc_conf_t  *prev = parent;
    ngx_http_pdf_report_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->api, prev->api, 0);

    return NGX_CONF_OK;
}


/*
 * The API answers 413 itself, as JSON and after authentication (contract
 * section 5), so nginx's own early check of client_max_body_size is moved
 * into the module for API locations; a request body filter enforces it
 * for chunked bodies.
 */

static ngx_int_t
ngx_http_pdf_report_postconfiguration(ngx_conf_t *cf)
{
    ngx_str_t                         name;
    ngx_uint_t                        i;
    ngx_shm_zone_t                   *zone;
    ngx_http_pdf_report_api_loc_t    *loc;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pdf_report_module);

    if (!pmcf->enabled && !pmcf->metrics_used) {
        return NGX_OK;
    }

    /*
     * The counters of pdf_report_metrics live in this zone.  The master
     * prepares the store (and checks it as the workers' user)
     * in this zone's init: nginx calls it on every start, reload and
     * "nginx -t" once the whole configuration, the "user" directive
     * included, is known, and a failure there refuses the configuration
     * while the running workers keep serving; a failing init_module
     * would make the master itself exit.
     */

    ngx_str_set(&name, "pdf_report_module");

    zone = ngx_shared_memory_add(cf, &name,
                                 ngx_http_pdf_report_metrics_zone_size(),
                                 &ngx_http_pdf_report_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_pdf_report_init_zone;
    zone->data = pmcf;
    pmcf->cycle = cf->cycle;

    if (!pmcf->enabled) {
        return NGX_OK;
    }

    /* a JWKS URL: the set the workers share */
    if (pmcf->jwks_url != NULL
        && ngx_http_pdf_report_jwks_add_zone(cf, pmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the S3 keys the workers share */
    if (ngx_http_pdf_report_creds_zone(cf, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    loc = pmcf->api_locations.elts;

    for (i = 0; i < pmcf->api_locations.nelts; i++) {
        loc[i].plcf->max_body = loc[i].clcf->client_max_body_size;
        loc[i].clcf->client_max_body_size = 0;
    }

    return ngx_http_pdf_report_body_filter_init(cf);
}


static char *
ngx_http_pdf_report_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    off_t       size;
    ngx_str_t  *value, s;

    if (pmcf->store_dir.data != NULL || pmcf->pg_uri.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if ((value[1].len > sizeof("postgresql://") - 1
         && ngx_strncmp(value[1].data, "postgresql://",
                        sizeof("postgresql://") - 1) == 0)
        || (value[1].len > sizeof("postgres://") - 1
            && ngx_strncmp(value[1].data, "postgres://",
                           sizeof("postgres://") - 1) == 0))
    {
        return ngx_http_pdf_report_store_pg(cf, pmcf, value,
                                            cf->args->nelts);
    }

    pmcf->store_dir = value[1];

    if (ngx_conf_full_name(cf->cycle, &pmcf->store_dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "size=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 5;
        s.len = value[2].len - 5;

        /* ngx_parse_offset(): k, m and g, as max_size= of a cache */
        size = ngx_parse_offset(&s);

        if (size == NGX_ERROR || size < 1024 * 1024
            || (uint64_t) size > (uint64_t) NGX_MAX_SIZE_T_VALUE)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store size \"%V\", at least 1m",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        pmcf->store_size = (size_t) size;
    }

    return NGX_CONF_OK;
}


/*
 * pdf_report_store postgresql://... [pool=<n>]: the URI is kept as it is
 * (its syntax checked by libpq, nothing connected) and never logged: it
 * may hold a password.
 */

static char *
ngx_http_pdf_report_store_pg(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_str_t *value, ngx_uint_t n)
{
    char              err[256];
    ngx_int_t         pool;
    pdf_report_pg_t  *pg;

    pmcf->pg_uri = value[1];
    pmcf->pg_pool = PDF_REPORT_PG_POOL_DEFAULT;

    if (n == 3) {
        if (value[2].len <= 5 || ngx_strncmp(value[2].data, "pool=", 5) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" of a PostgreSQL "
                               "store: pool=<n>", &value[2]);
            return NGX_CONF_ERROR;
        }

        pool = ngx_atoi(value[2].data + 5, value[2].len - 5);

        if (pool < 1 || pool > PDF_REPORT_PG_POOL_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": 1 to %d connections",
                               &value[2], PDF_REPORT_PG_POOL_MAX);
            return NGX_CONF_ERROR;
        }

        pmcf->pg_pool = (ngx_uint_t) pool;
    }

    if (pdf_report_pg_open(&pg, (char *) pmcf->pg_uri.data,
                           (unsigned) pmcf->pg_pool, err, sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid PostgreSQL store: %s", err);
        return NGX_CONF_ERROR;
    }

    pdf_report_pg_close(pg);

    return NGX_CONF_OK;
}


/*
 * Only the path is kept, and the file checked to be a readable regular
 * file: the master streams it into the store in prepare_store(), and
 * "nginx -s reload"'s own process (which parses the configuration but
 * runs no zone init) never reads it.
 */

static char *
ngx_http_pdf_report_users(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    ngx_fd_t          fd;
    ngx_str_t        *value;
    ngx_file_info_t   fi;

    if (pmcf->users_file.data != NULL || pmcf->users_off) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* the table is written by SQR's systems: PostgreSQL only (checked) */
    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        pmcf->users_off = 1;
        return NGX_CONF_OK;
    }

    pmcf->users_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &pmcf->users_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(pmcf->users_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed",
                           &pmcf->users_file);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed",
                           &pmcf->users_file);
        goto failed;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is not a file",
                           &pmcf->users_file);
        goto failed;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed",
                           &pmcf->users_file);
    }

    return NGX_CONF_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed",
                           &pmcf->users_file);
    }

    return NGX_CONF_ERROR;
}


/*
 * pdf_report_jwt_keys <file> | <http(s)://...> [refresh=<time>] [ca=<file>]
 *
 * A file is read and checked here, at every start and reload.  A URL is
 * only checked for its shape: the workers fetch it
 * (ngx_http_pdf_report_jwks.c), so that neither "nginx -t" nor a start
 * waits for it, or fails when it is down.
 */

static char *
ngx_http_pdf_report_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    char                 err[256];
    ngx_str_t           *value, text;
    ngx_pool_cleanup_t  *cln;

    if (pmcf->jwt_keys_file.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    pmcf->jwt_keys_file = value[1];

    if ((value[1].len >= 7
         && ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) == 0)
        || (value[1].len >= 8
            && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8) == 0))
    {
        return ngx_http_pdf_report_jwt_keys_url(cf, pmcf);
    }

    if (cf->args->nelts > 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": refresh= and ca= are "
                           "for a JWKS URL; a file is read again on reload",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_pdf_report_read_file(cf, &pmcf->jwt_keys_file, &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    pmcf->jwks = pdf_report_jwks_load((char *) text.data, text.len,
                                      ngx_http_pdf_report_jwks_warn, cf,
                                      err, sizeof(err));

    if (pmcf->jwks == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JWKS \"%V\": %s",
                           &pmcf->jwt_keys_file, err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_pdf_report_jwks_cleanup;
    cln->data = pmcf->jwks;

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_jwt_keys_url(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    u_char      *p, *host;
    ngx_int_t    ms;
    ngx_str_t   *value, url, s, ca, text;
    ngx_uint_t   i;

    value = cf->args->elts;
    url = value[1];
    ngx_str_null(&ca);

    host = url.data + ((url.data[4] == ':') ? 7 : 8);

    for (p = url.data; p < url.data + url.len; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            break;
        }
    }

    if (p < url.data + url.len || url.len > 2048 || *host == '\0'
        || *host == '/' || *host == '?' || *host == '#' || *host == '@')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid JWKS URL: a host is needed after "
                           "\"http://\" or \"https://\", and no spaces or "
                           "control characters");
        return NGX_CONF_ERROR;
    }

    pmcf->jwks_refresh = NGX_CONF_UNSET_MSEC;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0
            && pmcf->jwks_refresh == NGX_CONF_UNSET_MSEC)
        {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            ms = ngx_parse_time(&s, 0);

            if (ms == NGX_ERROR || ms < 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid refresh \"%V\", at least 1s",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            pmcf->jwks_refresh = (ngx_msec_t) ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "ca=", 3) == 0 && ca.data == NULL
            && value[i].len > 3)
        {
            ca.data = value[i].data + 3;
            ca.len = value[i].len - 3;

            /* the same checks as any file the module reads */
            if (ngx_http_pdf_report_read_file(cf, &ca, &text) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            if (ngx_strstrn(text.data, "-----BEGIN CERTIFICATE-----", 26)
                == NULL)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" holds no PEM certificate", &ca);
                return NGX_CONF_ERROR;
            }

            pmcf->jwks_ca = ngx_http_pdf_report_cstr(cf, &ca);
            if (pmcf->jwks_ca == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (pmcf->jwks_refresh == NGX_CONF_UNSET_MSEC) {
        pmcf->jwks_refresh = 600000;
    }

    pmcf->jwks_url = ngx_http_pdf_report_cstr(cf, &url);
    pmcf->jwks_log_url = ngx_pnalloc(cf->pool, 256);

    if (pmcf->jwks_url == NULL || pmcf->jwks_log_url == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) pdf_report_fetch_log_url(pmcf->jwks_log_url, 256, pmcf->jwks_url);

    if (url.data[4] == ':') {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the JWKS \"%s\" is fetched without TLS: whoever "
                           "can alter the traffic can replace the keys; "
                           "use https", pmcf->jwks_log_url);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    ngx_int_t   n, period;
    ngx_str_t  *value;

    if (pmcf->rate_limit != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "off") == 0) {
            pmcf->rate_limit = 0;
            pmcf->rate_period = 0;
            return NGX_CONF_OK;
        }

        return "takes \"<n> <period>\" or \"off\"";
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1 || n > 100000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid request count \"%V\" (1 to 100000)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    period = ngx_parse_time(&value[2], 0);

    if (period == NGX_ERROR || period < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid period \"%V\" (at least 1s)", &value[2]);
        return NGX_CONF_ERROR;
    }

    pmcf->rate_limit = (ngx_uint_t) n;
    pmcf->rate_period = (ngx_msec_t) period;

    return NGX_CONF_OK;
}


/* pdf_report_jwt_cache <slots>|off */

static char *
ngx_http_pdf_report_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (pmcf->jwt_cache_slots != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        pmcf->jwt_cache_slots = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < 1 || n > 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid token cache size \"%V\" (1 to 65536 "
                           "entries, or off)", &value[1]);
        return NGX_CONF_ERROR;
    }

    pmcf->jwt_cache_slots = (ngx_uint_t) n;

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_s3_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    u_char     *p, *host, *end;
    ngx_int_t   port;
    ngx_str_t  *value, url;

    if (pmcf->s3_endpoint.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = value[1];

    if (url.len > 0 && url.data[url.len - 1] == '/') {
        url.len--;
    }

    if (url.len > 7 && ngx_strncasecmp(url.data, (u_char *) "http://", 7)
                       == 0)
    {
        host = url.data + 7;

    } else if (url.len > 8
               && ngx_strncasecmp(url.data, (u_char *) "https://", 8) == 0)
    {
        host = url.data + 8;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid S3 endpoint \"%V\": "
                           "use http://host[:port] or https://host[:port]",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    end = url.data + url.len;

    for (p = host; p < end; p++) {
        if (*p == '/' || *p == '?' || *p == '#' || *p == '@' || *p <= ' ') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid S3 endpoint \"%V\": no path, query "
                               "or user part allowed", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    /* host, [v6] or host:port */
    if (*host == '[') {
        p = ngx_strlchr(host, end, ']');

        if (p == NULL || p == host + 1) {
            goto invalid_host;
        }

        p++;

    } else {
        p = ngx_strlchr(host, end, ':');
        if (p == NULL) {
            p = end;
        }

        if (p == host) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid S3 endpoint \"%V\": no host",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (p < end) {
        port = (*p == ':') ? ngx_atoi(p + 1, end - p - 1) : NGX_ERROR;

        if (port < 1 || port > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid S3 endpoint \"%V\": invalid port",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    pmcf->s3_endpoint = url;

    return NGX_CONF_OK;

invalid_host:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid S3 endpoint \"%V\": invalid host",
                       &value[1]);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_pdf_report_fonts(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    ngx_str_t  *value;

    if (pmcf->font_regular.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    pmcf->font_regular = value[1];
    pmcf->font_bold = value[2];

    if (ngx_conf_full_name(cf->cycle, &pmcf->font_regular, 1) != NGX_OK
        || ngx_conf_full_name(cf->cycle, &pmcf->font_bold, 1) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (access((char *) pmcf->font_regular.data, R_OK) != 0
        || access((char *) pmcf->font_bold.data, R_OK) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read the report fonts \"%V\" and \"%V\"",
                           &pmcf->font_regular, &pmcf->font_bold);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pdf_report_loc_conf_t  *plcf = conf;

    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_pdf_report_api_loc_t    *loc;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    if (plcf->api != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_PCRE)
    if (clcf->regex) {
        return "cannot be used in a regex location";
    }
#endif

    /* "location =" would only ever see the collection path */
    if (clcf->named || clcf->noname || clcf->exact_match) {
        return "needs a prefix location";
    }

    plcf->api = 1;
    plcf->base = clcf->name;

    /* "location /v1/document/api/" serves the same paths */
    if (plcf->base.len > 1 && plcf->base.data[plcf->base.len - 1] == '/') {
        plcf->base.len--;
    }

    clcf->handler = ngx_http_pdf_report_handler;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pdf_report_module);

    if (!pmcf->enabled) {
        pmcf->enabled = 1;
        pmcf->api_file = cf->conf_file->file.name;
        pmcf->api_line = cf->conf_file->line;
    }

    loc = ngx_array_push(&pmcf->api_locations);
    if (loc == NULL) {
        return NGX_CONF_ERROR;
    }

    loc->clcf = clcf;
    loc->plcf = plcf;

    return NGX_CONF_OK;
}


/* pdf_report_metrics: Prometheus text; allow/deny protect it */

static char *
ngx_http_pdf_report_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is duplicate, or the location has another handler";
    }

    clcf->handler = ngx_http_pdf_report_metrics_handler;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pdf_report_module);
    pmcf->metrics_used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_scope_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *s = data;

    size_t  i;

    if (s->len == 3 && ngx_strncmp(s->data, "off", 3) == 0) {
        s->len = 0;
        s->data = (u_char *) "";
        return NGX_CONF_OK;
    }

    if (s->len == 0) {
        return "must be a scope token (RFC 6749 scope-token) or \"off\"";
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] <= ' ' || s->data[i] == '"' || s->data[i] == '\\'
            || s->data[i] >= 0x7f)
        {
            return "must be a scope token (RFC 6749 scope-token) or \"off\"";
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_scan_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    if (*ms < 10 || *ms > 5000) {
        return "must be between 10ms and 5s";
    }

    return NGX_CONF_OK;
}


/* "off" for a claim that is not checked: the same as not set */

static char *
ngx_http_pdf_report_off_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *s = data;

    if (s->len == 3 && ngx_strncmp(s->data, "off", 3) == 0) {
        s->len = 0;
        s->data = (u_char *) "";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_ttl_post(ngx_conf_t *cf, void *post, void *data)
{
    time_t  *sec = data;

    if (*sec < 1 || *sec > 604800) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"pdf_report_url_ttl\" must be between 1s and 7d, "
                           "the limits of S3 pre-signed URLs");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_second_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ms = data;

    ngx_str_t  *value;

    if (*ms < 1000) {
        value = cf->args->elts;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be at least 1s", &value[0]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pdf_report_region_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *s = data;

    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (!((s->data[i] >= 'a' && s->data[i] <= 'z')
              || (s->data[i] >= '0' && s->data[i] <= '9')
              || s->data[i] == '-'))
        {
            break;
        }
    }

    if (s->len == 0 || i < s->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid S3 region \"%V\"",
                           s);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* what S3 has ever allowed in a bucket name; DNS rules are checked later
 * when virtual-hosted URLs need them */

static char *
ngx_http_pdf_report_bucket_post(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *s = data;

    size_t  i;
    u_char  c;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
        {
            break;
        }
    }

    if (s->len == 0 || s->len > 255 || i < s->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid S3 bucket \"%V\"",
                           s);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* pdf_report_thread_pool and pdf_report_store_thread_pool */

static char *
ngx_http_pdf_report_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                   *value;
    ngx_http_pdf_report_pool_t  *tp;

    tp = (ngx_http_pdf_report_pool_t *) ((char *) conf + cmd->offset);

    if (tp->pool != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    tp->name = value[1];

    /* an unknown pool is reported against this line */
    tp->pool = ngx_thread_pool_add(cf, &tp->name);
    if (tp->pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "off", or how long a terminal job is kept: at least 1s */

static char *
ngx_http_pdf_report_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    time_t      sec;
    ngx_str_t  *value;

    if (pmcf->retention != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        pmcf->retention = 0;
        return NGX_CONF_OK;
    }

    sec = ngx_parse_time(&value[1], 1);

    if (sec == (time_t) NGX_ERROR || sec < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid retention \"%V\", a time of at least 1s "
                           "or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pmcf->retention = sec;

    return NGX_CONF_OK;
}


/*
 * Whatever S3 will be asked must make a valid URL: the bucket as a host
 * name for virtual-hosted URLs, and a pre-signed URL that can be built.
 */

static ngx_int_t
ngx_http_pdf_report_check_s3(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    size_t                 i, n;
    u_char                *b, c, url[PDF_REPORT_S3_URL_MAX];
    pdf_report_s3_conf_t   s3;

    b = pmcf->s3_bucket.data;
    n = pmcf->s3_bucket.len;

    if (!pmcf->s3_path_style) {
        for (i = 0; i < n; i++) {
            c = b[i];

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || ((c == '-' || c == '.') && i != 0 && i != n - 1)))
            {
                break;
            }
        }

        if (n < 3 || n > 63 || i < n) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid S3 bucket \"%V\": with "
                               "\"pdf_report_s3_path_style off\" it must be "
                               "a DNS name", &pmcf->s3_bucket);
            return NGX_ERROR;
        }
    }

    /* the keys do not change the URL's form: any will do for the check */
    s3 = pmcf->s3;
    s3.access_key = "AKIDCHECK";
    s3.secret_key = "check";
    s3.session_token = NULL;
    s3.credentials = NULL;

    if (pdf_report_s3_presign(&s3, "reports/org/check.pdf", ngx_time(),
                              (unsigned) pmcf->url_ttl, "check.pdf",
                              (char *) url, sizeof(url))
        < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the S3 endpoint \"%V\", region \"%V\" and bucket "
                           "\"%V\" do not make a valid URL",
                           &pmcf->s3_endpoint, &pmcf->s3_region,
                           &pmcf->s3_bucket);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_pdf_report_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto failed;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is not a file",
                           name);
        goto failed;
    }

    out->len = (size_t) ngx_file_size(&fi);

    /* one more byte: the parsers NUL-terminate the last line in place */
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, out->data, out->len);

    if (n == -1 || (size_t) n != out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", name);
        goto failed;
    }

    out->data[out->len] = '\0';

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", name);
    }

    return NGX_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", name);
    }

    return NGX_ERROR;
}


static char *
ngx_http_pdf_report_cstr(ngx_conf_t *cf, ngx_str_t *s)
{
    char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return p;
}


static void
ngx_http_pdf_report_jwks_cleanup(void *data)
{
    pdf_report_jwks_free(data);
}


static void
ngx_http_pdf_report_jwks_warn(void *data, const char *msg)
{
    ngx_conf_t  *cf = data;

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "pdf_report_jwt_keys: %s", msg);
}


/*
 * In the master, on every start and reload (and in "nginx -t"): make the
 * store directory usable by the workers' user and load the user
 * directory into it.  The environment is closed again before fork: LMDB
 * handles must not cross fork().
 */

static ngx_int_t
ngx_http_pdf_report_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = shm_zone->data;

    /* nothing is counted without a pdf_report_metrics location */
    if (pmcf->metrics_used
        && ngx_http_pdf_report_metrics_init(shm_zone, &pmcf->metrics)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!pmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_pdf_report_running) {
        ngx_log_error(NGX_LOG_EMERG, pmcf->cycle->log, 0,
                      "pdf_report cannot be reloaded with "
                      "\"master_process off\"; restart nginx instead");
        return NGX_ERROR;
    }

    /*
     * A remote store is set up here once, when the database answers, so
     * that the workers serve their first request; when it does not, the
     * workers set it up as soon as it does.  Not in "nginx -t".
     */
    if (pmcf->pg_uri.data != NULL) {
        if (ngx_test_config) {
            if (!pmcf->users_off
                && ngx_http_pdf_report_check_users(pmcf->cycle, pmcf)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (ngx_http_pdf_report_remote_init_master(pmcf->cycle, pmcf)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_pdf_report_preflight(pmcf->cycle, pmcf);
    }

    return ngx_http_pdf_report_prepare_store(pmcf->cycle, pmcf);
}


/*
 * "nginx -t" with a PostgreSQL store reaches no database: the directory
 * file is still checked whole, as an LMDB store's is, so a bad line is
 * refused before a reload loads it.
 */

static ngx_int_t
ngx_http_pdf_report_check_users(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    int       rc;
    char      err[256];
    size_t    line;
    ngx_fd_t  fd;

    fd = ngx_open_file(pmcf->users_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &pmcf->users_file);
        return NGX_ERROR;
    }

    rc = pdf_report_users_check(fd, &line, err, sizeof(err));

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &pmcf->users_file);
    }

    if (rc == PDF_REPORT_USERS_INVALID) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "invalid user directory \"%V\", line %uz: %s",
                      &pmcf->users_file, line, err);
        return NGX_ERROR;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, rc,
                      "pdf_report: cannot read the user directory \"%V\"",
                      &pmcf->users_file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pdf_report_prepare_store(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    int                  rc;
    u_char              *dir, *p;
    unsigned             format;
    ngx_err_t            err;
    ngx_core_conf_t     *ccf;
    pdf_report_store_t  *store;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* "dir/" NUL: ngx_create_full_path() makes every component */
    dir = ngx_pnalloc(cycle->pool, pmcf->store_dir.len + 2);
    if (dir == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(dir, pmcf->store_dir.data, pmcf->store_dir.len);
    *p++ = '/';
    *p = '\0';

    err = ngx_create_full_path(dir, 0700);

    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                      "pdf_report: cannot create the store \"%V\"",
                      &pmcf->store_dir);
        return NGX_ERROR;
    }

    p[-1] = '\0';

    rc = pdf_report_store_open(&store, (char *) dir, pmcf->store_size,
                               &format);

    if (rc != 0) {
        ngx_http_pdf_report_log_store_error(NGX_LOG_EMERG, cycle->log,
                                            "cannot open", &pmcf->store_dir,
                                            rc, format);
        return NGX_ERROR;
    }

    if (ngx_http_pdf_report_lifecycle_store(cycle, pmcf, store, format)
        != NGX_OK
        || ngx_http_pdf_report_load_users(cycle, pmcf, store) != NGX_OK)
    {
        pdf_report_store_close(store);
        return NGX_ERROR;
    }

    pdf_report_store_close(store);

#if (__GLIBC__)
    /* what the load freed goes back to the system before fork() */
    (void) malloc_trim(0);
#endif

    /* as nginx does for its temp paths: the workers' user owns them */
    if (geteuid() != 0 || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        return NGX_OK;
    }

    if (ngx_http_pdf_report_chown_store(cycle, pmcf, ccf, dir) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_pdf_report_preflight(cycle, pmcf);
}


/*
 * Before the directory load: erasure on or off, and a store of layout
 * version 1 upgraded.  Not in "nginx -t": a running nginx of the version
 * before may still be writing the store the old way.
 */

static ngx_int_t
ngx_http_pdf_report_lifecycle_store(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_store_t *store,
    unsigned format)
{
    int     rc;
    size_t  jobs;

    pdf_report_store_set_erase_on_revoke(store, pmcf->erase_on_revoke);

    /* a load that erases a running job records its event */
    pdf_report_store_set_webhooks(store, pmcf->webhooks);

    if (format == PDF_REPORT_STORE_FORMAT) {
        return NGX_OK;
    }

    if (ngx_test_config) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "pdf_report: the store \"%V\" has layout version %ud; "
                      "nginx upgrades it to version %d when it starts",
                      &pmcf->store_dir, format, PDF_REPORT_STORE_FORMAT);
        return NGX_OK;
    }

    rc = pdf_report_store_migrate(store, &jobs);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: cannot upgrade the store \"%V\" from "
                      "layout version %ud to %d: %s%s", &pmcf->store_dir,
                      format, PDF_REPORT_STORE_FORMAT, mdb_strerror(rc),
                      rc == MDB_MAP_FULL
                      ? "; the new indexes need more room: raise size= of "
                        "pdf_report_store" : "");
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "pdf_report: the store \"%V\" was upgraded from layout "
                  "version %ud to %d: %uz jobs indexed for retention and "
                  "erasure", &pmcf->store_dir, format,
                  PDF_REPORT_STORE_FORMAT, jobs);

    return NGX_OK;
}


/*
 * The user directory into the store, streamed: as the difference to the
 * last load, or not read at all when the file did not change since
 * (pdf_report_store_users_load()).  "nginx -t" checks a changed file
 * whole and writes nothing.  A refused line or a failed write keeps the
 * directory the store has, and refuses this configuration.
 */

static ngx_int_t
ngx_http_pdf_report_load_users(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, pdf_report_store_t *store)
{
    int                       rc;
    ngx_fd_t                  fd;
    pdf_report_users_load_t   load;

    fd = ngx_open_file(pmcf->users_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &pmcf->users_file);
        return NGX_ERROR;
    }

    ngx_memzero(&load, sizeof(pdf_report_users_load_t));

    load.fd = fd;
    load.check = ngx_test_config ? 1 : 0;
    load.now_ms = pdf_report_now_ms();

    rc = pdf_report_store_users_load(store, &load);

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &pmcf->users_file);
    }

    if (rc == PDF_REPORT_USERS_INVALID) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "invalid user directory \"%V\", line %uz: %s",
                      &pmcf->users_file, load.line, load.err);
        return NGX_ERROR;
    }

    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: cannot load the user directory \"%V\" "
                      "into the store \"%V\": %s", &pmcf->users_file,
                      &pmcf->store_dir, mdb_strerror(rc));
        return NGX_ERROR;
    }

    ngx_http_pdf_report_users_loaded(cycle->log, &pmcf->users_file, &load);

    return NGX_OK;
}


/* what a load of the user directory did, for the log (LMDB, PostgreSQL) */

void
ngx_http_pdf_report_users_loaded(ngx_log_t *log, ngx_str_t *file,
    pdf_report_users_load_t *load)
{
    switch (load->unchanged) {

    case PDF_REPORT_USERS_SAME_STAT:
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "pdf_report: the user directory \"%V\" is unchanged "
                      "since the last load (same inode, size and times): "
                      "not loaded again", file);
        break;

    case PDF_REPORT_USERS_SAME_SHA:
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "pdf_report: the user directory \"%V\" is unchanged "
                      "since the last load (same SHA-256): not loaded again",
                      file);
        break;

    default:

        if (load->check) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "pdf_report: the user directory \"%V\" is valid: "
                          "%uz users; a load would add %uz, change %uz and "
                          "remove %uz", file, load->users,
                          load->added, load->changed, load->removed);
            break;
        }

        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "pdf_report: %uz users loaded from \"%V\": %uz added, "
                      "%uz changed, %uz removed, %uz connections revoked%s",
                      load->users, file, load->added,
                      load->changed, load->removed, load->revoked_pairs,
                      load->second_read ? " (read twice: too large a "
                                         "difference to keep)" : "");

        if (load->erased_pairs) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "pdf_report: %uz (org, user) pairs with jobs are "
                          "no longer connected: %uz of their jobs erased, "
                          "their reports are deleted from S3 next",
                          load->erased_pairs, load->erased_jobs);
        }
    }

}


static ngx_int_t
ngx_http_pdf_report_chown_store(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf, ngx_core_conf_t *ccf, u_char *dir)
{
    u_char              *p;
    ngx_uint_t           i;
    ngx_file_info_t      fi;
    u_char               file[NGX_MAX_PATH];
    static const char   *files[] = { "data.mdb", "lock.mdb" };

    for (i = 0; i < 3; i++) {
        if (i == 0) {
            p = dir;

        } else {
            if (ngx_snprintf(file, NGX_MAX_PATH, "%V/%s%Z",
                             &pmcf->store_dir, files[i - 1])
                == file + NGX_MAX_PATH)
            {
                return NGX_ERROR;
            }

            p = file;
        }

        if (ngx_file_info(p, &fi) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          ngx_file_info_n " \"%s\" failed", p);
            return NGX_ERROR;
        }

        if (fi.st_uid != ccf->user
            && chown((const char *) p, ccf->user, -1) == -1)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "chown(\"%s\", %d) failed", p, ccf->user);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pdf_report_init_process(ngx_cycle_t *cycle)
{
    int                               rc, dead;
    unsigned                          format;
    ngx_http_pdf_report_main_conf_t  *pmcf;

    if (ngx_get_conf(cycle->conf_ctx, ngx_http_module) == NULL) {
        return NGX_OK;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_pdf_report_module);

    if (pmcf == NULL || !pmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: curl_global_init() failed");
        return NGX_ERROR;
    }

    if (pmcf->pg_uri.data != NULL) {
        if (ngx_http_pdf_report_remote_init_worker(cycle, pmcf) != NGX_OK) {
            return NGX_ERROR;
        }

        goto opened;
    }

    rc = pdf_report_store_open(&pmcf->store,
                               (char *) pmcf->store_dir.data,
                               pmcf->store_size, &format);

    if (rc != 0) {
        ngx_http_pdf_report_log_store_error(NGX_LOG_EMERG, cycle->log,
                                            "cannot open", &pmcf->store_dir,
                                            rc, format);
        return NGX_ERROR;
    }

    /* the master upgrades it before the workers start */
    if (format != PDF_REPORT_STORE_FORMAT) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pdf_report: the store \"%V\" has layout version %ud, "
                      "not %d: it was not upgraded", &pmcf->store_dir,
                      format, PDF_REPORT_STORE_FORMAT);
        return NGX_ERROR;
    }

    /* slots of readers that died holding them, e.g. a SIGKILLed worker */
    rc = pdf_report_store_reader_check(pmcf->store, &dead);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "pdf_report: mdb_reader_check() failed: %s",
                      mdb_strerror(rc));

    } else if (dead > 0) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "pdf_report: cleared %d stale store readers", dead);
    }

    /* what the handlers and tasks use, whichever backend it is */
    pmcf->db.ops = &pdf_report_lmdb_backend;
    pmcf->db.db = pmcf->store;

    pdf_report_store_set_webhooks(pmcf->store, pmcf->webhooks);

opened:

    if (pmcf->jwt_cache_slots) {
        pmcf->jwt_cache = pdf_report_jwt_cache_create(pmcf->jwt_cache_slots);

        if (pmcf->jwt_cache == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "pdf_report: no memory for a token cache of %ui "
                          "entries", pmcf->jwt_cache_slots);
            return NGX_ERROR;
        }
    }

    ngx_http_pdf_report_running = 1;

    if (ngx_http_pdf_report_creds_init_worker(cycle, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_pdf_report_jobs_init_worker(cycle, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (pmcf->jwks_url != NULL
        && ngx_http_pdf_report_jwks_init_worker(cycle, pmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_pdf_report_webhooks_init_worker(cycle, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_pdf_report_idem_init_worker(cycle, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_pdf_report_purge_init_worker(cycle, pmcf);
}


static void
ngx_http_pdf_report_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_pdf_report_main_conf_t  *pmcf;

    /* the pool threads were joined: nothing signs any more */
    pdf_report_sigv4_cleanup();

    if (ngx_get_conf(cycle->conf_ctx, ngx_http_module) == NULL) {
        return;
    }

    pmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_pdf_report_module);

    if (pmcf == NULL) {
        return;
    }

    if (pmcf->jwks_url != NULL && pmcf->enabled) {
        ngx_http_pdf_report_jwks_exit_worker(pmcf);
    }

    pdf_report_jwt_cache_free(pmcf->jwt_cache);
    pmcf->jwt_cache = NULL;

    ngx_http_pdf_report_commit_exit();

    if (pmcf->pg != NULL) {
        ngx_http_pdf_report_remote_exit(pmcf);
        curl_global_cleanup();
        return;
    }

    if (pmcf->store == NULL) {
        return;
    }

    /* the thread pools were joined before: no task uses the store now */
    pmcf->db.db = NULL;
    pdf_report_store_close(pmcf->store);
    pmcf->store = NULL;

    curl_global_cleanup();
}


/*
 * nginx unloads the module after this, and with it the pointers to what
 * was fetched once (the master signs a test URL when it checks the S3
 * configuration)
 */

static void
ngx_http_pdf_report_exit_master(ngx_cycle_t *cycle)
{
    pdf_report_sigv4_cleanup();
}


static void
ngx_http_pdf_report_log_store_error(ngx_uint_t level, ngx_log_t *log,
    const char *what, ngx_str_t *dir, int rc, unsigned format)
{
    if (rc == PDF_REPORT_STORE_EXISTS && format == 0) {
        ngx_log_error(level, log, 0,
                      "pdf_report: %s the store \"%V\": it holds data "
                      "without a layout version mark, so it was not written "
                      "by this module; point pdf_report_store elsewhere",
                      what, dir);
        return;
    }

    if (rc == PDF_REPORT_STORE_EXISTS) {
        ngx_log_error(level, log, 0,
                      "pdf_report: %s the store \"%V\": it has layout "
                      "version %ud, this module reads version %d; move it "
                      "aside or point pdf_report_store elsewhere",
                      what, dir, format, PDF_REPORT_STORE_FORMAT);
        return;
    }

    ngx_log_error(level, log, 0, "pdf_report: %s the store \"%V\": %s",
                  what, dir, mdb_strerror(rc));
}
