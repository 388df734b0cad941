
/*
 * JWKS loading and compact-JWS JWT verification with OpenSSL 3 (EVP,
 * keys built with EVP_PKEY_fromdata) and jansson.  See pdf_report_jwt.h.
 *
 * Order of the checks in pdf_report_jwt_verify(): size and shape of the
 * token, strict base64url of all three parts, the protected header, the
 * key and the signature, and only then the claims: nothing in an
 * unauthenticated payload is interpreted, and a forged token is refused
 * for its signature whatever claims it carries.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "pdf_report_jwt.h"
#include "pdf_report_util.h"


#define PDF_REPORT_JWT_RSA        0     /* RSASSA-PKCS1-v1_5 */
#define PDF_REPORT_JWT_PSS        1     /* RSASSA-PSS */
#define PDF_REPORT_JWT_ECDSA      2
#define PDF_REPORT_JWT_EDDSA      3

#define PDF_REPORT_JWT_ALG_RSA    0x3fu /* RS256 ... PS512 */
#define PDF_REPORT_JWT_ALG_ES256  0x40u
#define PDF_REPORT_JWT_ALG_ES384  0x80u
#define PDF_REPORT_JWT_ALG_ES512  0x100u
#define PDF_REPORT_JWT_ALG_EDDSA  0x200u

/*
 * OpenSSL itself refuses RSA moduli above 16384 bits; a bound on the
 * public exponent keeps a hostile JWKS from making verification slow.
 */
#define PDF_REPORT_JWT_RSA_MIN    2048
#define PDF_REPORT_JWT_RSA_MAX    16384
#define PDF_REPORT_JWT_E_MAX      64

/* result of one signature check */
#define PDF_REPORT_JWT_SIG_OK     0
#define PDF_REPORT_JWT_SIG_BAD    1
#define PDF_REPORT_JWT_SIG_LEN    2
#define PDF_REPORT_JWT_SIG_ERROR  3


typedef struct {
    const char  *name;      /* JWS "alg" */
    int          type;      /* PDF_REPORT_JWT_RSA ... _EDDSA */
    const char  *md;        /* digest; NULL for EdDSA */
    size_t       len;       /* PSS: salt length; ECDSA: size of R and S */
} pdf_report_jwt_alg_t;


typedef struct {
    char        *kid;       /* NULL when the JWK has none */
    EVP_PKEY    *pkey;
    unsigned     algs;      /* bit i: pdf_report_jwt_algs[i] fits */
    size_t       sig_len;   /* the exact signature length, in bytes */
} pdf_report_jwk_t;


struct pdf_report_jwks_s {
    pdf_report_jwk_t  *keys;
    size_t             nkeys;
};


static int pdf_report_jwk_parse(json_t *jwk, pdf_report_jwk_t *key,
    char *msg, size_t size);
static const char *pdf_report_jwk_usable(json_t *jwk);
static unsigned char *pdf_report_jwk_member(json_t *jwk, const char *name,
    size_t *len);
static const char *pdf_report_jwk_rsa(json_t *jwk, pdf_report_jwk_t *key);
static const char *pdf_report_jwk_ec(json_t *jwk, pdf_report_jwk_t *key);
static const char *pdf_report_jwk_okp(json_t *jwk, pdf_report_jwk_t *key);
static const char *pdf_report_jwk_fromdata(const char *type,
    OSSL_PARAM_BLD *bld, EVP_PKEY **pkey, const char *bad);
static int pdf_report_jwt_alg(const char *name);
static const char *pdf_report_jwt_header(json_t *header, int *alg,
    const char **kid);
static const char *pdf_report_jwt_signature(const pdf_report_jwks_t *jwks,
    int alg, const char *kid, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t sig_len);
static int pdf_report_jwt_check(const pdf_report_jwk_t *key,
    const pdf_report_jwt_alg_t *alg, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t sig_len);
static const char *pdf_report_jwt_claims(json_t *payload,
    const pdf_report_jwt_policy_t *policy, pdf_report_jwt_claims_t *out);
static int pdf_report_jwt_number(json_t *obj, const char *name,
    double *value);
static const char *pdf_report_jwt_org(json_t *payload, const char *name,
    pdf_report_jwt_claims_t *out);
static const char *pdf_report_jwt_scopes(json_t *payload,
    pdf_report_jwt_claims_t *out);
static int pdf_report_jwt_scope_add(pdf_report_jwt_claims_t *out,
    size_t *n, const char *s, size_t len);
static int pdf_report_jwt_fail(pdf_report_jwt_claims_t *out,
    const char *reason);
static void pdf_report_jwt_err(char *err, size_t size, const char *fmt,
    ...);


/* one string, so that a refusal for it is told by its address */
static const char  pdf_report_jwt_unknown_kid[] = "unknown kid";


/* the order fixes the bits of pdf_report_jwk_t.algs */
static const pdf_report_jwt_alg_t  pdf_report_jwt_algs[] = {
    { "RS256", PDF_REPORT_JWT_RSA,   "SHA256", 0 },
    { "RS384", PDF_REPORT_JWT_RSA,   "SHA384", 0 },
    { "RS512", PDF_REPORT_JWT_RSA,   "SHA512", 0 },
    { "PS256", PDF_REPORT_JWT_PSS,   "SHA256", 32 },
    { "PS384", PDF_REPORT_JWT_PSS,   "SHA384", 48 },
    { "PS512", PDF_REPORT_JWT_PSS,   "SHA512", 64 },
    { "ES256", PDF_REPORT_JWT_ECDSA, "SHA256", 32 },
    { "ES384", PDF_REPORT_JWT_ECDSA, "SHA384", 48 },
    { "ES512", PDF_REPORT_JWT_ECDSA, "SHA512", 66 },
    { "EdDSA", PDF_REPORT_JWT_EDDSA, NULL,     0 }
};

#define PDF_REPORT_JWT_NALGS                                                 \
    (sizeof(pdf_report_jwt_algs) / sizeof(pdf_report_jwt_algs[0]))


/*
 * JWK members that only a private key has: a JWKS holding them is a
 * leaked secret, and the operator should hear about it rather than have
 * it silently work.
 */
static const char  *pdf_report_jwk_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};


pdf_report_jwks_t *
pdf_report_jwks_load(const char *json, size_t len,
    pdf_report_jwks_warn_pt warn, void *wdata, char *err, size_t err_size)
{
    char                msg[128], line[256], kid[64];
    size_t              i, n, k;
    json_t             *root, *keys, *jwk, *v;
    json_error_t        jerr;
    const char         *s;
    pdf_report_jwks_t  *jwks;

    pdf_report_jwt_err(err, err_size, "%s", "");

    root = pdf_report_json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        pdf_report_jwt_err(err, err_size, "JWKS is not valid JSON: %s "
                           "(line %d, column %d)", jerr.text, jerr.line,
                           jerr.column);
        return NULL;
    }

    keys = json_object_get(root, "keys");

    if (!json_is_object(root) || !json_is_array(keys)) {
        pdf_report_jwt_err(err, err_size, "%s",
                           "JWKS is not an object with a \"keys\" array");
        json_decref(root);
        return NULL;
    }

    n = json_array_size(keys);

    jwks = calloc(1, sizeof(pdf_report_jwks_t));
    if (jwks == NULL) {
        goto nomem;
    }

    jwks->keys = calloc(n ? n : 1, sizeof(pdf_report_jwk_t));
    if (jwks->keys == NULL) {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        jwk = json_array_get(keys, i);

        if (pdf_report_jwk_parse(jwk, &jwks->keys[jwks->nkeys], msg,
                                 sizeof(msg))
            == 0)
        {
            jwks->nkeys++;
            continue;
        }

        if (warn == NULL) {
            continue;
        }

        /* the kid only when it is short and printable: it goes to a log */
        kid[0] = '\0';
        v = json_object_get(jwk, "kid");
        s = json_string_value(v);

        if (s != NULL && strlen(s) <= 40) {
            for (k = 0; s[k] != '\0'; k++) {
                if (s[k] < 0x20 || s[k] > 0x7e || s[k] == '"') {
                    break;
                }
            }

            if (s[k] == '\0') {
                snprintf(kid, sizeof(kid), " (kid \"%.40s\")", s);
            }
        }

        snprintf(line, sizeof(line), "JWKS key #%zu%s skipped: %s",
                 i + 1, kid, msg);
        warn(wdata, line);
    }

    json_decref(root);

    /* nothing that failed above may leave errors for nginx to find */
    ERR_clear_error();

    if (jwks->nkeys == 0) {
        pdf_report_jwt_err(err, err_size, "JWKS holds no usable key (%zu "
                           "skipped)", n);
        pdf_report_jwks_free(jwks);
        return NULL;
    }

    return jwks;

nomem:

    pdf_report_jwt_err(err, err_size, "%s", "out of memory");
    json_decref(root);
    pdf_report_jwks_free(jwks);

    return NULL;
}


size_t
pdf_report_jwks_count(const pdf_report_jwks_t *jwks)
{
    return jwks ? jwks->nkeys : 0;
}


void
pdf_report_jwks_free(pdf_report_jwks_t *jwks)
{
    size_t  i;

    if (jwks == NULL) {
        return;
    }

    for (i = 0; i < jwks->nkeys; i++) {
        free(jwks->keys[i].kid);
        EVP_PKEY_free(jwks->keys[i].pkey);
    }

    free(jwks->keys);
    free(jwks);
}


/* 0 and key filled, or -1 with msg saying why the JWK is skipped */

static int
pdf_report_jwk_parse(json_t *jwk, pdf_report_jwk_t *key, char *msg,
    size_t size)
{
    int          a;
    json_t      *v;
    const char  *kty, *alg, *why;

    memset(key, 0, sizeof(pdf_report_jwk_t));

    if (!json_is_object(jwk)) {
        snprintf(msg, size, "not a JSON object");
        return -1;
    }

    kty = json_string_value(json_object_get(jwk, "kty"));

    if (kty == NULL) {
        snprintf(msg, size, "no \"kty\" string");
        return -1;
    }

    if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0
        && strcmp(kty, "OKP") != 0)
    {
        snprintf(msg, size, "kty is not RSA, EC or OKP");
        return -1;
    }

    why = pdf_report_jwk_usable(jwk);
    if (why != NULL) {
        snprintf(msg, size, "%s", why);
        return -1;
    }

    v = json_object_get(jwk, "kid");

    if (v != NULL) {
        if (!json_is_string(v)) {
            snprintf(msg, size, "kid is not a string");
            return -1;
        }

        key->kid = malloc(json_string_length(v) + 1);
        if (key->kid == NULL) {
            snprintf(msg, size, "out of memory");
            return -1;
        }

        memcpy(key->kid, json_string_value(v), json_string_length(v) + 1);
    }

    if (kty[0] == 'R') {
        why = pdf_report_jwk_rsa(jwk, key);

    } else if (kty[0] == 'E') {
        why = pdf_report_jwk_ec(jwk, key);

    } else {
        why = pdf_report_jwk_okp(jwk, key);
    }

    if (why == NULL) {
        v = json_object_get(jwk, "alg");

        if (v != NULL) {
            alg = json_string_value(v);
            a = (alg != NULL) ? pdf_report_jwt_alg(alg) : -1;

            /* "alg" narrows the key to that one algorithm (RFC 7517 4.4) */
            if (a < 0) {
                why = "alg is not a supported signature algorithm";

            } else if ((key->algs & (1u << a)) == 0) {
                why = "alg does not fit the key type or curve";

            } else {
                key->algs = 1u << a;
            }
        }
    }

    if (why != NULL) {
        snprintf(msg, size, "%s", why);
        free(key->kid);
        EVP_PKEY_free(key->pkey);
        memset(key, 0, sizeof(pdf_report_jwk_t));
        return -1;
    }

    return 0;
}


/* "use", "key_ops" and private members: NULL when the JWK may verify */

static const char *
pdf_report_jwk_usable(json_t *jwk)
{
    size_t       i;
    json_t      *v, *op;
    const char  *s;

    v = json_object_get(jwk, "use");

    if (v != NULL) {
        s = json_string_value(v);

        if (s == NULL || strcmp(s, "sig") != 0) {
            return "use is not \"sig\"";
        }
    }

    v = json_object_get(jwk, "key_ops");

    if (v != NULL) {
        if (!json_is_array(v)) {
            return "key_ops is not an array";
        }

        s = NULL;

        json_array_foreach(v, i, op) {
            if (!json_is_string(op)) {
                return "key_ops holds a non-string";
            }

            if (strcmp(json_string_value(op), "verify") == 0) {
                s = "verify";
            }
        }

        if (s == NULL) {
            return "key_ops does not allow \"verify\"";
        }
    }

    for (i = 0; pdf_report_jwk_private[i] != NULL; i++) {
        if (json_object_get(jwk, pdf_report_jwk_private[i]) != NULL) {
            return "holds private key material: publish public keys only";
        }
    }

    return NULL;
}


/* a base64url member, decoded into malloc()ed memory; NULL when invalid */

static unsigned char *
pdf_report_jwk_member(json_t *jwk, const char *name, size_t *len)
{
    long            n;
    size_t          slen;
    json_t         *v;
    const char     *s;
    unsigned char  *buf;

    v = json_object_get(jwk, name);
    s = json_string_value(v);

    if (s == NULL) {
        return NULL;
    }

    slen = json_string_length(v);

    if (slen == 0) {
        return NULL;
    }

    buf = malloc(slen);
    if (buf == NULL) {
        return NULL;
    }

    n = pdf_report_b64url_decode(buf, s, slen);

    if (n <= 0) {
        free(buf);
        return NULL;
    }

    *len = (size_t) n;

    return buf;
}


static const char *
pdf_report_jwk_rsa(json_t *jwk, pdf_report_jwk_t *key)
{
    int              bits;
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    const char      *why;
    unsigned char   *nbuf, *ebuf;
    OSSL_PARAM_BLD  *bld;

    n = NULL;
    e = NULL;
    bld = NULL;
    why = NULL;

    nbuf = pdf_report_jwk_member(jwk, "n", &nlen);
    ebuf = pdf_report_jwk_member(jwk, "e", &elen);

    if (nbuf == NULL || ebuf == NULL) {
        why = "RSA \"n\" or \"e\" missing or not base64url";
        goto done;
    }

    /* one byte more than the longest modulus: a leading zero is common */
    if (nlen > PDF_REPORT_JWT_RSA_MAX / 8 + 1) {
        why = "RSA key longer than 16384 bits";
        goto done;
    }

    if (elen > 64) {
        why = "RSA modulus or exponent is not plausible";
        goto done;
    }

    n = BN_bin2bn(nbuf, (int) nlen, NULL);
    e = BN_bin2bn(ebuf, (int) elen, NULL);

    if (n == NULL || e == NULL) {
        why = "out of memory";
        goto done;
    }

    bits = BN_num_bits(n);

    if (bits < PDF_REPORT_JWT_RSA_MIN) {
        why = "RSA key shorter than 2048 bits";
        goto done;
    }

    if (bits > PDF_REPORT_JWT_RSA_MAX) {
        why = "RSA key longer than 16384 bits";
        goto done;
    }

    if (!BN_is_odd(n) || !BN_is_odd(e) || BN_num_bits(e) < 2
        || BN_num_bits(e) > PDF_REPORT_JWT_E_MAX)
    {
        why = "RSA modulus or exponent is not plausible";
        goto done;
    }

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
    {
        why = "out of memory";
        goto done;
    }

    why = pdf_report_jwk_fromdata("RSA", bld, &key->pkey,
                                  "OpenSSL refused the RSA key");
    if (why != NULL) {
        goto done;
    }

    key->algs = PDF_REPORT_JWT_ALG_RSA;
    key->sig_len = (size_t) (bits + 7) / 8;

done:

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nbuf);
    free(ebuf);

    return why;
}


static const char *
pdf_report_jwk_ec(json_t *jwk, pdf_report_jwk_t *key)
{
    size_t           xlen, ylen, clen;
    unsigned         algs;
    const char      *crv, *group, *why;
    unsigned char   *x, *y, pub[1 + 2 * 66];
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM_BLD  *bld;

    crv = json_string_value(json_object_get(jwk, "crv"));

    if (crv == NULL) {
        return "EC \"crv\" missing";
    }

    /* RFC 7518 3.4 ties each ES algorithm to one curve */
    if (strcmp(crv, "P-256") == 0) {
        group = "prime256v1";
        clen = 32;
        algs = PDF_REPORT_JWT_ALG_ES256;

    } else if (strcmp(crv, "P-384") == 0) {
        group = "secp384r1";
        clen = 48;
        algs = PDF_REPORT_JWT_ALG_ES384;

    } else if (strcmp(crv, "P-521") == 0) {
        group = "secp521r1";
        clen = 66;
        algs = PDF_REPORT_JWT_ALG_ES512;

    } else {
        return "EC crv is not P-256, P-384 or P-521";
    }

    bld = NULL;
    ctx = NULL;
    why = NULL;

    x = pdf_report_jwk_member(jwk, "x", &xlen);
    y = pdf_report_jwk_member(jwk, "y", &ylen);

    /* RFC 7518 6.2.1.2: coordinates are always the full field length */
    if (x == NULL || y == NULL || xlen != clen || ylen != clen) {
        why = "EC \"x\" or \"y\" missing or of the wrong length";
        goto done;
    }

    pub[0] = 0x04;      /* uncompressed point */
    memcpy(&pub[1], x, clen);
    memcpy(&pub[1 + clen], y, clen);

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, 0)
           != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            pub, 1 + 2 * clen)
           != 1)
    {
        why = "out of memory";
        goto done;
    }

    /* OpenSSL refuses a point that is not on the curve */
    why = pdf_report_jwk_fromdata("EC", bld, &key->pkey,
                                  "EC point is not a valid public key");
    if (why != NULL) {
        goto done;
    }

    /* and, to be sure: on the curve, of the right order */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

    if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
        why = "EC point is not a valid public key";
        EVP_PKEY_free(key->pkey);
        key->pkey = NULL;
        goto done;
    }

    key->algs = algs;
    key->sig_len = 2 * clen;

done:

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);

    return why;
}


static const char *
pdf_report_jwk_okp(json_t *jwk, pdf_report_jwk_t *key)
{
    size_t          xlen, len;
    const char     *crv, *name, *why;
    unsigned char  *x;

    crv = json_string_value(json_object_get(jwk, "crv"));

    if (crv == NULL) {
        return "OKP \"crv\" missing";
    }

    if (strcmp(crv, "Ed25519") == 0) {
        name = "ED25519";
        len = 32;

    } else if (strcmp(crv, "Ed448") == 0) {
        name = "ED448";
        len = 57;

    } else {
        return "OKP crv is not Ed25519 or Ed448";
    }

    why = NULL;

    x = pdf_report_jwk_member(jwk, "x", &xlen);

    if (x == NULL || xlen != len) {
        why = "OKP \"x\" missing or of the wrong length";
        goto done;
    }

    key->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, name, NULL, x, len);

    if (key->pkey == NULL) {
        why = "OKP \"x\" is not a valid public key";
        goto done;
    }

    key->algs = PDF_REPORT_JWT_ALG_EDDSA;
    key->sig_len = 2 * len;

done:

    free(x);

    return why;
}


static const char *
pdf_report_jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld,
    EVP_PKEY **pkey, const char *bad)
{
    const char    *why;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    why = NULL;
    *pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL) {
        why = "out of memory";

    } else if (EVP_PKEY_fromdata_init(ctx) != 1
               || EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params)
                  != 1)
    {
        why = bad;
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return why;
}


/* index in pdf_report_jwt_algs, or -1; JWA names are case-sensitive */

static int
pdf_report_jwt_alg(const char *name)
{
    size_t  i;

    for (i = 0; i < PDF_REPORT_JWT_NALGS; i++) {
        if (strcmp(pdf_report_jwt_algs[i].name, name) == 0) {
            return (int) i;
        }
    }

    return -1;
}


int
pdf_report_jwt_verify(const pdf_report_jwks_t *jwks, const char *token,
    size_t len, const pdf_report_jwt_policy_t *policy,
    pdf_report_jwt_claims_t *out)
{
    int             alg, rc;
    long            hn, pn, sn;
    size_t          hl, pl, sl;
    json_t         *header, *payload;
    const char     *dot1, *dot2, *kid, *why;
    json_error_t    jerr;
    unsigned char  *h, *p, *s;
    /* the three decoded parts together: 3/4 of the token at most */
    unsigned char   buf[PDF_REPORT_JWT_MAX_LEN];

    memset(out, 0, sizeof(pdf_report_jwt_claims_t));

    if (token == NULL || len == 0) {
        return pdf_report_jwt_fail(out, "no token");
    }

    if (len > PDF_REPORT_JWT_MAX_LEN) {
        return pdf_report_jwt_fail(out, "token too long");
    }

    if (jwks == NULL || jwks->nkeys == 0 || policy == NULL) {
        return pdf_report_jwt_fail(out, "no keys configured");
    }

    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token))
                : NULL;

    if (dot2 == NULL
        || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
    {
        return pdf_report_jwt_fail(out, "malformed token: not three parts");
    }

    hl = (size_t) (dot1 - token);
    pl = (size_t) (dot2 - (dot1 + 1));
    sl = len - (size_t) (dot2 + 1 - token);

    /* each part decoded right after the previous one in buf */
    h = buf;
    hn = pdf_report_b64url_decode(h, token, hl);

    if (hn <= 0) {
        return pdf_report_jwt_fail(out, "malformed token: bad base64url");
    }

    p = h + hn;
    pn = pdf_report_b64url_decode(p, dot1 + 1, pl);

    if (pn <= 0) {
        return pdf_report_jwt_fail(out, "malformed token: bad base64url");
    }

    s = p + pn;
    sn = pdf_report_b64url_decode(s, dot2 + 1, sl);

    if (sn < 0) {
        return pdf_report_jwt_fail(out, "malformed token: bad base64url");
    }

    header = NULL;
    payload = NULL;
    alg = -1;
    kid = NULL;
    rc = -1;

    /* numbers beyond jansson's range read as stand-ins, not refused */
    header = pdf_report_json_loadb((const char *) h, (size_t) hn,
                                   JSON_REJECT_DUPLICATES, &jerr);

    if (header == NULL) {
        why = "malformed token header";
        goto done;
    }

    why = pdf_report_jwt_header(header, &alg, &kid);
    if (why != NULL) {
        goto done;
    }

    /* the signing input is the token's own text up to the second dot */
    why = pdf_report_jwt_signature(jwks, alg, kid,
                                   (const unsigned char *) token,
                                   (size_t) (dot2 - token), s, (size_t) sn);
    if (why != NULL) {
        goto done;
    }

    payload = pdf_report_json_loadb((const char *) p, (size_t) pn,
                                    JSON_REJECT_DUPLICATES, &jerr);

    if (payload == NULL) {
        why = "malformed token payload";
        goto done;
    }

    why = pdf_report_jwt_claims(payload, policy, out);
    if (why != NULL) {
        goto done;
    }

    rc = 0;

done:

    json_decref(header);
    json_decref(payload);

    /* failed checks leave errors in this thread's OpenSSL queue */
    ERR_clear_error();

    if (rc != 0) {
        memset(out, 0, sizeof(pdf_report_jwt_claims_t));
        out->unknown_kid = (why == pdf_report_jwt_unknown_kid);
        return pdf_report_jwt_fail(out, why);
    }

    return 0;
}


/* the protected header: NULL, alg and kid (NULL if absent); or why not */

static const char *
pdf_report_jwt_header(json_t *header, int *alg, const char **kid)
{
    json_t      *v;
    const char  *s;

    if (!json_is_object(header)) {
        return "token header is not a JSON object";
    }

    s = json_string_value(json_object_get(header, "alg"));

    if (s == NULL) {
        return "alg missing or not a string";
    }

    /* "none", HS256/384/512 and anything else we do not know */
    *alg = pdf_report_jwt_alg(s);

    if (*alg < 0) {
        return "alg not allowed";
    }

    /*
     * We understand no extension header, so RFC 7515 4.1.11 says the
     * token must be refused whatever "crit" lists (an empty list is
     * malformed too).
     */
    if (json_object_get(header, "crit") != NULL) {
        return "crit header not supported";
    }

    /*
     * Explicit typing (RFC 8725 3.11): a token typed for another purpose
     * (a DPoP proof "dpop+jwt", a logout or security event token) must
     * not pass as an access token.  Accepted: no typ, as many issuers
     * send, "JWT" (RFC 7519) and "at+jwt" (RFC 9068), with or without
     * "application/", compared case-insensitively as media types are.
     */
    v = json_object_get(header, "typ");

    if (v != NULL) {
        s = json_string_value(v);

        if (s == NULL) {
            return "typ not accepted";
        }

        if (strncasecmp(s, "application/", 12) == 0) {
            s += 12;
        }

        if (strcasecmp(s, "JWT") != 0 && strcasecmp(s, "at+jwt") != 0) {
            return "typ not accepted";
        }
    }

    /* a nested JWT (cty "JWT") or other content is not a claims set */
    if (json_object_get(header, "cty") != NULL) {
        return "cty header not supported";
    }

    /* JWS has no compression; a deflated payload is not a claims set */
    if (json_object_get(header, "zip") != NULL) {
        return "zip header not supported";
    }

    v = json_object_get(header, "kid");

    if (v != NULL && !json_is_string(v)) {
        return "kid is not a string";
    }

    *kid = json_string_value(v);

    /*
     * "jku", "x5u", "jwk", "x5c" and "x5t" are deliberately never looked
     * at: a token must not choose the key that verifies it.  Only the
     * configured JWKS is trusted.
     */

    return NULL;
}


/*
 * NULL when a key fitting alg (and kid, when given) verifies sig over
 * data.  With a kid only the keys with that kid are candidates, never
 * the others: a kid that no key has is refused.  Without a kid each key
 * fitting alg is tried; a JWKS is short, so this bounds the work.
 */

static const char *
pdf_report_jwt_signature(const pdf_report_jwks_t *jwks, int alg,
    const char *kid, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t sig_len)
{
    int                      rc, kid_found, tried, bad_len;
    size_t                   i;
    const pdf_report_jwk_t  *key;

    kid_found = 0;
    tried = 0;
    bad_len = 0;

    for (i = 0; i < jwks->nkeys; i++) {
        key = &jwks->keys[i];

        if (kid != NULL) {
            if (key->kid == NULL || strcmp(key->kid, kid) != 0) {
                continue;
            }

            kid_found = 1;
        }

        if ((key->algs & (1u << alg)) == 0) {
            continue;
        }

        tried++;

        rc = pdf_report_jwt_check(key, &pdf_report_jwt_algs[alg], data, len,
                                  sig, sig_len);

        if (rc == PDF_REPORT_JWT_SIG_OK) {
            return NULL;
        }

        if (rc == PDF_REPORT_JWT_SIG_LEN) {
            bad_len++;
        }
    }

    if (kid != NULL && !kid_found) {
        return pdf_report_jwt_unknown_kid;
    }

    if (tried == 0) {
        return (kid != NULL) ? "alg does not fit the key"
                             : "no key for this alg";
    }

    if (bad_len == tried) {
        return "signature length wrong";
    }

    return "signature mismatch";
}


static int
pdf_report_jwt_check(const pdf_report_jwk_t *key,
    const pdf_report_jwt_alg_t *alg, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t sig_len)
{
    int             rc, n;
    BIGNUM         *r, *s;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *mctx;
    EVP_PKEY_CTX   *pctx;
    unsigned char  *der;

    /*
     * Fixed lengths: RSA the modulus size, ECDSA the raw R || S of JWS
     * (RFC 7518 3.4; a DER signature is refused), EdDSA 64 or 114.
     */
    if (sig_len != key->sig_len) {
        return PDF_REPORT_JWT_SIG_LEN;
    }

    der = NULL;
    mctx = NULL;
    rc = PDF_REPORT_JWT_SIG_ERROR;

    if (alg->type == PDF_REPORT_JWT_ECDSA) {
        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, (int) alg->len, NULL);
        s = BN_bin2bn(sig + alg->len, (int) alg->len, NULL);

        if (es == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(es, r, s) != 1)
        {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            goto done;
        }

        /* es owns r and s now */
        n = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);

        if (n <= 0) {
            goto done;
        }

        sig = der;
        sig_len = (size_t) n;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        goto done;
    }

    pctx = NULL;

    if (EVP_DigestVerifyInit_ex(mctx, &pctx, alg->md, NULL, NULL, key->pkey,
                                NULL)
        != 1)
    {
        goto done;
    }

    if (alg->type == PDF_REPORT_JWT_RSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
            goto done;
        }

    } else if (alg->type == PDF_REPORT_JWT_PSS) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as it */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, alg->md, NULL) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int) alg->len) <= 0)
        {
            goto done;
        }
    }

    /* 1 is a good signature; 0 a bad one, below 0 an error: both refuse */
    rc = (EVP_DigestVerify(mctx, sig, sig_len, data, len) == 1)
         ? PDF_REPORT_JWT_SIG_OK : PDF_REPORT_JWT_SIG_BAD;

done:

    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);

    return rc;
}


static const char *
pdf_report_jwt_claims(json_t *payload, const pdf_report_jwt_policy_t *policy,
    pdf_report_jwt_claims_t *out)
{
    int          rc;
    double       exp, t, now, leeway;
    size_t       i;
    json_t      *v, *a;
    const char  *why;

    if (!json_is_object(payload)) {
        return "token payload is not a JSON object";
    }

    /*
     * NumericDate may be an integer or a real (RFC 7519 2); doubles hold
     * every second of the next 285 million years exactly.  A number
     * beyond jansson's range was read as a stand-in of the same sign
     * (pdf_report_json_loadb()): an exp of 2^70 or 1e400 is far in the
     * future, one of -2^70 or -1e400 long past.
     */
    now = (double) policy->now;
    leeway = (double) (policy->leeway > 0 ? policy->leeway : 0);

    rc = pdf_report_jwt_number(payload, "exp", &exp);

    if (rc == 0) {
        return "exp missing";
    }

    if (rc < 0) {
        return "exp is not a number";
    }

    if (now > exp + leeway) {
        return "token expired";
    }

    out->exp = (exp >= 9.2e18) ? INT64_MAX
               : (exp <= -9.2e18) ? INT64_MIN : (int64_t) exp;

    rc = pdf_report_jwt_number(payload, "nbf", &t);

    if (rc < 0) {
        return "nbf is not a number";
    }

    if (rc > 0 && t > now + leeway) {
        return "token not yet valid";
    }

    rc = pdf_report_jwt_number(payload, "iat", &t);

    if (rc < 0) {
        return "iat is not a number";
    }

    if (rc > 0 && t > now + leeway) {
        return "token issued in the future";
    }

    /* iss and aud are type-checked even when the policy ignores them */
    v = json_object_get(payload, "iss");

    if (v != NULL && !json_is_string(v)) {
        return "iss is not a string";
    }

    if (policy->issuer != NULL
        && (v == NULL || strcmp(json_string_value(v), policy->issuer) != 0))
    {
        return "issuer mismatch";
    }

    v = json_object_get(payload, "aud");
    rc = 0;

    if (json_is_string(v)) {
        rc = (policy->audience != NULL
              && strcmp(json_string_value(v), policy->audience) == 0);

    } else if (json_is_array(v)) {
        json_array_foreach(v, i, a) {
            if (!json_is_string(a)) {
                return "aud is not a string or array of strings";
            }

            if (policy->audience != NULL
                && strcmp(json_string_value(a), policy->audience) == 0)
            {
                rc = 1;
            }
        }

    } else if (v != NULL) {
        return "aud is not a string or array of strings";
    }

    if (policy->audience != NULL && !rc) {
        return "audience mismatch";
    }

    why = pdf_report_jwt_org(payload,
                             policy->org_claim ? policy->org_claim : "org_id",
                             out);
    if (why != NULL) {
        return why;
    }

    return pdf_report_jwt_scopes(payload, out);
}


/* 1 and *value, 0 when absent, -1 when not a JSON number */

static int
pdf_report_jwt_number(json_t *obj, const char *name, double *value)
{
    json_t  *v;

    v = json_object_get(obj, name);

    if (v == NULL) {
        return 0;
    }

    if (!json_is_number(v)) {
        return -1;
    }

    *value = json_number_value(v);

    return 1;
}


static const char *
pdf_report_jwt_org(json_t *payload, const char *name,
    pdf_report_jwt_claims_t *out)
{
    size_t                i, len;
    json_t               *v;
    const unsigned char  *s;

    v = json_object_get(payload, name);

    if (v == NULL) {
        return "org claim missing";
    }

    if (!json_is_string(v)) {
        return "org claim is not a string";
    }

    s = (const unsigned char *) json_string_value(v);
    len = json_string_length(v);

    if (len == 0) {
        return "org claim is empty";
    }

    if (len > PDF_REPORT_JWT_ORG_MAX) {
        return "org claim too long";
    }

    /*
     * The org names LMDB keys and S3 object keys and goes to logs: no C0
     * controls, DEL or C1 controls (U+0080..U+009F, C2 80..C2 9F in
     * UTF-8).  jansson has already refused NUL and invalid UTF-8.
     */
    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f
            || (s[i] == 0xc2 && i + 1 < len && s[i + 1] <= 0x9f))
        {
            return "org claim has control characters";
        }
    }

    memcpy(out->org, s, len);
    out->org[len] = '\0';

    return NULL;
}


/*
 * "scope" (a space-separated string, RFC 8693 4.2) or, without it, "scp"
 * (an array of strings, or a string as "scope"), joined by single spaces.
 */

static const char *
pdf_report_jwt_scopes(json_t *payload, pdf_report_jwt_claims_t *out)
{
    int          rc, scp;
    size_t       i, n, len, k;
    json_t      *v, *e;
    const char  *s;

    n = 0;
    out->scopes[0] = '\0';

    scp = 0;
    v = json_object_get(payload, "scope");

    if (v == NULL) {
        scp = 1;
        v = json_object_get(payload, "scp");
    }

    if (v == NULL) {
        return NULL;
    }

    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);

        for (i = 0; i < len; i = k + 1) {
            for (k = i; k < len && s[k] != ' '; k++) {
                /* void */
            }

            rc = pdf_report_jwt_scope_add(out, &n, &s[i], k - i);

            if (rc != 0) {
                return (rc == 1) ? "scope claim too long"
                                 : "scope claim malformed";
            }
        }

        return NULL;
    }

    if (!scp) {
        return "scope is not a string";
    }

    if (!json_is_array(v)) {
        return "scp is not a string or array of strings";
    }

    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            return "scp is not a string or array of strings";
        }

        /* an element is one scope: a space inside it is malformed */
        rc = pdf_report_jwt_scope_add(out, &n, json_string_value(e),
                                      json_string_length(e));

        if (rc != 0) {
            return (rc == 1) ? "scope claim too long" : "scope claim malformed";
        }
    }

    return NULL;
}


/* 0 added (or empty), 1 too long, -1 not a scope-token of RFC 6749 3.3 */

static int
pdf_report_jwt_scope_add(pdf_report_jwt_claims_t *out, size_t *n,
    const char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c < 0x21 || c == '"' || c == '\\' || c > 0x7e) {
            return -1;
        }
    }

    if (*n + (*n ? 1 : 0) + len > PDF_REPORT_JWT_SCOPES_MAX) {
        return 1;
    }

    if (*n) {
        out->scopes[(*n)++] = ' ';
    }

    memcpy(&out->scopes[*n], s, len);
    *n += len;
    out->scopes[*n] = '\0';

    return 0;
}


int
pdf_report_jwt_has_scope(const pdf_report_jwt_claims_t *claims,
    const char *scope)
{
    size_t       n, len;
    const char  *p, *sp;

    if (claims == NULL || scope == NULL) {
        return 0;
    }

    n = strlen(scope);

    if (n == 0) {
        return 0;
    }

    for (p = claims->scopes; *p != '\0'; p = sp + 1) {
        sp = strchr(p, ' ');
        len = sp ? (size_t) (sp - p) : strlen(p);

        if (len == n && memcmp(p, scope, n) == 0) {
            return 1;
        }

        if (sp == NULL) {
            break;
        }
    }

    return 0;
}


static int
pdf_report_jwt_fail(pdf_report_jwt_claims_t *out, const char *reason)
{
    snprintf(out->reason, sizeof(out->reason), "%s", reason);

    return -1;
}


static void
pdf_report_jwt_err(char *err, size_t size, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL || size == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, size, fmt, args);
    va_end(args);
}
