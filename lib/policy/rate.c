/* Rates (H6): token buckets and the per-address table in fixed memory
 * (H12: allocated once, never grows).
 *
 * Bucket: level in millitokens; rate tokens/s times ms elapsed is exactly
 * millitokens, so refills are exact integers. Every product is checked
 * against the headroom before it is formed: no overflow for any rate or
 * any jump of now_ms. Time going backwards is no time passing (last_ms
 * never moves back).
 *
 * Table: one allocation of header + entries + slots. Slots are an open
 * addressing (linear probing) index at load <= 1/2: a slot is
 * (hash high 32 bits << 32) | (entry index + 1), 0 = empty; the home slot
 * is computed from those 32 bits alone, so deletion (backward shift) never
 * touches entries. No entry sits more than PROBE_MAX slots from its home:
 * lookups are bounded. Idle entries (no open connection) are on an LRU list;
 * a new address takes a never-used entry, else evicts the LRU idle entry.
 *
 * Hash: keyed 128 -> 64 bit mix (two murmur3 fmix64 rounds). The key is
 * derived from the table's address and its config: not a secret, it only
 * spreads addresses. An attacker who learns it can at worst crowd one probe
 * window: PROBE_MAX bounds the work, and a full window of busy entries is
 * refused as TABLE_FULL (an idle entry in a full window is replaced in
 * place, not necessarily the LRU one). */
#include <string.h>

#include <wsguard/policy.h>

#include "core/alloc.h"

/* ---- token bucket ------------------------------------------------------- */

static uint64_t sat_milli(uint64_t n)
{
    return n > UINT64_MAX / 1000 ? UINT64_MAX : n * 1000;
}

/* Level at `now_ms`, without changing `b`. */
static uint64_t bucket_level(const struct wsg_bucket *b, uint64_t now_ms)
{
    uint64_t cap = sat_milli(b->burst);
    uint64_t level = b->level < cap ? b->level : cap;
    uint64_t dt = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
    if (dt == 0 || b->rate == 0)
        return level;
    if (dt > (cap - level) / b->rate)
        return cap;
    return level + dt * b->rate;
}

void wsg_bucket_init(struct wsg_bucket *b, uint64_t rate, uint64_t burst,
                     uint64_t now_ms)
{
    b->rate = rate;
    b->burst = burst;
    b->level = sat_milli(burst);
    b->last_ms = now_ms;
}

bool wsg_bucket_take(struct wsg_bucket *b, uint64_t n, uint64_t now_ms)
{
    if (b->rate == 0)
        return true;
    b->level = bucket_level(b, now_ms);
    if (now_ms > b->last_ms)
        b->last_ms = now_ms;
    if (n > b->burst)
        return false;
    uint64_t need = sat_milli(n);
    if (need > b->level)
        return false;
    b->level -= need;
    return true;
}

uint64_t wsg_bucket_wait_ms(const struct wsg_bucket *b, uint64_t n,
                            uint64_t now_ms)
{
    if (b->rate == 0)
        return 0;
    if (n > b->burst)
        return UINT64_MAX;
    uint64_t level = bucket_level(b, now_ms);
    uint64_t need = sat_milli(n);
    if (need <= level)
        return 0;
    uint64_t deficit = need - level;
    uint64_t w = deficit / b->rate + (deficit % b->rate != 0);
    /* Time behind last_ms does not count: refills start at last_ms. */
    if (now_ms < b->last_ms) {
        uint64_t back = b->last_ms - now_ms;
        w = w > UINT64_MAX - back ? UINT64_MAX : w + back;
    }
    return w;
}

/* ---- per-address table -------------------------------------------------- */

#define NIL UINT32_MAX
#define PROBE_MAX 128u
#define MIN_ENTRIES 64u
#define MAX_ENTRIES (1u << 30)

struct entry {
    struct wsg_addr a;
    uint64_t win_start;  /* ms: first admitted connection of the window */
    uint32_t open;       /* open connections */
    uint32_t win_count;  /* admitted in the window; 0: no window running */
    uint32_t prev, next; /* idle LRU list (open == 0 only) */
};

struct wsg_addr_table {
    struct wsg_allocator alloc;
    struct entry *e;
    uint64_t *slots;
    uint32_t cap, used, nslots;
    uint32_t idle_head, idle_tail; /* head: least recently used */
    uint32_t max_conns, per_window, window_ms;
    uint64_t k0, k1;
};

#define HDR_SIZE ((sizeof(struct wsg_addr_table) + 7) & ~(size_t)7)
#define PER_ENTRY (sizeof(struct entry) + 2 * sizeof(uint64_t))

void wsg_addr_table_config_init_default(struct wsg_addr_table_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->memory_budget = (size_t)4 << 20;
    cfg->window_ms = 10000;
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint32_t addr_tag(const struct wsg_addr_table *t,
                         const struct wsg_addr *a)
{
    uint64_t x, y;
    memcpy(&x, a->b, 8);
    memcpy(&y, a->b + 8, 8);
    return (uint32_t)(fmix64(fmix64(x ^ t->k0) ^ y ^ t->k1) >> 32);
}

static uint32_t home_of(const struct wsg_addr_table *t, uint32_t tag)
{
    return (uint32_t)(((uint64_t)tag * t->nslots) >> 32);
}

static uint32_t next_slot(const struct wsg_addr_table *t, uint32_t s)
{
    return s + 1 == t->nslots ? 0 : s + 1;
}

int wsg_addr_table_new(const struct wsg_addr_table_config *cfg,
                       struct wsg_addr_table **out)
{
    struct wsg_allocator al;
    if (!cfg || !out || !wsg__alloc_init(&al, cfg->alloc))
        return WSG_ERR_INVALID_ARG;
    if (cfg->new_conns_per_window && cfg->window_ms == 0)
        return WSG_ERR_INVALID_ARG;
    if (cfg->memory_budget < HDR_SIZE)
        return WSG_ERR_INVALID_ARG;
    size_t n = (cfg->memory_budget - HDR_SIZE) / PER_ENTRY;
    if (n < MIN_ENTRIES)
        return WSG_ERR_INVALID_ARG;
    if (n > MAX_ENTRIES)
        n = MAX_ENTRIES;
    size_t ebytes = n * sizeof(struct entry);
    size_t sbytes = 2 * n * sizeof(uint64_t);
    unsigned char *mem = wsg__zalloc(&al, HDR_SIZE + ebytes + sbytes);
    if (!mem)
        return WSG_ERR_NOMEM;
    struct wsg_addr_table *t = (struct wsg_addr_table *)(void *)mem;
    t->alloc = al;
    t->e = (struct entry *)(void *)(mem + HDR_SIZE);
    t->slots = (uint64_t *)(void *)(mem + HDR_SIZE + ebytes);
    t->cap = (uint32_t)n;
    t->nslots = (uint32_t)(2 * n);
    t->used = 0;
    t->idle_head = t->idle_tail = NIL;
    t->max_conns = cfg->max_conns_per_addr;
    t->per_window = cfg->new_conns_per_window;
    t->window_ms = cfg->window_ms;
    /* Seed: spreads keys, not a secret (see top of file). */
    uint64_t s = (uint64_t)(uintptr_t)t;
    s ^= fmix64((uint64_t)cfg->memory_budget ^ 0x9e3779b97f4a7c15ULL);
    s ^= ((uint64_t)cfg->max_conns_per_addr << 32) ^ cfg->new_conns_per_window;
    s ^= (uint64_t)cfg->window_ms * 0xbf58476d1ce4e5b9ULL;
    t->k0 = fmix64(s);
    t->k1 = fmix64(t->k0 ^ 0x94d049bb133111ebULL);
    *out = t;
    return WSG_OK;
}

void wsg_addr_table_free(struct wsg_addr_table *t)
{
    if (!t)
        return;
    struct wsg_allocator al = t->alloc;
    wsg__free(&al, t);
}

size_t wsg_addr_table_count(const struct wsg_addr_table *t)
{
    return t ? t->used : 0;
}

size_t wsg_addr_table_capacity(const struct wsg_addr_table *t)
{
    return t ? t->cap : 0;
}

static void idle_unlink(struct wsg_addr_table *t, uint32_t i)
{
    struct entry *e = &t->e[i];
    if (e->prev != NIL)
        t->e[e->prev].next = e->next;
    else
        t->idle_head = e->next;
    if (e->next != NIL)
        t->e[e->next].prev = e->prev;
    else
        t->idle_tail = e->prev;
    e->prev = e->next = NIL;
}

static void idle_push(struct wsg_addr_table *t, uint32_t i)
{
    struct entry *e = &t->e[i];
    e->prev = t->idle_tail;
    e->next = NIL;
    if (t->idle_tail != NIL)
        t->e[t->idle_tail].next = i;
    else
        t->idle_head = i;
    t->idle_tail = i;
}

/* Entry index of `a`, or NIL. On NIL, *empty is the first empty slot
 * within PROBE_MAX of home, or NIL if the window is full. */
static uint32_t lookup(const struct wsg_addr_table *t,
                       const struct wsg_addr *a, uint32_t tag,
                       uint32_t *empty)
{
    uint32_t s = home_of(t, tag);
    for (uint32_t k = 0; k < PROBE_MAX; k++, s = next_slot(t, s)) {
        uint64_t v = t->slots[s];
        if (v == 0) {
            *empty = s;
            return NIL;
        }
        if ((uint32_t)(v >> 32) == tag) {
            uint32_t i = (uint32_t)v - 1;
            if (memcmp(t->e[i].a.b, a->b, 16) == 0)
                return i;
        }
    }
    *empty = NIL;
    return NIL;
}

/* Removes entry `i` from the index (backward-shift deletion). */
static void slot_remove(struct wsg_addr_table *t, uint32_t i)
{
    uint32_t tag = addr_tag(t, &t->e[i].a);
    uint32_t d = home_of(t, tag);
    uint64_t want = ((uint64_t)tag << 32) | (i + 1);
    for (uint32_t k = 0; t->slots[d] != want; k++) {
        if (k >= PROBE_MAX)
            return; /* not indexed: cannot happen */
        d = next_slot(t, d);
    }
    uint32_t n = t->nslots;
    for (uint32_t j = next_slot(t, d);; j = next_slot(t, j)) {
        uint64_t v = t->slots[j];
        if (v == 0)
            break;
        uint32_t h = home_of(t, (uint32_t)(v >> 32));
        /* v may move to d if d lies cyclically in [h, j). */
        if ((j + n - h) % n >= (j + n - d) % n) {
            t->slots[d] = v;
            d = j;
        }
    }
    t->slots[d] = 0;
}

static uint32_t secs_ceil(uint64_t ms)
{
    uint64_t s = ms / 1000 + (ms % 1000 != 0);
    if (s == 0)
        s = 1;
    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* A fresh entry for `a` (not present), indexed; NIL if none can be had. */
static uint32_t insert(struct wsg_addr_table *t, const struct wsg_addr *a,
                       uint32_t tag, uint32_t empty)
{
    uint32_t i;
    uint32_t s = empty;
    if (s == NIL) {
        /* Probe window full: replace an idle entry in it, in place. */
        s = home_of(t, tag);
        for (uint32_t k = 0;; k++, s = next_slot(t, s)) {
            if (k == PROBE_MAX)
                return NIL;
            i = (uint32_t)t->slots[s] - 1;
            if (t->e[i].open == 0)
                break;
        }
        idle_unlink(t, i);
    } else if (t->used < t->cap) {
        i = t->used++;
    } else {
        i = t->idle_head;
        if (i == NIL)
            return NIL;
        idle_unlink(t, i);
        slot_remove(t, i);
        /* Deletion only moves entries back and stops at `empty`: an
         * empty slot still lies within the window. */
        lookup(t, a, tag, &s);
        if (s == NIL)
            return NIL; /* cannot happen */
    }
    struct entry *e = &t->e[i];
    e->a = *a;
    e->open = 0;
    e->win_count = 0;
    e->win_start = 0;
    e->prev = e->next = NIL;
    t->slots[s] = ((uint64_t)tag << 32) | (i + 1);
    idle_push(t, i);
    return i;
}

enum wsg_admit wsg_addr_table_admit(struct wsg_addr_table *t,
                                    const struct wsg_addr *a,
                                    uint64_t now_ms, uint32_t *retry_after_s)
{
    uint32_t dummy;
    if (!retry_after_s)
        retry_after_s = &dummy;
    *retry_after_s = 0;
    if (!t || !a) {
        *retry_after_s = 1;
        return WSG_ADMIT_TABLE_FULL;
    }
    uint32_t tag = addr_tag(t, a);
    uint32_t empty;
    uint32_t i = lookup(t, a, tag, &empty);
    if (i == NIL) {
        i = insert(t, a, tag, empty);
        if (i == NIL) {
            *retry_after_s = 1;
            return WSG_ADMIT_TABLE_FULL;
        }
    }
    struct entry *e = &t->e[i];
    if (e->open == 0) { /* touched: most recently used */
        idle_unlink(t, i);
        idle_push(t, i);
    }
    if ((t->max_conns && e->open >= t->max_conns) || e->open == UINT32_MAX) {
        *retry_after_s = 1; /* unknown: when one of them closes */
        return WSG_ADMIT_TOO_MANY_CONNS;
    }
    if (t->per_window) {
        uint64_t el = now_ms > e->win_start ? now_ms - e->win_start : 0;
        if (e->win_count && el >= t->window_ms)
            e->win_count = 0; /* window over; the next one starts now */
        if (e->win_count >= t->per_window) {
            *retry_after_s = secs_ceil(t->window_ms - el);
            return WSG_ADMIT_TOO_FAST;
        }
        if (e->win_count == 0)
            e->win_start = now_ms;
        e->win_count++;
    }
    if (e->open++ == 0)
        idle_unlink(t, i);
    return WSG_ADMIT_OK;
}

void wsg_addr_table_release(struct wsg_addr_table *t,
                            const struct wsg_addr *a)
{
    if (!t || !a)
        return;
    uint32_t tag = addr_tag(t, a);
    uint32_t empty;
    uint32_t i = lookup(t, a, tag, &empty);
    if (i == NIL || t->e[i].open == 0)
        return;
    if (--t->e[i].open == 0)
        idle_push(t, i);
}
