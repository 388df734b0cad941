
/*
 * libFuzzer target: the JWT header and claims checks behind a valid
 * signature.  Random bytes never get past the signature check of
 * fuzz_jwt, so this harness signs what it is given: the input is
 *
 *     <header JSON> NUL <payload JSON>     (or only the payload: the
 *                                           header is then EdDSA/ed25519)
 *
 * and the token is base64url(header).base64url(payload).signature, made
 * with the TEST-ONLY Ed25519 key t/data/keys/ed25519.pem, whose public
 * half is "ed25519" in t/data/jwks.json.  Then pdf_report_jwt_verify()
 * with the unit tests' policy.
 *
 * Besides memory safety it checks the verifier against a second reading
 * of the same JSON: an accepted token has alg EdDSA, kid ed25519 or none,
 * no crit, an exp not past (with leeway), the configured iss and aud, and
 * the org claim it reports.
 */


#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fuzz.h"
#include "fuzz_jwt.h"
#include "pdf_report_util.h"


#define DEFAULT_HEADER                                                     \
    "{\"alg\":\"EdDSA\",\"kid\":\"ed25519\",\"typ\":\"JWT\"}"


static pdf_report_jwks_t  *jwks;
static EVP_PKEY           *key;


static void oracle(const char *header, size_t hlen, const char *payload,
    size_t plen, const pdf_report_jwt_claims_t *claims);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char                 *text, err[256], *name, *header;
    long                  der_len;
    size_t                len;
    BIO                  *bio;
    unsigned char        *der;
    const unsigned char  *p;

    text = fuzz_slurp("jwks.json", &len);
    jwks = pdf_report_jwks_load(text, len, NULL, NULL, err, sizeof(err));
    free(text);

    if (jwks == NULL) {
        fprintf(stderr, "fuzz_jwt_signed: jwks.json: %s\n", err);
        exit(1);
    }

    /* Crypt::PK writes "ED25519 PRIVATE KEY" around PKCS#8: any label */
    text = fuzz_slurp("keys/ed25519.pem", &len);
    bio = BIO_new_mem_buf(text, (int) len);
    der = NULL;

    if (bio != NULL
        && PEM_read_bio(bio, &name, &header, &der, &der_len) == 1)
    {
        p = der;
        key = d2i_AutoPrivateKey(NULL, &p, der_len);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
    }

    BIO_free(bio);
    free(text);

    if (key == NULL) {
        fprintf(stderr, "fuzz_jwt_signed: keys/ed25519.pem unreadable\n");
        exit(1);
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       rc;
    char                     *token, *p;
    size_t                    hlen, plen, siglen, tlen;
    const char               *header, *payload, *nul;
    EVP_MD_CTX               *mctx;
    unsigned char             sig[64];
    pdf_report_jwt_policy_t   policy;
    pdf_report_jwt_claims_t   claims;

    nul = memchr(data, '\0', size);

    if (nul != NULL) {
        header = (const char *) data;
        hlen = (size_t) (nul - header);
        payload = nul + 1;
        plen = size - hlen - 1;

    } else {
        header = DEFAULT_HEADER;
        hlen = sizeof(DEFAULT_HEADER) - 1;
        payload = (const char *) data;
        plen = size;
    }

    /* exactly the token's size: ASan sees any read past its end */
    tlen = (hlen + 2) / 3 * 4 + 1 + (plen + 2) / 3 * 4 + 1 + 86;
    token = malloc(tlen);

    if (token == NULL) {
        abort();
    }

    p = token;
    p += pdf_report_b64url_encode(p, (const unsigned char *) header, hlen);
    *p++ = '.';
    p += pdf_report_b64url_encode(p, (const unsigned char *) payload, plen);

    siglen = sizeof(sig);
    mctx = EVP_MD_CTX_new();

    if (mctx == NULL
        || EVP_DigestSignInit_ex(mctx, NULL, NULL, NULL, NULL, key, NULL)
           != 1
        || EVP_DigestSign(mctx, sig, &siglen, (unsigned char *) token,
                          (size_t) (p - token))
           != 1)
    {
        abort();
    }

    EVP_MD_CTX_free(mctx);

    *p++ = '.';
    p += pdf_report_b64url_encode(p, sig, siglen);

    fuzz_assert((size_t) (p - token) <= tlen, "token buffer");

    policy.now = FUZZ_NOW;
    policy.leeway = FUZZ_LEEWAY;
    policy.issuer = FUZZ_ISSUER;
    policy.audience = FUZZ_AUDIENCE;
    policy.org_claim = "org_id";

    rc = pdf_report_jwt_verify(jwks, token, (size_t) (p - token), &policy,
                               &claims);

    if (rc == 0) {
        fuzz_jwt_check_claims(&claims);
        oracle(header, hlen, payload, plen, &claims);

    } else {
        fuzz_assert(rc == -1 && claims.reason[0] != '\0',
                    "a refusal has a reason");
    }

    free(token);

    return 0;
}


/* what an accepted token must be, read again with jansson */

static void
oracle(const char *header, size_t hlen, const char *payload, size_t plen,
    const pdf_report_jwt_claims_t *claims)
{
    int           aud_ok;
    size_t        i;
    json_t       *h, *c, *v, *a;
    const char   *s;
    json_error_t  jerr;

    /* as the verifier reads them, numbers beyond jansson's included */
    h = pdf_report_json_loadb(header, hlen, JSON_REJECT_DUPLICATES, &jerr);
    c = pdf_report_json_loadb(payload, plen, JSON_REJECT_DUPLICATES, &jerr);

    fuzz_assert(json_is_object(h), "accepted header is an object");
    fuzz_assert(json_is_object(c), "accepted payload is an object");

    s = json_string_value(json_object_get(h, "alg"));
    fuzz_assert(s != NULL && strcmp(s, "EdDSA") == 0, "alg is EdDSA");

    v = json_object_get(h, "kid");
    fuzz_assert(v == NULL
                || (json_is_string(v)
                    && strcmp(json_string_value(v), "ed25519") == 0),
                "kid is the signing key's or absent");

    fuzz_assert(json_object_get(h, "crit") == NULL, "no crit");
    fuzz_assert(json_object_get(h, "zip") == NULL, "no zip");

    v = json_object_get(c, "exp");
    fuzz_assert(json_is_number(v), "exp is a number");
    fuzz_assert((double) FUZZ_NOW <= json_number_value(v) + FUZZ_LEEWAY,
                "exp not past");

    v = json_object_get(c, "iss");
    fuzz_assert(json_is_string(v)
                && strcmp(json_string_value(v), FUZZ_ISSUER) == 0,
                "iss is the issuer");

    v = json_object_get(c, "aud");
    aud_ok = 0;

    if (json_is_string(v)) {
        aud_ok = (strcmp(json_string_value(v), FUZZ_AUDIENCE) == 0);

    } else if (json_is_array(v)) {
        json_array_foreach(v, i, a) {
            fuzz_assert(json_is_string(a), "aud array of strings");

            if (strcmp(json_string_value(a), FUZZ_AUDIENCE) == 0) {
                aud_ok = 1;
            }
        }
    }

    fuzz_assert(aud_ok, "aud holds the audience");

    v = json_object_get(c, "org_id");
    fuzz_assert(json_is_string(v)
                && json_string_length(v) == strlen(claims->org)
                && strcmp(json_string_value(v), claims->org) == 0,
                "org is the org_id claim");

    json_decref(h);
    json_decref(c);
}
