
/*
 * The verified-token cache: a hit gives back what was put, exp with the
 * leeway ends a hit, a token one byte different misses, a one-slot cache
 * keeps the newest token only, and claims too long to keep are not.
 */


#include <stdlib.h>

#include "tap.h"
#include "pdf_report_jwt_cache.h"


#define T1   "eyJhbGciOiJSUzI1NiJ9.eyJvcmdfaWQiOiJvcmdfYWNtZSJ9.c2ln"
#define T2   "eyJhbGciOiJSUzI1NiJ9.eyJvcmdfaWQiOiJvcmdfYWNtZSJ9.c2lo"
#define NOW  1750000000


static void
claims_of(pdf_report_jwt_claims_t *c, const char *org, const char *scopes,
    int64_t exp)
{
    memset(c, 0, sizeof(pdf_report_jwt_claims_t));
    snprintf(c->org, sizeof(c->org), "%s", org);
    snprintf(c->scopes, sizeof(c->scopes), "%s", scopes);
    c->exp = exp;
}


int
main(void)
{
    unsigned char             key[PDF_REPORT_JWT_CACHE_KEY],
                              key2[PDF_REPORT_JWT_CACHE_KEY];
    char                      long_scopes[PDF_REPORT_JWT_CACHE_SCOPES + 2];
    pdf_report_jwt_cache_t   *c, *one;
    pdf_report_jwt_claims_t   in, out;

    ok(pdf_report_jwt_cache_create(0) == NULL, "no slots: refused");

    c = pdf_report_jwt_cache_create(1000);
    ok(c != NULL, "a cache of 1000 slots");

    if (c == NULL) {
        return done_testing();
    }

    ok(pdf_report_jwt_cache_size(c) > 1024 * 400
       && pdf_report_jwt_cache_size(c) < 1024 * 1024,
       "rounded up to 1024 slots: %zu bytes", pdf_report_jwt_cache_size(c));

    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 30, &out, key),
           0, "an unknown token misses");

    claims_of(&in, "org_acme", "read:reports write:reports", NOW + 3600);
    pdf_report_jwt_cache_put(c, key, &in);

    memset(&out, 0x55, sizeof(out));
    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW + 10, 30, &out,
                                    key), 1, "then hits");
    is_str(out.org, "org_acme", "the org");
    is_str(out.scopes, "read:reports write:reports", "the scopes");
    is_int(out.exp, NOW + 3600, "exp");
    is_str(out.reason, "", "no reason");

    is_int(pdf_report_jwt_cache_get(c, T2, strlen(T2), NOW, 30, &out, key2),
           0, "a token one byte different misses");
    ok(memcmp(key, key2, sizeof(key)) != 0, "and has another key");
    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1) - 1, NOW, 30, &out,
                                    key2), 0, "so does a prefix");

    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW + 3630, 30, &out,
                                    key), 1, "a hit at exp + leeway");
    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW + 3631, 30, &out,
                                    key), 0, "a miss one second later");
    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 30, &out, key),
           0, "and the entry is gone, whatever the clock says");

    /* never expires: no overflow in exp + leeway */
    claims_of(&in, "org_acme", "read:reports", INT64_MAX);
    pdf_report_jwt_cache_put(c, key, &in);
    is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 30, &out, key),
           1, "exp at INT64_MAX hits");

    /* too long to keep: verified every time */
    memset(long_scopes, 's', sizeof(long_scopes) - 1);
    long_scopes[sizeof(long_scopes) - 1] = '\0';
    claims_of(&in, "org_acme", long_scopes, NOW + 3600);
    (void) pdf_report_jwt_cache_get(c, T2, strlen(T2), NOW, 30, &out, key2);
    pdf_report_jwt_cache_put(c, key2, &in);
    is_int(pdf_report_jwt_cache_get(c, T2, strlen(T2), NOW, 30, &out, key2),
           0, "scopes over %d bytes are not kept",
           PDF_REPORT_JWT_CACHE_SCOPES);

    pdf_report_jwt_cache_free(c);

    /* one slot: the newest token takes it */
    one = pdf_report_jwt_cache_create(1);
    ok(one != NULL, "a cache of one slot");

    if (one != NULL) {
        claims_of(&in, "org_a", "read:reports", NOW + 3600);
        (void) pdf_report_jwt_cache_get(one, T1, strlen(T1), NOW, 0, &out,
                                        key);
        pdf_report_jwt_cache_put(one, key, &in);

        claims_of(&in, "org_b", "read:reports", NOW + 3600);
        (void) pdf_report_jwt_cache_get(one, T2, strlen(T2), NOW, 0, &out,
                                        key2);
        pdf_report_jwt_cache_put(one, key2, &in);

        is_int(pdf_report_jwt_cache_get(one, T1, strlen(T1), NOW, 0, &out,
                                        key), 0, "the first token was put out");
        is_int(pdf_report_jwt_cache_get(one, T2, strlen(T2), NOW, 0, &out,
                                        key2), 1, "the second is there");
        is_str(out.org, "org_b", "with its own org, never the other's");

        pdf_report_jwt_cache_free(one);
    }

    pdf_report_jwt_cache_free(NULL);
    ok(1, "freeing NULL is harmless");

    return done_testing();
}
