
/*
 * Small pure helpers shared by the module and its unit tests: encodings,
 * time stamps, job ids, UTF-8 checks, the download filename rule and a
 * JSON reader for numbers beyond jansson's.
 * No nginx dependency: usable from pool threads and unit tests.
 */


#ifndef _PDF_REPORT_UTIL_H_INCLUDED_
#define _PDF_REPORT_UTIL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <jansson.h>


#define PDF_REPORT_ISO8601_LEN   24     /* 2025-05-05T10:00:00.000Z */
#define PDF_REPORT_UUID_LEN      36
#define PDF_REPORT_SHA256_LEN    32
#define PDF_REPORT_SHA256_HEX    64


/*
 * Strict base64url (RFC 4648 section 5) without padding, as JWS requires:
 * returns the decoded length, or -1 on a character outside the alphabet,
 * padding, an impossible length or non-zero trailing bits.
 * dst must hold (len * 3) / 4 bytes.
 */
long pdf_report_b64url_decode(unsigned char *dst, const char *src,
    size_t len);
size_t pdf_report_b64url_encode(char *dst, const unsigned char *src,
    size_t len);

/* lower-case hex; dst holds 2 * len bytes, not terminated */
void pdf_report_hex(char *dst, const unsigned char *src, size_t len);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, not terminated), UTC */
void pdf_report_iso8601(char *dst, int64_t ms);

/* milliseconds since the epoch, CLOCK_REALTIME (for pool threads) */
int64_t pdf_report_now_ms(void);

/* random UUID v4, 36 bytes, not terminated; 0 or -1 if no entropy */
int pdf_report_uuid4(char *dst);

/* 1 when s is a canonical UUID (lower or upper case hex), else 0 */
int pdf_report_is_uuid(const char *s, size_t len);

/* number of code points, or -1 when s is not valid UTF-8 */
long pdf_report_utf8_len(const char *s, size_t len);

/*
 * The download filename of contract 5:
 * SQR_<initial of first>_<last>_<first 4 of job id, upper>.pdf reduced to
 * ASCII letters, digits and '-'; accented Latin letters lose accents,
 * other characters are dropped, an empty part becomes "X".
 * Returns the length written (terminated), or 0 if size is too small.
 */
size_t pdf_report_filename(char *dst, size_t size, const char *first,
    const char *last, const char *job_id);

/* the same in two steps: the user's stem, then the job's end */
#define PDF_REPORT_FILENAME_MAX  (4 + 1 + 1 + 256 + 1 + 4 + 4 + 1)
size_t pdf_report_filename_stem(char *dst, size_t size, const char *first,
    const char *last);
size_t pdf_report_filename_end(char *dst, size_t size, size_t n,
    const char *job_id);

/*
 * json_loadb() for JSON with numbers beyond jansson's range: an integer
 * beyond long long, or a real beyond a double, which json_loadb()
 * refuses ("too big integer", "real number overflow") although RFC 8259
 * allows it.  Such a number reads as a stand-in of the same sign and
 * type: an integer as LLONG_MAX or LLONG_MIN, a real as 1e308 or -1e308
 * (a time claim beyond the range stays far future or long past).
 * Everything else, and the flags, as json_loadb(); err may be NULL.
 * Only a text json_loadb() refused for a number is read a second time.
 */
json_t *pdf_report_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *err);

/*
 * A value from a client or a token, made safe for one log line: printable
 * ASCII other than '"' and '\' as it is, every other byte as \xHH; cut
 * (with "...") to fit size, which must be at least 8.  Returns dst.
 */
char *pdf_report_log_escape(char *dst, size_t size, const char *src);

/* an org id as a log line shows it: 128 bytes escaped at most 4 times */
#define PDF_REPORT_LOG_ORG  (4 * 128 + 4)


#endif /* _PDF_REPORT_UTIL_H_INCLUDED_ */
