
/*
 * The user directory, streamed: valid files, each refusal with its line
 * number (read through the default buffer and through a tiny one), the
 * id guessed without a parse, the id set, and the connection questions
 * asked of one record.
 */


#include <stdlib.h>
#include <errno.h>
#include <openssl/sha.h>

#include "tap.h"
#include "pdf_report_users.h"


/* what a scan handed to its callback, copied */

#define MAX_USERS  16

typedef struct {
    size_t   n;
    size_t   parsed;
    char     id[MAX_USERS][PDF_REPORT_USER_ID_MAX + 1];
    char     json[MAX_USERS][6000];
    char     stem[MAX_USERS][PDF_REPORT_FILENAME_MAX];
    char     orgs[MAX_USERS][256];
    size_t   orgs_len[MAX_USERS];
    size_t   stem_len[MAX_USERS];
    /* known(): the ids whose lines count as stored as they are */
    const char  *stored;
} users_t;


static int
collect(void *data, pdf_report_user_rec_t *rec)
{
    users_t  *u = data;

    if (u->n == MAX_USERS || rec->e.json_len >= sizeof(u->json[0])
        || rec->e.orgs_len > sizeof(u->orgs[0]))
    {
        return E2BIG;
    }

    snprintf(u->id[u->n], sizeof(u->id[0]), "%s", rec->e.id);
    memcpy(u->json[u->n], rec->e.json, rec->e.json_len + 1);

    if (rec->parsed) {
        u->parsed++;
        memcpy(u->stem[u->n], rec->e.stem, rec->e.stem_len + 1);
        u->stem_len[u->n] = rec->e.stem_len;
        memcpy(u->orgs[u->n], rec->e.orgs, rec->e.orgs_len);
        u->orgs_len[u->n] = rec->e.orgs_len;
    }

    u->n++;

    return 0;
}


static int
stored(void *data, const char *id, size_t id_len, const char *json,
    size_t json_len, int *same)
{
    users_t  *u = data;

    *same = u->stored != NULL && strlen(u->stored) == id_len
            && memcmp(u->stored, id, id_len) == 0;

    return 0;
}


static int
scan_chunk(const char *text, size_t len, users_t *u, size_t *line,
    char *err, size_t chunk)
{
    int                         rc;
    const char                 *known;
    pdf_report_idset_t          set;
    pdf_report_users_scan_t     scan;
    pdf_report_users_reader_t   r;

    known = u->stored;
    memset(u, 0, sizeof(users_t));
    u->stored = known;

    if (pdf_report_users_reader_init(&r, -1, text, len, chunk) != 0
        || pdf_report_idset_init(&set, 0) != 0)
    {
        return ENOMEM;
    }

    scan.known = known ? stored : NULL;
    scan.record = collect;
    scan.data = u;

    rc = pdf_report_users_scan(&r, &set, &scan, line, err, 256);

    pdf_report_users_reader_close(&r);
    pdf_report_idset_free(&set);

    return rc;
}


/*
 * The file of text scanned: with the default buffer, and again through
 * one of 3 bytes (each line grows it): both must see the same.
 */

static int
parse_len(const char *text, size_t len, users_t *u, size_t *line, char *err)
{
    int             rc, rc2;
    char            err2[256];
    size_t          line2, i;
    static users_t  u2;

    u2.stored = u->stored;
    rc2 = scan_chunk(text, len, &u2, &line2, err2, 3);
    rc = scan_chunk(text, len, u, line, err, 0);

    if (rc != rc2 || *line != line2 || strcmp(err, err2) != 0
        || u->n != u2.n)
    {
        return -999;
    }

    for (i = 0; i < u->n; i++) {
        if (strcmp(u->json[i], u2.json[i]) != 0) {
            return -999;
        }
    }

    return rc;
}

#define parse(text, u, line, err)  parse_len(text, strlen(text), u, line, err)


/* the step-1 body rule on a literal (len given: NULs may be inside) */

static int
body(const char *text, size_t len, char *user)
{
    int     rc;
    size_t  n;

    n = 0;
    user[0] = '\0';

    rc = pdf_report_body_user_id(text, len, user, &n);

    /* the length given must be the id's own */
    return (rc == PDF_REPORT_BODY_OK && n != strlen(user)) ? -1 : rc;
}

#define BODY(s, user)  body(s, sizeof(s) - 1, user)


int
main(void)
{
    int                  added;
    char                 err[256], id[PDF_REPORT_USER_ID_MAX + 1];
    char                 big[6000], *p;
    size_t               line, len, i;
    json_t              *rec;
    static users_t       u;
    pdf_report_idset_t   set;

    is_int(parse("{\"id\":\"US1\",\"first_name\":\"A\"}\n"
                 "\n"
                 "{\"id\":\"US2\"}\r\n"
                 "{\"id\":\"US3\"}", &u, &line, err), 0,
           "three users, a blank line, CRLF, no final newline");
    is_int(u.n, 3, "three entries");
    is_str(u.id[1], "US2", "second id");
    is_str(u.json[1], "{\"id\":\"US2\"}", "CR stripped");
    is_str(u.json[2], "{\"id\":\"US3\"}", "the last line without newline");

    /* what steps 1 and 3 read without parsing: stem and CONNECTED orgs */
    is_int(parse("{\"id\":\"US1\",\"first_name\":\"\u00c9mile\","
                 "\"last_name\":\"O'Brien-Smith\",\"connections\":["
                 "{\"org_id\":\"org_a\",\"connection_status\":\"CONNECTED\"},"
                 "{\"org_id\":\"org_b\",\"connection_status\":\"REVOKED\"},"
                 "{\"org_id\":\"org_c\",\"connection_status\":\"CONNECTED\"}"
                 "]}\n{\"id\":\"US2\",\"first_name\":null}\n",
                 &u, &line, err), 0, "users with connections");
    is_str(u.stem[0], "SQR_E_OBrien-Smith_",
           "the filename stem of the first");
    is_int(u.stem_len[0], 19, "its length");
    is_int(u.orgs_len[0], 12, "two CONNECTED orgs, NUL-ended");
    is_str(u.orgs[0], "org_a", "the first");
    is_str(u.orgs[0] + 6, "org_c", "the second; REVOKED left out");
    is_str(u.stem[1], "SQR_X_X_", "no names: X and X");
    is_int(u.orgs_len[1], 0, "no connections: no orgs");

    is_int(parse("{\"id\":\"US1\",\"connections\":["
                 "{\"org_id\":\"org_a\",\"connection_status\":\"CONNECTED\"},"
                 "{\"org_id\":\"org_a\",\"connection_status\":\"CONNECTED\"},"
                 "{\"org_id\":\"org_b\",\"connection_status\":\"connected\"}"
                 "]}\n", &u, &line, err), 0, "an org twice");
    is_int(u.orgs_len[0], 6, "each org once; \"connected\" is not "
           "\"CONNECTED\"");
    is_int(parse("{\"id\":\"US1\",\"connections\":[{\"org_id\":\"a\\u0000b\","
                 "\"connection_status\":\"CONNECTED\"}]}\n", &u, &line, err),
           PDF_REPORT_USERS_INVALID, "a NUL in a string refused (jansson)");

    is_int(parse("", &u, &line, err), 0, "an empty file is an empty list");
    is_int(u.n, 0, "no entries");
    is_int(parse("\n \t\n\r\n", &u, &line, err), 0, "blank lines only");
    is_int(u.n, 0, "no entries");

    is_int(parse("{\"id\":\"US1\"}\n{\"id\":\"US2\"\n", &u, &line, err),
           PDF_REPORT_USERS_INVALID, "truncated JSON refused");
    is_int(line, 2, "on line 2");
    ok(strncmp(err, "invalid JSON", 12) == 0, "says invalid JSON: %s", err);

    is_int(parse("\n\n{\"name\":\"x\"}\n", &u, &line, err),
           PDF_REPORT_USERS_INVALID, "no id refused");
    is_int(line, 3, "on line 3");
    is_str(err, "not a JSON object with an \"id\" string", "says so");

    is_int(parse("{\"id\":42}\n", &u, &line, err), PDF_REPORT_USERS_INVALID,
           "numeric id refused");
    is_int(parse("[1,2]\n", &u, &line, err), PDF_REPORT_USERS_INVALID,
           "array refused");
    is_int(parse("{\"id\":\"\"}\n", &u, &line, err),
           PDF_REPORT_USERS_INVALID, "empty id refused");
    is_int(parse("{\"id\":\"US1\",\"id\":\"US2\"}\n", &u, &line, err),
           PDF_REPORT_USERS_INVALID, "duplicate key refused");
    is_int(parse("{\"id\":\"US1\",\"n\":\"\xff\"}\n", &u, &line, err),
           PDF_REPORT_USERS_INVALID, "invalid UTF-8 refused");
    is_int(parse_len("{\"id\":\"US1\"}\n{\"id\":\"US2\"}\0 \n", 29, &u,
                     &line, err),
           PDF_REPORT_USERS_INVALID, "a NUL byte in a line refused");
    is_int(line, 2, "on its line");
    is_int(parse_len("{\"id\":\"US1\",\"a\":null\0,\"b\":1}\n", 27, &u,
                     &line, err),
           PDF_REPORT_USERS_INVALID, "a NUL byte between members refused");
    is_str(err, "a NUL byte at column 21", "says where");
    is_int(parse("{\"id\":\"US1\",\"n\":\"a\"}\n{\"id\":\"US1\"}\n",
                 &u, &line, err), PDF_REPORT_USERS_INVALID,
           "duplicate id refused");
    is_int(line, 2, "the later line is named");
    is_str(err, "duplicate \"id\" \"US1\"", "the id is named");
    is_int(parse("{\"id\":\"U\\n\\\"1\"}\n{\"id\":\"U\\n\\\"1\"}\n",
                 &u, &line, err), PDF_REPORT_USERS_INVALID,
           "duplicate id with a newline and a quote");
    is_str(err, "duplicate \"id\" \"U\\x0a\\x221\"",
           "shown escaped: the log gets one line");

    /* a line longer than the reader's buffer, between two others */
    p = big;
    p += sprintf(p, "{\"id\":\"US2\",\"pad\":\"");
    memset(p, 'x', 5000);
    p += 5000;
    sprintf(p, "\"}");
    len = strlen(big);

    {
        static char  text[7000];

        snprintf(text, sizeof(text), "{\"id\":\"US1\"}\n%s\n{\"id\":\"US3\"}",
                 big);
        is_int(parse(text, &u, &line, err), 0, "a line of %zu bytes", len);
        is_int(u.n, 3, "three users");

        snprintf(text, sizeof(text), "{\"id\":\"US1\"}\n%s\n{\"id\":\"US3\"}",
                 big);
        text[strlen(text) - 3] = '\0';
        is_int(parse(text, &u, &line, err), PDF_REPORT_USERS_INVALID,
               "a bad line after a long one");
        is_int(line, 3, "is named by its number");
    }

    /* lines known() finds stored as they are are not parsed again */
    u.stored = "US2";
    is_int(parse("{\"id\":\"US1\"}\n{\"id\":\"US2\",\"first_name\":7}\n"
                 "{\"id\":\"US3\"}\n", &u, &line, err), 0,
           "a stored line is taken as checked");
    is_int(u.n, 3, "three users");
    is_int(u.parsed, 2, "two parsed");
    is_str(u.id[1], "US2", "the stored one with its id");
    u.stored = "US1";
    is_int(parse("{\"id\":\"US1\"}\n{\"id\":\"US2\"}\n{\"id\":\"US1\"}\n",
                 &u, &line, err), PDF_REPORT_USERS_INVALID,
           "a duplicate of a stored line refused");
    is_int(line, 3, "on the later line");
    u.stored = NULL;

    /* the id without a parse: a guess that only a stored line confirms */
    is_int(pdf_report_users_quick_id("{\"id\":\"US1\",\"a\":1}", 19, id,
                                     &len), 0, "quick id: first member");
    is_str(id, "US1", "quick id: the id");
    p = " { \"a\" : {\"id\":\"no\",\"b\":[1,{\"c\":\"}]\\\"\"}]} , \"x\":"
        "\"\\\"id\\\":\\\"no\\\"\" ,\"n\":-1.5e3,\"t\":true,\"id\" :"
        " \"US2\" }";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), 0,
           "quick id: after nested objects, arrays and escapes");
    is_str(id, "US2", "quick id: the top-level id");
    is_int(len, 3, "quick id: its length");
    p = "{\"\\u0069d\":\"US1\"}";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: an escaped key: parse");
    p = "{\"id\":\"U\\u0053\"}";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: an escaped id: parse");
    p = "{\"id\":7}";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: a number: parse");
    p = "{\"a\":1}";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: none: parse");
    p = "{\"a\":\"x}";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: an unterminated string: parse");
    p = "[{\"id\":\"US1\"}]";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: not an object: parse");
    p = "{\"id\":\"12345678901234567890123456789012345678901234567890"
        "123456789012345\"}";
    is_int(pdf_report_users_quick_id(p, strlen(p), id, &len), -1,
           "quick id: 65 bytes: parse");

    /* a set of 128-bit id hashes, growing from 1024 slots */
    is_int(pdf_report_idset_init(&set, 0), 0, "id set");
    len = 0;

    for (i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "USER%zu", i);
        len += (pdf_report_idset_add(&set, id, strlen(id), &added) == 0
                && added);
    }

    is_int(len, 5000, "id set: 5000 ids added");
    is_int(set.n, 5000, "id set: 5000 ids");
    ok(set.size >= 10000, "id set: grew to %zu slots", set.size);

    for (i = 0, added = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "USER%zu", i);
        added += pdf_report_idset_has(&set, id, strlen(id));
        snprintf(id, sizeof(id), "OTHER%zu", i);
        added -= pdf_report_idset_has(&set, id, strlen(id));
    }

    is_int(added, 5000, "id set: every id in, no other");
    is_int(pdf_report_idset_add(&set, "USER42", 6, &added), 0,
           "id set: add again");
    is_int(added, 0, "id set: already there");
    pdf_report_idset_free(&set);

    /* the reader's SHA-256 is that of every byte */
    {
        unsigned char                sha[32], want[32];
        pdf_report_users_reader_t    r;
        static const char           *t = "{\"id\":\"US1\"}\r\n\n"
                                         "{\"id\":\"US2\"}";

        (void) SHA256((const unsigned char *) t, strlen(t), want);

        ok(pdf_report_users_reader_init(&r, -1, t, strlen(t), 4) == 0,
           "reader");
        while (pdf_report_users_reader_next(&r, &p, &len) == 1) {
            /* void */
        }
        is_int(r.line, 3, "reader: three lines");
        ok(pdf_report_users_reader_digest(&r, sha) == 0
           && memcmp(sha, want, 32) == 0, "reader: the SHA-256 of the file");
        pdf_report_users_reader_close(&r);
    }

    /* what is read of a stored record: its access, without the rules */
    {
        pdf_report_user_rec_t  old;

        memset(&old, 0, sizeof(old));
        p = "{\"id\":\"US1\",\"first_name\":7,\"last_name\":\"Li\","
            "\"connections\":[{\"org_id\":\"o1\",\"connection_status\":"
            "\"CONNECTED\"}]}";
        is_int(pdf_report_user_access_of(p, strlen(p), &old), 0,
               "a stored record's access");
        is_str(old.e.stem, "SQR_X_Li_", "its stem");
        ok(old.e.orgs_len == 3 && pdf_report_user_rec_has_org(&old, "o1", 2)
           && !pdf_report_user_rec_has_org(&old, "o", 1), "its org");
        is_int(pdf_report_user_access_of("[1]", 3, &old),
               PDF_REPORT_USERS_INVALID, "not an object: refused");
        pdf_report_user_rec_free(&old);
    }

    /* the fields of contract 4: null or their own type, else refused */

    is_int(parse("{\"id\":\"US1\",\"first_name\":null,\"fmc_score\":1,"
                 "\"selfie_liveness_score\":0.5,\"connections\":[{"
                 "\"org_id\":\"o\",\"data_sharing_agreed\":false,"
                 "\"connection_status\":null}],\"extra\":[1]}\n",
                 &u, &line, err), 0, "types: nulls, numbers, booleans, "
           "unknown fields of any type");

    /* a number beyond jansson's range in a field nobody reads */
    is_int(parse("{\"id\":\"US1\",\"n\":123456789012345678901234567890,"
                 "\"x\":1e400}\n", &u, &line, err), 0,
           "numbers beyond 64 bits and a double in unknown fields");
    is_int(u.n, 1, "the user is loaded");

    is_int(parse("{\"id\":\"US1\"}\n{\"id\":\"US2\",\"first_name\":"
                 "[\"Jane\"]}\n", &u, &line, err), PDF_REPORT_USERS_INVALID,
           "types: an array for a name refused");
    is_int(line, 2, "types: on its line");
    is_str(err, "\"first_name\" must be a string or null",
           "types: the field named");
    is_int(parse("{\"id\":\"US1\",\"fmc_score\":\"95%\"}\n", &u, &line,
                 err), PDF_REPORT_USERS_INVALID,
           "types: a string for a score refused");
    is_str(err, "\"fmc_score\" must be a number or null",
           "types: says a number");
    is_int(parse("{\"id\":\"US1\",\"connections\":{}}\n", &u, &line,
                 err), PDF_REPORT_USERS_INVALID,
           "types: connections not an array refused");
    is_int(parse("{\"id\":\"US1\",\"connections\":[{\"org_id\":\"o\"},"
                 "{\"org_id\":\"p\",\"data_sharing_agreed\":\"yes\"}]}\n",
                 &u, &line, err), PDF_REPORT_USERS_INVALID,
           "types: a string for a boolean refused");
    is_str(err, "\"data_sharing_agreed\" of connection 2 must be true or "
           "false or null", "types: the connection numbered");
    is_int(parse("{\"id\":\"US1\",\"connections\":[7]}\n", &u, &line,
                 err), PDF_REPORT_USERS_INVALID,
           "types: a connection not an object refused");

    rec = json_loads("{\"id\":\"US1\",\"connections\":["
                     "{\"org_id\":\"org_a\",\"connection_status\":"
                     "\"REVOKED\"},"
                     "{\"org_id\":\"org_b\",\"connection_status\":"
                     "\"CONNECTED\"},"
                     "{\"org_id\":7,\"connection_status\":\"CONNECTED\"}]}",
                     0, NULL);
    ok(rec != NULL, "record parsed");
    ok(!pdf_report_user_connected(rec, "org_a"), "revoked is not connected");
    ok(pdf_report_user_connected(rec, "org_b"), "connected");
    ok(!pdf_report_user_connected(rec, "org_c"), "no connection");
    ok(!pdf_report_user_connected(rec, "7"), "non-string org ignored");
    ok(pdf_report_user_connection(rec, "org_a") != NULL,
       "revoked connection still found for the report");
    json_decref(rec);

    /* the step-1 body (contract 5, 400) */

    is_int(BODY("{\"userId\":\"US1A2B3C4D5E6F78\"}", id), PDF_REPORT_BODY_OK,
           "16 characters accepted");
    is_str(id, "US1A2B3C4D5E6F78", "and copied");
    is_int(BODY("{\"userId\":\"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}", id),
           PDF_REPORT_BODY_OK, "16 characters of two bytes each accepted");
    is_int(strlen(id), 32, "32 bytes copied");
    is_int(BODY("{\"userId\":\"US1A2B3C4D5E6F789\"}", id),
           PDF_REPORT_BODY_BAD_USER_ID, "17 characters refused");
    is_int(BODY("{\"userId\":\"\"}", id), PDF_REPORT_BODY_BAD_USER_ID,
           "empty refused");
    is_int(BODY("{\"userId\":\"US\\u0000X\"}", id),
           PDF_REPORT_BODY_NOT_OBJECT, "an escaped NUL refused by jansson");
    is_int(BODY("{\"userId\":16}", id), PDF_REPORT_BODY_NO_USER_ID,
           "a number refused");
    is_int(BODY("{\"userId\":null}", id), PDF_REPORT_BODY_NO_USER_ID,
           "null refused");
    is_int(BODY("{\"user\":\"US1\"}", id), PDF_REPORT_BODY_NO_USER_ID,
           "missing refused");
    is_int(BODY("[\"US1\"]", id), PDF_REPORT_BODY_NOT_OBJECT,
           "an array refused");
    is_int(BODY("{\"userId\":\"US1\",\"userId\":\"US2\"}", id),
           PDF_REPORT_BODY_NOT_OBJECT, "duplicate keys refused");
    is_int(BODY("{\"userId\":\"US\xff\"}", id), PDF_REPORT_BODY_NOT_OBJECT,
           "invalid UTF-8 refused");
    is_int(BODY("{\"userId\":\"US1\"", id), PDF_REPORT_BODY_NOT_OBJECT,
           "truncated refused");
    is_int(BODY("{\"userId\":\"US1\"}\0", id), PDF_REPORT_BODY_NOT_OBJECT,
           "a NUL after the object refused");
    is_int(BODY("", id), PDF_REPORT_BODY_NOT_OBJECT, "empty body refused");

    return done_testing();
}
