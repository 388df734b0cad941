
/*
 * The AWS credentials file parser, and pdf_report_s3_put against a small
 * scripted HTTP server on loopback: the request it sends (checked against
 * the signature of what arrived), retries of 5xx and SlowDown with the
 * caller's hook between attempts, fail-fast 4xx with S3's <Code>, network
 * errors retried until the deadline, and the deadline bounding an attempt
 * that never gets an answer.  And the object key: the org always one
 * segment, plain ids unchanged, no two orgs with one key.  And the
 * DELETE of retention and erasure: its signed request, 2xx and 404 as
 * gone, what is worth retrying, the connection kept between deletes.
 * And keys that rotate: a credentials source asked before each attempt,
 * its session token signed, and no request made when it has none.
 */


#define _GNU_SOURCE            /* strcasestr */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "fake_listen.h"
#include "tap.h"
#include "pdf_report_util.h"
#include "pdf_report_jwt.h"
#include "pdf_report_s3.h"


static int64_t  cancel_start;

static int cancel_after_300ms(void);
static int key_hex(char c);
static int key_decode(const char *src, size_t len, char *dst, size_t size);


#define TEST_ACCESS   "AKIDPDFREPORTTEST"
#define TEST_SECRET   "pdfReportTestSecret/K7MDENG+bPxRfiCYEXAMPLE"
#define TEST_TOKEN    "FwoGZXIvYXdzEPDFREPORT//TOKEN+with/base64=="
#define FAKE_MAX      8

/* a reply that is no reply: hold the connection until the client leaves */
#define FAKE_HANG     ((const char *) 1)


typedef struct {
    int           fd;
    int           port;
    const char   *replies[FAKE_MAX];
    int           nreplies;
    int           served;
    char          head[FAKE_MAX][4096];
    size_t        body_len[FAKE_MAX];
    char          body_sha[FAKE_MAX][65];
    pthread_t     tid;
} fake_t;


static const char  reply_200[] =
    "HTTP/1.1 200 OK\r\n"
    "ETag: \"x\"\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n\r\n";

static const char  reply_slowdown[] =
    "HTTP/1.1 503 Slow Down\r\n"
    "Content-Type: application/xml\r\n"
    "Content-Length: 121\r\n"
    "Connection: close\r\n\r\n"
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate."
    "</Message></Error>";

static const char  reply_500[] =
    "HTTP/1.1 500 Internal Server Error\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n\r\n";

static const char  reply_403[] =
    "HTTP/1.1 403 Forbidden\r\n"
    "Content-Type: application/xml\r\n"
    "Connection: close\r\n\r\n"
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
    "signature we calculated does not match the signature you provided. "
    "Check your key and signing method.</Message>"
    "<AWSAccessKeyId>AKIDPDFREPORTTEST</AWSAccessKeyId>"
    "<StringToSign>AWS4-HMAC-SHA256\n20250505T100000Z</StringToSign>"
    "<SignatureProvided>0123</SignatureProvided></Error>";

static const char  reply_404[] =
    "HTTP/1.1 404 Not Found\r\n"
    "Content-Type: application/xml\r\n"
    "Connection: close\r\n\r\n"
    "<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
    "&quot;x&quot; does not exist</Message></Error>";

static const char  reply_400_expired[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Connection: close\r\n\r\n"
    "<Error><Code>ExpiredToken</Code><Message>The provided token has "
    "expired.</Message></Error>";

static const char  reply_400_slowdown[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Connection: close\r\n\r\n"
    "<Error><Code>SlowDown</Code><Message>Reduce your rate.</Message>"
    "</Error>";


static void
sha256_hex(const void *data, size_t len, char *hex)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1) {
        strcpy(hex, "(sha256 failed)");
        return;
    }

    pdf_report_hex(hex, md, 32);
    hex[64] = '\0';
}


static void *
fake_run(void *data)
{
    int            c, i;
    char          *buf, *end, *cl;
    size_t         len, size, want;
    ssize_t        n;
    fake_t        *f;
    struct pollfd  pfd;

    f = data;
    size = 1 << 20;

    buf = malloc(size);
    if (buf == NULL) {
        return NULL;
    }

    for (i = 0; i < f->nreplies; i++) {
        pfd.fd = f->fd;
        pfd.events = POLLIN;

        /* a test that never connects must not keep the thread forever */
        if (poll(&pfd, 1, 10000) != 1) {
            break;
        }

        c = accept(f->fd, NULL, NULL);
        if (c == -1) {
            break;
        }

        len = 0;
        end = NULL;

        while (end == NULL && len < size - 1) {
            n = recv(c, buf + len, size - 1 - len, 0);
            if (n <= 0) {
                break;
            }

            len += n;
            buf[len] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }

        if (end == NULL) {
            close(c);
            continue;
        }

        want = 0;
        cl = strcasestr(buf, "\r\nContent-Length:");

        if (cl != NULL && cl < end) {
            want = strtoul(cl + 17, NULL, 10);
        }

        while (len - (end + 4 - buf) < want && len < size - 1) {
            n = recv(c, buf + len, size - 1 - len, 0);
            if (n <= 0) {
                break;
            }

            len += n;
        }

        *end = '\0';
        snprintf(f->head[i], sizeof(f->head[i]), "%s", buf);
        f->body_len[i] = len - (end + 4 - buf);
        sha256_hex(end + 4, f->body_len[i], f->body_sha[i]);
        f->served++;

        if (f->replies[i] == FAKE_HANG) {
            while (recv(c, buf, size, 0) > 0) {
                /* void */
            }

        } else {
            (void) send(c, f->replies[i], strlen(f->replies[i]),
                        MSG_NOSIGNAL);
        }

        close(c);
    }

    free(buf);

    return NULL;
}


static int
fake_start(fake_t *f)
{
    return fake_serve(&f->fd, &f->port, &f->tid, fake_run, f);
}


static void
fake_stop(fake_t *f)
{
    fake_join(f->tid, f->fd);
}


/* a loopback port with nobody listening (bound, then released) */

static int
closed_port(void)
{
    int                 fd, port;
    socklen_t           alen;
    struct sockaddr_in  sin;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1) {
        return 1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    alen = sizeof(sin);

    port = 1;

    if (bind(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0
        && getsockname(fd, (struct sockaddr *) &sin, &alen) == 0)
    {
        port = ntohs(sin.sin_port);
    }

    close(fd);

    return port;
}


/* the value of header name in a request head, into dst */

static int
header_value(const char *head, const char *name, char *dst, size_t size)
{
    size_t       n, len;
    const char  *p, *e;

    n = strlen(name);

    for (p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            p += 2 + n + 1;

            while (*p == ' ') {
                p++;
            }

            e = strstr(p, "\r\n");
            len = (e != NULL) ? (size_t) (e - p) : strlen(p);

            if (len >= size) {
                return -1;
            }

            memcpy(dst, p, len);
            dst[len] = '\0';

            return 0;
        }
    }

    return -1;
}


static int
count_between(void *data)
{
    (*(int *) data)++;
    return 0;
}


static int
stop_between(void *data)
{
    (*(int *) data)++;
    return 1;
}


static void
test_credentials(void)
{
    int   rc;
    char  ak[64], sk[64], tok[128], err[128], tiny[8];

    static const char  file[] =
        "# AWS shared credentials\n"
        "; another comment style\n"
        "\n"
        "[default]\n"
        "aws_access_key_id = AKIDDEFAULT\n"
        "aws_secret_access_key = secretDEFAULT/+x\n"
        "\n"
        "  [ reports ]  \r\n"
        "\taws_access_key_id=AKIDREPORTS\r\n"
        "AWS_SECRET_ACCESS_KEY   =   secretREPORTS  \r\n"
        "aws_session_token = tokenREPORTS==\r\n"
        "region = eu-west-3\r\n"
        "\r\n"
        "[profile cfg]\n"
        "aws_access_key_id: AKIDCFG\n"
        "aws_secret_access_key: secretCFG\n"
        "[nosecret]\n"
        "aws_access_key_id = AKIDNOSECRET\n"
        "[emptysecret]\n"
        "aws_access_key_id = AKIDEMPTY\n"
        "aws_secret_access_key =\n"
        "[last]\n"
        "aws_access_key_id = AKIDLAST\n"
        "aws_secret_access_key = secretLAST";

    static const char  bom[] =
        "\xef\xbb\xbf[default]\r\naws_access_key_id=A\r\n"
        "aws_secret_access_key=B\r\n";

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, NULL, ak,
                                          sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    is_int(rc, 0, "credentials: default profile when NULL");
    is_str(ak, "AKIDDEFAULT", "credentials: default access key");
    is_str(sk, "secretDEFAULT/+x", "credentials: default secret");
    is_str(tok, "", "credentials: no token is \"\"");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, "reports",
                                          ak, sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    is_int(rc, 0, "credentials: named profile, CRLF, odd whitespace");
    is_str(ak, "AKIDREPORTS", "credentials: named access key");
    is_str(sk, "secretREPORTS", "credentials: key name case-insensitive, "
           "value trimmed");
    is_str(tok, "tokenREPORTS==", "credentials: session token, '=' kept");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, "cfg", ak,
                                          sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    ok(rc == 0 && strcmp(ak, "AKIDCFG") == 0 && strcmp(sk, "secretCFG") == 0,
       "credentials: [profile cfg] and ':' separator");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, "last", ak,
                                          sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    ok(rc == 0 && strcmp(sk, "secretLAST") == 0,
       "credentials: last line without a newline");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, "missing",
                                          ak, sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    is_int(rc, -1, "credentials: missing profile fails");
    is_str(err, "profile \"missing\" not found",
           "credentials: missing profile message");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, "nosecret",
                                          ak, sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    is_int(rc, -1, "credentials: missing secret fails");
    is_str(err, "profile \"nosecret\" has no aws_secret_access_key",
           "credentials: missing secret message");
    ok(ak[0] == '\0' && sk[0] == '\0', "credentials: outputs cleared");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1,
                                          "emptysecret", ak, sizeof(ak), sk,
                                          sizeof(sk), tok, sizeof(tok), err,
                                          sizeof(err));
    is_int(rc, -1, "credentials: empty secret fails");

    rc = pdf_report_aws_credentials_parse(file, sizeof(file) - 1, "reports",
                                          ak, sizeof(ak), tiny, sizeof(tiny),
                                          tok, sizeof(tok), err, sizeof(err));
    is_int(rc, -1, "credentials: secret longer than its buffer fails");
    ok(strstr(err, "aws_secret_access_key is too long") != NULL
       && strstr(err, "secretREPORTS") == NULL,
       "credentials: the message names the key, not the secret");

    rc = pdf_report_aws_credentials_parse("[default\nx=y\n", 12, NULL, ak,
                                          sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    ok(rc == -1 && strstr(err, "line 1") != NULL,
       "credentials: broken section header, with its line");

    rc = pdf_report_aws_credentials_parse("[default]\njunk line\n", 20, NULL,
                                          ak, sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    ok(rc == -1 && strstr(err, "line 2") != NULL,
       "credentials: a line without '=' in the profile fails");

    rc = pdf_report_aws_credentials_parse("", 0, NULL, ak, sizeof(ak), sk,
                                          sizeof(sk), tok, sizeof(tok), err,
                                          sizeof(err));
    is_int(rc, -1, "credentials: empty file fails");

    rc = pdf_report_aws_credentials_parse(bom, sizeof(bom) - 1, "default",
                                          ak, sizeof(ak), sk, sizeof(sk), tok,
                                          sizeof(tok), err, sizeof(err));
    ok(rc == 0 && strcmp(ak, "A") == 0 && strcmp(sk, "B") == 0,
       "credentials: UTF-8 BOM and CRLF");

    /* found by fuzz_aws_credentials: the key id cut at a NUL was empty */
    {
        static const char  nul[] = "[default]\naws_access_key_id = \0AKID\n"
                                   "aws_secret_access_key = S\n";

        rc = pdf_report_aws_credentials_parse(nul, sizeof(nul) - 1, NULL, ak,
                                              sizeof(ak), sk, sizeof(sk), tok,
                                              sizeof(tok), err, sizeof(err));
        is_int(rc, -1, "credentials: a NUL byte fails the file");
        is_str(err, "line 2: a NUL byte", "credentials: NUL message");
        ok(ak[0] == '\0' && sk[0] == '\0', "credentials: nothing taken");
    }
}


#define KEY_ID  "0f8e3c1a-6b2d-4e5f-9a7b-1c2d3e4f5a6b"


static void
test_object_key(void)
{
    int          i, j, one_segment, dot_segment, decoded;
    char         key[PDF_REPORT_S3_KEY_MAX + 1], want[256], org[256];
    char         keys[32][160], url[PDF_REPORT_S3_URL_MAX];
    char         big[PDF_REPORT_JWT_ORG_MAX + 1];
    long         n, m;
    size_t       plen, size;
    const char  *seg, *end, *p;

    static const char  *plain[] = {
        "org_acme", "org-1", "org.acme", "Org42", "org~x", "a..b", "...",
        ".a", "a.", "org acme", "org+1", "org@acme", "\xc3\xa9" "cole"
    };

    static const struct {
        const char  *org;
        const char  *segment;
        const char  *why;
    } hostile[] = {
        { "../../evil", "..%2F..%2Fevil", "'/' escaped, dots kept" },
        { "a/b", "a%2Fb", "not org a's folder" },
        { ".", "%2E", "\".\" as a whole" },
        { "..", "%2E%2E", "\"..\" as a whole" },
        { "a%2Fb", "a%252Fb", "'%' itself escaped" },
        { "%", "%25", "a lone '%'" },
        { "%2E", "%252E", "not the same as \".\"" },
        { "a\\b", "a%5Cb", "backslash" },
        { "/", "%2F", "a lone '/'" },
        { "a\tb\x7f", "a%09b%7F", "TAB and DEL" },
        { "\x01\x1f", "%01%1F", "C0 controls, upper-case hex" },
        { "a\r\nb", "a%0D%0Ab", "CR LF" }
    };

    /* tricky ids, none equal: their keys must all differ */
    static const char  *tricky[] = {
        ".", "..", "%2E", "%2E%2E", "%252E", "a/b", "a%2Fb", "a%252Fb",
        "a\\b", "a%5Cb", "%", "%25", "a", "a/", "/a", "a//b", "a/./b",
        "a/../b", "...", ". ", "a\x01", "a%01", "a%", "a%%", "%2F", "/",
        "../../evil", "..%2F..%2Fevil", "org_acme", "org_acme/x",
        "org_acme%2Fx", "org_acme\\x"
    };

    plen = sizeof("reports/") - 1;

    for (i = 0; i < (int) (sizeof(plain) / sizeof(plain[0])); i++) {
        snprintf(want, sizeof(want), "reports/%s/" KEY_ID ".pdf", plain[i]);
        n = pdf_report_s3_object_key(key, sizeof(key), "reports/", plen,
                                     plain[i], KEY_ID);
        is_str(key, want, "key: plain org \"%s\" as before", plain[i]);
        is_int(n, (long) strlen(want), "key: \"%s\" length returned",
               plain[i]);
    }

    for (i = 0; i < (int) (sizeof(hostile) / sizeof(hostile[0])); i++) {
        snprintf(want, sizeof(want), "reports/%s/" KEY_ID ".pdf",
                 hostile[i].segment);
        n = pdf_report_s3_object_key(key, sizeof(key), "reports/", plen,
                                     hostile[i].org, KEY_ID);
        is_str(key, want, "key: %s", hostile[i].why);
        is_int(n, (long) strlen(want), "key: %s, length", hostile[i].why);
    }

    /* the prefix is the operator's: copied as it is, even empty */
    n = pdf_report_s3_object_key(key, sizeof(key), "", 0, "a/b", KEY_ID);
    is_str(key, "a%2Fb/" KEY_ID ".pdf", "key: empty prefix");
    n = pdf_report_s3_object_key(key, sizeof(key), "x/y-", 4, "org_acme",
                                 KEY_ID);
    is_str(key, "x/y-org_acme/" KEY_ID ".pdf", "key: prefix as it is");
    n = pdf_report_s3_object_key(key, sizeof(key), "reports/junk", plen,
                                 "o", KEY_ID);
    is_str(key, "reports/o/" KEY_ID ".pdf", "key: prefix_len bytes only");

    /* the job id is one segment too, though it is always a UUID */
    n = pdf_report_s3_object_key(key, sizeof(key), "r/", 2, "o", "../x");
    is_str(key, "r/o/..%2Fx.pdf", "key: a job id with '/' escaped");

    n = pdf_report_s3_object_key(key, sizeof(key), "reports/", plen, "",
                                 KEY_ID);
    is_int(n, -1, "key: empty org refused");
    n = pdf_report_s3_object_key(key, sizeof(key), "reports/", plen,
                                 "org_acme", "");
    is_int(n, -1, "key: empty job id refused");

    /* injective, one segment, never a dot segment, decodes to the org */
    for (i = 0; i < (int) (sizeof(tricky) / sizeof(tricky[0])); i++) {
        n = pdf_report_s3_object_key(keys[i], sizeof(keys[i]), "reports/",
                                     plen, tricky[i], KEY_ID);
        ok(n > 0, "key: tricky org %d built", i);

        seg = keys[i] + plen;
        end = strchr(seg, '/');
        one_segment = (end != NULL
                       && strcmp(end, "/" KEY_ID ".pdf") == 0);
        dot_segment = (end != NULL
                       && ((end - seg == 1 && seg[0] == '.')
                           || (end - seg == 2 && seg[0] == '.'
                               && seg[1] == '.')));
        decoded = (end != NULL
                   && key_decode(seg, end - seg, org, sizeof(org)) == 0
                   && strcmp(org, tricky[i]) == 0);

        for (p = seg; end != NULL && p < end; p++) {
            if (*p == '\\' || (unsigned char) *p < 0x20 || *p == 0x7f) {
                one_segment = 0;
            }
        }

        ok(one_segment && !dot_segment,
           "key: tricky org %d is one plain segment: %s", i, keys[i]);
        ok(decoded, "key: tricky org %d decodes back to the org", i);

        for (j = 0; j < i; j++) {
            if (strcmp(keys[i], keys[j]) == 0) {
                break;
            }
        }

        ok(j == i, "key: tricky org %d has a key of its own", i);
    }

    /* buffer: exactly the key and its NUL, not a byte less */
    n = pdf_report_s3_object_key(key, sizeof(key), "reports/", plen,
                                 "a/b", KEY_ID);
    m = pdf_report_s3_object_key(key, (size_t) n + 1, "reports/", plen,
                                 "a/b", KEY_ID);
    is_int(m, n, "key: fits in its length + 1");
    m = pdf_report_s3_object_key(key, (size_t) n, "reports/", plen, "a/b",
                                 KEY_ID);
    is_int(m, -1, "key: one byte short is refused");
    m = pdf_report_s3_object_key(key, 0, "reports/", plen, "a/b", KEY_ID);
    is_int(m, -1, "key: size 0 is refused");

    /* the size macro covers the worst case: every byte escaped */
    memset(big, '%', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    size = PDF_REPORT_S3_OBJECT_KEY_SIZE(plen, strlen(big),
                                         strlen(KEY_ID));
    n = pdf_report_s3_object_key(key, size, "reports/", plen, big, KEY_ID);
    is_int(n, (long) (plen + 3 * PDF_REPORT_JWT_ORG_MAX + 1
                      + strlen(KEY_ID ".pdf")),
           "key: the size macro holds an org of %d '%%'",
           PDF_REPORT_JWT_ORG_MAX);
    n = pdf_report_s3_object_key(key, size, "reports/", plen, big,
                                 big + sizeof(big) - 1 - strlen(KEY_ID));
    is_int(n, (long) (size - 1), "key: and is exact when the job id is "
           "all escapes too");

    /* on the wire the key is encoded once more: "%2F" stays in the key */
    {
        pdf_report_s3_conf_t  conf;

        memset(&conf, 0, sizeof(conf));
        conf.endpoint = "http://127.0.0.1:4569";
        conf.region = "us-east-1";
        conf.bucket = "sqr-reports";
        conf.path_style = 1;
        conf.access_key = TEST_ACCESS;
        conf.secret_key = TEST_SECRET;

        (void) pdf_report_s3_object_key(key, sizeof(key), "reports/", plen,
                                        "../../evil", KEY_ID);
        n = pdf_report_s3_presign(&conf, key, 1750000000, 300, "x.pdf", url,
                                  sizeof(url));
        ok(n > 0 && strncmp(url, "http://127.0.0.1:4569/sqr-reports/reports/"
                            "..%252F..%252Fevil/" KEY_ID ".pdf?",
                            sizeof("http://127.0.0.1:4569/sqr-reports/"
                                   "reports/..%252F..%252Fevil/" KEY_ID
                                   ".pdf?") - 1) == 0,
           "key: the pre-signed path carries the key encoded once more");

        (void) pdf_report_s3_object_key(key, sizeof(key), "reports/", plen,
                                        ".", KEY_ID);
        n = pdf_report_s3_presign(&conf, key, 1750000000, 300, "x.pdf", url,
                                  sizeof(url));
        ok(n > 0 && strstr(url, "/sqr-reports/reports/%252E/" KEY_ID
                           ".pdf?") != NULL,
           "key: \".\" is \"%%252E\" in the path: nothing to normalise");
    }
}


/* upper-case hex, as the key is written; -1 for anything else */

static int
key_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


/* percent-decoding, strict: every '%' starts two hex digits */

static int
key_decode(const char *src, size_t len, char *dst, size_t size)
{
    int     hi, lo;
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        if (n + 1 >= size) {
            return -1;
        }

        if (src[i] != '%') {
            dst[n++] = src[i];
            continue;
        }

        if (i + 2 >= len) {
            return -1;
        }

        hi = key_hex(src[i + 1]);
        lo = key_hex(src[i + 2]);

        if (hi < 0 || lo < 0) {
            return -1;
        }

        dst[n++] = (char) (hi << 4 | lo);
        i += 2;
    }

    dst[n] = '\0';

    return 0;
}


static void
put_conf(pdf_report_s3_conf_t *conf, char *endpoint, size_t size, int port)
{
    snprintf(endpoint, size, "http://127.0.0.1:%d", port);

    memset(conf, 0, sizeof(pdf_report_s3_conf_t));
    conf->endpoint = endpoint;
    conf->region = "us-east-1";
    conf->bucket = "sqr-reports";
    conf->path_style = 1;
    conf->access_key = TEST_ACCESS;
    conf->secret_key = TEST_SECRET;
}


static void
test_put_ok(void)
{
    int                     rc, calls;
    char                    endpoint[64], sha[65], date[32], auth[512];
    char                    host[64], ctype[64], csha[80], want[600];
    char                    canonical[512], sig[65];
    fake_t                  f;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_result_t  res;

    static const char  pdf[] = "%PDF-1.4\n% not really a report\n%%EOF\n";

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_200;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    sha256_hex(pdf, sizeof(pdf) - 1, sha);
    calls = 0;

    rc = pdf_report_s3_put(&conf, "reports/org 1/a+b.pdf",
                           (const unsigned char *) pdf, sizeof(pdf) - 1, sha,
                           pdf_report_now_ms() + 5000, count_between, &calls,
                           &res);
    fake_stop(&f);

    is_int(rc, 0, "put: 200 is success");
    is_int(res.attempts, 1, "put: one attempt");
    is_int(res.http_status, 200, "put: status kept");
    is_int(calls, 0, "put: no retry, between() not called");
    is_str(res.code, "", "put: no error code");

    ok(strncmp(f.head[0],
               "PUT /sqr-reports/reports/org%201/a%2Bb.pdf HTTP/1.1\r\n",
               53) == 0,
       "put: path-style request line, key encoded per segment");
    is_str(f.body_sha[0], sha, "put: the exact bytes arrived");

    ok(header_value(f.head[0], "Host", host, sizeof(host)) == 0
       && header_value(f.head[0], "Content-Type", ctype, sizeof(ctype)) == 0
       && header_value(f.head[0], "x-amz-content-sha256", csha,
                       sizeof(csha)) == 0
       && header_value(f.head[0], "x-amz-date", date, sizeof(date)) == 0
       && header_value(f.head[0], "Authorization", auth, sizeof(auth)) == 0,
       "put: all signed headers sent");
    snprintf(want, sizeof(want), "127.0.0.1:%d", f.port);
    is_str(host, want, "put: Host has the port");
    is_str(ctype, "application/pdf", "put: Content-Type");
    is_str(csha, sha, "put: x-amz-content-sha256 is the payload hash");
    ok(strcasestr(f.head[0], "\r\nExpect:") == NULL,
       "put: no Expect: 100-continue");
    ok(strcasestr(f.head[0], "x-amz-security-token") == NULL,
       "put: no token header without a token");

    /* the signature of what arrived, recomputed from the received head */
    snprintf(canonical, sizeof(canonical),
             "content-type:%s\nhost:%s\nx-amz-content-sha256:%s\n"
             "x-amz-date:%s\n", ctype, host, csha, date);

    if (pdf_report_sigv4_signature(TEST_SECRET, "us-east-1", "s3", date,
                                   "PUT",
                                   "/sqr-reports/reports/org%201/a%2Bb.pdf",
                                   "", canonical,
                                   "content-type;host;x-amz-content-sha256;"
                                   "x-amz-date", csha, sig)
        != 0)
    {
        strcpy(sig, "(failed)");
    }

    snprintf(want, sizeof(want),
             "AWS4-HMAC-SHA256 Credential=" TEST_ACCESS "/%.8s/us-east-1/s3/"
             "aws4_request, SignedHeaders=content-type;host;"
             "x-amz-content-sha256;x-amz-date, Signature=%s", date, sig);
    is_str(auth, want, "put: Authorization signs what was sent "
           "(curl --aws-sigv4's header set)");
}


static void
test_put_token(void)
{
    int                     rc;
    char                    endpoint[64], sha[65], tok[128], auth[512];
    fake_t                  f;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_result_t  res;

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_200;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put token: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    conf.session_token = TEST_TOKEN;
    sha256_hex("", 0, sha);

    rc = pdf_report_s3_put(&conf, "empty.pdf", NULL, 0, sha,
                           pdf_report_now_ms() + 5000, NULL, NULL, &res);
    fake_stop(&f);

    is_int(rc, 0, "put token: empty body accepted");
    is_int((long) f.body_len[0], 0, "put token: zero bytes sent");
    ok(header_value(f.head[0], "x-amz-security-token", tok, sizeof(tok)) == 0
       && strcmp(tok, TEST_TOKEN) == 0,
       "put token: x-amz-security-token sent");
    ok(header_value(f.head[0], "Authorization", auth, sizeof(auth)) == 0
       && strstr(auth, "SignedHeaders=content-type;host;x-amz-content-sha256;"
                       "x-amz-date;x-amz-security-token,") != NULL,
       "put token: the token is signed");
}


static void
test_put_retries(void)
{
    int                     rc, calls;
    char                    endpoint[64], sha[65];
    fake_t                  f;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_result_t  res;

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_slowdown;
    f.replies[1] = reply_500;
    f.replies[2] = reply_slowdown;
    f.replies[3] = reply_200;
    f.nreplies = 4;

    if (fake_start(&f) != 0) {
        ok(0, "put retries: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    sha256_hex("abc", 3, sha);
    calls = 0;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 20000, count_between,
                           &calls, &res);
    fake_stop(&f);

    is_int(rc, 0, "put retries: success after 503 SlowDown, 500, SlowDown");
    is_int(res.attempts, 4, "put retries: four attempts");
    is_int(calls, 3, "put retries: between() before each retry");
    is_int(f.served, 4, "put retries: the server saw four PUTs");
    ok(strcmp(f.body_sha[3], sha) == 0 && f.body_len[3] == 3,
       "put retries: the body is sent again in full");
    is_str(res.code, "", "put retries: no code left over");

    /* SlowDown is retried whatever its status */
    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_400_slowdown;
    f.replies[1] = reply_200;
    f.nreplies = 2;

    if (fake_start(&f) != 0) {
        ok(0, "put retries: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    calls = 0;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 20000, count_between,
                           &calls, &res);
    fake_stop(&f);

    ok(rc == 0 && res.attempts == 2 && calls == 1,
       "put retries: 400 SlowDown retried too");

    /* between() saying stop */
    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_500;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put retries: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    calls = 0;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 20000, stop_between,
                           &calls, &res);
    fake_stop(&f);

    is_int(rc, -1, "put stop: fails when between() says stop");
    ok(res.attempts == 1 && calls == 1, "put stop: no further attempt");
    is_str(res.code, "HTTP500", "put stop: code of a 5xx without a body");
    is_int(res.http_status, 500, "put stop: status");
    ok(strstr(res.message, "stopped by the caller") != NULL,
       "put stop: message says why");
}


static void
test_put_fail_fast(void)
{
    int                     rc, calls;
    char                    endpoint[64], sha[65];
    fake_t                  f;
    int64_t                 start;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_result_t  res;

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_403;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put 403: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    sha256_hex("abc", 3, sha);
    calls = 0;
    start = pdf_report_now_ms();

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, start + 20000, count_between, &calls, &res);
    fake_stop(&f);

    is_int(rc, -1, "put 403: fails");
    is_int(res.attempts, 1, "put 403: no retry");
    is_int(calls, 0, "put 403: between() not called");
    ok(pdf_report_now_ms() - start < 2000, "put 403: fails at once");
    is_int(res.http_status, 403, "put 403: status");
    is_str(res.code, "SignatureDoesNotMatch", "put 403: S3 <Code>");
    ok(strncmp(res.message, "The request signature we calculated", 35) == 0,
       "put 403: S3 <Message>");
    ok(strstr(res.message, "StringToSign") == NULL
       && strstr(res.message, "AKID") == NULL,
       "put 403: nothing but the message is kept");

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_404;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put 404: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 20000, NULL, NULL,
                           &res);
    fake_stop(&f);

    ok(rc == -1 && res.attempts == 1, "put 404: fails at once");
    is_str(res.code, "NoSuchBucket", "put 404: S3 <Code>");
    is_str(res.message, "The specified bucket \"x\" does not exist",
           "put 404: XML entities decoded");

    put_conf(&conf, endpoint, sizeof(endpoint), 1);

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           "not-a-hash", pdf_report_now_ms() + 20000, NULL,
                           NULL, &res);
    ok(rc == -1 && res.attempts == 0, "put: a bad payload hash is refused");

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9C"
                           "B410FF61F20015AD", pdf_report_now_ms() + 20000,
                           NULL, NULL, &res);
    ok(rc == -1 && strcmp(res.code, "InvalidArgument") == 0,
       "put: an upper-case payload hash is refused");

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() - 1, NULL, NULL, &res);
    ok(rc == -1 && res.attempts == 0
       && strcmp(res.code, "DeadlineExceeded") == 0,
       "put: a deadline already past makes no attempt");

    conf.endpoint = "http://127.0.0.1:1/path";

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 20000, NULL, NULL,
                           &res);
    ok(rc == -1 && res.attempts == 0
       && strcmp(res.code, "InvalidArgument") == 0,
       "put: a bad endpoint is refused without trying");
}


static void
test_put_network(void)
{
    int                     rc, calls;
    char                    endpoint[64], sha[65];
    fake_t                  f;
    int64_t                 start, elapsed;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_result_t  res;

    put_conf(&conf, endpoint, sizeof(endpoint), closed_port());
    sha256_hex("abc", 3, sha);
    calls = 0;
    start = pdf_report_now_ms();

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, start + 1500, count_between, &calls, &res);
    elapsed = pdf_report_now_ms() - start;

    is_int(rc, -1, "put refused: fails");
    ok(res.attempts >= 2, "put refused: retried (%d attempts)",
       res.attempts);
    is_int(calls, res.attempts - 1, "put refused: between() each retry");
    is_str(res.code, "CURLE_COULDNT_CONNECT", "put refused: curl code");
    is_int(res.http_status, 0, "put refused: no HTTP status");
    ok(strstr(res.message, "gave up: deadline") != NULL,
       "put refused: message says the deadline ended it");
    ok(elapsed >= 1300 && elapsed <= 1500 + 250,
       "put refused: kept trying until the deadline (%ld ms)",
       (long) elapsed);

    /* a server that never answers: the attempt ends at the deadline */
    memset(&f, 0, sizeof(f));
    f.replies[0] = FAKE_HANG;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put hang: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    start = pdf_report_now_ms();

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, start + 800, NULL, NULL, &res);
    elapsed = pdf_report_now_ms() - start;
    fake_stop(&f);

    is_int(rc, -1, "put hang: fails");
    is_str(res.code, "CURLE_OPERATION_TIMEDOUT", "put hang: timed out");
    ok(elapsed >= 700 && elapsed <= 800 + 250,
       "put hang: the attempt ended at the deadline (%ld ms)",
       (long) elapsed);
    is_int(res.attempts, 1, "put hang: no time left for another attempt");

    /* the same hang, cancelled (a worker exiting): over long before the
     * deadline */
    memset(&f, 0, sizeof(f));
    f.replies[0] = FAKE_HANG;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "put cancel: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    conf.cancelled = cancel_after_300ms;
    cancel_start = pdf_report_now_ms();
    start = cancel_start;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, start + 60000, NULL, NULL, &res);
    elapsed = pdf_report_now_ms() - start;
    fake_stop(&f);

    is_int(rc, -1, "put cancel: fails");
    is_str(res.code, "Cancelled", "put cancel: code Cancelled");
    is_int(res.attempts, 1, "put cancel: no retry after a cancel");
    ok(elapsed < 30000, "put cancel: ended well before the deadline (%ld ms)",
       (long) elapsed);
}


static const char  reply_204[] =
    "HTTP/1.1 204 No Content\r\n"
    "Connection: close\r\n\r\n";

static const char  reply_404_key[] =
    "HTTP/1.1 404 Not Found\r\n"
    "Content-Type: application/xml\r\n"
    "Connection: close\r\n\r\n"
    "<Error><Code>NoSuchKey</Code><Message>The specified key does not "
    "exist.</Message></Error>";

static const char  reply_403_denied[] =
    "HTTP/1.1 403 Forbidden\r\n"
    "Content-Type: application/xml\r\n"
    "Connection: close\r\n\r\n"
    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
    "</Error>";


/* the DELETE: its request, and what each answer means */

static void
test_delete(void)
{
    int                     rc;
    char                    endpoint[64], date[32], auth[512], host[64];
    char                    csha[80], want[600], canonical[512], sig[65];
    char                    tok[128], empty[65];
    fake_t                  f;
    int64_t                 start, elapsed;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_conn_t   *conn;
    pdf_report_s3_result_t  res;

    sha256_hex("", 0, empty);

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_204;
    f.replies[1] = reply_404_key;
    f.replies[2] = reply_slowdown;
    f.replies[3] = reply_500;
    f.replies[4] = reply_403_denied;
    f.replies[5] = reply_404;
    f.nreplies = 6;

    if (fake_start(&f) != 0) {
        ok(0, "delete: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    conn = NULL;

    rc = pdf_report_s3_delete(&conf, "reports/org 1/a+b.pdf",
                              pdf_report_now_ms() + 5000, &conn, &res);
    is_int(rc, 0, "delete: 204 is gone");
    is_int(res.http_status, 204, "delete: status kept");
    ok(conn != NULL, "delete: the connection is kept for the next");

    rc = pdf_report_s3_delete(&conf, "reports/org_1/b.pdf",
                              pdf_report_now_ms() + 5000, &conn, &res);
    is_int(rc, 0, "delete: 404 NoSuchKey counts as gone");
    is_int(res.http_status, 404, "delete: 404 kept");
    is_str(res.code, "NoSuchKey", "delete: S3's code kept");

    rc = pdf_report_s3_delete(&conf, "c.pdf", pdf_report_now_ms() + 5000,
                              &conn, &res);
    ok(rc == -1 && res.retry == 1, "delete: 503 SlowDown fails, to retry");
    is_str(res.code, "SlowDown", "delete: SlowDown");
    is_int(res.attempts, 1, "delete: one attempt, the caller retries");

    rc = pdf_report_s3_delete(&conf, "c.pdf", pdf_report_now_ms() + 5000,
                              &conn, &res);
    ok(rc == -1 && res.retry == 1, "delete: 500 fails, to retry");
    is_str(res.code, "HTTP500", "delete: a 5xx without a body");

    rc = pdf_report_s3_delete(&conf, "c.pdf", pdf_report_now_ms() + 5000,
                              &conn, &res);
    ok(rc == -1 && res.retry == 0, "delete: 403 fails, not a transient");
    is_str(res.code, "AccessDenied", "delete: S3's code");
    is_int(res.http_status, 403, "delete: 403 kept");

    rc = pdf_report_s3_delete(&conf, "c.pdf", pdf_report_now_ms() + 5000,
                              &conn, &res);
    is_int(rc, 0, "delete: 404 NoSuchBucket counts as gone too");

    pdf_report_s3_conn_free(conn);
    fake_stop(&f);

    is_int(f.served, 6, "delete: six requests served");
    ok(strncmp(f.head[0],
               "DELETE /sqr-reports/reports/org%201/a%2Bb.pdf HTTP/1.1\r\n",
               56) == 0,
       "delete: path-style request line, key encoded per segment");
    is_int((long) f.body_len[0], 0, "delete: no body");
    ok(header_value(f.head[0], "Host", host, sizeof(host)) == 0
       && header_value(f.head[0], "x-amz-content-sha256", csha,
                       sizeof(csha)) == 0
       && header_value(f.head[0], "x-amz-date", date, sizeof(date)) == 0
       && header_value(f.head[0], "Authorization", auth, sizeof(auth)) == 0,
       "delete: all signed headers sent");
    is_str(csha, empty, "delete: x-amz-content-sha256 of no bytes");
    ok(strcasestr(f.head[0], "x-amz-security-token") == NULL,
       "delete: no token header without a token");

    snprintf(canonical, sizeof(canonical),
             "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n", host, csha,
             date);

    if (pdf_report_sigv4_signature(TEST_SECRET, "us-east-1", "s3", date,
                                   "DELETE",
                                   "/sqr-reports/reports/org%201/a%2Bb.pdf",
                                   "", canonical,
                                   "host;x-amz-content-sha256;x-amz-date",
                                   csha, sig)
        != 0)
    {
        strcpy(sig, "(failed)");
    }

    snprintf(want, sizeof(want),
             "AWS4-HMAC-SHA256 Credential=" TEST_ACCESS "/%.8s/us-east-1/s3/"
             "aws4_request, SignedHeaders=host;x-amz-content-sha256;"
             "x-amz-date, Signature=%s", date, sig);
    is_str(auth, want, "delete: Authorization signs what was sent");

    /* a session token is sent and signed */

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_204;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        ok(0, "delete token: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    conf.session_token = TEST_TOKEN;
    conn = NULL;

    rc = pdf_report_s3_delete(&conf, "a.pdf", pdf_report_now_ms() + 5000,
                              &conn, &res);
    pdf_report_s3_conn_free(conn);
    fake_stop(&f);

    is_int(rc, 0, "delete token: gone");
    ok(header_value(f.head[0], "x-amz-security-token", tok, sizeof(tok))
       == 0 && strcmp(tok, TEST_TOKEN) == 0,
       "delete token: x-amz-security-token sent");
    ok(strstr(f.head[0], "SignedHeaders=host;x-amz-content-sha256;"
                         "x-amz-date;x-amz-security-token,") != NULL,
       "delete token: the token is signed");

    /* nobody listening, or nobody answering: to retry, at the deadline */

    put_conf(&conf, endpoint, sizeof(endpoint), closed_port());
    conn = NULL;

    rc = pdf_report_s3_delete(&conf, "a.pdf", pdf_report_now_ms() + 2000,
                              &conn, &res);
    ok(rc == -1 && res.retry == 1, "delete refused: fails, to retry");
    is_str(res.code, "CURLE_COULDNT_CONNECT", "delete refused: curl code");
    is_int(res.http_status, 0, "delete refused: no HTTP status");

    memset(&f, 0, sizeof(f));
    f.replies[0] = FAKE_HANG;
    f.nreplies = 1;

    if (fake_start(&f) != 0) {
        pdf_report_s3_conn_free(conn);
        ok(0, "delete hang: fake server");
        return;
    }

    /* the same handle, to another server */
    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    start = pdf_report_now_ms();

    rc = pdf_report_s3_delete(&conf, "a.pdf", start + 800, &conn, &res);
    elapsed = pdf_report_now_ms() - start;
    pdf_report_s3_conn_free(conn);
    fake_stop(&f);

    ok(rc == -1 && res.retry == 1, "delete hang: fails, to retry");
    is_str(res.code, "CURLE_OPERATION_TIMEDOUT", "delete hang: timed out");
    ok(elapsed >= 700 && elapsed <= 800 + 250,
       "delete hang: ended at the deadline (%ld ms)", (long) elapsed);

    conn = NULL;
    rc = pdf_report_s3_delete(&conf, "a.pdf", pdf_report_now_ms() - 1, &conn,
                              &res);
    ok(rc == -1 && res.attempts == 0
       && strcmp(res.code, "DeadlineExceeded") == 0,
       "delete: a deadline already past makes no attempt");
    pdf_report_s3_conn_free(conn);
}


/* a credentials source: key A, then key B with a token, then none */

static int
rotating_creds(void *data, pdf_report_s3_creds_t *creds)
{
    int  *calls = data;

    memset(creds, 0, sizeof(pdf_report_s3_creds_t));

    switch ((*calls)++) {

    case 0:
        strcpy(creds->access_key, "AKIDROTATEA");
        strcpy(creds->secret_key, "secretA");
        return 0;

    case 1:
        strcpy(creds->access_key, "AKIDROTATEB");
        strcpy(creds->secret_key, "secretB");
        strcpy(creds->session_token, TEST_TOKEN);
        creds->expiration = time(NULL) + 120;
        return 0;

    default:
        return -1;
    }
}


static void
test_put_rotating(void)
{
    int                     rc, calls;
    char                    endpoint[64], sha[65], tok[128], url[1024];
    fake_t                  f;
    pdf_report_s3_conn_t   *conn;
    pdf_report_s3_conf_t    conf;
    pdf_report_s3_result_t  res;

    sha256_hex("abc", 3, sha);

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_500;
    f.replies[1] = reply_200;
    f.nreplies = 2;

    if (fake_start(&f) != 0) {
        ok(0, "rotating: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    conf.access_key = NULL;
    conf.secret_key = NULL;
    conf.credentials = rotating_creds;
    conf.credentials_data = &calls;
    calls = 0;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 5000, NULL, NULL, &res);
    fake_stop(&f);

    is_int(rc, 0, "rotating: stored on the second attempt");
    is_int(calls, 2, "rotating: the source asked before each attempt");
    ok(strstr(f.head[0], "Credential=AKIDROTATEA/") != NULL
       && header_value(f.head[0], "x-amz-security-token", tok, sizeof(tok))
          != 0,
       "rotating: the first attempt signed with key A, no token");
    ok(strstr(f.head[1], "Credential=AKIDROTATEB/") != NULL
       && header_value(f.head[1], "x-amz-security-token", tok, sizeof(tok))
          == 0 && strcmp(tok, TEST_TOKEN) == 0
       && strstr(f.head[1], "x-amz-date;x-amz-security-token,") != NULL,
       "rotating: the retry signed with key B and its token");

    /* S3 saw the session expire: retried, with what the source has */

    memset(&f, 0, sizeof(f));
    f.replies[0] = reply_400_expired;
    f.replies[1] = reply_200;
    f.nreplies = 2;

    if (fake_start(&f) != 0) {
        ok(0, "rotating expired: fake server");
        return;
    }

    put_conf(&conf, endpoint, sizeof(endpoint), f.port);
    conf.access_key = NULL;
    conf.secret_key = NULL;
    conf.credentials = rotating_creds;
    conf.credentials_data = &calls;
    calls = 0;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 5000, NULL, NULL, &res);
    fake_stop(&f);

    ok(rc == 0 && res.attempts == 2
       && strstr(f.head[1], "Credential=AKIDROTATEB/") != NULL,
       "rotating: ExpiredToken retried with the source's new keys");

    /* none to be had: no request at all, and the caller told why */

    memset(&f, 0, sizeof(f));
    f.nreplies = 0;

    rc = pdf_report_s3_put(&conf, "a.pdf", (const unsigned char *) "abc", 3,
                           sha, pdf_report_now_ms() + 5000, NULL, NULL, &res);

    ok(rc == -1 && res.attempts == 0 && res.http_status == 0,
       "rotating: no credentials, no attempt");
    is_str(res.code, "CredentialsUnavailable",
           "rotating: code CredentialsUnavailable");

    conn = NULL;
    rc = pdf_report_s3_delete(&conf, "a.pdf", pdf_report_now_ms() + 5000,
                              &conn, &res);
    pdf_report_s3_conn_free(conn);

    ok(rc == -1 && res.retry == 1 && res.attempts == 0
       && strcmp(res.code, "CredentialsUnavailable") == 0,
       "rotating: a delete without credentials is to be retried");

    /* a pre-signed URL signs with the keys it is given, never a source */
    ok(pdf_report_s3_presign(&conf, "a.pdf", time(NULL), 60, NULL, url,
                             sizeof(url)) == -1,
       "rotating: presign needs the keys themselves");
}


static int
cancel_after_300ms(void)
{
    return pdf_report_now_ms() - cancel_start > 300;
}


int
main(void)
{
    /* the fake servers are on loopback: no proxy from the environment */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        printf("Bail out! curl_global_init failed\n");
        return 1;
    }

    test_credentials();
    test_object_key();
    test_put_ok();
    test_put_token();
    test_put_retries();
    test_put_fail_fast();
    test_put_network();
    test_delete();
    test_put_rotating();

    curl_global_cleanup();

    return done_testing();
}
