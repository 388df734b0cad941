
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


int
main(void)
{
    char                 err[256];
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

    return done_testing();
}
