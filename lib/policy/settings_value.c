/* The text of setting values (H14): parsing sizes, seconds, counts,
 * booleans and choices; the checks on strings and list items; the quoting
 * of a bad value in a message; and the snprintf-style output buffer that
 * wsg_policy_get and the report write into. No allocation, no global. */
#include <stdio.h>
#include <string.h>

#include "policy/policy_internal.h"

/* ---- parsing ------------------------------------------------------------ */

bool wsg__parse_uint(const char *s, size_t n, uint64_t *v)
{
    uint64_t r = 0;

    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        r = r * 10u + (uint64_t)(s[i] - '0');
    }
    *v = r;
    return true;
}

/* Decimal bytes with an optional k/m/g suffix (1024-based). */
bool wsg__parse_size(const char *s, uint64_t *v)
{
    size_t n = strlen(s);
    unsigned shift = 0;

    if (n > 0) {
        switch (s[n - 1]) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: break;
        }
    }
    if (shift != 0)
        n--;
    if (n > 12 || !wsg__parse_uint(s, n, v))
        return false;
    *v <<= shift;
    return true;
}

/* Decimal seconds with up to 3 decimals, to ms. */
bool wsg__parse_seconds(const char *s, uint64_t *ms)
{
    const char *dot = strchr(s, '.');
    size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
    uint64_t whole, frac = 0;

    if (n > 9 || !wsg__parse_uint(s, n, &whole))
        return false;
    if (dot != NULL) {
        size_t fn = strlen(dot + 1);
        if (fn < 1 || fn > 3 || !wsg__parse_uint(dot + 1, fn, &frac))
            return false;
        for (; fn < 3; fn++)
            frac *= 10u;
    }
    *ms = whole * 1000u + frac;
    return true;
}

int wsg__parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* Index of `s` among the '|'-separated words of `range`, or -1. */
int wsg__parse_choice(const char *range, const char *s)
{
    size_t n = strlen(s);
    int idx = 0;

    for (const char *w = range;; idx++) {
        const char *e = strchr(w, '|');
        size_t wl = e != NULL ? (size_t)(e - w) : strlen(w);
        if (wl == n && memcmp(w, s, n) == 0)
            return idx;
        if (e == NULL)
            return -1;
        w = e + 1;
    }
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 9110 §5.6.2 token of min..max bytes. */
bool wsg__is_bounded_token(const char *s, size_t n, size_t min, size_t max)
{
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(s[i]))
            return false;
    return true;
}

/* Bytes 0x20-0x7E (spaces allowed with `space`), min..max bytes. */
bool wsg__is_visible(const char *s, size_t min, size_t max, bool space)
{
    size_t n = strlen(s);

    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < (space ? 0x20 : 0x21) ||
            (unsigned char)s[i] > 0x7E)
            return false;
    return true;
}

/* A Host allowlist entry: host, host:port, [v6]:port, "*." prefix. */
bool wsg__is_host_entry(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0 || n > 261)
        return false;
    if (n > 2 && s[0] == '*' && s[1] == '.')
        i = 2;
    for (; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':' ||
              c == '[' || c == ']'))
            return false;
    }
    return true;
}

/* ---- formatting --------------------------------------------------------- */

/* At most WSG__QUOTE_MAX bytes of `v`, "..." after, non-printable bytes as
 * '?': a bad value echoed in a message. */
void wsg__quote(const char *v, char *q, size_t cap)
{
    size_t i = 0;

    for (; v[i] != '\0' && i < WSG__QUOTE_MAX && i + 4 < cap; i++)
        q[i] = (unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7E
                   ? '?' : v[i];
    if (v[i] != '\0' && i + 4 < cap)
        q[i++] = '.', q[i++] = '.', q[i++] = '.';
    q[i] = '\0';
}

/* Milliseconds as decimal seconds with only the decimals needed. */
void wsg__format_seconds(uint64_t ms, char *buf, size_t cap)
{
    int d = ms % 1000u == 0 ? 0 : ms % 100u == 0 ? 1 : ms % 10u == 0 ? 2 : 3;
    unsigned f = (unsigned)(ms % 1000u) / (d == 1 ? 100u : d == 2 ? 10u : 1u);

    if (d == 0)
        snprintf(buf, cap, "%llu", (unsigned long long)(ms / 1000u));
    else
        snprintf(buf, cap, "%llu.%0*u", (unsigned long long)(ms / 1000u), d,
                 f);
}

void wsg__out_init(struct wsg__out *o, char *buf, size_t cap)
{
    o->buf = buf;
    o->cap = buf != NULL ? cap : 0;
    o->len = 0;
    if (o->cap > 0)
        buf[0] = '\0';
}

void wsg__out_putn(struct wsg__out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap)
            o->buf[o->len] = s[i];
}

void wsg__out_put(struct wsg__out *o, const char *s)
{
    wsg__out_putn(o, s, strlen(s));
}

size_t wsg__out_end(struct wsg__out *o)
{
    if (o->cap > 0)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
    return o->len;
}
