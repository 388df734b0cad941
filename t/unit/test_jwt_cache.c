
/*
 * The verified-token cache: a hit gives back what was put, exp with the
 * leeway ends a hit, a token one byte different misses, a one-slot cache
 * keeps the newest token only, claims too long to keep are not, 1,000
 * tokens all stay in 4,096 slots, a full set gives up the token that
 * expires first, and a cleared cache holds nothing.
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


/* token i: distinct texts, so distinct SHA-256 keys; 1 on a hit */
static int
get_token(pdf_report_jwt_cache_t *c, int i, unsigned char *key)
{
    char                     tok[128];
    pdf_report_jwt_claims_t  out;

    snprintf(tok, sizeof(tok), "%s.%d", T1, i);

    return pdf_report_jwt_cache_get(c, tok, strlen(tok), NOW, 0, &out, key);
}


/* token i verified: kept until exp, under the key given back */
static void
put_token(pdf_report_jwt_cache_t *c, int i, int64_t exp, unsigned char *key)
{
    pdf_report_jwt_claims_t  in;

    claims_of(&in, "org_a", "read:reports", exp);
    (void) get_token(c, i, key);
    pdf_report_jwt_cache_put(c, key, &in);
}


static void
test_sets(void)
{
    int                      i, hits, kept;
    pdf_report_jwt_cache_t  *c;
    unsigned char            key[PDF_REPORT_JWT_CACHE_KEY];
    unsigned char            first[PDF_REPORT_JWT_CACHE_KEY];

    /* 1,000 orgs' tokens, each put once, then each polled */
    c = pdf_report_jwt_cache_create(4096);
    ok(c != NULL, "a cache of 4096 slots");

    if (c == NULL) {
        return;
    }

    for (i = 0; i < 1000; i++) {
        put_token(c, i, NOW + 3600, key);
    }

    hits = 0;

    for (i = 0; i < 1000; i++) {
        hits += get_token(c, i, key);
    }

    is_int(hits, 1000, "all 1000 tokens hit in 4096 slots of 4 ways");

    pdf_report_jwt_cache_free(c);

    /*
     * Four slots are one set: five tokens, the first expiring soonest;
     * the fifth puts out the first only, the other four stay.
     */
    c = pdf_report_jwt_cache_create(4);
    ok(c != NULL, "a cache of one set");

    if (c == NULL) {
        return;
    }

    for (i = 0; i < 5; i++) {
        put_token(c, i, NOW + (i == 0 ? 60 : 3600 + i),
                  (i == 0) ? first : key);
    }

    is_int(get_token(c, 0, key), 0,
           "the soonest to expire was put out of the full set");
    ok(memcmp(first, key, sizeof(key)) == 0, "(its key as computed)");

    kept = 0;

    for (i = 1; i < 5; i++) {
        kept += get_token(c, i, key);
    }

    is_int(kept, 4, "the other four tokens are all kept");

    pdf_report_jwt_cache_free(c);
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

    /* emptied: a key set that changed takes every token with it */
    c = pdf_report_jwt_cache_create(16);
    ok(c != NULL, "a cache of 16 slots");

    if (c != NULL) {
        claims_of(&in, "org_a", "read:reports", NOW + 3600);
        (void) pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 0, &out,
                                        key);
        pdf_report_jwt_cache_put(c, key, &in);
        is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 0, &out,
                                        key), 1, "kept");

        pdf_report_jwt_cache_clear(c);
        is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 0, &out,
                                        key), 0, "gone once cleared");

        pdf_report_jwt_cache_put(c, key, &in);
        is_int(pdf_report_jwt_cache_get(c, T1, strlen(T1), NOW, 0, &out,
                                        key), 1, "and kept again after");

        pdf_report_jwt_cache_free(c);
    }

    pdf_report_jwt_cache_clear(NULL);
    ok(1, "clearing NULL (the cache off) is harmless");

    test_sets();

    pdf_report_jwt_cache_free(NULL);
    ok(1, "freeing NULL is harmless");

    return done_testing();
}
