
/*
 * pdf-report-render: the module's renderer from the command line, to look
 * at a report without nginx, and to time it.
 *
 *   pdf-report-render [-r regular.ttf] [-b bold.ttf] [-t time] [-n count]
 *                     [-w] user.json org_id job_id out.pdf
 *
 * user.json holds one user record (contract section 4); time is ISO 8601
 * UTC ("2025-05-05T10:00:00Z", fraction optional) or milliseconds since
 * the epoch, and defaults to now; count renders that many times in this
 * process and reports the median, 90th percentile and mean time of one
 * render (bench/render uses it); -w embeds the fonts whole, as libharu
 * does by itself, to measure what subsetting saves.  "-" as out.pdf
 * writes to stdout.  The size and times go to stderr.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "pdf_report_render.h"
#include "pdf_report_util.h"


static int pdf_report_cli_time(const char *s, int64_t *ms);
static int pdf_report_cli_write(const char *path, const unsigned char *data,
    size_t len);
static double pdf_report_cli_now(void);
static int pdf_report_cli_cmp(const void *a, const void *b);
static void pdf_report_cli_usage(void);


int
main(int argc, char **argv)
{
    int                        c, rc;
    long                       count, i;
    char                       err[256];
    double                     start, *spent, total;
    size_t                     len;
    json_t                    *user;
    json_error_t               jerr;
    unsigned char             *pdf;
    pdf_report_render_conf_t   conf;
    pdf_report_render_input_t  in;

    memset(&conf, 0, sizeof(pdf_report_render_conf_t));
    memset(&in, 0, sizeof(pdf_report_render_input_t));

    in.generated_ms = pdf_report_now_ms();
    count = 1;

    while ((c = getopt(argc, argv, "r:b:t:n:wh")) != -1) {
        switch (c) {

        case 'r':
            conf.font_regular = optarg;
            break;

        case 'b':
            conf.font_bold = optarg;
            break;

        case 't':
            if (pdf_report_cli_time(optarg, &in.generated_ms) != 0) {
                fprintf(stderr, "pdf-report-render: bad time \"%s\"\n",
                        optarg);
                return 2;
            }

            break;

        case 'n':
            count = strtol(optarg, NULL, 10);

            if (count < 1 || count > 100000) {
                fprintf(stderr, "pdf-report-render: bad count \"%s\"\n",
                        optarg);
                return 2;
            }

            break;

        case 'w':
            conf.whole_fonts = 1;
            break;

        default:
            pdf_report_cli_usage();
            return 2;
        }
    }

    if (argc - optind != 4) {
        pdf_report_cli_usage();
        return 2;
    }

    user = json_load_file(argv[optind], 0, &jerr);

    if (user == NULL) {
        fprintf(stderr, "pdf-report-render: %s:%d: %s\n", argv[optind],
                jerr.line, jerr.text);
        return 1;
    }

    in.user = user;
    in.org_id = argv[optind + 1];
    in.job_id = argv[optind + 2];

    spent = malloc(count * sizeof(double));
    if (spent == NULL) {
        json_decref(user);
        fprintf(stderr, "pdf-report-render: no memory\n");
        return 1;
    }

    pdf = NULL;
    len = 0;
    rc = 0;
    total = 0;

    for (i = 0; i < count; i++) {
        free(pdf);
        pdf = NULL;

        start = pdf_report_cli_now();
        rc = pdf_report_render(&conf, &in, &pdf, &len, err, sizeof(err));
        spent[i] = pdf_report_cli_now() - start;
        total += spent[i];

        if (rc != 0) {
            break;
        }
    }

    json_decref(user);

    if (rc != 0) {
        free(spent);
        fprintf(stderr, "pdf-report-render: %s\n", err);
        return 1;
    }

    rc = pdf_report_cli_write(argv[optind + 3], pdf, len);
    free(pdf);

    if (rc != 0) {
        free(spent);
        return 1;
    }

    if (count == 1) {
        fprintf(stderr, "%s: %zu bytes, rendered in %.1f ms\n",
                argv[optind + 3], len, spent[0] * 1000);

    } else {
        /* the nearest-rank percentiles of the sorted times */

        qsort(spent, count, sizeof(double), pdf_report_cli_cmp);

        fprintf(stderr, "%s: %zu bytes, %ld renders: median %.2f ms, "
                "p90 %.2f ms, mean %.2f ms\n", argv[optind + 3], len, count,
                spent[(count + 1) / 2 - 1] * 1000,
                spent[(9 * count + 9) / 10 - 1] * 1000,
                total / count * 1000);
    }

    free(spent);

    return 0;
}


/* "2025-05-05T10:00:00Z", "2025-05-05T10:00:00.123Z" or milliseconds */

static int
pdf_report_cli_time(const char *s, int64_t *ms)
{
    int        n, frac;
    char      *end;
    struct tm  tm;
    long long  v;

    if (s[0] >= '0' && s[0] <= '9' && strchr(s, '-') == NULL) {
        v = strtoll(s, &end, 10);

        if (*end != '\0') {
            return -1;
        }

        *ms = v;
        return 0;
    }

    memset(&tm, 0, sizeof(struct tm));
    n = 0;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n)
        != 6)
    {
        return -1;
    }

    s += n;
    frac = 0;

    if (*s == '.') {
        for (n = 0, s++; *s >= '0' && *s <= '9'; s++, n++) {
            if (n < 3) {
                frac = frac * 10 + (*s - '0');
            }
        }

        for ( /* void */ ; n < 3; n++) {
            frac *= 10;
        }
    }

    if (strcmp(s, "Z") != 0) {
        return -1;
    }

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;

    *ms = (int64_t) timegm(&tm) * 1000 + frac;

    return 0;
}


static int
pdf_report_cli_write(const char *path, const unsigned char *data,
    size_t len)
{
    FILE  *f;

    f = (strcmp(path, "-") == 0) ? stdout : fopen(path, "wb");

    if (f == NULL) {
        perror(path);
        return -1;
    }

    if (fwrite(data, 1, len, f) != len || fflush(f) != 0) {
        perror(path);

        if (f != stdout) {
            fclose(f);
        }

        return -1;
    }

    if (f != stdout && fclose(f) != 0) {
        perror(path);
        return -1;
    }

    return 0;
}


static double
pdf_report_cli_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int
pdf_report_cli_cmp(const void *a, const void *b)
{
    double  x, y;

    x = *(const double *) a;
    y = *(const double *) b;

    return (x > y) - (x < y);
}


static void
pdf_report_cli_usage(void)
{
    fprintf(stderr,
            "usage: pdf-report-render [-r regular.ttf] [-b bold.ttf] "
            "[-t time] [-n count] [-w]\n"
            "                         user.json org_id job_id out.pdf\n"
            "  time: ISO 8601 UTC (2025-05-05T10:00:00Z) or epoch ms; "
            "default now\n"
            "  count: render that many times, report median, p90 and "
            "mean time\n"
            "  -w: embed the fonts whole (libharu's way), to measure\n");
}
