#include "hs_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard_page.h"

/* ---- generic feed ------------------------------------------------------- */

typedef int (*feed_fn)(void *obj, const uint8_t *d, size_t n, size_t *c);

static int feed_server(void *o, const uint8_t *d, size_t n, size_t *c)
{
    return wsg_hs_server_feed(o, d, n, c);
}

static int feed_client(void *o, const uint8_t *d, size_t n, size_t *c)
{
    return wsg_hs_client_feed(o, d, n, c);
}

static struct feed_out run(void *obj, feed_fn f, const char *in, size_t len,
                           enum feed_mode mode)
{
    struct feed_out r = {0, 0};
    struct guard_page g;
    size_t c = 0;
    switch (mode) {
    case FEED_WHOLE:
        r.rc = f(obj, (const uint8_t *)in, len, &c);
        if (r.rc == 1)
            r.head = c;
        else if (r.rc == 0)
            cr_assert_eq(c, len, "need-more must consume everything");
        return r;
    case FEED_GUARD_WHOLE: {
        uint8_t *p = guard_page_copy(&g, in, len);
        r.rc = f(obj, p, len, &c);
        if (r.rc == 1)
            r.head = c;
        guard_page_free(&g);
        return r;
    }
    case FEED_BYTES:
    case FEED_GUARD_BYTES: {
        uint8_t *p = NULL, one;
        if (mode == FEED_GUARD_BYTES)
            p = guard_page_copy(&g, NULL, 1);
        for (size_t i = 0; i < len; i++) {
            uint8_t *b = p ? p : &one;
            *b = (uint8_t)in[i];
            r.rc = f(obj, b, 1, &c);
            if (r.rc == 1) {
                cr_assert(c <= 1);
                r.head = i + c;
                break;
            }
            if (r.rc != 0)
                break;
            cr_assert_eq(c, 1);
        }
        if (p)
            guard_page_free(&g);
        return r;
    }
    default:
        cr_assert_fail("bad mode");
        return r;
    }
}

struct feed_out server_feed_mode(const char *in, size_t len,
                                 enum feed_mode mode,
                                 const struct wsg_hs_limits *lim,
                                 struct wsg_hs_server **out)
{
    struct wsg_hs_server *hs = NULL;
    cr_assert_eq(wsg_hs_server_new(lim, NULL, &hs), WSG_OK);
    struct feed_out r = run(hs, feed_server, in, len, mode);
    if (out)
        *out = hs;
    else
        wsg_hs_server_free(hs);
    return r;
}

struct wsg_hs_server *server_check(const char *in, size_t len,
                                   const struct wsg_hs_limits *lim,
                                   struct feed_out *res)
{
    struct wsg_hs_server *first = NULL;
    struct feed_out r0 = server_feed_mode(in, len, FEED_WHOLE, lim, &first);
    for (int m = 1; m < FEED_MODES; m++) {
        struct wsg_hs_server *hs = NULL;
        struct feed_out r = server_feed_mode(in, len, (enum feed_mode)m, lim,
                                             &hs);
        cr_assert_eq(r.rc, r0.rc, "mode %d: rc %d, whole %d", m, r.rc, r0.rc);
        cr_assert_eq(r.head, r0.head, "mode %d: head %zu, whole %zu", m,
                     r.head, r0.head);
        cr_assert_eq(wsg_hs_server_status(hs), wsg_hs_server_status(first),
                     "mode %d: status", m);
        cr_assert_str_eq(wsg_hs_server_reason(hs),
                         wsg_hs_server_reason(first), "mode %d: reason", m);
        wsg_hs_server_free(hs);
    }
    if (res)
        *res = r0;
    return first;
}

struct wsg_hs_server *expect_server(const char *req, int rc, int status)
{
    struct feed_out r;
    struct wsg_hs_server *hs = server_check(req, strlen(req), NULL, &r);
    cr_assert_eq(r.rc, rc, "rc %d (%s), expected %d; reason: %s", r.rc,
                 wsg_err_name(r.rc), rc, wsg_hs_server_reason(hs));
    cr_assert_eq(wsg_hs_server_status(hs), status,
                 "status %d, expected %d; reason: %s",
                 wsg_hs_server_status(hs), status, wsg_hs_server_reason(hs));
    if (rc == 1) {
        cr_assert_eq(r.head, strlen(req));
        cr_assert_not_null(wsg_hs_server_request(hs));
    } else {
        cr_assert_null(wsg_hs_server_request(hs));
        cr_assert(wsg_hs_server_reason(hs)[0] != '\0');
    }
    return hs;
}

struct feed_out client_feed_mode(client_maker make, void *ud, const char *in,
                                 size_t len, enum feed_mode mode,
                                 struct wsg_hs_client **out)
{
    struct wsg_hs_client *hs = make(ud);
    cr_assert_not_null(hs);
    struct feed_out r = run(hs, feed_client, in, len, mode);
    if (out)
        *out = hs;
    else
        wsg_hs_client_free(hs);
    return r;
}

struct wsg_hs_client *client_check(client_maker make, void *ud,
                                   const char *in, size_t len,
                                   struct feed_out *res)
{
    struct wsg_hs_client *first = NULL;
    struct feed_out r0 = client_feed_mode(make, ud, in, len, FEED_WHOLE,
                                          &first);
    for (int m = 1; m < FEED_MODES; m++) {
        struct wsg_hs_client *hs = NULL;
        struct feed_out r = client_feed_mode(make, ud, in, len,
                                             (enum feed_mode)m, &hs);
        cr_assert_eq(r.rc, r0.rc, "mode %d: rc %d, whole %d", m, r.rc, r0.rc);
        cr_assert_eq(r.head, r0.head, "mode %d: head", m);
        cr_assert_eq(wsg_hs_client_status(hs), wsg_hs_client_status(first));
        cr_assert_str_eq(wsg_hs_client_reason(hs),
                         wsg_hs_client_reason(first), "mode %d: reason", m);
        wsg_hs_client_free(hs);
    }
    if (res)
        *res = r0;
    return first;
}

/* ---- random ------------------------------------------------------------- */

int rand_rfc_nonce(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    static const char nonce[] = "the sample nonce";
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)nonce[i % 16];
    return 0;
}

int rand_counter(void *ud, uint8_t *buf, size_t len)
{
    uint32_t *ctr = ud;
    for (size_t i = 0; i < len; i++) {
        *ctr = *ctr * 1103515245u + 12345u;
        buf[i] = (uint8_t)(*ctr >> 16);
    }
    return 0;
}

int rand_fail(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    (void)buf;
    (void)len;
    return -1;
}

char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    cr_assert(n >= 0);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}
