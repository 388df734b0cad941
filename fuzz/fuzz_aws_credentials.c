
/*
 * libFuzzer target: pdf_report_aws_credentials_parse() on arbitrary bytes
 * as the shared-credentials file.  The first byte picks the profile and
 * the output sizes; the rest is the file.  The outputs are heap buffers
 * of exactly their size, so a write past one is caught.  Seeds: the
 * credentials files of t/data and t/data/config.
 *
 * Properties: the outputs are always NUL-terminated within their sizes;
 * success means a non-empty key id and secret; a failure says why, and
 * its message never quotes the secret.
 */


#include "fuzz.h"
#include "pdf_report_s3.h"


static const char  *profiles[] = {
    NULL, "default", "wrong-secret", "prod", "", "profile", "a b", "x"
};

static const size_t  out_sizes[] = { 256, 1, 16, 2048 };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char        *text, *access, *secret, *token, err[256];
    size_t       as, ss, ts;
    const char  *profile;

    if (size == 0) {
        return 0;
    }

    profile = profiles[data[0] & 7];
    as = out_sizes[(data[0] >> 3) & 3];
    ss = out_sizes[(data[0] >> 5) & 3];
    ts = (data[0] & 0x80) ? 2048 : 1;

    text = fuzz_dup(data + 1, size - 1);
    access = malloc(as);
    secret = malloc(ss);
    token = malloc(ts);

    if (access == NULL || secret == NULL || token == NULL) {
        abort();
    }

    memset(access, 'a', as);
    memset(secret, 's', ss);
    memset(token, 't', ts);
    err[0] = '\0';

    rc = pdf_report_aws_credentials_parse(text, size - 1, profile, access,
                                          as, secret, ss, token, ts, err,
                                          sizeof(err));

    fuzz_assert(memchr(access, '\0', as) != NULL
                && memchr(secret, '\0', ss) != NULL
                && memchr(token, '\0', ts) != NULL,
                "outputs terminated");

    if (rc == 0) {
        fuzz_assert(access[0] != '\0' && secret[0] != '\0',
                    "success has a key id and a secret");

    } else {
        fuzz_assert(rc == -1 && err[0] != '\0', "a failure says why");

        if (strlen(secret) >= 4) {
            fuzz_assert(strstr(err, secret) == NULL,
                        "the message never quotes the secret");
        }
    }

    free(text);
    free(access);
    free(secret);
    free(token);

    return 0;
}
