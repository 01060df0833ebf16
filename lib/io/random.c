/* The CSPRNG for masking keys and Sec-WebSocket-Key (RFC 6455 sections
 * 5.3 and 4.1): mbedTLS CTR-DRBG seeded from mbedtls_entropy (getrandom or
 * /dev/urandom). CTR-DRBG reseeds itself every
 * MBEDTLS_CTR_DRBG_RESEED_INTERVAL requests. */
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "io/io_internal.h"

struct wsg_rng {
    struct wsg_allocator alloc;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

int wsg_rng_new(const struct wsg_allocator *alloc, const char *personal,
                struct wsg_rng **out)
{
    struct wsg_allocator a;
    struct wsg_rng *r;
    const char *pers = personal ? personal : "wsguard";

    if (!out)
        return WSG_ERR_INVALID_ARG;
    *out = NULL;
    if (!wsg__alloc_init(&a, alloc))
        return WSG_ERR_INVALID_ARG;
    r = wsg__zalloc(&a, sizeof *r);
    if (!r)
        return WSG_ERR_NOMEM;
    r->alloc = a;
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                              (const unsigned char *)pers,
                              strlen(pers)) != 0) {
        wsg_rng_free(r);
        return WSG_ERR_RANDOM;
    }
    *out = r;
    return WSG_OK;
}

void wsg_rng_free(struct wsg_rng *rng)
{
    struct wsg_allocator a;

    if (!rng)
        return;
    a = rng->alloc;
    mbedtls_ctr_drbg_free(&rng->drbg);
    mbedtls_entropy_free(&rng->entropy);
    memset(rng, 0, sizeof *rng);
    wsg__free(&a, rng);
}

int wsg_rng_fill(struct wsg_rng *rng, uint8_t *buf, size_t len)
{
    if (!rng || (!buf && len))
        return WSG_ERR_INVALID_ARG;
    while (len > 0) {
        size_t n = len > MBEDTLS_CTR_DRBG_MAX_REQUEST
                       ? MBEDTLS_CTR_DRBG_MAX_REQUEST
                       : len;
        if (mbedtls_ctr_drbg_random(&rng->drbg, buf, n) != 0)
            return WSG_ERR_RANDOM;
        buf += n;
        len -= n;
    }
    return WSG_OK;
}

static int rng_fill_cb(void *ud, uint8_t *buf, size_t len)
{
    return wsg_rng_fill(ud, buf, len) == WSG_OK ? 0 : -1;
}

struct wsg_random wsg_rng_random(struct wsg_rng *rng)
{
    struct wsg_random r;
    r.fill = rng_fill_cb;
    r.ud = rng;
    return r;
}
