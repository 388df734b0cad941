
/*
 * The user directory; see pdf_report_users.h.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "pdf_report_users.h"
#include "pdf_report_util.h"


static int pdf_report_users_cmp(const void *a, const void *b);
static int pdf_report_user_types(const json_t *rec, char *err,
    size_t err_size);
static const char *pdf_report_user_type_name(json_type t);


/*
 * The fields of contract section 4 and what each may hold besides null:
 * a record that says something else of one is refused at load, rather
 * than shown as a dash in a report as if the field were absent.
 */

typedef struct {
    const char  *name;
    json_type    type;           /* JSON_TRUE: a boolean */
} pdf_report_user_field_t;

static const pdf_report_user_field_t  pdf_report_user_fields[] = {
    { "first_name", JSON_STRING },
    { "middle_name", JSON_STRING },
    { "last_name", JSON_STRING },
    { "email", JSON_STRING },
    { "phone", JSON_STRING },
    { "dob", JSON_STRING },
    { "address1", JSON_STRING },
    { "address2", JSON_STRING },
    { "city", JSON_STRING },
    { "state", JSON_STRING },
    { "postcode", JSON_STRING },
    { "country", JSON_STRING },
    { "registration_status", JSON_STRING },
    { "document_overall_validation", JSON_STRING },
    { "selfie_liveness_score", JSON_REAL },
    { "fmc_score", JSON_REAL },
    { "id3_pep_sanction_result", JSON_STRING },
    { "high_level_result", JSON_STRING },
    { "created_at", JSON_STRING },
    { NULL, JSON_NULL }
};

static const pdf_report_user_field_t  pdf_report_connection_fields[] = {
    { "org_id", JSON_STRING },
    { "organization_name", JSON_STRING },
    { "connection_status", JSON_STRING },
    { "data_sharing_agreed", JSON_TRUE },
    { "connection_status_updated_at", JSON_STRING },
    { NULL, JSON_NULL }
};


static const pdf_report_user_field_t *pdf_report_user_bad_field(
    const json_t *obj, const pdf_report_user_field_t *fields);
static int pdf_report_users_access(const json_t *rec,
    pdf_report_user_entry_t *e);


int
pdf_report_users_parse(char *text, size_t len, pdf_report_users_t *users,
    size_t *line, char *err, size_t err_size)
{
    char                     *p, *end, *eol, *ids, *near;
    size_t                    n, lines, i, id_len, *lineno;
    json_t                   *rec, *id;
    json_error_t              jerr;
    pdf_report_user_entry_t  *e, **sorted;

    memset(users, 0, sizeof(pdf_report_users_t));
    *line = 0;

    lines = 1;
    for (p = text; p < text + len; p++) {
        if (*p == '\n') {
            lines++;
        }
    }

    e = calloc(lines, sizeof(pdf_report_user_entry_t));
    ids = malloc(lines * (PDF_REPORT_USER_ID_MAX + 1));
    lineno = malloc(lines * sizeof(size_t));
    sorted = malloc(lines * sizeof(pdf_report_user_entry_t *));

    users->entries = e;
    users->ids = ids;

    if (e == NULL || ids == NULL || lineno == NULL || sorted == NULL) {
        snprintf(err, err_size, "out of memory");
        goto failed;
    }

    n = 0;
    p = text;
    end = text + len;

    while (p < end) {
        (*line)++;

        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        *eol = '\0';

        if (eol > p && eol[-1] == '\r') {
            eol[-1] = '\0';
        }

        if (p[strspn(p, " \t")] == '\0') {
            p = eol + 1;
            continue;
        }

        /* jansson refuses invalid UTF-8 and NUL bytes in strings; a
         * number beyond its range in a field nobody reads is no reason
         * to refuse the line */
        rec = pdf_report_json_loadb(p, strlen(p), JSON_REJECT_DUPLICATES,
                                    &jerr);

        if (rec == NULL) {
            /* jansson quotes the text "near" the error: a user's data,
             * which has no place in a log */
            near = strstr(jerr.text, " near ");
            if (near != NULL) {
                *near = '\0';
            }

            snprintf(err, err_size, "invalid JSON at column %d: %s",
                     jerr.column, jerr.text);
            goto failed;
        }

        id = json_object_get(rec, "id");

        if (!json_is_object(rec) || !json_is_string(id)) {
            json_decref(rec);
            snprintf(err, err_size, "not a JSON object with an \"id\" string");
            goto failed;
        }

        id_len = json_string_length(id);

        if (id_len == 0 || id_len > PDF_REPORT_USER_ID_MAX
            || memchr(json_string_value(id), '\0', id_len) != NULL)
        {
            json_decref(rec);
            snprintf(err, err_size, "\"id\" must be 1 to %d bytes",
                     PDF_REPORT_USER_ID_MAX);
            goto failed;
        }

        if (pdf_report_user_types(rec, err, err_size) != 0) {
            json_decref(rec);
            goto failed;
        }

        e[n].id = &ids[n * (PDF_REPORT_USER_ID_MAX + 1)];
        memcpy((char *) e[n].id, json_string_value(id), id_len + 1);
        e[n].id_len = id_len;
        e[n].json = p;
        e[n].json_len = strlen(p);
        lineno[n] = *line;
        sorted[n] = &e[n];

        if (pdf_report_users_access(rec, &e[n]) != 0) {
            json_decref(rec);
            snprintf(err, err_size, "out of memory");
            goto failed;
        }

        users->n = ++n;

        json_decref(rec);

        p = eol + 1;
    }

    users->n = n;

    /* an ambiguous directory is refused, not guessed at */
    qsort(sorted, n, sizeof(pdf_report_user_entry_t *),
          pdf_report_users_cmp);

    for (i = 1; i < n; i++) {
        if (pdf_report_users_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            *line = lineno[sorted[i - 1] - e] > lineno[sorted[i] - e]
                    ? lineno[sorted[i - 1] - e] : lineno[sorted[i] - e];
            snprintf(err, err_size, "duplicate \"id\" \"%s\"",
                     sorted[i]->id);
            goto failed;
        }
    }

    free(lineno);
    free(sorted);

    *line = 0;

    return 0;

failed:

    free(lineno);
    free(sorted);
    pdf_report_users_free(users);

    return -1;
}


/*
 * What steps 1 and 3 need of a record, worked out once at load: the
 * filename stem and the orgs it is CONNECTED to (one block of memory,
 * the stem first).
 */

static int
pdf_report_users_access(const json_t *rec, pdf_report_user_entry_t *e)
{
    char         *block, *p;
    size_t        i, size, stem_len;
    json_t       *conns, *c;
    const char   *org, *status;
    char          stem[PDF_REPORT_FILENAME_MAX];

    stem_len = pdf_report_filename_stem(stem, sizeof(stem),
                                        pdf_report_user_str(rec,
                                                            "first_name"),
                                        pdf_report_user_str(rec,
                                                            "last_name"));
    size = stem_len + 1;

    conns = json_object_get(rec, "connections");

    json_array_foreach(conns, i, c) {
        org = pdf_report_user_str(c, "org_id");
        status = pdf_report_user_str(c, "connection_status");

        if (org != NULL && status != NULL
            && strcmp(status, "CONNECTED") == 0)
        {
            size += strlen(org) + 1;
        }
    }

    block = malloc(size);
    if (block == NULL) {
        return -1;
    }

    memcpy(block, stem, stem_len + 1);
    p = block + stem_len + 1;

    json_array_foreach(conns, i, c) {
        org = pdf_report_user_str(c, "org_id");
        status = pdf_report_user_str(c, "connection_status");

        if (org != NULL && status != NULL
            && strcmp(status, "CONNECTED") == 0)
        {
            memcpy(p, org, strlen(org) + 1);
            p += strlen(org) + 1;
        }
    }

    e->stem = block;
    e->stem_len = stem_len;
    e->orgs = block + stem_len + 1;
    e->orgs_len = size - stem_len - 1;

    return 0;
}


void
pdf_report_users_free(pdf_report_users_t *users)
{
    size_t  i;

    for (i = 0; users->entries != NULL && i < users->n; i++) {
        free((char *) users->entries[i].stem);
    }

    free(users->entries);
    free(users->ids);
    memset(users, 0, sizeof(pdf_report_users_t));
}


int
pdf_report_body_user_id(const char *text, size_t len, char *user,
    size_t *user_len)
{
    int            rc;
    long           chars;
    size_t         n;
    json_t        *body, *uid;
    const char    *value;
    json_error_t   jerr;

    /* a number beyond jansson's in another member must not refuse it */
    body = pdf_report_json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        return PDF_REPORT_BODY_NOT_OBJECT;
    }

    uid = json_object_get(body, "userId");

    if (!json_is_string(uid)) {
        json_decref(body);
        return PDF_REPORT_BODY_NO_USER_ID;
    }

    value = json_string_value(uid);
    n = json_string_length(uid);
    chars = pdf_report_utf8_len(value, n);

    /* no NUL in an id, should a jansson ever pass \u0000 through */

    if (chars < 1 || chars > 16 || n > PDF_REPORT_USER_ID_MAX
        || strlen(value) != n)
    {
        rc = PDF_REPORT_BODY_BAD_USER_ID;

    } else {
        memcpy(user, value, n);
        user[n] = '\0';
        *user_len = n;
        rc = PDF_REPORT_BODY_OK;
    }

    json_decref(body);

    return rc;
}


json_t *
pdf_report_user_connection(const json_t *user, const char *org_id)
{
    size_t       i;
    json_t      *conns, *c;
    const char  *org;

    conns = json_object_get(user, "connections");

    if (!json_is_array(conns)) {
        return NULL;
    }

    json_array_foreach(conns, i, c) {
        org = pdf_report_user_str(c, "org_id");

        if (org != NULL && strcmp(org, org_id) == 0) {
            return c;
        }
    }

    return NULL;
}


int
pdf_report_user_connected(const json_t *user, const char *org_id)
{
    size_t       i;
    json_t      *conns, *c;
    const char  *org, *status;

    conns = json_object_get(user, "connections");

    if (!json_is_array(conns)) {
        return 0;
    }

    /* any connection of that org that is CONNECTED counts */
    json_array_foreach(conns, i, c) {
        org = pdf_report_user_str(c, "org_id");
        status = pdf_report_user_str(c, "connection_status");

        if (org != NULL && status != NULL && strcmp(org, org_id) == 0
            && strcmp(status, "CONNECTED") == 0)
        {
            return 1;
        }
    }

    return 0;
}


const char *
pdf_report_user_str(const json_t *obj, const char *name)
{
    json_t  *v;

    v = json_object_get(obj, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}


static int
pdf_report_users_cmp(const void *a, const void *b)
{
    const pdf_report_user_entry_t  *x, *y;
    int                             rc;

    x = *(const pdf_report_user_entry_t * const *) a;
    y = *(const pdf_report_user_entry_t * const *) b;

    rc = memcmp(x->id, y->id, x->id_len < y->id_len ? x->id_len : y->id_len);

    if (rc != 0) {
        return rc;
    }

    return (x->id_len > y->id_len) - (x->id_len < y->id_len);
}


/* the first of fields that obj gives a value other than null or its type */

static const pdf_report_user_field_t *
pdf_report_user_bad_field(const json_t *obj,
    const pdf_report_user_field_t *fields)
{
    json_t                         *v;
    const pdf_report_user_field_t  *f;

    for (f = fields; f->name != NULL; f++) {
        v = json_object_get(obj, f->name);

        if (v == NULL || json_is_null(v)
            || (f->type == JSON_STRING && json_is_string(v))
            || (f->type == JSON_REAL && json_is_number(v))
            || (f->type == JSON_TRUE && json_is_boolean(v)))
        {
            continue;
        }

        return f;
    }

    return NULL;
}


static const char *
pdf_report_user_type_name(json_type t)
{
    return (t == JSON_STRING) ? "a string"
           : (t == JSON_REAL) ? "a number" : "true or false";
}


static int
pdf_report_user_types(const json_t *rec, char *err, size_t err_size)
{
    size_t                          i;
    json_t                         *conns, *c;
    const pdf_report_user_field_t  *f;

    f = pdf_report_user_bad_field(rec, pdf_report_user_fields);

    if (f != NULL) {
        snprintf(err, err_size, "\"%s\" must be %s or null", f->name,
                 pdf_report_user_type_name(f->type));
        return -1;
    }

    conns = json_object_get(rec, "connections");

    if (conns == NULL || json_is_null(conns)) {
        return 0;
    }

    if (!json_is_array(conns)) {
        snprintf(err, err_size, "\"connections\" must be an array or null");
        return -1;
    }

    json_array_foreach(conns, i, c) {
        if (!json_is_object(c)) {
            snprintf(err, err_size, "connection %zu is not an object", i + 1);
            return -1;
        }

        f = pdf_report_user_bad_field(c, pdf_report_connection_fields);

        if (f != NULL) {
            snprintf(err, err_size, "\"%s\" of connection %zu must be %s or "
                     "null", f->name, i + 1,
                     pdf_report_user_type_name(f->type));
            return -1;
        }
    }

    return 0;
}
