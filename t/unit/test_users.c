
/*
 * The user directory parser: valid files, each refusal with its line
 * number, and the connection questions asked of one record.
 */


#include <stdlib.h>

#include "tap.h"
#include "pdf_report_users.h"


static int
parse(const char *text, pdf_report_users_t *u, size_t *line, char *err)
{
    static char  buf[4096];

    snprintf(buf, sizeof(buf), "%s", text);

    return pdf_report_users_parse(buf, strlen(buf), u, line, err, 256);
}


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
    char                 err[256], id[PDF_REPORT_USER_ID_MAX + 1];
    size_t               line;
    json_t              *rec;
    pdf_report_users_t   u;

    is_int(parse("{\"id\":\"US1\",\"first_name\":\"A\"}\n"
                 "\n"
                 "{\"id\":\"US2\"}\r\n"
                 "{\"id\":\"US3\"}", &u, &line, err), 0,
           "three users, a blank line, CRLF, no final newline");
    is_int(u.n, 3, "three entries");
    is_str(u.entries[1].id, "US2", "second id");
    is_str(u.entries[1].json, "{\"id\":\"US2\"}", "CR stripped");
    pdf_report_users_free(&u);

    /* what steps 1 and 3 read without parsing: stem and CONNECTED orgs */
    is_int(parse("{\"id\":\"US1\",\"first_name\":\"\u00c9mile\","
                 "\"last_name\":\"O'Brien-Smith\",\"connections\":["
                 "{\"org_id\":\"org_a\",\"connection_status\":\"CONNECTED\"},"
                 "{\"org_id\":\"org_b\",\"connection_status\":\"REVOKED\"},"
                 "{\"org_id\":\"org_c\",\"connection_status\":\"CONNECTED\"}"
                 "]}\n{\"id\":\"US2\",\"first_name\":null}\n",
                 &u, &line, err), 0, "users with connections");
    is_str(u.entries[0].stem, "SQR_E_OBrien-Smith_",
           "the filename stem of the first");
    is_int(u.entries[0].stem_len, 19, "its length");
    is_int(u.entries[0].orgs_len, 12, "two CONNECTED orgs, NUL-ended");
    is_str(u.entries[0].orgs, "org_a", "the first");
    is_str(u.entries[0].orgs + 6, "org_c", "the second; REVOKED left out");
    is_str(u.entries[1].stem, "SQR_X_X_", "no names: X and X");
    is_int(u.entries[1].orgs_len, 0, "no connections: no orgs");
    pdf_report_users_free(&u);

    is_int(parse("", &u, &line, err), 0, "an empty file is an empty list");
    is_int(u.n, 0, "no entries");
    pdf_report_users_free(&u);

    is_int(parse("{\"id\":\"US1\"}\n{\"id\":\"US2\"\n", &u, &line, err), -1,
           "truncated JSON refused");
    is_int(line, 2, "on line 2");
    ok(strncmp(err, "invalid JSON", 12) == 0, "says invalid JSON: %s", err);

    is_int(parse("\n\n{\"name\":\"x\"}\n", &u, &line, err), -1,
           "no id refused");
    is_int(line, 3, "on line 3");

    is_int(parse("{\"id\":42}\n", &u, &line, err), -1, "numeric id refused");
    is_int(parse("[1,2]\n", &u, &line, err), -1, "array refused");
    is_int(parse("{\"id\":\"\"}\n", &u, &line, err), -1, "empty id refused");
    is_int(parse("{\"id\":\"US1\",\"id\":\"US2\"}\n", &u, &line, err), -1,
           "duplicate key refused");
    is_int(parse("{\"id\":\"US1\",\"n\":\"\xff\"}\n", &u, &line, err), -1,
           "invalid UTF-8 refused");
    is_int(parse("{\"id\":\"US1\",\"n\":\"a\"}\n{\"id\":\"US1\"}\n",
                 &u, &line, err), -1, "duplicate id refused");
    is_int(line, 2, "the later line is named");
    ok(strstr(err, "US1") != NULL, "the id is named: %s", err);

    /* the fields of contract 4: null or their own type, else refused */

    is_int(parse("{\"id\":\"US1\",\"first_name\":null,\"fmc_score\":1,"
                 "\"selfie_liveness_score\":0.5,\"connections\":[{"
                 "\"org_id\":\"o\",\"data_sharing_agreed\":false,"
                 "\"connection_status\":null}],\"extra\":[1]}\n",
                 &u, &line, err), 0, "types: nulls, numbers, booleans, "
           "unknown fields of any type");
    pdf_report_users_free(&u);

    /* a number beyond jansson's range in a field nobody reads */
    is_int(parse("{\"id\":\"US1\",\"n\":123456789012345678901234567890,"
                 "\"x\":1e400}\n", &u, &line, err), 0,
           "numbers beyond 64 bits and a double in unknown fields");
    is_int(u.n, 1, "the user is loaded");
    pdf_report_users_free(&u);

    is_int(parse("{\"id\":\"US1\"}\n{\"id\":\"US2\",\"first_name\":"
                 "[\"Jane\"]}\n", &u, &line, err), -1,
           "types: an array for a name refused");
    is_int(line, 2, "types: on its line");
    is_str(err, "\"first_name\" must be a string or null",
           "types: the field named");
    is_int(parse("{\"id\":\"US1\",\"fmc_score\":\"95%\"}\n", &u, &line,
                 err), -1, "types: a string for a score refused");
    is_str(err, "\"fmc_score\" must be a number or null",
           "types: says a number");
    is_int(parse("{\"id\":\"US1\",\"connections\":{}}\n", &u, &line,
                 err), -1, "types: connections not an array refused");
    is_int(parse("{\"id\":\"US1\",\"connections\":[{\"org_id\":\"o\"},"
                 "{\"org_id\":\"p\",\"data_sharing_agreed\":\"yes\"}]}\n",
                 &u, &line, err), -1, "types: a string for a boolean refused");
    is_str(err, "\"data_sharing_agreed\" of connection 2 must be true or "
           "false or null", "types: the connection numbered");
    is_int(parse("{\"id\":\"US1\",\"connections\":[7]}\n", &u, &line,
                 err), -1, "types: a connection not an object refused");

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
