
/*
 * The properties of accepted claims that the JWT targets check: a
 * non-empty org without control characters, scopes of RFC 6749 3.3
 * scope-tokens joined by single spaces.
 */


#ifndef _FUZZ_JWT_H_INCLUDED_
#define _FUZZ_JWT_H_INCLUDED_


#include "fuzz.h"
#include "pdf_report_jwt.h"


static inline void
fuzz_jwt_check_claims(const pdf_report_jwt_claims_t *c)
{
    size_t  i, len;

    len = strnlen(c->org, sizeof(c->org));

    fuzz_assert(len > 0 && len <= PDF_REPORT_JWT_ORG_MAX, "org length");

    for (i = 0; i < len; i++) {
        fuzz_assert((unsigned char) c->org[i] >= 0x20
                    && c->org[i] != 0x7f, "org has no control character");
    }

    len = strnlen(c->scopes, sizeof(c->scopes));

    fuzz_assert(len <= PDF_REPORT_JWT_SCOPES_MAX, "scopes length");

    if (len > 0) {
        fuzz_assert(c->scopes[0] != ' ' && c->scopes[len - 1] != ' ',
                    "scopes trimmed");
        fuzz_assert(strstr(c->scopes, "  ") == NULL, "single spaces");
    }

    for (i = 0; i < len; i++) {
        fuzz_assert(c->scopes[i] >= 0x20 && c->scopes[i] <= 0x7e
                    && c->scopes[i] != '"' && c->scopes[i] != '\\',
                    "scope characters");
    }

    (void) pdf_report_jwt_has_scope(c, "write:reports");
    (void) pdf_report_jwt_has_scope(c, "read:reports");
}


#endif /* _FUZZ_JWT_H_INCLUDED_ */
