
/*
 * A TrueType font file of the glyphs a document uses; see
 * pdf_report_ttf.h.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdf_report_ttf.h"


#define PDF_REPORT_TTF_TABLES    12        /* at most, in a subset */


static unsigned char *pdf_report_ttf_table(HPDF_TTFontDefAttr tt,
    const char *tag, size_t *len);
static int pdf_report_ttf_glyphs(HPDF_TTFontDefAttr tt, unsigned char **glyf,
    size_t *glyf_len, unsigned char **loca, size_t *loca_len);
static int pdf_report_ttf_hmtx(HPDF_TTFontDefAttr tt, unsigned char *hmtx,
    size_t len);
static unsigned char *pdf_report_ttf_name(const unsigned char *name,
    size_t len, size_t *out_len);
static int pdf_report_ttf_name_kept(const unsigned char *name, size_t len,
    size_t strings, size_t i, size_t *off, size_t *size);
static unsigned char *pdf_report_ttf_write(unsigned char **data,
    size_t *len, const char *const *tags, size_t n, size_t *out_len);
static uint32_t pdf_report_ttf_sum(const unsigned char *p, size_t len);


int
pdf_report_ttf_subset(HPDF_TTFontDefAttr tt, unsigned char **file,
    size_t *file_len)
{
    int             rc;
    size_t          i, len[PDF_REPORT_TTF_TABLES];
    unsigned char  *data[PDF_REPORT_TTF_TABLES], *name;

    /*
     * In the order of their tags, as the table directory lists them.
     * Hinting (cvt, fpgm, prep) stays with the glyphs' instructions: a
     * few KB that keep the faces as their designers hinted them.  The
     * name table keeps the names and the copyright notice, which the
     * font's licence asks copies to carry.  No cmap, kern, GPOS, GSUB:
     * the document maps codes to glyphs itself and libharu positions
     * glyphs by their advance widths alone.
     */

    static const char  *tags[PDF_REPORT_TTF_TABLES] = {
        "OS/2", "cvt ", "fpgm", "glyf", "head", "hhea", "hmtx", "loca",
        "maxp", "name", "post", "prep"
    };

    enum { OS2, CVT, FPGM, GLYF, HEAD, HHEA, HMTX, LOCA, MAXP, NAME, POST,
           PREP };

    memset(data, 0, sizeof(data));
    memset(len, 0, sizeof(len));
    *file = NULL;
    rc = -1;

    for (i = 0; i < PDF_REPORT_TTF_TABLES; i++) {
        if (i != GLYF && i != LOCA) {
            data[i] = pdf_report_ttf_table(tt, tags[i], &len[i]);
        }
    }

    /* without these it is no TrueType font to us */

    if (data[HEAD] == NULL || len[HEAD] < 54 || data[HHEA] == NULL
        || data[MAXP] == NULL || data[HMTX] == NULL
        || pdf_report_ttf_hmtx(tt, data[HMTX], len[HMTX]) != 0
        || pdf_report_ttf_glyphs(tt, &data[GLYF], &len[GLYF], &data[LOCA],
                                 &len[LOCA])
           != 0)
    {
        goto done;
    }

    /* checkSumAdjustment: set once the file is complete */
    memset(data[HEAD] + 8, 0, 4);

    if (data[NAME] != NULL) {
        name = pdf_report_ttf_name(data[NAME], len[NAME], &len[NAME]);
        free(data[NAME]);
        data[NAME] = name;
    }

    if (data[POST] != NULL) {
        /* version 3: the header, without glyph names */

        if (len[POST] >= 32) {
            memcpy(data[POST], "\x00\x03\x00\x00", 4);
            len[POST] = 32;

        } else {
            free(data[POST]);
            data[POST] = NULL;
        }
    }

    *file = pdf_report_ttf_write(data, len, tags, PDF_REPORT_TTF_TABLES,
                                 file_len);
    rc = (*file != NULL) ? 0 : -1;

done:

    for (i = 0; i < PDF_REPORT_TTF_TABLES; i++) {
        free(data[i]);
    }

    return rc;
}


/* a copy of one table of the font file, or NULL */

static unsigned char *
pdf_report_ttf_table(HPDF_TTFontDefAttr tt, const char *tag, size_t *len)
{
    HPDF_UINT       i, size;
    HPDF_TTFTable  *t;
    unsigned char  *p;

    *len = 0;

    for (i = 0; i < tt->offset_tbl.num_tables; i++) {
        t = &tt->offset_tbl.table[i];

        if (memcmp(t->tag, tag, 4) != 0) {
            continue;
        }

        /* the tables kept are small; glyf is read glyph by glyph */
        if (t->length > 1024 * 1024) {
            return NULL;
        }

        p = malloc(t->length + 1);
        if (p == NULL) {
            return NULL;
        }

        size = t->length;

        if (HPDF_Stream_Seek(tt->stream, t->offset, HPDF_SEEK_SET)
            != HPDF_OK
            || (size > 0 && HPDF_Stream_Read(tt->stream, p, &size) != HPDF_OK)
            || size != t->length)
        {
            free(p);
            return NULL;
        }

        *len = size;

        return p;
    }

    return NULL;
}


/*
 * glyf with the used glyphs (glyph 0, .notdef, always: the box drawn for
 * a character the font lacks) and loca in the font's own format; the
 * others keep their ids, with no outline.
 */

static int
pdf_report_ttf_glyphs(HPDF_TTFontDefAttr tt, unsigned char **glyf,
    size_t *glyf_len, unsigned char **loca, size_t *loca_len)
{
    size_t          i, n, unit, total, pos, start, end, glyf_size;
    HPDF_UINT       size;
    HPDF_TTFTable  *t;
    unsigned char  *g, *l;

    n = tt->num_glyphs;
    unit = (tt->header.index_to_loc_format == 0) ? 2 : 1;
    glyf_size = 0;

    for (i = 0; i < tt->offset_tbl.num_tables; i++) {
        t = &tt->offset_tbl.table[i];

        if (memcmp(t->tag, "glyf", 4) == 0) {
            glyf_size = t->length;
        }
    }

    if (n == 0 || tt->glyph_tbl.offsets == NULL || tt->glyph_tbl.flgs == NULL)
    {
        return -1;
    }

    total = 0;

    for (i = 0; i < n; i++) {
        if (i > 0 && tt->glyph_tbl.flgs[i] != 1) {
            continue;
        }

        start = tt->glyph_tbl.offsets[i] * unit;
        end = tt->glyph_tbl.offsets[i + 1] * unit;

        if (end < start || end > glyf_size) {
            return -1;
        }

        /* short offsets count 2-byte words: an odd glyph gets padded */
        total += (end - start + 1) & ~(unit - 1);
    }

    g = malloc(total + 1);
    l = malloc((n + 1) * (unit == 2 ? 2 : 4));

    if (g == NULL || l == NULL) {
        free(g);
        free(l);
        return -1;
    }

    pos = 0;

    for (i = 0; i <= n; i++) {
        if (unit == 2) {
            l[2 * i] = (unsigned char) ((pos / 2) >> 8);
            l[2 * i + 1] = (unsigned char) (pos / 2);

        } else {
            l[4 * i] = (unsigned char) (pos >> 24);
            l[4 * i + 1] = (unsigned char) (pos >> 16);
            l[4 * i + 2] = (unsigned char) (pos >> 8);
            l[4 * i + 3] = (unsigned char) pos;
        }

        if (i == n || (i > 0 && tt->glyph_tbl.flgs[i] != 1)) {
            continue;
        }

        start = tt->glyph_tbl.offsets[i] * unit;
        end = tt->glyph_tbl.offsets[i + 1] * unit;
        size = (HPDF_UINT) (end - start);

        if (size == 0) {
            continue;
        }

        if (HPDF_Stream_Seek(tt->stream, tt->glyph_tbl.base_offset + start,
                             HPDF_SEEK_SET)
            != HPDF_OK
            || HPDF_Stream_Read(tt->stream, g + pos, &size) != HPDF_OK
            || size != end - start)
        {
            free(g);
            free(l);
            return -1;
        }

        pos += size;

        if (unit == 2 && (pos & 1)) {
            g[pos++] = 0;
        }
    }

    *glyf = g;
    *glyf_len = pos;
    *loca = l;
    *loca_len = (n + 1) * (unit == 2 ? 2 : 4);

    return 0;
}


/*
 * The metrics of unused glyphs zeroed: they compress to nothing.  Glyphs
 * past numberOfHMetrics take the last advance width, which stays.
 */

static int
pdf_report_ttf_hmtx(HPDF_TTFontDefAttr tt, unsigned char *hmtx, size_t len)
{
    size_t  i, n, nh;

    n = tt->num_glyphs;
    nh = tt->num_h_metric;

    if (nh == 0 || nh > n || len < 4 * nh + 2 * (n - nh)) {
        return -1;
    }

    for (i = 1; i < n; i++) {
        if (tt->glyph_tbl.flgs[i] == 1) {
            continue;
        }

        if (i < nh - 1) {
            memset(hmtx + 4 * i, 0, 4);

        } else if (i >= nh) {
            memset(hmtx + 4 * nh + 2 * (i - nh), 0, 2);
        }
    }

    return 0;
}


/*
 * A name table of the Windows-platform names 0 to 6: copyright, family,
 * subfamily, unique id, full name, version, PostScript name.  NULL when
 * the font has none (the table is optional in an embedded font).
 */

static unsigned char *
pdf_report_ttf_name(const unsigned char *name, size_t len, size_t *out_len)
{
    size_t          i, j, count, strings, k, n, off, size, at;
    unsigned char  *out, *rec;

    *out_len = 0;

    if (len < 6) {
        return NULL;
    }

    count = (name[2] << 8) | name[3];
    strings = (name[4] << 8) | name[5];

    if (6 + 12 * count > len || strings > len) {
        return NULL;
    }

    /* first the size: the kept records and their strings */

    k = 0;
    n = 0;

    for (i = 0; i < count; i++) {
        if (pdf_report_ttf_name_kept(name, len, strings, i, &off, &size)) {
            k++;
            n += size;
        }
    }

    if (k == 0) {
        return NULL;
    }

    out = malloc(6 + 12 * k + n);
    if (out == NULL) {
        return NULL;
    }

    out[0] = 0;
    out[1] = 0;
    out[2] = (unsigned char) (k >> 8);
    out[3] = (unsigned char) k;
    out[4] = (unsigned char) ((6 + 12 * k) >> 8);
    out[5] = (unsigned char) (6 + 12 * k);

    /* each kept record, and its string at the end of the strings so far */

    j = 0;
    at = 0;

    for (i = 0; i < count; i++) {
        if (!pdf_report_ttf_name_kept(name, len, strings, i, &off, &size)) {
            continue;
        }

        rec = out + 6 + 12 * j;
        memcpy(rec, name + 6 + 12 * i, 10);
        rec[10] = (unsigned char) (at >> 8);
        rec[11] = (unsigned char) at;

        memcpy(out + 6 + 12 * k + at, name + off, size);

        j++;
        at += size;
    }

    *out_len = 6 + 12 * k + at;

    return out;
}


/*
 * Whether name record i is one the subset keeps (Windows platform, names
 * 0 to 6, its string inside the table), and where its string is.
 */

static int
pdf_report_ttf_name_kept(const unsigned char *name, size_t len,
    size_t strings, size_t i, size_t *off, size_t *size)
{
    const unsigned char  *r;

    r = name + 6 + 12 * i;
    *off = strings + ((r[10] << 8) | r[11]);
    *size = (r[8] << 8) | r[9];

    return ((r[0] << 8) | r[1]) == 3 && ((r[6] << 8) | r[7]) <= 6
           && *off + *size <= len;
}


/*
 * An sfnt file of the tables given (NULL ones left out, the others in
 * the order given, which must be that of their tags), with the checksums
 * the format asks for.  NULL when out of memory.
 */

static unsigned char *
pdf_report_ttf_write(unsigned char **data, size_t *len,
    const char *const *tags, size_t n, size_t *out_len)
{
    size_t          i, k, size, pos, dir, pow2, log2, head;
    uint32_t        sum;
    unsigned char  *out, *e;

    k = 0;
    size = 0;

    for (i = 0; i < n; i++) {
        if (data[i] != NULL) {
            k++;
            size += (len[i] + 3) & ~(size_t) 3;
        }
    }

    dir = 12 + 16 * k;
    out = calloc(1, dir + size);

    if (out == NULL) {
        return NULL;
    }

    for (pow2 = 1, log2 = 0; pow2 * 2 <= k; pow2 *= 2, log2++) {
        /* void */
    }

    /* TrueType outlines, the table count, binary-search hints */

    memcpy(out, "\x00\x01\x00\x00", 4);
    out[4] = (unsigned char) (k >> 8);
    out[5] = (unsigned char) k;
    out[6] = (unsigned char) ((16 * pow2) >> 8);
    out[7] = (unsigned char) (16 * pow2);
    out[8] = (unsigned char) (log2 >> 8);
    out[9] = (unsigned char) log2;
    out[10] = (unsigned char) ((16 * (k - pow2)) >> 8);
    out[11] = (unsigned char) (16 * (k - pow2));

    pos = dir;
    head = 0;
    e = out + 12;

    for (i = 0; i < n; i++) {
        if (data[i] == NULL) {
            continue;
        }

        memcpy(out + pos, data[i], len[i]);
        sum = pdf_report_ttf_sum(out + pos, (len[i] + 3) & ~(size_t) 3);

        if (memcmp(tags[i], "head", 4) == 0) {
            head = pos;
        }

        memcpy(e, tags[i], 4);
        e[4] = (unsigned char) (sum >> 24);
        e[5] = (unsigned char) (sum >> 16);
        e[6] = (unsigned char) (sum >> 8);
        e[7] = (unsigned char) sum;
        e[8] = (unsigned char) (pos >> 24);
        e[9] = (unsigned char) (pos >> 16);
        e[10] = (unsigned char) (pos >> 8);
        e[11] = (unsigned char) pos;
        e[12] = (unsigned char) (len[i] >> 24);
        e[13] = (unsigned char) (len[i] >> 16);
        e[14] = (unsigned char) (len[i] >> 8);
        e[15] = (unsigned char) len[i];
        e += 16;

        pos += (len[i] + 3) & ~(size_t) 3;
    }

    /* head.checkSumAdjustment makes the whole file sum to B1B0AFBA */

    if (head != 0) {
        sum = 0xb1b0afba - pdf_report_ttf_sum(out, pos);
        out[head + 8] = (unsigned char) (sum >> 24);
        out[head + 9] = (unsigned char) (sum >> 16);
        out[head + 10] = (unsigned char) (sum >> 8);
        out[head + 11] = (unsigned char) sum;
    }

    *out_len = pos;

    return out;
}


/* the sum of big-endian 32-bit words; len is a multiple of 4 */

static uint32_t
pdf_report_ttf_sum(const unsigned char *p, size_t len)
{
    size_t    i;
    uint32_t  sum;

    sum = 0;

    for (i = 0; i + 4 <= len; i += 4) {
        sum += ((uint32_t) p[i] << 24) | ((uint32_t) p[i + 1] << 16)
               | ((uint32_t) p[i + 2] << 8) | p[i + 3];
    }

    return sum;
}
