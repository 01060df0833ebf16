/* Test inputs placed right before an unreadable page (picohttpparser's
 * trick, shared/STYLE.md item 12): the copy's last byte is followed by a
 * PROT_NONE page, so a parser reading one byte past the input faults. */
#ifndef WSG_TEST_COMMON_GUARD_PAGE_H
#define WSG_TEST_COMMON_GUARD_PAGE_H

#include <stddef.h>

struct guard_page {
    unsigned char *map;
    size_t maplen;
};

/* Maps room for `len` bytes plus the guard page, copies data[0..len) to
 * end right before it (data may be NULL: left zeroed) and returns the
 * copy. Any size; asserts on failure. */
void *guard_page_copy(struct guard_page *g, const void *data, size_t len);
void guard_page_free(struct guard_page *g);

#endif
