
/*
 * The user directory (contract section 4): the file streamed and checked
 * line by line when a directory is loaded into the store, and the
 * questions asked of one record later (is it connected to an org, what
 * is its name).  No nginx dependency.
 */


#ifndef _PDF_REPORT_USERS_H_INCLUDED_
#define _PDF_REPORT_USERS_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>

#include "pdf_report_store.h"
#include "pdf_report_util.h"


/*
 * The version of the rules a line is checked against (the fields and
 * types below, the id's length, no duplicates).  A directory load
 * records it with the file's fingerprint: records stored under the same
 * rules are not parsed again when the file still holds them unchanged.
 */
#define PDF_REPORT_USERS_RULES    1

/* what a reader reads at a time unless told otherwise */
#define PDF_REPORT_USERS_CHUNK    (1024 * 1024)


/*
 * The directory file streamed line by line through one buffer, mapped
 * with mmap() so that it goes back to the system when closed; it grows
 * only for a line longer than itself (no line limit of its own).  The
 * SHA-256 of every byte read is kept as it goes.  A reader over text in
 * memory (fd -1) reads it the same way, for the unit tests and fuzzing.
 */
typedef struct {
    int             fd;
    const char     *mem;         /* fd -1: the text and its length */
    size_t          mem_len;
    size_t          mem_off;
    char           *buf;
    size_t          size;        /* of buf */
    size_t          pos;         /* where the next line starts */
    size_t          scanned;     /* pos..scanned holds no newline */
    size_t          end;         /* bytes in buf */
    size_t          line;        /* number of the line last returned */
    unsigned        eof;
    void           *sha;         /* EVP_MD_CTX */
} pdf_report_users_reader_t;

int pdf_report_users_reader_init(pdf_report_users_reader_t *r, int fd,
    const char *mem, size_t mem_len, size_t chunk);

/*
 * The next line: NUL-terminated in place, a final CR removed.  Returns 1
 * with *line and *len set, 0 at the end of the file, or an errno.
 */
int pdf_report_users_reader_next(pdf_report_users_reader_t *r, char **line,
    size_t *len);

/* the SHA-256 of what was read, once the end was reached */
int pdf_report_users_reader_digest(pdf_report_users_reader_t *r,
    unsigned char *sha256);
void pdf_report_users_reader_close(pdf_report_users_reader_t *r);

/* the SHA-256 of the whole file of fd, read from where it is */
int pdf_report_users_digest(int fd, unsigned char *sha256);


/*
 * A set of user ids kept as 128-bit hashes (SHA-256 truncated): the ids
 * of one file, to tell a duplicate and to find the stored users that the
 * file no longer holds, without keeping the ids.  Open addressing in one
 * mmap()ed table that doubles as it fills.
 */
typedef struct {
    unsigned char  *slots;       /* size * 16 bytes */
    size_t          size;        /* a power of two */
    size_t          n;
    void           *md;          /* EVP_MD, fetched once */
    void           *ctx;         /* EVP_MD_CTX, reused */
} pdf_report_idset_t;

int pdf_report_idset_init(pdf_report_idset_t *set, size_t expect);
/* *added is 0 when the id was in the set already; 0, ENOMEM or EIO */
int pdf_report_idset_add(pdf_report_idset_t *set, const char *id,
    size_t len, int *added);
/* 1 when in the set, 0 when not, -1 when it cannot tell (EIO) */
int pdf_report_idset_has(pdf_report_idset_t *set, const char *id,
    size_t len);
void pdf_report_idset_free(pdf_report_idset_t *set);


/* a growing buffer, mmap()ed: what a load keeps of a difference */
typedef struct {
    char           *data;
    size_t          len;
    size_t          size;
} pdf_report_users_buf_t;

/* append len bytes and then sep; 0 or ENOMEM */
int pdf_report_users_buf_add(pdf_report_users_buf_t *buf, const char *p,
    size_t len, int sep);
void pdf_report_users_buf_free(pdf_report_users_buf_t *buf);


/*
 * One record of the directory: e points into the line and the fields
 * below (e.stem and e.orgs are never NULL).  The stem and the orgs are
 * only known for a record parsed here (parsed = 1).
 */
typedef struct {
    pdf_report_user_entry_t   e;
    unsigned                  parsed;
    char                      id[PDF_REPORT_USER_ID_MAX + 1];
    char                      stem[PDF_REPORT_FILENAME_MAX];
    char                     *orgs;       /* malloc()ed, orgs_size */
    size_t                    orgs_size;
} pdf_report_user_rec_t;

/*
 * Check one line (NUL-terminated, len bytes) against the rules: a JSON
 * object with an "id" string of 1 to PDF_REPORT_USER_ID_MAX bytes and
 * the fields of contract section 4 of their types.  0, or
 * PDF_REPORT_USERS_INVALID with err saying why, or ENOMEM.
 */
int pdf_report_user_parse(char *line, size_t len, pdf_report_user_rec_t *rec,
    char *err, size_t err_size);

/*
 * What steps 1 and 3 read of a stored record: its stem and the orgs it
 * is CONNECTED to (each once), without the rules' checks.  0,
 * PDF_REPORT_USERS_INVALID when it is no JSON object, or ENOMEM.
 */
int pdf_report_user_access_of(const char *json, size_t len,
    pdf_report_user_rec_t *rec);

/* 1 when org (org_len bytes) is among rec's CONNECTED orgs */
int pdf_report_user_rec_has_org(const pdf_report_user_rec_t *rec,
    const char *org, size_t org_len);

void pdf_report_user_rec_free(pdf_report_user_rec_t *rec);

/*
 * The "id" of a line without parsing it: the first member of the
 * top-level object named "id" (spelt without escapes) when its value is
 * a string of 1 to PDF_REPORT_USER_ID_MAX bytes without escapes.  0 with
 * id (PDF_REPORT_USER_ID_MAX + 1 bytes) and *id_len set, or -1: the
 * line must be parsed.  A guess that only a stored record equal to the
 * line confirms.
 */
int pdf_report_users_quick_id(const char *line, size_t len, char *id,
    size_t *id_len);


/*
 * Stream a directory: every line that is not blank is checked (or found
 * stored as it is by known(), then not parsed again), its id must be new
 * to set (set may be NULL: no duplicate check), and record() is called
 * with it.  Returns 0; PDF_REPORT_USERS_INVALID with *line and err; or
 * the first error of the reader (an errno) or of a callback.
 */
typedef struct {
    /* *same = 1: the line is the stored record of that id (optional) */
    int   (*known)(void *data, const char *id, size_t id_len,
              const char *json, size_t json_len, int *same);
    int   (*record)(void *data, pdf_report_user_rec_t *rec);
    void   *data;
} pdf_report_users_scan_t;

int pdf_report_users_scan(pdf_report_users_reader_t *r,
    pdf_report_idset_t *set, const pdf_report_users_scan_t *scan,
    size_t *line, char *err, size_t err_size);

/*
 * Every line of the directory of fd checked as a load checks it (ids
 * unique), nothing kept: for "nginx -t" where the store cannot be
 * reached.  0, PDF_REPORT_USERS_INVALID with *line and err, or an errno.
 */
int pdf_report_users_check(int fd, size_t *line, char *err,
    size_t err_size);


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
