
/*
 * The LMDB store's webhook events (pdf_report_store.h, "webhooks"): one
 * entry a job in "hooks", recorded with the job's end in the same write
 * transaction, so that no crash loses an event; taken with a lease by a
 * delivery pass and removed once delivered or given up.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>

#include <jansson.h>

#include "pdf_report_store_int.h"


/* entries one take looks at, so a backlog of one org costs a bounded walk */
#define PDF_REPORT_HOOK_WALK_MAX  4096

/* attempts u32, ended_ms i64, org length u8 */
#define PDF_REPORT_HOOK_FIXED     (4 + 8 + 1)


static int pdf_report_hook_body(const pdf_report_job_t *job, int64_t at_ms,
    char *dst, size_t *len);
static int pdf_report_hook_decode(const MDB_val *k, const MDB_val *v,
    pdf_report_hook_t *h);
static int pdf_report_hook_write(pdf_report_store_t *store, MDB_txn *txn,
    int64_t due_ms, const pdf_report_hook_t *h, uint32_t attempts);


void
pdf_report_store_set_webhooks(pdf_report_store_t *store,
    const pdf_report_webhooks_t *webhooks)
{
    store->webhooks = webhooks;
}


int
pdf_report_hook_put(pdf_report_store_t *store, MDB_txn *txn,
    const pdf_report_job_t *job, int64_t now_ms)
{
    pdf_report_hook_t  h;

    if (pdf_report_webhooks_find(store->webhooks, job->org) == NULL) {
        return 0;
    }

    memcpy(h.id, job->id, sizeof(h.id));
    memcpy(h.org, job->org, sizeof(h.org));
    h.ended_ms = now_ms;

    if (pdf_report_hook_body(job, now_ms, h.body, &h.len) != 0) {
        return ENOMEM;
    }

    return pdf_report_hook_write(store, txn, now_ms, &h, 0);
}


/*
 * {"type", "timestamp", "data"}: data is the job as step 2 shows it
 * (the same members in the same order, in ngx_http_pdf_report_status()).
 */

static int
pdf_report_hook_body(const pdf_report_job_t *job, int64_t at_ms, char *dst,
    size_t *len)
{
    int      rc;
    char     ts[PDF_REPORT_ISO8601_LEN + 1], hex[PDF_REPORT_SHA256_HEX + 1];
    char     created[PDF_REPORT_ISO8601_LEN + 1];
    char     updated[PDF_REPORT_ISO8601_LEN + 1];
    char     completed[PDF_REPORT_ISO8601_LEN + 1];
    size_t   n;
    json_t  *ev, *data;

    pdf_report_iso8601(ts, at_ms);
    ts[PDF_REPORT_ISO8601_LEN] = '\0';
    pdf_report_iso8601(created, job->created_ms);
    created[PDF_REPORT_ISO8601_LEN] = '\0';
    pdf_report_iso8601(updated, job->updated_ms);
    updated[PDF_REPORT_ISO8601_LEN] = '\0';
    pdf_report_iso8601(completed, job->completed_ms);
    completed[PDF_REPORT_ISO8601_LEN] = '\0';

    data = json_object();
    ev = json_object();

    if (data == NULL || ev == NULL) {
        json_decref(data);
        json_decref(ev);
        return -1;
    }

    rc = json_object_set_new(data, "jobId", json_string(job->id))
         | json_object_set_new(data, "status",
                               json_string(pdf_report_status_name(
                                               job->status)))
         | json_object_set_new(data, "userId", json_string(job->user));

    if (job->status == PDF_REPORT_COMPLETE) {
        pdf_report_hex(hex, job->sha256, PDF_REPORT_SHA256_LEN);
        hex[PDF_REPORT_SHA256_HEX] = '\0';

        rc |= json_object_set_new(data, "templateVersion",
                                  json_string(job->template_version))
              | json_object_set_new(data, "sizeBytes",
                                    json_integer((json_int_t)
                                                 job->size_bytes))
              | json_object_set_new(data, "sha256", json_string(hex))
              | json_object_set_new(data, "durationMs",
                                    json_integer(job->duration_ms));

    } else {
        rc |= json_object_set_new(data, "errorCode",
                                  json_string(job->error_code))
              | json_object_set_new(data, "errorMessage",
                                    json_string(job->error_message));
    }

    rc |= json_object_set_new(data, "createdAt", json_string(created))
          | json_object_set_new(data, "updatedAt", json_string(updated));

    if (job->status == PDF_REPORT_COMPLETE) {
        rc |= json_object_set_new(data, "completedAt",
                                  json_string(completed));
    }

    rc |= json_object_set_new(ev, "type",
                              json_string(job->status == PDF_REPORT_COMPLETE
                                          ? "report.completed"
                                          : "report.failed"))
          | json_object_set_new(ev, "timestamp", json_string(ts))
          | json_object_set_new(ev, "data", data);

    n = (rc == 0) ? json_dumpb(ev, dst, PDF_REPORT_HOOK_BODY_MAX,
                               JSON_COMPACT | JSON_PRESERVE_ORDER)
                  : 0;

    json_decref(ev);

    if (n == 0 || n > PDF_REPORT_HOOK_BODY_MAX) {
        return -1;
    }

    *len = n;

    return 0;
}


static int
pdf_report_hook_write(pdf_report_store_t *store, MDB_txn *txn,
    int64_t due_ms, const pdf_report_hook_t *h, uint32_t attempts)
{
    size_t          olen;
    MDB_val         k, v;
    unsigned char   key[PDF_REPORT_TIME_KEY_LEN];
    unsigned char  *p;
    unsigned char   buf[PDF_REPORT_HOOK_FIXED + PDF_REPORT_ORG_MAX
                        + PDF_REPORT_HOOK_BODY_MAX];

    olen = strlen(h->org);

    p = buf;
    pdf_report_put_u32(p, attempts);
    p += 4;
    pdf_report_put_u64(p, (uint64_t) h->ended_ms);
    p += 8;
    *p++ = (unsigned char) olen;
    memcpy(p, h->org, olen);
    p += olen;
    memcpy(p, h->body, h->len);
    p += h->len;

    pdf_report_time_key(due_ms, h->id, key);

    k.mv_data = key;
    k.mv_size = sizeof(key);
    v.mv_data = buf;
    v.mv_size = (size_t) (p - buf);

    return mdb_put(txn, store->hooks, &k, &v, 0);
}


static int
pdf_report_hook_decode(const MDB_val *k, const MDB_val *v,
    pdf_report_hook_t *h)
{
    size_t                olen;
    const unsigned char  *p;

    if (k->mv_size != PDF_REPORT_TIME_KEY_LEN
        || v->mv_size < PDF_REPORT_HOOK_FIXED)
    {
        return -1;
    }

    p = v->mv_data;
    olen = p[12];

    if (olen > PDF_REPORT_ORG_MAX
        || v->mv_size < PDF_REPORT_HOOK_FIXED + olen
        || v->mv_size - PDF_REPORT_HOOK_FIXED - olen
           > PDF_REPORT_HOOK_BODY_MAX)
    {
        return -1;
    }

    memcpy(h->id, (const char *) k->mv_data + 8, PDF_REPORT_UUID_LEN);
    h->id[PDF_REPORT_UUID_LEN] = '\0';
    h->lease_ms = (int64_t) pdf_report_get_u64(k->mv_data);

    h->attempts = pdf_report_get_u32(p);
    h->ended_ms = (int64_t) pdf_report_get_u64(p + 4);
    memcpy(h->org, p + PDF_REPORT_HOOK_FIXED, olen);
    h->org[olen] = '\0';

    h->len = v->mv_size - PDF_REPORT_HOOK_FIXED - olen;
    memcpy(h->body, p + PDF_REPORT_HOOK_FIXED + olen, h->len);

    h->outcome = 0;
    h->next_ms = 0;

    return 0;
}


int
pdf_report_store_hooks_due(pdf_report_store_t *store, int64_t now_ms)
{
    int       rc;
    MDB_txn  *txn;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_first_due(txn, store->hooks, now_ms);

    mdb_txn_abort(txn);

    return rc == MDB_NOTFOUND ? 0 : rc;
}


int
pdf_report_store_hooks_take(pdf_report_store_t *store, int64_t now_ms,
    int64_t lease_ms, int (*room)(void *data, const char *org), void *data,
    pdf_report_hook_t *items, size_t max, size_t *n, unsigned *more)
{
    int                 rc;
    size_t              walked;
    MDB_txn            *txn;
    MDB_val             k, v;
    MDB_cursor         *cur;
    pdf_report_hook_t  *h;
    unsigned char       key[PDF_REPORT_TIME_KEY_LEN];

    *n = 0;
    *more = 0;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_cursor_open(txn, store->hooks, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }

    walked = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);

    while (rc == 0) {
        if (k.mv_size != PDF_REPORT_TIME_KEY_LEN
            || (int64_t) pdf_report_get_u64(k.mv_data) > now_ms)
        {
            break;
        }

        if (*n == max || ++walked > PDF_REPORT_HOOK_WALK_MAX) {
            *more = 1;
            break;
        }

        /* the key's bytes live in the page a write may change */
        memcpy(key, k.mv_data, sizeof(key));
        h = &items[*n];

        /* an entry this module cannot read is dropped, not retried */
        if (pdf_report_hook_decode(&k, &v, h) != 0) {
            rc = mdb_cursor_del(cur, 0);

        } else if (room != NULL && !room(data, h->org)) {
            *more = 1;

        } else {
            /* leased: the entry moves to now + lease */
            rc = mdb_cursor_del(cur, 0);

            if (rc == 0) {
                h->lease_ms = now_ms + lease_ms;
                rc = pdf_report_hook_write(store, txn, h->lease_ms, h,
                                           h->attempts);
            }

            if (rc == 0) {
                (*n)++;
            }
        }

        if (rc != 0) {
            break;
        }

        /* on past this key, whether it is still there or not */
        k.mv_data = key;
        k.mv_size = sizeof(key);

        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);

        if (rc == 0 && k.mv_size == sizeof(key)
            && memcmp(k.mv_data, key, sizeof(key)) == 0)
        {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }

    mdb_cursor_close(cur);

    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }

    return pdf_report_commit(txn, rc);
}


int
pdf_report_store_hooks_done(pdf_report_store_t *store,
    const pdf_report_hook_t *items, size_t n)
{
    int                       rc;
    size_t                    i;
    MDB_txn                  *txn;
    MDB_val                   k, v;
    unsigned char             key[PDF_REPORT_TIME_KEY_LEN];
    const pdf_report_hook_t  *h;

    rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }

    for (i = 0; rc == 0 && i < n; i++) {
        h = &items[i];

        pdf_report_time_key(h->lease_ms, h->id, key);
        k.mv_data = key;
        k.mv_size = sizeof(key);

        /* not under our lease any more: another pass has it */
        rc = mdb_get(txn, store->hooks, &k, &v);

        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }

        if (rc == 0) {
            rc = mdb_del(txn, store->hooks, &k, NULL);
        }

        if (rc != 0) {
            break;
        }

        if (h->outcome == PDF_REPORT_HOOK_RETRY) {
            rc = pdf_report_hook_write(store, txn, h->next_ms, h,
                                       h->attempts + 1);

        } else if (h->outcome == PDF_REPORT_HOOK_UNTRIED) {
            rc = pdf_report_hook_write(store, txn, h->next_ms, h,
                                       h->attempts);
        }
    }

    return pdf_report_commit(txn, rc);
}


int
pdf_report_store_hooks_count(pdf_report_store_t *store, size_t *n)
{
    int       rc;
    MDB_txn  *txn;
    MDB_stat  st;

    *n = 0;

    rc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }

    rc = mdb_stat(txn, store->hooks, &st);
    if (rc == 0) {
        *n = st.ms_entries;
    }

    mdb_txn_abort(txn);

    return rc;
}
