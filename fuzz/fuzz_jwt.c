
/*
 * libFuzzer target: pdf_report_jwt_verify() on arbitrary bytes as the
 * bearer token, against the test JWKS (t/data/jwks.json) with the policy
 * of the unit tests (clock fixed at the fixtures' issue time, issuer and
 * audience checked).  Seeds: the fixture tokens of t/data/tokens.
 *
 * Properties checked besides memory safety: a refusal always carries a
 * reason and no claims; an accepted token always has a non-empty org
 * without control characters and well-formed scopes.
 */


#include "fuzz.h"
#include "fuzz_jwt.h"


static pdf_report_jwks_t  *jwks;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char    *json, err[256];
    size_t   len;

    json = fuzz_slurp("jwks.json", &len);
    jwks = pdf_report_jwks_load(json, len, NULL, NULL, err, sizeof(err));
    free(json);

    if (jwks == NULL) {
        fprintf(stderr, "fuzz_jwt: jwks.json: %s\n", err);
        exit(1);
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       rc;
    char                     *token;
    pdf_report_jwt_policy_t   policy;
    pdf_report_jwt_claims_t   claims;

    token = fuzz_dup(data, size);

    policy.now = FUZZ_NOW;
    policy.leeway = FUZZ_LEEWAY;
    policy.issuer = FUZZ_ISSUER;
    policy.audience = FUZZ_AUDIENCE;
    policy.org_claim = "org_id";

    rc = pdf_report_jwt_verify(jwks, token, size, &policy, &claims);

    fuzz_assert(memchr(claims.reason, '\0', sizeof(claims.reason)) != NULL,
                "reason terminated");

    if (rc == 0) {
        fuzz_assert(claims.reason[0] == '\0', "no reason when accepted");
        fuzz_jwt_check_claims(&claims);

    } else {
        fuzz_assert(rc == -1, "returns 0 or -1");
        fuzz_assert(claims.reason[0] != '\0', "a refusal has a reason");
        fuzz_assert(claims.org[0] == '\0' && claims.scopes[0] == '\0',
                    "a refusal has no claims");
    }

    free(token);

    return 0;
}
