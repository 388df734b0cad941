
/*
 * The renderer (src/pdf_report_render.c) without nginx: it renders the
 * contract sample, names in several scripts, a record with nothing in it,
 * a very long one and broken ones, and checks what can be checked without
 * a PDF parser: the envelope, the document information, the page count,
 * identical bytes for identical input (also from several threads at
 * once) and a reason for every refusal.  qpdf, pdftotext and pdftoppm
 * checks of the same documents are in the module's integration tests.
 */


#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <jansson.h>

#include "tap.h"
#include "pdf_report_render.h"


#define JOB_ID     "3f2b8c1e-9d4a-4b7e-8f21-6c5d0e9a7b13"
#define ORG_ID     "org_acme"
#define GEN_MS     1746439200000LL          /* 2025-05-05T10:00:00Z */
#define THREADS    4
#define PER_THREAD 3


typedef struct {
    const json_t   *user;
    unsigned char  *want;
    size_t          want_len;
    int             same;
} test_thread_t;


static const char  *sample =
    "{\"id\":\"US1A2B3C4D5E6F78\",\"first_name\":\"John\","
    "\"middle_name\":null,\"last_name\":\"Smith\","
    "\"email\":\"john.smith@example.com\",\"phone\":\"+44 20 7946 0000\","
    "\"dob\":\"1988-04-12\",\"address1\":\"1 High Street\","
    "\"address2\":null,\"city\":\"London\",\"state\":null,"
    "\"postcode\":\"SW1A 1AA\",\"country\":\"GB\","
    "\"registration_status\":\"active\","
    "\"document_overall_validation\":\"PASS\","
    "\"selfie_liveness_score\":0.982,\"fmc_score\":0.951,"
    "\"id3_pep_sanction_result\":\"CLEAR\",\"high_level_result\":\"PASS\","
    "\"created_at\":\"2025-01-10T09:00:00.000Z\","
    "\"connections\":[{\"org_id\":\"org_acme\","
    "\"organization_name\":\"Acme Ltd\","
    "\"connection_status\":\"CONNECTED\",\"data_sharing_agreed\":true,"
    "\"connection_status_updated_at\":\"2025-02-01T12:00:00.000Z\"}]}";

static const char  *greek =
    "{\"id\":\"US3C4D5E6F7A8B90\",\"first_name\":\"Αλέξανδρος\","
    "\"last_name\":\"Παπαδόπουλος\",\"city\":\"Αθήνα\","
    "\"high_level_result\":\"REFER\","
    "\"connections\":[{\"org_id\":\"org_acme\","
    "\"organization_name\":\"Acme Ltd\"}]}";

static const char  *cyrillic =
    "{\"id\":\"US4D5E6F7A8B9C01\",\"first_name\":\"Дмитрий\","
    "\"middle_name\":\"Иванович\",\"last_name\":\"Смирнов\","
    "\"city\":\"Москва\",\"high_level_result\":\"FAIL\","
    "\"connections\":[{\"org_id\":\"org_acme\","
    "\"organization_name\":\"Акме Банк\"}]}";

static const char  *all_null =
    "{\"id\":\"US6F7A8B9C0D1E23\",\"first_name\":null,\"middle_name\":null,"
    "\"last_name\":null,\"email\":null,\"phone\":null,\"dob\":null,"
    "\"address1\":null,\"address2\":null,\"city\":null,\"state\":null,"
    "\"postcode\":null,\"country\":null,\"registration_status\":null,"
    "\"document_overall_validation\":null,\"selfie_liveness_score\":null,"
    "\"fmc_score\":null,\"id3_pep_sanction_result\":null,"
    "\"high_level_result\":null,\"created_at\":null,\"connections\":null}";

static const char  *bad_types =
    "{\"id\":12345,\"first_name\":[\"Jane\"],\"middle_name\":{\"x\":1},"
    "\"last_name\":\"Doe\",\"email\":false,\"phone\":44207946000,"
    "\"dob\":\"12/04/1988\",\"address1\":\"\",\"address2\":\"   \","
    "\"city\":7,\"postcode\":true,\"registration_status\":{},"
    "\"document_overall_validation\":1,\"selfie_liveness_score\":\"0.98\","
    "\"fmc_score\":1.7,\"id3_pep_sanction_result\":[\"CLEAR\"],"
    "\"high_level_result\":\"UNKNOWN\",\"created_at\":\"yesterday\","
    "\"connections\":{\"org_id\":\"org_acme\"}}";

/* an emoji (past U+FFFF), a CJK letter DejaVu lacks, NUL and controls */
static const char  *odd_chars =
    "{\"id\":\"US9\",\"first_name\":\"Zo\\u00eb \\ud83d\\ude00\","
    "\"last_name\":\"\\u6f22 Nul\\u0000Tab\\tBell\\u0007\\r\\nEnd\","
    "\"connections\":[{\"org_id\":\"org_acme\","
    "\"organization_name\":\"\\u00c5ngstr\\u00f6m \\u2028 AB\"}]}";


static json_t *test_json(const char *text);
static int test_render(const json_t *user, const char *org_id,
    const char *job_id, int64_t ms, const pdf_report_render_conf_t *conf,
    unsigned char **pdf, size_t *len, char *err);
static int test_envelope(const unsigned char *pdf, size_t len);
static size_t test_pages(const unsigned char *pdf, size_t len);
static size_t test_count(const unsigned char *pdf, size_t len, const char *s);
static int test_has(const unsigned char *pdf, size_t len, const char *s);
static int test_has_title(const unsigned char *pdf, size_t len,
    const char *utf8);
static void test_good(const char *name, const json_t *user,
    const char *title, size_t min_pages);
static void test_refused(const char *name, const json_t *user,
    const char *org_id, const char *job_id, int64_t ms,
    const pdf_report_render_conf_t *conf, const char *reason);
static void test_refused_rc(const char *name, const json_t *user,
    const char *org_id, const char *job_id, int64_t ms,
    const pdf_report_render_conf_t *conf, const char *reason, int want);
static void test_invalid_utf8(void);
static void test_long(void);
static void test_composites(void);
static size_t test_font_bytes(const unsigned char *pdf, size_t len);
static void test_threads(const json_t *user);
static void *test_thread(void *arg);


int
main(void)
{
    char                       big[70000];
    json_t                    *user, *u;
    pdf_report_render_conf_t   conf;

    /* callers zero the conf: fields unset are the defaults */
    memset(&conf, 0, sizeof(pdf_report_render_conf_t));

    user = test_json(sample);
    ok(user != NULL, "the contract sample parses");

    if (user == NULL) {
        return done_testing();
    }

    test_good("contract sample", user,
              "Identity Verification Report: John Smith", 1);

    u = test_json(greek);
    test_good("Greek name", u,
              "Identity Verification Report: Αλέξανδρος Παπαδόπουλος", 1);
    json_decref(u);

    u = test_json(cyrillic);
    test_good("Cyrillic name", u,
              "Identity Verification Report: Дмитрий Иванович Смирнов", 1);
    json_decref(u);

    u = test_json(all_null);
    test_good("all optional fields null", u,
              "Identity Verification Report: —", 1);
    json_decref(u);

    u = test_json(bad_types);
    test_good("fields of the wrong type", u,
              "Identity Verification Report: Doe", 1);
    json_decref(u);

    u = test_json(odd_chars);
    test_good("emoji, missing glyph, NUL and controls", u,
              "Identity Verification Report: Zoë \xef\xbf\xbd "
              "漢 Nul Tab Bell  End", 1);
    json_decref(u);

    u = json_pack("{s:s}", "id", "US0");
    test_good("only an id", u, "Identity Verification Report: —", 1);
    json_decref(u);

    test_invalid_utf8();
    test_long();
    test_composites();

    /* the generation time is in the document, and nothing else varies */
    {
        size_t          l1, l2;
        unsigned char  *p1, *p2;
        char            err[256];

        p1 = p2 = NULL;

        if (test_render(user, ORG_ID, JOB_ID, GEN_MS, NULL, &p1, &l1, err)
            == 0
            && test_render(user, ORG_ID, JOB_ID, GEN_MS + 60000, NULL, &p2,
                           &l2, err)
               == 0)
        {
            ok(l1 != l2 || memcmp(p1, p2, l1) != 0,
               "another generation time gives other bytes");
            ok(test_has(p1, l1, "/CreationDate (D:20250505100000Z"),
               "CreationDate is the generation time");
            ok(test_has(p2, l2, "/CreationDate (D:20250505100100Z"),
               "CreationDate follows the generation time");
            ok(test_has(p1, l1, "/ID") == 0, "no random /ID");

        } else {
            ok(0, "renders for the time comparison: %s", err);
        }

        free(p1);
        free(p2);
    }

    /* the org picks the connection; an unknown or no org shows dashes */
    {
        size_t          len;
        unsigned char  *pdf;
        char            err[256];

        pdf = NULL;
        is_int(test_render(user, "org_unknown", JOB_ID, GEN_MS, NULL, &pdf,
                           &len, err), 0, "an org without a connection");
        free(pdf);

        pdf = NULL;
        is_int(test_render(user, NULL, JOB_ID, GEN_MS, NULL, &pdf, &len,
                           err), 0, "no org at all");
        free(pdf);
    }

    test_threads(user);

    /* refusals, each with a reason */

    u = json_string("not an object");
    test_refused("a user that is not an object", u, ORG_ID, JOB_ID, GEN_MS,
                 NULL, "not a JSON object");
    json_decref(u);

    test_refused("no user", NULL, ORG_ID, JOB_ID, GEN_MS, NULL,
                 "not a JSON object");
    test_refused("no job id", user, ORG_ID, NULL, GEN_MS, NULL, "job id");
    test_refused("an empty job id", user, ORG_ID, "", GEN_MS, NULL,
                 "job id");
    test_refused("a job id with a space", user, ORG_ID, "a b", GEN_MS, NULL,
                 "job id");
    test_refused("a job id of 65 characters", user, ORG_ID,
                 "0123456789012345678901234567890123456789"
                 "0123456789012345678901234", GEN_MS, NULL, "job id");
    test_refused("a negative time", user, ORG_ID, JOB_ID, -1, NULL,
                 "out of range");
    test_refused("a time past year 9999", user, ORG_ID, JOB_ID,
                 253402300800000LL, NULL, "out of range");

    /* a font at fault says so: the configuration is wrong, not the user */
    conf.font_regular = "/nonexistent/font.ttf";
    conf.font_bold = NULL;
    test_refused_rc("a missing font file", user, ORG_ID, JOB_ID, GEN_MS,
                    &conf, "cannot open the TrueType font "
                    "\"/nonexistent/font.ttf\": No such file or directory",
                    PDF_REPORT_RENDER_FONT);

    conf.font_regular = __FILE__;
    test_refused_rc("a font file that is not TrueType", user, ORG_ID,
                    JOB_ID, GEN_MS, &conf, "TrueType font",
                    PDF_REPORT_RENDER_FONT);

    conf.font_regular = NULL;
    conf.font_bold = "/nonexistent/bold.ttf";
    test_refused_rc("a missing bold font file", user, ORG_ID, JOB_ID,
                    GEN_MS, &conf, "cannot open the TrueType font "
                    "\"/nonexistent/bold.ttf\": No such file or directory",
                    PDF_REPORT_RENDER_FONT);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    u = json_pack("{s:s, s:s}", "id", "US0", "address1", big);
    test_refused("a field over 64 KB", u, ORG_ID, JOB_ID, GEN_MS, NULL,
                 "address1");
    json_decref(u);

    {
        char                       err[64];
        size_t                     len;
        pdf_report_render_input_t  in;

        memset(&in, 0, sizeof(pdf_report_render_input_t));
        in.user = user;
        in.job_id = JOB_ID;

        is_int(pdf_report_render(NULL, &in, NULL, &len, err, sizeof(err)),
               -1, "no output pointer: refused");
        is_int(pdf_report_render(NULL, NULL, NULL, NULL, NULL, 0), -1,
               "nothing at all, no error buffer: refused, no crash");
    }

    /* one font for both styles: one face embedded, bold drawn */
    {
        size_t          l1, l2;
        unsigned char  *p1, *p2;
        char            err[256];

        p1 = p2 = NULL;
        conf.font_regular = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
        conf.font_bold = conf.font_regular;

        if (test_render(user, ORG_ID, JOB_ID, GEN_MS, NULL, &p1, &l1, err)
            == 0
            && test_render(user, ORG_ID, JOB_ID, GEN_MS, &conf, &p2, &l2,
                           err)
               == 0)
        {
            ok(test_envelope(p2, l2), "one face: a PDF");
            is_int((long) test_count(p2, l2, "/FontFile2"), 1,
                   "one face: one font file embedded");
            is_int((long) test_count(p1, l1, "/FontFile2"), 2,
                   "two faces: two font files embedded");
            ok(l2 < l1, "one face: %zu bytes, two faces: %zu", l2, l1);

        } else {
            ok(0, "renders with one face: %s", err);
        }

        free(p1);
        free(p2);
    }

    json_decref(user);

    return done_testing();
}


static json_t *
test_json(const char *text)
{
    json_t        *j;
    json_error_t   err;

    j = json_loads(text, JSON_ALLOW_NUL, &err);

    if (j == NULL) {
        printf("# JSON error: %s at %d:%d\n", err.text, err.line,
               err.column);
    }

    return j;
}


static int
test_render(const json_t *user, const char *org_id, const char *job_id,
    int64_t ms, const pdf_report_render_conf_t *conf, unsigned char **pdf,
    size_t *len, char *err)
{
    pdf_report_render_input_t  in;

    in.user = user;
    in.org_id = org_id;
    in.job_id = job_id;
    in.generated_ms = ms;

    *pdf = NULL;
    *len = 0;
    err[0] = '\0';

    return pdf_report_render(conf, &in, pdf, len, err, 256);
}


/* "%PDF-" first and "%%EOF" at the end, as a reader looks for them */

static int
test_envelope(const unsigned char *pdf, size_t len)
{
    size_t  n;

    if (pdf == NULL || len < 64 || memcmp(pdf, "%PDF-", 5) != 0) {
        return 0;
    }

    n = len;

    while (n > 0 && (pdf[n - 1] == '\n' || pdf[n - 1] == '\r')) {
        n--;
    }

    return n >= 5 && memcmp(pdf + n - 5, "%%EOF", 5) == 0;
}


/*
 * Page objects: "/Type /Page" not followed by "s" (dictionaries are not
 * compressed in libharu's PDF 1.3 output).
 */

static size_t
test_pages(const unsigned char *pdf, size_t len)
{
    size_t                n;
    const unsigned char  *p, *end;

    n = 0;
    p = pdf;
    end = pdf + len;

    while ((p = memmem(p, end - p, "/Type /Page", 11)) != NULL) {
        p += 11;

        if (p < end && *p != 's') {
            n++;
        }
    }

    return n;
}


/* occurrences of s (a dictionary key: they are not compressed) */

static size_t
test_count(const unsigned char *pdf, size_t len, const char *s)
{
    size_t                n, sl;
    const unsigned char  *p, *end;

    n = 0;
    p = pdf;
    end = pdf + len;
    sl = strlen(s);

    while ((p = memmem(p, end - p, s, sl)) != NULL) {
        p += sl;
        n++;
    }

    return n;
}


static int
test_has(const unsigned char *pdf, size_t len, const char *s)
{
    return memmem(pdf, len, s, strlen(s)) != NULL;
}


/* Info Title as libharu writes it: <FEFF...> UTF-16BE in hex */

static int
test_has_title(const unsigned char *pdf, size_t len, const char *utf8)
{
    int                   rc;
    char                 *hex, *h;
    uint32_t              c;
    const unsigned char  *s;

    hex = malloc(strlen(utf8) * 4 + 16);
    if (hex == NULL) {
        return 0;
    }

    h = hex + sprintf(hex, "/Title <FEFF");

    for (s = (const unsigned char *) utf8; *s; /* void */ ) {
        if (*s < 0x80) {
            c = *s++;

        } else if ((*s & 0xe0) == 0xc0) {
            c = ((s[0] & 0x1f) << 6) | (s[1] & 0x3f);
            s += 2;

        } else {
            c = ((s[0] & 0x0f) << 12) | ((s[1] & 0x3f) << 6) | (s[2] & 0x3f);
            s += 3;
        }

        h += sprintf(h, "%04X", (unsigned) c);
    }

    sprintf(h, ">");

    rc = test_has(pdf, len, hex);
    if (!rc) {
        printf("# looked for %s\n", hex);
    }

    free(hex);

    return rc;
}


static void
test_good(const char *name, const json_t *user, const char *title,
    size_t min_pages)
{
    char            err[256];
    size_t          l1, l2;
    unsigned char  *p1, *p2;

    ok(user != NULL, "%s: parses", name);

    if (user == NULL) {
        return;
    }

    is_int(test_render(user, ORG_ID, JOB_ID, GEN_MS, NULL, &p1, &l1, err),
           0, "%s: renders %s", name, err);
    ok(test_envelope(p1, l1), "%s: %%PDF- ... %%%%EOF, %zu bytes", name, l1);
    ok(l1 < 200 * 1024, "%s: under 200 KB", name);
    ok(test_pages(p1, l1) >= min_pages, "%s: %zu page(s)", name,
       test_pages(p1, l1));

    ok(test_has_title(p1, l1, title), "%s: Info Title", name);
    ok(test_has(p1, l1, "/Author <FEFF005300510052>"), "%s: Author SQR",
       name);
    ok(test_has(p1, l1, "/Creator <FEFF006E00670078005F"),
       "%s: Creator ngx_...", name);
    ok(test_has(p1, l1, "/FontFile2"), "%s: embedded TrueType", name);

    is_int(test_render(user, ORG_ID, JOB_ID, GEN_MS, NULL, &p2, &l2, err),
           0, "%s: renders again", name);
    ok(l1 == l2 && p1 != NULL && p2 != NULL && memcmp(p1, p2, l1) == 0,
       "%s: identical bytes", name);

    free(p1);
    free(p2);
}


static void
test_refused(const char *name, const json_t *user, const char *org_id,
    const char *job_id, int64_t ms, const pdf_report_render_conf_t *conf,
    const char *reason)
{
    test_refused_rc(name, user, org_id, job_id, ms, conf, reason, -1);
}


static void
test_refused_rc(const char *name, const json_t *user, const char *org_id,
    const char *job_id, int64_t ms, const pdf_report_render_conf_t *conf,
    const char *reason, int want)
{
    int             rc;
    char            err[256];
    size_t          len;
    unsigned char  *pdf;

    rc = test_render(user, org_id, job_id, ms, conf, &pdf, &len, err);

    is_int(rc, want, "%s: refused", name);
    ok(pdf == NULL && len == 0, "%s: no output", name);
    ok(strstr(err, reason) != NULL, "%s: reason \"%s\"", name, err);

    if (rc == 0) {
        free(pdf);
    }
}


/* jansson refuses invalid UTF-8 when parsing, not from json_string_nocheck */

static void
test_invalid_utf8(void)
{
    json_t  *u;

    u = json_pack("{s:s}", "id", "US0");

    json_object_set_new(u, "first_name",
                        json_string_nocheck("Bad\xff\xfe Lead\xc3"));
    json_object_set_new(u, "last_name",
                        json_string_nocheck("Over\xc0\xaflong \xed\xa0\x80"
                                            "Surrogate \xe2\x82"));
    json_object_set_new(u, "email",
                        json_string_nocheck("\x80\x80\x80"));

    test_good("invalid UTF-8", u,
              "Identity Verification Report: Bad\xef\xbf\xbd\xef\xbf\xbd "
              "Lead\xef\xbf\xbd Over\xef\xbf\xbdlong "
              "\xef\xbf\xbdSurrogate \xef\xbf\xbd\xef\xbf\xbd", 1);

    json_decref(u);
}


/* a very long address: wrapped and carried over several pages */

static void
test_long(void)
{
    char    *addr, *p;
    json_t  *u;
    size_t   i;

    addr = malloc(40000);
    if (addr == NULL) {
        ok(0, "memory for a long address");
        return;
    }

    p = addr;

    for (i = 0; i < 600; i++) {
        p += sprintf(p, "Building %zu, Staircase %zu; ", i, i % 7);
    }

    /* and a word longer than a line */
    for (i = 0; i < 300; i++) {
        *p++ = 'W';
    }

    *p = '\0';

    u = json_pack("{s:s, s:s, s:s, s:s}", "id", "US7", "first_name", "Max",
                  "last_name", "Long", "address1", addr);

    test_good("a very long address", u,
              "Identity Verification Report: Max Long", 3);

    json_decref(u);
    free(addr);
}


/*
 * Bold Ё in DejaVu is a composite of Cyrillic Е, itself a reference to
 * Latin E, which no other bold text uses.  libharu alone embeds Е but
 * not E; the renderer adds the nested components, so the embedded fonts
 * come out the same size with or without an extra bold E in the name.
 */

static void
test_composites(void)
{
    char            err[256];
    size_t          l1, l2, f1, f2;
    json_t         *u1, *u2;
    unsigned char  *p1, *p2;

    u1 = json_pack("{s:s, s:s}", "id", "US0", "first_name",
                   "\xd0\x81");
    u2 = json_pack("{s:s, s:s}", "id", "US0", "first_name",
                   "\xd0\x81 E");

    p1 = p2 = NULL;

    if (test_render(u1, ORG_ID, JOB_ID, GEN_MS, NULL, &p1, &l1, err) == 0
        && test_render(u2, ORG_ID, JOB_ID, GEN_MS, NULL, &p2, &l2, err) == 0)
    {
        f1 = test_font_bytes(p1, l1);
        f2 = test_font_bytes(p2, l2);

        ok(f1 > 0 && f1 == f2, "nested composite glyphs embedded whole "
           "(font bytes %zu and %zu)", f1, f2);

    } else {
        ok(0, "renders for composite glyphs: %s", err);
    }

    free(p1);
    free(p2);
    json_decref(u1);
    json_decref(u2);
}


/* the sum of the embedded fonts' /Length1 (uncompressed sizes) */

static size_t
test_font_bytes(const unsigned char *pdf, size_t len)
{
    size_t                n;
    const unsigned char  *p, *end;

    n = 0;
    p = pdf;
    end = pdf + len;

    while ((p = memmem(p, end - p, "/Length1 ", 9)) != NULL) {
        p += 9;
        n += strtoul((const char *) p, NULL, 10);
    }

    return n;
}


static void
test_threads(const json_t *user)
{
    int            i, n;
    char           err[256];
    pthread_t      tid[THREADS];
    test_thread_t  t[THREADS];
    unsigned char  *want;
    size_t          want_len;

    if (test_render(user, ORG_ID, JOB_ID, GEN_MS, NULL, &want, &want_len,
                    err)
        != 0)
    {
        ok(0, "renders before the threads: %s", err);
        return;
    }

    n = 0;

    for (i = 0; i < THREADS; i++) {
        t[i].user = user;
        t[i].want = want;
        t[i].want_len = want_len;
        t[i].same = 0;

        if (pthread_create(&tid[i], NULL, test_thread, &t[i]) == 0) {
            n++;
        }
    }

    for (i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
    }

    is_int(n, THREADS, "%d threads started", THREADS);

    for (i = 0; i < n; i++) {
        is_int(t[i].same, PER_THREAD, "thread %d: %d identical documents",
               i, PER_THREAD);
    }

    free(want);
}


static void *
test_thread(void *arg)
{
    int             i;
    char            err[256];
    size_t          len;
    unsigned char  *pdf;
    test_thread_t  *t;

    t = arg;

    for (i = 0; i < PER_THREAD; i++) {
        if (test_render(t->user, ORG_ID, JOB_ID, GEN_MS, NULL, &pdf, &len,
                        err)
            != 0)
        {
            continue;
        }

        if (len == t->want_len && memcmp(pdf, t->want, len) == 0) {
            t->same++;
        }

        free(pdf);
    }

    return NULL;
}
