
/*
 * libFuzzer target: pdf_report_jwks_load() on arbitrary bytes as the
 * JWKS file (nginx -t and every reload read it), then, when a key set
 * loads, every valid fixture token checked against it: that exercises
 * the signature code with whatever keys the fuzzer made (odd RSA
 * exponents, points, kids shared between keys).  Seeds: the JWKS files
 * of t/data and t/data/jwks-bad, and single-key sets.
 *
 * Properties: each warning is one line of printable ASCII (it goes to
 * nginx's log); a refusal says why; a loaded set has keys.
 */


#include "fuzz.h"
#include "pdf_report_jwt.h"


static const char  *token_names[] = {
    "valid-RS256", "valid-PS384", "valid-ES256", "valid-ES384",
    "valid-ES512", "valid-EdDSA", "valid-EdDSA-ed448", "nokid-ES384",
    "nokid-EdDSA", "nokid-RS256-rsa2", NULL
};

static char    *tokens[16];
static size_t   token_lens[16];


static void
warn(void *data, const char *msg)
{
    size_t  len;

    len = strlen(msg);

    fuzz_assert(len > 0 && len < 256, "warning length");
    fuzz_assert(fuzz_printable(msg, len), "warning is printable ASCII");

    (*(int *) data)++;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char    path[256];
    size_t  i, len;

    for (i = 0; token_names[i] != NULL; i++) {
        snprintf(path, sizeof(path), "tokens/%s.jwt", token_names[i]);
        tokens[i] = fuzz_slurp(path, &len);

        while (len > 0 && (tokens[i][len - 1] == '\n'
                           || tokens[i][len - 1] == '\r'))
        {
            len--;
        }

        token_lens[i] = len;
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       warnings;
    char                     *json, err[256];
    size_t                    i;
    pdf_report_jwks_t        *jwks;
    pdf_report_jwt_policy_t   policy;
    pdf_report_jwt_claims_t   claims;

    json = fuzz_dup(data, size);
    warnings = 0;
    err[0] = 'x';

    jwks = pdf_report_jwks_load(json, size, warn, &warnings, err,
                                sizeof(err));

    fuzz_assert(memchr(err, '\0', sizeof(err)) != NULL, "err terminated");

    if (jwks == NULL) {
        fuzz_assert(err[0] != '\0', "a refusal says why");
        free(json);
        return 0;
    }

    fuzz_assert(err[0] == '\0', "no error when loaded");
    fuzz_assert(pdf_report_jwks_count(jwks) > 0, "a loaded set has keys");

    policy.now = FUZZ_NOW;
    policy.leeway = FUZZ_LEEWAY;
    policy.issuer = FUZZ_ISSUER;
    policy.audience = FUZZ_AUDIENCE;
    policy.org_claim = "org_id";

    for (i = 0; tokens[i] != NULL; i++) {
        (void) pdf_report_jwt_verify(jwks, tokens[i], token_lens[i], &policy,
                                     &claims);
    }

    pdf_report_jwks_free(jwks);
    free(json);

    return 0;
}
