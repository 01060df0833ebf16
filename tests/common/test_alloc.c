/* The counting, failing allocator of test_alloc.h. */
#include "test_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16 /* keeps malloc's alignment */

static bool should_fail(struct test_alloc *t)
{
    t->calls++;
    if (t->fail_at && t->calls == t->fail_at) {
        t->failed = true;
        return true;
    }
    return false;
}

static void *t_malloc(size_t n, void *ud)
{
    struct test_alloc *t = ud;
    if (should_fail(t))
        return NULL;
    uint8_t *p = malloc(n + HDR);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof n);
    t->live++;
    t->bytes += n;
    if (t->bytes > t->peak)
        t->peak = t->bytes;
    return p + HDR;
}

static void t_free(void *ptr, void *ud)
{
    struct test_alloc *t = ud;
    if (!ptr)
        return;
    uint8_t *p = (uint8_t *)ptr - HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    t->live--;
    t->bytes -= n;
    free(p);
}

static void *t_realloc(void *ptr, size_t n, void *ud)
{
    struct test_alloc *t = ud;
    if (!ptr)
        return t_malloc(n, ud);
    if (should_fail(t))
        return NULL;
    uint8_t *p = (uint8_t *)ptr - HDR;
    size_t old;
    memcpy(&old, p, sizeof old);
    uint8_t *q = realloc(p, n + HDR);
    if (!q)
        return NULL;
    memcpy(q, &n, sizeof n);
    t->bytes = t->bytes - old + n;
    if (t->bytes > t->peak)
        t->peak = t->bytes;
    return q + HDR;
}

void test_alloc_init(struct test_alloc *t, size_t fail_at, bool with_realloc)
{
    memset(t, 0, sizeof *t);
    t->a.malloc = t_malloc;
    t->a.realloc = with_realloc ? t_realloc : NULL;
    t->a.free = t_free;
    t->a.ud = t;
    t->fail_at = fail_at;
}
