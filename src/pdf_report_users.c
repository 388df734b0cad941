
/*
 * The user directory; see pdf_report_users.h.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <openssl/evp.h>

#include "pdf_report_users.h"
#include "pdf_report_util.h"


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
static int pdf_report_users_access(const json_t *obj,
    pdf_report_user_rec_t *rec);
static int pdf_report_users_fill(pdf_report_users_reader_t *r);
static void *pdf_report_users_map(size_t size);
static void pdf_report_users_unmap(void *p, size_t size);
static int pdf_report_idset_hash(pdf_report_idset_t *set, const char *id,
    size_t len, unsigned char *h);
static void pdf_report_idset_put(unsigned char *slots, size_t size,
    const unsigned char *h);
static const char *pdf_report_json_skip(const char *p, const char *end);
static const char *pdf_report_json_ws(const char *p, const char *end);
static void pdf_report_users_dup(char *err, size_t err_size,
    const char *id, size_t len);


static const unsigned char  pdf_report_idset_empty[16];


int
pdf_report_users_reader_init(pdf_report_users_reader_t *r, int fd,
    const char *mem, size_t mem_len, size_t chunk)
{
    memset(r, 0, sizeof(pdf_report_users_reader_t));

    r->fd = fd;
    r->mem = mem;
    r->mem_len = mem_len;
    r->size = (chunk >= 2) ? chunk : PDF_REPORT_USERS_CHUNK;

    r->buf = pdf_report_users_map(r->size);
    r->sha = EVP_MD_CTX_new();

    if (r->buf == NULL || r->sha == NULL
        || EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1)
    {
        pdf_report_users_reader_close(r);
        return ENOMEM;
    }

    return 0;
}


int
pdf_report_users_reader_next(pdf_report_users_reader_t *r, char **line,
    size_t *len)
{
    int      rc;
    char    *p, *nl;
    size_t   n;

    for ( ;; ) {
        nl = memchr(r->buf + r->scanned, '\n', r->end - r->scanned);

        if (nl != NULL) {
            p = r->buf + r->pos;
            n = (size_t) (nl - p);
            r->pos = (size_t) (nl - r->buf) + 1;
            r->scanned = r->pos;
            break;
        }

        r->scanned = r->end;

        if (r->eof) {
            if (r->pos == r->end) {
                return 0;
            }

            /* a last line without a newline: buf keeps a byte for NUL */
            p = r->buf + r->pos;
            n = r->end - r->pos;
            r->pos = r->end;
            r->scanned = r->end;
            break;
        }

        rc = pdf_report_users_fill(r);
        if (rc != 0) {
            return rc;
        }
    }

    p[n] = '\0';

    if (n > 0 && p[n - 1] == '\r') {
        p[--n] = '\0';
    }

    r->line++;
    *line = p;
    *len = n;

    return 1;
}


/* read more after what is kept of the current line; 0 or an errno */

static int
pdf_report_users_fill(pdf_report_users_reader_t *r)
{
    char     *buf;
    size_t    size;
    ssize_t   n;

    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->scanned -= r->pos;
        r->pos = 0;
    }

    /* a line as long as the buffer: twice the buffer */
    if (r->end + 1 >= r->size) {
        if (r->size > ((size_t) -1) / 4) {
            return ENOMEM;
        }

        size = r->size * 2;

        buf = pdf_report_users_map(size);
        if (buf == NULL) {
            return ENOMEM;
        }

        memcpy(buf, r->buf, r->end);
        pdf_report_users_unmap(r->buf, r->size);
        r->buf = buf;
        r->size = size;
    }

    if (r->fd == -1) {
        n = (ssize_t) (r->mem_len - r->mem_off);

        if ((size_t) n > r->size - 1 - r->end) {
            n = (ssize_t) (r->size - 1 - r->end);
        }

        if (n > 0) {
            memcpy(r->buf + r->end, r->mem + r->mem_off, (size_t) n);
            r->mem_off += (size_t) n;
        }

    } else {
        do {
            n = read(r->fd, r->buf + r->end, r->size - 1 - r->end);
        } while (n == -1 && errno == EINTR);

        if (n == -1) {
            return errno;
        }
    }

    if (n == 0) {
        r->eof = 1;
        return 0;
    }

    if (EVP_DigestUpdate(r->sha, r->buf + r->end, (size_t) n) != 1) {
        return EIO;
    }

    r->end += (size_t) n;

    return 0;
}


int
pdf_report_users_reader_digest(pdf_report_users_reader_t *r,
    unsigned char *sha256)
{
    unsigned int  n;

    if (!r->eof || EVP_DigestFinal_ex(r->sha, sha256, &n) != 1
        || n != PDF_REPORT_SHA256_LEN)
    {
        return EINVAL;
    }

    return 0;
}


void
pdf_report_users_reader_close(pdf_report_users_reader_t *r)
{
    if (r->buf != NULL) {
        pdf_report_users_unmap(r->buf, r->size);
    }

    EVP_MD_CTX_free(r->sha);

    r->buf = NULL;
    r->sha = NULL;
}


int
pdf_report_users_digest(int fd, unsigned char *sha256)
{
    int                        rc;
    pdf_report_users_reader_t  r;

    rc = pdf_report_users_reader_init(&r, fd, NULL, 0, 0);
    if (rc != 0) {
        return rc;
    }

    /* nothing kept: each read starts the buffer afresh */
    do {
        r.pos = 0;
        r.scanned = 0;
        r.end = 0;

        rc = pdf_report_users_fill(&r);

    } while (rc == 0 && !r.eof);

    if (rc == 0) {
        rc = pdf_report_users_reader_digest(&r, sha256);
    }

    pdf_report_users_reader_close(&r);

    return rc;
}


static void *
pdf_report_users_map(size_t size)
{
    void  *p;

    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);

    return (p == MAP_FAILED) ? NULL : p;
}


static void
pdf_report_users_unmap(void *p, size_t size)
{
    (void) munmap(p, size);
}


int
pdf_report_idset_init(pdf_report_idset_t *set, size_t expect)
{
    size_t  size;

    memset(set, 0, sizeof(pdf_report_idset_t));

    /* at most half full */
    for (size = 1024; size / 2 < expect && size < ((size_t) 1 << 40);
         size *= 2)
    {
        /* void */
    }

    set->slots = pdf_report_users_map(size * 16);
    set->size = size;

    /* fetched once: SHA256() looks the algorithm up at every call */
    set->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    set->ctx = EVP_MD_CTX_new();

    if (set->slots == NULL || set->md == NULL || set->ctx == NULL) {
        pdf_report_idset_free(set);
        return ENOMEM;
    }

    return 0;
}


int
pdf_report_idset_add(pdf_report_idset_t *set, const char *id, size_t len,
    int *added)
{
    int             rc;
    size_t          i, size;
    unsigned char  *slots, h[16];

    *added = 0;

    rc = pdf_report_idset_has(set, id, len);

    if (rc != 0) {
        return (rc == 1) ? 0 : EIO;
    }

    if ((set->n + 1) * 2 > set->size) {
        size = set->size * 2;

        slots = pdf_report_users_map(size * 16);
        if (slots == NULL) {
            return ENOMEM;
        }

        for (i = 0; i < set->size; i++) {
            if (memcmp(&set->slots[i * 16], pdf_report_idset_empty, 16)
                != 0)
            {
                pdf_report_idset_put(slots, size, &set->slots[i * 16]);
            }
        }

        pdf_report_users_unmap(set->slots, set->size * 16);
        set->slots = slots;
        set->size = size;
    }

    if (pdf_report_idset_hash(set, id, len, h) != 0) {
        return EIO;
    }

    pdf_report_idset_put(set->slots, set->size, h);
    set->n++;
    *added = 1;

    return 0;
}


int
pdf_report_idset_has(pdf_report_idset_t *set, const char *id, size_t len)
{
    size_t                i;
    uint64_t              v;
    unsigned char         h[16];
    const unsigned char  *s;

    if (pdf_report_idset_hash(set, id, len, h) != 0) {
        return -1;
    }

    memcpy(&v, h, sizeof(v));

    for (i = (size_t) v & (set->size - 1); /* void */ ;
         i = (i + 1) & (set->size - 1))
    {
        s = &set->slots[i * 16];

        if (memcmp(s, h, 16) == 0) {
            return 1;
        }

        if (memcmp(s, pdf_report_idset_empty, 16) == 0) {
            return 0;
        }
    }
}


void
pdf_report_idset_free(pdf_report_idset_t *set)
{
    if (set->slots != NULL) {
        pdf_report_users_unmap(set->slots, set->size * 16);
    }

    EVP_MD_CTX_free(set->ctx);
    EVP_MD_free(set->md);

    memset(set, 0, sizeof(pdf_report_idset_t));
}


/* the first 128 bits of the id's SHA-256, never all zero (empty slot) */

static int
pdf_report_idset_hash(pdf_report_idset_t *set, const char *id, size_t len,
    unsigned char *h)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_DigestInit_ex(set->ctx, set->md, NULL) != 1
        || EVP_DigestUpdate(set->ctx, id, len) != 1
        || EVP_DigestFinal_ex(set->ctx, md, &n) != 1
        || n != PDF_REPORT_SHA256_LEN)
    {
        return -1;
    }

    memcpy(h, md, 16);

    if (memcmp(h, pdf_report_idset_empty, 16) == 0) {
        h[15] = 1;
    }

    return 0;
}


static void
pdf_report_idset_put(unsigned char *slots, size_t size,
    const unsigned char *h)
{
    size_t    i;
    uint64_t  v;

    memcpy(&v, h, sizeof(v));

    for (i = (size_t) v & (size - 1);
         memcmp(&slots[i * 16], pdf_report_idset_empty, 16) != 0;
         i = (i + 1) & (size - 1))
    {
        /* void */
    }

    memcpy(&slots[i * 16], h, 16);
}


int
pdf_report_users_buf_add(pdf_report_users_buf_t *buf, const char *p,
    size_t len, int sep)
{
    char    *data;
    size_t   size;

    if (buf->len + len + 1 > buf->size) {
        for (size = (buf->size != 0) ? buf->size : 65536;
             size < buf->len + len + 1;
             size *= 2)
        {
            if (size > ((size_t) -1) / 4) {
                return ENOMEM;
            }
        }

        data = pdf_report_users_map(size);
        if (data == NULL) {
            return ENOMEM;
        }

        if (buf->data != NULL) {
            memcpy(data, buf->data, buf->len);
            pdf_report_users_unmap(buf->data, buf->size);
        }

        buf->data = data;
        buf->size = size;
    }

    memcpy(buf->data + buf->len, p, len);
    buf->data[buf->len + len] = (char) sep;
    buf->len += len + 1;

    return 0;
}


void
pdf_report_users_buf_free(pdf_report_users_buf_t *buf)
{
    if (buf->data != NULL) {
        pdf_report_users_unmap(buf->data, buf->size);
    }

    buf->data = NULL;
    buf->len = 0;
    buf->size = 0;
}


int
pdf_report_user_parse(char *line, size_t len, pdf_report_user_rec_t *rec,
    char *err, size_t err_size)
{
    int            rc;
    char          *near;
    size_t         id_len;
    json_t        *obj, *id;
    json_error_t   jerr;

    rec->parsed = 0;

    /* jansson's buffer reader passes over some, and a stored record is
     * read as a C string later */
    near = memchr(line, '\0', len);

    if (near != NULL) {
        snprintf(err, err_size, "a NUL byte at column %zu",
                 (size_t) (near - line) + 1);
        return PDF_REPORT_USERS_INVALID;
    }

    /* jansson refuses invalid UTF-8 and NUL bytes in strings; a number
     * beyond its range in a field nobody reads is no reason to refuse
     * the line */
    obj = pdf_report_json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

    if (obj == NULL) {
        /* jansson quotes the text "near" the error: a user's data, which
         * has no place in a log */
        near = strstr(jerr.text, " near ");
        if (near != NULL) {
            *near = '\0';
        }

        snprintf(err, err_size, "invalid JSON at column %d: %s",
                 jerr.column, jerr.text);
        return PDF_REPORT_USERS_INVALID;
    }

    id = json_object_get(obj, "id");

    if (!json_is_object(obj) || !json_is_string(id)) {
        json_decref(obj);
        snprintf(err, err_size, "not a JSON object with an \"id\" string");
        return PDF_REPORT_USERS_INVALID;
    }

    id_len = json_string_length(id);

    if (id_len == 0 || id_len > PDF_REPORT_USER_ID_MAX
        || memchr(json_string_value(id), '\0', id_len) != NULL)
    {
        json_decref(obj);
        snprintf(err, err_size, "\"id\" must be 1 to %d bytes",
                 PDF_REPORT_USER_ID_MAX);
        return PDF_REPORT_USERS_INVALID;
    }

    if (pdf_report_user_types(obj, err, err_size) != 0) {
        json_decref(obj);
        return PDF_REPORT_USERS_INVALID;
    }

    memcpy(rec->id, json_string_value(id), id_len + 1);

    rc = pdf_report_users_access(obj, rec);

    json_decref(obj);

    if (rc != 0) {
        return rc;
    }

    rec->e.id = rec->id;
    rec->e.id_len = id_len;
    rec->e.json = line;
    rec->e.json_len = len;
    rec->parsed = 1;

    return 0;
}


int
pdf_report_user_access_of(const char *json, size_t len,
    pdf_report_user_rec_t *rec)
{
    int      rc;
    json_t  *obj;

    obj = pdf_report_json_loadb(json, len, 0, NULL);

    if (!json_is_object(obj)) {
        json_decref(obj);
        return PDF_REPORT_USERS_INVALID;
    }

    rc = pdf_report_users_access(obj, rec);

    json_decref(obj);

    return rc;
}


/*
 * What steps 1 and 3 need of a record, worked out once at load: the
 * filename stem and the orgs it is CONNECTED to, each once (an org_id
 * with a NUL in it names no org a token can).
 */

static int
pdf_report_users_access(const json_t *obj, pdf_report_user_rec_t *rec)
{
    char        *p;
    size_t       i, len, need, size;
    json_t      *conns, *c, *org, *status;
    const char  *name;

    rec->e.stem_len = pdf_report_filename_stem(rec->stem, sizeof(rec->stem),
                                               pdf_report_user_str(obj,
                                                   "first_name"),
                                               pdf_report_user_str(obj,
                                                   "last_name"));
    rec->e.stem = rec->stem;
    rec->e.orgs = (rec->orgs != NULL) ? rec->orgs : "";
    rec->e.orgs_len = 0;

    conns = json_object_get(obj, "connections");

    json_array_foreach(conns, i, c) {
        org = json_object_get(c, "org_id");
        status = json_object_get(c, "connection_status");

        if (!json_is_string(org) || !json_is_string(status)
            || json_string_length(status) != sizeof("CONNECTED") - 1
            || memcmp(json_string_value(status), "CONNECTED",
                      sizeof("CONNECTED") - 1) != 0)
        {
            continue;
        }

        name = json_string_value(org);
        len = json_string_length(org);

        if (memchr(name, '\0', len) != NULL
            || pdf_report_user_rec_has_org(rec, name, len))
        {
            continue;
        }

        need = rec->e.orgs_len + len + 1;

        if (need > rec->orgs_size) {
            size = (need > 2 * rec->orgs_size) ? need : 2 * rec->orgs_size;
            size = (size < 256) ? 256 : size;

            p = realloc(rec->orgs, size);
            if (p == NULL) {
                return ENOMEM;
            }

            rec->orgs = p;
            rec->orgs_size = size;
            rec->e.orgs = p;
        }

        memcpy(rec->orgs + rec->e.orgs_len, name, len + 1);
        rec->e.orgs_len = need;
    }

    return 0;
}


int
pdf_report_user_rec_has_org(const pdf_report_user_rec_t *rec,
    const char *org, size_t org_len)
{
    size_t       len;
    const char  *p, *end;

    p = rec->e.orgs;
    end = p + rec->e.orgs_len;

    for ( /* void */ ; p < end; p += len + 1) {
        len = strlen(p);

        if (len == org_len && memcmp(p, org, len) == 0) {
            return 1;
        }
    }

    return 0;
}


void
pdf_report_user_rec_free(pdf_report_user_rec_t *rec)
{
    free(rec->orgs);
    rec->orgs = NULL;
    rec->orgs_size = 0;
    rec->e.orgs = "";
    rec->e.orgs_len = 0;
}


int
pdf_report_users_quick_id(const char *line, size_t len, char *id,
    size_t *id_len)
{
    size_t       n;
    const char  *p, *end, *key, *val;

    p = line;
    end = line + len;

    p = pdf_report_json_ws(p, end);

    if (p == end || *p++ != '{') {
        return -1;
    }

    for ( ;; ) {
        p = pdf_report_json_ws(p, end);

        if (p == end || *p++ != '"') {
            return -1;
        }

        for (key = p; p < end && *p != '"' && *p != '\\'; p++) {
            /* void */
        }

        if (p == end || *p == '\\') {
            return -1;
        }

        n = (size_t) (p++ - key);
        p = pdf_report_json_ws(p, end);

        if (p == end || *p++ != ':') {
            return -1;
        }

        p = pdf_report_json_ws(p, end);

        if (n == 2 && key[0] == 'i' && key[1] == 'd') {
            break;
        }

        p = pdf_report_json_skip(p, end);

        if (p == NULL || *p++ != ',') {
            return -1;
        }
    }

    if (p == end || *p++ != '"') {
        return -1;
    }

    for (val = p; p < end && *p != '"' && *p != '\\'
                  && (unsigned char) *p >= 0x20; p++)
    {
        /* void */
    }

    n = (size_t) (p - val);

    if (p == end || *p != '"' || n == 0 || n > PDF_REPORT_USER_ID_MAX) {
        return -1;
    }

    memcpy(id, val, n);
    id[n] = '\0';
    *id_len = n;

    return 0;
}


static const char *
pdf_report_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/* past one value: at the ',', '}' or ']' after it, or NULL */

static const char *
pdf_report_json_skip(const char *p, const char *end)
{
    size_t  depth;

    for (depth = 0; p < end; p++) {
        switch (*p) {

        case '"':
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\') {
                    p++;
                }
            }

            if (p >= end) {
                return NULL;
            }

            break;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (depth == 0) {
                return p;
            }

            depth--;
            break;

        case ',':
            if (depth == 0) {
                return p;
            }

            break;

        default:
            break;
        }
    }

    return NULL;
}


int
pdf_report_users_scan(pdf_report_users_reader_t *r, pdf_report_idset_t *set,
    const pdf_report_users_scan_t *scan, size_t *line, char *err,
    size_t err_size)
{
    int                     rc, same, added;
    char                   *p;
    size_t                  len, i;
    pdf_report_user_rec_t   rec;

    memset(&rec, 0, sizeof(pdf_report_user_rec_t));

    *line = 0;
    err[0] = '\0';

    for ( ;; ) {
        rc = pdf_report_users_reader_next(r, &p, &len);

        if (rc != 1) {
            break;
        }

        for (i = 0; i < len && (p[i] == ' ' || p[i] == '\t'); i++) {
            /* void */
        }

        if (i == len) {
            continue;
        }

        same = 0;

        if (scan->known != NULL
            && pdf_report_users_quick_id(p, len, rec.id, &rec.e.id_len)
               == 0)
        {
            rc = scan->known(scan->data, rec.id, rec.e.id_len, p, len,
                             &same);
            if (rc != 0) {
                break;
            }
        }

        if (same) {
            /* stored as it is: checked when it was stored */
            rec.parsed = 0;
            rec.e.id = rec.id;
            rec.e.json = p;
            rec.e.json_len = len;
            rec.e.stem = "";
            rec.e.stem_len = 0;
            rec.e.orgs = "";
            rec.e.orgs_len = 0;

        } else {
            rc = pdf_report_user_parse(p, len, &rec, err, err_size);
            if (rc != 0) {
                break;
            }
        }

        if (set != NULL) {
            rc = pdf_report_idset_add(set, rec.id, rec.e.id_len, &added);
            if (rc != 0) {
                break;
            }

            /* an ambiguous directory is refused, not guessed at */
            if (!added) {
                pdf_report_users_dup(err, err_size, rec.id, rec.e.id_len);
                rc = PDF_REPORT_USERS_INVALID;
                break;
            }
        }

        rc = scan->record(scan->data, &rec);
        if (rc != 0) {
            break;
        }
    }

    if (rc == PDF_REPORT_USERS_INVALID) {
        *line = r->line;
    }

    pdf_report_user_rec_free(&rec);

    return rc;
}


static int
pdf_report_users_check_record(void *data, pdf_report_user_rec_t *rec)
{
    return 0;
}


int
pdf_report_users_check(int fd, size_t *line, char *err, size_t err_size)
{
    int                        rc;
    pdf_report_idset_t         set;
    pdf_report_users_scan_t    scan;
    pdf_report_users_reader_t  rd;

    *line = 0;
    err[0] = '\0';

    rc = pdf_report_users_reader_init(&rd, fd, NULL, 0, 0);
    if (rc != 0) {
        return rc;
    }

    rc = pdf_report_idset_init(&set, 0);

    if (rc == 0) {
        scan.known = NULL;
        scan.record = pdf_report_users_check_record;
        scan.data = NULL;

        rc = pdf_report_users_scan(&rd, &set, &scan, line, err, err_size);

        pdf_report_idset_free(&set);
    }

    pdf_report_users_reader_close(&rd);

    return rc;
}


/* the message of a duplicate id, its bytes beyond printable ASCII as \xNN */

static void
pdf_report_users_dup(char *err, size_t err_size, const char *id, size_t len)
{
    char    shown[PDF_REPORT_USER_ID_MAX * 4 + 1], *p;
    size_t  i;

    p = shown;

    for (i = 0; i < len; i++) {
        if ((unsigned char) id[i] >= 0x20 && (unsigned char) id[i] < 0x7f
            && id[i] != '"' && id[i] != '\\')
        {
            *p++ = id[i];

        } else {
            p += sprintf(p, "\\x%02x", (unsigned char) id[i]);
        }
    }

    *p = '\0';

    snprintf(err, err_size, "duplicate \"id\" \"%s\"", shown);
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
