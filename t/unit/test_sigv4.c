
/*
 * SigV4: encoding, the signature of a canonical request and pre-signed
 * URLs, checked against values that this code did not produce:
 *
 * - AWS's published S3 examples: "Signature Calculations for the
 *   Authorization Header: Transferring Payload in a Single Chunk" (GET
 *   Object with Range, PUT Object, GET Bucket Lifecycle, GET Bucket list
 *   objects) and "Authenticating Requests: Using Query Parameters" (the
 *   pre-signed GET of /test.txt).  Both the SHA-256 of each canonical
 *   request (the last line of AWS's StringToSign) and the signature are
 *   copied from those pages.
 * - curl 7.88.1 --aws-sigv4 (header form, exactly the headers our PUT
 *   signs), captured on a local socket.
 * - Debian 12's awscli 2.9.19: "aws s3 presign" and its bundled botocore's
 *   generate_presigned_url (which, unlike the CLI, can add response-*
 *   parameters), with the clock pinned to 2025-05-05T10:00:00Z.
 */


#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <openssl/evp.h>

#include "tap.h"
#include "pdf_report_util.h"
#include "pdf_report_s3.h"


#define AWS_EXAMPLE_SECRET  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AWS_EXAMPLE_DATE    "20130524T000000Z"
#define AWS_EXAMPLE_TIME    1369353600
#define AWS_EMPTY_SHA256                                                     \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* our own test identity for the independently signed vectors */
#define TEST_ACCESS         "AKIDPDFREPORTTEST"
#define TEST_SECRET         "pdfReportTestSecret/K7MDENG+bPxRfiCYEXAMPLE"
#define TEST_TOKEN          "FwoGZXIvYXdzEPDFREPORT//TOKEN+with/base64=="
#define TEST_TIME           1746439200      /* 2025-05-05T10:00:00Z */
#define TEST_KEY                                                             \
    "reports/org_acme/3f2c1a9e-0000-4000-8000-000000000001.pdf"
#define TEST_FILENAME       "SQR_J_Smith_3F2C.pdf"


typedef struct {
    const char  *name;
    const char  *method;
    const char  *uri;
    const char  *query;
    const char  *headers;
    const char  *signed_headers;
    const char  *payload;
    const char  *creq_sha256;
    const char  *signature;
} aws_example_t;


static const aws_example_t  aws_examples[] = {

    { "GET Object (Range)", "GET", "/test.txt", "",
      "host:examplebucket.s3.amazonaws.com\n"
      "range:bytes=0-9\n"
      "x-amz-content-sha256:" AWS_EMPTY_SHA256 "\n"
      "x-amz-date:20130524T000000Z\n",
      "host;range;x-amz-content-sha256;x-amz-date",
      AWS_EMPTY_SHA256,
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" },

    { "PUT Object", "PUT", "/test%24file.text", "",
      "date:Fri, 24 May 2013 00:00:00 GMT\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
      "x-amz-date:20130524T000000Z\n"
      "x-amz-storage-class:REDUCED_REDUNDANCY\n",
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd" },

    { "GET Bucket Lifecycle", "GET", "/", "lifecycle=",
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:" AWS_EMPTY_SHA256 "\n"
      "x-amz-date:20130524T000000Z\n",
      "host;x-amz-content-sha256;x-amz-date",
      AWS_EMPTY_SHA256,
      "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543" },

    { "GET Bucket (List Objects)", "GET", "/", "max-keys=2&prefix=J",
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:" AWS_EMPTY_SHA256 "\n"
      "x-amz-date:20130524T000000Z\n",
      "host;x-amz-content-sha256;x-amz-date",
      AWS_EMPTY_SHA256,
      "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7" },

    /* the query-string (pre-signed URL) example */
    { "pre-signed GET /test.txt", "GET", "/test.txt",
      "X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
      "%2Faws4_request"
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
      "&X-Amz-SignedHeaders=host",
      "host:examplebucket.s3.amazonaws.com\n",
      "host",
      "UNSIGNED-PAYLOAD",
      "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04",
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404" },
};


static void
sha256_hex(const char *s, char *hex)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) != 1) {
        strcpy(hex, "(sha256 failed)");
        return;
    }

    pdf_report_hex(hex, md, 32);
    hex[64] = '\0';
}


static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/*
 * Two URLs are the same request when everything before '?' is equal and
 * the query parameters are the same set: botocore writes its response-*
 * parameters first, we write all of them sorted, and the canonical query
 * string (what is signed) is sorted in both.
 */

static int
same_url(const char *a, const char *b)
{
    int     same;
    char   *ca, *cb, *qa, *qb, *pa[32], *pb[32], *save;
    size_t  na, nb, i;

    ca = strdup(a);
    cb = strdup(b);

    if (ca == NULL || cb == NULL) {
        free(ca);
        free(cb);
        return 0;
    }

    same = 0;
    qa = strchr(ca, '?');
    qb = strchr(cb, '?');

    if (qa == NULL || qb == NULL) {
        same = (strcmp(ca, cb) == 0);
        goto done;
    }

    *qa++ = '\0';
    *qb++ = '\0';

    if (strcmp(ca, cb) != 0) {
        goto done;
    }

    na = 0;

    for (pa[na] = strtok_r(qa, "&", &save); pa[na] != NULL && na < 31;
         pa[na] = strtok_r(NULL, "&", &save))
    {
        na++;
    }

    nb = 0;

    for (pb[nb] = strtok_r(qb, "&", &save); pb[nb] != NULL && nb < 31;
         pb[nb] = strtok_r(NULL, "&", &save))
    {
        nb++;
    }

    if (na != nb) {
        goto done;
    }

    qsort(pa, na, sizeof(char *), cmp_str);
    qsort(pb, nb, sizeof(char *), cmp_str);

    for (i = 0; i < na; i++) {
        if (strcmp(pa[i], pb[i]) != 0) {
            goto done;
        }
    }

    same = 1;

done:

    free(ca);
    free(cb);

    return same;
}


static void
test_encode(void)
{
    char  buf[256];

    pdf_report_sigv4_encode(buf, "AZaz09-._~", 10, 0);
    is_str(buf, "AZaz09-._~", "encode: unreserved characters kept");

    pdf_report_sigv4_encode(buf, "a b", 3, 0);
    is_str(buf, "a%20b", "encode: space is %%20, never '+'");

    pdf_report_sigv4_encode(buf, "a+b*c", 5, 0);
    is_str(buf, "a%2Bb%2Ac", "encode: '+' and '*' encoded");

    pdf_report_sigv4_encode(buf, "a/b/c", 5, 0);
    is_str(buf, "a%2Fb%2Fc", "encode: '/' encoded without keep_slash");

    pdf_report_sigv4_encode(buf, "a/b/c", 5, 1);
    is_str(buf, "a/b/c", "encode: '/' kept with keep_slash");

    pdf_report_sigv4_encode(buf, "/a//b/", 6, 1);
    is_str(buf, "/a//b/", "encode: empty segments kept as they are");

    pdf_report_sigv4_encode(buf, "\xc3\xa9\xe4\xb8\xad", 5, 0);
    is_str(buf, "%C3%A9%E4%B8%AD", "encode: UTF-8 bytes, upper-case hex");

    pdf_report_sigv4_encode(buf, "=&;,\"%?#:@!$'()", 15, 0);
    is_str(buf, "%3D%26%3B%2C%22%25%3F%23%3A%40%21%24%27%28%29",
           "encode: reserved and sub-delims");

    pdf_report_sigv4_encode(buf, "a\0b", 3, 0);
    is_str(buf, "a%00b", "encode: works on length, NUL encoded");

    is_int(pdf_report_sigv4_encode(buf, "\xff \xff", 3, 0), 9,
           "encode: returns the length written");

    is_int(pdf_report_sigv4_encode(buf, "", 0, 1), 0, "encode: empty");
    is_str(buf, "", "encode: empty output terminated");

    /* the example key of AWS's PUT Object example */
    pdf_report_sigv4_encode(buf, "/test$file.text", 15, 1);
    is_str(buf, "/test%24file.text", "encode: AWS PUT example key");
}


static void
test_amz_date(void)
{
    char  buf[17];

    pdf_report_sigv4_amz_date(buf, AWS_EXAMPLE_TIME);
    is_str(buf, AWS_EXAMPLE_DATE, "amz_date: AWS example time");

    pdf_report_sigv4_amz_date(buf, 0);
    is_str(buf, "19700101T000000Z", "amz_date: epoch");

    pdf_report_sigv4_amz_date(buf, TEST_TIME + 3599);
    is_str(buf, "20250505T105959Z", "amz_date: seconds kept, UTC");

    pdf_report_sigv4_amz_date(buf, 951825600);
    is_str(buf, "20000229T120000Z", "amz_date: leap day");
}


static void
test_aws_examples(void)
{
    char                  sig[65], hash[65], *creq;
    size_t                i, size;
    const aws_example_t  *x;

    for (i = 0; i < sizeof(aws_examples) / sizeof(aws_examples[0]); i++) {
        x = &aws_examples[i];

        /* the canonical request as the signer builds it, to hash here */
        size = strlen(x->method) + strlen(x->uri) + strlen(x->query)
               + strlen(x->headers) + strlen(x->signed_headers)
               + strlen(x->payload) + 8;
        creq = malloc(size);

        if (creq == NULL) {
            ok(0, "malloc");
            continue;
        }

        snprintf(creq, size, "%s\n%s\n%s\n%s\n%s\n%s", x->method, x->uri,
                 x->query, x->headers, x->signed_headers, x->payload);
        sha256_hex(creq, hash);
        free(creq);

        is_str(hash, x->creq_sha256,
               "AWS example %s: canonical request hash as published",
               x->name);

        memset(sig, 'x', sizeof(sig));

        is_int(pdf_report_sigv4_signature(AWS_EXAMPLE_SECRET, "us-east-1",
                                          "s3", AWS_EXAMPLE_DATE, x->method,
                                          x->uri, x->query, x->headers,
                                          x->signed_headers, x->payload,
                                          sig),
               0, "AWS example %s: signed", x->name);
        is_str(sig, x->signature, "AWS example %s: signature as published",
               x->name);
    }

    /*
     * The signing key is kept per thread and day: another secret on the
     * same day and region must not be signed with the first one's key,
     * nor the first one after it with the second's.
     */
    x = &aws_examples[0];
    is_int(pdf_report_sigv4_signature(TEST_SECRET, "us-east-1", "s3",
                                      AWS_EXAMPLE_DATE, x->method, x->uri,
                                      x->query, x->headers,
                                      x->signed_headers, x->payload, sig),
           0, "another secret, same day and region: signed");
    ok(strcmp(sig, x->signature) != 0, "another secret, another signature");
    is_int(pdf_report_sigv4_signature(AWS_EXAMPLE_SECRET, "us-east-1", "s3",
                                      AWS_EXAMPLE_DATE, x->method, x->uri,
                                      x->query, x->headers,
                                      x->signed_headers, x->payload, sig),
           0, "the first secret again: signed");
    is_str(sig, x->signature, "the first secret again: as published");

    is_int(pdf_report_sigv4_signature(AWS_EXAMPLE_SECRET, "us-east-1", "s3",
                                      "20130524", "GET", "/", "",
                                      "host:a\n", "host", AWS_EMPTY_SHA256,
                                      sig),
           -1, "signature: a malformed amz_date is refused");
    is_int(pdf_report_sigv4_signature(NULL, "us-east-1", "s3",
                                      AWS_EXAMPLE_DATE, "GET", "/", "",
                                      "host:a\n", "host", AWS_EMPTY_SHA256,
                                      sig),
           -1, "signature: no secret is refused");
}


/*
 * Threads other than the one that signed first (in nginx the master's
 * configuration check: the event loop's thread) keep no contexts, so
 * nothing of theirs is lost when they exit (make test-valgrind checks):
 * four threads, each signing twice, all as published.
 */

typedef struct {
    int   rc[2];
    char  sig[2][65];
} thread_sign_t;


static void *
thread_sign(void *data)
{
    int                   i;
    thread_sign_t        *t = data;
    const aws_example_t  *x = &aws_examples[0];

    for (i = 0; i < 2; i++) {
        t->rc[i] = pdf_report_sigv4_signature(AWS_EXAMPLE_SECRET,
                                              "us-east-1", "s3",
                                              AWS_EXAMPLE_DATE, x->method,
                                              x->uri, x->query, x->headers,
                                              x->signed_headers, x->payload,
                                              t->sig[i]);
    }

    return NULL;
}


static void
test_threads(void)
{
    int            i, good;
    pthread_t      tid[4];
    thread_sign_t  t[4];

    memset(t, 0, sizeof(t));
    good = 0;

    for (i = 0; i < 4; i++) {
        if (pthread_create(&tid[i], NULL, thread_sign, &t[i]) != 0) {
            tid[i] = 0;
        }
    }

    for (i = 0; i < 4; i++) {
        if (tid[i] == 0 || pthread_join(tid[i], NULL) != 0) {
            continue;
        }

        good += (t[i].rc[0] == 0 && t[i].rc[1] == 0
                 && strcmp(t[i].sig[0], aws_examples[0].signature) == 0
                 && strcmp(t[i].sig[1], aws_examples[0].signature) == 0);
    }

    is_int(good, 4, "4 threads, 2 signatures each, all as published");
}


static void
test_aws_presign_example(void)
{
    long                  n;
    char                  url[PDF_REPORT_S3_URL_MAX];
    pdf_report_s3_conf_t  conf;

    /* the published example URL, produced by our URL builder */
    memset(&conf, 0, sizeof(conf));
    conf.endpoint = "https://s3.amazonaws.com";
    conf.region = "us-east-1";
    conf.bucket = "examplebucket";
    conf.path_style = 0;
    conf.access_key = "AKIAIOSFODNN7EXAMPLE";
    conf.secret_key = AWS_EXAMPLE_SECRET;

    n = pdf_report_s3_presign_params(&conf, "test.txt", AWS_EXAMPLE_TIME,
                                     86400, NULL, 0, url, sizeof(url));
    ok(n > 0 && (size_t) n == strlen(url), "AWS presign example: built");
    is_str(url,
           "https://examplebucket.s3.amazonaws.com/test.txt"
           "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
           "%2Fs3%2Faws4_request"
           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature="
           "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
           "AWS presign example: the published URL");
}


/*
 * curl 7.88.1 signing the PUT our module sends (same signed headers), on
 * a capture socket:
 *
 *   curl --aws-sigv4 "aws:amz:us-east-1:s3" \
 *     --user "AKIDPDFREPORTTEST:pdfReportTestSecret/K7MDENG+bPxRfiCYEXAMPLE" \
 *     -X PUT --data-binary 'Welcome to the PDF report.' \
 *     -H "x-amz-content-sha256: e2f2df16...53f7" \
 *     -H "Content-Type: application/pdf" -H "X-Amz-Date: 20250505T100000Z" \
 *     http://127.0.0.1:45671/sqr-reports/reports/org_acme/3f2c...0001.pdf
 *
 * and the same, region eu-west-3, with -H "x-amz-security-token: ..." to
 * http://sqr-reports.s3.example.test:9000/reports/org_acme/a%20b%C3%A9.pdf
 * (--connect-to the capture socket).  curl signed
 * content-type;host;x-amz-content-sha256;x-amz-date[;x-amz-security-token].
 */

static void
test_curl_vectors(void)
{
    char  sig[65];

    is_int(pdf_report_sigv4_signature(TEST_SECRET, "us-east-1", "s3",
               "20250505T100000Z", "PUT", "/sqr-reports/" TEST_KEY, "",
               "content-type:application/pdf\n"
               "host:127.0.0.1:45671\n"
               "x-amz-content-sha256:e2f2df16ac73886bc9c1c1a914efa1891edafd16"
               "be6dc95f47f17fe3e9f953f7\n"
               "x-amz-date:20250505T100000Z\n",
               "content-type;host;x-amz-content-sha256;x-amz-date",
               "e2f2df16ac73886bc9c1c1a914efa1891edafd16be6dc95f47f17fe3e9f9"
               "53f7", sig),
           0, "curl vector 1: signed");
    is_str(sig,
           "7148959ed59ab74ade01c544985a1124c92d5ca7a2a77a3d0b0b8fd4f7e44779",
           "curl vector 1: PUT path-style, signature as curl's");

    is_int(pdf_report_sigv4_signature(TEST_SECRET, "eu-west-3", "s3",
               "20250505T100000Z", "PUT", "/reports/org_acme/a%20b%C3%A9.pdf",
               "",
               "content-type:application/pdf\n"
               "host:sqr-reports.s3.example.test:9000\n"
               "x-amz-content-sha256:e2f2df16ac73886bc9c1c1a914efa1891edafd16"
               "be6dc95f47f17fe3e9f953f7\n"
               "x-amz-date:20250505T100000Z\n"
               "x-amz-security-token:" TEST_TOKEN "\n",
               "content-type;host;x-amz-content-sha256;x-amz-date;"
               "x-amz-security-token",
               "e2f2df16ac73886bc9c1c1a914efa1891edafd16be6dc95f47f17fe3e9f9"
               "53f7", sig),
           0, "curl vector 2: signed");
    is_str(sig,
           "250075ace9b603e509c80869923068b989f8ea79a2001f56f4628a4537807aaf",
           "curl vector 2: PUT virtual-hosted, port, token, UTF-8 key, "
           "signature as curl's");
}


/*
 * Pre-signed URLs against awscli 2.9.19 (Debian 12).  The plain one is
 *
 *   AWS_ACCESS_KEY_ID=AKIDPDFREPORTTEST \
 *   AWS_SECRET_ACCESS_KEY='pdfReportTestSecret/K7MDENG+bPxRfiCYEXAMPLE' \
 *   faketime -f '@2025-05-05 10:00:00' aws s3 presign \
 *     s3://sqr-reports/<TEST_KEY> --expires-in 300 \
 *     --endpoint-url http://127.0.0.1:4569 --region us-east-1
 *
 * and the others come from the botocore that awscli bundles
 * (awscli.botocore), datetime.utcnow pinned to 2025-05-05T10:00:00:
 *
 *   client = Session().create_client('s3', region_name=R, endpoint_url=E,
 *       aws_access_key_id=..., aws_secret_access_key=...,
 *       aws_session_token=T, config=Config(signature_version='s3v4',
 *       s3={'addressing_style': 'path' or 'virtual'}))
 *   client.generate_presigned_url('get_object', Params={'Bucket': B,
 *       'Key': K, 'ResponseContentDisposition':
 *       'attachment; filename="SQR_J_Smith_3F2C.pdf"',
 *       'ResponseContentType': 'application/pdf'}, ExpiresIn=X)
 */

static void
test_awscli_vectors(void)
{
    long                   n;
    char                   url[PDF_REPORT_S3_URL_MAX];
    pdf_report_s3_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.endpoint = "http://127.0.0.1:4569";
    conf.region = "us-east-1";
    conf.bucket = "sqr-reports";
    conf.path_style = 1;
    conf.access_key = TEST_ACCESS;
    conf.secret_key = TEST_SECRET;

    /* aws s3 presign (CLI): no response-* parameters */
    n = pdf_report_s3_presign_params(&conf, TEST_KEY, TEST_TIME, 300, NULL,
                                     0, url, sizeof(url));
    ok(n > 0, "awscli: plain presign built");
    is_str(url,
           "http://127.0.0.1:4569/sqr-reports/" TEST_KEY
           "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDPDFREPORTTEST%2F20250505%2Fus-east-1%2Fs3"
           "%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=300"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature="
           "9c1317e5757cb88b87d4af237f18136516a68ebdb552fda55915090f7b2fd155",
           "awscli: same URL as 'aws s3 presign'");

    /* A: path-style, non-default port, our response-* parameters */
    n = pdf_report_s3_presign(&conf, TEST_KEY, TEST_TIME, 300,
                              TEST_FILENAME, url, sizeof(url));
    ok(n > 0 && (size_t) n == strlen(url), "botocore A: built");
    ok(same_url(url,
           "http://127.0.0.1:4569/sqr-reports/" TEST_KEY
           "?response-content-disposition=attachment%3B%20filename%3D%22"
           "SQR_J_Smith_3F2C.pdf%22"
           "&response-content-type=application%2Fpdf"
           "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDPDFREPORTTEST%2F20250505%2Fus-east-1%2Fs3"
           "%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=300"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature="
           "e4065a789dc5aadbb9682041312d440d3edb1718b50c93153dc90dba52f6be24"),
       "botocore A: path-style with port and response-* parameters");
    is_str(url,
           "http://127.0.0.1:4569/sqr-reports/" TEST_KEY
           "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDPDFREPORTTEST%2F20250505%2Fus-east-1%2Fs3"
           "%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=300"
           "&X-Amz-SignedHeaders=host"
           "&response-content-disposition=attachment%3B%20filename%3D%22"
           "SQR_J_Smith_3F2C.pdf%22"
           "&response-content-type=application%2Fpdf"
           "&X-Amz-Signature="
           "e4065a789dc5aadbb9682041312d440d3edb1718b50c93153dc90dba52f6be24",
           "botocore A: parameters in canonical (sorted) order");

    /* B: virtual-hosted on AWS, https, another region */
    conf.endpoint = "https://s3.eu-west-3.amazonaws.com";
    conf.region = "eu-west-3";
    conf.path_style = 0;

    n = pdf_report_s3_presign(&conf, TEST_KEY, TEST_TIME, 300,
                              TEST_FILENAME, url, sizeof(url));
    ok(n > 0, "botocore B: built");
    ok(same_url(url,
           "https://sqr-reports.s3.eu-west-3.amazonaws.com/" TEST_KEY
           "?response-content-disposition=attachment%3B%20filename%3D%22"
           "SQR_J_Smith_3F2C.pdf%22"
           "&response-content-type=application%2Fpdf"
           "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDPDFREPORTTEST%2F20250505%2Feu-west-3%2Fs3"
           "%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=300"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature="
           "18347dc9d96185044b49291f75a72c41f1daebda7205b9057a66411c531c8a7a"),
       "botocore B: virtual-hosted, https, eu-west-3");

    /* C: virtual-hosted with a port and a session token */
    conf.endpoint = "http://s3.example.test:9000";
    conf.region = "us-east-1";
    conf.session_token = TEST_TOKEN;

    n = pdf_report_s3_presign(&conf, TEST_KEY, TEST_TIME, 3600,
                              TEST_FILENAME, url, sizeof(url));
    ok(n > 0, "botocore C: built");
    ok(same_url(url,
           "http://sqr-reports.s3.example.test:9000/" TEST_KEY
           "?response-content-disposition=attachment%3B%20filename%3D%22"
           "SQR_J_Smith_3F2C.pdf%22"
           "&response-content-type=application%2Fpdf"
           "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDPDFREPORTTEST%2F20250505%2Fus-east-1%2Fs3"
           "%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=3600"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Security-Token=FwoGZXIvYXdzEPDFREPORT%2F%2FTOKEN%2Bwith"
           "%2Fbase64%3D%3D"
           "&X-Amz-Signature="
           "5831817d21e0563fd0138b8f5fa3e63e9c23ae586e5ad77af70843f478c0f38d"),
       "botocore C: virtual-hosted with port and session token");

    /*
     * D: the default port (botocore leaves ":80" in its URL but signs
     * Host without it, as clients send it; we drop it from both), a key
     * with a space, '+', '*', '~' and UTF-8, seven days
     */
    conf.endpoint = "http://127.0.0.1:80";
    conf.path_style = 1;
    conf.session_token = NULL;

    n = pdf_report_s3_presign(&conf, "reports/org 1/a+b*c~d/\xc3\xa9.pdf",
                              TEST_TIME, 604800, TEST_FILENAME, url,
                              sizeof(url));
    ok(n > 0, "botocore D: built");
    ok(same_url(url,
           "http://127.0.0.1/sqr-reports/reports/org%201/a%2Bb%2Ac~d/"
           "%C3%A9.pdf"
           "?response-content-disposition=attachment%3B%20filename%3D%22"
           "SQR_J_Smith_3F2C.pdf%22"
           "&response-content-type=application%2Fpdf"
           "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIDPDFREPORTTEST%2F20250505%2Fus-east-1%2Fs3"
           "%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=604800"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature="
           "a2832aecff7ae82b8eb61bfab9bc99b0a417db8d0dce4756e27079d9f89670e5"),
       "botocore D: default port dropped, key encoded per segment");

    /* F: AWS's example keys and endpoint at our time */
    conf.endpoint = "https://s3.amazonaws.com";
    conf.bucket = "examplebucket";
    conf.path_style = 0;
    conf.access_key = "AKIAIOSFODNN7EXAMPLE";
    conf.secret_key = AWS_EXAMPLE_SECRET;

    n = pdf_report_s3_presign_params(&conf, "test.txt", TEST_TIME, 86400,
                                     NULL, 0, url, sizeof(url));
    ok(n > 0, "botocore F: built");
    ok(same_url(url,
           "https://examplebucket.s3.amazonaws.com/test.txt"
           "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250505%2Fus-east-1"
           "%2Fs3%2Faws4_request"
           "&X-Amz-Date=20250505T100000Z&X-Amz-Expires=86400"
           "&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature="
           "ce72660e0712f5741c60d37db260d69fd4e91a9354a98f5a2a2a2f39ef168aa9"),
       "botocore F: AWS example identity, 2025");
}


static const struct {
    const char  *endpoint;
    const char  *what;
} bad_endpoints[] = {
    { "ftp://127.0.0.1", "endpoint scheme not http(s)" },
    { "http://127.0.0.1:4569/base", "endpoint with a path" },
    { "http://user@127.0.0.1:4569", "endpoint with user info" },
    { "http://127.0.0.1:99999", "port out of range" },
    { "http://s3\".example.test", "'\"' in the endpoint's host" },
    { "http://s3\\example.test", "'\\' in the endpoint's host" },
    { "http://s3 x.example.test", "a space in the endpoint's host" },
    { "http://[::1%25lo]:4569", "'%' in an IPv6 literal" },
};


static void
test_presign_shapes(void)
{
    long                   n;
    size_t                 i;
    char                   url[PDF_REPORT_S3_URL_MAX], small[64];
    char                   key[PDF_REPORT_S3_KEY_MAX + 2];
    pdf_report_s3_conf_t   conf;
    pdf_report_s3_param_t  p;

    memset(&conf, 0, sizeof(conf));
    conf.endpoint = "HTTP://LocalHost:4569/";
    conf.region = "us-east-1";
    conf.bucket = "sqr-reports";
    conf.path_style = 1;
    conf.access_key = TEST_ACCESS;
    conf.secret_key = TEST_SECRET;

    n = pdf_report_s3_presign(&conf, "a/b.pdf", TEST_TIME, 300, "x.pdf", url,
                              sizeof(url));
    ok(n > 0 && strncmp(url, "http://localhost:4569/sqr-reports/a/b.pdf?",
                        42) == 0,
       "shape: scheme and host lower-cased, trailing '/' of endpoint ok");

    conf.endpoint = "http://[::1]:4569";
    n = pdf_report_s3_presign(&conf, "a/b.pdf", TEST_TIME, 300, "x.pdf", url,
                              sizeof(url));
    ok(n > 0 && strncmp(url, "http://[::1]:4569/sqr-reports/a/b.pdf?", 38)
                == 0,
       "shape: IPv6 literal endpoint");

    conf.endpoint = "https://s3.example.test:443";
    conf.path_style = 0;
    n = pdf_report_s3_presign(&conf, "a/b.pdf", TEST_TIME, 300, "x.pdf", url,
                              sizeof(url));
    ok(n > 0 && strncmp(url, "https://sqr-reports.s3.example.test/a/b.pdf?",
                        44) == 0,
       "shape: virtual-hosted, https default port dropped");

    conf.endpoint = "https://s3.example.test:8443";
    n = pdf_report_s3_presign(&conf, "a/b.pdf", TEST_TIME, 300, "x.pdf", url,
                              sizeof(url));
    ok(n > 0
       && strncmp(url, "https://sqr-reports.s3.example.test:8443/a/b.pdf?",
                  49) == 0,
       "shape: virtual-hosted keeps a non-default port");

    ok(strstr(url, "&X-Amz-SignedHeaders=host&response-content-disposition="
                   "attachment%3B%20filename%3D%22x.pdf%22"
                   "&response-content-type=application%2Fpdf"
                   "&X-Amz-Signature=") != NULL,
       "shape: response-* sorted after X-Amz-*, signature last");

    conf.path_style = 1;
    conf.endpoint = "http://127.0.0.1:4569";

    n = pdf_report_s3_presign(&conf, "a/b.pdf", TEST_TIME, 300, NULL, url,
                              sizeof(url));
    ok(n > 0 && strstr(url, "response-content-disposition") == NULL
       && strstr(url, "response-content-type=application%2Fpdf") != NULL,
       "shape: no filename, no disposition");

    /* what must be refused */

    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a\"b.pdf", url,
                             sizeof(url)) == -1,
       "refused: '\"' in filename");
    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a\r\nb.pdf", url,
                             sizeof(url)) == -1,
       "refused: CRLF in filename");
    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 0, "a.pdf", url,
                             sizeof(url)) == -1,
       "refused: expires 0");
    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 604801, "a.pdf", url,
                             sizeof(url)) == -1,
       "refused: expires over 7 days");
    ok(pdf_report_s3_presign(&conf, "", TEST_TIME, 300, "a.pdf", url,
                             sizeof(url)) == -1,
       "refused: empty key");

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    ok(pdf_report_s3_presign(&conf, key, TEST_TIME, 300, "a.pdf", url,
                             sizeof(url)) == -1,
       "refused: key over PDF_REPORT_S3_KEY_MAX");

    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a.pdf", small,
                             sizeof(small)) == -1 && small[0] == '\0',
       "refused: buffer too small, nothing half-written");

    p.name = "X-Amz-Expires";
    p.value = "1";
    ok(pdf_report_s3_presign_params(&conf, "a", TEST_TIME, 300, &p, 1, url,
                                    sizeof(url)) == -1,
       "refused: an extra X-Amz-* parameter");

    /* endpoints refused; the URL goes into JSON unescaped, so the host
     * may hold nothing that needs escaping */
    for (i = 0; i < sizeof(bad_endpoints) / sizeof(bad_endpoints[0]); i++)
    {
        conf.endpoint = bad_endpoints[i].endpoint;
        ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a.pdf", url,
                                 sizeof(url)) == -1,
           "refused: %s", bad_endpoints[i].what);
    }

    conf.endpoint = "http://s3_x.example.test";
    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a.pdf", url,
                             sizeof(url)) > 0,
       "shape: '_' in the endpoint's host is accepted");

    conf.endpoint = "http://s3.example.test";
    conf.path_style = 0;
    conf.bucket = "Bad_Bucket";
    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a.pdf", url,
                             sizeof(url)) == -1,
       "refused: virtual-hosted bucket that is no DNS label");

    conf.bucket = "sqr-reports";
    conf.secret_key = "";
    ok(pdf_report_s3_presign(&conf, "a", TEST_TIME, 300, "a.pdf", url,
                             sizeof(url)) == -1,
       "refused: no secret key");
}


int
main(void)
{
    test_encode();
    test_amz_date();
    test_aws_examples();      /* signs first: this thread owns contexts */
    test_threads();
    test_aws_presign_example();
    test_curl_vectors();
    test_awscli_vectors();
    test_presign_shapes();

    return done_testing();
}
