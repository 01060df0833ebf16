/* H10 security headers for every HTTP response the library writes,
 * refusals included. Values are header field values (RFC 9110 §5.5): a
 * value holding CR or LF (or empty) is skipped, never sent. */
#include <string.h>

#include <wsguard/policy.h>

void wsg_security_headers_init_default(struct wsg_security_headers *h)
{
    memset(h, 0, sizeof(*h));
    h->hsts_max_age = 31536000u;
    h->hsts_include_subdomains = false;
    h->csp = "default-src 'self'; connect-src 'self'; "
             "frame-ancestors 'none'";
    h->frame_options = "DENY";
    h->referrer_policy = "no-referrer";
    h->permissions_policy = "camera=(), microphone=(), geolocation=()";
    h->nosniff = true;
}

/* Length of a usable value, or 0 (NULL, empty, CR or LF inside). */
static size_t value_len(const char *v)
{
    size_t n = 0;

    if (v == NULL)
        return 0;
    for (; v[n] != '\0'; n++)
        if (v[n] == '\r' || v[n] == '\n')
            return 0;
    return n;
}

static size_t add(struct wsg_header *out, size_t max, size_t n,
                  const char *name, const char *value, size_t len)
{
    if (n >= max || len == 0)
        return n;
    out[n].name = name;
    out[n].name_len = strlen(name);
    out[n].value = value;
    out[n].value_len = len;
    return n + 1;
}

/* "max-age=N" [; includeSubDomains] (RFC 6797 §6.1) into `buf` (>= 38). */
static size_t hsts_format(char *buf, uint32_t max_age, bool subdomains)
{
    static const char sub[] = "; includeSubDomains";
    char digits[10];
    size_t n = 0, d = 0;

    memcpy(buf, "max-age=", 8);
    n = 8;
    do {
        digits[d++] = (char)('0' + max_age % 10u);
        max_age /= 10u;
    } while (max_age != 0);
    while (d > 0)
        buf[n++] = digits[--d];
    if (subdomains) {
        memcpy(buf + n, sub, sizeof(sub) - 1);
        n += sizeof(sub) - 1;
    }
    buf[n] = '\0';
    return n;
}

size_t wsg_security_headers_list(struct wsg_security_headers *h,
                                 struct wsg_header *out, size_t max)
{
    size_t n = 0;

    if (h == NULL || out == NULL)
        return 0;
    if (h->hsts_max_age != 0) {
        size_t len = hsts_format(h->hsts_value, h->hsts_max_age,
                                 h->hsts_include_subdomains);
        n = add(out, max, n, "Strict-Transport-Security", h->hsts_value, len);
    }
    n = add(out, max, n, "Content-Security-Policy", h->csp,
            value_len(h->csp));
    if (h->nosniff)
        n = add(out, max, n, "X-Content-Type-Options", "nosniff", 7);
    n = add(out, max, n, "X-Frame-Options", h->frame_options,
            value_len(h->frame_options));
    n = add(out, max, n, "Referrer-Policy", h->referrer_policy,
            value_len(h->referrer_policy));
    n = add(out, max, n, "Permissions-Policy", h->permissions_policy,
            value_len(h->permissions_policy));
    return n;
}
