
/*
 * The PostgreSQL store's webhook events (pdf_report_hooks): recorded by
 * the statements that end jobs (PDF_REPORT_PG_FINISH, _SCAN_FAIL and the
 * erasures), for the orgs set here; taken under a lease and done as the
 * LMDB store's (pdf_report_store.h, "webhooks").
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>

#include "pdf_report_pg.h"
#include "pdf_report_pg_int.h"


int
pdf_report_pg_set_webhooks(pdf_report_pg_t *pg,
    const pdf_report_webhooks_t *webhooks)
{
    char        *lit, *p;
    size_t       i, len;
    const char  *o;

    len = 3;

    for (i = 0; webhooks != NULL && i < webhooks->n; i++) {
        len += 2 * strlen(webhooks->hooks[i].org) + 3;
    }

    lit = malloc(len);
    if (lit == NULL) {
        return ENOMEM;
    }

    /* a text[] literal: each org quoted, '"' and '\' escaped */
    p = lit;
    *p++ = '{';

    for (i = 0; webhooks != NULL && i < webhooks->n; i++) {
        if (i > 0) {
            *p++ = ',';
        }

        *p++ = '"';

        for (o = webhooks->hooks[i].org; *o != '\0'; o++) {
            if (*o == '"' || *o == '\\') {
                *p++ = '\\';
            }

            *p++ = *o;
        }

        *p++ = '"';
    }

    *p++ = '}';
    *p = '\0';

    free(pg->hook_orgs);
    pg->hook_orgs = lit;

    return 0;
}


int
pdf_report_pg_hooks_due(pdf_report_pg_t *pg, int64_t now_ms)
{
    int                    rc;
    char                   now[PDF_REPORT_PG_NUM];
    PGresult              *r;
    const char            *vals[1];
    pdf_report_pg_conn_t  *c;

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    pdf_report_pg_num(now, now_ms);
    vals[0] = now;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_HOOKS_DUE, 1, vals);

    if (pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = (strcmp(PQgetvalue(r, 0, 0), "t") == 0);
        PQclear(r);

    } else {
        rc = pdf_report_pg_failed(c, r);
    }

    pdf_report_pg_release(pg, c);

    return rc;
}


/*
 * Three round trips in one transaction: the due candidates locked, the
 * caller's room() asked for each, the chosen ones leased and read.
 */

int
pdf_report_pg_hooks_take(pdf_report_pg_t *pg, int64_t now_ms,
    int64_t lease_ms, int (*room)(void *data, const char *org), void *data,
    pdf_report_hook_t *items, size_t max, size_t *n, unsigned *more)
{
    int                    rc, i, rows;
    char                   now[PDF_REPORT_PG_NUM], until[PDF_REPORT_PG_NUM];
    char                   lim[PDF_REPORT_PG_NUM], *ids, *p;
    size_t                 chosen, len;
    PGresult              *r;
    const char            *vals[2];
    pdf_report_hook_t     *h;
    pdf_report_pg_conn_t  *c;

    *n = 0;
    *more = 0;

    if (max == 0) {
        return 0;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        return rc;
    }

    ids = NULL;
    r = pdf_report_pg_exec(c, PDF_REPORT_PG_BEGIN, 0, NULL);

    if (!pdf_report_pg_ok(r, PGRES_COMMAND_OK)) {
        rc = pdf_report_pg_failed(c, r);
        goto done;
    }

    PQclear(r);

    /* more than max: some may be of orgs without room */
    pdf_report_pg_num(now, now_ms);
    pdf_report_pg_num(lim, (int64_t) (4 * max));
    vals[0] = now;
    vals[1] = lim;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_HOOKS_CANDIDATES, 2, vals);

    if (!pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = pdf_report_pg_failed(c, r);
        goto done;
    }

    rows = PQntuples(r);
    len = 3 + (size_t) rows * (PDF_REPORT_UUID_LEN + 1);

    ids = malloc(len);
    if (ids == NULL) {
        PQclear(r);
        pdf_report_pg_set_error("out of memory");
        rc = PDF_REPORT_PG_ERROR;
        goto done;
    }

    p = ids;
    *p++ = '{';
    chosen = 0;

    for (i = 0; i < rows; i++) {
        if (chosen == max || (room != NULL
                              && !room(data, PQgetvalue(r, i, 1))))
        {
            *more = 1;
            continue;
        }

        if (chosen > 0) {
            *p++ = ',';
        }

        memcpy(p, PQgetvalue(r, i, 0), PDF_REPORT_UUID_LEN);
        p += PDF_REPORT_UUID_LEN;
        chosen++;
    }

    *p++ = '}';
    *p = '\0';

    if ((size_t) rows == 4 * max) {
        *more = 1;
    }

    PQclear(r);

    pdf_report_pg_num(until, now_ms + lease_ms);
    vals[0] = until;
    vals[1] = ids;

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_HOOKS_LEASE, 2, vals);

    if (!pdf_report_pg_ok(r, PGRES_TUPLES_OK)) {
        rc = pdf_report_pg_failed(c, r);
        goto done;
    }

    for (i = 0; i < PQntuples(r) && *n < max; i++) {
        if ((size_t) PQgetlength(r, i, 4) > PDF_REPORT_HOOK_BODY_MAX
            || (size_t) PQgetlength(r, i, 1) > PDF_REPORT_ORG_MAX)
        {
            continue;
        }

        h = &items[(*n)++];
        memset(h, 0, offsetof(pdf_report_hook_t, body));

        snprintf(h->id, sizeof(h->id), "%s", PQgetvalue(r, i, 0));
        snprintf(h->org, sizeof(h->org), "%s", PQgetvalue(r, i, 1));
        h->attempts = (uint32_t) pdf_report_pg_int(r, i, 2);
        h->ended_ms = pdf_report_pg_int(r, i, 3);
        h->lease_ms = now_ms + lease_ms;
        h->len = (size_t) PQgetlength(r, i, 4);
        memcpy(h->body, PQgetvalue(r, i, 4), h->len);
    }

    PQclear(r);

    r = pdf_report_pg_exec(c, PDF_REPORT_PG_COMMIT, 0, NULL);

    if (!pdf_report_pg_ok(r, PGRES_COMMAND_OK)) {
        *n = 0;
        rc = pdf_report_pg_failed(c, r);
        goto done;
    }

    PQclear(r);
    rc = 0;

done:

    /* a failure half way: release() rolls the transaction back */
    if (rc != 0) {
        *n = 0;
    }

    free(ids);
    pdf_report_pg_release(pg, c);

    return rc;
}


int
pdf_report_pg_hooks_done(pdf_report_pg_t *pg,
    const pdf_report_hook_t *items, size_t n)
{
    int                       rc;
    size_t                    i;
    char                     *nums;
    const char               *vals[4];
    const pdf_report_hook_t  *h;
    pdf_report_pg_conn_t     *c;
    pdf_report_pg_pipe_t      p;

    if (n == 0) {
        return 0;
    }

    nums = malloc(n * 2 * PDF_REPORT_PG_NUM);
    if (nums == NULL) {
        pdf_report_pg_set_error("out of memory");
        return PDF_REPORT_PG_ERROR;
    }

    rc = pdf_report_pg_acquire(pg, 1, &c);
    if (rc != 0) {
        free(nums);
        return rc;
    }

    rc = pdf_report_pg_pipe_begin(&p, c, n + 2);
    if (rc != 0) {
        pdf_report_pg_release(pg, c);
        free(nums);
        return rc;
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_BEGIN, 0, NULL);

    for (i = 0; i < n; i++) {
        h = &items[i];

        pdf_report_pg_num(nums + 2 * i * PDF_REPORT_PG_NUM, h->lease_ms);
        pdf_report_pg_num(nums + (2 * i + 1) * PDF_REPORT_PG_NUM,
                          h->next_ms);

        vals[0] = h->id;
        vals[1] = nums + 2 * i * PDF_REPORT_PG_NUM;
        vals[2] = nums + (2 * i + 1) * PDF_REPORT_PG_NUM;
        vals[3] = (h->outcome == PDF_REPORT_HOOK_RETRY) ? "1" : "0";

        if (h->outcome == PDF_REPORT_HOOK_RETRY
            || h->outcome == PDF_REPORT_HOOK_UNTRIED)
        {
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_HOOKS_AGAIN, 4, vals);

        } else {
            pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_HOOKS_GONE, 2, vals);
        }
    }

    pdf_report_pg_pipe_send(&p, PDF_REPORT_PG_COMMIT, 0, NULL);

    rc = pdf_report_pg_pipe_end(&p);

    pdf_report_pg_pipe_free(&p);
    pdf_report_pg_release(pg, c);
    free(nums);

    return rc;
}
