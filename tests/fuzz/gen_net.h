/* gen_net.h - the differential fuzzer's network generator (gen_net.c, the
 * statements and main; gen_ops.c, one generator per op of compiler/ops.h). */
#ifndef GEN_NET_H
#define GEN_NET_H

#include <stdint.h>

#include "util.h"
#include "weights.h"

#define MAX_TENSORS 24
#define MAX_C 12
#define MAX_HW 20
#define MAX_F 400
#define HUGE_COUNT 5

/* A tensor's shape without the batch: [c, h, w] (rank 4) or [c] (rank 2);
 * a `constant` (cst) has no batch: [c] (rank 1) or [c, h, w] (rank 3).
 * pos: every value is positive (after sigmoid, exp, softmax): a divisor. */
typedef struct Shape {
    int rank;
    int64_t c, h, w;
    int pos, cst;
} Shape;

/* One op's generator: appends "op(args)" for input x to sb and sets the
 * output shape *y, or returns 0 where the op does not apply to x. */
typedef int (*GenFn)(StrBuf *sb, const char *op, Shape x, Shape *y);

typedef struct OpGen {
    const char *name;
    GenFn fn;
    int weight; /* how often it is drawn, relative to the others */
} OpGen;

/* gen_net.c: the random stream (the compiler's splitmix64) and helpers */
extern const int64_t gen_huge[HUGE_COUNT];
int64_t rnd(int64_t n);                /* uniform in [0, n) */
int64_t range(int64_t lo, int64_t hi); /* uniform in [lo, hi] */
int chance(double p);
void put_pair(StrBuf *sb, const char *name, int64_t h, int64_t w);
const char *boolean(int b);
/* a fresh label number, for ops that write two layers (quantize) */
int gen_label(void);

/* gen_ops.c: the ops with one tensor input (the binary ops and concat are
 * gen_net.c's) */
extern const OpGen gen_unary[];
extern const int gen_nunary;

#endif
