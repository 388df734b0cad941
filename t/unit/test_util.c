
/*
 * Pure helpers: base64url (RFC 4648 test vectors), ISO 8601 stamps, UUID
 * v4 shape, UTF-8 validation and the download filename rule of contract
 * section 5.
 */


#include <stdlib.h>
#include <stdint.h>
#include <time.h>

#include "tap.h"
#include "pdf_report_util.h"


static const char *
b64(const char *in)
{
    static char  out[64];
    size_t       n;

    n = pdf_report_b64url_encode(out, (const unsigned char *) in,
                                 strlen(in));
    out[n] = '\0';

    return out;
}


static const char *
unb64(const char *in)
{
    static char  out[64];
    long         n;

    n = pdf_report_b64url_decode((unsigned char *) out, in, strlen(in));
    if (n < 0) {
        return "(error)";
    }

    out[n] = '\0';

    return out;
}


static const char *
fname(const char *first, const char *last, const char *job)
{
    static char  out[512];

    if (pdf_report_filename(out, sizeof(out), first, last, job) == 0) {
        return "(error)";
    }

    return out;
}


int
main(void)
{
    char         buf[64];
    int          i;
    const char  *v[][2] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" }
    };

    for (i = 0; i < 7; i++) {
        is_str(b64(v[i][0]), v[i][1], "encode \"%s\"", v[i][0]);
        is_str(unb64(v[i][1]), v[i][0], "decode \"%s\"", v[i][1]);
    }

    is_str(b64("\xfb\xff"), "-_8", "url alphabet on encode");
    is_str(unb64("-_8"), "\xfb\xff", "url alphabet on decode");
    is_str(unb64("Zg=="), "(error)", "padding refused");
    is_str(unb64("Zm9v+g"), "(error)", "'+' refused");
    is_str(unb64("Zm9v/g"), "(error)", "'/' refused");
    is_str(unb64("Zm9vY"), "(error)", "impossible length refused");
    is_str(unb64("Zh"), "(error)", "non-zero trailing bits refused");
    is_str(unb64("Zm 9v"), "(error)", "space refused");

    pdf_report_iso8601(buf, 1746439200000LL);
    buf[PDF_REPORT_ISO8601_LEN] = '\0';
    is_str(buf, "2025-05-05T10:00:00.000Z", "ISO 8601 of the API example");

    pdf_report_iso8601(buf, 951827696789LL);
    buf[PDF_REPORT_ISO8601_LEN] = '\0';
    is_str(buf, "2000-02-29T12:34:56.789Z", "leap day with milliseconds");

    pdf_report_iso8601(buf, 0);
    buf[PDF_REPORT_ISO8601_LEN] = '\0';
    is_str(buf, "1970-01-01T00:00:00.000Z", "the epoch");

    pdf_report_iso8601(buf, -5);
    buf[PDF_REPORT_ISO8601_LEN] = '\0';
    is_str(buf, "1970-01-01T00:00:00.000Z", "before the epoch: the epoch");

    pdf_report_iso8601(buf, INT64_C(253402300799999) + 1000);
    buf[PDF_REPORT_ISO8601_LEN] = '\0';
    is_str(buf, "9999-12-31T23:59:59.999Z", "past year 9999: clamped");

    /* the hand-written calendar against gmtime_r, across 8,000 years */
    {
        int        bad;
        char       want[64];
        time_t     t;
        int64_t    ms;
        struct tm  tm;
        unsigned   seed;

        bad = 0;
        seed = 12345;

        for (i = 0; i < 200000; i++) {
            seed = seed * 1103515245 + 12345;
            ms = (int64_t) (((uint64_t) seed << 20) ^ (uint64_t) i * 7919)
                 % INT64_C(253402300800000);

            /* also every day boundary of 1999 to 2101 */
            if (i % 2 == 0) {
                ms = (INT64_C(915148800) + (int64_t) (i / 2 % 37500) * 86400
                      - (i % 4 == 0)) * 1000 + 999 * (i % 4 == 0);
            }

            t = (time_t) (ms / 1000);

            if (gmtime_r(&t, &tm) == NULL) {
                continue;
            }

            snprintf(want, sizeof(want),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms % 1000));

            pdf_report_iso8601(buf, ms);
            buf[PDF_REPORT_ISO8601_LEN] = '\0';

            if (strcmp(buf, want) != 0 && bad++ < 3) {
                printf("# %lld: %s, gmtime_r says %s\n", (long long) ms,
                       buf, want);
            }
        }

        is_int(bad, 0, "ISO 8601 as gmtime_r gives it, 200,000 times");
    }

    ok(pdf_report_uuid4(buf) == 0, "uuid generated");
    buf[PDF_REPORT_UUID_LEN] = '\0';
    ok(pdf_report_is_uuid(buf, strlen(buf)), "uuid has the canonical form");
    ok(buf[14] == '4', "version 4");
    ok(strchr("89ab", buf[19]) != NULL, "RFC 4122 variant");
    ok(!pdf_report_is_uuid("3fa85f64-5717-4562-b3fc-2c963f66afa", 35),
       "short id is not a uuid");
    ok(!pdf_report_is_uuid("3fa85f64-5717-4562-b3fc-2c963f66afag", 36),
       "non-hex is not a uuid");
    ok(!pdf_report_is_uuid("3fa85f64/5717-4562-b3fc-2c963f66afa6", 36),
       "misplaced dash is not a uuid");

    is_int(pdf_report_utf8_len("US1A2B3C4D5E6F78", 16), 16, "ASCII length");
    is_int(pdf_report_utf8_len("\xc3\xa9t\xc3\xa9", 5), 3, "UTF-8 length");
    is_int(pdf_report_utf8_len("\xc3", 1), -1, "truncated sequence");
    is_int(pdf_report_utf8_len("\xc0\xaf", 2), -1, "overlong sequence");
    is_int(pdf_report_utf8_len("\xed\xa0\x80", 3), -1, "surrogate");
    is_int(pdf_report_utf8_len("\xff", 1), -1, "invalid byte");

    is_str(fname("John", "Smith", "abcd1234-0000"), "SQR_J_Smith_ABCD.pdf",
           "the API page's example");
    is_str(fname("\xc3\x89mile", "M\xc3\xbcller-L\xc3\xbc\x64\x65nscheid",
                 "3fa85f64"),
           "SQR_E_Muller-Ludenscheid_3FA8.pdf", "accents removed");
    is_str(fname("Se\xc3\xa1n", "O'Neil-Smith", "0a1b"),
           "SQR_S_ONeil-Smith_0A1B.pdf", "apostrophe dropped, hyphen kept");
    is_str(fname("\xce\x93\xce\xb9\xce\xac\xce\xbd\xce\xbd\xce\xb7\xcf\x82",
                 "\xce\xa0\xce\xb1\xcf\x80\xce\xb1\xce\xb4\xcf\x8c\xcf\x80"
                 "\xce\xbf\xcf\x85\xce\xbb\xce\xbf\xcf\x82", "ffff"),
           "SQR_X_X_FFFF.pdf", "Greek parts become X");
    is_str(fname(NULL, NULL, "ffff"), "SQR_X_X_FFFF.pdf", "absent names");
    is_str(fname("", "van der Berg", "ffff"), "SQR_X_vanderBerg_FFFF.pdf",
           "spaces dropped, empty initial is X");
    is_str(fname("\xc5\x81ukasz", "\xc5\xbb\xc3\xb3\xc5\x82w", "beef"),
           "SQR_L_Zolw_BEEF.pdf", "Polish letters");
    is_str(fname("\xc3\x86sa", "Stra\xc3\x9f" "e", "beef"),
           "SQR_A_Strasse_BEEF.pdf", "ligatures expand, initial one letter");
    is_str(fname("Jose\xcc\x81", "Nun\xcc\x83" "ez", "beef"),
           "SQR_J_Nunez_BEEF.pdf", "combining accents dropped");
    is_str(fname("\xe5\xb1\xb1", "\xe7\x94\xb0", "beef"), "SQR_X_X_BEEF.pdf",
           "CJK dropped");
    is_str(fname("J", "\xff\xfeSmith", "beef"), "SQR_J_Smith_BEEF.pdf",
           "invalid UTF-8 bytes dropped");

    /* a client's or token's value in a log line */
    {
        char  buf[32];

        is_str(pdf_report_log_escape(buf, sizeof(buf), "org_acme"),
               "org_acme", "log escape: a plain id as it is");
        is_str(pdf_report_log_escape(buf, sizeof(buf), "a\"b\\c\nd\xc3"),
               "a\\x22b\\x5cc\\x0ad\\xc3", "log escape: quote, "
               "backslash, newline, a byte over 0x7e");
        is_str(pdf_report_log_escape(buf, 12, "0123456789"), "01234567...",
               "log escape: cut to fit, marked");
        is_str(pdf_report_log_escape(buf, 12, "0123456\n"), "0123456...",
               "log escape: an escape that does not fit is cut whole");
        is_str(pdf_report_log_escape(buf, 12, "01234567"), "01234567",
               "log escape: exactly fits");
    }

    return done_testing();
}
