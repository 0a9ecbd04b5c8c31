/* tg_tiff_calibration.c — the spacing of a TIFF stack, read as ImageJ/Fiji reads it and written so that Fiji opens
 * the stack calibrated. Used by tg_tiff_read.c (info, read) and tg_tiff_write.c.
 *
 * CALIBRATION (as ImageJ/Fiji read it, so numbers match Image > Properties): the unit comes from the ImageJ
 * description (`unit=micron`; also µm/um/\u00B5m, nm, mm, cm, m, inch, Å), else from ResolutionUnit (inch, cm);
 * x/y spacing = 1 / X/YResolution (pixels per unit) in that unit; z spacing = the description's `spacing=`, or
 * ImageJ's default of 1 unit when it is absent (info->z_calibrated = 0 then). Everything is converted to metres.
 * No unit ("pixel", none, unknown) → spacing 1, 1, 1 (unitless), info->calibrated = 0.
 *
 * WRITING: the description `ImageJ=1.53t images= slices= unit= spacing= loop=false` (+ `min= max=` for i32/f32/f64,
 * ImageJ's display range), X/YResolution in pixels per unit, ResolutionUnit none (ImageJ's convention for units
 * other than inch/cm). The unit is nm when the x spacing is below 100 nm, micron otherwise; spacing 1,1,1 (unknown)
 * writes no calibration.
 * COST: string work on the description and a few tags; the description's min/max is one pass over the volume
 * (tg_volume_stats) for i32/f32/f64. No allocation. Single-threaded.
 */
#include "io/tg_tiff_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------------------------
 * Reading: ImageJ / TIFF calibration
 * ------------------------------------------------------------------------------------------------------------ */

/* Metres per unit; 0 for no unit or an unknown one. */
static double tt_unit_scale(const char *u)
{
    static const struct { const char *name; double m; } units[] = {
        {"micron", 1e-6}, {"microns", 1e-6}, {"um", 1e-6}, {"\xc2\xb5m", 1e-6}, {"\xce\xbcm", 1e-6},
        {"\xb5m", 1e-6}, {"\\u00B5m", 1e-6}, {"\\u00b5m", 1e-6}, {"micrometer", 1e-6}, {"micrometre", 1e-6},
        {"micrometers", 1e-6}, {"micrometres", 1e-6},
        {"nm", 1e-9}, {"nanometer", 1e-9}, {"nanometre", 1e-9}, {"nanometers", 1e-9}, {"nanometres", 1e-9},
        {"mm", 1e-3}, {"millimeter", 1e-3}, {"millimetre", 1e-3}, {"cm", 1e-2}, {"centimeter", 1e-2},
        {"centimetre", 1e-2}, {"m", 1.0}, {"meter", 1.0}, {"metre", 1.0}, {"meters", 1.0}, {"metres", 1.0},
        {"inch", 0.0254}, {"inches", 0.0254}, {"in", 0.0254},
        {"A", 1e-10}, {"\xc3\x85", 1e-10}, {"\xc5", 1e-10}, {"angstrom", 1e-10}, {"\\u00C5", 1e-10},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(u, units[i].name) == 0) return units[i].m;
    return 0.0;
}

/* Value of `key=` on its own line of an ImageJ description, copied into out (NUL-terminated). */
int tg_tiff__ij_value(const char *desc, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *line = desc; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            const char *v = line + kl + 1;
            size_t len = strcspn(v, "\r\n");
            if (len >= n) len = n - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return 1;
        }
    }
    return 0;
}

void tg_tiff__note(tg_tiff_info_t *o, const char *s)
{
    size_t have = strlen(o->note);
    snprintf(o->note + have, sizeof o->note - have, "%s%s", have ? "; " : "", s);
}

void tg_tiff__read_calibration(TIFF *tif, tg_tiff_info_t *o)
{
    char *desc = NULL, unit[24] = "", v[64];
    double zsp = 0;
    o->spacing[0] = o->spacing[1] = o->spacing[2] = 1.0;
    if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc && strncmp(desc, "ImageJ=", 7) == 0) {
        o->imagej = 1;
        tg_tiff__ij_value(desc, "unit", unit, sizeof unit);
        if (tg_tiff__ij_value(desc, "spacing", v, sizeof v)) zsp = strtod(v, NULL);
    }
    uint16_t ru = 0;
    if (!unit[0] && TIFFGetField(tif, TIFFTAG_RESOLUTIONUNIT, &ru)) {
        if (ru == RESUNIT_INCH) strcpy(unit, "inch");
        else if (ru == RESUNIT_CENTIMETER) strcpy(unit, "cm");
    }
    snprintf(o->unit, sizeof o->unit, "%s", unit);
    double scale = tt_unit_scale(unit);
    if (scale <= 0) {
        if (unit[0] && strcmp(unit, "pixel") != 0 && strcmp(unit, "pixels") != 0 && strcmp(unit, " ") != 0)
            tg_tiff__note(o, "unknown unit, spacing left at 1");
        return;
    }
    float xr = 0, yr = 0;
    TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr);
    o->spacing[0] = (xr > 0 && isfinite(xr)) ? scale / xr : scale;
    o->spacing[1] = (yr > 0 && isfinite(yr)) ? scale / yr : o->spacing[0];
    o->z_calibrated = zsp > 0 && isfinite(zsp);
    /* Without spacing= ImageJ assumes a depth of 1 unit (1 inch for a 72 dpi file): a voxel thousands of times
     * deeper than wide, which silently changes every transport and surface result. Cubic voxels are the safer
     * guess; the note says so, and the user sets the true spacing with v:spacing{...}. */
    o->spacing[2] = o->z_calibrated ? zsp * scale : o->spacing[0];
    if (!o->z_calibrated) tg_tiff__note(o, "no slice spacing in the file: z spacing taken equal to the x spacing");
    o->calibrated = 1;
}

/* ------------------------------------------------------------------------------------------------------------
 * Writing: the ImageJ calibration and description
 * ------------------------------------------------------------------------------------------------------------ */


void tg_tiff__write_calibration(const tg_volume *v, tg_tiff__cal *c) { tg_tiff__calibration_of(v->spacing, c); }

void tg_tiff__calibration_of(const double spacing[3], tg_tiff__cal *c)
{
    const double *s = spacing;
    memset(c, 0, sizeof *c);
    int unknown = s[0] == 1.0 && s[1] == 1.0 && s[2] == 1.0;
    int valid = s[0] > 0 && s[1] > 0 && s[2] > 0 && isfinite(s[0]) && isfinite(s[1]) && isfinite(s[2]);
    if (unknown || !valid) return;
    c->calibrated = 1;
    c->unit = s[0] < 1e-7 ? "nm" : "micron";
    c->scale = s[0] < 1e-7 ? 1e-9 : 1e-6;
    c->xres = c->scale / s[0];
    c->yres = c->scale / s[1];
    c->zspacing = s[2] / c->scale;
}

void tg_tiff__description_of(int64_t nz, tg_dtype dtype, const tg_tiff__cal *c, int range, double lo, double hi,
                             char *d, size_t n)
{
    size_t k = (size_t)snprintf(d, n, "ImageJ=1.53t\n");
    if (nz > 1) k += (size_t)snprintf(d + k, n - k, "images=%lld\nslices=%lld\n", (long long)nz, (long long)nz);
    if (c->calibrated) {
        k += (size_t)snprintf(d + k, n - k, "unit=%s\n", c->unit);
        if (nz > 1) k += (size_t)snprintf(d + k, n - k, "spacing=%.15g\n", c->zspacing);
    }
    k += (size_t)snprintf(d + k, n - k, "loop=false\n");
    if (range && (dtype == TG_I32 || dtype == TG_F32 || dtype == TG_F64))
        snprintf(d + k, n - k, "min=%.15g\nmax=%.15g\n", lo, hi);
}

tg_status tg_tiff__description(tg_ctx *ctx, const tg_volume *v, const tg_tiff__cal *c, char *d, size_t n)
{
    tg_stats s = {0};
    if (v->dtype == TG_I32 || v->dtype == TG_F32 || v->dtype == TG_F64) {
        tg_status st = tg_volume_stats(ctx, v, &s);
        if (st) return st;
    }
    int range = s.count > 0 && isfinite(s.min) && isfinite(s.max);
    tg_tiff__description_of(v->dims[2], v->dtype, c, range, s.min, s.max, d, n);
    return TG_OK;
}
