/* H10: the security headers added to every HTTP response, refusals
 * included (HSTS per RFC 6797 §6.1). */
#include <criterion/criterion.h>
#include <string.h>

#include <wsguard/policy.h>

TestSuite(policy_security_headers, .description = "H10 security headers");

static void header_is(const struct wsg_header *h, const char *name,
                      const char *value)
{
    cr_assert_eq(h->name_len, strlen(name));
    cr_assert_eq(memcmp(h->name, name, h->name_len), 0, "name %s", name);
    cr_assert_eq(h->value_len, strlen(value), "%s length", name);
    cr_assert_eq(memcmp(h->value, value, h->value_len), 0, "%s: %.*s", name,
                 (int)h->value_len, h->value);
}

Test(policy_security_headers, defaults_listed_exactly)
{
    struct wsg_security_headers h;
    struct wsg_header out[8];

    memset(&h, 0x5a, sizeof(h));
    wsg_security_headers_init_default(&h);
    cr_assert_eq(h.hsts_max_age, 31536000u);
    cr_assert_not(h.hsts_include_subdomains);
    cr_assert(h.nosniff);
    cr_assert_eq(wsg_security_headers_list(&h, out, 8), 6);
    header_is(&out[0], "Strict-Transport-Security", "max-age=31536000");
    header_is(&out[1], "Content-Security-Policy",
              "default-src 'self'; connect-src 'self'; "
              "frame-ancestors 'none'");
    header_is(&out[2], "X-Content-Type-Options", "nosniff");
    header_is(&out[3], "X-Frame-Options", "DENY");
    header_is(&out[4], "Referrer-Policy", "no-referrer");
    header_is(&out[5], "Permissions-Policy",
              "camera=(), microphone=(), geolocation=()");
}

Test(policy_security_headers, hsts_values)
{
    struct wsg_security_headers h;
    struct wsg_header out[8];

    wsg_security_headers_init_default(&h);
    h.hsts_include_subdomains = true;
    cr_assert_eq(wsg_security_headers_list(&h, out, 8), 6);
    header_is(&out[0], "Strict-Transport-Security",
              "max-age=31536000; includeSubDomains");
    h.hsts_max_age = UINT32_MAX;
    wsg_security_headers_list(&h, out, 8);
    header_is(&out[0], "Strict-Transport-Security",
              "max-age=4294967295; includeSubDomains");
    h.hsts_max_age = 1;
    h.hsts_include_subdomains = false;
    wsg_security_headers_list(&h, out, 8);
    header_is(&out[0], "Strict-Transport-Security", "max-age=1");
    h.hsts_max_age = 0;                      /* 0: no HSTS */
    cr_assert_eq(wsg_security_headers_list(&h, out, 8), 5);
    header_is(&out[0], "Content-Security-Policy",
              "default-src 'self'; connect-src 'self'; "
              "frame-ancestors 'none'");
}

Test(policy_security_headers, crlf_null_and_empty_values_skipped)
{
    struct wsg_security_headers h;
    struct wsg_header out[8];

    wsg_security_headers_init_default(&h);
    h.csp = "default-src 'self'\r\nSet-Cookie: x=1";
    h.frame_options = "DENY\n";
    h.referrer_policy = "\rno-referrer";
    h.permissions_policy = "";
    cr_assert_eq(wsg_security_headers_list(&h, out, 8), 2);
    header_is(&out[0], "Strict-Transport-Security", "max-age=31536000");
    header_is(&out[1], "X-Content-Type-Options", "nosniff");

    h.hsts_max_age = 0;
    h.nosniff = false;
    h.csp = NULL;
    h.frame_options = NULL;
    h.referrer_policy = NULL;
    h.permissions_policy = NULL;
    cr_assert_eq(wsg_security_headers_list(&h, out, 8), 0);

    h.frame_options = "SAMEORIGIN";
    cr_assert_eq(wsg_security_headers_list(&h, out, 8), 1);
    header_is(&out[0], "X-Frame-Options", "SAMEORIGIN");
}

Test(policy_security_headers, max_respected)
{
    struct wsg_security_headers h;
    struct wsg_header all[8], out[8];
    static const struct wsg_header guard = {"guard", 5, "guard", 5};

    wsg_security_headers_init_default(&h);
    cr_assert_eq(wsg_security_headers_list(&h, all, 8), 6);
    for (size_t max = 0; max <= 7; max++) {
        for (size_t i = 0; i < 8; i++)
            out[i] = guard;
        size_t n = wsg_security_headers_list(&h, out, max);
        cr_assert_eq(n, max < 6 ? max : 6, "max %zu", max);
        for (size_t i = 0; i < n; i++)
            header_is(&out[i], all[i].name, all[i].value);
        for (size_t i = n; i < 8; i++)
            cr_assert_eq(out[i].name, guard.name, "max %zu: %zu written",
                         max, i);
    }
}
