/* test_prune.c - Check unit tests for pruning: the prune-channels pass's
 * bookkeeping of which channels may go (compiler/prune_channels.c), and the `prune`
 * statement's choice of weights (compiler/prune_weights.c), including
 * torch.topk's order among ties.
 *
 * Graphs are built by hand with numbers whose folded results are exact in
 * float32, so they compare with ==. */
#include "passes.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "weights.h"

/* ---- building graphs ------------------------------------------------------ */

static Graph *new_graph(void)
{
    Graph *g = ir_graph_new();
    g->name = xstrdup("t");
    return g;
}

static Tensor *add_input(Graph *g, int rank, int64_t c, int64_t h, int64_t w)
{
    Tensor *t = ir_tensor_new(g, "x");
    int64_t dims[4] = {1, c, h, w};
    t->rank = rank;
    memcpy(t->dims, dims, sizeof dims);
    g->inputs[g->ninputs++] = t;
    return t;
}

static Node *add_node(Graph *g, OpKind op, const char *name, Tensor *in)
{
    Node *n = ir_node_new(g, op, name, (Loc){0});
    n->in[0] = in;
    n->nin = 1;
    in->nconsumers++;
    n->out = ir_tensor_new(g, name);
    n->out->producer = n;
    return n;
}

static Node *finish(Node *n)
{
    ck_assert(infer_shape(n));
    return n;
}

static Const *set_param(Node *n, int p, const char *suffix, int rank, const int64_t *dims,
                        const float *data)
{
    char *key = xasprintf("%s.%s", n->name, suffix);
    Const *c = ir_const_new(key, rank, dims);
    free(key);
    int64_t count = ir_numel(rank, dims);
    c->data = xmalloc(sizeof(float) * (size_t)count);
    memcpy(c->data, data, sizeof(float) * (size_t)count);
    n->param[p] = c;
    return c;
}

/* A k x k conv2d with `pad` and `groups`; w is [oc][cin/groups][k][k]; b may be NULL. */
static Node *add_conv(Graph *g, const char *name, Tensor *in, int64_t oc, int64_t k, int64_t pad,
                      int64_t groups, const float *w, const float *b)
{
    Node *n = add_node(g, OP_CONV2D, name, in);
    n->a = (Attrs){.channels = oc,
                   .kh = k,
                   .kw = k,
                   .sh = 1,
                   .sw = 1,
                   .ph = pad,
                   .pw = pad,
                   .dh = 1,
                   .dw = 1,
                   .groups = groups,
                   .bias = b != NULL};
    finish(n);
    int64_t wd[4] = {oc, in->dims[1] / groups, k, k}, bd[1] = {oc};
    set_param(n, PARAM_WEIGHT, "weight", 4, wd, w);
    if (b)
        set_param(n, PARAM_BIAS, "bias", 1, bd, b);
    return n;
}

static Node *add_linear(Graph *g, const char *name, Tensor *in, int64_t f, const float *w,
                        const float *b)
{
    Node *n = add_node(g, OP_LINEAR, name, in);
    n->a = (Attrs){.channels = f, .bias = b != NULL};
    finish(n);
    int64_t wd[2] = {f, in->dims[1]}, bd[1] = {f};
    set_param(n, PARAM_WEIGHT, "weight", 2, wd, w);
    if (b)
        set_param(n, PARAM_BIAS, "bias", 1, bd, b);
    return n;
}

static Node *add_op(Graph *g, OpKind op, const char *name, Tensor *in)
{
    return finish(add_node(g, op, name, in));
}

static Node *add_two(Graph *g, OpKind op, const char *name, Tensor *a, Tensor *b)
{
    Node *n = add_node(g, op, name, a);
    n->in[1] = b;
    n->nin = 2;
    b->nconsumers++;
    n->a.dim = 1; /* concat: the channels, its default */
    return finish(n);
}

static void set_output(Graph *g, Tensor *t)
{
    g->outputs[g->noutputs++] = t;
}

static PassStats prune(Graph *g)
{
    PassStats st = {0};
    ck_assert(prune_channels(g, &st));
    ir_verify(g);
    return st;
}

/* Weights of a 1x1 conv from cin to oc channels: w[o][i] = 1 + o + 10 * i,
 * with the rows listed in `zero` (-1 terminated) all zero. */
static float *weights_1x1(int64_t oc, int64_t cin, const int *zero)
{
    float *w = xcalloc((size_t)(oc * cin), sizeof *w);
    for (int64_t o = 0; o < oc; o++)
        for (int64_t i = 0; i < cin; i++)
            w[o * cin + i] = (float)(1 + o + 10 * i);
    for (int k = 0; zero[k] >= 0; k++)
        for (int64_t i = 0; i < cin; i++)
            w[zero[k] * cin + i] = 0.0f;
    return w;
}

static float *filled(int64_t n, float v)
{
    float *p = xmalloc(sizeof *p * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        p[i] = v;
    return p;
}

/* ---- which channels go ---------------------------------------------------- */

/* c1 (3 channels, channel 1 all zero, bias 2) -> relu -> c2 3x3 pad 1: the
 * constant relu(2) = 2 would be read as 0 at c2's borders, so it stays. */
START_TEST(test_constant_kept_before_padding)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 2, 4, 4);
    const int zero[] = {1, -1};
    float *w1 = weights_1x1(3, 2, zero), b1[3] = {1, 2, 3};
    Node *c1 = add_conv(g, "c1", x, 3, 1, 0, 1, w1, b1);
    Node *r = add_op(g, OP_RELU, "r", c1->out);
    float *w2 = filled(2 * 3 * 9, 0.5f);
    Node *c2 = add_conv(g, "c2", r->out, 2, 3, 1, 1, w2, NULL);
    set_output(g, c2->out);
    PassStats st = prune(g);
    ck_assert_int_eq(st.channels, 0);
    ck_assert_int_eq(c1->a.channels, 3);
    ck_assert_int_eq(c2->param[PARAM_WEIGHT]->dims[1], 3);
    ir_graph_free(g);
    free(w1), free(w2);
}
END_TEST

/* The same with bias -2: relu makes the channel 0, which no padding changes. */
START_TEST(test_zero_constant_removed_before_padding)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 2, 4, 4);
    const int zero[] = {1, -1};
    float *w1 = weights_1x1(3, 2, zero), b1[3] = {1, -2, 3};
    Node *c1 = add_conv(g, "c1", x, 3, 1, 0, 1, w1, b1);
    Node *r = add_op(g, OP_RELU, "r", c1->out);
    float *w2 = xmalloc(sizeof(float) * 2 * 3 * 9);
    for (int i = 0; i < 2 * 3 * 9; i++)
        w2[i] = (float)i;
    Node *c2 = add_conv(g, "c2", r->out, 2, 3, 1, 1, w2, NULL);
    set_output(g, c2->out);
    PassStats st = prune(g);
    ck_assert_int_eq(st.channels, 1);
    ck_assert_int_eq(c1->a.channels, 2);
    ck_assert_float_eq(c1->param[PARAM_BIAS]->data[1], 3.0f);
    ck_assert_float_eq(c1->param[PARAM_WEIGHT]->data[2], 3.0f); /* row 2 is now row 1 */
    ck_assert_int_eq(r->out->dims[1], 2);
    const Const *w = c2->param[PARAM_WEIGHT];
    ck_assert_int_eq(w->dims[1], 2);
    ck_assert_float_eq(w->data[9], 18.0f);     /* c2[0][1] is the old c2[0][2] */
    ck_assert_float_eq(w->data[2 * 9], 27.0f); /* c2[1][0] */
    ck_assert_ptr_null(c2->param[PARAM_BIAS]); /* nothing to fold: c = 0 */
    ir_graph_free(g);
    free(w1), free(w2);
}
END_TEST

/* Without padding the constant folds: bias[o] += c * sum of W[o][k][:][:]. */
START_TEST(test_constant_folds_without_padding)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 2, 5, 5);
    const int zero[] = {0, -1};
    float *w1 = weights_1x1(2, 2, zero), b1[2] = {1.5f, 7};
    Node *c1 = add_conv(g, "c1", x, 2, 1, 0, 1, w1, b1);
    Node *r = add_op(g, OP_RELU6, "r", c1->out);
    float w2[2 * 2 * 4] = {1, 2, 3, 4, 100, 100, 100, 100, -1, 0.5f, 0.25f, 2, 100, 100, 100, 100};
    float b2[2] = {10, 20};
    Node *c2 = add_conv(g, "c2", r->out, 2, 2, 0, 1, w2, b2);
    set_output(g, c2->out);
    prune(g);
    ck_assert_int_eq(c1->a.channels, 1);
    const Const *b = c2->param[PARAM_BIAS];
    ck_assert_float_eq(b->data[0], 10 + 1.5f * 10);    /* sum(1, 2, 3, 4) = 10 */
    ck_assert_float_eq(b->data[1], 20 + 1.5f * 1.75f); /* -1 + 0.5 + 0.25 + 2 */
    ck_assert_float_eq(c2->param[PARAM_WEIGHT]->data[0], 100.0f);
    ir_graph_free(g);
    free(w1);
}
END_TEST

/* A linear reading through flatten folds c * W over the channel's H*W features,
 * creating its bias. */
START_TEST(test_constant_folds_into_linear)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 2, 2);
    float w1[2] = {0, 3}, b1[2] = {0.5f, 0};
    Node *c1 = add_conv(g, "c1", x, 2, 1, 0, 1, w1, b1);
    Node *p = add_node(g, OP_MAXPOOL, "p", c1->out);
    p->a = (Attrs){.kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    finish(p);
    Node *f = add_op(g, OP_FLATTEN, "f", p->out);
    float w2[2 * 8] = {1, 2, 3, 4, 9, 9, 9, 9, -1, -1, -1, 1, 8, 8, 8, 8};
    Node *fc = add_linear(g, "fc", f->out, 2, w2, NULL);
    set_output(g, fc->out);
    PassStats st = prune(g);
    ck_assert_int_eq(st.channels, 1);
    ck_assert_int_eq(f->out->dims[1], 4);
    ck_assert_int_eq(fc->param[PARAM_WEIGHT]->dims[1], 4);
    ck_assert(fc->a.bias);
    ck_assert_float_eq(fc->param[PARAM_BIAS]->data[0], 0.5f * 10);
    ck_assert_float_eq(fc->param[PARAM_BIAS]->data[1], 0.5f * -2);
    ck_assert_float_eq(fc->param[PARAM_WEIGHT]->data[4], 8.0f);
    ir_graph_free(g);
}
END_TEST

/* add: a channel goes only if it is zeroed (and removable) on both sides. */
START_TEST(test_add_needs_both_operands)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 2, 3, 3);
    const int za[] = {0, 1, -1}, zb[] = {1, -1};
    float *wa = weights_1x1(3, 2, za), *wb = weights_1x1(3, 2, zb);
    float ba[3] = {1, 2, 3}, bb[3] = {4, 5, 6};
    Node *a = add_conv(g, "a", x, 3, 1, 0, 1, wa, ba);
    Node *b = add_conv(g, "b", x, 3, 1, 0, 1, wb, bb);
    Node *s = add_two(g, OP_ADD, "s", a->out, b->out);
    float *wc = filled(2 * 3, 1.0f);
    Node *c = add_conv(g, "c", s->out, 2, 1, 0, 1, wc, NULL);
    set_output(g, c->out);
    prune(g);
    /* channel 1 is 2 + 5 = 7 on both sides and goes; channel 0 is not zeroed in b */
    ck_assert_int_eq(a->a.channels, 2);
    ck_assert_int_eq(b->a.channels, 2);
    ck_assert_int_eq(s->out->dims[1], 2);
    ck_assert_float_eq(c->param[PARAM_BIAS]->data[0], 7.0f);
    ck_assert_float_eq(b->param[PARAM_BIAS]->data[1], 6.0f);
    ir_graph_free(g);
    free(wa), free(wb), free(wc);
}
END_TEST

/* concat: input i's channel k is the output's channel offset_i + k. */
START_TEST(test_concat_offsets)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 2, 2);
    float wa[2] = {1, 2}, wb[3] = {3, 0, 5}, bb[3] = {0, -4, 0};
    Node *a = add_conv(g, "a", x, 2, 1, 0, 1, wa, NULL);
    Node *b = add_conv(g, "b", x, 3, 1, 0, 1, wb, bb);
    Node *cat = add_two(g, OP_CONCAT, "cat", a->out, b->out);
    float wc[5] = {1, 2, 3, 4, 5};
    Node *c = add_conv(g, "c", cat->out, 1, 1, 0, 1, wc, NULL);
    set_output(g, c->out);
    prune(g);
    const Const *w = c->param[PARAM_WEIGHT];
    ck_assert_int_eq(w->dims[1], 4);
    ck_assert_float_eq(w->data[2], 3.0f);
    ck_assert_float_eq(w->data[3], 5.0f); /* the concat's channel 3 (b's 1) is gone */
    ck_assert_float_eq(c->param[PARAM_BIAS]->data[0], -4.0f * 4);
    ck_assert_int_eq(cat->out->dims[1], 4);
    ir_graph_free(g);
}
END_TEST

/* Graph outputs, grouped convs and softmax keep every channel. */
START_TEST(test_what_keeps_channels)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 2, 3, 3);
    const int zero[] = {1, -1};
    float *w1 = weights_1x1(4, 2, zero), *w2 = weights_1x1(4, 2, zero);
    float *wg = filled(4 * 2, 1.0f);
    Node *out = add_conv(g, "out", x, 4, 1, 0, 1, w1, NULL);      /* a graph output */
    Node *gr = add_conv(g, "gr", out->out, 4, 1, 0, 2, wg, NULL); /* grouped reader */
    Node *c = add_conv(g, "c", x, 4, 1, 0, 1, w2, NULL);
    Node *sm = add_node(g, OP_SOFTMAX, "sm", c->out);
    sm->a.dim = 1;
    finish(sm);
    set_output(g, out->out);
    set_output(g, gr->out);
    set_output(g, sm->out);
    PassStats st = prune(g);
    ck_assert_int_eq(st.channels, 0);
    ck_assert_int_eq(c->a.channels, 4);
    ir_graph_free(g);
    free(w1), free(w2), free(wg);
}
END_TEST

/* avgpool with count_include_pad and padding scales a constant down at the
 * borders: only a 0 passes. */
START_TEST(test_avgpool_padding)
{
    for (int bias = 0; bias < 2; bias++) {
        Graph *g = new_graph();
        Tensor *x = add_input(g, 4, 1, 4, 4);
        float w1[2] = {1, 0}, b1[2] = {0, (float)bias};
        Node *c1 = add_conv(g, "c1", x, 2, 1, 0, 1, w1, b1);
        Node *p = add_node(g, OP_AVGPOOL, "p", c1->out);
        p->a = (Attrs){.kh = 3,
                       .kw = 3,
                       .sh = 1,
                       .sw = 1,
                       .ph = 1,
                       .pw = 1,
                       .dh = 1,
                       .dw = 1,
                       .count_include_pad = true};
        finish(p);
        float w2[2] = {1, 1};
        Node *c2 = add_conv(g, "c2", p->out, 1, 1, 0, 1, w2, NULL);
        set_output(g, c2->out);
        prune(g);
        ck_assert_int_eq(c1->a.channels, bias ? 2 : 1);
        ir_graph_free(g);
    }
}
END_TEST

/* A tensor never loses its last channel. */
START_TEST(test_keeps_one_channel)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 3, 1, 1);
    float w1[2 * 3] = {0}, b1[2] = {1, 2}, w2[2] = {5, 7};
    Node *fc1 = add_linear(g, "fc1", x, 2, w1, b1);
    Node *fc2 = add_linear(g, "fc2", fc1->out, 1, w2, NULL);
    set_output(g, fc2->out);
    prune(g);
    ck_assert_int_eq(fc1->a.channels, 1);
    ck_assert_float_eq(fc2->param[PARAM_BIAS]->data[0], 14.0f);
    ck_assert_float_eq(fc2->param[PARAM_WEIGHT]->data[0], 5.0f);
    ir_graph_free(g);
}
END_TEST

/* A standalone batchnorm passes the constant through (its parameters are
 * sliced). Its channel 1 has gamma 0, constant too, but the conv channel
 * before it is not, so both stay. */
START_TEST(test_batchnorm)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 2, 2);
    float w1[3] = {0, 1, 1}, b1[3] = {2, 0, 0};
    Node *c1 = add_conv(g, "c1", x, 3, 1, 0, 1, w1, b1);
    Node *bn = add_node(g, OP_BATCHNORM, "bn", c1->out);
    bn->a = (Attrs){.eps = 0.0, .affine = true};
    finish(bn);
    int64_t d[1] = {3};
    float gamma[3] = {2, 0, 1}, beta[3] = {1, 3, 0}, mean[3] = {1, 0, 0}, var[3] = {4, 1, 1};
    set_param(bn, PARAM_WEIGHT, "weight", 1, d, gamma);
    set_param(bn, PARAM_BIAS, "bias", 1, d, beta);
    set_param(bn, PARAM_MEAN, "running_mean", 1, d, mean);
    set_param(bn, PARAM_VAR, "running_var", 1, d, var);
    float w2[3] = {1, 10, 100};
    Node *c2 = add_conv(g, "c2", bn->out, 1, 1, 0, 1, w2, NULL);
    set_output(g, c2->out);
    prune(g);
    /* channel 0: (2 - 1) * 2 / 2 + 1 = 2 */
    ck_assert_int_eq(c1->a.channels, 2);
    ck_assert_int_eq(bn->param[PARAM_VAR]->dims[0], 2);
    ck_assert_float_eq(bn->param[PARAM_WEIGHT]->data[0], 0.0f);
    ck_assert_float_eq(c2->param[PARAM_BIAS]->data[0], 2.0f);
    ck_assert_float_eq(c2->param[PARAM_WEIGHT]->data[0], 10.0f);
    ir_graph_free(g);
}
END_TEST

/* Masks are sliced with their tensors. */
START_TEST(test_mask_follows)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 2, 1, 1);
    float w1[3 * 2] = {1, 2, 0, 0, 0, 3};
    Node *fc1 = add_linear(g, "fc1", x, 3, w1, NULL);
    unsigned char mask[6] = {1, 1, 0, 0, 0, 1};
    fc1->param[PARAM_WEIGHT]->mask = xmalloc(6);
    memcpy(fc1->param[PARAM_WEIGHT]->mask, mask, 6);
    Node *r = add_op(g, OP_RELU, "r", fc1->out);
    float w2[3] = {1, 1, 1};
    Node *fc2 = add_linear(g, "fc2", r->out, 1, w2, NULL);
    set_output(g, fc2->out);
    prune(g);
    const Const *w = fc1->param[PARAM_WEIGHT];
    ck_assert_int_eq(w->dims[0], 2);
    ck_assert_int_eq(w->mask[2], 0);
    ck_assert_int_eq(w->mask[3], 1);
    ck_assert_float_eq(w->data[3], 3.0f);
    ir_graph_free(g);
}
END_TEST

/* ---- the prune statement --------------------------------------------------- */

static void chosen_list(const double *v, int64_t n, int64_t k, bool largest, int64_t *out)
{
    bool *c = xmalloc((size_t)n);
    prune_topk(v, n, k, largest, c);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (c[i])
            out[m++] = i;
    ck_assert_int_eq(m, k);
    free(c);
}

/* Expected indices from torch 1.13's torch.topk on the CPU. */
static void check_chosen(const double *v, int64_t n, bool largest, const int64_t *want, int k)
{
    int64_t got[8];
    chosen_list(v, n, k, largest, got);
    for (int i = 0; i < k; i++)
        ck_assert_int_eq(got[i], want[i]);
}

START_TEST(test_topk_ties_as_torch)
{
    double zeros[1000] = {0}, alt[8] = {1, 2, 1, 2, 1, 2, 1, 2}, nan3[3] = {NAN, 5, 1};
    const int64_t a[] = {6, 7, 8}, b[] = {65, 66, 67}, c[] = {2, 4, 6}, d[] = {1, 2, 3, 5, 7};
    const int64_t e[] = {0, 1, 2, 3, 4}, f[] = {0};
    check_chosen(zeros, 10, false, a, 3); /* nth_element */
    check_chosen(zeros, 100, false, b, 3);
    check_chosen(alt, 8, false, c, 3);
    check_chosen(alt, 8, true, d, 5);
    check_chosen(zeros, 1000, false, e, 5); /* partial_sort: k * 64 <= n */
    check_chosen(nan3, 3, true, f, 1);      /* NaN is the largest */
}
END_TEST

/* A graph with one linear of the given weights, and a prune statement on it. */
static Graph *one_linear(const float *w, int64_t rows, int64_t cols, double fraction, int64_t count,
                         bool structured)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, cols, 1, 1);
    Node *fc = add_linear(g, "fc", x, rows, w, NULL);
    set_output(g, fc->out);
    g->prunes = xcalloc(1, sizeof *g->prunes);
    g->nprunes = 1;
    PruneSpec *ps = g->prunes;
    *ps = (PruneSpec){.fraction = fraction, .count = count, .structured = structured};
    ps->nodes = xmalloc(sizeof *ps->nodes);
    ps->locs = xcalloc(1, sizeof *ps->locs);
    ps->nodes[0] = fc;
    ps->nnodes = 1;
    return g;
}

static int64_t zeros_of(const Graph *g)
{
    return ir_const_zeros(g->nodes[0]->param[PARAM_WEIGHT]);
}

/* round(amount * n) rounds half to even, as Python's round. */
START_TEST(test_amount_rounds_half_even)
{
    float w5[5] = {5, -4, 3, 2, 1}, w7[7] = {7, 6, 5, 4, 3, 2, 1};
    Graph *g = one_linear(w5, 1, 5, 0.5, -1, false);
    ck_assert(prune_weights(g));
    ck_assert_int_eq(zeros_of(g), 2); /* 2.5 -> 2 */
    ck_assert_float_eq(g->nodes[0]->param[PARAM_WEIGHT]->data[2], 3.0f);
    ck_assert_ptr_null(g->prunes);
    ir_graph_free(g);
    g = one_linear(w7, 1, 7, 0.5, -1, false);
    ck_assert(prune_weights(g));
    ck_assert_int_eq(zeros_of(g), 4); /* 3.5 -> 4 */
    ir_graph_free(g);
}
END_TEST

/* Structured: the channels of smallest L1 norm; on top of a mask only the
 * channels still kept count (PyTorch's PruningContainer). */
START_TEST(test_structured_and_container)
{
    float w[4 * 2] = {1, 1, -5, 0, 0.5f, 0.25f, 3, -3};
    Graph *g = one_linear(w, 4, 2, 0.5, -1, true);
    ck_assert(prune_weights(g));
    const Const *c = g->nodes[0]->param[PARAM_WEIGHT];
    /* norms 2, 5, 0.75, 6: rows 0 and 2 go */
    ck_assert_float_eq(c->data[0], 0.0f);
    ck_assert_float_eq(c->data[2], -5.0f);
    ck_assert_float_eq(c->data[4], 0.0f);
    ck_assert_int_eq(c->mask[1], 0);
    ck_assert_int_eq(c->mask[3], 1);
    /* again 0.5: of the 2 channels left, round(1.0) = 1 goes (row 1, norm 5) */
    g->prunes = xcalloc(1, sizeof *g->prunes);
    g->nprunes = 1;
    g->prunes[0] = (PruneSpec){.fraction = 0.5, .count = -1, .structured = true};
    g->prunes[0].nodes = xmalloc(sizeof(Node *));
    g->prunes[0].locs = xcalloc(1, sizeof(Loc));
    g->prunes[0].nodes[0] = g->nodes[0];
    g->prunes[0].nnodes = 1;
    ck_assert(prune_weights(g));
    ck_assert_float_eq(c->data[2], 0.0f);
    ck_assert_float_eq(c->data[6], 3.0f);
    ck_assert_int_eq(zeros_of(g), 6);
    ir_graph_free(g);
}
END_TEST

/* An integer amount is a count, checked against the unpruned entries. */
START_TEST(test_count_amount)
{
    float w[4] = {4, -1, 3, 2};
    Graph *g = one_linear(w, 1, 4, -1, 3, false);
    ck_assert(prune_weights(g));
    ck_assert_float_eq(g->nodes[0]->param[PARAM_WEIGHT]->data[0], 4.0f);
    ck_assert_int_eq(zeros_of(g), 3);
    ir_graph_free(g);
    int errors = diag_error_count();
    g = one_linear(w, 1, 4, -1, 5, false);
    ck_assert(!prune_weights(g));
    ck_assert_int_eq(diag_error_count(), errors + 1);
    ir_graph_free(g);
}
END_TEST

static Suite *prune_suite(void)
{
    Suite *s = suite_create("prune");
    TCase *ch = tcase_create("prune_channels");
    tcase_add_test(ch, test_constant_kept_before_padding);
    tcase_add_test(ch, test_zero_constant_removed_before_padding);
    tcase_add_test(ch, test_constant_folds_without_padding);
    tcase_add_test(ch, test_constant_folds_into_linear);
    tcase_add_test(ch, test_add_needs_both_operands);
    tcase_add_test(ch, test_concat_offsets);
    tcase_add_test(ch, test_what_keeps_channels);
    tcase_add_test(ch, test_avgpool_padding);
    tcase_add_test(ch, test_keeps_one_channel);
    tcase_add_test(ch, test_batchnorm);
    tcase_add_test(ch, test_mask_follows);
    suite_add_tcase(s, ch);
    TCase *st = tcase_create("prune_statement");
    tcase_add_test(st, test_topk_ties_as_torch);
    tcase_add_test(st, test_amount_rounds_half_even);
    tcase_add_test(st, test_structured_and_container);
    tcase_add_test(st, test_count_amount);
    suite_add_tcase(s, st);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(prune_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
