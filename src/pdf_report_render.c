
/*
 * The report document, template v2 (shared/spec/report-v2.md), drawn with
 * libharu 2.3 into memory.  See pdf_report_render.h.
 *
 * A call keeps everything in its pdf_report_ctx_t and its own HPDF_Doc,
 * so pool threads share nothing.  libharu reports errors to a handler,
 * which records the first one in the context; the code checks the context
 * wherever a failure matters and frees the document on every path.
 */


#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>
#include <hpdf.h>

#include "pdf_report_render.h"
#include "pdf_report_ttf.h"
#include "pdf_report_util.h"


#ifndef PDF_REPORT_VERSION
#define PDF_REPORT_VERSION       "0.1.0"
#endif

/* fonts-dejavu-core; a build may name smaller files (-D...) */
#ifndef PDF_REPORT_FONT_REGULAR
#define PDF_REPORT_FONT_REGULAR                                               \
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#endif
#ifndef PDF_REPORT_FONT_BOLD
#define PDF_REPORT_FONT_BOLD                                                  \
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#endif

#define PDF_REPORT_DASH          "\xe2\x80\x94"              /* U+2014 */
#define PDF_REPORT_REPLACEMENT   0xfffd

/* CIDs are UTF-16 code units (libharu's UTF-8 encoder): a bit for each */
#define PDF_REPORT_CIDS          65536
#define PDF_REPORT_SHOWN_SIZE    (PDF_REPORT_CIDS / 8)

#define PDF_REPORT_JOB_ID_MAX    64
#define PDF_REPORT_FIELD_MAX     65536
#define PDF_REPORT_PAGES_MAX     100
#define PDF_REPORT_TITLE_MAX     1024      /* code points of Info Title */
/* 9999-12-31T23:59:59.999Z: four-digit years only */
#define PDF_REPORT_MS_MAX        253402300799999LL

/* A4 portrait in points; 20 mm side margins */
#define PDF_REPORT_PAGE_W        595.276f
#define PDF_REPORT_PAGE_H        841.89f
#define PDF_REPORT_LEFT          56.69f
#define PDF_REPORT_RIGHT         (PDF_REPORT_PAGE_W - 56.69f)
#define PDF_REPORT_WIDTH         (PDF_REPORT_RIGHT - PDF_REPORT_LEFT)
#define PDF_REPORT_BAND_H        92.0f
#define PDF_REPORT_CONT_TOP      (PDF_REPORT_PAGE_H - 62.0f)
#define PDF_REPORT_FOOTER_RULE   58.0f
#define PDF_REPORT_BOTTOM        72.0f       /* content stays above this */

#define PDF_REPORT_LABEL_W       140.0f
#define PDF_REPORT_VALUE_X       (PDF_REPORT_LEFT + PDF_REPORT_LABEL_W)
#define PDF_REPORT_VALUE_W       (PDF_REPORT_RIGHT - PDF_REPORT_VALUE_X)

#define PDF_REPORT_LABEL_SIZE    8.5f
#define PDF_REPORT_LABEL_LEAD    11.5f
#define PDF_REPORT_VALUE_SIZE    10.0f
#define PDF_REPORT_VALUE_LEAD    13.5f
#define PDF_REPORT_ASCENT        0.93f       /* of DejaVu Sans, per em */
#define PDF_REPORT_ROW_PAD       4.0f
#define PDF_REPORT_HEADING_H     34.0f
#define PDF_REPORT_BADGE_PX      7.0f
#define PDF_REPORT_BADGE_PY      3.0f
#define PDF_REPORT_FOOTER_SIZE   7.5f

#define PDF_REPORT_REGULAR       0
#define PDF_REPORT_BOLD          1


typedef struct {
    float  r, g, b;
} pdf_report_rgb_t;


typedef struct {
    const pdf_report_rgb_t  *fill;
    const pdf_report_rgb_t  *text;
} pdf_report_badge_t;


/* a value as code points, broken into lines for one font and size */
typedef struct {
    HPDF_UINT16  *cp;
    size_t        n;
    size_t       *start;     /* line i is cp[start[i]] .. cp[end[i] - 1] */
    size_t       *end;
    float        *width;
    size_t        lines;
    size_t        cap;
    HPDF_Font     font;
    int           bold;
    float         size;
    int           faint;     /* the dash of an absent value */
} pdf_report_text_t;


typedef struct {
    const pdf_report_render_input_t  *in;
    HPDF_Doc                          doc;
    HPDF_Page                         page;
    HPDF_Font                         regular;
    HPDF_Font                         bold;
    HPDF_FontDef                      regular_def;
    HPDF_FontDef                      bold_def;
    int                               fake_bold;
    int                               whole_fonts;
    unsigned char                    *shown[2];  /* CIDs drawn: regular,
                                                    bold (the same set for
                                                    one face) */
    unsigned                          pages;
    float                             y;         /* top of the free space */
    int                               fresh;     /* nothing on the page yet */
    const char                       *heading;   /* drawn with next row */
    const json_t                     *conn;      /* this org's connection */
    char                             *name;      /* full name, or NULL */
    size_t                            name_len;
    char                             *buf;       /* one line as UTF-8 */
    size_t                            buf_size;
    HPDF_STATUS                       error_no;  /* libharu's first error */
    HPDF_STATUS                       detail_no;
    int                               failed;
    int                               font_failed;
    char                             *err;
    size_t                            err_size;
} pdf_report_ctx_t;


static void pdf_report_hpdf_error(HPDF_STATUS error_no, HPDF_STATUS detail_no,
    void *user_data);
static void pdf_report_fail(pdf_report_ctx_t *ctx, const char *fmt, ...);
static int pdf_report_check(pdf_report_ctx_t *ctx, const char *what);
static int pdf_report_build(pdf_report_ctx_t *ctx,
    const pdf_report_render_conf_t *conf);
static int pdf_report_fonts(pdf_report_ctx_t *ctx,
    const pdf_report_render_conf_t *conf);
static HPDF_Font pdf_report_font(pdf_report_ctx_t *ctx, const char *path,
    HPDF_FontDef *def);
static int pdf_report_composites(pdf_report_ctx_t *ctx, HPDF_FontDef def);
static int pdf_report_embed(pdf_report_ctx_t *ctx);
static int pdf_report_to_unicode(pdf_report_ctx_t *ctx, HPDF_Font font,
    const unsigned char *shown);
static int pdf_report_cid_map(pdf_report_ctx_t *ctx, HPDF_Font font,
    HPDF_FontDef def, const unsigned char *shown);
static int pdf_report_subset(pdf_report_ctx_t *ctx, HPDF_Font font,
    HPDF_FontDef def);
static int pdf_report_descriptor(pdf_report_ctx_t *ctx, HPDF_Font font,
    HPDF_FontDef def, const unsigned char *file, size_t len);
static void pdf_report_mark(unsigned char *shown, const char *text);
static int pdf_report_prepare(pdf_report_ctx_t *ctx);
static int pdf_report_info(pdf_report_ctx_t *ctx);
static int pdf_report_new_page(pdf_report_ctx_t *ctx);
static void pdf_report_band(pdf_report_ctx_t *ctx);
static int pdf_report_org(pdf_report_ctx_t *ctx);
static int pdf_report_para(pdf_report_ctx_t *ctx, pdf_report_text_t *t,
    float first_gap, float lead, const pdf_report_rgb_t *rgb);
static void pdf_report_running_head(pdf_report_ctx_t *ctx);
static int pdf_report_subject(pdf_report_ctx_t *ctx);
static int pdf_report_address(pdf_report_ctx_t *ctx);
static int pdf_report_summary(pdf_report_ctx_t *ctx);
static int pdf_report_consent(pdf_report_ctx_t *ctx);
static int pdf_report_note(pdf_report_ctx_t *ctx, const char *note);
static int pdf_report_footers(pdf_report_ctx_t *ctx);
static int pdf_report_save(pdf_report_ctx_t *ctx, unsigned char **pdf,
    size_t *len);
static int pdf_report_row(pdf_report_ctx_t *ctx, const char *label,
    const char *value, size_t len, int bold,
    const pdf_report_badge_t *badge);
static void pdf_report_chunk(pdf_report_ctx_t *ctx, pdf_report_text_t *lt,
    pdf_report_text_t *vt, size_t first, size_t k,
    const pdf_report_badge_t *badge);
static void pdf_report_heading(pdf_report_ctx_t *ctx);
static float pdf_report_row_height(size_t value_lines, size_t label_lines,
    int badge);
static const char *pdf_report_str(pdf_report_ctx_t *ctx, const json_t *obj,
    const char *key, size_t *len);
static const pdf_report_badge_t *pdf_report_badge(const char *s, size_t len);
static const char *pdf_report_dob(const char *s, size_t len, int64_t now_ms,
    char *buf, size_t size);
static const char *pdf_report_datetime(const char *s, size_t len, char *buf,
    size_t size);
static const char *pdf_report_percent(const json_t *v, char *buf,
    size_t size);
static int pdf_report_digits(const char *s, size_t n);
static int pdf_report_decode(pdf_report_ctx_t *ctx, pdf_report_text_t *t,
    const char *s, size_t len);
static int pdf_report_layout(pdf_report_ctx_t *ctx, pdf_report_text_t *t,
    int bold, float size, float max_width);
static int pdf_report_add_line(pdf_report_ctx_t *ctx, pdf_report_text_t *t,
    size_t start, size_t end);
static float pdf_report_width(pdf_report_text_t *t, size_t start, size_t end);
static void pdf_report_text_free(pdf_report_text_t *t);
static int pdf_report_wrapped(pdf_report_ctx_t *ctx, const char *s,
    size_t len, int bold, float size, float max_width,
    pdf_report_text_t *t);
static const char *pdf_report_line(pdf_report_ctx_t *ctx,
    pdf_report_text_t *t, size_t line);
static size_t pdf_report_utf8(char *dst, const HPDF_UINT16 *cp, size_t n);
static int pdf_report_reserve(pdf_report_ctx_t *ctx, size_t size);
static void pdf_report_show(pdf_report_ctx_t *ctx, int bold,
    float size, const pdf_report_rgb_t *rgb, float x, float y,
    const char *text);
static void pdf_report_show_right(pdf_report_ctx_t *ctx, int bold,
    float size, const pdf_report_rgb_t *rgb, float right, float y,
    const char *text);
static void pdf_report_rule(pdf_report_ctx_t *ctx, float y, float width,
    const pdf_report_rgb_t *rgb);
static void pdf_report_rect(pdf_report_ctx_t *ctx, float x, float y, float w,
    float h, const pdf_report_rgb_t *rgb);


static const pdf_report_rgb_t  pdf_report_navy = { 0.082f, 0.169f, 0.302f };
static const pdf_report_rgb_t  pdf_report_accent = { 0.157f, 0.443f, 0.682f };
static const pdf_report_rgb_t  pdf_report_white = { 1.0f, 1.0f, 1.0f };
static const pdf_report_rgb_t  pdf_report_pale = { 0.784f, 0.831f, 0.894f };
static const pdf_report_rgb_t  pdf_report_ink = { 0.110f, 0.118f, 0.133f };
static const pdf_report_rgb_t  pdf_report_label = { 0.376f, 0.400f, 0.439f };
static const pdf_report_rgb_t  pdf_report_faint = { 0.600f, 0.620f, 0.650f };
static const pdf_report_rgb_t  pdf_report_hair = { 0.860f, 0.870f, 0.890f };

static const pdf_report_rgb_t  pdf_report_green = { 0.118f, 0.482f, 0.204f };
static const pdf_report_rgb_t  pdf_report_amber = { 0.953f, 0.651f, 0.008f };
static const pdf_report_rgb_t  pdf_report_red = { 0.702f, 0.149f, 0.118f };
static const pdf_report_rgb_t  pdf_report_grey = { 0.420f, 0.447f, 0.502f };

static const pdf_report_badge_t  pdf_report_badge_pass =
    { &pdf_report_green, &pdf_report_white };
static const pdf_report_badge_t  pdf_report_badge_refer =
    { &pdf_report_amber, &pdf_report_ink };
static const pdf_report_badge_t  pdf_report_badge_fail =
    { &pdf_report_red, &pdf_report_white };
static const pdf_report_badge_t  pdf_report_badge_other =
    { &pdf_report_grey, &pdf_report_white };


int
pdf_report_render(const pdf_report_render_conf_t *conf,
    const pdf_report_render_input_t *in, unsigned char **pdf, size_t *len,
    char *err, size_t err_size)
{
    int               rc;
    size_t            n;
    pdf_report_ctx_t  ctx;

    memset(&ctx, 0, sizeof(pdf_report_ctx_t));
    ctx.err = err;
    ctx.err_size = err_size;

    if (err != NULL && err_size > 0) {
        err[0] = '\0';
    }

    if (pdf == NULL || len == NULL || in == NULL) {
        pdf_report_fail(&ctx, "no input or output given");
        return -1;
    }

    *pdf = NULL;
    *len = 0;
    ctx.in = in;

    if (!json_is_object(in->user)) {
        pdf_report_fail(&ctx, "the user record is not a JSON object");
        return -1;
    }

    /* the job id goes in the band and in every footer, on one line */

    n = (in->job_id != NULL) ? strlen(in->job_id) : 0;

    if (n == 0 || n > PDF_REPORT_JOB_ID_MAX
        || strspn(in->job_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz"
                              "0123456789-_.:") != n)
    {
        pdf_report_fail(&ctx, "job id must be 1 to %d letters, digits "
                        "or \"-_.:\"", PDF_REPORT_JOB_ID_MAX);
        return -1;
    }

    if (in->generated_ms < 0 || in->generated_ms > PDF_REPORT_MS_MAX) {
        pdf_report_fail(&ctx, "generation time %lld is out of range",
                        (long long) in->generated_ms);
        return -1;
    }

    ctx.whole_fonts = (conf != NULL && conf->whole_fonts);
    ctx.shown[0] = calloc(2, PDF_REPORT_SHOWN_SIZE);
    ctx.shown[1] = ctx.shown[0] + PDF_REPORT_SHOWN_SIZE;
    ctx.doc = (ctx.shown[0] != NULL)
              ? HPDF_New(pdf_report_hpdf_error, &ctx) : NULL;

    if (ctx.doc == NULL) {
        pdf_report_fail(&ctx, "cannot create a PDF document (no memory)");
        rc = -1;

    } else {
        rc = pdf_report_build(&ctx, conf);

        if (rc == 0) {
            rc = pdf_report_save(&ctx, pdf, len);
        }

        HPDF_Free(ctx.doc);
    }

    if (rc != 0 && ctx.font_failed) {
        rc = PDF_REPORT_RENDER_FONT;
    }

    free(ctx.name);
    free(ctx.buf);
    free(ctx.shown[0]);

    return rc;
}


/*
 * libharu calls this on every error, then returns an error code from the
 * failing call; after the first error its document-level calls fail with
 * HPDF_INVALID_DOCUMENT, so only the first one tells what went wrong.
 */

static void
pdf_report_hpdf_error(HPDF_STATUS error_no, HPDF_STATUS detail_no,
    void *user_data)
{
    pdf_report_ctx_t  *ctx;

    ctx = user_data;

    if (ctx->error_no == HPDF_OK) {
        ctx->error_no = error_no;
        ctx->detail_no = detail_no;
    }
}


/* the first reason wins: later ones are consequences */

static void
pdf_report_fail(pdf_report_ctx_t *ctx, const char *fmt, ...)
{
    va_list  args;

    if (ctx->failed) {
        return;
    }

    ctx->failed = 1;

    if (ctx->err == NULL || ctx->err_size == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(ctx->err, ctx->err_size, fmt, args);
    va_end(args);
}


static int
pdf_report_check(pdf_report_ctx_t *ctx, const char *what)
{
    if (ctx->error_no != HPDF_OK) {
        pdf_report_fail(ctx, "libharu error 0x%04X (detail %d) %s",
                        (unsigned) ctx->error_no, (int) ctx->detail_no,
                        what);
    }

    return ctx->failed ? -1 : 0;
}


static int
pdf_report_build(pdf_report_ctx_t *ctx, const pdf_report_render_conf_t *conf)
{
    /*
     * Compression must be on before HPDF_GetFont: a font takes its stream
     * filter (font file, widths, CMaps) from the mode at that moment.
     */

    HPDF_SetCompressionMode(ctx->doc, HPDF_COMP_ALL);
    HPDF_UseUTFEncodings(ctx->doc);

    /* Info strings go through the current encoder: UTF-8 to UTF-16BE */
    HPDF_SetCurrentEncoder(ctx->doc, "UTF-8");

    if (pdf_report_check(ctx, "setting up the document") != 0) {
        return -1;
    }

    if (pdf_report_fonts(ctx, conf) != 0
        || pdf_report_prepare(ctx) != 0
        || pdf_report_info(ctx) != 0
        || pdf_report_new_page(ctx) != 0
        || pdf_report_subject(ctx) != 0
        || pdf_report_summary(ctx) != 0
        || pdf_report_consent(ctx) != 0
        || pdf_report_note(ctx, "This report shows the information SQR "
                           "held about the subject at the time of "
                           "generation, as shared with the organization "
                           "named above. A dash (" PDF_REPORT_DASH ") marks "
                           "information that is not available.") != 0
        || pdf_report_footers(ctx) != 0
        || pdf_report_composites(ctx, ctx->regular_def) != 0
        || (ctx->bold_def != ctx->regular_def
            && pdf_report_composites(ctx, ctx->bold_def) != 0)
        || pdf_report_embed(ctx) != 0)
    {
        return -1;
    }

    return pdf_report_check(ctx, "drawing the report");
}


static int
pdf_report_fonts(pdf_report_ctx_t *ctx, const pdf_report_render_conf_t *conf)
{
    const char  *regular, *bold;

    regular = PDF_REPORT_FONT_REGULAR;
    bold = PDF_REPORT_FONT_BOLD;

    if (conf != NULL && conf->font_regular != NULL
        && conf->font_regular[0] != '\0')
    {
        regular = conf->font_regular;
    }

    if (conf != NULL && conf->font_bold != NULL
        && conf->font_bold[0] != '\0')
    {
        bold = conf->font_bold;
    }

    ctx->regular = pdf_report_font(ctx, regular, &ctx->regular_def);
    if (ctx->regular == NULL) {
        return -1;
    }

    /*
     * The same file for both styles embeds one face, and bold is drawn
     * by stroking the outline as well as filling it: a cheaper document.
     */

    if (strcmp(regular, bold) == 0) {
        ctx->bold = ctx->regular;
        ctx->bold_def = ctx->regular_def;
        ctx->fake_bold = 1;
        ctx->shown[1] = ctx->shown[0];
        return 0;
    }

    ctx->bold = pdf_report_font(ctx, bold, &ctx->bold_def);

    if (ctx->bold == NULL) {
        return -1;
    }

    /*
     * libharu hands out the first font again for a second file that
     * gives the same PostScript name
     */

    ctx->fake_bold = (ctx->bold == ctx->regular);

    if (ctx->fake_bold) {
        ctx->bold_def = ctx->regular_def;
        ctx->shown[1] = ctx->shown[0];
    }

    return 0;
}


static HPDF_Font
pdf_report_font(pdf_report_ctx_t *ctx, const char *path, HPDF_FontDef *def)
{
    const char          *name;
    HPDF_Font            font;
    HPDF_INT16           none_delta[1];
    HPDF_UINT16          none_end[1], none_start[1], none_range[1];
    HPDF_FontDef         fd;
    HPDF_TTFontDefAttr   tt;
    HPDF_TTF_CmapRange   cmap;

    /* embedded: the file is read now, and its used glyphs copied in */

    name = HPDF_LoadTTFontFromFile(ctx->doc, path, HPDF_TRUE);
    fd = (name != NULL) ? HPDF_GetFontDef(ctx->doc, name) : NULL;
    tt = NULL;

    /*
     * HPDF_GetFont looks up the glyph of each of the 65536 codes, one
     * linear search of the cmap's segments each (7 ms of a 12 ms report
     * with DejaVu), for widths and a map that pdf_report_cid_map then
     * rebuilds for the codes drawn.  For that while the font definition
     * gets a cmap of one empty segment, so every code finds glyph 0 at
     * once; its own is back before any text is measured or drawn.
     */

    if (fd != NULL && !ctx->whole_fonts
        && fd->type == HPDF_FONTDEF_TYPE_TRUETYPE)
    {
        tt = fd->attr;

        if (tt->cmap.format == 4) {
            cmap = tt->cmap;

            none_end[0] = 0xffff;
            none_start[0] = 0xffff;
            none_range[0] = 0;
            none_delta[0] = 1;                 /* FFFF + 1: glyph 0 */

            tt->cmap.seg_count_x2 = 2;
            tt->cmap.end_count = none_end;
            tt->cmap.start_count = none_start;
            tt->cmap.id_delta = none_delta;
            tt->cmap.id_range_offset = none_range;

        } else {
            tt = NULL;
        }
    }

    font = (fd != NULL) ? HPDF_GetFont(ctx->doc, name, "UTF-8") : NULL;

    if (tt != NULL) {
        tt->cmap = cmap;
    }

    *def = (font != NULL) ? fd : NULL;

    if (font == NULL || *def == NULL || ctx->error_no != HPDF_OK) {
        ctx->font_failed = !ctx->failed;

        /* libharu's detail of a file it could not open is the errno */
        if (ctx->error_no == HPDF_FILE_OPEN_ERROR) {
            pdf_report_fail(ctx, "cannot open the TrueType font \"%s\": "
                            "%s", path, strerror((int) ctx->detail_no));

        } else {
            pdf_report_fail(ctx, "cannot use the TrueType font \"%s\": "
                            "libharu error 0x%04X (detail %d)", path,
                            (unsigned) ctx->error_no,
                            (int) ctx->detail_no);
        }

        return NULL;
    }

    return font;
}


/*
 * libharu 2.3 gives a TrueType font, as its ToUnicode CMap, a copy of its
 * encoding CMap ("begincidrange", one-byte notdef ranges in a two-byte
 * code space): poppler warns "Invalid 'begincidrange' operator in
 * ToUnicode CMap" and a stricter reader may not find the text at all.
 * The codes drawn are UTF-16 code units (Identity-H over Unicode, no
 * surrogates), so the right CMap maps each one to itself: the codes in
 * shown, or every code when shown is NULL.
 */

static int
pdf_report_to_unicode(pdf_report_ctx_t *ctx, HPDF_Font font,
    const unsigned char *shown)
{
    int                pass;
    char               line[48];
    uint32_t           c, first, runs, left, n;
    HPDF_Dict          cmap;
    HPDF_Stream        stream;
    HPDF_FontAttr      attr;
    static const char  head[] =
        "/CIDInit /ProcSet findresource begin\n"
        "12 dict begin\n"
        "begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) "
        "/Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n"
        "/CMapType 2 def\n"
        "1 begincodespacerange\n"
        "<0000> <FFFF>\n"
        "endcodespacerange\n";
    static const char  tail[] =
        "endcmap\n"
        "CMapName currentdict /CMap defineresource pop\n"
        "end\n"
        "end\n";

    attr = font->attr;
    cmap = attr->cmap_stream;

    if (cmap == NULL || cmap->stream == NULL) {
        return 0;
    }

    /* its dictionary describes the encoding CMap, not this one */

    HPDF_Dict_RemoveElement(cmap, "Type");
    HPDF_Dict_RemoveElement(cmap, "CMapName");
    HPDF_Dict_RemoveElement(cmap, "CIDSystemInfo");

    stream = cmap->stream;
    HPDF_MemStream_FreeData(stream);
    HPDF_Stream_WriteStr(stream, head);

    /*
     * Runs of codes, none crossing a high byte (a range may not) nor
     * the surrogates D800..DFFF; counted first, then written at most
     * 100 to a block.
     */

    runs = 0;
    left = 0;

    for (pass = 0; pass < 2; pass++) {
        first = PDF_REPORT_CIDS;
        n = 0;

        for (c = 0; c <= PDF_REPORT_CIDS; c++) {

            if (c < PDF_REPORT_CIDS && (c < 0xd800 || c > 0xdfff)
                && (shown == NULL || (shown[c >> 3] & (1 << (c & 7))))
                && (first == PDF_REPORT_CIDS || (c & 0xff) != 0))
            {
                if (first == PDF_REPORT_CIDS) {
                    first = c;
                }

                continue;
            }

            if (first != PDF_REPORT_CIDS) {
                if (pass == 0) {
                    runs++;

                } else {
                    if (n == 0) {
                        n = (left > 100) ? 100 : left;
                        left -= n;
                        snprintf(line, sizeof(line), "%u beginbfrange\n",
                                 (unsigned) n);
                        HPDF_Stream_WriteStr(stream, line);
                    }

                    snprintf(line, sizeof(line), "<%04X> <%04X> <%04X>\n",
                             (unsigned) first, (unsigned) c - 1,
                             (unsigned) first);
                    HPDF_Stream_WriteStr(stream, line);

                    if (--n == 0) {
                        HPDF_Stream_WriteStr(stream, "endbfrange\n");
                    }
                }

                first = PDF_REPORT_CIDS;
            }

            /* a code that starts a high byte starts a run of its own */

            if (c < PDF_REPORT_CIDS && (c & 0xff) == 0
                && (c < 0xd800 || c > 0xdfff)
                && (shown == NULL || (shown[c >> 3] & (1 << (c & 7)))))
            {
                first = c;
            }
        }

        left = runs;
    }

    HPDF_Stream_WriteStr(stream, tail);

    return pdf_report_check(ctx, "writing a ToUnicode CMap");
}


/*
 * libharu 2.3 embeds the glyphs the text uses and the components of those
 * that are composite, but not the components of components, which then
 * print as nothing: in DejaVu, Cyrillic Ё is Cyrillic Е plus a diaeresis
 * and Cyrillic Е a reference to Latin E, so a bold Ё showed only its dots
 * (Ό, ї, bold š and Ы, Vietnamese ễ and some 600 more are nested alike).
 * Before the document is written, mark every component of every used
 * glyph, to any depth, reading the glyf table as libharu does; this uses
 * the font definition's internals, which hpdf.h exposes in 2.3.
 */

static int
pdf_report_composites(pdf_report_ctx_t *ctx, HPDF_FontDef def)
{
    int                 changed;
    HPDF_UINT           i, size, pos, at, n;
    HPDF_BYTE          *done, buf[4096];
    HPDF_UINT16         flags, gid;
    HPDF_TTFontDefAttr  attr;

    attr = def->attr;

    if (def->type != HPDF_FONTDEF_TYPE_TRUETYPE || !attr->embedding) {
        return 0;
    }

    n = attr->num_glyphs;

    done = calloc(n, 1);
    if (done == NULL) {
        pdf_report_fail(ctx, "no memory to check composite glyphs");
        return -1;
    }

    do {
        changed = 0;

        for (i = 0; i < n; i++) {
            if (attr->glyph_tbl.flgs[i] != 1 || done[i]) {
                continue;
            }

            done[i] = 1;

            at = attr->glyph_tbl.offsets[i];
            size = attr->glyph_tbl.offsets[i + 1] - at;

            if (attr->header.index_to_loc_format == 0) {
                at *= 2;
                size *= 2;
            }

            /* a composite glyph starts with -1 contours and a bounding box */

            if (size < 10 + 4) {
                continue;
            }

            size = (size < sizeof(buf)) ? size : sizeof(buf);

            if (HPDF_Stream_Seek(attr->stream, attr->glyph_tbl.base_offset
                                               + at, HPDF_SEEK_SET)
                != HPDF_OK
                || HPDF_Stream_Read(attr->stream, buf, &size) != HPDF_OK
                || size < 10 + 4)
            {
                continue;
            }

            if (buf[0] != 0xff || buf[1] != 0xff) {
                continue;
            }

            for (pos = 10; pos + 4 <= size; /* void */ ) {
                flags = (HPDF_UINT16) ((buf[pos] << 8) | buf[pos + 1]);
                gid = (HPDF_UINT16) ((buf[pos + 2] << 8) | buf[pos + 3]);

                if (gid < n && attr->glyph_tbl.flgs[gid] != 1) {
                    attr->glyph_tbl.flgs[gid] = 1;
                    changed = 1;
                }

                if (!(flags & 0x20)) {                /* MORE_COMPONENTS */
                    break;
                }

                pos += 4 + ((flags & 0x01) ? 4 : 2);  /* ARGS_ARE_WORDS */

                if (flags & 0x08) {                   /* WE_HAVE_A_SCALE */
                    pos += 2;

                } else if (flags & 0x40) {            /* X_AND_Y_SCALE */
                    pos += 4;

                } else if (flags & 0x80) {            /* TWO_BY_TWO */
                    pos += 8;
                }
            }
        }

    } while (changed);

    free(done);

    /* errors from reading the font would only cost glyphs, not the PDF */
    return 0;
}


/*
 * What libharu 2.3 embeds for a TrueType face, about 90 KB of a
 * one-page report each: the font file with every table but the glyph
 * outlines whole (glyph names, kerning, the cmap, the metrics of some
 * 6000 glyphs), a width for every character the font has, and a CID to
 * glyph map for all 65536 codes.  Once the report is drawn, the codes it
 * shows are known (pdf_report_show notes them), so the widths, the map
 * and the ToUnicode CMap are cut to those codes, and the font file to
 * the glyphs libharu marked as used (with their components) in a new
 * file of the tables a CIDFontType2 needs (ISO 32000-1, 9.9).  The glyph
 * ids do not change, so nothing drawn does.
 */

static int
pdf_report_embed(pdf_report_ctx_t *ctx)
{
    size_t        i;
    HPDF_Font     font[2];
    HPDF_FontDef  def[2];

    font[0] = ctx->regular;
    def[0] = ctx->regular_def;
    font[1] = ctx->bold;
    def[1] = ctx->bold_def;

    for (i = 0; i < 2; i++) {
        if (i == 1 && font[1] == font[0]) {
            break;
        }

        if (ctx->whole_fonts) {
            if (pdf_report_to_unicode(ctx, font[i], NULL) != 0) {
                return -1;
            }

            continue;
        }

        if (pdf_report_to_unicode(ctx, font[i], ctx->shown[i]) != 0
            || pdf_report_cid_map(ctx, font[i], def[i], ctx->shown[i]) != 0
            || pdf_report_subset(ctx, font[i], def[i]) != 0)
        {
            return -1;
        }
    }

    return 0;
}


/* the /W widths and the /CIDToGIDMap of the codes shown only */

static int
pdf_report_cid_map(pdf_report_ctx_t *ctx, HPDF_Font font, HPDF_FontDef def,
    const unsigned char *shown)
{
    size_t          max;
    uint32_t        c, last;
    HPDF_INT16      w;
    HPDF_UINT16     gid;
    HPDF_STATUS     ret;
    HPDF_Array      widths, run;
    HPDF_FontAttr   attr;
    unsigned char  *map;

    attr = font->attr;

    if (attr->map_stream == NULL || attr->descendant_font == NULL) {
        return 0;
    }

    map = malloc(2 * PDF_REPORT_CIDS);
    widths = HPDF_Array_New(font->mmgr);

    if (map == NULL || widths == NULL) {
        free(map);
        pdf_report_fail(ctx, "no memory for the font widths");
        return -1;
    }

    ret = HPDF_OK;
    run = NULL;
    last = 0;
    max = 0;

    for (c = 0; c < PDF_REPORT_CIDS; c++) {
        if (!(shown[c >> 3] & (1 << (c & 7)))) {
            continue;
        }

        gid = HPDF_TTFontDef_GetGlyphid(def, (HPDF_UINT16) c);
        w = HPDF_TTFontDef_GetGidWidth(def, gid);

        map[2 * c] = (unsigned char) (gid >> 8);
        map[2 * c + 1] = (unsigned char) gid;

        /* zeros for the codes in between: glyph 0, never drawn */
        memset(map + 2 * max, 0, 2 * (c - max));
        max = c + 1;

        /* "c [w1 w2 ...]" for each run of consecutive codes */

        if (run == NULL || c != last + 1) {
            run = HPDF_Array_New(font->mmgr);

            if (run == NULL) {
                ret = HPDF_FAILD_TO_ALLOC_MEM;
                break;
            }

            ret |= HPDF_Array_AddNumber(widths, (HPDF_INT32) c);
            ret |= HPDF_Array_Add(widths, run);
        }

        ret |= HPDF_Array_AddNumber(run, w);
        last = c;
    }

    if (ret == HPDF_OK) {
        ret = HPDF_Dict_Add(attr->descendant_font, "W", widths);

    } else {
        HPDF_Array_Free(widths);
    }

    if (ret == HPDF_OK) {
        HPDF_MemStream_FreeData(attr->map_stream->stream);
        ret = HPDF_Stream_Write(attr->map_stream->stream, map, 2 * max);
    }

    free(map);

    if (ret != HPDF_OK) {
        pdf_report_fail(ctx, "cannot write the font widths: libharu error "
                        "0x%04X", (unsigned) HPDF_GetError(ctx->doc));
        return -1;
    }

    return 0;
}


/*
 * The font file of the subset (pdf_report_ttf.c) as the face's FontFile2.
 * A font that cannot be subset (a table missing or out of bounds) keeps
 * libharu's whole-table copy: a larger document, not a failed one.
 */

static int
pdf_report_subset(pdf_report_ctx_t *ctx, HPDF_Font font, HPDF_FontDef def)
{
    int                 rc;
    size_t              len;
    unsigned char      *file;
    HPDF_TTFontDefAttr  tt;

    tt = def->attr;

    if (def->type != HPDF_FONTDEF_TYPE_TRUETYPE || !tt->embedding
        || tt->stream == NULL || def->descriptor != NULL)
    {
        return 0;
    }

    if (pdf_report_ttf_subset(tt, &file, &len) != 0) {
        /*
         * libharu noted a failed read in its error state, which its next
         * call would report: cleared, the whole font is embedded
         */
        HPDF_ResetError(ctx->doc);
        return 0;
    }

    rc = pdf_report_descriptor(ctx, font, def, file, len);
    free(file);

    return rc;
}


/*
 * The font descriptor, made before libharu would make its own (it does
 * only for a font definition without one), with the subset as FontFile2.
 */

static int
pdf_report_descriptor(pdf_report_ctx_t *ctx, HPDF_Font font,
    HPDF_FontDef def, const unsigned char *file, size_t len)
{
    HPDF_Dict           desc, data;
    HPDF_Array          box;
    HPDF_STATUS         ret;
    HPDF_FontAttr       attr;
    HPDF_TTFontDefAttr  tt;

    attr = font->attr;
    tt = def->attr;

    desc = HPDF_Dict_New(font->mmgr);
    data = HPDF_DictStream_New(font->mmgr, attr->xref);

    if (desc == NULL || data == NULL
        || HPDF_Xref_Add(attr->xref, desc) != HPDF_OK)
    {
        pdf_report_fail(ctx, "no memory for a font descriptor");
        return -1;
    }

    ret = HPDF_Dict_AddName(desc, "Type", "FontDescriptor");
    ret |= HPDF_Dict_AddNumber(desc, "Ascent", def->ascent);
    ret |= HPDF_Dict_AddNumber(desc, "Descent", def->descent);
    ret |= HPDF_Dict_AddNumber(desc, "CapHeight", def->cap_height);
    ret |= HPDF_Dict_AddNumber(desc, "Flags", def->flags);

    box = HPDF_Box_Array_New(font->mmgr, def->font_bbox);
    ret |= HPDF_Dict_Add(desc, "FontBBox", box);

    ret |= HPDF_Dict_AddName(desc, "FontName", tt->base_font);
    ret |= HPDF_Dict_AddNumber(desc, "ItalicAngle", def->italic_angle);
    ret |= HPDF_Dict_AddNumber(desc, "StemV", def->stemv);
    ret |= HPDF_Dict_AddNumber(desc, "XHeight", def->x_height);

    ret |= HPDF_Stream_Write(data->stream, file, (HPDF_UINT) len);
    ret |= HPDF_Dict_AddNumber(data, "Length1", (HPDF_INT32) len);
    data->filter = HPDF_STREAM_FILTER_FLATE_DECODE;
    ret |= HPDF_Dict_Add(desc, "FontFile2", data);

    if (ret != HPDF_OK) {
        pdf_report_fail(ctx, "cannot write the font subset: libharu error "
                        "0x%04X", (unsigned) HPDF_GetError(ctx->doc));
        return -1;
    }

    def->descriptor = desc;

    return 0;
}


/* this org's connection and the subject's full name, used more than once */

static int
pdf_report_prepare(pdf_report_ctx_t *ctx)
{
    size_t         i, n, len[3];
    const char    *part[3], *id;
    const json_t  *conns, *c, *v;

    conns = json_object_get(ctx->in->user, "connections");

    if (ctx->in->org_id != NULL && json_is_array(conns)) {
        n = strlen(ctx->in->org_id);

        for (i = 0; i < json_array_size(conns); i++) {
            c = json_array_get(conns, i);
            v = json_object_get(c, "org_id");

            if (!json_is_string(v) || json_string_length(v) != n) {
                continue;
            }

            id = json_string_value(v);

            if (memcmp(id, ctx->in->org_id, n) == 0) {
                ctx->conn = c;
                break;
            }
        }
    }

    part[0] = pdf_report_str(ctx, ctx->in->user, "first_name", &len[0]);
    part[1] = pdf_report_str(ctx, ctx->in->user, "middle_name", &len[1]);
    part[2] = pdf_report_str(ctx, ctx->in->user, "last_name", &len[2]);

    if (ctx->failed) {
        return -1;
    }

    n = 0;

    for (i = 0; i < 3; i++) {
        n += (part[i] != NULL) ? len[i] + 1 : 0;
    }

    if (n == 0) {
        return 0;
    }

    ctx->name = malloc(n);
    if (ctx->name == NULL) {
        pdf_report_fail(ctx, "no memory for the name");
        return -1;
    }

    n = 0;

    for (i = 0; i < 3; i++) {
        if (part[i] == NULL) {
            continue;
        }

        if (n > 0) {
            ctx->name[n++] = ' ';
        }

        memcpy(ctx->name + n, part[i], len[i]);
        n += len[i];
    }

    ctx->name[n] = '\0';
    ctx->name_len = n;

    return 0;
}


static int
pdf_report_info(pdf_report_ctx_t *ctx)
{
    int                rc;
    size_t             n, size;
    time_t             t;
    char              *title;
    struct tm          tm;
    HPDF_Date          date;
    pdf_report_text_t  name;
    static const char  prefix[] = "Identity Verification Report: ";

    memset(&name, 0, sizeof(pdf_report_text_t));

    if (pdf_report_decode(ctx, &name,
                          ctx->name ? ctx->name : PDF_REPORT_DASH,
                          ctx->name ? ctx->name_len : 3) != 0)
    {
        return -1;
    }

    if (name.n == 0) {
        pdf_report_text_free(&name);

        if (pdf_report_decode(ctx, &name, PDF_REPORT_DASH, 3) != 0) {
            return -1;
        }
    }

    /* a name is bounded in practice; HPDF strings stop at 65535 bytes */

    /* one line: the parts of a name do not break it */

    for (n = 0; n < name.n; n++) {
        if (name.cp[n] == '\n') {
            name.cp[n] = ' ';
        }
    }

    n = name.n;

    if (n > PDF_REPORT_TITLE_MAX) {
        n = PDF_REPORT_TITLE_MAX;
        name.cp[n - 1] = 0x2026;
    }

    size = sizeof(prefix) + 3 * n;
    title = malloc(size);

    if (title == NULL) {
        pdf_report_text_free(&name);
        pdf_report_fail(ctx, "no memory for the title");
        return -1;
    }

    memcpy(title, prefix, sizeof(prefix) - 1);
    n = pdf_report_utf8(title + sizeof(prefix) - 1, name.cp, n);
    title[sizeof(prefix) - 1 + n] = '\0';
    pdf_report_text_free(&name);

    HPDF_SetInfoAttr(ctx->doc, HPDF_INFO_TITLE, title);
    HPDF_SetInfoAttr(ctx->doc, HPDF_INFO_AUTHOR, "SQR");
    HPDF_SetInfoAttr(ctx->doc, HPDF_INFO_CREATOR,
                     "ngx_http_pdf_report_module " PDF_REPORT_VERSION);
    free(title);

    /* the generation time, never the clock: same input, same bytes */

    t = (time_t) (ctx->in->generated_ms / 1000);

    if (gmtime_r(&t, &tm) == NULL) {
        pdf_report_fail(ctx, "generation time out of range");
        return -1;
    }

    date.year = tm.tm_year + 1900;
    date.month = tm.tm_mon + 1;
    date.day = tm.tm_mday;
    date.hour = tm.tm_hour;
    date.minutes = tm.tm_min;
    date.seconds = tm.tm_sec;
    date.ind = 'Z';
    date.off_hour = 0;
    date.off_minutes = 0;

    HPDF_SetInfoDateAttr(ctx->doc, HPDF_INFO_CREATION_DATE, date);
    HPDF_SetInfoDateAttr(ctx->doc, HPDF_INFO_MOD_DATE, date);

    rc = pdf_report_check(ctx, "setting the document information");

    return rc;
}


static int
pdf_report_new_page(pdf_report_ctx_t *ctx)
{
    if (ctx->pages == PDF_REPORT_PAGES_MAX) {
        pdf_report_fail(ctx, "the report would take more than %d pages",
                        PDF_REPORT_PAGES_MAX);
        return -1;
    }

    ctx->page = HPDF_AddPage(ctx->doc);

    if (ctx->page == NULL) {
        return pdf_report_check(ctx, "adding a page");
    }

    HPDF_Page_SetSize(ctx->page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    ctx->pages++;
    ctx->fresh = 1;

    if (ctx->pages == 1) {
        pdf_report_band(ctx);

        if (pdf_report_org(ctx) != 0) {
            return -1;
        }

    } else {
        pdf_report_running_head(ctx);
    }

    return pdf_report_check(ctx, "starting a page");
}


/* the band across the top of the first page */

static void
pdf_report_band(pdf_report_ctx_t *ctx)
{
    char   stamp[PDF_REPORT_ISO8601_LEN];
    char   line[PDF_REPORT_JOB_ID_MAX + 32];
    float  top;

    top = PDF_REPORT_PAGE_H;

    pdf_report_rect(ctx, 0, top - PDF_REPORT_BAND_H, PDF_REPORT_PAGE_W,
                    PDF_REPORT_BAND_H, &pdf_report_navy);
    pdf_report_rect(ctx, 0, top - PDF_REPORT_BAND_H - 3, PDF_REPORT_PAGE_W,
                    3, &pdf_report_accent);

    pdf_report_show(ctx, PDF_REPORT_BOLD, 28, &pdf_report_white,
                    PDF_REPORT_LEFT, top - 44, "SQR");
    pdf_report_show(ctx, PDF_REPORT_BOLD, 15, &pdf_report_white,
                    PDF_REPORT_LEFT, top - 72, "Identity Verification Report");

    /* "Generated 2025-05-05 10:00:00 UTC" */

    pdf_report_iso8601(stamp, ctx->in->generated_ms);
    snprintf(line, sizeof(line), "Generated %.10s %.8s UTC", stamp,
             stamp + 11);
    pdf_report_show_right(ctx, PDF_REPORT_REGULAR, 9, &pdf_report_pale,
                          PDF_REPORT_RIGHT, top - 37, line);

    snprintf(line, sizeof(line), "Report %s", ctx->in->job_id);
    pdf_report_show_right(ctx, PDF_REPORT_REGULAR, 9, &pdf_report_pale,
                          PDF_REPORT_RIGHT, top - 51, line);

    ctx->y = top - PDF_REPORT_BAND_H - 3;
}


/* whom the report is for: the org's name as its connection gives it */

static int
pdf_report_org(pdf_report_ctx_t *ctx)
{
    int                rc;
    size_t             len;
    const char        *org;
    pdf_report_text_t  t;

    org = pdf_report_str(ctx, ctx->conn, "organization_name", &len);

    if (ctx->failed) {
        return -1;
    }

    if (pdf_report_wrapped(ctx, org ? org : PDF_REPORT_DASH,
                           org ? len : 3, PDF_REPORT_BOLD, 13,
                           PDF_REPORT_WIDTH, &t)
        != 0)
    {
        return -1;
    }

    ctx->y -= 22;
    pdf_report_show(ctx, PDF_REPORT_REGULAR, PDF_REPORT_LABEL_SIZE,
                    &pdf_report_label, PDF_REPORT_LEFT, ctx->y,
                    "Prepared for");

    rc = pdf_report_para(ctx, &t, 17, 16,
                         org ? &pdf_report_ink : &pdf_report_faint);
    pdf_report_text_free(&t);

    ctx->y -= 10;

    return rc;
}


/*
 * Lines below the baseline at ctx->y, the first one first_gap below it,
 * onto further pages as needed; ctx->y ends at the last baseline.
 */

static int
pdf_report_para(pdf_report_ctx_t *ctx, pdf_report_text_t *t, float first_gap,
    float lead, const pdf_report_rgb_t *rgb)
{
    size_t  i;
    float   y;

    y = ctx->y;

    for (i = 0; i < t->lines; i++) {
        y -= (i == 0) ? first_gap : lead;

        if (y < PDF_REPORT_BOTTOM + 4) {
            if (pdf_report_new_page(ctx) != 0) {
                return -1;
            }

            y = ctx->y - lead;
        }

        pdf_report_show(ctx, t->bold, t->size, rgb, PDF_REPORT_LEFT, y,
                        pdf_report_line(ctx, t, i));
        ctx->fresh = 0;
    }

    ctx->y = y;

    return ctx->failed ? -1 : 0;
}


static void
pdf_report_running_head(pdf_report_ctx_t *ctx)
{
    float  y;

    y = PDF_REPORT_PAGE_H - 40;

    pdf_report_show(ctx, PDF_REPORT_BOLD, 12, &pdf_report_navy,
                    PDF_REPORT_LEFT, y, "SQR");
    pdf_report_show(ctx, PDF_REPORT_REGULAR, 9, &pdf_report_label,
                    PDF_REPORT_LEFT + 34, y,
                    "Identity Verification Report (continued)");
    pdf_report_rule(ctx, y - 9, 0.8f, &pdf_report_navy);

    ctx->y = PDF_REPORT_CONT_TOP;
}


static int
pdf_report_subject(pdf_report_ctx_t *ctx)
{
    char           buf[64];
    size_t         len;
    const char    *s;
    const json_t  *u;

    u = ctx->in->user;
    ctx->heading = "Subject";

    if (pdf_report_row(ctx, "Full name", ctx->name, ctx->name_len, 1, NULL)
        != 0)
    {
        return -1;
    }

    s = pdf_report_str(ctx, u, "id", &len);
    if (pdf_report_row(ctx, "SQR user ID", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, u, "dob", &len);
    if (s != NULL) {
        s = pdf_report_dob(s, len, ctx->in->generated_ms, buf, sizeof(buf));
        len = strlen(s);
    }

    if (pdf_report_row(ctx, "Date of birth", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, u, "email", &len);
    if (pdf_report_row(ctx, "Email", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, u, "phone", &len);
    if (pdf_report_row(ctx, "Phone", s, len, 0, NULL) != 0) {
        return -1;
    }

    if (pdf_report_address(ctx) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, u, "registration_status", &len);
    if (pdf_report_row(ctx, "Registration status", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, u, "created_at", &len);
    if (s != NULL) {
        s = pdf_report_datetime(s, len, buf, sizeof(buf));
        len = strlen(s);
    }

    return pdf_report_row(ctx, "Account created", s, len, 0, NULL);
}


/* one line per present part; "city, state" share a line */

static int
pdf_report_address(pdf_report_ctx_t *ctx)
{
    int                 rc;
    char               *addr, *p;
    size_t              i, n, len[6];
    const char         *part[6];
    static const char  *keys[6] = {
        "address1", "address2", "city", "state", "postcode", "country"
    };

    n = 0;

    for (i = 0; i < 6; i++) {
        part[i] = pdf_report_str(ctx, ctx->in->user, keys[i], &len[i]);
        n += (part[i] != NULL) ? len[i] + 2 : 0;
    }

    if (ctx->failed) {
        return -1;
    }

    if (n == 0) {
        return pdf_report_row(ctx, "Postal address", NULL, 0, 0, NULL);
    }

    addr = malloc(n);
    if (addr == NULL) {
        pdf_report_fail(ctx, "no memory for the address");
        return -1;
    }

    p = addr;

    for (i = 0; i < 6; i++) {
        if (part[i] == NULL) {
            continue;
        }

        if (p != addr) {
            if (i == 3 && part[2] != NULL) {
                *p++ = ',';
                *p++ = ' ';

            } else {
                *p++ = '\n';
            }
        }

        memcpy(p, part[i], len[i]);
        p += len[i];
    }

    rc = pdf_report_row(ctx, "Postal address", addr, p - addr, 0, NULL);

    free(addr);

    return rc;
}


static int
pdf_report_summary(pdf_report_ctx_t *ctx)
{
    char           buf[64];
    size_t         len;
    const char    *s;
    const json_t  *u;

    u = ctx->in->user;
    ctx->heading = "Verification summary";

    s = pdf_report_str(ctx, u, "high_level_result", &len);
    if (pdf_report_row(ctx, "Overall result", s, len, 1,
                       pdf_report_badge(s, len))
        != 0)
    {
        return -1;
    }

    s = pdf_report_str(ctx, u, "document_overall_validation", &len);
    if (pdf_report_row(ctx, "Document validation", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_percent(json_object_get(u, "selfie_liveness_score"), buf,
                           sizeof(buf));
    len = (s != NULL) ? strlen(s) : 0;
    if (pdf_report_row(ctx, "Selfie liveness", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_percent(json_object_get(u, "fmc_score"), buf,
                           sizeof(buf));
    len = (s != NULL) ? strlen(s) : 0;
    if (pdf_report_row(ctx, "Face match", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, u, "id3_pep_sanction_result", &len);

    return pdf_report_row(ctx, "PEP and sanctions screening", s, len, 0,
                          NULL);
}


static int
pdf_report_consent(pdf_report_ctx_t *ctx)
{
    char           buf[64];
    size_t         len;
    const char    *s;
    const json_t  *v;

    ctx->heading = "Consent";

    s = pdf_report_str(ctx, ctx->conn, "connection_status", &len);
    if (pdf_report_row(ctx, "Connection status", s, len, 0, NULL) != 0) {
        return -1;
    }

    v = json_object_get(ctx->conn, "data_sharing_agreed");
    s = json_is_true(v) ? "Yes" : json_is_false(v) ? "No" : NULL;
    len = (s != NULL) ? strlen(s) : 0;
    if (pdf_report_row(ctx, "Data sharing agreed", s, len, 0, NULL) != 0) {
        return -1;
    }

    s = pdf_report_str(ctx, ctx->conn, "connection_status_updated_at", &len);
    if (s != NULL) {
        s = pdf_report_datetime(s, len, buf, sizeof(buf));
        len = strlen(s);
    }

    return pdf_report_row(ctx, "Last updated", s, len, 0, NULL);
}


static int
pdf_report_note(pdf_report_ctx_t *ctx, const char *note)
{
    int                rc;
    pdf_report_text_t  t;

    if (pdf_report_wrapped(ctx, note, strlen(note), PDF_REPORT_REGULAR, 8,
                           PDF_REPORT_WIDTH, &t)
        != 0)
    {
        return -1;
    }

    /* a short note: kept whole */

    if (ctx->y - 18 - t.lines * 11 < PDF_REPORT_BOTTOM && !ctx->fresh
        && pdf_report_new_page(ctx) != 0)
    {
        pdf_report_text_free(&t);
        return -1;
    }

    rc = pdf_report_para(ctx, &t, 18, 11, &pdf_report_label);
    pdf_report_text_free(&t);

    return rc;
}


/* drawn last, when the number of pages is known */

static int
pdf_report_footers(pdf_report_ctx_t *ctx)
{
    char      line[PDF_REPORT_JOB_ID_MAX + 32];
    unsigned  i;

    for (i = 0; i < ctx->pages; i++) {
        ctx->page = HPDF_GetPageByIndex(ctx->doc, i);

        if (ctx->page == NULL) {
            return pdf_report_check(ctx, "finding a page for its footer");
        }

        pdf_report_rule(ctx, PDF_REPORT_FOOTER_RULE, 0.5f, &pdf_report_hair);

        pdf_report_show(ctx, PDF_REPORT_BOLD, PDF_REPORT_FOOTER_SIZE,
                        &pdf_report_label, PDF_REPORT_LEFT, 46,
                        "Confidential: contains personal data");

        snprintf(line, sizeof(line), "Page %u of %u", i + 1, ctx->pages);
        pdf_report_show_right(ctx, PDF_REPORT_REGULAR, PDF_REPORT_FOOTER_SIZE,
                              &pdf_report_label, PDF_REPORT_RIGHT, 46, line);

        snprintf(line, sizeof(line), "Report %s", ctx->in->job_id);
        pdf_report_show(ctx, PDF_REPORT_REGULAR, PDF_REPORT_FOOTER_SIZE,
                        &pdf_report_label, PDF_REPORT_LEFT, 36, line);

        pdf_report_show_right(ctx, PDF_REPORT_REGULAR, PDF_REPORT_FOOTER_SIZE,
                              &pdf_report_label, PDF_REPORT_RIGHT, 36,
                              "Template " PDF_REPORT_TEMPLATE_VERSION);
    }

    return ctx->failed ? -1 : 0;
}


static int
pdf_report_save(pdf_report_ctx_t *ctx, unsigned char **pdf, size_t *len)
{
    HPDF_UINT32     size, got;
    HPDF_STATUS     rc;
    unsigned char  *out;

    if (HPDF_SaveToStream(ctx->doc) != HPDF_OK) {
        return pdf_report_check(ctx, "writing the document");
    }

    size = HPDF_GetStreamSize(ctx->doc);

    if (size == 0 || pdf_report_check(ctx, "sizing the document") != 0) {
        pdf_report_fail(ctx, "libharu wrote an empty document");
        return -1;
    }

    out = malloc(size);
    if (out == NULL) {
        pdf_report_fail(ctx, "no memory for a %u byte document",
                        (unsigned) size);
        return -1;
    }

    HPDF_ResetStream(ctx->doc);

    got = size;
    rc = HPDF_ReadFromStream(ctx->doc, out, &got);

    if ((rc != HPDF_OK && rc != HPDF_STREAM_EOF) || got != size
        || pdf_report_check(ctx, "reading the document back") != 0)
    {
        pdf_report_fail(ctx, "read %u of %u bytes of the document back",
                        (unsigned) got, (unsigned) size);
        free(out);
        return -1;
    }

    *pdf = out;
    *len = size;

    return 0;
}


/*
 * A label and its value.  The row moves to the next page whole (with the
 * section heading waiting to be drawn, if any) unless it is taller than a
 * page; only then is the value split, its label repeated "(continued)"
 * on each further page.  A NULL value shows the em dash.
 */

static int
pdf_report_row(pdf_report_ctx_t *ctx, const char *label, const char *value,
    size_t len, int bold, const pdf_report_badge_t *badge)
{
    int                 rc;
    char               *more;
    size_t              first, k, n;
    float               need, room;
    pdf_report_text_t   lt, vt, ct, *cur;
    static const char   cont[] = " (continued)";

    memset(&lt, 0, sizeof(pdf_report_text_t));
    memset(&vt, 0, sizeof(pdf_report_text_t));
    memset(&ct, 0, sizeof(pdf_report_text_t));
    rc = -1;

    if (ctx->failed) {
        return -1;
    }

    if (pdf_report_decode(ctx, &vt, value ? value : PDF_REPORT_DASH,
                          value ? len : 3)
        != 0)
    {
        goto done;
    }

    if (vt.n == 0) {
        /* blank is absent */
        pdf_report_text_free(&vt);
        value = NULL;

        if (pdf_report_decode(ctx, &vt, PDF_REPORT_DASH, 3) != 0) {
            goto done;
        }
    }

    if (value == NULL) {
        bold = 0;
        badge = NULL;
    }

    if (pdf_report_layout(ctx, &vt, bold, PDF_REPORT_VALUE_SIZE,
                          PDF_REPORT_VALUE_W
                          - (badge ? 2 * PDF_REPORT_BADGE_PX : 0))
        != 0
        || pdf_report_wrapped(ctx, label, strlen(label), PDF_REPORT_REGULAR,
                              PDF_REPORT_LABEL_SIZE,
                              PDF_REPORT_LABEL_W - 12, &lt)
           != 0)
    {
        goto done;
    }

    /* the dash is drawn faint: "nothing here" at a glance */
    vt.faint = (value == NULL);

    cur = &lt;
    first = 0;

    while (first < vt.lines) {
        k = vt.lines - first;
        need = pdf_report_row_height(k, cur->lines, badge != NULL)
               + (ctx->heading ? PDF_REPORT_HEADING_H : 0);

        if (ctx->y - need < PDF_REPORT_BOTTOM) {
            room = ctx->y - PDF_REPORT_BOTTOM - 2 * PDF_REPORT_ROW_PAD
                   - (ctx->heading ? PDF_REPORT_HEADING_H : 0)
                   - (badge ? 2 * PDF_REPORT_BADGE_PY : 0);
            n = (room > 0) ? (size_t) (room / PDF_REPORT_VALUE_LEAD) : 0;

            /*
             * A row that fits a page goes to the next one whole; a taller
             * one is split anyway, so it starts here if a few lines fit.
             */

            if (!ctx->fresh
                && (need <= PDF_REPORT_CONT_TOP - PDF_REPORT_BOTTOM || n < 3))
            {
                if (pdf_report_new_page(ctx) != 0) {
                    goto done;
                }

                continue;
            }

            k = (n > 0) ? n : 1;
        }

        pdf_report_heading(ctx);
        pdf_report_chunk(ctx, cur, &vt, first, k, badge);
        first += k;

        if (first < vt.lines && cur != &ct) {
            n = strlen(label);
            more = malloc(n + sizeof(cont));

            if (more == NULL) {
                pdf_report_fail(ctx, "no memory for a label");
                goto done;
            }

            memcpy(more, label, n);
            memcpy(more + n, cont, sizeof(cont));

            if (pdf_report_wrapped(ctx, more, n + sizeof(cont) - 1,
                                   PDF_REPORT_REGULAR, PDF_REPORT_LABEL_SIZE,
                                   PDF_REPORT_LABEL_W - 12, &ct)
                != 0)
            {
                free(more);
                goto done;
            }

            free(more);

            cur = &ct;
        }

        if (first < vt.lines && pdf_report_new_page(ctx) != 0) {
            goto done;
        }
    }

    rc = ctx->failed ? -1 : 0;

done:

    pdf_report_text_free(&lt);
    pdf_report_text_free(&vt);
    pdf_report_text_free(&ct);

    return rc;
}


/* lines first .. first + k - 1 of a value, with its label, at ctx->y */

static void
pdf_report_chunk(pdf_report_ctx_t *ctx, pdf_report_text_t *lt,
    pdf_report_text_t *vt, size_t first, size_t k,
    const pdf_report_badge_t *badge)
{
    size_t                   i;
    float                    top, base, h, w, x;
    const pdf_report_rgb_t  *ink;

    top = ctx->y - PDF_REPORT_ROW_PAD;
    ink = vt->faint ? &pdf_report_faint : &pdf_report_ink;
    x = PDF_REPORT_VALUE_X;

    if (badge != NULL) {
        w = 0;

        for (i = first; i < first + k; i++) {
            w = (vt->width[i] > w) ? vt->width[i] : w;
        }

        h = k * PDF_REPORT_VALUE_LEAD + 2 * PDF_REPORT_BADGE_PY;
        pdf_report_rect(ctx, x, top - h, w + 2 * PDF_REPORT_BADGE_PX, h,
                        badge->fill);

        ink = badge->text;
        x += PDF_REPORT_BADGE_PX;

        /* capitals centred in the box, rather than the line's ascent */
        top -= PDF_REPORT_BADGE_PY + 1;
    }

    base = top - PDF_REPORT_ASCENT * PDF_REPORT_VALUE_SIZE;

    for (i = 0; i < k; i++) {
        pdf_report_show(ctx, vt->bold, vt->size, ink, x,
                        base - i * PDF_REPORT_VALUE_LEAD,
                        pdf_report_line(ctx, vt, first + i));
    }

    for (i = 0; i < lt->lines; i++) {
        pdf_report_show(ctx, lt->bold, lt->size, &pdf_report_label,
                        PDF_REPORT_LEFT, base - i * PDF_REPORT_LABEL_LEAD,
                        pdf_report_line(ctx, lt, i));
    }

    ctx->y -= pdf_report_row_height(k, lt->lines, badge != NULL);
    ctx->fresh = 0;

    pdf_report_rule(ctx, ctx->y, 0.4f, &pdf_report_hair);
}


static void
pdf_report_heading(pdf_report_ctx_t *ctx)
{
    float  y;

    if (ctx->heading == NULL) {
        return;
    }

    y = ctx->y - 22;

    pdf_report_show(ctx, PDF_REPORT_BOLD, 11.5f, &pdf_report_navy,
                    PDF_REPORT_LEFT, y, ctx->heading);
    pdf_report_rule(ctx, y - 6, 0.8f, &pdf_report_navy);

    ctx->y -= PDF_REPORT_HEADING_H;
    ctx->heading = NULL;
}


static float
pdf_report_row_height(size_t value_lines, size_t label_lines, int badge)
{
    float  v, l;

    v = value_lines * PDF_REPORT_VALUE_LEAD
        + (badge ? 2 * PDF_REPORT_BADGE_PY : 0);
    l = label_lines * PDF_REPORT_LABEL_LEAD;

    return ((v > l) ? v : l) + 2 * PDF_REPORT_ROW_PAD;
}


/*
 * A string member, or NULL when absent, null, of another type, empty or
 * blank (all of which the report shows as a dash).  A value longer than
 * any real one fails the report rather than making hundreds of pages.
 */

static const char *
pdf_report_str(pdf_report_ctx_t *ctx, const json_t *obj, const char *key,
    size_t *len)
{
    size_t         i, n;
    const char    *s;
    const json_t  *v;

    *len = 0;

    v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        return NULL;
    }

    s = json_string_value(v);
    n = json_string_length(v);

    for (i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            break;
        }
    }

    if (i == n) {
        return NULL;
    }

    if (json_string_length(v) > PDF_REPORT_FIELD_MAX) {
        pdf_report_fail(ctx, "\"%s\" is longer than %d bytes", key,
                        PDF_REPORT_FIELD_MAX);
        return NULL;
    }

    *len = n;

    return s;
}


/* the colour of the word, never the colour alone */

static const pdf_report_badge_t *
pdf_report_badge(const char *s, size_t len)
{
    if (s == NULL) {
        return NULL;
    }

    if (len == 4 && strncasecmp(s, "PASS", 4) == 0) {
        return &pdf_report_badge_pass;
    }

    if ((len == 5 && strncasecmp(s, "REFER", 5) == 0)
        || (len == 6 && strncasecmp(s, "REVIEW", 6) == 0))
    {
        return &pdf_report_badge_refer;
    }

    if (len == 4 && strncasecmp(s, "FAIL", 4) == 0) {
        return &pdf_report_badge_fail;
    }

    return &pdf_report_badge_other;
}


/*
 * "1988-04-12" as "1988-04-12 (age 37)", the age on the generation date
 * in UTC; any other string as it is.
 */

static const char *
pdf_report_dob(const char *s, size_t len, int64_t now_ms, char *buf,
    size_t size)
{
    int        y, m, d, age, mdays;
    time_t     t;
    struct tm  tm;

    if (len != 10 || s[4] != '-' || s[7] != '-'
        || !pdf_report_digits(s, 4) || !pdf_report_digits(s + 5, 2)
        || !pdf_report_digits(s + 8, 2))
    {
        return s;
    }

    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);

    if (m < 1 || m > 12 || d < 1) {
        return s;
    }

    mdays = (m == 2) ? ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
                        ? 29 : 28)
            : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;

    t = (time_t) (now_ms / 1000);

    if (d > mdays || gmtime_r(&t, &tm) == NULL) {
        return s;
    }

    age = tm.tm_year + 1900 - y;

    if (tm.tm_mon + 1 < m || (tm.tm_mon + 1 == m && tm.tm_mday < d)) {
        age--;
    }

    if (age < 0) {
        return s;
    }

    snprintf(buf, size, "%.10s (age %d)", s, age);

    return buf;
}


/*
 * "2025-01-10T09:00:00.000Z" (seconds and fraction optional) as
 * "2025-01-10 09:00 UTC"; anything else as it is.
 */

static const char *
pdf_report_datetime(const char *s, size_t len, char *buf, size_t size)
{
    size_t  i;

    if (len < 17 || s[len - 1] != 'Z' || s[4] != '-' || s[7] != '-'
        || (s[10] != 'T' && s[10] != ' ') || s[13] != ':'
        || !pdf_report_digits(s, 4) || !pdf_report_digits(s + 5, 2)
        || !pdf_report_digits(s + 8, 2) || !pdf_report_digits(s + 11, 2)
        || !pdf_report_digits(s + 14, 2))
    {
        return s;
    }

    for (i = 16; i < len - 1; i++) {
        if ((s[i] < '0' || s[i] > '9') && s[i] != ':' && s[i] != '.') {
            return s;
        }
    }

    snprintf(buf, size, "%.10s %.5s UTC", s, s + 11);

    return buf;
}


/*
 * A 0..1 score as a percentage with one decimal, in integer arithmetic
 * (printf's %f would follow the locale); another number as it is, marked.
 */

static const char *
pdf_report_percent(const json_t *v, char *buf, size_t size)
{
    char    *raw;
    double   d;
    long     t;

    if (!json_is_number(v)) {
        return NULL;
    }

    d = json_number_value(v);

    if (d >= 0.0 && d <= 1.0) {
        t = (long) (d * 1000.0 + 0.5);
        snprintf(buf, size, "%ld.%ld%%", t / 10, t % 10);
        return buf;
    }

    raw = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    if (raw == NULL) {
        return NULL;
    }

    snprintf(buf, size, "%.30s (not a 0 to 1 score)", raw);
    free(raw);

    return buf;
}


static int
pdf_report_digits(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/*
 * s as code points libharu can draw.  Invalid UTF-8 and characters past
 * U+FFFF (libharu's UTF-8 encoder silently turns those into spaces)
 * become U+FFFD; control characters and no-break spaces become spaces,
 * except line breaks, which stay as '\n'; invisible format characters
 * go, and so does white space at both ends.  A character
 * the font lacks stays: libharu draws the font's .notdef glyph for it (a
 * box in DejaVu) and text extraction still gives the character back.
 */

static int
pdf_report_decode(pdf_report_ctx_t *ctx, pdf_report_text_t *t, const char *s,
    size_t len)
{
    size_t                i, n, need;
    uint32_t              c, min;
    const unsigned char  *p;

    memset(t, 0, sizeof(pdf_report_text_t));

    t->cp = malloc((len + 1) * sizeof(HPDF_UINT16));
    if (t->cp == NULL) {
        pdf_report_fail(ctx, "no memory for a %zu byte value", len);
        return -1;
    }

    p = (const unsigned char *) s;
    n = 0;

    for (i = 0; i < len; /* void */ ) {
        c = p[i];

        if (c < 0x80) {
            need = 0;
            min = 0;

        } else if ((c & 0xe0) == 0xc0) {
            need = 1;
            c &= 0x1f;
            min = 0x80;

        } else if ((c & 0xf0) == 0xe0) {
            need = 2;
            c &= 0x0f;
            min = 0x800;

        } else if ((c & 0xf8) == 0xf0) {
            need = 3;
            c &= 0x07;
            min = 0x10000;

        } else {
            t->cp[n++] = PDF_REPORT_REPLACEMENT;
            i++;
            continue;
        }

        if (len - i <= need) {
            t->cp[n++] = PDF_REPORT_REPLACEMENT;
            i++;
            continue;
        }

        i++;

        while (need > 0) {
            if ((p[i] & 0xc0) != 0x80) {
                c = 0xfffffff;       /* invalid: the byte starts anew */
                break;
            }

            c = (c << 6) | (p[i++] & 0x3f);
            need--;
        }

        if (c < min || c > 0xffff || (c >= 0xd800 && c <= 0xdfff)) {
            c = PDF_REPORT_REPLACEMENT;

        } else if (c == '\r') {
            c = '\n';

            if (i < len && p[i] == '\n') {
                i++;
            }

        } else if (c == 0x2028 || c == 0x2029) {
            c = '\n';

        } else if (c == 0xa0) {
            c = ' ';

        } else if ((c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e)
                   || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff)
        {
            /*
             * invisible format characters: libharu has no use for them
             * (no bidi, no shaping) and a font may draw them as boxes
             */
            continue;

        } else if (c == '\t' || (c < 0x20 && c != '\n')
                   || (c >= 0x7f && c < 0xa0))
        {
            c = ' ';
        }

        t->cp[n++] = (HPDF_UINT16) c;
    }

    /* trim white space at both ends */

    for (i = 0; i < n && (t->cp[i] == ' ' || t->cp[i] == '\n'); i++) {
        /* void */
    }

    while (n > i && (t->cp[n - 1] == ' ' || t->cp[n - 1] == '\n')) {
        n--;
    }

    memmove(t->cp, t->cp + i, (n - i) * sizeof(HPDF_UINT16));
    t->n = n - i;

    return 0;
}


/*
 * Greedy line breaking by the font's advance widths (libharu does no
 * kerning, so these are exactly the drawn widths): lines end at '\n', or
 * before the last space, or after the last '-', '/' or '@' that fits;
 * a word wider than the line breaks where it must.
 */

static int
pdf_report_layout(pdf_report_ctx_t *ctx, pdf_report_text_t *t,
    int bold, float size, float max_width)
{
    size_t       i, start, brk_end, brk_next, end, next;
    float        w, cw;
    HPDF_UINT16  c;

    t->font = bold ? ctx->bold : ctx->regular;
    t->bold = bold;
    t->size = size;
    t->lines = 0;

    start = 0;
    brk_end = 0;
    brk_next = 0;
    w = 0;

    for (i = 0; i <= t->n; i++) {

        if (i == t->n || t->cp[i] == '\n') {

            /* a blank line carries nothing in a report: dropped */

            for (end = start; end < i && t->cp[end] == ' '; end++) {
                /* void */
            }

            if ((end < i || (i == t->n && t->lines == 0))
                && pdf_report_add_line(ctx, t, start, i) != 0)
            {
                return -1;
            }

            start = i + 1;
            brk_end = 0;
            w = 0;
            continue;
        }

        c = t->cp[i];
        cw = HPDF_Font_GetUnicodeWidth(t->font, c) * size / 1000;

        /* twice at most: the rest after a break may still be too wide */

        while (c != ' ' && w + cw > max_width && i > start) {

            if (brk_end > start) {
                end = brk_end;
                next = brk_next;

            } else {
                end = i;
                next = i;
            }

            if (pdf_report_add_line(ctx, t, start, end) != 0) {
                return -1;
            }

            start = next;

            while (start < i && t->cp[start] == ' ') {
                start++;
            }

            w = pdf_report_width(t, start, i);
            brk_end = 0;
        }

        w += cw;

        if (c == ' ') {
            brk_end = i;
            brk_next = i + 1;

        } else if (c == '-' || c == '/' || c == '@') {
            brk_end = i + 1;
            brk_next = i + 1;
        }
    }

    return 0;
}


static int
pdf_report_add_line(pdf_report_ctx_t *ctx, pdf_report_text_t *t,
    size_t start, size_t end)
{
    size_t   cap;
    void    *p;

    if (t->lines == t->cap) {
        cap = t->cap ? 2 * t->cap : 8;

        p = realloc(t->start, cap * sizeof(size_t));
        if (p == NULL) {
            goto nomem;
        }

        t->start = p;

        p = realloc(t->end, cap * sizeof(size_t));
        if (p == NULL) {
            goto nomem;
        }

        t->end = p;

        p = realloc(t->width, cap * sizeof(float));
        if (p == NULL) {
            goto nomem;
        }

        t->width = p;
        t->cap = cap;
    }

    while (start < end && (t->cp[start] == ' ' || t->cp[start] == '\n')) {
        start++;
    }

    while (end > start && t->cp[end - 1] == ' ') {
        end--;
    }

    t->start[t->lines] = start;
    t->end[t->lines] = end;
    t->width[t->lines] = pdf_report_width(t, start, end);
    t->lines++;

    return 0;

nomem:

    pdf_report_fail(ctx, "no memory for line breaking");

    return -1;
}


static float
pdf_report_width(pdf_report_text_t *t, size_t start, size_t end)
{
    size_t  i;
    float   w;

    w = 0;

    for (i = start; i < end; i++) {
        w += HPDF_Font_GetUnicodeWidth(t->font, t->cp[i]);
    }

    return w * t->size / 1000;
}


static void
pdf_report_text_free(pdf_report_text_t *t)
{
    free(t->cp);
    free(t->start);
    free(t->end);
    free(t->width);

    memset(t, 0, sizeof(pdf_report_text_t));
}


static int
pdf_report_wrapped(pdf_report_ctx_t *ctx, const char *s, size_t len,
    int bold, float size, float max_width, pdf_report_text_t *t)
{
    if (pdf_report_decode(ctx, t, s, len) != 0) {
        return -1;
    }

    if (pdf_report_layout(ctx, t, bold, size, max_width) != 0) {
        pdf_report_text_free(t);
        return -1;
    }

    return 0;
}


/* line i as UTF-8 in the context's buffer, valid until the next call */

static const char *
pdf_report_line(pdf_report_ctx_t *ctx, pdf_report_text_t *t, size_t line)
{
    size_t  n;

    n = t->end[line] - t->start[line];

    if (pdf_report_reserve(ctx, 3 * n + 1) != 0) {
        return NULL;
    }

    n = pdf_report_utf8(ctx->buf, t->cp + t->start[line], n);
    ctx->buf[n] = '\0';

    return ctx->buf;
}


static size_t
pdf_report_utf8(char *dst, const HPDF_UINT16 *cp, size_t n)
{
    size_t          i;
    unsigned char  *p;

    p = (unsigned char *) dst;

    for (i = 0; i < n; i++) {
        if (cp[i] < 0x80) {
            *p++ = (unsigned char) cp[i];

        } else if (cp[i] < 0x800) {
            *p++ = (unsigned char) (0xc0 | (cp[i] >> 6));
            *p++ = (unsigned char) (0x80 | (cp[i] & 0x3f));

        } else {
            *p++ = (unsigned char) (0xe0 | (cp[i] >> 12));
            *p++ = (unsigned char) (0x80 | ((cp[i] >> 6) & 0x3f));
            *p++ = (unsigned char) (0x80 | (cp[i] & 0x3f));
        }
    }

    return p - (unsigned char *) dst;
}


static int
pdf_report_reserve(pdf_report_ctx_t *ctx, size_t size)
{
    char  *p;

    if (size <= ctx->buf_size) {
        return 0;
    }

    size = (size < 256) ? 256 : size;

    p = realloc(ctx->buf, size);
    if (p == NULL) {
        pdf_report_fail(ctx, "no memory for a line of text");
        return -1;
    }

    ctx->buf = p;
    ctx->buf_size = size;

    return 0;
}


static void
pdf_report_show(pdf_report_ctx_t *ctx, int bold, float size,
    const pdf_report_rgb_t *rgb, float x, float y, const char *text)
{
    HPDF_Page  page;

    page = ctx->page;

    if (text == NULL || text[0] == '\0') {
        return;
    }

    HPDF_Page_BeginText(page);
    HPDF_Page_SetFontAndSize(page, bold ? ctx->bold : ctx->regular, size);
    HPDF_Page_SetRGBFill(page, rgb->r, rgb->g, rgb->b);

    if (ctx->fake_bold) {
        /* the text render mode outlives the text object: always set it */

        if (bold) {
            HPDF_Page_SetTextRenderingMode(page, HPDF_FILL_THEN_STROKE);
            HPDF_Page_SetRGBStroke(page, rgb->r, rgb->g, rgb->b);
            HPDF_Page_SetLineWidth(page, size * 0.045f);

        } else {
            HPDF_Page_SetTextRenderingMode(page, HPDF_FILL);
        }
    }

    HPDF_Page_TextOut(page, x, y, text);
    HPDF_Page_EndText(page);

    pdf_report_mark(ctx->shown[bold ? 1 : 0], text);
}


/* the code points of valid UTF-8 text (the renderer's own) into a set */

static void
pdf_report_mark(unsigned char *shown, const char *text)
{
    uint32_t              c;
    const unsigned char  *p;

    p = (const unsigned char *) text;

    while (*p != '\0') {
        if (p[0] < 0x80) {
            c = *p++;

        } else if ((p[0] & 0xe0) == 0xc0 && p[1] != '\0') {
            c = ((p[0] & 0x1f) << 6) | (p[1] & 0x3f);
            p += 2;

        } else if ((p[0] & 0xf0) == 0xe0 && p[1] != '\0' && p[2] != '\0') {
            c = ((p[0] & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f);
            p += 3;

        } else {
            p++;
            continue;
        }

        shown[c >> 3] |= (unsigned char) (1 << (c & 7));
    }
}


static void
pdf_report_show_right(pdf_report_ctx_t *ctx, int bold, float size,
    const pdf_report_rgb_t *rgb, float right, float y, const char *text)
{
    HPDF_TextWidth  tw;

    tw = HPDF_Font_TextWidth(bold ? ctx->bold : ctx->regular,
                             (const HPDF_BYTE *) text, strlen(text));

    pdf_report_show(ctx, bold, size, rgb, right - tw.width * size / 1000, y,
                    text);
}


static void
pdf_report_rule(pdf_report_ctx_t *ctx, float y, float width,
    const pdf_report_rgb_t *rgb)
{
    HPDF_Page_SetRGBStroke(ctx->page, rgb->r, rgb->g, rgb->b);
    HPDF_Page_SetLineWidth(ctx->page, width);
    HPDF_Page_MoveTo(ctx->page, PDF_REPORT_LEFT, y);
    HPDF_Page_LineTo(ctx->page, PDF_REPORT_RIGHT, y);
    HPDF_Page_Stroke(ctx->page);
}


static void
pdf_report_rect(pdf_report_ctx_t *ctx, float x, float y, float w, float h,
    const pdf_report_rgb_t *rgb)
{
    HPDF_Page_SetRGBFill(ctx->page, rgb->r, rgb->g, rgb->b);
    HPDF_Page_Rectangle(ctx->page, x, y, w, h);
    HPDF_Page_Fill(ctx->page);
}
