/* gen_net.c - random valid networks for the differential fuzzer.
 *
 *     gen_net SEED DIR
 *
 * Writes a golden-case-shaped directory (tests/run-golden.sh): DIR/net.cnn, a
 * random network that cnnc must accept, with `init he` or `init xavier`
 * weights (so no weights file); DIR/flags, its cnnc options (--batch N); and
 * DIR/input.seed, the f32gen seed of its input. Prints the ops it used, one
 * line, for the driver's coverage count (tests/fuzz/differential.sh).
 *
 * Every op of compiler/ops.h is drawn (55), with legal but extreme attributes:
 * strides, paddings and dilations up to 2^31 where the output stays small
 * (a conv2d whose taps all fall in the padding), pool padding at half the
 * kernel, ceil_mode windows that start in the padding, transposed convs with
 * output_padding just under the stride or the dilation, groups and depthwise,
 * 1xN images, flat inputs, negative pads, chunks that leave fewer than asked,
 * float upsample scales, linear over the last of [C, H, W], reductions,
 * permutes and reshapes, quantize/dequantize pairs, math functions outside
 * their domains (NaN, inf), constants broadcast into binary ops;
 * and half the networks with a conv2d or linear prune some of them (`prune`,
 * fractions or a count, unstructured or structured, once or twice), for the
 * sparse kernels and prune-channels.
 * Tensors stay small (at most MAX_C channels of MAX_HW x MAX_HW, flat ones
 * MAX_F) so that a case runs in well under a second under the sanitizers.
 *
 * The text is a subset of the language that tests/fuzz/torch_ref.py reads:
 * one statement per line, `tN = SOURCE -> LABEL: op(args) -> ...` or
 * `tN = LABEL: op(tA, tB)`, every layer labelled, arguments named (but the
 * tensors of the binary ops and concat, pad's four sides, permute's and
 * reshape's dimensions, constant's shape), then `output` and
 * `prune` statements.
 * The same SEED always gives the same network (the compiler's documented
 * splitmix64, init_next).
 *
 * This file draws the statements (chains of gen_ops.c's ops, the binary ops
 * add, sub, mul, div, maximum and minimum, concat, and `constant` operands),
 * the outputs and the prune statements; gen_ops.c draws each op's
 * attributes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_net.h"

/* Attribute values far past any tensor size, up to the maximum 2^31. */
const int64_t gen_huge[HUGE_COUNT] = {65537, (int64_t)1 << 30, ((int64_t)1 << 30) + 1,
                                      ((int64_t)1 << 31) - 1, (int64_t)1 << 31};

static InitRng rng;

int64_t rnd(int64_t n)
{
    return n > 0 ? (int64_t)(init_next(&rng) % (uint64_t)n) : 0;
}

int64_t range(int64_t lo, int64_t hi)
{
    return lo + rnd(hi - lo + 1);
}

int chance(double p)
{
    return init_uniform(&rng) < p;
}

/* An integer attribute, or a pair when the axes differ (sometimes when not). */
void put_pair(StrBuf *sb, const char *name, int64_t h, int64_t w)
{
    if (h == w && chance(0.7))
        sb_printf(sb, ", %s=%" PRId64, name, h);
    else
        sb_printf(sb, ", %s=(%" PRId64 ", %" PRId64 ")", name, h, w);
}

const char *boolean(int b)
{
    return b ? "true" : "false";
}

static Shape tensors[MAX_TENSORS];
static int ntensors, nlabels;
static StrBuf ops_used;
/* The labels of the conv2d and linear layers written, for `prune`. */
static int prunable[64], nprunable;
/* A statement gen_multi wants before its own (tensor ntensors): a constant
 * operand or a sigmoid divisor. */
static StrBuf pre;

int gen_label(void)
{
    return ++nlabels;
}

static int same_shape(Shape a, Shape b)
{
    return a.rank == b.rank && a.c == b.c && (a.rank == 2 || (a.h == b.h && a.w == b.w));
}

static const OpGen *draw_op(void)
{
    int total = 0;
    for (int i = 0; i < gen_nunary; i++)
        total += gen_unary[i].weight;
    int64_t r = rnd(total);
    for (int i = 0;; i++)
        if ((r -= gen_unary[i].weight) < 0)
            return &gen_unary[i];
}

static int fits(Shape s)
{
    return s.c >= 1 && s.c <= (s.rank == 2 ? MAX_F : MAX_C) &&
           (s.rank == 2 || (s.h >= 1 && s.w >= 1 && s.h <= MAX_HW && s.w <= MAX_HW));
}

/* One layer "lN: op(...)" on x into sb; 0 if the drawn op does not apply. */
static int gen_layer(StrBuf *sb, Shape x, Shape *y)
{
    for (int t = 0; t < 32; t++) {
        const OpGen *g = draw_op();
        StrBuf text = {0};
        int label = nlabels;
        if (g->fn(&text, g->name, x, y) && fits(*y)) {
            sb_printf(sb, "l%d: %s", ++nlabels, text.data);
            sb_printf(&ops_used, " %s", g->name);
            if (strcmp(g->name, "quantize") == 0)
                sb_puts(&ops_used, " dequantize");
            if ((strcmp(g->name, "conv2d") == 0 || strcmp(g->name, "linear") == 0) &&
                nprunable < (int)(sizeof prunable / sizeof *prunable))
                prunable[nprunable++] = nlabels;
            y->pos = strcmp(g->name, "sigmoid") == 0 || strcmp(g->name, "exp") == 0 ||
                     strcmp(g->name, "softmax") == 0;
            y->cst = 0;
            sb_free(&text);
            return 1;
        }
        nlabels = label; /* labels an op took for a layer not written */
        sb_free(&text);
    }
    return 0;
}

/* Whether s can be the other operand of a binary op on x with a result of
 * x's shape: equal shapes, [C,1,1] with [C,H,W] (either way, see
 * gen_multi), or a constant broadcast into x. */
static int operand_ok(Shape x, Shape s)
{
    if (s.cst) {
        if (s.rank == 1)
            return s.c == 1 || s.c == (x.rank == 2 ? x.c : x.w);
        return x.rank == 4 && (s.c == 1 || s.c == x.c) && (s.h == 1 || s.h == x.h) &&
               (s.w == 1 || s.w == x.w);
    }
    return same_shape(s, x) || (s.rank == 4 && x.rank == 4 && s.c == x.c &&
                                ((s.h == 1 && s.w == 1) || (x.h == 1 && x.w == 1)));
}

/* A constant statement for an operand of x: [C,1,1], [C,H,W], [W] or [1]
 * ([F] or [1] for a flat x); it becomes tensor ntensors. */
static int make_constant(Shape x)
{
    Shape k = {1, 1, 0, 0, 0, 1};
    int form = (int)rnd(4);
    if (x.rank == 2)
        k.c = form < 2 ? x.c : 1;
    else if (form == 0)
        k = (Shape){3, x.c, 1, 1, 0, 1};
    else if (form == 1)
        k = (Shape){3, x.c, x.h, x.w, 0, 1};
    else if (form == 2)
        k.c = x.w;
    if (ntensors + 1 >= MAX_TENSORS)
        return -1;
    sb_printf(&pre, "t%d = l%d: constant(%" PRId64, ntensors, ++nlabels, k.c);
    if (k.rank == 3)
        sb_printf(&pre, ", %" PRId64 ", %" PRId64, k.h, k.w);
    sb_puts(&pre, ")\n");
    sb_puts(&ops_used, " constant");
    tensors[ntensors] = k; /* main adds it before the statement */
    return ntensors;
}

/* add/mul/sub/div/maximum/minimum of two tensors of one shape, [C,1,1] with
 * [C,H,W], or x with a constant; div only by a positive tensor (sigmoid,
 * exp, softmax; else a sigmoid is made), so that no rounding is blown up by
 * a near-zero divisor; or
 * a concat of 2 to 5 with the same rows and columns (repeats allowed). */
static int gen_multi(StrBuf *sb, int a, Shape *y)
{
    static const char *const binary[] = {"add", "mul", "sub", "div", "maximum", "minimum"};
    Shape x = tensors[a];
    int cand[MAX_TENSORS], n = 0;
    if (chance(0.6)) {
        const char *op = binary[rnd(6)];
        int isdiv = strcmp(op, "div") == 0;
        for (int i = 0; i < ntensors; i++)
            if (operand_ok(x, tensors[i]) && (!isdiv || tensors[i].pos))
                cand[n++] = i;
        int b = n > 0 && chance(0.8) ? cand[rnd(n)] : -1;
        if (b < 0 && isdiv && ntensors + 1 < MAX_TENSORS) {
            /* no positive divisor: a sigmoid of a tensor of x's shape first */
            for (int i = n = 0; i < ntensors; i++)
                if (!tensors[i].cst && operand_ok(x, tensors[i]))
                    cand[n++] = i;
            b = cand[rnd(n)]; /* x is one */
            sb_printf(&pre, "t%d = t%d -> l%d: sigmoid\n", ntensors, b, ++nlabels);
            sb_puts(&ops_used, " sigmoid");
            tensors[ntensors] = tensors[b];
            tensors[ntensors].pos = 1;
            b = ntensors;
        }
        if (b < 0 && isdiv)
            op = "mul"; /* no positive divisor */
        if (b < 0 && (b = make_constant(x)) < 0)
            b = a;
        int bcst = tensors[b].cst;
        int first = chance(0.5) || isdiv ? a : b, second = first == a ? b : a;
        if (strcmp(op, "div") == 0 && !tensors[second].pos) /* the divisor: b */
            first = a, second = b;
        sb_printf(sb, "l%d: %s(t%d, t%d)", ++nlabels, op, first, second);
        sb_printf(&ops_used, " %s", op);
        *y = x;
        if (!bcst && x.rank == 4 && x.h * x.w < tensors[b].h * tensors[b].w)
            *y = tensors[b];
        y->pos = 0;
        return 1;
    }
    for (int i = 0; i < ntensors; i++) {
        Shape s = tensors[i];
        if (!s.cst && s.rank == x.rank && (s.rank == 2 || (s.h == x.h && s.w == x.w)))
            cand[n++] = i;
    }
    int k = (int)range(2, 5);
    *y = x;
    y->c = 0;
    y->pos = 0;
    sb_printf(sb, "l%d: concat(", ++nlabels);
    for (int i = 0; i < k; i++) {
        int b = i == 0 ? a : cand[rnd(n)];
        sb_printf(sb, "%st%d", i ? ", " : "", b);
        y->c += tensors[b].c;
    }
    sb_puts(sb, ")");
    sb_printf(&ops_used, " concat");
    return fits(*y);
}
static void gen_prune(StrBuf *net)
{
    static const char *const amounts[] = {"0.5", "0.3", "0.9", "1.0", "0.0", "0.75"};
    if (nprunable == 0 || !chance(0.5))
        return;
    for (int k = (int)range(1, 2), i = 0; i < k; i++) {
        sb_puts(net, "prune(amount=");
        sb_puts(net, i == 0 && chance(0.2) ? "1" : amounts[rnd(6)]);
        if (chance(0.4))
            sb_puts(net, ", structured=true");
        sb_puts(net, ")");
        if (chance(0.3)) {
            sb_puts(net, " *\n");
            continue;
        }
        int first = 1;
        for (int j = 0; j < nprunable; j++)
            if (chance(0.6) || (first && j == nprunable - 1)) {
                sb_printf(net, "%s l%d", first ? "" : ",", prunable[j]);
                first = 0;
            }
        sb_puts(net, "\n");
    }
    sb_puts(&ops_used, " prune");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "gen_net: cannot write %s\n", path);
        exit(2);
    }
    free(path);
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 3 || !*argv[1]) {
        fprintf(stderr, "usage: gen_net SEED DIR\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], &end, 10);
    if (*end) {
        fprintf(stderr, "gen_net: SEED must be a decimal integer\n");
        return 2;
    }
    rng.state = seed;
    StrBuf net = {0};
    sb_printf(&net, "# gen_net %" PRIu64 " (tests/fuzz/gen_net.c)\nnetwork fz\n", seed);
    Shape in;
    if (chance(0.15)) {
        in = (Shape){2, range(1, 24), 0, 0, 0, 0};
        sb_printf(&net, "input t0[%" PRId64 "]\n", in.c);
    } else {
        int64_t h = chance(0.2) ? 1 : range(1, 12), w = chance(0.2) ? 1 : range(1, 12);
        in = (Shape){4, range(1, 8), h, w, 0, 0};
        sb_printf(&net, "input t0[%" PRId64 ", %" PRId64 ", %" PRId64 "]\n", in.c, in.h, in.w);
    }
    sb_printf(&net, "init %s(seed=%" PRId64 ")\n", chance(0.5) ? "he" : "xavier", rnd(1000000));
    tensors[ntensors++] = in;

    int nstmts = (int)range(1, 9);
    for (int i = 0; i < nstmts && ntensors < MAX_TENSORS; i++) {
        /* mostly the newest tensor, so that networks are deep as well as wide;
         * never a constant (it is only an operand) */
        int a = chance(0.6) ? ntensors - 1 : (int)rnd(ntensors);
        while (tensors[a].cst)
            a--;
        StrBuf stmt = {0};
        Shape y;
        size_t used = ops_used.len;
        int pruned = nprunable, labels = nlabels;
        int ok;
        if (chance(0.2)) {
            ok = gen_multi(&stmt, a, &y);
        } else {
            sb_printf(&stmt, "t%d", a);
            Shape x = tensors[a];
            int k = chance(0.3) ? (int)range(2, 3) : 1;
            ok = 1;
            for (int j = 0; j < k && ok; j++) {
                sb_puts(&stmt, " -> ");
                ok = gen_layer(&stmt, x, &y);
                x = y;
            }
        }
        if (ok && pre.len) { /* its constant or divisor first */
            sb_puts(&net, pre.data);
            ntensors++;
        }
        if (ok) {
            sb_printf(&net, "t%d = %s\n", ntensors, stmt.data);
            tensors[ntensors++] = y;
        } else if (ops_used.data) { /* not written: not used */
            ops_used.len = used;
            ops_used.data[used] = '\0';
            nprunable = pruned;
            nlabels = labels;
        }
        sb_free(&stmt);
        sb_free(&pre);
    }
    if (ntensors == 1) { /* at least one layer */
        sb_printf(&net, "t1 = t0 -> l%d: relu\n", ++nlabels);
        sb_puts(&ops_used, " relu");
        ntensors++;
    }
    if (chance(0.5)) { /* outputs: the last tensor and perhaps others, in any order */
        int outs[3], nouts = 1;
        outs[0] = ntensors - 1;
        for (int k = (int)rnd(3); k > 0; k--) {
            int o = 1 + (int)rnd(ntensors - 1), dup = tensors[o].cst;
            for (int j = 0; j < nouts; j++)
                dup |= outs[j] == o;
            if (!dup)
                outs[nouts++] = o;
        }
        sb_puts(&net, "output");
        for (int j = nouts - 1; j >= 0; j--)
            sb_printf(&net, "%s t%d", j == nouts - 1 ? "" : ",", outs[j]);
        sb_puts(&net, "\n");
    }
    gen_prune(&net);
    write_file(argv[2], "net.cnn", net.data);
    char line[64];
    snprintf(line, sizeof line, "--batch %" PRId64 "\n", chance(0.5) ? 1 : range(2, 3));
    write_file(argv[2], "flags", line);
    snprintf(line, sizeof line, "%" PRIu64 "\n", init_next(&rng));
    write_file(argv[2], "input.seed", line);
    printf("%s\n", ops_used.data ? ops_used.data + 1 : "");
    sb_free(&net);
    sb_free(&ops_used);
    return 0;
}
