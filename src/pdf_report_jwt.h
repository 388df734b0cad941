
/*
 * JWKS loading and compact-JWS JWT verification with OpenSSL 3 (EVP),
 * no nginx dependency.  Algorithms: RS256/384/512, PS256/384/512,
 * ES256/384/512, EdDSA (Ed25519).  "none" and HMAC are never accepted.
 */


#ifndef _PDF_REPORT_JWT_H_INCLUDED_
#define _PDF_REPORT_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define PDF_REPORT_JWT_MAX_LEN     8192   /* longer tokens are refused */
#define PDF_REPORT_JWT_ORG_MAX     128
#define PDF_REPORT_JWT_SCOPES_MAX  1024


typedef struct pdf_report_jwks_s  pdf_report_jwks_t;


/* called for each JWKS entry that is skipped, with the reason */
typedef void (*pdf_report_jwks_warn_pt)(void *data, const char *msg);


typedef struct {
    int64_t      now;          /* seconds since the epoch */
    int64_t      leeway;       /* seconds */
    const char  *issuer;       /* NULL: not checked */
    const char  *audience;     /* NULL: not checked */
    const char  *org_claim;    /* e.g. "org_id" */
} pdf_report_jwt_policy_t;


typedef struct {
    char         org[PDF_REPORT_JWT_ORG_MAX + 1];
    /* scopes from "scope" or "scp", joined by single spaces */
    char         scopes[PDF_REPORT_JWT_SCOPES_MAX + 1];
    int64_t      exp;
    /* why a token was refused: for logs and the error message; it never
     * quotes the token or any part of it */
    char         reason[128];
    /* refused because no key has the token's kid: a key set fetched
     * from a URL may be out of date */
    int          unknown_kid;
} pdf_report_jwt_claims_t;


/*
 * Parse a JWKS (RFC 7517) document.  Keys that cannot be used (unknown
 * kty, unsupported crv, RSA below 2048 bits, "use" other than "sig",
 * malformed members) are skipped with a warning.  Returns NULL with err
 * set when the document is not a JWKS or holds no usable key.
 */
pdf_report_jwks_t *pdf_report_jwks_load(const char *json, size_t len,
    pdf_report_jwks_warn_pt warn, void *wdata, char *err, size_t err_size);
size_t pdf_report_jwks_count(const pdf_report_jwks_t *jwks);
void pdf_report_jwks_free(pdf_report_jwks_t *jwks);

/*
 * Verify token (compact JWS, exactly three base64url parts) against jwks
 * and policy.  A token with "kid" is checked against that key only; one
 * without may be tried against every key that fits its "alg".  Header
 * "crit" is refused; "jku", "x5u", "jwk", "x5c" are never used.  Claims:
 * exp required and not past (with leeway), nbf/iat not in the future
 * (with leeway), iss/aud per policy, the org claim a non-empty string of
 * at most PDF_REPORT_JWT_ORG_MAX bytes.  Returns 0, or -1 with
 * out->reason set.  Safe to call concurrently on one jwks.
 */
int pdf_report_jwt_verify(const pdf_report_jwks_t *jwks, const char *token,
    size_t len, const pdf_report_jwt_policy_t *policy,
    pdf_report_jwt_claims_t *out);

/* 1 when scope is one of claims->scopes (exact, space-separated) */
int pdf_report_jwt_has_scope(const pdf_report_jwt_claims_t *claims,
    const char *scope);


#endif /* _PDF_REPORT_JWT_H_INCLUDED_ */
