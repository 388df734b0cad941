
/*
 * The verified-token cache; see pdf_report_jwt_cache.h.
 */


#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pdf_report_jwt_cache.h"


#define PDF_REPORT_JWT_CACHE_WAYS  4


typedef struct {
    unsigned char  key[PDF_REPORT_JWT_CACHE_KEY];
    int64_t        exp;
    int            used;
    char           org[PDF_REPORT_JWT_ORG_MAX + 1];
    char           scopes[PDF_REPORT_JWT_CACHE_SCOPES + 1];
} pdf_report_jwt_cache_entry_t;


struct pdf_report_jwt_cache_s {
    size_t                         mask;      /* of the set numbers */
    size_t                         ways;      /* slots a set */
    pdf_report_jwt_cache_entry_t  *entries;
    /* fetched once: EVP_sha256() is looked up again on every digest */
    EVP_MD                        *sha256;
    /* reused: one thread uses a cache, and a context a digest costs */
    EVP_MD_CTX                    *md;
};


static pdf_report_jwt_cache_entry_t *pdf_report_jwt_cache_find(
    pdf_report_jwt_cache_t *cache, const unsigned char *key);
static pdf_report_jwt_cache_entry_t *pdf_report_jwt_cache_set(
    pdf_report_jwt_cache_t *cache, const unsigned char *key);


pdf_report_jwt_cache_t *
pdf_report_jwt_cache_create(size_t n)
{
    size_t                   size;
    pdf_report_jwt_cache_t  *cache;

    if (n == 0 || n > ((size_t) 1 << 24)) {
        return NULL;
    }

    for (size = 1; size < n; size <<= 1) {
        /* void */
    }

    cache = malloc(sizeof(pdf_report_jwt_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    cache->entries = calloc(size, sizeof(pdf_report_jwt_cache_entry_t));
    cache->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    cache->md = EVP_MD_CTX_new();

    if (cache->entries == NULL || cache->sha256 == NULL || cache->md == NULL)
    {
        EVP_MD_CTX_free(cache->md);
        EVP_MD_free(cache->sha256);
        free(cache->entries);
        free(cache);
        return NULL;
    }

    /*
     * Sets of 4: a direct-mapped table of 1,024 slots lost a third of
     * 1,000 tokens to collisions, a 4-way one of 4,096 next to none
     */
    cache->ways = (size < PDF_REPORT_JWT_CACHE_WAYS)
                  ? size : PDF_REPORT_JWT_CACHE_WAYS;
    cache->mask = size / cache->ways - 1;

    return cache;
}


void
pdf_report_jwt_cache_free(pdf_report_jwt_cache_t *cache)
{
    if (cache == NULL) {
        return;
    }

    /* what was verified is no secret, but no token hash outlives us */
    OPENSSL_cleanse(cache->entries,
                    (cache->mask + 1) * cache->ways
                    * sizeof(pdf_report_jwt_cache_entry_t));
    free(cache->entries);
    EVP_MD_CTX_free(cache->md);
    EVP_MD_free(cache->sha256);
    free(cache);
}


size_t
pdf_report_jwt_cache_size(const pdf_report_jwt_cache_t *cache)
{
    return sizeof(pdf_report_jwt_cache_t)
           + (cache->mask + 1) * cache->ways
             * sizeof(pdf_report_jwt_cache_entry_t);
}


int
pdf_report_jwt_cache_get(pdf_report_jwt_cache_t *cache, const char *token,
    size_t len, int64_t now, int64_t leeway, pdf_report_jwt_claims_t *out,
    unsigned char *key)
{
    unsigned int                   n;
    pdf_report_jwt_cache_entry_t  *e;

    n = 0;

    if (EVP_DigestInit_ex2(cache->md, cache->sha256, NULL) != 1
        || EVP_DigestUpdate(cache->md, token, len) != 1
        || EVP_DigestFinal_ex(cache->md, key, &n) != 1
        || n != PDF_REPORT_JWT_CACHE_KEY)
    {
        return -1;
    }

    e = pdf_report_jwt_cache_find(cache, key);

    if (e == NULL) {
        return 0;
    }

    /* as pdf_report_jwt_verify() checks it, overflow aside */
    if (e->exp < INT64_MAX - leeway && now > e->exp + leeway) {
        e->used = 0;
        return 0;
    }

    memcpy(out->org, e->org, sizeof(e->org));
    memcpy(out->scopes, e->scopes, sizeof(e->scopes));
    out->exp = e->exp;
    out->reason[0] = '\0';

    return 1;
}


void
pdf_report_jwt_cache_put(pdf_report_jwt_cache_t *cache,
    const unsigned char *key, const pdf_report_jwt_claims_t *claims)
{
    size_t                         i, org_len, scopes_len;
    pdf_report_jwt_cache_entry_t  *e, *set;

    org_len = strnlen(claims->org, sizeof(claims->org));
    scopes_len = strnlen(claims->scopes, sizeof(claims->scopes));

    if (org_len >= sizeof(e->org) || scopes_len >= sizeof(e->scopes)) {
        return;
    }

    /* the token's own slot, else a free one, else the soonest to expire */

    e = pdf_report_jwt_cache_find(cache, key);

    if (e == NULL) {
        set = pdf_report_jwt_cache_set(cache, key);
        e = &set[0];

        for (i = 1; i < cache->ways && e->used; i++) {
            if (!set[i].used || set[i].exp < e->exp) {
                e = &set[i];
            }
        }
    }

    memcpy(e->key, key, PDF_REPORT_JWT_CACHE_KEY);
    e->exp = claims->exp;
    memcpy(e->org, claims->org, org_len + 1);
    memcpy(e->scopes, claims->scopes, scopes_len + 1);
    e->used = 1;
}


void
pdf_report_jwt_cache_clear(pdf_report_jwt_cache_t *cache)
{
    if (cache == NULL) {
        return;
    }

    OPENSSL_cleanse(cache->entries,
                    (cache->mask + 1) * cache->ways
                    * sizeof(pdf_report_jwt_cache_entry_t));
}


/* the slot holding key, or NULL */

static pdf_report_jwt_cache_entry_t *
pdf_report_jwt_cache_find(pdf_report_jwt_cache_t *cache,
    const unsigned char *key)
{
    size_t                         i;
    pdf_report_jwt_cache_entry_t  *set;

    set = pdf_report_jwt_cache_set(cache, key);

    for (i = 0; i < cache->ways; i++) {
        if (set[i].used
            && CRYPTO_memcmp(set[i].key, key, PDF_REPORT_JWT_CACHE_KEY) == 0)
        {
            return &set[i];
        }
    }

    return NULL;
}


static pdf_report_jwt_cache_entry_t *
pdf_report_jwt_cache_set(pdf_report_jwt_cache_t *cache,
    const unsigned char *key)
{
    size_t  h;

    /* the hash is uniform already: its first bytes pick the set */
    h = ((size_t) key[0] << 24) | ((size_t) key[1] << 16)
        | ((size_t) key[2] << 8) | key[3];

    return &cache->entries[(h & cache->mask) * cache->ways];
}
