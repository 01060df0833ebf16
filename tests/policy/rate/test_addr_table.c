/* H6 per-address limits and H12 fixed memory: the per-address table.
 * A counting allocator proves the budget (everything allocated in new,
 * nothing after); a million mixed IPv4/IPv6 addresses go through the
 * default 4 MiB table. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <wsguard/policy.h>

struct counting {
    size_t live, total, calls, fail_at;
};

static void *c_malloc(size_t n, void *ud)
{
    struct counting *c = ud;
    if (c->fail_at && c->calls + 1 >= c->fail_at)
        return NULL;
    c->calls++;
    c->total += n;
    c->live += n;
    size_t *p = malloc(n + sizeof(size_t) * 2);
    if (!p)
        return NULL;
    p[0] = n;
    return p + 2;
}

static void *c_realloc(void *p, size_t n, void *ud)
{
    (void)p;
    (void)n;
    (void)ud;
    cr_assert_fail("realloc on a fixed-size table");
    return NULL;
}

static void c_free(void *p, void *ud)
{
    struct counting *c = ud;
    if (!p)
        return;
    size_t *q = (size_t *)p - 2;
    c->live -= q[0];
    free(q);
}

static struct wsg_addr v4(uint32_t x)
{
    struct wsg_addr a;
    memset(&a, 0, sizeof(a));
    a.b[10] = a.b[11] = 0xff;
    a.b[12] = (uint8_t)(x >> 24);
    a.b[13] = (uint8_t)(x >> 16);
    a.b[14] = (uint8_t)(x >> 8);
    a.b[15] = (uint8_t)x;
    return a;
}

static struct wsg_addr v6(uint32_t x)
{
    struct wsg_addr a;
    memset(&a, 0, sizeof(a));
    a.b[0] = 0x20; /* 2001:db8::/32, x in the last 32 bits */
    a.b[1] = 0x01;
    a.b[2] = 0x0d;
    a.b[3] = 0xb8;
    a.b[12] = (uint8_t)(x >> 24);
    a.b[13] = (uint8_t)(x >> 16);
    a.b[14] = (uint8_t)(x >> 8);
    a.b[15] = (uint8_t)x;
    return a;
}

/* Distinct for distinct i: odd i IPv4, even i IPv6. */
static struct wsg_addr addr_n(uint32_t i)
{
    return i % 2 ? v4(0x0a000000u + i) : v6(i);
}

static struct wsg_addr_table *mk(struct wsg_addr_table_config *cfg,
                                 struct counting *c)
{
    static const struct wsg_allocator al0 = {c_malloc, c_realloc, c_free,
                                             NULL};
    static struct wsg_allocator al;
    al = al0;
    al.ud = c;
    cfg->alloc = &al;
    struct wsg_addr_table *t = NULL;
    cr_assert_eq(wsg_addr_table_new(cfg, &t), WSG_OK);
    cr_assert_not_null(t);
    cr_assert_leq(c->total, cfg->memory_budget);
    return t;
}

/* The smallest budget that gives 64 entries, found by search. */
static size_t small_budget(void)
{
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    size_t lo = 1, hi = 1 << 16;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        cfg.memory_budget = mid;
        struct wsg_addr_table *t = NULL;
        if (wsg_addr_table_new(&cfg, &t) == WSG_OK) {
            wsg_addr_table_free(t);
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* A table of `budgets` times the 64-entry budget, at most `per_addr`
 * connections per address (0: no limit), and its capacity in *cap. */
static struct wsg_addr_table *mk_small(struct counting *c, size_t budgets,
                                       uint32_t per_addr, size_t *cap)
{
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    cfg.memory_budget = small_budget() * budgets;
    cfg.max_conns_per_addr = per_addr;
    struct wsg_addr_table *t = mk(&cfg, c);
    *cap = wsg_addr_table_capacity(t);
    return t;
}

Test(policy_addr_table, H12_million_addresses_within_budget)
{
    struct counting c = {0};
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    cr_assert_eq(cfg.memory_budget, (size_t)4 << 20);
    cfg.max_conns_per_addr = 3;
    cfg.new_conns_per_window = 5;
    cfg.window_ms = 10000;
    struct wsg_addr_table *t = mk(&cfg, &c);
    size_t cap = wsg_addr_table_capacity(t);
    cr_assert_geq(cap, 64);
    size_t calls_after_new = c.calls;

    enum { N = 1000000, HOLD_EVERY = 1000 };
    for (uint32_t i = 0; i < N; i++) {
        struct wsg_addr a = addr_n(i);
        uint64_t now = 1000 + (uint64_t)i / 8;
        uint32_t ra = 99;
        cr_assert_eq(wsg_addr_table_admit(t, &a, now, &ra), WSG_ADMIT_OK,
                     "i %u", i);
        cr_assert_eq(ra, 0);
        if (i % 97 == 0) {
            /* cap 3 holds: two more, then refused */
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, NULL),
                         WSG_ADMIT_OK);
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, NULL),
                         WSG_ADMIT_OK);
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, &ra),
                         WSG_ADMIT_TOO_MANY_CONNS);
            cr_assert_eq(ra, 1);
            wsg_addr_table_release(t, &a);
            wsg_addr_table_release(t, &a);
        } else if (i % 89 == 0) {
            /* window of 5: 4 more after release, then too fast */
            for (int k = 0; k < 4; k++) {
                wsg_addr_table_release(t, &a);
                cr_assert_eq(wsg_addr_table_admit(t, &a, now, NULL),
                             WSG_ADMIT_OK, "i %u k %d", i, k);
            }
            wsg_addr_table_release(t, &a);
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, &ra),
                         WSG_ADMIT_TOO_FAST);
            cr_assert_eq(ra, 10);
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, NULL),
                         WSG_ADMIT_TOO_FAST);
            /* and the entry stays idle: admit again once open */
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, NULL),
                         WSG_ADMIT_TOO_FAST);
            cr_assert_eq(wsg_addr_table_admit(t, &a, now, NULL),
                         WSG_ADMIT_TOO_FAST);
            if (i % HOLD_EVERY != 0)
                continue; /* nothing open */
            /* held below: take one again in a new window */
            cr_assert_eq(wsg_addr_table_admit(t, &a, now + 10000, NULL),
                         WSG_ADMIT_OK);
        }
        if (i % HOLD_EVERY != 0)
            wsg_addr_table_release(t, &a);
        cr_assert_leq(wsg_addr_table_count(t), cap);
    }
    cr_assert_eq(wsg_addr_table_count(t), cap);
    cr_assert_eq(c.calls, calls_after_new, "allocation after new");
    cr_assert_leq(c.total, cfg.memory_budget);

    /* Held addresses (one open each) survived the flood: two more, then
     * the cap; a fresh (evicted) entry would allow three. */
    uint64_t late = 1000000;
    for (uint32_t i = 0; i < N; i += HOLD_EVERY) {
        struct wsg_addr a = addr_n(i);
        cr_assert_eq(wsg_addr_table_admit(t, &a, late, NULL), WSG_ADMIT_OK);
        cr_assert_eq(wsg_addr_table_admit(t, &a, late, NULL), WSG_ADMIT_OK);
        cr_assert_eq(wsg_addr_table_admit(t, &a, late, NULL),
                     WSG_ADMIT_TOO_MANY_CONNS, "held %u evicted", i);
        for (int k = 0; k < 3; k++)
            wsg_addr_table_release(t, &a);
    }
    cr_assert_eq(c.calls, calls_after_new);
    wsg_addr_table_free(t);
    cr_assert_eq(c.live, 0);
}

Test(policy_addr_table, H12_budget_and_sizes)
{
    struct counting c = {0};
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    static const size_t budgets[] = {4096, 10000, 65536, 1 << 20,
                                     (4 << 20) + 7, 16 << 20};
    for (size_t k = 0; k < sizeof(budgets) / sizeof(budgets[0]); k++) {
        c = (struct counting){0};
        cfg.memory_budget = budgets[k];
        struct wsg_addr_table *t = mk(&cfg, &c);
        cr_assert_leq(c.total, budgets[k]);
        cr_assert_geq(wsg_addr_table_capacity(t), 64);
        cr_assert_eq(wsg_addr_table_count(t), 0);
        /* within 30% of the budget: the budget is used, not wasted */
        cr_assert_geq(c.total * 10, budgets[k] * 7);
        wsg_addr_table_free(t);
        cr_assert_eq(c.live, 0);
    }
    size_t min = small_budget();
    cfg.memory_budget = min;
    cfg.alloc = NULL;
    struct wsg_addr_table *t = NULL;
    cr_assert_eq(wsg_addr_table_new(&cfg, &t), WSG_OK);
    cr_assert_eq(wsg_addr_table_capacity(t), 64);
    wsg_addr_table_free(t);
    cfg.memory_budget = min - 1;
    t = NULL;
    cr_assert_eq(wsg_addr_table_new(&cfg, &t), WSG_ERR_INVALID_ARG);
    cr_assert_null(t);
    cfg.memory_budget = 0;
    cr_assert_eq(wsg_addr_table_new(&cfg, &t), WSG_ERR_INVALID_ARG);
    cr_assert_eq(wsg_addr_table_new(NULL, &t), WSG_ERR_INVALID_ARG);
    wsg_addr_table_config_init_default(&cfg);
    cr_assert_eq(wsg_addr_table_new(&cfg, NULL), WSG_ERR_INVALID_ARG);
    /* out of memory */
    c = (struct counting){0};
    c.fail_at = 1;
    static struct wsg_allocator fal = {c_malloc, c_realloc, c_free, NULL};
    fal.ud = &c;
    cfg.alloc = &fal;
    cr_assert_eq(wsg_addr_table_new(&cfg, &t), WSG_ERR_NOMEM);
    /* an allocator without free is refused */
    struct wsg_allocator bad = {c_malloc, NULL, NULL, &c};
    cfg.alloc = &bad;
    cr_assert_eq(wsg_addr_table_new(&cfg, &t), WSG_ERR_INVALID_ARG);
    wsg_addr_table_free(NULL);
}

/* Concurrent cap, exact boundary; release never underflows and unknown
 * addresses are a no-op. */
Test(policy_addr_table, H6_concurrent_cap_exact)
{
    struct counting c = {0};
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    cfg.max_conns_per_addr = 2;
    struct wsg_addr_table *t = mk(&cfg, &c);
    struct wsg_addr a = v4(0xc0000207), b = v6(7), u = v6(8);
    uint32_t ra = 0;
    cr_assert_eq(wsg_addr_table_admit(t, &a, 0, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 0, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 0, &ra),
                 WSG_ADMIT_TOO_MANY_CONNS);
    cr_assert_eq(ra, 1);
    /* another address (v6 with the same low bits) is independent */
    cr_assert_eq(wsg_addr_table_admit(t, &b, 0, &ra), WSG_ADMIT_OK);
    wsg_addr_table_release(t, &u); /* unknown: no-op */
    cr_assert_eq(wsg_addr_table_count(t), 2);
    wsg_addr_table_release(t, &a);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 1, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 1, &ra),
                 WSG_ADMIT_TOO_MANY_CONNS);
    for (int k = 0; k < 10; k++)
        wsg_addr_table_release(t, &a); /* more releases than opens */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 2, NULL), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 2, NULL), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 2, NULL),
                 WSG_ADMIT_TOO_MANY_CONNS);
    wsg_addr_table_free(t);
    /* cap 0: unlimited */
    wsg_addr_table_config_init_default(&cfg);
    c = (struct counting){0};
    t = mk(&cfg, &c);
    for (int k = 0; k < 100000; k++)
        cr_assert_eq(wsg_addr_table_admit(t, &a, 0, NULL), WSG_ADMIT_OK);
    wsg_addr_table_free(t);
}

/* New connections per window: a fixed window from the first admitted
 * connection; refused attempts do not count; Retry-After is the ceiling
 * of the rest of the window in seconds. */
Test(policy_addr_table, H6_window_exact)
{
    struct counting c = {0};
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    cfg.new_conns_per_window = 3;
    cfg.window_ms = 2500;
    struct wsg_addr_table *t = mk(&cfg, &c);
    struct wsg_addr a = v4(0x7f000001);
    uint32_t ra = 0;
    cr_assert_eq(wsg_addr_table_admit(t, &a, 100, &ra), WSG_ADMIT_OK);
    wsg_addr_table_release(t, &a);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 500, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 2599, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 2599, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 1); /* 1 ms left: 1 s */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 100, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 3); /* 2500 ms left */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 1099, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 2); /* 1501 ms */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 1100, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 2); /* 1500 ms */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 1600, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 1); /* 1000 ms */
    /* time backwards: still the same window */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 0, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 3);
    /* window over at 100 + 2500: a new one starts at the first admit */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 2600, &ra), WSG_ADMIT_OK);
    cr_assert_eq(ra, 0);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 5099, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 5099, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 5099, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(ra, 1);
    /* idle gap longer than the window: the window starts at 9000, not at
     * a multiple of the window */
    cr_assert_eq(wsg_addr_table_admit(t, &a, 9000, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 9001, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 11499, &ra), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 11499, &ra), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(wsg_addr_table_admit(t, &a, 11500, &ra), WSG_ADMIT_OK);
    /* window_ms 0 with a rate is refused */
    cfg.window_ms = 0;
    struct wsg_addr_table *t2 = NULL;
    cr_assert_eq(wsg_addr_table_new(&cfg, &t2), WSG_ERR_INVALID_ARG);
    wsg_addr_table_free(t);
}

/* Fill a 64-entry table with idle entries and return it. Every address
 * has used its window of one, so an admit answers TOO_FAST if the entry is
 * present and OK if it was evicted (a fresh entry). */
static struct wsg_addr_table *full_idle(struct counting *c, size_t *cap)
{
    struct wsg_addr_table_config cfg;
    wsg_addr_table_config_init_default(&cfg);
    cfg.memory_budget = small_budget();
    cfg.new_conns_per_window = 1;
    cfg.window_ms = UINT32_MAX;
    struct wsg_addr_table *t = mk(&cfg, c);
    *cap = wsg_addr_table_capacity(t);
    cr_assert_eq(*cap, 64);
    for (uint32_t i = 0; i < *cap; i++) {
        struct wsg_addr a = addr_n(i);
        cr_assert_eq(wsg_addr_table_admit(t, &a, i, NULL), WSG_ADMIT_OK);
        wsg_addr_table_release(t, &a);
    }
    cr_assert_eq(wsg_addr_table_count(t), *cap);
    return t;
}

/* Eviction is least recently used among idle entries. */
Test(policy_addr_table, H6_eviction_is_lru_among_idle)
{
    struct counting c = {0};
    size_t cap;
    struct wsg_addr_table *t = full_idle(&c, &cap);
    struct wsg_addr a0 = addr_n(0), a9 = addr_n(9);
    /* touch 0 and 9: refused admits are uses too */
    cr_assert_eq(wsg_addr_table_admit(t, &a0, 100, NULL), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(wsg_addr_table_admit(t, &a9, 100, NULL), WSG_ADMIT_TOO_FAST);
    /* idle order now: 1..8, 10..63, 0, 9 */
    const uint32_t K = 20;
    for (uint32_t k = 0; k < K; k++) {
        struct wsg_addr x = addr_n(1000 + k);
        cr_assert_eq(wsg_addr_table_admit(t, &x, 200, NULL), WSG_ADMIT_OK);
        wsg_addr_table_release(t, &x);
    }
    /* evicted: the 20 oldest of that order = 1..8, 10..21 */
    cr_assert_eq(wsg_addr_table_count(t), cap);
    /* present (TOO_FAST, no eviction): 22..63, 0, 9 */
    for (uint32_t i = 22; i < cap; i++) {
        struct wsg_addr a = addr_n(i);
        cr_assert_eq(wsg_addr_table_admit(t, &a, 300, NULL),
                     WSG_ADMIT_TOO_FAST, "%u evicted", i);
    }
    cr_assert_eq(wsg_addr_table_admit(t, &a0, 300, NULL), WSG_ADMIT_TOO_FAST);
    cr_assert_eq(wsg_addr_table_admit(t, &a9, 300, NULL), WSG_ADMIT_TOO_FAST);
    /* absent: each admit of one of them evicts one of the 1000+k */
    for (uint32_t i = 1; i <= 21; i++) {
        if (i == 9)
            continue;
        struct wsg_addr a = addr_n(i);
        cr_assert_eq(wsg_addr_table_admit(t, &a, 300, NULL), WSG_ADMIT_OK,
                     "%u not evicted", i);
    }
    wsg_addr_table_free(t);
}

/* TABLE_FULL exactly when every entry has open connections; a flood of
 * new addresses cannot evict an address with an open connection. */
Test(policy_addr_table, H6_full_only_when_all_busy)
{
    struct counting c = {0};
    size_t cap;
    struct wsg_addr_table *t = mk_small(&c, 3, 1, &cap);
    uint32_t ra;
    for (uint32_t i = 0; i + 1 < cap; i++) {
        struct wsg_addr a = addr_n(i);
        cr_assert_eq(wsg_addr_table_admit(t, &a, i, NULL), WSG_ADMIT_OK);
    }
    /* one idle slot left: a flood rotates through it */
    for (uint32_t i = 0; i < 100000; i++) {
        struct wsg_addr x = addr_n(5000000 + i);
        cr_assert_eq(wsg_addr_table_admit(t, &x, 1000, &ra), WSG_ADMIT_OK,
                     "i %u", i);
        wsg_addr_table_release(t, &x);
        cr_assert_eq(wsg_addr_table_count(t), cap);
    }
    /* the busy ones are all still there */
    for (uint32_t i = 0; i + 1 < cap; i++) {
        struct wsg_addr a = addr_n(i);
        cr_assert_eq(wsg_addr_table_admit(t, &a, 2000, NULL),
                     WSG_ADMIT_TOO_MANY_CONNS, "%u evicted", i);
    }
    /* now make the last one busy: everything is full */
    struct wsg_addr last = addr_n(7000000);
    cr_assert_eq(wsg_addr_table_admit(t, &last, 3000, NULL), WSG_ADMIT_OK);
    struct wsg_addr y = addr_n(8000000);
    ra = 0;
    cr_assert_eq(wsg_addr_table_admit(t, &y, 3000, &ra),
                 WSG_ADMIT_TABLE_FULL);
    cr_assert_eq(ra, 1);
    cr_assert_eq(wsg_addr_table_count(t), cap);
    /* known addresses still get their answers */
    cr_assert_eq(wsg_addr_table_admit(t, &last, 3000, NULL),
                 WSG_ADMIT_TOO_MANY_CONNS);
    /* one release, and a new address takes that entry */
    struct wsg_addr a3 = addr_n(3);
    wsg_addr_table_release(t, &a3);
    cr_assert_eq(wsg_addr_table_admit(t, &y, 3001, NULL), WSG_ADMIT_OK);
    cr_assert_eq(wsg_addr_table_admit(t, &a3, 3001, NULL),
                 WSG_ADMIT_TABLE_FULL);
    wsg_addr_table_free(t);
}

/* Random operations against a shadow model on a small table: open counts
 * of present addresses always agree, TABLE_FULL only when all are busy. */
Test(policy_addr_table, H6_random_ops_match_model)
{
    struct counting c = {0};
    size_t cap;
    struct wsg_addr_table *t = mk_small(&c, 2, 4, &cap);
    enum { U = 400 };
    static uint32_t open[U];
    memset(open, 0, sizeof(open));
    uint64_t s = 88172645463325252ULL;
    for (int step = 0; step < 300000; step++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        uint32_t i = (uint32_t)(s % U);
        struct wsg_addr a = addr_n(i);
        size_t busy = 0;
        for (uint32_t k = 0; k < U; k++)
            busy += open[k] != 0;
        if ((s >> 20) % 3 == 0) {
            wsg_addr_table_release(t, &a);
            if (open[i])
                open[i]--;
            continue;
        }
        enum wsg_admit r = wsg_addr_table_admit(t, &a, (uint64_t)step, NULL);
        if (r == WSG_ADMIT_TABLE_FULL) {
            cr_assert_eq(open[i], 0);
            cr_assert_eq(busy, cap, "full with %zu busy of %zu", busy, cap);
        } else if (open[i] >= 4) {
            cr_assert_eq(r, WSG_ADMIT_TOO_MANY_CONNS);
        } else {
            cr_assert_eq(r, WSG_ADMIT_OK, "step %d", step);
            open[i]++;
        }
        cr_assert_leq(wsg_addr_table_count(t), cap);
    }
    wsg_addr_table_free(t);
}
