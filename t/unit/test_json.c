
/*
 * pdf_report_json_loadb(): JSON with numbers beyond jansson's (a long
 * long, a double) is read, each such number as the nearest one jansson
 * holds, and everything else as json_loadb() reads it; and the step-1
 * body rule, which parses with it.
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "pdf_report_store.h"
#include "pdf_report_users.h"
#include "pdf_report_util.h"


#define DUPS  JSON_REJECT_DUPLICATES


static json_t *load(const char *text, size_t flags, json_error_t *err);
static const char *dump(const char *text, size_t flags);
static void test_read(void);
static void test_refused(void);
static void test_body(void);


int
main(void)
{
    test_read();
    test_refused();
    test_body();

    return done_testing();
}


static json_t *
load(const char *text, size_t flags, json_error_t *err)
{
    return pdf_report_json_loadb(text, strlen(text), flags, err);
}


/* what the text reads as, compact, or "(refused: <jansson's text>)" */

static const char *
dump(const char *text, size_t flags)
{
    static char   out[512];
    char         *s;
    json_t       *json;
    json_error_t  err;

    json = load(text, flags, &err);

    if (json == NULL) {
        snprintf(out, sizeof(out), "(refused: %s)", err.text);
        return out;
    }

    s = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(json);

    if (s == NULL) {
        return "(json_dumps failed)";
    }

    snprintf(out, sizeof(out), "%s", s);
    free(s);

    return out;
}


static void
test_read(void)
{
    char          *text, *p;
    size_t         i;
    json_t        *json, *n;
    json_error_t   err;

    static const struct {
        const char  *text;
        const char  *want;
        const char  *what;
    } cases[] = {
        { "{\"n\":123456789012345678901234567890}",
          "{\"n\":9223372036854775807}", "integer beyond long long" },
        { "{\"n\":-123456789012345678901234567890}",
          "{\"n\":-9223372036854775808}", "negative integer" },
        { "[9223372036854775808,-9223372036854775809]",
          "[9223372036854775807,-9223372036854775808]",
          "one past each end of long long" },
        { "[18446744073709551615,9223372036854775807,"
          "-9223372036854775808]",
          "[9223372036854775807,9223372036854775807,"
          "-9223372036854775808]", "2^64 - 1; the ends themselves kept" },
        { "{\"n\":1e400}", "{\"n\":1e308}", "real beyond a double" },
        { "{\"n\":-1e400}", "{\"n\":-1e308}", "negative real" },
        { "[2e308,1E+999,-1.5e99999,0.5e400]",
          "[1e308,1e308,-1e308,1e308]", "exponent forms" },
        { "[1.5e308,1e-400,1e400]", "[1.5e308,0.0,1e308]",
          "a large real and an underflow kept as jansson reads them" },
        { "{\"s\":\"1e400 \\\"99999999999999999999\\\\\",\"n\":1e400}",
          "{\"s\":\"1e400 \\\"99999999999999999999\\\\\",\"n\":1e308}",
          "numbers in strings, after escaped quotes, untouched" },
        { "{\"99999999999999999999\":99999999999999999999}",
          "{\"99999999999999999999\":9223372036854775807}",
          "a key of digits untouched" },
        { "[[{\"a\":[1e400]}],{\"b\":-1e400}]",
          "[[{\"a\":[1e308]}],{\"b\":-1e308}]", "nested" },
        { "[12,-0,0.5,99999999999999999999,true,null]",
          "[12,0,0.5,9223372036854775807,true,null]",
          "other numbers and literals unchanged" },
        { NULL, NULL, NULL }
    };

    for (i = 0; cases[i].text != NULL; i++) {
        is_str(dump(cases[i].text, DUPS), cases[i].want, "%s",
               cases[i].what);
    }

    json = load("{\"n\":123456789012345678901234567890}", DUPS, &err);
    n = json_object_get(json, "n");
    ok(json_is_integer(n) && json_integer_value(n) == LLONG_MAX,
       "an integer stays an integer");
    json_decref(json);

    json = load("{\"n\":1e400}", DUPS, &err);
    n = json_object_get(json, "n");
    ok(json_is_real(n) && json_real_value(n) == 1e308,
       "a real stays a real");
    json_decref(json);

    /* 400 digits: beyond a double too */
    text = malloc(420);
    if (text == NULL) {
        return;
    }

    p = text;
    p += sprintf(p, "[-");
    memset(p, '9', 400);
    p += 400;
    sprintf(p, "]");

    is_str(dump(text, DUPS), "[-9223372036854775808]",
           "400-digit integer");
    is_str(dump(text, DUPS | JSON_DECODE_INT_AS_REAL), "[-1e308]",
           "400-digit integer, JSON_DECODE_INT_AS_REAL");
    is_str(dump("[99999999999999999999]", JSON_DECODE_INT_AS_REAL),
           "[1e20]", "JSON_DECODE_INT_AS_REAL: a double holds 1e20");
    free(text);

    is_str(dump("1e400", JSON_DECODE_ANY), "1e308",
           "JSON_DECODE_ANY: a number alone");

    /* only len bytes: what follows is not read, nor written */
    text = strdup("[1e400]99999999999999999999");
    if (text == NULL) {
        return;
    }

    json = pdf_report_json_loadb(text, 7, 0, NULL);
    ok(json != NULL && json_real_value(json_array_get(json, 0)) == 1e308,
       "the length is the text's; err may be NULL");
    is_str(text, "[1e400]99999999999999999999", "the text is not changed");
    json_decref(json);
    free(text);
}


/* what json_loadb() refuses for another reason is still refused */

static void
test_refused(void)
{
    size_t         i;
    json_t        *json;
    json_error_t   err, plain;

    static const struct {
        const char            *text;
        enum json_error_code   code;
        const char            *what;
    } cases[] = {
        { "{\"n\":1e400,\"n\":1}", json_error_duplicate_key,
          "duplicate key after the number" },
        { "{\"n\":1,\"n\":1e400}", json_error_duplicate_key,
          "duplicate key before it" },
        { "{\"n\":1e400,}", json_error_invalid_syntax, "trailing comma" },
        { "[1e400, 01]", json_error_invalid_syntax, "leading zero" },
        { "[1e400, 0123456789012345678901234]", json_error_invalid_syntax,
          "leading zero before an overflow" },
        { "[1e400, 1.]", json_error_invalid_syntax, "no fraction digit" },
        { "[1e400, 99999999999999999999.]", json_error_invalid_syntax,
          "no fraction digit after an overflow" },
        { "[1e400, 1e]", json_error_invalid_syntax, "no exponent digit" },
        { "[1e400, -]", json_error_invalid_syntax, "a lone minus" },
        { "[1e400, +1]", json_error_invalid_syntax, "a plus sign" },
        { "[1e400 99999999999999999999]", json_error_invalid_syntax,
          "no comma" },
        { "{1e400:1}", json_error_invalid_syntax, "a number as a key" },
        { "[1e400] {}", json_error_end_of_input_expected, "trailing data" },
        { "[1e400, \"abc]", json_error_premature_end_of_input,
          "unterminated string" },
        { "[1e400, \"\\", json_error_invalid_syntax,
          "a backslash at the end" },
        { "1e400", json_error_invalid_syntax,
          "a number alone without JSON_DECODE_ANY" },
        { NULL, 0, NULL }
    };

    for (i = 0; cases[i].text != NULL; i++) {
        json = load(cases[i].text, DUPS, &err);
        ok(json == NULL && json_error_code(&err) == cases[i].code,
           "%s: refused (%s)", cases[i].what, err.text);
        json_decref(json);
    }

    /* an error after the number is where json_loadb() would put it */
    json = load("[1e400,\n 99999999999999999999, x]", DUPS, &err);
    json_decref(json);
    json = json_loads("[1e300,\n 1, x]", 0, &plain);
    json_decref(json);
    ok(err.line == 2 && err.column == plain.column + 19
       && err.position == plain.position + 19,
       "error at line %d, column %d, position %d", err.line, err.column,
       err.position);

    json = pdf_report_json_loadb(NULL, 0, 0, &err);
    ok(json == NULL && json_error_code(&err) == json_error_invalid_argument,
       "NULL text refused as json_loadb() refuses it");

    json = pdf_report_json_loadb("[", 1, 0, NULL);
    ok(json == NULL, "refused with err NULL");
}


static void
test_body(void)
{
    int     rc;
    char    user[PDF_REPORT_USER_ID_MAX + 1];
    size_t  i, len;

    static const struct {
        const char  *text;
        int          rc;
        const char  *what;
    } cases[] = {
        { "{\"userId\":\"US1A2B3C4D5E6F78\","
          "\"n\":123456789012345678901234567890}", PDF_REPORT_BODY_OK,
          "an integer beyond 64 bits next to userId" },
        { "{\"n\":1e400,\"userId\":\"US1A2B3C4D5E6F78\"}",
          PDF_REPORT_BODY_OK, "a real beyond a double before userId" },
        { "{\"userId\":1e400}", PDF_REPORT_BODY_NO_USER_ID,
          "userId a huge number: a number, not JSON refused" },
        { "{\"userId\":\"US1A2B3C4D5E6F78\",\"n\":1e400,\"n\":1}",
          PDF_REPORT_BODY_NOT_OBJECT, "duplicate keys still refused" },
        { "{\"userId\":\"US1A2B3C4D5E6F78\",\"n\":1e400",
          PDF_REPORT_BODY_NOT_OBJECT, "truncated still refused" },
        { "[1e400]", PDF_REPORT_BODY_NOT_OBJECT, "not an object" },
        { NULL, 0, NULL }
    };

    for (i = 0; cases[i].text != NULL; i++) {
        user[0] = '\0';
        len = 0;
        rc = pdf_report_body_user_id(cases[i].text, strlen(cases[i].text),
                                     user, &len);
        is_int(rc, cases[i].rc, "body: %s", cases[i].what);

        if (cases[i].rc == PDF_REPORT_BODY_OK) {
            is_str(user, "US1A2B3C4D5E6F78", "body: %s: the userId",
                   cases[i].what);
            is_int(len, 16, "body: %s: its length", cases[i].what);
        }
    }
}
