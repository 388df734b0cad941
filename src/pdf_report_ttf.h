
/*
 * TrueType subsetting for the renderer: from a face libharu has parsed
 * (and marked the glyphs drawn in, components included), a font file
 * with the outlines, metrics and hinting of those glyphs only, at their
 * own glyph ids, and the tables a CIDFontType2 needs (ISO 32000-1, 9.9).
 * No nginx dependency.
 */


#ifndef _PDF_REPORT_TTF_H_INCLUDED_
#define _PDF_REPORT_TTF_H_INCLUDED_


#include <stddef.h>
#include <hpdf.h>


/*
 * 0 and *file (malloc()ed, *len bytes) on success; -1 when the font
 * cannot be subset (a table missing or out of bounds, no memory), and
 * then libharu may have noted a failed read in the document's error.
 */
int pdf_report_ttf_subset(HPDF_TTFontDefAttr tt, unsigned char **file,
    size_t *len);


#endif /* _PDF_REPORT_TTF_H_INCLUDED_ */
