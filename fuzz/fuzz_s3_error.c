
/*
 * libFuzzer target: what the upload keeps of an S3 error answer, the one
 * input of the module that comes from the network on the S3 side: the
 * body as curl hands it over in pieces (pdf_report_s3_write, the first
 * 8 KB kept), then <Code> and <Message> read out of it
 * (pdf_report_s3_error_reply) and the credential scrub.  These functions
 * are static, so this file includes src/pdf_report_s3.c itself and is
 * linked without that object.  The first input byte is the size of the
 * pieces; the rest is the body.  Seeds: S3 error documents.
 *
 * Properties: the code is empty or an identifier ([A-Za-z0-9.]); the
 * message is one line of printable ASCII; neither runs past its field;
 * after the scrub the message never holds the secret.
 */


#include "../src/pdf_report_s3.c"

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                    *body;
    size_t                   chunk, off, n, i;
    pdf_report_s3_conf_t     conf;
    pdf_report_s3_reply_t   *reply;
    pdf_report_s3_result_t   res;

    if (size == 0) {
        return 0;
    }

    chunk = data[0] ? data[0] : 4096;
    body = fuzz_dup(data + 1, size - 1);

    reply = malloc(sizeof(pdf_report_s3_reply_t));
    if (reply == NULL) {
        abort();
    }

    reply->len = 0;
    reply->data[0] = '\0';

    for (off = 0; off < size - 1; off += n) {
        n = (size - 1 - off < chunk) ? size - 1 - off : chunk;

        fuzz_assert(pdf_report_s3_write(body + off, 1, n, reply) == n,
                    "the write callback takes every byte");
    }

    fuzz_assert(reply->len <= PDF_REPORT_S3_ERROR_BODY_MAX
                && reply->data[reply->len] == '\0', "reply kept in bounds");

    memset(&res, 0, sizeof(pdf_report_s3_result_t));

    pdf_report_s3_error_reply(&res, reply);

    n = strnlen(res.code, sizeof(res.code));
    fuzz_assert(n < sizeof(res.code), "code terminated");

    for (i = 0; i < n; i++) {
        fuzz_assert(isalnum((unsigned char) res.code[i])
                    || res.code[i] == '.', "code is an identifier");
    }

    n = strnlen(res.message, sizeof(res.message));
    fuzz_assert(n < sizeof(res.message), "message terminated");
    fuzz_assert(fuzz_printable(res.message, n), "message is printable");

    memset(&conf, 0, sizeof(pdf_report_s3_conf_t));
    conf.secret_key = "S3RVER-secret";
    conf.session_token = "the-session-token";

    pdf_report_s3_scrub(&res, &conf, "0123456789abcdef");

    fuzz_assert(strstr(res.message, conf.secret_key) == NULL
                && strstr(res.message, conf.session_token) == NULL
                && strstr(res.message, "0123456789abcdef") == NULL,
                "no credential in the message");

    free(reply);
    free(body);

    return 0;
}
