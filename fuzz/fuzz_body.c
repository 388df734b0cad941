
/*
 * libFuzzer target: the step-1 request body rule,
 * pdf_report_body_user_id() (src/pdf_report_users.c), which the handler
 * answers 400 INVALID_JSON or INVALID_USER_ID from.
 *
 * Properties: an accepted userId is valid UTF-8 of 1 to 16 code points
 * and fits the job record's user field; pdf_report_utf8_len() agrees
 * with a plain RFC 3629 decoder on the whole input, valid or not;
 * pdf_report_json_loadb(), which the rule parses with, reads what
 * json_loadb() reads, refuses what it refuses for any reason but a number
 * beyond its range, at the same place, and never for such a number.
 */


#include <jansson.h>

#include "fuzz.h"
#include "pdf_report_store.h"
#include "pdf_report_users.h"
#include "pdf_report_util.h"


static long ref_utf8_len(const unsigned char *s, size_t len);
static void check_json(const char *text, size_t len, size_t flags);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                rc;
    long               chars;
    char              *text;
    size_t             len;
    pdf_report_job_t   job;

    text = fuzz_dup(data, size);

    /* the UTF-8 counter on anything, against the reference decoder */
    fuzz_assert(pdf_report_utf8_len(text, size)
                == ref_utf8_len(data, size),
                "pdf_report_utf8_len agrees with RFC 3629");

    check_json(text, size, JSON_REJECT_DUPLICATES);
    check_json(text, size, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL);

    memset(&job, 0, sizeof(pdf_report_job_t));
    len = 0;

    rc = pdf_report_body_user_id(text, size, job.user, &len);

    fuzz_assert(rc >= PDF_REPORT_BODY_OK
                && rc <= PDF_REPORT_BODY_BAD_USER_ID,
                "a known answer");

    if (rc == PDF_REPORT_BODY_OK) {
        chars = ref_utf8_len((const unsigned char *) job.user, len);

        fuzz_assert(len > 0 && len <= PDF_REPORT_USER_ID_MAX
                    && len < sizeof(job.user), "userId fits the record");
        fuzz_assert(chars >= 1 && chars <= 16, "1 to 16 characters");
        fuzz_assert(strlen(job.user) == len, "no NUL in userId");
    }

    free(text);

    return 0;
}


static void
check_json(const char *text, size_t len, size_t flags)
{
    json_t        *plain, *ours;
    json_error_t   perr, oerr;

    plain = json_loadb(text, len, flags, &perr);
    ours = pdf_report_json_loadb(text, len, flags, &oerr);

    if (plain != NULL) {
        fuzz_assert(ours != NULL && json_equal(plain, ours),
                    "what json_loadb() reads is read alike");

    } else if (json_error_code(&perr) != json_error_numeric_overflow) {
        fuzz_assert(ours == NULL
                    && json_error_code(&oerr) == json_error_code(&perr)
                    && oerr.position == perr.position,
                    "what json_loadb() refuses is refused alike");

    } else {
        fuzz_assert(ours != NULL
                    || json_error_code(&oerr) != json_error_numeric_overflow,
                    "no number is beyond range the second time");
    }

    json_decref(plain);
    json_decref(ours);
}


/*
 * Code points in s, or -1 unless s is UTF-8 as RFC 3629 defines it: no
 * overlong forms, no surrogates, nothing above U+10FFFF.
 */

static long
ref_utf8_len(const unsigned char *s, size_t len)
{
    long      n;
    size_t    i, k, need;
    uint32_t  cp, min;

    n = 0;

    for (i = 0; i < len; n++) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }

        if (s[i] >= 0xc2 && s[i] <= 0xdf) {
            need = 1;
            cp = s[i] & 0x1f;
            min = 0x80;

        } else if (s[i] >= 0xe0 && s[i] <= 0xef) {
            need = 2;
            cp = s[i] & 0x0f;
            min = 0x800;

        } else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
            need = 3;
            cp = s[i] & 0x07;
            min = 0x10000;

        } else {
            return -1;
        }

        if (len - i <= need) {
            return -1;
        }

        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return -1;
            }

            cp = (cp << 6) | (s[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return -1;
        }

        i += need + 1;
    }

    return n;
}
