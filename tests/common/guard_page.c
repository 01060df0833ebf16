/* Inputs before a PROT_NONE page (guard_page.h). */
#include "guard_page.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

void *guard_page_copy(struct guard_page *g, const void *data, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (len + pg - 1) / pg + 1;
    void *m;

    g->maplen = pages * pg;
    m = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(m != MAP_FAILED);
    g->map = m;
    cr_assert_eq(mprotect(g->map + (pages - 1) * pg, pg, PROT_NONE), 0);
    unsigned char *p = g->map + (pages - 1) * pg - len;
    if (data != NULL && len > 0)
        memcpy(p, data, len);
    return p;
}

void guard_page_free(struct guard_page *g)
{
    munmap(g->map, g->maplen);
    g->map = NULL;
    g->maplen = 0;
}
