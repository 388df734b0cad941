
/*
 * libFuzzer target: pdf_report_users_parse() on arbitrary bytes as the
 * user directory (JSON Lines, read by nginx -t, at start and on every
 * reload), then what the module asks of each record it keeps: the
 * record parsed again from its stored text, its connection to an org,
 * and the name fields of the download filename.  Seeds: the directories
 * of t/data and t/data/config.
 *
 * Properties: a refusal names a line and a reason; an accepted entry has
 * an id of 1 to PDF_REPORT_USER_ID_MAX bytes without NUL, its stored
 * text is the JSON object it was parsed from and carries that same id,
 * and the ids are unique.
 */


#include <jansson.h>

#include "fuzz.h"
#include "pdf_report_users.h"
#include "pdf_report_util.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   rc;
    char                 *text, err[256], name[128];
    size_t                i, line;
    json_t               *rec, *id;
    json_error_t          jerr;
    pdf_report_users_t    users;
    pdf_report_user_entry_t  *e;

    /* the parser writes a NUL at text[len], as the loader allows it */
    text = malloc(size + 1);
    if (text == NULL) {
        abort();
    }

    memcpy(text, data, size);
    text[size] = 'x';

    err[0] = '\0';
    line = 12345;

    rc = pdf_report_users_parse(text, size, &users, &line, err, sizeof(err));

    if (rc != 0) {
        fuzz_assert(rc == -1, "returns 0 or -1");
        fuzz_assert(line >= 1 && err[0] != '\0', "a refusal names a line");
        fuzz_assert(users.entries == NULL && users.n == 0,
                    "a refusal keeps nothing");
        free(text);
        return 0;
    }

    fuzz_assert(line == 0, "no line on success");

    for (i = 0; i < users.n; i++) {
        e = &users.entries[i];

        fuzz_assert(e->id_len >= 1 && e->id_len <= PDF_REPORT_USER_ID_MAX
                    && strlen(e->id) == e->id_len, "id of 1 to 64 bytes");
        fuzz_assert(e->json >= text && e->json + e->json_len <= text + size,
                    "stored text inside the file");

        if (i > 0) {
            fuzz_assert(e->id_len != users.entries[i - 1].id_len
                        || memcmp(e->id, users.entries[i - 1].id,
                                  e->id_len) != 0,
                        "neighbouring ids differ");
        }

        /* what the store keeps is what the job runner parses again */
        rec = json_loadb(e->json, e->json_len, 0, &jerr);
        fuzz_assert(json_is_object(rec), "stored text is a JSON object");

        id = json_object_get(rec, "id");
        fuzz_assert(json_is_string(id) && json_string_length(id) == e->id_len
                    && memcmp(json_string_value(id), e->id, e->id_len) == 0,
                    "stored text carries the same id");

        (void) pdf_report_user_connected(rec, "org_acme");
        (void) pdf_report_user_connection(rec, "org_acme");

        (void) pdf_report_filename(name, sizeof(name),
                                   pdf_report_user_str(rec, "first_name"),
                                   pdf_report_user_str(rec, "last_name"),
                                   "0f9c3b1e-8a4d-4c2b-9e7f-123456789abc");

        json_decref(rec);
    }

    pdf_report_users_free(&users);
    free(text);

    return 0;
}
