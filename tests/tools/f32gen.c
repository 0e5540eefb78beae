/* f32gen.c - write a seeded pseudo-random input, for the golden tests.
 *
 *     f32gen SEED COUNT OUT.f32
 *
 * Writes COUNT raw little-endian float32 values to OUT.f32, drawn from the
 * splitmix64 stream of docs/language.md ("Deterministic init") started at
 * state SEED: value i is U(-1, 1) = (float)(lo + (hi - lo) * uniform()) with
 * lo = -1, hi = 1, computed in double and rounded to float. A golden case
 * whose input would be large (a 224x224 image) holds the one-line file
 * input.seed instead of input.f32, and tests/run-golden.sh calls this tool;
 * tests/gen/gen_golden.py (seeded_input) draws the same values in Python.
 *
 * SEED is a decimal integer in [0, 2^64); COUNT is at least 1. Exit status 0,
 * or 2 after a message on a usage or I/O error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t sm_state;

static uint64_t sm_next(void)
{
    uint64_t z;
    sm_state += 0x9E3779B97F4A7C15u;
    z = sm_state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double sm_uniform(void)
{
    return (double)(sm_next() >> 11) * (1.0 / 9007199254740992.0); /* 2^-53 */
}

/* A whole decimal number, no sign, no junk; 0 on failure. */
static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    uintmax_t x = strtoumax(s, &end, 10);
    if (errno || *end || x > UINT64_MAX)
        return 0;
    *v = (uint64_t)x;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t seed, count;
    if (argc != 4 || !parse_u64(argv[1], &seed) || !parse_u64(argv[2], &count) || count == 0 ||
        count > (uint64_t)1 << 40) {
        fprintf(stderr, "usage: f32gen SEED COUNT OUT.f32\n");
        return 2;
    }
    FILE *f = fopen(argv[3], "wb");
    if (!f) {
        fprintf(stderr, "f32gen: %s: %s\n", argv[3], strerror(errno));
        return 2;
    }
    sm_state = seed;
    const double lo = -1.0, hi = 1.0;
    for (uint64_t i = 0; i < count; i++) {
        float v = (float)(lo + (hi - lo) * sm_uniform());
        uint32_t bits;
        memcpy(&bits, &v, 4);
        unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8),
                              (unsigned char)(bits >> 16), (unsigned char)(bits >> 24)};
        if (fwrite(b, 1, 4, f) != 4) {
            fprintf(stderr, "f32gen: %s: write error\n", argv[3]);
            fclose(f);
            return 2;
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "f32gen: %s: %s\n", argv[3], strerror(errno));
        return 2;
    }
    return 0;
}
