/* Allocation helpers for every layer. The libc table is const: no state. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static void *libc_malloc(size_t n, void *ud)
{
    (void)ud;
    return malloc(n);
}

static void *libc_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    return realloc(p, n);
}

static void libc_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static const struct wsg_allocator libc_allocator = {
    libc_malloc, libc_realloc, libc_free, NULL};

bool wsg__alloc_init(struct wsg_allocator *out,
                     const struct wsg_allocator *in)
{
    if (!in)
        in = &libc_allocator;
    if (!in->malloc || !in->free)
        return false;
    *out = *in;
    return true;
}

void *wsg__alloc(const struct wsg_allocator *a, size_t n)
{
    return a->malloc(n ? n : 1, a->ud);
}

void *wsg__zalloc(const struct wsg_allocator *a, size_t n)
{
    void *p = wsg__alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *wsg__realloc(const struct wsg_allocator *a, void *p, size_t old,
                   size_t n)
{
    if (!p)
        return wsg__alloc(a, n);
    if (a->realloc)
        return a->realloc(p, n ? n : 1, a->ud);
    void *q = wsg__alloc(a, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    a->free(p, a->ud);
    return q;
}

void wsg__free(const struct wsg_allocator *a, void *p)
{
    if (p)
        a->free(p, a->ud);
}

void *wsg__memdup(const struct wsg_allocator *a, const void *p, size_t n)
{
    void *q = wsg__alloc(a, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *wsg__strndup(const struct wsg_allocator *a, const char *s, size_t n)
{
    char *q = wsg__alloc(a, n + 1);
    if (q) {
        memcpy(q, s, n);
        q[n] = '\0';
    }
    return q;
}

char *wsg__strdup(const struct wsg_allocator *a, const char *s)
{
    return wsg__memdup(a, s, strlen(s) + 1);
}
