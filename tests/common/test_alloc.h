/* A counting allocator for tests (shared/STYLE.md item 5): fails the
 * `fail_at`-th call (1-based, malloc and realloc; 0: never), counts live
 * blocks and bytes and records the peak. Every block carries its size in a
 * 16-byte header, which keeps malloc's alignment. */
#ifndef WSG_TEST_COMMON_ALLOC_H
#define WSG_TEST_COMMON_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include <wsguard/core.h>

struct test_alloc {
    struct wsg_allocator a;   /* pass &t->a */
    size_t calls;             /* malloc + realloc calls so far */
    size_t fail_at;           /* the call that fails (1-based); 0 never */
    long live;                /* blocks alive */
    size_t bytes, peak;       /* live bytes, peak live bytes */
    bool failed;              /* a failure was injected */
};

/* Without `with_realloc` the allocator has no realloc (the library must
 * then do with malloc and free). */
void test_alloc_init(struct test_alloc *t, size_t fail_at, bool with_realloc);

#endif
