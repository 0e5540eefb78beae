/* run.c - run a network compiled by cnnc on every sample of a file, one at a
 * time (batch 1), and time each call.
 *
 *   cc -std=c99 -DNET_HEADER='"net.h"' -DIN_SIZE=NET_IMAGE_SIZE -DOUT_SIZE=NET_FC2_SIZE \
 *      net.c run.c $(cnnc --cflags) -o run $(cnnc --libs)
 *   ./run IN.f32 OUT.f32
 *
 * IN.f32 holds N samples of IN_SIZE float32 values, OUT.f32 gets N outputs of
 * OUT_SIZE. Prints "images N median_ms M mean_ms A arena_bytes B": the median
 * and mean time of one net_run() call (after 20 warm-up calls) and the
 * network's arena (NET_ARENA_BYTES). The network's symbols are net_*: compile
 * it with cnnc --name net. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include NET_HEADER

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    FILE *f;
    long bytes;
    size_t n, i;
    float *in, *out;
    double *ms, total = 0.0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s IN.f32 OUT.f32\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (bytes = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    if (bytes == 0 || bytes % (long)(IN_SIZE * sizeof(float)) != 0) {
        fprintf(stderr, "%s: %ld bytes is not a whole number of %d-float samples\n", argv[1],
                bytes, (int)IN_SIZE);
        return 1;
    }
    n = (size_t)bytes / (IN_SIZE * sizeof(float));
    in = malloc((size_t)bytes);
    out = malloc(n * OUT_SIZE * sizeof(float));
    ms = malloc(n * sizeof(double));
    if (!in || !out || !ms || fread(in, 1, (size_t)bytes, f) != (size_t)bytes) {
        fprintf(stderr, "%s: cannot read\n", argv[1]);
        return 1;
    }
    fclose(f);
    for (i = 0; i < 20; i++)
        net_run(in + (i % n) * IN_SIZE, out);
    for (i = 0; i < n; i++) {
        double t0 = now_ms();
        net_run(in + i * IN_SIZE, out + i * OUT_SIZE);
        ms[i] = now_ms() - t0;
        total += ms[i];
    }
    f = fopen(argv[2], "wb");
    if (!f || fwrite(out, sizeof(float), n * OUT_SIZE, f) != n * OUT_SIZE || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write\n", argv[2]);
        return 1;
    }
    qsort(ms, n, sizeof(double), cmp_double);
    printf("images %lu median_ms %.5f mean_ms %.5f arena_bytes %lu\n", (unsigned long)n,
           ms[n / 2], total / (double)n, (unsigned long)NET_ARENA_BYTES);
    free(in);
    free(out);
    free(ms);
    return 0;
}
