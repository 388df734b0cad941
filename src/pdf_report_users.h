
/*
 * The user directory (contract section 4): JSON Lines parsing and
 * validation at configuration time, and the questions asked of one
 * record later (is it connected to an org, what is its name).
 * No nginx dependency.
 */


#ifndef _PDF_REPORT_USERS_H_INCLUDED_
#define _PDF_REPORT_USERS_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>

#include "pdf_report_store.h"


typedef struct {
    pdf_report_user_entry_t  *entries;   /* id and json point into text */
    size_t                    n;
    char                     *ids;       /* storage of the decoded ids */
} pdf_report_users_t;


/*
 * Parse JSON Lines text (modified in place: line ends become NULs, and
 * text[len] must be writable).
 * Blank lines are skipped; every other line must be a JSON object with
 * an "id" string of 1 to PDF_REPORT_USER_ID_MAX bytes, unique in the
 * file.  On error returns -1, *line is the 1-based line number and err
 * says what is wrong.  Free with pdf_report_users_free().
 */
int pdf_report_users_parse(char *text, size_t len, pdf_report_users_t *users,
    size_t *line, char *err, size_t err_size);
void pdf_report_users_free(pdf_report_users_t *users);

/* what the step-1 body rule (contract section 5, 400) found */
#define PDF_REPORT_BODY_OK           0
#define PDF_REPORT_BODY_NOT_OBJECT   1   /* not JSON, duplicate keys, ... */
#define PDF_REPORT_BODY_NO_USER_ID   2   /* "userId" absent or no string */
#define PDF_REPORT_BODY_BAD_USER_ID  3   /* not 1 to 16 characters */

/*
 * The step-1 body: a JSON object (no duplicate keys) whose "userId" is a
 * string of 1 to 16 UTF-8 characters, at most PDF_REPORT_USER_ID_MAX
 * bytes and no NUL.  On PDF_REPORT_BODY_OK user holds it, terminated,
 * and *user_len its length; user must hold PDF_REPORT_USER_ID_MAX + 1.
 */
int pdf_report_body_user_id(const char *text, size_t len, char *user,
    size_t *user_len);

/* the connection of user with org_id, or NULL */
json_t *pdf_report_user_connection(const json_t *user, const char *org_id);

/* 1 when that connection's connection_status is "CONNECTED" */
int pdf_report_user_connected(const json_t *user, const char *org_id);

/* a string member, or NULL when absent, null or not a string */
const char *pdf_report_user_str(const json_t *obj, const char *name);


#endif /* _PDF_REPORT_USERS_H_INCLUDED_ */
