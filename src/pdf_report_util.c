
/*
 * Pure helpers: base64url, hex, time stamps, UUIDs, UTF-8, the download
 * filename rule and JSON numbers beyond jansson's.  See pdf_report_util.h.
 */


#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <openssl/rand.h>

#include "pdf_report_util.h"


/* jansson's json_int_t is a long long, read by strtoll() */
#if (LLONG_MAX != 9223372036854775807LL)
#error "pdf_report_json_loadb() assumes a 64-bit long long"
#endif

#define PDF_REPORT_JSON_INT_MAX   "9223372036854775807"
#define PDF_REPORT_JSON_INT_MIN   "-9223372036854775808"
#define PDF_REPORT_JSON_REAL_MAX  "1e308"
#define PDF_REPORT_JSON_REAL_MIN  "-1e308"

#define pdf_report_json_digit(c)  ((c) >= '0' && (c) <= '9')


static int pdf_report_utf8_next(const unsigned char **p,
    const unsigned char *end, uint32_t *cp);
static size_t pdf_report_ascii_part(char *dst, size_t size, const char *src,
    size_t max_chars);
static void pdf_report_json_saturate(char *s, size_t len, size_t flags);
static size_t pdf_report_json_number(const char *s, size_t i, size_t len,
    int *real);


static const char  pdf_report_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


/*
 * What each letter of U+00C0..U+017F becomes without its accent; an empty
 * string drops the character (the multiplication and division signs).
 */
static const char  *pdf_report_latin[] = {
    /* U+00C0 */
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E",
    "I", "I", "I", "I", "D", "N", "O", "O", "O", "O", "O", "",
    "O", "U", "U", "U", "U", "Y", "TH", "ss",
    /* U+00E0 */
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e",
    "i", "i", "i", "i", "d", "n", "o", "o", "o", "o", "o", "",
    "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */
    "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c",
    "C", "c", "D", "d", "D", "d", "E", "e", "E", "e", "E", "e",
    "E", "e", "E", "e", "G", "g", "G", "g", "G", "g", "G", "g",
    "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i",
    "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L",
    "l", "L", "l", "L", "l", "L", "l", "N", "n", "N", "n", "N",
    "n", "n", "N", "n", "O", "o", "O", "o", "O", "o", "OE", "oe",
    "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s",
    "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u",
    "U", "u", "U", "u", "U", "u", "U", "u", "W", "w", "Y", "y",
    "Y", "Z", "z", "Z", "z", "Z", "z", "s"
};


long
pdf_report_b64url_decode(unsigned char *dst, const char *src, size_t len)
{
    size_t          i, n;
    uint32_t        acc;
    unsigned        bits;
    int             v;
    unsigned char   c;

    if (len % 4 == 1) {
        return -1;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '-') {
            v = 62;

        } else if (c == '_') {
            v = 63;

        } else {
            return -1;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    /* the unused low bits of the last character must be zero */
    if (acc != 0) {
        return -1;
    }

    return (long) n;
}


size_t
pdf_report_b64url_encode(char *dst, const unsigned char *src, size_t len)
{
    size_t    i, n;
    uint32_t  v;

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8)
            | src[i + 2];
        dst[n++] = pdf_report_b64url_alphabet[(v >> 18) & 0x3f];
        dst[n++] = pdf_report_b64url_alphabet[(v >> 12) & 0x3f];
        dst[n++] = pdf_report_b64url_alphabet[(v >> 6) & 0x3f];
        dst[n++] = pdf_report_b64url_alphabet[v & 0x3f];
    }

    if (len - i == 1) {
        v = (uint32_t) src[i] << 16;
        dst[n++] = pdf_report_b64url_alphabet[(v >> 18) & 0x3f];
        dst[n++] = pdf_report_b64url_alphabet[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = ((uint32_t) src[i] << 16) | ((uint32_t) src[i + 1] << 8);
        dst[n++] = pdf_report_b64url_alphabet[(v >> 18) & 0x3f];
        dst[n++] = pdf_report_b64url_alphabet[(v >> 12) & 0x3f];
        dst[n++] = pdf_report_b64url_alphabet[(v >> 6) & 0x3f];
    }

    return n;
}


void
pdf_report_hex(char *dst, const unsigned char *src, size_t len)
{
    static const char  hex[] = "0123456789abcdef";
    size_t             i;

    for (i = 0; i < len; i++) {
        dst[2 * i] = hex[src[i] >> 4];
        dst[2 * i + 1] = hex[src[i] & 0xf];
    }
}


void
pdf_report_iso8601(char *dst, int64_t ms)
{
    int64_t   days, secs, era, doe, yoe, doy, mp, y, m, d, frac;
    unsigned  i;
    int64_t   parts[7];

    /*
     * By hand rather than gmtime_r() and snprintf(): every status read
     * formats two or three of these, and glibc's gmtime_r takes a lock.
     * Days to the civil date as in Howard Hinnant's civil_from_days().
     */
    if (ms < 0) {
        ms = 0;
    }

    /* past year 9999 the format has no room: clamp */
    if (ms > INT64_C(253402300799999)) {
        ms = INT64_C(253402300799999);
    }

    frac = ms % 1000;
    secs = ms / 1000;
    days = secs / 86400;
    secs %= 86400;

    days += 719468;
    era = days / 146097;
    doe = days - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    parts[0] = y;
    parts[1] = m;
    parts[2] = d;
    parts[3] = secs / 3600;
    parts[4] = secs / 60 % 60;
    parts[5] = secs % 60;
    parts[6] = frac;

    /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    dst[0] = (char) ('0' + parts[0] / 1000);
    dst[1] = (char) ('0' + parts[0] / 100 % 10);
    dst[2] = (char) ('0' + parts[0] / 10 % 10);
    dst[3] = (char) ('0' + parts[0] % 10);

    for (i = 1; i < 6; i++) {
        dst[3 * i + 1] = "--T::"[i - 1];
        dst[3 * i + 2] = (char) ('0' + parts[i] / 10);
        dst[3 * i + 3] = (char) ('0' + parts[i] % 10);
    }

    dst[19] = '.';
    dst[20] = (char) ('0' + parts[6] / 100);
    dst[21] = (char) ('0' + parts[6] / 10 % 10);
    dst[22] = (char) ('0' + parts[6] % 10);
    dst[23] = 'Z';
}


int64_t
pdf_report_now_ms(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return (int64_t) time(NULL) * 1000;
    }

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int
pdf_report_uuid4(char *dst)
{
    static const int  dash[] = { 4, 6, 8, 10 };
    unsigned char     b[16];
    size_t            i, n, d;

    if (RAND_bytes(b, sizeof(b)) != 1) {
        return -1;
    }

    b[6] = (b[6] & 0x0f) | 0x40;    /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80;    /* RFC 4122 variant */

    n = 0;
    d = 0;

    for (i = 0; i < sizeof(b); i++) {
        if (d < 4 && (int) i == dash[d]) {
            dst[n++] = '-';
            d++;
        }

        pdf_report_hex(&dst[n], &b[i], 1);
        n += 2;
    }

    return 0;
}


int
pdf_report_is_uuid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len != PDF_REPORT_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


/* decode one code point; -1 on invalid, overlong or surrogate sequences */

static int
pdf_report_utf8_next(const unsigned char **p, const unsigned char *end,
    uint32_t *cp)
{
    const unsigned char  *s;
    uint32_t              c, min;
    size_t                n, i;

    s = *p;
    c = *s;

    if (c < 0x80) {
        *cp = c;
        *p = s + 1;
        return 0;
    }

    if ((c & 0xe0) == 0xc0) {
        n = 1;
        c &= 0x1f;
        min = 0x80;

    } else if ((c & 0xf0) == 0xe0) {
        n = 2;
        c &= 0x0f;
        min = 0x800;

    } else if ((c & 0xf8) == 0xf0) {
        n = 3;
        c &= 0x07;
        min = 0x10000;

    } else {
        return -1;
    }

    if ((size_t) (end - s) < n + 1) {
        return -1;
    }

    for (i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return -1;
        }

        c = (c << 6) | (s[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return -1;
    }

    *cp = c;
    *p = s + n + 1;

    return 0;
}


long
pdf_report_utf8_len(const char *s, size_t len)
{
    const unsigned char  *p, *end;
    uint32_t              cp;
    long                  n;

    p = (const unsigned char *) s;
    end = p + len;
    n = 0;

    while (p < end) {
        if (pdf_report_utf8_next(&p, end, &cp) != 0) {
            return -1;
        }

        n++;
    }

    return n;
}


/*
 * Append src reduced to ASCII letters, digits and '-', at most max_chars
 * of them (0: no limit); returns the number appended.
 */

static size_t
pdf_report_ascii_part(char *dst, size_t size, const char *src,
    size_t max_chars)
{
    const unsigned char  *p, *end;
    const char           *t;
    uint32_t              cp;
    size_t                n;
    char                  one[2];

    n = 0;

    if (src == NULL) {
        return 0;
    }

    p = (const unsigned char *) src;
    end = p + strlen(src);

    while (p < end) {
        if (pdf_report_utf8_next(&p, end, &cp) != 0) {
            p++;
            continue;
        }

        t = NULL;

        if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')
            || (cp >= '0' && cp <= '9') || cp == '-')
        {
            one[0] = (char) cp;
            one[1] = '\0';
            t = one;

        } else if (cp >= 0xc0 && cp <= 0x17f) {
            t = pdf_report_latin[cp - 0xc0];

        } else if (cp >= 0x218 && cp <= 0x21b) {
            /* Romanian S and T with comma below */
            t = (cp == 0x218) ? "S" : (cp == 0x219) ? "s"
                : (cp == 0x21a) ? "T" : "t";
        }

        for ( /* void */ ; t != NULL && *t != '\0'; t++) {
            if (max_chars != 0 && n == max_chars) {
                return n;
            }

            if (n + 1 >= size) {
                return n;
            }

            dst[n++] = *t;
        }
    }

    return n;
}


size_t
pdf_report_filename(char *dst, size_t size, const char *first,
    const char *last, const char *job_id)
{
    size_t  n;

    n = pdf_report_filename_stem(dst, size, first, last);

    return n ? pdf_report_filename_end(dst, size, n, job_id) : 0;
}


/* "SQR_<initial>_<last>_": what the user's record decides */

size_t
pdf_report_filename_stem(char *dst, size_t size, const char *first,
    const char *last)
{
    char    part[256];
    size_t  n, len;

    /* "SQR_" + 1 + "_" + last (at most 255) + "_" + 4 + ".pdf" + NUL */
    if (size < PDF_REPORT_FILENAME_MAX) {
        return 0;
    }

    memcpy(dst, "SQR_", 4);
    n = 4;

    /* the initial is taken after reduction: "Émile" gives "E" */
    len = pdf_report_ascii_part(part, sizeof(part), first, 1);

    if (len == 0) {
        dst[n++] = 'X';

    } else {
        dst[n++] = part[0];
    }

    dst[n++] = '_';

    len = pdf_report_ascii_part(part, sizeof(part), last, 0);

    if (len == 0) {
        dst[n++] = 'X';

    } else {
        memcpy(&dst[n], part, len);
        n += len;
    }

    dst[n++] = '_';
    dst[n] = '\0';

    return n;
}


/* the job's part after a stem of n bytes: "<first 4, upper>.pdf" */

size_t
pdf_report_filename_end(char *dst, size_t size, size_t n,
    const char *job_id)
{
    char    part[8];
    size_t  len, i;

    if (n + 4 + 4 + 1 > size) {
        return 0;
    }

    len = pdf_report_ascii_part(part, sizeof(part), job_id, 4);

    if (len == 0) {
        dst[n++] = 'X';

    } else {
        for (i = 0; i < len; i++) {
            dst[n++] = (part[i] >= 'a' && part[i] <= 'z')
                       ? (char) (part[i] - 'a' + 'A') : part[i];
        }
    }

    memcpy(&dst[n], ".pdf", 5);

    return n + 4;
}


/*
 * jansson refuses a whole text for one number beyond a long long or a
 * double.  Only then is the text read again, from a copy in which each
 * such number is overwritten by its stand-in and padded with spaces: an
 * integer beyond a long long has 19 digits or more, a real beyond a
 * double 5 characters or more ("2e308"), so the copy keeps the text's
 * length and the positions errors give.  Only number tokens change, so
 * whatever else is wrong with the text (duplicate keys included) is
 * still refused, at the same place.
 */

json_t *
pdf_report_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *err)
{
    char          *copy;
    json_t        *json;
    json_error_t   local;

    if (err == NULL) {
        err = &local;
    }

    json = json_loadb(buf, len, flags, err);

    if (json != NULL || json_error_code(err) != json_error_numeric_overflow)
    {
        return json;
    }

    copy = malloc(len + 1);

    if (copy == NULL) {
        return NULL;
    }

    memcpy(copy, buf, len);
    copy[len] = '\0';

    pdf_report_json_saturate(copy, len, flags);

    json = json_loadb(copy, len, flags, err);

    free(copy);

    return json;
}


/* s[len] is a NUL that the number tokens of s[0 .. len - 1] may borrow */

static void
pdf_report_json_saturate(char *s, size_t len, size_t flags)
{
    int          real, over;
    char         c;
    size_t       i, end, n;
    double       d;
    const char  *stand;

    i = 0;

    while (i < len) {

        if (s[i] == '"') {

            /* a string, to its closing quote: its digits are no number */

            for (i++; i < len && s[i] != '"'; i++) {
                if (s[i] == '\\') {
                    i++;
                }
            }

            i++;
            continue;
        }

        end = pdf_report_json_number(s, i, len, &real);

        if (end == i) {
            i++;
            continue;
        }

        if (flags & JSON_DECODE_INT_AS_REAL) {
            real = 1;
        }

        /* the token alone, as jansson converts it */

        c = s[end];
        s[end] = '\0';
        errno = 0;

        if (real) {
            d = strtod(&s[i], NULL);
            over = ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE);

        } else {
            (void) strtoll(&s[i], NULL, 10);
            over = (errno == ERANGE);
        }

        s[end] = c;

        if (over) {
            if (real) {
                stand = (s[i] == '-') ? PDF_REPORT_JSON_REAL_MIN
                                      : PDF_REPORT_JSON_REAL_MAX;

            } else {
                stand = (s[i] == '-') ? PDF_REPORT_JSON_INT_MIN
                                      : PDF_REPORT_JSON_INT_MAX;
            }

            n = strlen(stand);

            /* always true (see above); a token left as is stays refused */

            if (n <= end - i) {
                memcpy(&s[i], stand, n);
                memset(&s[i + n], ' ', end - i - n);
            }
        }

        i = end;
    }
}


/*
 * The end of the JSON number (RFC 8259 6) that starts at s[i], as
 * jansson's lexer reads it, and *real when it has a fraction or an
 * exponent; i itself when no valid number starts there.
 */

static size_t
pdf_report_json_number(const char *s, size_t i, size_t len, int *real)
{
    size_t  j;

    j = i;
    *real = 0;

    if (j < len && s[j] == '-') {
        j++;
    }

    if (j < len && s[j] == '0') {
        j++;

        /* a leading zero: jansson refuses the token */

        if (j < len && pdf_report_json_digit(s[j])) {
            return i;
        }

    } else if (j < len && pdf_report_json_digit(s[j])) {
        while (j < len && pdf_report_json_digit(s[j])) {
            j++;
        }

    } else {
        return i;
    }

    if (j < len && s[j] == '.') {
        j++;

        if (j == len || !pdf_report_json_digit(s[j])) {
            return i;
        }

        while (j < len && pdf_report_json_digit(s[j])) {
            j++;
        }

        *real = 1;
    }

    if (j < len && (s[j] == 'e' || s[j] == 'E')) {
        j++;

        if (j < len && (s[j] == '+' || s[j] == '-')) {
            j++;
        }

        if (j == len || !pdf_report_json_digit(s[j])) {
            return i;
        }

        while (j < len && pdf_report_json_digit(s[j])) {
            j++;
        }

        *real = 1;
    }

    return j;
}


char *
pdf_report_log_escape(char *dst, size_t size, const char *src)
{
    char                 *p, *end;
    const unsigned char  *s;
    static const char     hex[] = "0123456789abcdef";

    p = dst;
    end = dst + size - 4;                  /* room for "..." and NUL */

    for (s = (const unsigned char *) src; *s != '\0'; s++) {
        if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') {
            if (p + 1 > end) {
                break;
            }

            *p++ = (char) *s;
            continue;
        }

        if (p + 4 > end) {
            break;
        }

        *p++ = '\\';
        *p++ = 'x';
        *p++ = hex[*s >> 4];
        *p++ = hex[*s & 0x0f];
    }

    if (*s != '\0') {
        memcpy(p, "...", 3);
        p += 3;
    }

    *p = '\0';

    return dst;
}
