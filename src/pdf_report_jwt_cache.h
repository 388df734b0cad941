
/*
 * A bounded cache of verified bearer tokens, one per worker process:
 * clients poll step 2 every few seconds with the same token, and its
 * signature check costs more than the rest of the request.  Keyed by the
 * SHA-256 of the whole token; holds what verification found (org,
 * scopes, exp).  Sets of four slots: a new token takes a free slot of
 * its set or the one whose token expires first, so memory is fixed at
 * creation.  Only tokens that verified
 * are kept, and a hit still honours exp (with the leeway) at the time of
 * the lookup; nbf and iat were already in the past when the token was
 * verified.  The policy (issuer, audience, org claim) is fixed for a
 * cache's life: nginx makes new workers, and so new caches, on reload;
 * a key set that changes without a reload (a JWKS URL) empties the
 * cache with pdf_report_jwt_cache_clear().
 * No nginx dependency; not thread-safe (the event loop uses it).
 */


#ifndef _PDF_REPORT_JWT_CACHE_H_INCLUDED_
#define _PDF_REPORT_JWT_CACHE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "pdf_report_jwt.h"


#define PDF_REPORT_JWT_CACHE_KEY     32       /* SHA-256 */
/* a token whose scopes are longer is verified every time */
#define PDF_REPORT_JWT_CACHE_SCOPES  255


typedef struct pdf_report_jwt_cache_s  pdf_report_jwt_cache_t;


/* n slots (sets of 4), rounded up to a power of two; NULL: no memory */
pdf_report_jwt_cache_t *pdf_report_jwt_cache_create(size_t n);
void pdf_report_jwt_cache_free(pdf_report_jwt_cache_t *cache);

/* bytes the cache holds, for the log */
size_t pdf_report_jwt_cache_size(const pdf_report_jwt_cache_t *cache);

/*
 * Looks the token up: 1 and *out filled (org, scopes, exp; no reason)
 * when it was verified before and now <= exp + leeway, else 0.  key
 * receives the token's hash either way, for pdf_report_jwt_cache_put();
 * -1 when it cannot be computed (then nothing is cached).
 */
int pdf_report_jwt_cache_get(pdf_report_jwt_cache_t *cache,
    const char *token, size_t len, int64_t now, int64_t leeway,
    pdf_report_jwt_claims_t *out, unsigned char *key);

/* keeps the claims of a token that verified, under the key of _get() */
void pdf_report_jwt_cache_put(pdf_report_jwt_cache_t *cache,
    const unsigned char *key, const pdf_report_jwt_claims_t *claims);

/* forgets every token: the keys that verified them may be gone */
void pdf_report_jwt_cache_clear(pdf_report_jwt_cache_t *cache);


#endif /* _PDF_REPORT_JWT_CACHE_H_INCLUDED_ */
