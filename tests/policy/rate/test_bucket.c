/* H6: token bucket properties. Integer millitokens make the bucket exact:
 * the model below is the same rule written over rationals (tokens * 1000),
 * with small values so no overflow handling is needed in the model. */
#include <criterion/criterion.h>
#include <stdint.h>

#include <wsguard/policy.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

#define STEPS 400

/* Over random (dt, n) sequences: decisions match the exact model, and
 * tokens granted in any interval [t_i, t_j] never exceed
 * burst + rate * (t_j - t_i) / 1000 (checked as 1000*granted <=
 * 1000*burst + rate*(t_j - t_i), exactly). */
Test(policy_bucket, H6_random_sequences_bounded_by_burst_plus_rate)
{
    rng_state = 0x9e3779b97f4a7c15ULL;
    static uint64_t when[STEPS], got[STEPS];
    for (int round = 0; round < 300; round++) {
        uint64_t rate = 1 + rnd_below(round % 3 == 0 ? 5 : 100000);
        uint64_t burst = rnd_below(round % 2 ? 4 : 1000);
        uint64_t now = rnd_below(1u << 20);
        struct wsg_bucket b;
        wsg_bucket_init(&b, rate, burst, now);
        uint64_t model = burst * 1000, mlast = now;
        uint64_t granted_any = 0;
        for (int i = 0; i < STEPS; i++) {
            uint64_t dt;
            switch (rnd_below(4)) {
            case 0: dt = 0; break;
            case 1: dt = rnd_below(3); break;
            case 2: dt = rnd_below(1000); break;
            default: dt = rnd_below(20000); break;
            }
            now += dt;
            uint64_t n = rnd_below(4) == 0 ? rnd_below(burst + 2)
                                          : rnd_below(3);
            /* model */
            model += (now - mlast) * rate;
            if (model > burst * 1000)
                model = burst * 1000;
            mlast = now;
            bool want = n <= burst && n * 1000 <= model;
            if (want)
                model -= n * 1000;
            bool ok = wsg_bucket_take(&b, n, now);
            cr_assert_eq(ok, want, "round %d step %d rate %llu burst %llu "
                         "n %llu", round, i, (unsigned long long)rate,
                         (unsigned long long)burst, (unsigned long long)n);
            when[i] = now;
            got[i] = ok ? n : 0;
            granted_any += got[i];
        }
        for (int i = 0; i < STEPS; i++) {
            uint64_t sum = 0;
            for (int j = i; j < STEPS; j++) {
                sum += got[j];
                cr_assert_leq(sum * 1000,
                              burst * 1000 + rate * (when[j] - when[i]));
            }
        }
        (void)granted_any;
    }
}

/* A consumer at exactly the rate is never refused. */
Test(policy_bucket, H6_steady_consumer_gets_everything)
{
    static const uint64_t rates[] = {1, 3, 7, 50, 333, 999, 1000, 4096,
                                     100000};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        uint64_t rate = rates[r];
        /* n tokens each n*1000/rate ms when that is whole. */
        struct wsg_bucket b;
        wsg_bucket_init(&b, rate, 1, 5);
        cr_assert(wsg_bucket_take(&b, 1, 5));
        if (1000 % rate == 0) {
            for (uint64_t k = 1; k <= 5000; k++)
                cr_assert(wsg_bucket_take(&b, 1, 5 + k * (1000 / rate)),
                          "rate %llu k %llu", (unsigned long long)rate,
                          (unsigned long long)k);
        }
        /* Token k at ceil(k*1000/rate) ms, burst enough for one ms of
         * rounding: always there. */
        uint64_t burst = 2 + rate / 1000;
        wsg_bucket_init(&b, rate, burst, 0);
        cr_assert(wsg_bucket_take(&b, burst, 0));
        for (uint64_t k = 1; k <= 20000; k++) {
            uint64_t t = (k * 1000 + rate - 1) / rate;
            cr_assert(wsg_bucket_take(&b, 1, t), "rate %llu k %llu",
                      (unsigned long long)rate, (unsigned long long)k);
        }
        /* and not one more than the rate over the run */
        uint64_t t_end = (20000 * 1000 + rate - 1) / rate;
        uint64_t extra = 0;
        while (wsg_bucket_take(&b, 1, t_end))
            extra++;
        cr_assert_leq(extra, burst);
    }
}

/* wait_ms is exact: at now + w the take succeeds, at now + w - 1 not. */
Test(policy_bucket, H6_wait_ms_exact)
{
    rng_state = 12345;
    for (int i = 0; i < 200000; i++) {
        uint64_t rate = 1 + rnd_below(i % 2 ? 10 : 5000);
        uint64_t burst = 1 + rnd_below(50);
        uint64_t t0 = rnd_below(1000000);
        struct wsg_bucket b;
        wsg_bucket_init(&b, rate, burst, t0);
        uint64_t now = t0;
        for (int k = 0; k < 3; k++) {
            now += rnd_below(1500);
            (void)wsg_bucket_take(&b, rnd_below(burst + 1), now);
        }
        now += rnd_below(100);
        uint64_t n = rnd_below(burst + 1);
        uint64_t w = wsg_bucket_wait_ms(&b, n, now);
        struct wsg_bucket c = b;
        if (w == 0) {
            cr_assert(wsg_bucket_take(&c, n, now));
            continue;
        }
        cr_assert(!wsg_bucket_take(&c, n, now + w - 1), "i %d w %llu", i,
                  (unsigned long long)w);
        c = b;
        cr_assert(wsg_bucket_take(&c, n, now + w), "i %d w %llu", i,
                  (unsigned long long)w);
    }
}

Test(policy_bucket, H6_wait_more_than_burst_is_never)
{
    struct wsg_bucket b;
    wsg_bucket_init(&b, 10, 5, 0);
    cr_assert_eq(wsg_bucket_wait_ms(&b, 6, 0), UINT64_MAX);
    cr_assert(!wsg_bucket_take(&b, 6, UINT64_MAX));
    cr_assert_eq(wsg_bucket_wait_ms(&b, 5, 0), 0);
}

Test(policy_bucket, H6_rate_zero_is_unlimited)
{
    struct wsg_bucket b;
    wsg_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert(wsg_bucket_take(&b, UINT64_MAX, 0));
    cr_assert_eq(wsg_bucket_wait_ms(&b, UINT64_MAX, 0), 0);
}

Test(policy_bucket, H6_starts_full_burst_then_empty)
{
    struct wsg_bucket b;
    wsg_bucket_init(&b, 1, 10, 1000);
    cr_assert(wsg_bucket_take(&b, 10, 1000));
    cr_assert(!wsg_bucket_take(&b, 1, 1999));
    cr_assert(wsg_bucket_take(&b, 1, 2000));
    cr_assert(!wsg_bucket_take(&b, 1, 2000));
}

/* Time going backwards is no time passing; returning forward credits only
 * what lies past the latest time seen. */
Test(policy_bucket, H6_time_backwards_adds_nothing)
{
    struct wsg_bucket b;
    wsg_bucket_init(&b, 1000, 10, 100000);
    cr_assert(wsg_bucket_take(&b, 10, 100000));
    cr_assert(!wsg_bucket_take(&b, 1, 0));
    cr_assert(!wsg_bucket_take(&b, 1, 50000));
    cr_assert(!wsg_bucket_take(&b, 1, 100000));
    cr_assert_eq(wsg_bucket_wait_ms(&b, 1, 100000), 1);
    /* from a time behind last_ms, the wait covers the gap */
    cr_assert_eq(wsg_bucket_wait_ms(&b, 1, 99000), 1001);
    cr_assert(wsg_bucket_take(&b, 1, 100001));
    cr_assert(!wsg_bucket_take(&b, 1, 100001));
}

/* Rates up to 2^32/s and bursts near the top, with now jumping anywhere:
 * nothing wraps (a wrap would show as an empty or overfull bucket). */
Test(policy_bucket, H6_no_overflow_large_rates_and_jumps)
{
    static const uint64_t rates[] = {UINT64_C(1) << 32, (UINT64_C(1) << 32) - 1,
                                     UINT64_C(1) << 31, 1};
    static const uint64_t bursts[] = {1, 1000, UINT64_C(1) << 40,
                                      UINT64_MAX / 1000, UINT64_MAX};
    for (size_t r = 0; r < 4; r++)
        for (size_t k = 0; k < 5; k++) {
            uint64_t rate = rates[r], burst = bursts[k];
            struct wsg_bucket b;
            wsg_bucket_init(&b, rate, burst, 0);
            cr_assert(wsg_bucket_take(&b, burst, 0));
            cr_assert(!wsg_bucket_take(&b, 1, 0) || burst == UINT64_MAX);
            /* a jump to the end of time refills to exactly full */
            cr_assert(wsg_bucket_take(&b, burst, UINT64_MAX));
            cr_assert_leq(b.level, UINT64_MAX);
            wsg_bucket_init(&b, rate, burst, UINT64_MAX - 1);
            cr_assert(wsg_bucket_take(&b, burst, UINT64_MAX));
            /* one ms at the rate gives rate millitokens, exactly */
            wsg_bucket_init(&b, rate, UINT64_C(1) << 40, 7);
            cr_assert(wsg_bucket_take(&b, UINT64_C(1) << 40, 7));
            cr_assert_eq(b.level, 0);
            cr_assert(!wsg_bucket_take(&b, 0 + 1, 7));
            (void)wsg_bucket_take(&b, 0, 8);
            cr_assert_eq(b.level, rate);
            uint64_t w = wsg_bucket_wait_ms(&b, UINT64_C(1) << 40, 8);
            cr_assert_neq(w, UINT64_MAX);
            struct wsg_bucket c = b;
            cr_assert(!wsg_bucket_take(&c, UINT64_C(1) << 40, 8 + w - 1));
            cr_assert(wsg_bucket_take(&b, UINT64_C(1) << 40, 8 + w));
        }
}
