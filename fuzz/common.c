/* Shared helpers for the fuzz harnesses; see common.h. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
               ...)
{
    va_list ap;
    fprintf(stderr, "\nFUZZ CHECK FAILED %s:%d: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

uint8_t fuzz_in_byte(struct fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t fuzz_rng_below(struct fuzz_rng *r, size_t n)
{
    return n ? (size_t)(fuzz_rng_next(r) % n) : 0;
}

size_t fuzz_chunk_max(unsigned nibble)
{
    static const size_t tab[16] = {
        SIZE_MAX, 1, 2, 3, 5, 7, 14, 16, 64, 126, 127, 256, 1000, 4096,
        65536, 9,
    };
    return tab[nibble & 15];
}

size_t fuzz_chunk_next(struct fuzz_rng *r, size_t max, size_t left)
{
    if (max == SIZE_MAX || left <= 1)
        return left;
    size_t n = 1 + fuzz_rng_below(r, max);
    return n < left ? n : left;
}

static volatile uint8_t fuzz_sink;

void fuzz_touch(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t x = 0;
    for (size_t i = 0; i < len; i++)
        x ^= b[i];
    fuzz_sink ^= x;
}

uint8_t *fuzz_dup(const uint8_t *p, size_t len)
{
    uint8_t *d = malloc(len ? len : 1);
    if (!d)
        abort();
    if (len)
        memcpy(d, p, len);
    return d;
}

/* ---- counting allocator ---- */

#define HDR 16 /* keeps max_align_t alignment */

static void *fa_malloc(size_t size, void *ud)
{
    struct fuzz_alloc *fa = ud;
    fa->count++;
    if (fa->fail_at && fa->count == fa->fail_at) {
        fa->failed++;
        return NULL;
    }
    if (size > SIZE_MAX - HDR)
        return NULL;
    uint8_t *p = malloc(size + HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    fa->cur += size;
    if (fa->cur > fa->peak)
        fa->peak = fa->cur;
    return p + HDR;
}

static void fa_free(void *ptr, void *ud)
{
    struct fuzz_alloc *fa = ud;
    if (!ptr)
        return;
    uint8_t *p = (uint8_t *)ptr - HDR;
    size_t size;
    memcpy(&size, p, sizeof size);
    FUZZ_CHECK(size <= fa->cur, "free of %zu bytes with %zu live", size,
               fa->cur);
    fa->cur -= size;
    free(p);
}

static void *fa_realloc(void *ptr, size_t size, void *ud)
{
    struct fuzz_alloc *fa = ud;
    if (!ptr)
        return fa_malloc(size, ud);
    fa->count++;
    if (fa->fail_at && fa->count == fa->fail_at) {
        fa->failed++;
        return NULL;
    }
    if (size > SIZE_MAX - HDR)
        return NULL;
    uint8_t *p = (uint8_t *)ptr - HDR;
    size_t old;
    memcpy(&old, p, sizeof old);
    uint8_t *q = realloc(p, size + HDR);
    if (!q)
        return NULL;
    memcpy(q, &size, sizeof size);
    fa->cur = fa->cur - old + size;
    if (fa->cur > fa->peak)
        fa->peak = fa->cur;
    return q + HDR;
}

void fuzz_alloc_init(struct fuzz_alloc *fa, unsigned long fail_at)
{
    memset(fa, 0, sizeof *fa);
    fa->a.malloc = fa_malloc;
    fa->a.realloc = fa_realloc;
    fa->a.free = fa_free;
    fa->a.ud = fa;
    fa->fail_at = fail_at;
}

bool fuzz_alloc_err(const struct fuzz_alloc *fa, int rc)
{
    return rc == WSG_ERR_NOMEM && fa->failed;
}

/* ---- reference UTF-8 ---- */

bool fuzz_utf8_byte(struct fuzz_utf8 *u, uint8_t b)
{
    if (u->need == 0) {
        u->lo = 0x80;
        u->hi = 0xBF;
        if (b < 0x80)
            return true;
        if (b >= 0xC2 && b <= 0xDF)
            u->need = 1;
        else if (b == 0xE0)
            u->need = 2, u->lo = 0xA0;
        else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
            u->need = 2;
        else if (b == 0xED)
            u->need = 2, u->hi = 0x9F; /* no surrogates */
        else if (b == 0xF0)
            u->need = 3, u->lo = 0x90;
        else if (b >= 0xF1 && b <= 0xF3)
            u->need = 3;
        else if (b == 0xF4)
            u->need = 3, u->hi = 0x8F; /* <= U+10FFFF */
        else
            return false;
        return true;
    }
    if (b < u->lo || b > u->hi)
        return false;
    u->need--;
    u->lo = 0x80;
    u->hi = 0xBF;
    return true;
}

size_t fuzz_utf8_first_bad(struct fuzz_utf8 *u, const uint8_t *buf,
                           size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!fuzz_utf8_byte(u, buf[i]))
            return i;
    return len;
}

bool fuzz_utf8_valid(const uint8_t *buf, size_t len)
{
    struct fuzz_utf8 u = {0, 0, 0};
    return fuzz_utf8_first_bad(&u, buf, len) == len && u.need == 0;
}

bool fuzz_mem_has(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++)
        if (hay[i] == (uint8_t)needle[0] && memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

int fuzz_random_fill(void *ud, uint8_t *buf, size_t len)
{
    static const char nonce[] = "the sample nonce";
    struct fuzz_random *r = ud;
    for (size_t i = 0; i < len; i++, r->n++)
        buf[i] = r->n < 16 ? (uint8_t)nonce[r->n]
                           : (uint8_t)(r->n * 0x9Du + (r->n >> 8));
    return 0;
}
