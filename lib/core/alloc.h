/* Internal: allocation through a struct wsg_allocator, shared by every
 * layer (core, handshake, io). A resolved allocator (wsg__alloc_init) has
 * malloc and free; realloc may be NULL (malloc + copy + free then). */
#ifndef WSG_CORE_ALLOC_H
#define WSG_CORE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include <wsguard/core.h>

/* Copies `in` into `out`, or libc's malloc/realloc/free when `in` is NULL.
 * False (and `out` untouched) if `in` lacks malloc or free. */
bool wsg__alloc_init(struct wsg_allocator *out,
                     const struct wsg_allocator *in);

/* `n` bytes; a zero size asks for one byte, so NULL always means NOMEM. */
void *wsg__alloc(const struct wsg_allocator *a, size_t n);

/* wsg__alloc, zero-filled. */
void *wsg__zalloc(const struct wsg_allocator *a, size_t n);

/* Grows or shrinks `p` (NULL: a fresh wsg__alloc) from `old` to `n` bytes.
 * Without a->realloc: allocate, copy min(old, n) bytes, free `p`. On NULL
 * `p` is left as it was. */
void *wsg__realloc(const struct wsg_allocator *a, void *p, size_t old,
                   size_t n);

/* Frees `p`; NULL is a no-op. */
void wsg__free(const struct wsg_allocator *a, void *p);

/* A copy of the `n` bytes at `p`. */
void *wsg__memdup(const struct wsg_allocator *a, const void *p, size_t n);

/* A NUL-terminated copy of the `n` bytes at `s`. */
char *wsg__strndup(const struct wsg_allocator *a, const char *s, size_t n);

/* A copy of the string `s`. */
char *wsg__strdup(const struct wsg_allocator *a, const char *s);

#endif
