/* Command-line helpers shared by the example programs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "opts.h"

#define EXIT_USAGE 2

static const char *prog = "wsguard";

void opts_init(const char *name)
{
    prog = name;
}

bool opts_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool opts_parse_seconds(const char *s, uint64_t lo_ms, uint64_t hi_ms,
                        uint64_t *out_ms)
{
    uint64_t whole = 0, frac = 0, scale = 1;
    const char *p = s;
    bool digits = false;

    if (!s)
        return false;
    for (; *p >= '0' && *p <= '9'; p++, digits = true) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > hi_ms)
            return false;
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, digits = true) {
            if (scale < 1000000000u) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
    }
    if (!digits || *p)
        return false;
    whole = whole * 1000 + (frac * 1000 + scale / 2) / scale;
    if (whole < lo_ms || whole > hi_ms)
        return false;
    *out_ms = whole;
    return true;
}

__attribute__((noreturn)) static void try_help(void)
{
    fprintf(stderr, "try '%s --help'\n", prog);
    exit(EXIT_USAGE);
}

void opts_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    try_help();
}

void opts_bad_value(const char *flag, const char *val, const char *range)
{
    opts_die("invalid value for %s: '%s' (allowed: %s)", flag,
             val ? val : "", range);
}

void opts_bad_option(const char *arg, bool needs_value)
{
    if (needs_value)
        opts_die("%s needs a value", arg);
    opts_die("unknown option '%s'", arg);
}
