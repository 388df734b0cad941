
/*
 * libFuzzer target: the user directory streamed (JSON Lines, read at
 * start, by nginx -t and on every reload) from arbitrary bytes, through
 * the default buffer and through a tiny one, then what the module asks
 * of each record it keeps: the record parsed again from its stored text,
 * its connection to an org, and the name fields of the download
 * filename.  Seeds: the directories of t/data and t/data/config.
 *
 * Properties: both reads see the same; a refusal names a line and a
 * reason; an accepted record has an id of 1 to PDF_REPORT_USER_ID_MAX
 * bytes without NUL, its stored text is the JSON object it was parsed
 * from and carries that same id, the ids are unique, and the id guessed
 * without a parse (pdf_report_users_quick_id()), when there is a guess,
 * is that id.
 */


#include <jansson.h>

#include "fuzz.h"
#include "pdf_report_users.h"
#include "pdf_report_util.h"


typedef struct {
    size_t              n;
    uint64_t            sum;         /* of the records' lengths */
    pdf_report_idset_t  ids;
} fuzz_users_t;


static int
fuzz_record(void *data, pdf_report_user_rec_t *rec)
{
    int                   added;
    char                  name[128], id[PDF_REPORT_USER_ID_MAX + 1];
    size_t                id_len;
    json_t               *obj, *v;
    json_error_t          jerr;
    fuzz_users_t         *u = data;
    const char           *org;

    fuzz_assert(rec->parsed, "no known(): every record parsed");
    fuzz_assert(rec->e.id_len >= 1 && rec->e.id_len <= PDF_REPORT_USER_ID_MAX
                && strlen(rec->e.id) == rec->e.id_len, "id of 1 to 64 bytes");
    fuzz_assert(strlen(rec->e.json) == rec->e.json_len, "no NUL in a record");

    fuzz_assert(pdf_report_idset_add(&u->ids, rec->e.id, rec->e.id_len,
                                     &added) == 0 && added,
                "ids are unique");

    /* what the store keeps is what the job runner parses again */
    obj = json_loadb(rec->e.json, rec->e.json_len, 0, &jerr);

    if (obj == NULL) {
        /* a number beyond jansson's: the module's reader takes it */
        obj = pdf_report_json_loadb(rec->e.json, rec->e.json_len, 0, &jerr);
    }

    fuzz_assert(json_is_object(obj), "stored text is a JSON object");

    v = json_object_get(obj, "id");
    fuzz_assert(json_is_string(v) && json_string_length(v) == rec->e.id_len
                && memcmp(json_string_value(v), rec->e.id, rec->e.id_len)
                   == 0,
                "stored text carries the same id");

    if (pdf_report_users_quick_id(rec->e.json, rec->e.json_len, id, &id_len)
        == 0)
    {
        fuzz_assert(id_len == rec->e.id_len
                    && memcmp(id, rec->e.id, id_len) == 0,
                    "a guessed id is the id");
    }

    for (org = rec->e.orgs; org < rec->e.orgs + rec->e.orgs_len;
         org += strlen(org) + 1)
    {
        fuzz_assert(pdf_report_user_connected(obj, org),
                    "an org of the access entries is CONNECTED");
    }

    (void) pdf_report_user_connection(obj, "org_acme");

    (void) pdf_report_filename(name, sizeof(name),
                               pdf_report_user_str(obj, "first_name"),
                               pdf_report_user_str(obj, "last_name"),
                               "0f9c3b1e-8a4d-4c2b-9e7f-123456789abc");

    json_decref(obj);

    u->n++;
    u->sum += rec->e.json_len;

    return 0;
}


static int
fuzz_scan(const char *text, size_t size, size_t chunk, fuzz_users_t *u,
    size_t *line, char *err)
{
    int                         rc;
    pdf_report_idset_t          set;
    pdf_report_users_scan_t     scan;
    pdf_report_users_reader_t   r;

    memset(u, 0, sizeof(fuzz_users_t));

    if (pdf_report_users_reader_init(&r, -1, text, size, chunk) != 0
        || pdf_report_idset_init(&set, 0) != 0
        || pdf_report_idset_init(&u->ids, 0) != 0)
    {
        abort();
    }

    scan.known = NULL;
    scan.record = fuzz_record;
    scan.data = u;

    err[0] = '\0';
    *line = 12345;

    rc = pdf_report_users_scan(&r, &set, &scan, line, err, 256);

    pdf_report_users_reader_close(&r);
    pdf_report_idset_free(&set);
    pdf_report_idset_free(&u->ids);

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, rc2;
    char           err[256], err2[256];
    size_t         line, line2, chunk;
    fuzz_users_t   u, u2;

    /* a buffer of 2 to 33 bytes: lines cross reads, the buffer grows */
    chunk = 2 + (size > 0 ? data[0] % 32 : 0);

    rc = fuzz_scan((const char *) data, size, 0, &u, &line, err);
    rc2 = fuzz_scan((const char *) data, size, chunk, &u2, &line2, err2);

    fuzz_assert(rc == rc2 && line == line2 && strcmp(err, err2) == 0
                && u.n == u2.n && u.sum == u2.sum,
                "a tiny buffer reads the same");

    if (rc != 0) {
        fuzz_assert(rc == PDF_REPORT_USERS_INVALID, "returns 0 or INVALID");
        fuzz_assert(line >= 1 && err[0] != '\0', "a refusal names a line");
        return 0;
    }

    fuzz_assert(line == 0 && err[0] == '\0', "no line on success");

    return 0;
}
