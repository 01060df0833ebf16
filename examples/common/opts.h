/* Command-line helpers shared by the example programs: numbers and
 * seconds checked against a range, and usage errors in one format:
 *   PROG: MESSAGE
 *   try 'PROG --help'
 * on stderr, then exit status 2. */
#ifndef WSG_EXAMPLES_OPTS_H
#define WSG_EXAMPLES_OPTS_H

#include <stdbool.h>
#include <stdint.h>

/* The program name used in messages ("wsg-echo"); call first. */
void opts_init(const char *prog);

/* A decimal integer within lo..hi: digits only, no sign or space. */
bool opts_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Seconds with an optional fraction ("10", "0.5", "2.25"), no sign or
 * exponent, rounded to whole ms, within lo_ms..hi_ms. */
bool opts_parse_seconds(const char *s, uint64_t lo_ms, uint64_t hi_ms,
                        uint64_t *out_ms);

/* "PROG: " + the formatted message + the --help hint; exit 2. */
__attribute__((format(printf, 1, 2), noreturn))
void opts_die(const char *fmt, ...);

/* "invalid value for FLAG: 'VAL' (allowed: RANGE)"; exit 2. */
__attribute__((noreturn))
void opts_bad_value(const char *flag, const char *val, const char *range);

/* After getopt_long() returned '?' (opterr = 0): "ARG needs a value" or
 * "unknown option 'ARG'"; exit 2. */
__attribute__((noreturn))
void opts_bad_option(const char *arg, bool needs_value);

#endif
