
/*
 * Unit tests of pdf_report_jwt.c: JWKS loading and JWT verification.
 *
 * The fixture tokens under t/data/tokens/ were minted by
 * t/data/make-tokens.pl with Crypt::JWT (an independent implementation)
 * and the TEST-ONLY keys of t/data/keys/, all issued at NOW below; the
 * policy's clock is fixed at NOW, so they never expire.
 *
 * Where t/data is: $TEST_DATA_DIR when set; else "../../t/data" next to
 * the binary (make puts it in build/unit/); else "t/data" under the
 * current directory (prove, make and the one-line cc build all run from
 * the repository root).
 */


#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tap.h"
#include "pdf_report_jwt.h"
#include "pdf_report_util.h"


#define NOW      1750000000     /* as in t/data/make-tokens.pl */
#define LEEWAY   30
#define ISSUER   "https://auth.sqr.test/"
#define AUDIENCE "pdf-report"
#define THREADS  8


typedef struct {
    const char  *name;      /* t/data/tokens/<name>.jwt */
    const char  *reason;    /* NULL: accepted */
} case_t;


static char                *data_path(const char *rel);
static char                *slurp(const char *rel, size_t *len);
static char                *token(const char *name);
static void                 warn_cb(void *data, const char *msg);
static pdf_report_jwks_t   *load(const char *rel, char *err, size_t size);
static pdf_report_jwks_t   *load_json(json_t *jwks, char *err, size_t size);
static void                 policy_init(pdf_report_jwt_policy_t *policy);
static const char          *check(const pdf_report_jwks_t *jwks,
    const char *tok, size_t len, const pdf_report_jwt_policy_t *policy,
    pdf_report_jwt_claims_t *out);
static const char          *check_file(const pdf_report_jwks_t *jwks,
    const char *name, const pdf_report_jwt_policy_t *policy,
    pdf_report_jwt_claims_t *out);
static void                 test_load(void);
static void                 test_load_variants(void);
static void                 test_cases(const pdf_report_jwks_t *jwks);
static void                 test_claims(const pdf_report_jwks_t *jwks);
static void                 test_policy(const pdf_report_jwks_t *jwks);
static void                 test_syntax(const pdf_report_jwks_t *jwks);
static void                 test_tamper(const pdf_report_jwks_t *jwks);
static void                 test_threads(const pdf_report_jwks_t *jwks);
static void                *thread_main(void *arg);


static char   data_dir[4096];
static int    warnings;
static char   last_warning[256];


static const case_t  cases[] = {
    /* every algorithm */
    { "valid-RS256", NULL },
    { "valid-RS384", NULL },
    { "valid-RS512", NULL },
    { "valid-PS256", NULL },
    { "valid-PS384", NULL },
    { "valid-PS512", NULL },
    { "valid-ES256", NULL },
    { "valid-ES384", NULL },
    { "valid-ES512", NULL },
    { "valid-EdDSA", NULL },
    { "valid-EdDSA-ed448", NULL },
    { "valid-rsa2-RS256", NULL },

    /* key selection */
    { "rsa2-PS256", "alg does not fit the key" },
    { "nokid-RS256-rsa2", NULL },
    { "nokid-PS512", NULL },
    { "nokid-ES384", NULL },
    { "nokid-EdDSA", NULL },
    { "nokid-EdDSA-ed448", NULL },
    { "nokid-rogue", "signature mismatch" },
    { "wrong-kid", "signature mismatch" },
    { "unknown-kid", "unknown kid" },
    { "kid-rsa1024", "unknown kid" },
    { "kid-empty", "unknown kid" },
    { "kid-number", "kid is not a string" },
    { "kid-shared", "unknown kid" },
    { "kid-shared-es256", "unknown kid" },
    { "es256-rsa-kid", "alg does not fit the key" },
    { "rs256-ec-kid", "alg does not fit the key" },
    { "es384-p256-kid", "alg does not fit the key" },
    { "eddsa-ec-kid", "alg does not fit the key" },

    /* refused algorithms */
    { "alg-none", "alg not allowed" },
    { "alg-none-kid", "alg not allowed" },
    { "alg-none-sig", "alg not allowed" },
    { "alg-NONE", "alg not allowed" },
    { "hs256-rsa-pem", "alg not allowed" },
    { "hs256-rsa-pem-nokid", "alg not allowed" },
    { "hs256-oct-kid", "alg not allowed" },
    { "alg-ES256K", "alg not allowed" },
    { "alg-missing", "alg missing or not a string" },
    { "alg-array", "alg missing or not a string" },

    /* signatures */
    { "es256-der", "signature length wrong" },
    { "es512-der", "signature length wrong" },
    { "rs256-short-sig", "signature length wrong" },
    { "tampered-payload", "signature mismatch" },
    { "ps256-salt0", "signature mismatch" },
    { "ps256-salt20", "signature mismatch" },
    { "rs256-pss-sig", "signature mismatch" },
    { "ps256-pkcs1-sig", "signature mismatch" },

    /* header members */
    { "embedded-jwk", "signature mismatch" },
    { "embedded-jwk-kid", "signature mismatch" },
    { "jku-ignored", NULL },
    { "crit", "crit header not supported" },
    { "crit-empty", "crit header not supported" },
    { "b64-false", "crit header not supported" },
    { "typ-JWT", NULL },
    { "typ-jwt", NULL },
    { "typ-at+jwt", NULL },
    { "typ-application-at+jwt", NULL },
    { "typ-dpop+jwt", "typ not accepted" },
    { "typ-number", "typ not accepted" },
    { "cty-JWT", "cty header not supported" },
    { "zip", "zip header not supported" },

    /* JSON */
    { "header-dup", "malformed token header" },
    { "header-array", "token header is not a JSON object" },
    { "header-not-json", "malformed token header" },
    { "payload-dup", "malformed token payload" },
    { "payload-array", "token payload is not a JSON object" },
    { "payload-string", "malformed token payload" },
    { "payload-trailing", "malformed token payload" },
    { "payload-bad-utf8", "malformed token payload" },
    { "payload-nul", "malformed token payload" },

    /* time */
    { "exp-in-leeway", NULL },
    { "exp-out-leeway", "token expired" },
    { "exp-real-in", NULL },
    { "exp-real-out", "token expired" },
    { "exp-missing", "exp missing" },
    { "exp-string", "exp is not a number" },
    { "exp-null", "exp is not a number" },
    { "exp-bool", "exp is not a number" },
    { "exp-huge", NULL },
    { "exp-overflow", NULL },
    { "exp-overflow-neg", "token expired" },
    { "exp-1e400", NULL },
    { "exp-neg-1e400", "token expired" },
    { "nbf-in-leeway", NULL },
    { "nbf-out-leeway", "token not yet valid" },
    { "nbf-string", "nbf is not a number" },
    { "iat-in-leeway", NULL },
    { "iat-out-leeway", "token issued in the future" },
    { "iat-missing", NULL },
    { "iat-string", "iat is not a number" },
    { "nbf-overflow", "token not yet valid" },
    { "nbf-neg-1e400", NULL },
    { "iat-1e400", "token issued in the future" },

    /* other numbers beyond jansson's: unread, and no reason to refuse */
    { "claim-uint64", NULL },
    { "claim-neg-overflow", NULL },
    { "claim-1e400", NULL },
    { "header-uint64", NULL },
    { "header-1e400", NULL },
    { "payload-overflow-dup", "malformed token payload" },
    { "payload-overflow-trailing", "malformed token payload" },
    { "header-overflow-dup", "malformed token header" },

    /* iss, aud */
    { "iss-mismatch", "issuer mismatch" },
    { "iss-no-slash", "issuer mismatch" },
    { "iss-missing", "issuer mismatch" },
    { "iss-number", "iss is not a string" },
    { "aud-mismatch", "audience mismatch" },
    { "aud-missing", "audience mismatch" },
    { "aud-array", NULL },
    { "aud-array-mismatch", "audience mismatch" },
    { "aud-array-empty", "audience mismatch" },
    { "aud-array-number", "aud is not a string or array of strings" },
    { "aud-number", "aud is not a string or array of strings" },

    /* org */
    { "org-missing", "org claim missing" },
    { "org-empty", "org claim is empty" },
    { "org-number", "org claim is not a string" },
    { "org-null", "org claim is not a string" },
    { "org-max", NULL },
    { "org-too-long", "org claim too long" },
    { "org-control", "org claim has control characters" },
    { "org-c1", "org claim has control characters" },
    { "org-utf8", NULL },
    { "org-tenant", NULL },

    /* scopes */
    { "scope-none", NULL },
    { "scope-spaces", NULL },
    { "scp-array", NULL },
    { "scp-string", NULL },
    { "scope-and-scp", NULL },
    { "scope-array", "scope is not a string" },
    { "scp-number", "scp is not a string or array of strings" },
    { "scp-object", "scp is not a string or array of strings" },
    { "scp-space", "scope claim malformed" },
    { "scope-tab", "scope claim malformed" },
    { "scope-quote", "scope claim malformed" },
    { "scope-max", NULL },
    { "scope-too-long", "scope claim too long" },

    /* size */
    { "big", NULL },
    { "too-big", "token too long" },

    { NULL, NULL }
};


int
main(int argc, char **argv)
{
    char                err[256];
    char               *slash;
    const char         *env;
    struct stat         st;
    pdf_report_jwks_t  *jwks;

    env = getenv("TEST_DATA_DIR");

    if (env != NULL && env[0] != '\0') {
        snprintf(data_dir, sizeof(data_dir), "%s", env);

    } else {
        snprintf(data_dir, sizeof(data_dir), "%s", argv[0]);
        slash = strrchr(data_dir, '/');

        if (slash != NULL) {
            snprintf(slash, sizeof(data_dir) - (slash - data_dir),
                     "/../../t/data");
        }

        if (slash == NULL || stat(data_path("jwks.json"), &st) != 0) {
            snprintf(data_dir, sizeof(data_dir), "t/data");
        }
    }

    if (stat(data_path("jwks.json"), &st) != 0) {
        printf("Bail out! no %s (set TEST_DATA_DIR)\n",
               data_path("jwks.json"));
        return 1;
    }

    test_load();
    test_load_variants();

    jwks = load("jwks.json", err, sizeof(err));

    if (jwks == NULL) {
        printf("Bail out! jwks.json: %s\n", err);
        return 1;
    }

    test_cases(jwks);
    test_claims(jwks);
    test_policy(jwks);
    test_syntax(jwks);
    test_tamper(jwks);
    test_threads(jwks);

    pdf_report_jwks_free(jwks);

    return done_testing();
}


/* data_dir/rel in a static buffer (the next call overwrites it) */

static char *
data_path(const char *rel)
{
    static char  path[8192];

    snprintf(path, sizeof(path), "%s/%s", data_dir, rel);

    return path;
}


static char *
slurp(const char *rel, size_t *len)
{
    char   *buf;
    long    size;
    FILE   *f;

    f = fopen(data_path(rel), "rb");
    if (f == NULL) {
        return NULL;
    }

    buf = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0
        && fseek(f, 0, SEEK_SET) == 0)
    {
        buf = malloc(size + 1);

        if (buf != NULL && fread(buf, 1, size, f) != (size_t) size) {
            free(buf);
            buf = NULL;
        }

        if (buf != NULL) {
            buf[size] = '\0';
            *len = (size_t) size;
        }
    }

    fclose(f);

    return buf;
}


/* a fixture token without its newline; NULL (and a failed test) if none */

static char *
token(const char *name)
{
    char    rel[256];
    char   *t;
    size_t  len;

    snprintf(rel, sizeof(rel), "tokens/%s.jwt", name);

    t = slurp(rel, &len);

    if (t == NULL) {
        ok(0, "fixture %s exists", rel);
        return NULL;
    }

    while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r')) {
        t[--len] = '\0';
    }

    return t;
}


static void
warn_cb(void *data, const char *msg)
{
    warnings++;
    snprintf(last_warning, sizeof(last_warning), "%s", msg);
}


static pdf_report_jwks_t *
load(const char *rel, char *err, size_t size)
{
    char               *json;
    size_t              len;
    pdf_report_jwks_t  *jwks;

    warnings = 0;
    last_warning[0] = '\0';

    json = slurp(rel, &len);

    if (json == NULL) {
        snprintf(err, size, "cannot read %s", rel);
        return NULL;
    }

    jwks = pdf_report_jwks_load(json, len, warn_cb, NULL, err, size);
    free(json);

    return jwks;
}


static pdf_report_jwks_t *
load_json(json_t *doc, char *err, size_t size)
{
    char               *json;
    pdf_report_jwks_t  *jwks;

    warnings = 0;
    last_warning[0] = '\0';

    json = json_dumps(doc, JSON_COMPACT);

    if (json == NULL) {
        snprintf(err, size, "json_dumps failed");
        return NULL;
    }

    jwks = pdf_report_jwks_load(json, strlen(json), warn_cb, NULL, err,
                                size);
    free(json);

    return jwks;
}


static void
policy_init(pdf_report_jwt_policy_t *policy)
{
    policy->now = NOW;
    policy->leeway = LEEWAY;
    policy->issuer = ISSUER;
    policy->audience = AUDIENCE;
    policy->org_claim = "org_id";
}


/* NULL when accepted, else the reason */

static const char *
check(const pdf_report_jwks_t *jwks, const char *tok, size_t len,
    const pdf_report_jwt_policy_t *policy, pdf_report_jwt_claims_t *out)
{
    int  rc;

    rc = pdf_report_jwt_verify(jwks, tok, len, policy, out);

    if (rc == 0) {
        return out->unknown_kid ? "BUG: accepted with unknown_kid set" : NULL;
    }

    /* a refusal always says why, and never leaves claims behind */
    if (out->reason[0] == '\0' || out->org[0] != '\0'
        || out->scopes[0] != '\0')
    {
        return "BUG: refused without a reason or with claims";
    }

    /* the flag a JWKS URL refetches on: for an unknown kid, only then */
    if ((strcmp(out->reason, "unknown kid") == 0) != (out->unknown_kid != 0))
    {
        return "BUG: unknown_kid disagrees with the reason";
    }

    return out->reason;
}


static const char *
check_file(const pdf_report_jwks_t *jwks, const char *name,
    const pdf_report_jwt_policy_t *policy, pdf_report_jwt_claims_t *out)
{
    static char   reason[sizeof(out->reason)];
    char         *t;
    const char   *r;

    memset(out, 0, sizeof(pdf_report_jwt_claims_t));

    t = token(name);

    if (t == NULL) {
        return "no fixture";
    }

    r = check(jwks, t, strlen(t), policy, out);

    if (r != NULL) {
        snprintf(reason, sizeof(reason), "%s", r);
        r = reason;
    }

    free(t);

    return r;
}


static void
test_load(void)
{
    char                err[256];
    size_t              i;
    const char         *s;
    pdf_report_jwks_t  *jwks;

    static const struct {
        const char  *file;
        const char  *err;
        int          warnings;
        const char  *warning;
    } bad[] = {
        { "jwks-bad/not-json.json", "not valid JSON", 0, NULL },
        { "jwks-bad/duplicate-member.json", "not valid JSON", 0, NULL },
        { "jwks-bad/no-keys.json", "\"keys\" array", 0, NULL },
        { "jwks-bad/keys-not-array.json", "\"keys\" array", 0, NULL },
        { "jwks-bad/not-object.json", "\"keys\" array", 0, NULL },
        { "jwks-bad/empty-keys.json", "no usable key", 0, NULL },
        { "jwks-bad/rsa1024.json", "no usable key", 1,
          "JWKS key #1 (kid \"rsa1024\") skipped: RSA key shorter than "
          "2048 bits" },
        { "jwks-bad/ec-off-curve.json", "no usable key", 1,
          "JWKS key #1 (kid \"ec256\") skipped: EC point is not a valid "
          "public key" },
        { "jwks-bad/unusable.json", "no usable key (10 skipped)", 10,
          "JWKS key #10 skipped: not a JSON object" },
        { NULL, NULL, 0, NULL }
    };

    jwks = load("jwks.json", err, sizeof(err));
    ok(jwks != NULL, "jwks.json loads");
    is_int(pdf_report_jwks_count(jwks), 7, "jwks.json: 7 usable keys");
    is_int(warnings, 1, "jwks.json: one key skipped");
    is_str(last_warning, "JWKS key #8 (kid \"hmac1\") skipped: kty is not "
           "RSA, EC or OKP", "jwks.json: the oct key is skipped");
    pdf_report_jwks_free(jwks);

    for (i = 0; bad[i].file != NULL; i++) {
        err[0] = '\0';
        jwks = load(bad[i].file, err, sizeof(err));
        ok(jwks == NULL && strstr(err, bad[i].err) != NULL,
           "%s refused: %s", bad[i].file, err);
        is_int(warnings, bad[i].warnings, "%s: %d warnings", bad[i].file,
               bad[i].warnings);

        if (bad[i].warning != NULL) {
            is_str(last_warning, bad[i].warning, "%s: warning",
                   bad[i].file);
        }

        pdf_report_jwks_free(jwks);
    }

    /* numbers beyond jansson's in members the loader never reads */
    s = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
        "\"ext\":18446744073709551615}],\"n\":-1e400}";
    jwks = pdf_report_jwks_load(s, strlen(s), NULL, NULL, err, sizeof(err));
    ok(jwks != NULL && pdf_report_jwks_count(jwks) == 1,
       "JWKS with numbers beyond a long long and a double loads");
    pdf_report_jwks_free(jwks);

    jwks = pdf_report_jwks_load("", 0, NULL, NULL, err, sizeof(err));
    ok(jwks == NULL && err[0] != '\0', "empty JWKS refused: %s", err);

    /* no warning callback and no error buffer are allowed */
    s = "{\"keys\":[{\"kty\":\"oct\"}]}";
    jwks = pdf_report_jwks_load(s, strlen(s), NULL, NULL, NULL, 0);
    ok(jwks == NULL, "no callback, no error buffer");

    is_int(pdf_report_jwks_count(NULL), 0, "count(NULL) is 0");
    pdf_report_jwks_free(NULL);
    ok(1, "free(NULL) is harmless");
}


/* JWKs of jwks.json with one member changed, set or (NULL value) removed */

static void
test_load_variants(void)
{
    char                     err[256];
    size_t                   i, k;
    json_t                  *doc, *keys, *jwk, *one, *copy, *v;
    const char              *reason, *kid;
    json_error_t             jerr;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;
    pdf_report_jwks_t       *jwks;

    static const struct {
        const char  *kid;
        const char  *member;
        const char  *json;      /* NULL: remove the member */
        const char  *warning;   /* NULL: the key is usable */
    } var[] = {
        { "rsa1", "use", "\"enc\"", "use is not \"sig\"" },
        { "rsa1", "use", "1", "use is not \"sig\"" },
        { "rsa1", "use", NULL, NULL },
        { "rsa1", "key_ops", "[\"sign\"]", "key_ops does not allow" },
        { "rsa1", "key_ops", "[\"sign\",\"verify\"]", NULL },
        { "rsa1", "key_ops", "\"verify\"", "key_ops is not an array" },
        { "rsa1", "key_ops", "[1]", "key_ops holds a non-string" },
        { "rsa1", "key_ops", "[]", "key_ops does not allow" },
        { "rsa1", "alg", "\"PS384\"", NULL },
        { "rsa1", "alg", "\"ES256\"", "alg does not fit the key" },
        { "rsa1", "alg", "\"HS256\"", "alg is not a supported signature" },
        { "rsa1", "alg", "\"none\"", "alg is not a supported signature" },
        { "rsa1", "alg", "\"RSA-OAEP\"", "alg is not a supported signature" },
        { "rsa1", "alg", "256", "alg is not a supported signature" },
        { "rsa1", "kid", "7", "kid is not a string" },
        { "rsa1", "kty", "\"rsa\"", "kty is not RSA, EC or OKP" },
        { "rsa1", "kty", NULL, "no \"kty\" string" },
        { "rsa1", "n", NULL, "RSA \"n\" or \"e\" missing" },
        { "rsa1", "n", "\"\"", "RSA \"n\" or \"e\" missing" },
        { "rsa1", "n", "\"AQAB=\"", "RSA \"n\" or \"e\" missing" },
        { "rsa1", "e", "\"AQAC\"", "RSA modulus or exponent" },
        { "rsa1", "e", "\"AQ\"", "RSA modulus or exponent" },
        { "rsa1", "e", "\"AQAAAAAAAAAAAQ\"", "RSA modulus or exponent" },
        { "rsa1", "e", "65537", "RSA \"n\" or \"e\" missing" },
        { "rsa1", "d", "\"AQAB\"", "holds private key material" },
        { "ec256", "crv", "\"P-384\"", "EC \"x\" or \"y\" missing or of" },
        { "ec256", "crv", "\"secp256k1\"", "EC crv is not P-256" },
        { "ec256", "crv", NULL, "EC \"crv\" missing" },
        { "ec256", "x", "\"AQAB\"", "EC \"x\" or \"y\" missing or of" },
        { "ec256", "y", NULL, "EC \"x\" or \"y\" missing or of" },
        { "ec256", "d", "\"AQAB\"", "holds private key material" },
        { "ec384", "alg", "\"ES256\"", "alg does not fit the key" },
        { "ec521", "alg", "\"ES512\"", NULL },
        { "ed25519", "crv", "\"X25519\"", "OKP crv is not Ed25519" },
        { "ed25519", "crv", "\"Ed448\"", "OKP \"x\" missing or of" },
        { "ed25519", "x", "\"AQAB\"", "OKP \"x\" missing or of" },
        { "ed25519", "alg", "\"ES256\"", "alg does not fit the key" },
        { NULL, NULL, NULL, NULL }
    };

    doc = json_load_file(data_path("jwks.json"), 0, &jerr);
    keys = json_object_get(doc, "keys");
    ok(json_is_array(keys), "jwks.json parsed for variants");

    if (!json_is_array(keys)) {
        json_decref(doc);
        return;
    }

    for (i = 0; var[i].kid != NULL; i++) {
        copy = NULL;

        json_array_foreach(keys, k, jwk) {
            kid = json_string_value(json_object_get(jwk, "kid"));

            if (kid != NULL && strcmp(kid, var[i].kid) == 0) {
                copy = json_deep_copy(jwk);
            }
        }

        if (copy == NULL) {
            ok(0, "variant %zu: kid %s found", i, var[i].kid);
            continue;
        }

        if (var[i].json == NULL) {
            json_object_del(copy, var[i].member);

        } else {
            v = json_loads(var[i].json, JSON_DECODE_ANY, &jerr);
            json_object_set_new(copy, var[i].member, v);
        }

        one = json_pack("{s:[o]}", "keys", copy);
        jwks = load_json(one, err, sizeof(err));
        json_decref(one);

        if (var[i].warning == NULL) {
            ok(jwks != NULL && warnings == 0, "%s with %s=%s is usable",
               var[i].kid, var[i].member,
               var[i].json ? var[i].json : "(none)");

        } else {
            ok(jwks == NULL && warnings == 1
               && strstr(last_warning, var[i].warning) != NULL,
               "%s with %s=%s skipped: %s", var[i].kid, var[i].member,
               var[i].json ? var[i].json : "(none)", last_warning);
        }

        pdf_report_jwks_free(jwks);
    }

    /* a JWK "alg" narrows the key to that algorithm */
    policy_init(&policy);

    copy = NULL;

    json_array_foreach(keys, k, jwk) {
        kid = json_string_value(json_object_get(jwk, "kid"));

        if (kid != NULL && strcmp(kid, "rsa1") == 0) {
            copy = json_deep_copy(jwk);
        }
    }

    json_object_set_new(copy, "alg", json_string("PS384"));
    one = json_pack("{s:[o]}", "keys", copy);
    jwks = load_json(one, err, sizeof(err));
    json_decref(one);

    reason = check_file(jwks, "valid-PS384", &policy, &out);
    ok(reason == NULL, "rsa1 with alg PS384: PS384 accepted");
    reason = check_file(jwks, "valid-RS256", &policy, &out);
    is_str(reason, "alg does not fit the key",
           "rsa1 with alg PS384: RS256 refused");
    reason = check_file(jwks, "nokid-PS512", &policy, &out);
    is_str(reason, "no key for this alg",
           "rsa1 with alg PS384: PS512 without kid finds no key");
    pdf_report_jwks_free(jwks);

    /*
     * Two JWKs with one kid (RFC 7517 allows it across key types): the
     * token's kid selects both, each is tried, no other key is.
     */
    one = json_pack("{s:[]}", "keys");

    json_array_foreach(keys, k, jwk) {
        kid = json_string_value(json_object_get(jwk, "kid"));

        if (kid != NULL
            && (strcmp(kid, "rsa2") == 0 || strcmp(kid, "ec256") == 0))
        {
            copy = json_deep_copy(jwk);
            json_object_set_new(copy, "kid", json_string("shared"));
            json_array_append_new(json_object_get(one, "keys"), copy);
        }

        if (kid != NULL && strcmp(kid, "rsa1") == 0) {
            json_array_append_new(json_object_get(one, "keys"),
                                  json_deep_copy(jwk));
        }
    }

    jwks = load_json(one, err, sizeof(err));
    json_decref(one);
    is_int(pdf_report_jwks_count(jwks), 3, "shared kid: 3 keys");

    reason = check_file(jwks, "valid-RS256", &policy, &out);
    ok(reason == NULL, "shared kid: rsa1 still found by its own kid");
    reason = check_file(jwks, "nokid-RS256-rsa2", &policy, &out);
    ok(reason == NULL, "shared kid: rsa2 found without kid");
    reason = check_file(jwks, "kid-shared", &policy, &out);
    ok(reason == NULL, "shared kid: RS256 by rsa2");
    reason = check_file(jwks, "kid-shared-es256", &policy, &out);
    ok(reason == NULL, "shared kid: ES256 by ec256");
    reason = check_file(jwks, "wrong-kid", &policy, &out);
    is_str(reason, "signature mismatch",
           "shared kid: kid rsa1 is still only rsa1");
    pdf_report_jwks_free(jwks);

    json_decref(doc);
}


static void
test_cases(const pdf_report_jwks_t *jwks)
{
    int                      n, files;
    DIR                     *dir;
    size_t                   len;
    const char              *reason;
    struct dirent           *de;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;

    policy_init(&policy);

    for (n = 0; cases[n].name != NULL; n++) {
        reason = check_file(jwks, cases[n].name, &policy, &out);

        if (cases[n].reason == NULL) {
            ok(reason == NULL, "%s accepted%s%s", cases[n].name,
               reason ? ": " : "", reason ? reason : "");

        } else {
            is_str(reason, cases[n].reason, "%s refused: %s", cases[n].name,
                   cases[n].reason);
        }
    }

    /* every fixture has a case here, and no case lacks its fixture */
    files = 0;
    dir = opendir(data_path("tokens"));

    while (dir != NULL && (de = readdir(dir)) != NULL) {
        len = strlen(de->d_name);

        if (len > 4 && strcmp(de->d_name + len - 4, ".jwt") == 0) {
            files++;
        }
    }

    if (dir != NULL) {
        closedir(dir);
    }

    is_int(files, n, "every fixture token has a case");
}


static void
test_claims(const pdf_report_jwks_t *jwks)
{
    size_t                   i;
    const char              *reason;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;

    static const struct {
        const char  *name;
        const char  *scopes;
    } scopes[] = {
        { "valid-RS256", "read:reports write:reports" },
        { "scope-none", "" },
        { "scope-spaces", "read:reports write:reports" },
        { "scp-array", "read:reports write:reports" },
        { "scp-string", "read:reports" },
        { "scope-and-scp", "read:reports" },
        { NULL, NULL }
    };

    policy_init(&policy);

    reason = check_file(jwks, "valid-ES256", &policy, &out);
    ok(reason == NULL, "valid-ES256 accepted");
    is_str(out.org, "org_acme", "org from org_id");
    is_str(out.scopes, "read:reports write:reports", "scopes from scope");
    is_int(out.exp, NOW + 3600, "exp");
    is_str(out.reason, "", "no reason when accepted");

    ok(pdf_report_jwt_has_scope(&out, "read:reports"), "has read:reports");
    ok(pdf_report_jwt_has_scope(&out, "write:reports"), "has write:reports");
    ok(!pdf_report_jwt_has_scope(&out, "read"), "no prefix match");
    ok(!pdf_report_jwt_has_scope(&out, "reports"), "no suffix match");
    ok(!pdf_report_jwt_has_scope(&out, "read:reports write:reports"),
       "no match across a space");
    ok(!pdf_report_jwt_has_scope(&out, ""), "empty scope never matches");
    ok(!pdf_report_jwt_has_scope(&out, NULL), "NULL scope never matches");
    ok(!pdf_report_jwt_has_scope(NULL, "read:reports"), "NULL claims");

    for (i = 0; scopes[i].name != NULL; i++) {
        reason = check_file(jwks, scopes[i].name, &policy, &out);
        ok(reason == NULL, "%s accepted", scopes[i].name);
        is_str(out.scopes, scopes[i].scopes, "%s: scopes \"%s\"",
               scopes[i].name, scopes[i].scopes);
    }

    reason = check_file(jwks, "scope-none", &policy, &out);
    ok(reason == NULL && !pdf_report_jwt_has_scope(&out, "read:reports"),
       "no scope claim: no scope");

    reason = check_file(jwks, "scope-max", &policy, &out);
    ok(reason == NULL && strlen(out.scopes) == PDF_REPORT_JWT_SCOPES_MAX,
       "scopes of exactly the maximum length");

    reason = check_file(jwks, "org-max", &policy, &out);
    ok(reason == NULL && strlen(out.org) == PDF_REPORT_JWT_ORG_MAX,
       "org of exactly the maximum length");

    reason = check_file(jwks, "org-utf8", &policy, &out);
    ok(reason == NULL && strcmp(out.org, "org_\xc3\xa9t\xc3\xa9") == 0,
       "UTF-8 org kept as is");

    reason = check_file(jwks, "exp-huge", &policy, &out);
    ok(reason == NULL && out.exp == INT64_MAX, "huge exp clamped");

    reason = check_file(jwks, "exp-overflow", &policy, &out);
    ok(reason == NULL && out.exp == INT64_MAX,
       "exp beyond int64 read as INT64_MAX");

    reason = check_file(jwks, "exp-1e400", &policy, &out);
    ok(reason == NULL && out.exp == INT64_MAX,
       "exp beyond a double clamped to INT64_MAX");

    reason = check_file(jwks, "claim-uint64", &policy, &out);
    ok(reason == NULL && out.exp == NOW + 3600
       && strcmp(out.org, "org_acme") == 0,
       "claims read as usual next to 18446744073709551615");

    reason = check_file(jwks, "exp-real-in", &policy, &out);
    ok(reason == NULL && out.exp == NOW - 30, "real exp truncated: %lld",
       (long long) out.exp);
}


static void
test_policy(const pdf_report_jwks_t *jwks)
{
    const char              *reason;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;

    policy_init(&policy);
    policy.issuer = NULL;

    ok(check_file(jwks, "iss-mismatch", &policy, &out) == NULL,
       "no issuer configured: any iss");
    ok(check_file(jwks, "iss-missing", &policy, &out) == NULL,
       "no issuer configured: no iss");
    is_str(check_file(jwks, "iss-number", &policy, &out),
           "iss is not a string", "no issuer configured: iss still typed");

    policy_init(&policy);
    policy.audience = NULL;

    ok(check_file(jwks, "aud-mismatch", &policy, &out) == NULL,
       "no audience configured: any aud");
    ok(check_file(jwks, "aud-missing", &policy, &out) == NULL,
       "no audience configured: no aud");
    ok(check_file(jwks, "aud-array-empty", &policy, &out) == NULL,
       "no audience configured: empty aud array");
    is_str(check_file(jwks, "aud-number", &policy, &out),
           "aud is not a string or array of strings",
           "no audience configured: aud still typed");

    policy_init(&policy);
    policy.leeway = 0;

    is_str(check_file(jwks, "exp-in-leeway", &policy, &out),
           "token expired", "leeway 0: exp in the past");
    is_str(check_file(jwks, "nbf-in-leeway", &policy, &out),
           "token not yet valid", "leeway 0: nbf in the future");
    is_str(check_file(jwks, "iat-in-leeway", &policy, &out),
           "token issued in the future", "leeway 0: iat in the future");

    policy.leeway = -5;
    is_str(check_file(jwks, "exp-in-leeway", &policy, &out),
           "token expired", "negative leeway counts as 0");

    policy_init(&policy);
    policy.now = NOW + 3600 + LEEWAY;
    ok(check_file(jwks, "valid-PS256", &policy, &out) == NULL,
       "exp + leeway is still valid");
    policy.now++;
    is_str(check_file(jwks, "valid-PS256", &policy, &out), "token expired",
           "exp + leeway + 1 expired");

    policy_init(&policy);
    policy.org_claim = "tenant";
    reason = check_file(jwks, "org-tenant", &policy, &out);
    ok(reason == NULL, "org claim \"tenant\"");
    is_str(out.org, "org_tenant", "org taken from \"tenant\"");
    is_str(check_file(jwks, "valid-RS256", &policy, &out),
           "org claim missing", "org claim \"tenant\" absent");

    policy.org_claim = NULL;
    reason = check_file(jwks, "valid-RS256", &policy, &out);
    ok(reason == NULL && strcmp(out.org, "org_acme") == 0,
       "no org claim configured: org_id");
}


/* shapes that never reach a key: built from a valid token */

static void
test_syntax(const pdf_report_jwks_t *jwks)
{
    char                    *t, *s, *big, *dot;
    size_t                   len, i;
    const char              *r;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;

    static const struct {
        const char  *token;
        const char  *reason;
        const char  *what;
    } lit[] = {
        { "", "no token", "empty token" },
        { "abc", "malformed token: not three parts", "no dot" },
        { "eyJhbGciOiJSUzI1NiJ9.e30", "malformed token: not three parts",
          "one dot" },
        { "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln",
          "malformed token: not three parts", "three dots" },
        { "a.b.c.d.e", "malformed token: not three parts",
          "five parts (JWE)" },
        { "..", "malformed token: bad base64url", "empty parts" },
        { ".e30.c2ln", "malformed token: bad base64url", "empty header" },
        { "eyJhbGciOiJSUzI1NiJ9..c2ln", "malformed token: bad base64url",
          "empty payload" },
        { "eyJhbGciOiJSUzI1NiJ9=.e30.c2ln", "malformed token: bad base64url",
          "padded header" },
        { "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln", "malformed token: bad base64url",
          "padded payload" },
        { "eyJhbGciOiJSUzI1NiJ9.e30.c2ln=", "malformed token: bad base64url",
          "padded signature" },
        { "eyJhbGciOiJSUzI1NiJ9.e3 0.c2ln", "malformed token: bad base64url",
          "space" },
        { "eyJhbGciOiJSUzI1NiJ9.e30.c2l+", "malformed token: bad base64url",
          "'+' of standard base64" },
        { "eyJhbGciOiJSUzI1NiJ9.e30.c2l/", "malformed token: bad base64url",
          "'/' of standard base64" },
        { "eyJhbGciOiJSUzI1NiJ9.e30.c", "malformed token: bad base64url",
          "impossible length" },
        { "eyJhbGciOiJSUzI1NiJ9.e31.c2ln", "malformed token: bad base64url",
          "non-zero trailing bits" },
        { "eyJhbGciOiJub25lIn0.e30.", "alg not allowed",
          "alg none, no signature" },
        { "W10.e30.c2ln", "token header is not a JSON object",
          "header []" },
        { "bnVsbA.e30.c2ln", "malformed token header", "header null" },
        { "eyJhbGciOiJSUzI1NiJ9.e30.", "signature length wrong",
          "empty signature" },
        { NULL, NULL, NULL }
    };

    policy_init(&policy);

    for (i = 0; lit[i].token != NULL; i++) {
        r = check(jwks, lit[i].token, strlen(lit[i].token), &policy, &out);
        is_str(r, lit[i].reason, "%s: %s", lit[i].what, lit[i].reason);
    }

    r = check(jwks, NULL, 0, &policy, &out);
    is_str(r, "no token", "NULL token");

    r = check(NULL, "a.b.c", 5, &policy, &out);
    is_str(r, "no keys configured", "NULL jwks");

    t = token("valid-RS256");
    if (t == NULL) {
        return;
    }

    len = strlen(t);
    s = malloc(len + 3);
    if (s == NULL) {
        free(t);
        return;
    }

    ok(check(jwks, t, len, &policy, &out) == NULL, "valid-RS256 accepted");

    /* the length is the token's: a byte past it is not read */
    memcpy(s, t, len);
    memcpy(s + len, "xx", 3);
    ok(check(jwks, s, len, &policy, &out) == NULL,
       "bytes after len are ignored");
    is_str(check(jwks, s, len + 2, &policy, &out), "signature length wrong",
           "bytes within len are not");

    /* an embedded NUL */
    memcpy(s, t, len + 1);
    s[10] = '\0';
    is_str(check(jwks, s, len, &policy, &out),
           "malformed token: bad base64url", "NUL inside the token");

    /* a padded RS256 signature: 256 bytes take 342 characters + "==" */
    memcpy(s, t, len);
    memcpy(s + len, "==", 3);
    is_str(check(jwks, s, len + 2, &policy, &out),
           "malformed token: bad base64url", "padded RS256 signature");

    /* the unused low bits of the last character set */
    memcpy(s, t, len + 1);
    s[len - 1] = (s[len - 1] == 'A') ? 'B' : (s[len - 1] == 'Q') ? 'R'
                 : (s[len - 1] == 'g') ? 'h' : (s[len - 1] == 'w') ? 'x'
                 : '!';
    is_str(check(jwks, s, len, &policy, &out),
           "malformed token: bad base64url", "non-zero trailing bits");

    /* a trailing newline or space, as a sloppy client sends */
    memcpy(s, t, len);
    memcpy(s + len, "\n", 2);
    is_str(check(jwks, s, len + 1, &policy, &out),
           "malformed token: bad base64url", "trailing newline");

    /* the first '-' or '_' of the signature as '+' or '/' */
    memcpy(s, t, len + 1);
    dot = strrchr(s, '.');

    for (i = dot - s; i < len; i++) {
        if (s[i] == '-') {
            s[i] = '+';
            break;
        }

        if (s[i] == '_') {
            s[i] = '/';
            break;
        }
    }

    if (i < len) {
        is_str(check(jwks, s, len, &policy, &out),
               "malformed token: bad base64url", "standard base64 alphabet");
    }

    free(s);
    free(t);

    /* one byte over the limit, then exactly at it */
    big = malloc(PDF_REPORT_JWT_MAX_LEN + 2);
    if (big == NULL) {
        return;
    }

    memset(big, 'A', PDF_REPORT_JWT_MAX_LEN + 1);
    big[PDF_REPORT_JWT_MAX_LEN + 1] = '\0';
    is_str(check(jwks, big, PDF_REPORT_JWT_MAX_LEN + 1, &policy, &out),
           "token too long", "8193 bytes refused");

    big[100] = '.';
    big[200] = '.';
    is_str(check(jwks, big, PDF_REPORT_JWT_MAX_LEN, &policy, &out),
           "malformed token header", "8192 bytes parsed");

    free(big);
}


/* a changed signature character, and parts swapped between tokens */

static void
test_tamper(const pdf_report_jwks_t *jwks)
{
    char                    *t, *u, *dot, *s;
    size_t                   i, len;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;

    static const char  *names[] = {
        "valid-RS256", "valid-RS384", "valid-RS512", "valid-PS256",
        "valid-PS384", "valid-PS512", "valid-ES256", "valid-ES384",
        "valid-ES512", "valid-EdDSA", "valid-EdDSA-ed448", NULL
    };

    policy_init(&policy);

    for (i = 0; names[i] != NULL; i++) {
        t = token(names[i]);
        if (t == NULL) {
            continue;
        }

        len = strlen(t);
        dot = strrchr(t, '.');
        s = dot + 1 + (len - (dot + 1 - t)) / 2;
        *s = (*s == 'A') ? 'B' : 'A';

        is_str(check(jwks, t, len, &policy, &out), "signature mismatch",
               "%s with a changed signature", names[i]);

        free(t);
    }

    /* the header and payload of one token, the signature of another */
    t = token("valid-RS256");
    u = token("valid-rsa2-RS256");

    if (t != NULL && u != NULL) {
        s = malloc(strlen(t) + strlen(u) + 1);

        if (s != NULL) {
            len = strrchr(t, '.') - t;
            memcpy(s, t, len);
            strcpy(s + len, strrchr(u, '.'));

            is_str(check(jwks, s, strlen(s), &policy, &out),
                   "signature mismatch", "signature of another token");
            free(s);
        }
    }

    free(t);
    free(u);
}


typedef struct {
    const pdf_report_jwks_t  *jwks;
    char                    **tokens;
    int                       errors;
} thread_t;


/* tokens of cases[] verified from THREADS threads at once */

static void
test_threads(const pdf_report_jwks_t *jwks)
{
    int        i, started, errors;
    char      *tokens[sizeof(cases) / sizeof(cases[0])];
    thread_t   th[THREADS];
    pthread_t  tid[THREADS];

    /* read here: token() and the TAP counters are not thread-safe */
    for (i = 0; cases[i].name != NULL; i++) {
        tokens[i] = token(cases[i].name);
    }

    started = 0;
    errors = 0;

    for (i = 0; i < THREADS; i++) {
        th[i].jwks = jwks;
        th[i].tokens = tokens;
        th[i].errors = 0;

        if (pthread_create(&tid[i], NULL, thread_main, &th[i]) != 0) {
            break;
        }

        started++;
    }

    for (i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        errors += th[i].errors;
    }

    for (i = 0; cases[i].name != NULL; i++) {
        free(tokens[i]);
    }

    is_int(started, THREADS, "%d threads started", THREADS);
    is_int(errors, 0, "concurrent verification on one JWKS agrees");
}


static void *
thread_main(void *arg)
{
    int                      round, i;
    thread_t                *th;
    const char              *r, *want;
    pdf_report_jwt_claims_t  out;
    pdf_report_jwt_policy_t  policy;

    th = arg;
    policy_init(&policy);

    for (round = 0; round < 5; round++) {
        for (i = 0; cases[i].name != NULL; i++) {
            if (th->tokens[i] == NULL) {
                th->errors++;
                continue;
            }

            r = check(th->jwks, th->tokens[i], strlen(th->tokens[i]),
                      &policy, &out);
            want = cases[i].reason;

            if ((r == NULL) != (want == NULL)
                || (r != NULL && strcmp(r, want) != 0))
            {
                th->errors++;
            }
        }
    }

    return NULL;
}
