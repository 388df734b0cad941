
/*
 * S3 credentials that rotate (contract section 11):
 * "pdf_report_s3_credentials <file> [profile] | env | imds | ecs".
 *
 * What one process fetched, every worker uses: the credentials live in a
 * shared memory zone, "pdf_report_credentials", in a slot of a small
 * table keyed by a hash of the source (so that the old workers of a
 * reload, whose source may differ, keep theirs).  A slot is a seqlock:
 * a writer (under a spin lock of a few microseconds, a memcpy long) makes
 * the sequence odd, writes, and makes it even again with the generation
 * counted up; readers (the event loop for step 3, pool threads before
 * each S3 request) copy it and try again if the sequence moved, so they
 * never wait for a writer and a writer that died mid-copy cannot stop
 * them for good.
 *
 * Each worker looks every second, on the event loop, at what the slot
 * says: for a file, whether stat() shows another file than the one read
 * (inode, size, times); for IMDS and the container endpoint, whether the
 * credentials are due for a refresh (pdf_report_creds_refresh_at()) and
 * no failure asks to wait.  The worker that takes the slot's fetch lease
 * (an atomic compare-and-set of a deadline, so a worker that dies while
 * it fetches holds nothing for long) posts one task to the render pool;
 * the task reads the file or asks the endpoint with libcurl and writes
 * the slot itself, and its completion handler only logs.  The master
 * fills the slot from the file it parsed at start and reload; a worker
 * fills it from its environment for "env".
 */


#include "ngx_http_pdf_report_module.h"
#include "pdf_report_creds.h"

#include <openssl/crypto.h>


#define NGX_HTTP_PDF_REPORT_CREDS_SLOTS   8
#define NGX_HTTP_PDF_REPORT_CREDS_TICK    1000      /* ms */
/* longer than a fetch can take (a few requests of at most 2 s) */
#define NGX_HTTP_PDF_REPORT_CREDS_LEASE   30        /* s */
/* a failure logged at most once this often per worker after the first */
#define NGX_HTTP_PDF_REPORT_CREDS_WINDOW  60        /* s */
/*
 * credentials used only while they have this long left: a request
 * signed just before they expire would meet S3's ExpiredToken, a URL
 * would be of no use
 */
#define NGX_HTTP_PDF_REPORT_CREDS_MIN     5         /* s */
#define NGX_HTTP_PDF_REPORT_CREDS_RETRY   30        /* Retry-After cap */


typedef enum {
    NGX_HTTP_PDF_REPORT_CREDS_FILE = 1,
    NGX_HTTP_PDF_REPORT_CREDS_ENV,
    NGX_HTTP_PDF_REPORT_CREDS_IMDS,
    NGX_HTTP_PDF_REPORT_CREDS_ECS
} ngx_http_pdf_report_creds_kind_e;


/* a slot's contents; the secrets last, so a reader may skip them */
typedef struct {
    ngx_uint_t                        valid;        /* creds hold keys */
    time_t                            expiration;   /* theirs, 0: none */
    uint64_t                          generation;   /* new keys: +1 */
    time_t                            published;    /* the oldest goes */
    time_t                            fetched;
    time_t                            refresh;      /* 0: never */
    time_t                            retry;        /* not before */
    ngx_uint_t                        failures;     /* in a row */
    ngx_uint_t                        racy;         /* file: read early */
    pdf_report_creds_file_id_t        file;
    pdf_report_s3_creds_t             creds;        /* from here: secret */
    pdf_report_imds_token_t           imds;
} ngx_http_pdf_report_creds_data_t;


typedef struct {
    ngx_atomic_t                      source;       /* hash; 0: free */
    ngx_atomic_t                      seq;          /* odd: written */
    ngx_atomic_t                      lock;         /* the writer's pid */
    ngx_atomic_t                      lease;        /* a fetch, until */
    ngx_http_pdf_report_creds_data_t  d;
} ngx_http_pdf_report_creds_slot_t;


typedef struct {
    ngx_http_pdf_report_creds_slot_t  slots[NGX_HTTP_PDF_REPORT_CREDS_SLOTS];
} ngx_http_pdf_report_creds_shm_t;


struct ngx_http_pdf_report_creds_s {
    ngx_uint_t                        kind;
    ngx_atomic_uint_t                 source;
    char                             *file;         /* full name */
    char                             *profile;
    char                              what[NGX_MAX_PATH + 128]; /* for logs */
    ngx_str_t                         conf_file;    /* the directive's */
    ngx_uint_t                        conf_line;
    ngx_cycle_t                      *cycle;
    ngx_http_pdf_report_creds_shm_t  *shm;

    /* the file's credentials as parsed at start: the master publishes
     * them and wipes them */
    pdf_report_s3_creds_t            *loaded;
    pdf_report_creds_file_id_t        loaded_id;

    /* per worker, from its environment */
    char                             *endpoint;     /* IMDS, container */
    char                             *auth;         /* container token */
    char                             *auth_file;
    ngx_uint_t                        no_source;    /* nothing to ask */
    ngx_http_pdf_report_main_conf_t  *pmcf;
    ngx_log_t                        *log;
    ngx_event_t                       tick;
    ngx_thread_task_t                *task;
    ngx_uint_t                        busy;         /* the task is out */
    time_t                            logged;       /* a failure, last */
};


/* one fetch, from the event loop to a pool thread and back */
typedef struct {
    ngx_http_pdf_report_creds_t      *cr;
    ngx_http_pdf_report_creds_slot_t *slot;
    time_t                            now;
    ngx_uint_t                        ok;
    ngx_uint_t                        was_valid;
    ngx_uint_t                        changed;      /* another key id */
    ngx_uint_t                        failures;     /* in a row, before */
    ngx_uint_t                        token_refused;
    ngx_uint_t                        racy;
    time_t                            retry;
    time_t                            expiration;
    time_t                            old_expiration;
    char                              key[8];       /* the id's end */
    char                              old_key[PDF_REPORT_S3_ACCESS_MAX];
    char                              role[PDF_REPORT_IMDS_ROLE_MAX];
    char                              err[PDF_REPORT_CREDS_ERR_MAX + 64];
    pdf_report_creds_file_id_t        file;
    pdf_report_imds_token_t           imds;
    pdf_report_s3_creds_t             creds;
} ngx_http_pdf_report_creds_task_t;


/* the secret part of a copy of a slot */
#define ngx_http_pdf_report_creds_wipe(d)                                    \
    OPENSSL_cleanse((u_char *) (d)                                           \
                    + offsetof(ngx_http_pdf_report_creds_data_t, creds),    \
                    sizeof(ngx_http_pdf_report_creds_data_t)                 \
                    - offsetof(ngx_http_pdf_report_creds_data_t, creds))


typedef void (*ngx_http_pdf_report_creds_update_pt)(
    ngx_http_pdf_report_creds_data_t *d, void *arg);


static ngx_int_t ngx_http_pdf_report_creds_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_pdf_report_creds_check_env(
    ngx_http_pdf_report_creds_t *cr);
static ngx_uint_t ngx_http_pdf_report_creds_env_listed(ngx_core_conf_t *ccf,
    const char *name);
static void ngx_http_pdf_report_creds_environment(
    ngx_http_pdf_report_creds_t *cr, ngx_cycle_t *cycle);
static void ngx_http_pdf_report_creds_publish_env(
    ngx_http_pdf_report_creds_t *cr);
static void ngx_http_pdf_report_creds_tick(ngx_event_t *ev);
static ngx_uint_t ngx_http_pdf_report_creds_file_changed(
    ngx_http_pdf_report_creds_t *cr, ngx_http_pdf_report_creds_data_t *d,
    ngx_uint_t have);
static void ngx_http_pdf_report_creds_post(ngx_http_pdf_report_creds_t *cr,
    ngx_http_pdf_report_creds_slot_t *slot, time_t now);
static void ngx_http_pdf_report_creds_fetch(void *data, ngx_log_t *log);
static void ngx_http_pdf_report_creds_fetched(
    ngx_http_pdf_report_creds_data_t *d, void *arg);
static void ngx_http_pdf_report_creds_failed(
    ngx_http_pdf_report_creds_data_t *d, void *arg);
static void ngx_http_pdf_report_creds_set(
    ngx_http_pdf_report_creds_data_t *d, void *arg);
static void ngx_http_pdf_report_creds_done(ngx_event_t *ev);
static int ngx_http_pdf_report_creds_cancelled(void);
static ngx_http_pdf_report_creds_slot_t *ngx_http_pdf_report_creds_slot(
    ngx_http_pdf_report_creds_t *cr, ngx_uint_t claim);
static ngx_int_t ngx_http_pdf_report_creds_read(
    ngx_http_pdf_report_creds_t *cr, ngx_http_pdf_report_creds_data_t *d,
    ngx_uint_t with_keys);
static ngx_int_t ngx_http_pdf_report_creds_update(
    ngx_http_pdf_report_creds_t *cr, ngx_http_pdf_report_creds_slot_t *slot,
    ngx_http_pdf_report_creds_update_pt update, void *arg);
static void ngx_http_pdf_report_creds_lock(
    ngx_http_pdf_report_creds_slot_t *slot);
static void ngx_http_pdf_report_creds_unlock(
    ngx_http_pdf_report_creds_slot_t *slot);
static ngx_uint_t ngx_http_pdf_report_creds_racy(
    pdf_report_creds_file_id_t *id, time_t now);
static char *ngx_http_pdf_report_creds_strdup(ngx_pool_t *pool,
    const char *s);


/*
 * pdf_report_s3_credentials <file> [profile] | env | imds | ecs
 *
 * A file is read and parsed here as before, so that "nginx -t" refuses a
 * bad one; the keywords only name a source, asked once nginx runs.
 */

char *
ngx_http_pdf_report_creds_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_pdf_report_main_conf_t  *pmcf = conf;

    char                         err[256];
    u_char                      *p;
    uint64_t                     h;
    ngx_str_t                   *value, name, text, profile;
    ngx_uint_t                   i;
    ngx_file_info_t              fi;
    ngx_http_pdf_report_creds_t *cr;

    if (pmcf->creds != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    cr = ngx_pcalloc(cf->pool, sizeof(ngx_http_pdf_report_creds_t));
    if (cr == NULL) {
        return NGX_CONF_ERROR;
    }

    cr->cycle = cf->cycle;
    cr->conf_file = cf->conf_file->file.name;
    cr->conf_line = cf->conf_file->line;

    if (ngx_strcmp(value[1].data, "env") == 0) {
        cr->kind = NGX_HTTP_PDF_REPORT_CREDS_ENV;
        ngx_cpystrn((u_char *) cr->what, (u_char *) "the environment",
                    sizeof(cr->what));

    } else if (ngx_strcmp(value[1].data, "imds") == 0) {
        cr->kind = NGX_HTTP_PDF_REPORT_CREDS_IMDS;
        ngx_cpystrn((u_char *) cr->what, (u_char *) "IMDS",
                    sizeof(cr->what));

    } else if (ngx_strcmp(value[1].data, "ecs") == 0) {
        cr->kind = NGX_HTTP_PDF_REPORT_CREDS_ECS;
        ngx_cpystrn((u_char *) cr->what,
                    (u_char *) "the container credentials endpoint",
                    sizeof(cr->what));

    } else {
        cr->kind = NGX_HTTP_PDF_REPORT_CREDS_FILE;
    }

    if (cr->kind != NGX_HTTP_PDF_REPORT_CREDS_FILE && cf->args->nelts == 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes no profile (a file named \"%V\" "
                           "is written \"./%V\")", &value[1], &value[1],
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cr->kind == NGX_HTTP_PDF_REPORT_CREDS_FILE) {
        name = value[1];

        if (cf->args->nelts == 3) {
            profile = value[2];

        } else {
            ngx_str_set(&profile, "default");
        }

        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /*
         * what identifies the file, taken before it is read: a change in
         * between makes the workers read it again, never miss it
         */
        if (ngx_file_info(name.data, &fi) == NGX_FILE_ERROR) {
            ngx_memzero(&fi, sizeof(ngx_file_info_t));
        }

        pdf_report_creds_file_id(&fi, &cr->loaded_id);

        if (ngx_http_pdf_report_read_file(cf, &name, &text) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        cr->loaded = ngx_pcalloc(cf->pool, sizeof(pdf_report_s3_creds_t));
        cr->file = ngx_pnalloc(cf->pool, name.len + 1);
        cr->profile = ngx_pnalloc(cf->pool, profile.len + 1);

        if (cr->loaded == NULL || cr->file == NULL || cr->profile == NULL) {
            ngx_explicit_memzero(text.data, text.len);
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn((u_char *) cr->file, name.data, name.len + 1);
        ngx_cpystrn((u_char *) cr->profile, profile.data, profile.len + 1);

        if (pdf_report_aws_credentials_parse((char *) text.data, text.len,
                                             cr->profile,
                                             cr->loaded->access_key,
                                             sizeof(cr->loaded->access_key),
                                             cr->loaded->secret_key,
                                             sizeof(cr->loaded->secret_key),
                                             cr->loaded->session_token,
                                             sizeof(cr->loaded->session_token),
                                             err, sizeof(err))
            != 0)
        {
            ngx_explicit_memzero(text.data, text.len);
            ngx_explicit_memzero(cr->loaded, sizeof(pdf_report_s3_creds_t));

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid credentials file \"%V\": %s", &name,
                               err);
            return NGX_CONF_ERROR;
        }

        /* the file's text held the secret: do not leave it in the pool */
        ngx_explicit_memzero(text.data, text.len);

        p = ngx_snprintf((u_char *) cr->what, sizeof(cr->what) - 1,
                         "the file \"%V\", profile \"%V\"", &name, &profile);
        *p = '\0';
    }

    /* the slot's key: what the credentials come from */

    h = 14695981039346656037ULL;
    h = (h ^ cr->kind) * 1099511628211ULL;

    for (i = 0; cr->file != NULL && cr->file[i] != '\0'; i++) {
        h = (h ^ (u_char) cr->file[i]) * 1099511628211ULL;
    }

    h = (h ^ '\n') * 1099511628211ULL;

    for (i = 0; cr->profile != NULL && cr->profile[i] != '\0'; i++) {
        h = (h ^ (u_char) cr->profile[i]) * 1099511628211ULL;
    }

    cr->source = (ngx_atomic_uint_t) h;

    if (cr->source == 0) {
        cr->source = 1;
    }

    pmcf->creds = cr;

    return NGX_CONF_OK;
}


/* in postconfiguration: the zone every process of this nginx shares */

ngx_int_t
ngx_http_pdf_report_creds_zone(ngx_conf_t *cf,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    size_t           size;
    ngx_str_t        name;
    ngx_shm_zone_t  *zone;

    ngx_str_set(&name, "pdf_report_credentials");

    size = ngx_align(sizeof(ngx_http_pdf_report_creds_shm_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_pdf_report_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_pdf_report_creds_init_zone;
    zone->data = pmcf->creds;

    return NGX_OK;
}


/*
 * In the master, at every start and reload (and in "nginx -t"): the table
 * is kept across reloads, as the zone is; the credentials the file gave
 * at this start are published, and wiped from the configuration's pool.
 */

static ngx_int_t
ngx_http_pdf_report_creds_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_pdf_report_creds_t  *cr = zone->data;

    ngx_slab_pool_t                   *shpool;
    ngx_http_pdf_report_creds_task_t  *t;
    ngx_http_pdf_report_creds_slot_t  *slot;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (shpool->data == NULL) {
        shpool->data = ngx_slab_calloc(shpool,
                                       sizeof(ngx_http_pdf_report_creds_shm_t));
        if (shpool->data == NULL) {
            return NGX_ERROR;
        }
    }

    cr->shm = shpool->data;

    if (ngx_http_pdf_report_creds_check_env(cr) != NGX_OK) {
        return NGX_ERROR;
    }

    /* claimed here, before any worker: the workers never race for one */
    slot = ngx_http_pdf_report_creds_slot(cr, 1);

    if (cr->loaded == NULL) {
        return NGX_OK;
    }

    if (slot != NULL) {
        t = ngx_pcalloc(cr->cycle->pool,
                        sizeof(ngx_http_pdf_report_creds_task_t));
        if (t == NULL) {
            return NGX_ERROR;
        }

        /*
         * not racy: what the master read at start stands (the workers
         * need not be able to read the file until it changes)
         */
        t->now = ngx_time();
        t->creds = *cr->loaded;
        t->file = cr->loaded_id;

        (void) ngx_http_pdf_report_creds_update(cr, slot,
                                                ngx_http_pdf_report_creds_set,
                                                t);

        ngx_explicit_memzero(t, sizeof(ngx_http_pdf_report_creds_task_t));
    }

    ngx_explicit_memzero(cr->loaded, sizeof(pdf_report_s3_creds_t));
    cr->loaded = NULL;

    return NGX_OK;
}


/*
 * nginx gives its workers only the environment that "env" directives
 * name: a source that needs variables fails the configuration without
 * them, rather than every upload at run time.
 */

static ngx_int_t
ngx_http_pdf_report_creds_check_env(ngx_http_pdf_report_creds_t *cr)
{
    const char       *need;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cr->cycle->conf_ctx,
                                           ngx_core_module);

    need = NULL;

    if (cr->kind == NGX_HTTP_PDF_REPORT_CREDS_ENV) {
        if (!ngx_http_pdf_report_creds_env_listed(ccf, "AWS_ACCESS_KEY_ID")) {
            need = "\"env AWS_ACCESS_KEY_ID;\"";

        } else if (!ngx_http_pdf_report_creds_env_listed(ccf,
                                                     "AWS_SECRET_ACCESS_KEY"))
        {
            need = "\"env AWS_SECRET_ACCESS_KEY;\"";
        }

    } else if (cr->kind == NGX_HTTP_PDF_REPORT_CREDS_ECS
               && !ngx_http_pdf_report_creds_env_listed(ccf,
                                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
               && !ngx_http_pdf_report_creds_env_listed(ccf,
                                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
    {
        need = "\"env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;\" or "
               "\"env AWS_CONTAINER_CREDENTIALS_FULL_URI;\"";
    }

    if (need == NULL) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, cr->cycle->log, 0,
                  "\"pdf_report_s3_credentials %s\" in %V:%ui needs %s in "
                  "the main context: nginx passes its workers only the "
                  "environment variables that \"env\" names",
                  cr->kind == NGX_HTTP_PDF_REPORT_CREDS_ENV ? "env" : "ecs",
                  &cr->conf_file, cr->conf_line, need);

    return NGX_ERROR;
}


static ngx_uint_t
ngx_http_pdf_report_creds_env_listed(ngx_core_conf_t *ccf, const char *name)
{
    size_t      n;
    ngx_str_t  *var;
    ngx_uint_t  i;

    n = ngx_strlen(name);
    var = ccf->env.elts;

    for (i = 0; i < ccf->env.nelts; i++) {
        if (var[i].len >= n && ngx_strncmp(var[i].data, name, n) == 0
            && (var[i].len == n || var[i].data[n] == '='))
        {
            return 1;
        }
    }

    return 0;
}


/* ---- in each worker ---- */


ngx_int_t
ngx_http_pdf_report_creds_init_worker(ngx_cycle_t *cycle,
    ngx_http_pdf_report_main_conf_t *pmcf)
{
    ngx_thread_task_t            *task;
    ngx_http_pdf_report_creds_t  *cr;

    cr = pmcf->creds;
    cr->pmcf = pmcf;
    cr->log = cycle->log;
    cr->busy = 0;
    cr->logged = 0;

    task = ngx_thread_task_alloc(cycle->pool,
                                 sizeof(ngx_http_pdf_report_creds_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    task->handler = ngx_http_pdf_report_creds_fetch;
    task->event.handler = ngx_http_pdf_report_creds_done;
    task->event.data = task->ctx;
    cr->task = task;

    /* the environment: nginx set it up for the worker before this */
    ngx_http_pdf_report_creds_environment(cr, cycle);

    if (cr->kind == NGX_HTTP_PDF_REPORT_CREDS_ENV && !cr->no_source) {
        ngx_http_pdf_report_creds_publish_env(cr);
    }

    cr->tick.handler = ngx_http_pdf_report_creds_tick;
    cr->tick.data = cr;
    cr->tick.log = cycle->log;

    /* a pending look must not keep a gracefully exiting worker alive */
    cr->tick.cancelable = 1;

    /* the first look at once: a source not fetched yet is fetched now */
    ngx_add_timer(&cr->tick, 1);

    return NGX_OK;
}


static void
ngx_http_pdf_report_creds_environment(ngx_http_pdf_report_creds_t *cr,
    ngx_cycle_t *cycle)
{
    char        url[PDF_REPORT_CREDS_URL_MAX], err[256];
    const char *v, *why;

    why = NULL;

    switch (cr->kind) {

    case NGX_HTTP_PDF_REPORT_CREDS_ENV:

        if (getenv("AWS_ACCESS_KEY_ID") == NULL) {
            why = "AWS_ACCESS_KEY_ID is not in the workers' environment";

        } else if (getenv("AWS_SECRET_ACCESS_KEY") == NULL) {
            why = "AWS_SECRET_ACCESS_KEY is not in the workers' environment";
        }

        break;

    case NGX_HTTP_PDF_REPORT_CREDS_IMDS:

        v = getenv("AWS_EC2_METADATA_DISABLED");

        if (v != NULL && ngx_strcasecmp((u_char *) v, (u_char *) "true")
                         == 0)
        {
            why = "AWS_EC2_METADATA_DISABLED is \"true\"";
            break;
        }

        if (pdf_report_creds_imds_endpoint(
                getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
                getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), url,
                sizeof(url), err, sizeof(err))
            != 0)
        {
            why = err;
            break;
        }

        cr->endpoint = ngx_http_pdf_report_creds_strdup(cycle->pool, url);
        break;

    case NGX_HTTP_PDF_REPORT_CREDS_ECS:

        if (pdf_report_creds_container_url(
                getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), url,
                sizeof(url), err, sizeof(err))
            != 0)
        {
            why = err;
            break;
        }

        cr->endpoint = ngx_http_pdf_report_creds_strdup(cycle->pool, url);

        /* the file wins, as in the AWS SDKs: it is re-read each fetch */
        v = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

        if (v != NULL && v[0] != '\0') {
            cr->auth_file = ngx_http_pdf_report_creds_strdup(cycle->pool, v);
            break;
        }

        v = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");

        if (v != NULL) {
            if (pdf_report_creds_auth_check(v, err, sizeof(err)) != 0) {
                why = err;
                break;
            }

            cr->auth = ngx_http_pdf_report_creds_strdup(cycle->pool, v);
        }

        break;

    default:
        break;
    }

    if (why != NULL) {
        cr->no_source = 1;

        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "pdf_report: no S3 credentials from %s: %s; uploads "
                      "wait and step 3 answers 503 until nginx is started "
                      "with it", cr->what, why);
    }
}


/* "env": the worker's own environment, the same in every worker */

static void
ngx_http_pdf_report_creds_publish_env(ngx_http_pdf_report_creds_t *cr)
{
    size_t                             n;
    const char                        *id, *secret, *token, *bad;
    ngx_http_pdf_report_creds_task_t  *t;
    ngx_http_pdf_report_creds_slot_t  *slot;

    id = getenv("AWS_ACCESS_KEY_ID");
    secret = getenv("AWS_SECRET_ACCESS_KEY");
    token = getenv("AWS_SESSION_TOKEN");

    t = cr->task->ctx;
    ngx_memzero(t, sizeof(ngx_http_pdf_report_creds_task_t));

    bad = NULL;

    if (id == NULL || id[0] == '\0'
        || ngx_strlen(id) >= sizeof(t->creds.access_key))
    {
        bad = "AWS_ACCESS_KEY_ID";

    } else if (secret == NULL || secret[0] == '\0'
               || ngx_strlen(secret) >= sizeof(t->creds.secret_key))
    {
        bad = "AWS_SECRET_ACCESS_KEY";

    } else if (token != NULL
               && ngx_strlen(token) >= sizeof(t->creds.session_token))
    {
        bad = "AWS_SESSION_TOKEN";
    }

    if (bad != NULL) {
        cr->no_source = 1;
        ngx_log_error(NGX_LOG_ERR, cr->log, 0,
                      "pdf_report: no S3 credentials from the environment: "
                      "%s is empty or too long", bad);
        return;
    }

    slot = ngx_http_pdf_report_creds_slot(cr, 1);
    if (slot == NULL) {
        return;
    }

    ngx_cpystrn((u_char *) t->creds.access_key, (u_char *) id,
                sizeof(t->creds.access_key));
    ngx_cpystrn((u_char *) t->creds.secret_key, (u_char *) secret,
                sizeof(t->creds.secret_key));

    if (token != NULL) {
        ngx_cpystrn((u_char *) t->creds.session_token, (u_char *) token,
                    sizeof(t->creds.session_token));
    }

    t->now = ngx_time();

    if (ngx_http_pdf_report_creds_update(cr, slot,
                                         ngx_http_pdf_report_creds_set, t)
        == NGX_OK)
    {
        n = ngx_strlen(id);

        ngx_log_error(NGX_LOG_NOTICE, cr->log, 0,
                      "pdf_report: S3 credentials loaded from the "
                      "environment: access key id ending \"%s\"%s",
                      id + (n > 4 ? n - 4 : 0),
                      token != NULL ? ", with a session token" : "");
    }

    ngx_explicit_memzero(t, sizeof(ngx_http_pdf_report_creds_task_t));
}


/* every second: is a fetch due, and is it this worker's to make */

static void
ngx_http_pdf_report_creds_tick(ngx_event_t *ev)
{
    time_t                             now;
    ngx_int_t                          rc;
    ngx_uint_t                         due;
    ngx_http_pdf_report_creds_t       *cr;
    ngx_http_pdf_report_creds_slot_t  *slot;
    ngx_http_pdf_report_creds_data_t   d;

    cr = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_PDF_REPORT_CREDS_TICK);

    if (cr->busy || cr->no_source) {
        return;
    }

    now = ngx_time();

    rc = ngx_http_pdf_report_creds_read(cr, &d, 0);

    switch (cr->kind) {

    case NGX_HTTP_PDF_REPORT_CREDS_ENV:

        /* the slot was given to another source: fill it again */
        if (rc != NGX_OK || !d.valid) {
            ngx_http_pdf_report_creds_publish_env(cr);
        }

        return;

    case NGX_HTTP_PDF_REPORT_CREDS_FILE:
        due = ngx_http_pdf_report_creds_file_changed(cr, &d, rc == NGX_OK);
        break;

    default:
        due = (rc != NGX_OK || !d.valid
               || (d.refresh != 0 && now >= d.refresh))
              && !(rc == NGX_OK && d.retry > now);
    }

    if (!due) {
        return;
    }

    slot = ngx_http_pdf_report_creds_slot(cr, 1);

    if (slot != NULL) {
        ngx_http_pdf_report_creds_post(cr, slot, now);
    }
}


/*
 * One stat() a second: another inode, size, mtime or ctime than the file
 * last read means it was replaced or written.  A file read in the second
 * it was written is read once more, as it may have changed again within
 * the same time stamp.
 */

static ngx_uint_t
ngx_http_pdf_report_creds_file_changed(ngx_http_pdf_report_creds_t *cr,
    ngx_http_pdf_report_creds_data_t *d, ngx_uint_t have)
{
    ngx_file_info_t             fi;
    pdf_report_creds_file_id_t  id;

    if (!have || d->racy) {
        return 1;
    }

    if (ngx_file_info(cr->file, &fi) == NGX_FILE_ERROR) {
        ngx_memzero(&fi, sizeof(ngx_file_info_t));
    }

    pdf_report_creds_file_id(&fi, &id);

    return ngx_memcmp(&id, &d->file, sizeof(pdf_report_creds_file_id_t))
           != 0;
}


static void
ngx_http_pdf_report_creds_post(ngx_http_pdf_report_creds_t *cr,
    ngx_http_pdf_report_creds_slot_t *slot, time_t now)
{
    ngx_atomic_uint_t                  lease;
    ngx_http_pdf_report_creds_task_t  *t;

    /* one fetch at a time in all workers: a lease that runs out */
    lease = slot->lease;

    if ((time_t) lease > now
        || !ngx_atomic_cmp_set(&slot->lease, lease,
                               (ngx_atomic_uint_t) (now
                                       + NGX_HTTP_PDF_REPORT_CREDS_LEASE)))
    {
        return;
    }

    t = cr->task->ctx;
    ngx_memzero(t, sizeof(ngx_http_pdf_report_creds_task_t));
    t->cr = cr;
    t->slot = slot;

    if (ngx_thread_task_post(cr->pmcf->render_pool.pool, cr->task)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, cr->log, 0,
                      "pdf_report: thread pool \"%V\" refused the S3 "
                      "credentials fetch; it is tried again shortly",
                      &cr->pmcf->render_pool.name);
        slot->lease = 0;
        return;
    }

    cr->busy = 1;
}


/* ---- in a pool thread: the source, then the slot ---- */

static void
ngx_http_pdf_report_creds_fetch(void *data, ngx_log_t *log)
{
    ngx_http_pdf_report_creds_task_t  *t = data;

    int                                rc;
    char                               auth[PDF_REPORT_CREDS_AUTH_MAX];
    const char                        *token;
    ngx_http_pdf_report_creds_t       *cr;
    pdf_report_creds_fetch_t           f;
    ngx_http_pdf_report_creds_data_t   d;

    cr = t->cr;
    t->now = time(NULL);

    ngx_memzero(&f, sizeof(pdf_report_creds_fetch_t));
    f.cancelled = ngx_http_pdf_report_creds_cancelled;

    if (ngx_http_pdf_report_creds_read(cr, &d, 1) == NGX_OK) {
        t->imds = d.imds;

        if (d.valid) {
            t->was_valid = 1;
            t->old_expiration = d.expiration;
            ngx_cpystrn((u_char *) t->old_key, (u_char *) d.creds.access_key,
                        sizeof(t->old_key));
        }
    }

    ngx_explicit_memzero(&d, sizeof(ngx_http_pdf_report_creds_data_t));

    switch (cr->kind) {

    case NGX_HTTP_PDF_REPORT_CREDS_FILE:
        rc = pdf_report_creds_file(cr->file, cr->profile, &t->creds,
                                   &t->file, f.err, sizeof(f.err));
        t->racy = ngx_http_pdf_report_creds_racy(&t->file, t->now);
        break;

    case NGX_HTTP_PDF_REPORT_CREDS_IMDS:
        rc = pdf_report_creds_imds(cr->endpoint, &t->imds, &f, &t->creds);
        break;

    default: /* NGX_HTTP_PDF_REPORT_CREDS_ECS */
        token = cr->auth;
        rc = 0;

        if (cr->auth_file != NULL) {
            rc = pdf_report_creds_auth_file(cr->auth_file, auth, sizeof(auth),
                                            f.err, sizeof(f.err));
            token = auth;
        }

        if (rc == 0) {
            rc = pdf_report_creds_container(cr->endpoint, token, &f,
                                            &t->creds);
        }

        OPENSSL_cleanse(auth, sizeof(auth));
    }

    t->ok = (rc == 0);
    t->token_refused = f.token_refused;

    if (t->ok) {
        t->changed = !t->was_valid
                     || ngx_strcmp(t->old_key, t->creds.access_key) != 0;
        t->expiration = t->creds.expiration;

        (void) ngx_http_pdf_report_creds_update(cr, t->slot,
                                         ngx_http_pdf_report_creds_fetched,
                                         t);

    } else {
        ngx_cpystrn((u_char *) t->err, (u_char *) f.err, sizeof(t->err));

        (void) ngx_http_pdf_report_creds_update(cr, t->slot,
                                         ngx_http_pdf_report_creds_failed,
                                         t);
    }

    ngx_cpystrn((u_char *) t->role, (u_char *) f.role, sizeof(t->role));

    /* the end of the key id for the log, nothing else of it is kept */
    rc = (int) ngx_strlen(t->creds.access_key);
    ngx_cpystrn((u_char *) t->key,
                (u_char *) t->creds.access_key + (rc > 4 ? rc - 4 : 0),
                sizeof(t->key));

    OPENSSL_cleanse(&t->creds, sizeof(pdf_report_s3_creds_t));
    OPENSSL_cleanse(&t->imds, sizeof(pdf_report_imds_token_t));

    ngx_memory_barrier();
    t->slot->lease = 0;
}


/* under the slot's lock: quick, no I/O */

static void
ngx_http_pdf_report_creds_fetched(ngx_http_pdf_report_creds_data_t *d,
    void *arg)
{
    ngx_http_pdf_report_creds_task_t  *t = arg;

    t->failures = d->failures;

    ngx_http_pdf_report_creds_set(d, t);

    if (t->cr->kind == NGX_HTTP_PDF_REPORT_CREDS_IMDS) {
        d->imds = t->imds;
    }
}


static void
ngx_http_pdf_report_creds_failed(ngx_http_pdf_report_creds_data_t *d,
    void *arg)
{
    ngx_http_pdf_report_creds_task_t  *t = arg;

    d->failures++;
    d->retry = t->now + pdf_report_creds_backoff((unsigned) d->failures);

    t->failures = d->failures;
    t->retry = d->retry;

    switch (t->cr->kind) {

    case NGX_HTTP_PDF_REPORT_CREDS_FILE:
        /* this state of the file was seen: not read again until it moves */
        d->file = t->file;
        d->racy = t->racy;
        break;

    case NGX_HTTP_PDF_REPORT_CREDS_IMDS:
        /* a new token may have been taken, or a refused one dropped */
        d->imds = t->imds;
        break;

    default:
        break;
    }
}


static void
ngx_http_pdf_report_creds_set(ngx_http_pdf_report_creds_data_t *d,
    void *arg)
{
    ngx_http_pdf_report_creds_task_t  *t = arg;

    d->creds = t->creds;
    d->expiration = t->creds.expiration;
    d->valid = 1;
    d->generation++;
    d->fetched = t->now;
    d->refresh = pdf_report_creds_refresh_at(t->now, t->creds.expiration);
    d->retry = 0;
    d->failures = 0;
    d->file = t->file;
    d->racy = t->racy;
}


static int
ngx_http_pdf_report_creds_cancelled(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


/* ---- back on the event loop: what happened goes to the log ---- */

static void
ngx_http_pdf_report_creds_done(ngx_event_t *ev)
{
    ngx_http_pdf_report_creds_task_t  *t = ev->data;

    u_char                        when[PDF_REPORT_ISO8601_LEN + 16];
    u_char                        role[PDF_REPORT_IMDS_ROLE_MAX + 16];
    time_t                        now;
    ngx_uint_t                    level;
    ngx_http_pdf_report_creds_t  *cr;

    cr = t->cr;
    cr->busy = 0;
    now = ngx_time();

    if (t->role[0] != '\0') {
        ngx_snprintf(role, sizeof(role), " (role \"%s\")%Z", t->role);

    } else {
        role[0] = '\0';
    }

    if (t->token_refused) {
        ngx_log_error(NGX_LOG_INFO, cr->log, 0,
                      "pdf_report: IMDS refused its session token (401, it "
                      "expired or was revoked): a new one was taken");
    }

    if (t->ok) {
        when[0] = '\0';

        if (t->expiration != 0) {
            ngx_cpystrn(when, (u_char *) ", expiring ", sizeof(when));
            pdf_report_iso8601((char *) when + 11,
                               (int64_t) t->expiration * 1000);
            when[11 + PDF_REPORT_ISO8601_LEN] = '\0';
        }

        level = (t->changed || t->failures) ? NGX_LOG_NOTICE : NGX_LOG_INFO;

        ngx_log_error(level, cr->log, 0,
                      "pdf_report: S3 credentials %s from %s%s: access key "
                      "id ending \"%s\"%s%s",
                      !t->was_valid ? "loaded"
                      : t->changed ? "changed" : "refreshed",
                      cr->what, role, t->key, when,
                      t->failures ? " (after failed attempts)" : "");

        cr->logged = 0;

        /* jobs waiting for credentials are taken now */
        ngx_http_pdf_report_jobs_kick(cr->pmcf);

        return;
    }

    if (t->failures > 1
        && now - cr->logged < NGX_HTTP_PDF_REPORT_CREDS_WINDOW)
    {
        return;
    }

    cr->logged = now;

    level = (t->failures == 1) ? NGX_LOG_ERR : NGX_LOG_WARN;

    /* a file is read again when it changes, not on a schedule */
    if (cr->kind == NGX_HTTP_PDF_REPORT_CREDS_FILE) {
        ngx_log_error(level, cr->log, 0,
                      "pdf_report: cannot read S3 credentials from %s: "
                      "%s%s; the ones read before stay in use, and the "
                      "file is read again when it changes", cr->what,
                      t->err,
                      ngx_strstr(t->err, "(13: ") != NULL
                      ? " (the workers' user must be able to read it for "
                        "a change to be taken without a reload)" : "");
        return;
    }

    ngx_log_error(level, cr->log, 0,
                  "pdf_report: cannot fetch S3 credentials from %s%s: %s; "
                  "%s (%ui attempt(s) in a row, the next in %T s)",
                  cr->what, role, t->err,
                  t->was_valid && (t->old_expiration == 0
                                   || t->old_expiration > now)
                  ? "the last ones are used until they expire"
                  : "uploads wait and step 3 answers 503 meanwhile",
                  t->failures, t->retry - t->now);
}


/* ---- what the rest of the module asks, from any thread ---- */

/*
 * The credentials to sign with now: 0 with creds, or NGX_DECLINED with
 * the seconds after which to ask again.
 */

ngx_int_t
ngx_http_pdf_report_creds_get(ngx_http_pdf_report_creds_t *cr,
    pdf_report_s3_creds_t *creds, time_t *retry_after)
{
    time_t                            now, wait;
    ngx_int_t                         rc;
    ngx_http_pdf_report_creds_data_t  d;

    now = time(NULL);

    rc = ngx_http_pdf_report_creds_read(cr, &d, creds != NULL);

    if (rc == NGX_OK && d.valid
        && (d.expiration == 0
            || d.expiration - now >= NGX_HTTP_PDF_REPORT_CREDS_MIN))
    {
        if (creds != NULL) {
            ngx_memcpy(creds, &d.creds, sizeof(pdf_report_s3_creds_t));
            ngx_http_pdf_report_creds_wipe(&d);
        }

        return NGX_OK;
    }

    ngx_http_pdf_report_creds_wipe(&d);

    if (retry_after != NULL) {
        wait = (rc == NGX_OK && d.retry > now) ? d.retry - now : 1;

        *retry_after = ngx_min(wait, NGX_HTTP_PDF_REPORT_CREDS_RETRY);
    }

    return NGX_DECLINED;
}


/* pdf_report_s3_conf_t.credentials: a PUT or DELETE about to be signed */

int
ngx_http_pdf_report_creds_source(void *data, pdf_report_s3_creds_t *creds)
{
    return ngx_http_pdf_report_creds_get(data, creds, NULL) == NGX_OK
           ? 0 : -1;
}


ngx_uint_t
ngx_http_pdf_report_creds_ready(ngx_http_pdf_report_creds_t *cr)
{
    return ngx_http_pdf_report_creds_get(cr, NULL, NULL) == NGX_OK;
}


/* ---- the table ---- */

/*
 * The slot of this source, or with claim a free one, else the one
 * written the longest ago (a source no running configuration names any
 * more, after many reloads with other sources).
 */

static ngx_http_pdf_report_creds_slot_t *
ngx_http_pdf_report_creds_slot(ngx_http_pdf_report_creds_t *cr,
    ngx_uint_t claim)
{
    ngx_uint_t                         i;
    ngx_atomic_uint_t                  old;
    ngx_http_pdf_report_creds_slot_t  *slot, *oldest;

    if (cr->shm == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_HTTP_PDF_REPORT_CREDS_SLOTS; i++) {
        if (cr->shm->slots[i].source == cr->source) {
            return &cr->shm->slots[i];
        }
    }

    if (!claim) {
        return NULL;
    }

    oldest = &cr->shm->slots[0];

    for (i = 0; i < NGX_HTTP_PDF_REPORT_CREDS_SLOTS; i++) {
        slot = &cr->shm->slots[i];

        if (slot->source == 0) {
            oldest = slot;
            break;
        }

        if (slot->d.published < oldest->d.published) {
            oldest = slot;
        }
    }

    /* taken and emptied under the lock: no reader sees another's keys */

    slot = oldest;
    ngx_http_pdf_report_creds_lock(slot);

    old = slot->source;

    if (old == cr->source) {
        ngx_http_pdf_report_creds_unlock(slot);
        return slot;
    }

    /* another process claimed one for this source meanwhile */
    for (i = 0; i < NGX_HTTP_PDF_REPORT_CREDS_SLOTS; i++) {
        if (cr->shm->slots[i].source == cr->source) {
            ngx_http_pdf_report_creds_unlock(slot);
            return &cr->shm->slots[i];
        }
    }

    slot->seq |= 1;
    ngx_memory_barrier();

    slot->source = cr->source;
    ngx_explicit_memzero(&slot->d, sizeof(ngx_http_pdf_report_creds_data_t));
    slot->d.published = time(NULL);
    slot->lease = 0;

    ngx_memory_barrier();
    slot->seq++;

    ngx_http_pdf_report_creds_unlock(slot);

    return slot;
}


/*
 * A copy of this source's slot, the keys too when asked: NGX_OK, or
 * NGX_DECLINED when no slot has it.  A copy made while a writer wrote is
 * made again; after many tries (a writer died writing) there is none.
 */

static ngx_int_t
ngx_http_pdf_report_creds_read(ngx_http_pdf_report_creds_t *cr,
    ngx_http_pdf_report_creds_data_t *d, ngx_uint_t with_keys)
{
    size_t                             size;
    ngx_uint_t                         i;
    ngx_atomic_uint_t                  seq;
    ngx_http_pdf_report_creds_slot_t  *slot;

    size = with_keys ? sizeof(ngx_http_pdf_report_creds_data_t)
                     : offsetof(ngx_http_pdf_report_creds_data_t, creds);

    ngx_memzero(d, sizeof(ngx_http_pdf_report_creds_data_t));

    for (i = 0; i < 10000; i++) {
        slot = ngx_http_pdf_report_creds_slot(cr, 0);
        if (slot == NULL) {
            return NGX_DECLINED;
        }

        seq = slot->seq;

        if (seq & 1) {
            ngx_cpu_pause();
            continue;
        }

        ngx_memory_barrier();

        ngx_memcpy(d, &slot->d, size);

        ngx_memory_barrier();

        if (slot->seq == seq && slot->source == cr->source) {
            return NGX_OK;
        }
    }

    OPENSSL_cleanse(d, sizeof(ngx_http_pdf_report_creds_data_t));

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_pdf_report_creds_update(ngx_http_pdf_report_creds_t *cr,
    ngx_http_pdf_report_creds_slot_t *slot,
    ngx_http_pdf_report_creds_update_pt update, void *arg)
{
    ngx_atomic_uint_t  seq;

    ngx_http_pdf_report_creds_lock(slot);

    /* given to another source meanwhile: what was fetched is not its */
    if (slot->source != cr->source) {
        ngx_http_pdf_report_creds_unlock(slot);
        return NGX_DECLINED;
    }

    /* odd while written, even if a writer died with it odd */
    seq = slot->seq | 1;
    slot->seq = seq;
    ngx_memory_barrier();

    update(&slot->d, arg);
    slot->d.published = time(NULL);

    ngx_memory_barrier();
    slot->seq = seq + 1;

    ngx_http_pdf_report_creds_unlock(slot);

    return NGX_OK;
}


/*
 * Held for one copy of a few kilobytes.  A holder that takes this long
 * was killed while it held it: the lock is taken from a process that is
 * gone.
 */

static void
ngx_http_pdf_report_creds_lock(ngx_http_pdf_report_creds_slot_t *slot)
{
    ngx_uint_t         n;
    ngx_atomic_uint_t  holder;

    for (n = 0; /* void */; n++) {
        holder = slot->lock;

        if (holder == 0
            && ngx_atomic_cmp_set(&slot->lock, 0, (ngx_atomic_uint_t) ngx_pid))
        {
            return;
        }

        if (n < 4096) {
            ngx_cpu_pause();
            continue;
        }

        if (holder != 0 && kill((ngx_pid_t) holder, 0) == -1
            && ngx_errno == NGX_ESRCH
            && ngx_atomic_cmp_set(&slot->lock, holder,
                                  (ngx_atomic_uint_t) ngx_pid))
        {
            return;
        }

        ngx_sched_yield();
    }
}


static void
ngx_http_pdf_report_creds_unlock(ngx_http_pdf_report_creds_slot_t *slot)
{
    ngx_memory_barrier();
    slot->lock = 0;
}


/* a file written in the second it was read (or later) is read again */

static ngx_uint_t
ngx_http_pdf_report_creds_racy(pdf_report_creds_file_id_t *id, time_t now)
{
    return id->ino != 0 && id->mtime_ns / 1000000000 >= now - 1;
}


static char *
ngx_http_pdf_report_creds_strdup(ngx_pool_t *pool, const char *s)
{
    char    *p;
    size_t   n;

    n = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, n);
    if (p != NULL) {
        ngx_memcpy(p, s, n);
    }

    return p;
}
