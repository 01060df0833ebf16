/* Places a test input right before an unreadable page (mmap two pages,
 * PROT_NONE on the second), so reading one byte past `len` faults. */
#ifndef WSG_TEST_POLICY_GUARD_H
#define WSG_TEST_POLICY_GUARD_H

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct guard {
    unsigned char *map;
    size_t page;
};

/* Returns a pointer to a copy of s[0..len) ending at the guard page. */
static inline const char *guard_put(struct guard *g, const char *s,
                                    size_t len)
{
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    cr_assert(len <= g->page, "input too long for a guard page");
    g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(g->map != MAP_FAILED);
    cr_assert(mprotect(g->map + g->page, g->page, PROT_NONE) == 0);
    char *p = (char *)g->map + g->page - len;
    if (len)
        memcpy(p, s, len);
    return p;
}

static inline void guard_free(struct guard *g)
{
    munmap(g->map, 2 * g->page);
}

#endif
