
/*
 * libFuzzer target: the renderer on an arbitrary user record.  The input
 * is parsed as the job runner parses a stored record (json_loadb); when
 * it is a JSON object it is rendered for the org of its first connection
 * (or org_acme), with the fonts of the default build.  About 15 ms an
 * execution (libharu embeds the fonts each time): give it longer runs or
 * fewer executions than the parsers.  Seeds: records of t/data/users.jsonl
 * and ones with long, empty, odd-typed and non-Latin fields.
 *
 * Properties: success gives a non-empty document that starts with %PDF-
 * and ends with %%EOF; failure gives a one-line reason.
 */


#include <jansson.h>

#include "fuzz.h"
#include "pdf_report_render.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                         rc;
    char                       *text, err[256];
    size_t                      len;
    json_t                     *user, *conn;
    const char                 *org;
    json_error_t                jerr;
    unsigned char              *pdf;
    pdf_report_render_input_t   in;

    text = fuzz_dup(data, size);
    user = json_loadb(text, size, 0, &jerr);
    free(text);

    if (!json_is_object(user)) {
        json_decref(user);
        return 0;
    }

    conn = json_array_get(json_object_get(user, "connections"), 0);
    org = json_string_value(json_object_get(conn, "org_id"));

    memset(&in, 0, sizeof(pdf_report_render_input_t));
    in.user = user;
    in.org_id = org ? org : "org_acme";
    in.job_id = "0f9c3b1e-8a4d-4c2b-9e7f-123456789abc";
    in.generated_ms = (int64_t) FUZZ_NOW * 1000;

    pdf = NULL;
    len = 0;
    err[0] = '\0';

    rc = pdf_report_render(NULL, &in, &pdf, &len, err, sizeof(err));

    if (rc == 0) {
        fuzz_assert(pdf != NULL && len > 16, "a document");
        fuzz_assert(memcmp(pdf, "%PDF-", 5) == 0, "starts with %PDF-");

        while (len > 0 && (pdf[len - 1] == '\n' || pdf[len - 1] == '\r')) {
            len--;
        }

        fuzz_assert(len >= 5 && memcmp(pdf + len - 5, "%%EOF", 5) == 0,
                    "ends with %%EOF");

    } else {
        fuzz_assert(rc == -1 && err[0] != '\0'
                    && strchr(err, '\n') == NULL, "a one-line reason");
    }

    free(pdf);
    json_decref(user);

    return 0;
}
