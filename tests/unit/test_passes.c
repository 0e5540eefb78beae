/* test_passes.c - Check unit tests for the optimizer passes (compiler/passes.h).
 *
 * Each test builds a small graph by hand, runs one pass, and checks the graph
 * it leaves: which nodes remain, their links (ir_verify), and for
 * fold-batchnorm the folded weights against a hand computation. The hand
 * cases use numbers whose results are exact in float32 (scale 0.5), so they
 * compare with ==; one more case compares a whole folded linear layer with
 * linear-then-batchnorm evaluated in double.
 */
#include "passes.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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
    t->storage = STORE_NONE;
    g->inputs[g->ninputs++] = t;
    return t;
}

/* A node reading `in`; attributes are set by the caller, then finish(). */
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

static Node *add_conv(Graph *g, const char *name, Tensor *in, int64_t oc, int64_t k, bool bias,
                      const float *w, const float *b)
{
    Node *n = add_node(g, OP_CONV2D, name, in);
    n->a = (Attrs){.channels = oc,
                   .kh = k,
                   .kw = k,
                   .sh = 1,
                   .sw = 1,
                   .dh = 1,
                   .dw = 1,
                   .groups = 1,
                   .bias = bias};
    finish(n);
    int64_t wd[4] = {oc, in->dims[1], k, k}, bd[1] = {oc};
    set_param(n, PARAM_WEIGHT, "weight", 4, wd, w);
    if (bias)
        set_param(n, PARAM_BIAS, "bias", 1, bd, b);
    return n;
}

static Node *add_linear(Graph *g, const char *name, Tensor *in, int64_t f, bool bias,
                        const float *w, const float *b)
{
    Node *n = add_node(g, OP_LINEAR, name, in);
    n->a = (Attrs){.channels = f, .bias = bias};
    finish(n);
    int64_t wd[2] = {f, in->dims[1]}, bd[1] = {f};
    set_param(n, PARAM_WEIGHT, "weight", 2, wd, w);
    if (bias)
        set_param(n, PARAM_BIAS, "bias", 1, bd, b);
    return n;
}

/* gamma/beta NULL: affine=false. */
static Node *add_bn(Graph *g, const char *name, Tensor *in, double eps, const float *gamma,
                    const float *beta, const float *mean, const float *var)
{
    Node *n = add_node(g, OP_BATCHNORM, name, in);
    n->a = (Attrs){.eps = eps, .affine = gamma != NULL};
    finish(n);
    int64_t d[1] = {in->dims[1]};
    if (gamma) {
        set_param(n, PARAM_WEIGHT, "weight", 1, d, gamma);
        set_param(n, PARAM_BIAS, "bias", 1, d, beta);
    }
    set_param(n, PARAM_MEAN, "running_mean", 1, d, mean);
    set_param(n, PARAM_VAR, "running_var", 1, d, var);
    return n;
}

static Node *add_op(Graph *g, OpKind op, const char *name, Tensor *in)
{
    return finish(add_node(g, op, name, in));
}

static void set_output(Graph *g, Tensor *t)
{
    g->outputs[g->noutputs++] = t;
}

static int count_op(const Graph *g, OpKind op)
{
    int k = 0;
    for (int i = 0; i < g->nnodes; i++)
        k += g->nodes[i]->op == op;
    return k;
}

static PassStats run(bool (*pass)(Graph *, PassStats *), Graph *g)
{
    PassStats st = {0};
    ck_assert(pass(g, &st));
    ir_verify(g);
    return st;
}

/* ---- fold-batchnorm -------------------------------------------------------- */

/* scale = gamma / sqrt(var + eps) = 1.5 / sqrt(8 + 1) = 0.5 for channel 0,
 * 4 / sqrt(3 + 1) = 2 for channel 1; shift = beta - mean * scale. */
static const float gamma2[2] = {1.5f, 4.0f}, beta2[2] = {0.25f, -1.0f};
static const float mean2[2] = {3.0f, 0.5f}, var2[2] = {8.0f, 3.0f};

START_TEST(test_fold_conv_with_bias)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 3, 3);
    const float w[2 * 4] = {2, -4, 6, 1, 0.5f, -0.25f, 3, 8};
    const float b[2] = {1, -2};
    Node *c = add_conv(g, "c", x, 2, 2, true, w, b);
    Node *bn = add_bn(g, "bn", c->out, 1.0, gamma2, beta2, mean2, var2);
    Tensor *y = bn->out;
    set_output(g, y);
    PassStats st = run(fold_batchnorm, g);
    ck_assert_int_eq(st.folded, 1);
    ck_assert_int_eq(g->nnodes, 1);
    ck_assert_ptr_eq(g->nodes[0], c);
    ck_assert_ptr_eq(c->out, y); /* the graph output tensor survives */
    ck_assert_ptr_eq(g->outputs[0], y);
    const float want_w[8] = {1, -2, 3, 0.5f, 1, -0.5f, 6, 16};
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(c->param[PARAM_WEIGHT]->data[i], want_w[i]);
    /* (1 - 3) * 0.5 + 0.25 = -0.75; (-2 - 0.5) * 2 - 1 = -6 */
    ck_assert_float_eq(c->param[PARAM_BIAS]->data[0], -0.75f);
    ck_assert_float_eq(c->param[PARAM_BIAS]->data[1], -6.0f);
    ck_assert_str_eq(c->fuse.names, " +bn");
    ir_graph_free(g);
}
END_TEST

START_TEST(test_fold_conv_creates_bias)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 2, 2);
    const float w[2] = {2, -4};
    Node *c = add_conv(g, "conv", x, 2, 1, false, w, NULL);
    Node *bn = add_bn(g, "bn", c->out, 1.0, gamma2, beta2, mean2, var2);
    set_output(g, bn->out);
    run(fold_batchnorm, g);
    ck_assert_int_eq(count_op(g, OP_BATCHNORM), 0);
    const Const *b = c->param[PARAM_BIAS];
    ck_assert_ptr_nonnull(b);
    ck_assert(c->a.bias);
    ck_assert_str_eq(b->key, "conv.bias");
    ck_assert_int_eq(b->rank, 1);
    ck_assert_int_eq(b->dims[0], 2);
    ck_assert_float_eq(b->data[0], 0.25f - 3.0f * 0.5f); /* (0 - mean) * s + beta */
    ck_assert_float_eq(b->data[1], -1.0f - 0.5f * 2.0f);
    ck_assert_float_eq(c->param[PARAM_WEIGHT]->data[0], 1.0f);
    ck_assert_float_eq(c->param[PARAM_WEIGHT]->data[1], -8.0f);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_fold_linear_no_affine)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 3, 1, 1);
    const float w[2 * 3] = {1, 2, 3, 4, 5, 6}, b[2] = {0.5f, -0.5f};
    const float mean[2] = {1, 2}, var[2] = {3, 15}; /* eps 1: scale 1/2, 1/4 */
    Node *fc = add_linear(g, "fc", x, 2, true, w, b);
    Node *bn = add_bn(g, "bn", fc->out, 1.0, NULL, NULL, mean, var);
    set_output(g, bn->out);
    run(fold_batchnorm, g);
    ck_assert_int_eq(g->nnodes, 1);
    const float want_w[6] = {0.5f, 1, 1.5f, 1, 1.25f, 1.5f};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(fc->param[PARAM_WEIGHT]->data[i], want_w[i]);
    ck_assert_float_eq(fc->param[PARAM_BIAS]->data[0], (0.5f - 1) * 0.5f);
    ck_assert_float_eq(fc->param[PARAM_BIAS]->data[1], (-0.5f - 2) * 0.25f);
    ir_graph_free(g);
}
END_TEST

/* A whole layer with awkward values: folded linear == linear then batchnorm,
 * evaluated in double, to within float32 rounding of the folded parameters. */
START_TEST(test_fold_linear_matches_reference)
{
    enum { IN = 7, OUT = 5 };
    float w[OUT * IN], b[OUT], gamma[OUT], beta[OUT], mean[OUT], var[OUT], x[IN];
    uint32_t s = 12345;
    for (int i = 0; i < OUT * IN; i++, s = s * 1664525u + 1013904223u)
        w[i] = (float)((int)(s >> 9) % 2001 - 1000) / 777.0f;
    for (int o = 0; o < OUT; o++) {
        b[o] = 0.1f * (float)o - 0.23f;
        gamma[o] = 0.7f + 0.31f * (float)o;
        beta[o] = -0.4f + 0.17f * (float)o;
        mean[o] = 0.05f * (float)(o * o) - 0.3f;
        var[o] = 0.013f + 0.9f * (float)o;
    }
    for (int i = 0; i < IN; i++)
        x[i] = (float)(i - 3) * 0.37f;
    Graph *g = new_graph();
    Tensor *in = add_input(g, 2, IN, 1, 1);
    Node *fc = add_linear(g, "fc", in, OUT, true, w, b);
    Node *bn = add_bn(g, "bn", fc->out, 1e-5, gamma, beta, mean, var);
    set_output(g, bn->out);
    run(fold_batchnorm, g);
    const float *fw = fc->param[PARAM_WEIGHT]->data, *fb = fc->param[PARAM_BIAS]->data;
    for (int o = 0; o < OUT; o++) {
        double ref = b[o], got = fb[o], mag = fabs(b[o]);
        for (int i = 0; i < IN; i++) {
            ref += (double)w[o * IN + i] * x[i];
            got += (double)fw[o * IN + i] * x[i];
            mag += fabs((double)w[o * IN + i] * x[i]);
        }
        double sc = gamma[o] / sqrt((double)var[o] + 1e-5);
        ref = (ref - mean[o]) * sc + beta[o];
        /* each folded value is one float rounding away from the exact one */
        double tol = 2 * 0x1p-24 * (mag * fabs(sc) + fabs(mean[o] * sc) + fabs(beta[o]));
        ck_assert_msg(fabs(got - ref) <= tol, "output %d: folded %.9g, reference %.9g", o, got,
                      ref);
    }
    ir_graph_free(g);
}
END_TEST

START_TEST(test_no_fold_when_shared)
{
    /* conv's output also feeds a relu that is an output: not foldable. */
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 2, 2);
    const float w[2] = {2, -4}, b[2] = {0, 0};
    Node *c = add_conv(g, "c", x, 2, 1, true, w, b);
    Node *bn = add_bn(g, "bn", c->out, 1.0, gamma2, beta2, mean2, var2);
    Node *r = add_op(g, OP_RELU, "r", c->out);
    set_output(g, bn->out);
    set_output(g, r->out);
    PassStats st = run(fold_batchnorm, g);
    ck_assert_int_eq(st.folded, 0);
    ck_assert_int_eq(count_op(g, OP_BATCHNORM), 1);
    ck_assert_float_eq(c->param[PARAM_WEIGHT]->data[0], 2.0f);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_no_fold_when_output_or_no_producer)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 2, 2, 2);
    Node *bn0 = add_bn(g, "bn0", x, 1.0, gamma2, beta2, mean2, var2); /* after the input */
    const float w[4] = {1, 0, 0, 1}, b[2] = {0, 0};
    Node *c = add_conv(g, "c", bn0->out, 2, 1, true, w, b);
    Node *bn1 = add_bn(g, "bn1", c->out, 1.0, gamma2, beta2, mean2, var2);
    set_output(g, bn1->out);
    set_output(g, c->out); /* the unnormalised conv output is needed */
    PassStats st = run(fold_batchnorm, g);
    ck_assert_int_eq(st.folded, 0);
    ck_assert_int_eq(count_op(g, OP_BATCHNORM), 2);
    ir_graph_free(g);
}
END_TEST

/* ---- eliminate-identity and dce ------------------------------------------ */

START_TEST(test_dropout_removed_and_rewired)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 4, 1, 1);
    Node *r = add_op(g, OP_RELU, "r", x);
    Node *d = add_op(g, OP_DROPOUT, "d", r->out);
    Node *t = add_op(g, OP_TANH, "t", d->out);
    set_output(g, t->out);
    PassStats st = run(eliminate_identity, g);
    ck_assert_int_eq(st.removed, 1);
    ck_assert_int_eq(g->nnodes, 2);
    ck_assert_ptr_eq(t->in[0], r->out);
    ck_assert_int_eq(r->out->nconsumers, 1);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_dropout_last_keeps_output_tensor)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 4, 1, 1);
    Node *r = add_op(g, OP_RELU, "r", x);
    Node *s = add_op(g, OP_SIGMOID, "s", r->out); /* r's output has a second reader */
    (void)s;
    Node *d = add_op(g, OP_DROPOUT, "d", r->out);
    Tensor *y = d->out;
    set_output(g, y);
    run(eliminate_identity, g);
    ck_assert_int_eq(count_op(g, OP_DROPOUT), 0);
    ck_assert_ptr_eq(g->outputs[0], y);
    ck_assert_ptr_eq(r->out, y); /* relu now writes the output, sigmoid reads it */
    ck_assert_ptr_eq(g->nodes[1]->in[0], y);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_dropout_of_input_stays)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 4, 1, 1);
    Node *d = add_op(g, OP_DROPOUT, "d", x);
    set_output(g, d->out);
    PassStats st = run(eliminate_identity, g);
    ck_assert_int_eq(st.removed, 0);
    ck_assert_int_eq(count_op(g, OP_DROPOUT), 1);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_dce_removes_dead_branch)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 4, 1, 1);
    Node *r = add_op(g, OP_RELU, "r", x);
    Node *dead1 = add_op(g, OP_TANH, "dead1", r->out);
    add_op(g, OP_SIGMOID, "dead2", dead1->out);
    Node *live = add_op(g, OP_RELU6, "live", r->out);
    set_output(g, live->out);
    PassStats st = run(eliminate_dead_code, g);
    ck_assert_int_eq(st.removed, 2);
    ck_assert_int_eq(st.bytes, 2 * 4 * 4);
    ck_assert_int_eq(g->nnodes, 2);
    ck_assert_int_eq(g->ntensors, 3);
    ck_assert_int_eq(r->out->nconsumers, 1);
    ir_graph_free(g);
}
END_TEST

/* ---- fusion --------------------------------------------------------------- */

START_TEST(test_fuse_activation)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 2, 3, 1, 1);
    const float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {0, 0};
    Node *fc = add_linear(g, "fc", x, 2, true, w, b);
    Node *a = add_node(g, OP_LEAKY_RELU, "a", fc->out);
    a->a.slope = 0.25;
    finish(a);
    Tensor *y = a->out;
    Node *t = add_op(g, OP_TANH, "t", y); /* a second activation stays */
    set_output(g, t->out);
    PassStats st = run(fuse_activation, g);
    ck_assert_int_eq(st.fused, 1);
    ck_assert_int_eq(st.bytes, 2 * 4);
    ck_assert_int_eq(fc->fuse.act, OP_LEAKY_RELU);
    ck_assert(fc->fuse.act_a.slope == 0.25);
    ck_assert_ptr_eq(fc->out, y);
    ck_assert_int_eq(count_op(g, OP_TANH), 1);
    ck_assert_ptr_eq(t->in[0], y);
    ir_graph_free(g);
}
END_TEST

START_TEST(test_fuse_pool_after_activation)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 6, 6);
    float w[2 * 9];
    for (int i = 0; i < 18; i++)
        w[i] = (float)i;
    const float b[2] = {0, 1};
    Node *c = add_conv(g, "c", x, 2, 3, true, w, b); /* [1, 2, 4, 4] */
    Node *r = add_op(g, OP_RELU, "r", c->out);
    Node *p = add_node(g, OP_MAXPOOL, "p", r->out);
    p->a = (Attrs){.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
    finish(p);
    Tensor *y = p->out;
    set_output(g, y);
    run(fuse_activation, g);
    PassStats st = run(fuse_pool, g);
    ck_assert_int_eq(st.fused, 1);
    ck_assert_int_eq(g->nnodes, 1);
    ck_assert(c->fuse.pool);
    ck_assert_int_eq(c->fuse.pool_op, OP_MAXPOOL);
    ck_assert_int_eq(c->fuse.act, OP_RELU);
    ck_assert_int_eq(c->fuse.conv_dims[2], 4);
    ck_assert_ptr_eq(c->out, y);
    ck_assert_int_eq(y->dims[2], 2);
    int64_t oh, ow;
    ir_conv_out_hw(c, &oh, &ow);
    ck_assert_int_eq(oh, 4);
    ck_assert_int_eq(ow, 4);
    ck_assert_int_eq(ir_node_macs(c), 2 * 16 * 9); /* counted on the conv, not the pool */
    ck_assert_str_eq(c->fuse.names, " +r +p");
    ir_graph_free(g);
}
END_TEST

START_TEST(test_no_pool_fusion_across_other_reader)
{
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 4, 4);
    const float w[1] = {2}, b[1] = {0};
    Node *c = add_conv(g, "c", x, 1, 1, true, w, b);
    Node *p = add_node(g, OP_AVGPOOL, "p", c->out);
    p->a = (Attrs){.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .count_include_pad = true};
    finish(p);
    set_output(g, p->out);
    set_output(g, c->out);
    PassStats st = run(fuse_pool, g);
    ck_assert_int_eq(st.fused, 0);
    ck_assert(!c->fuse.pool);
    ir_graph_free(g);
}
END_TEST

/* ---- the pipeline ---------------------------------------------------------- */

START_TEST(test_pipeline_options)
{
    ck_assert_int_eq(pass_find("fold-batchnorm"), pass_find("fold_batchnorm"));
    ck_assert_int_ge(pass_find("fuse-pool"), 0);
    ck_assert_int_eq(pass_find("fuse"), -1);
    PassOptions o0 = {.level = 0}, o2 = {.level = 2};
    int fold = pass_find("fold-batchnorm");
    ck_assert(!pass_enabled(&o0, fold));
    ck_assert(pass_enabled(&o2, fold));
    o0.force[fold] = 1;
    o2.force[fold] = -1;
    ck_assert(pass_enabled(&o0, fold));
    ck_assert(!pass_enabled(&o2, fold));
    ck_assert_int_le(npasses, PASS_MAX);
}
END_TEST

START_TEST(test_pipeline_runs_in_order)
{
    /* conv -> dropout -> bn -> relu -> maxpool: every pass has work, and each
     * depends on the one before it. */
    Graph *g = new_graph();
    Tensor *x = add_input(g, 4, 1, 4, 4);
    const float w[2] = {1, -1}, b[2] = {0, 0};
    Node *c = add_conv(g, "c", x, 2, 1, true, w, b);
    Node *d = add_op(g, OP_DROPOUT, "d", c->out);
    Node *bn = add_bn(g, "bn", d->out, 1.0, gamma2, beta2, mean2, var2);
    Node *r = add_op(g, OP_RELU, "r", bn->out);
    Node *p = add_node(g, OP_MAXPOOL, "p", r->out);
    p->a = (Attrs){.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
    finish(p);
    set_output(g, p->out);
    PassOptions po = {.level = 2};
    ck_assert(run_passes(g, &po, stderr));
    ck_assert_int_eq(g->nnodes, 1);
    ck_assert_str_eq(c->fuse.names, " +bn +r +p");
    ir_graph_free(g);
}
END_TEST

static Suite *passes_suite(void)
{
    Suite *s = suite_create("passes");
    TCase *fold = tcase_create("fold_batchnorm");
    tcase_add_test(fold, test_fold_conv_with_bias);
    tcase_add_test(fold, test_fold_conv_creates_bias);
    tcase_add_test(fold, test_fold_linear_no_affine);
    tcase_add_test(fold, test_fold_linear_matches_reference);
    tcase_add_test(fold, test_no_fold_when_shared);
    tcase_add_test(fold, test_no_fold_when_output_or_no_producer);
    suite_add_tcase(s, fold);
    TCase *dce = tcase_create("dce");
    tcase_add_test(dce, test_dropout_removed_and_rewired);
    tcase_add_test(dce, test_dropout_last_keeps_output_tensor);
    tcase_add_test(dce, test_dropout_of_input_stays);
    tcase_add_test(dce, test_dce_removes_dead_branch);
    suite_add_tcase(s, dce);
    TCase *fuse = tcase_create("fusion");
    tcase_add_test(fuse, test_fuse_activation);
    tcase_add_test(fuse, test_fuse_pool_after_activation);
    tcase_add_test(fuse, test_no_pool_fusion_across_other_reader);
    suite_add_tcase(s, fuse);
    TCase *pipe = tcase_create("pipeline");
    tcase_add_test(pipe, test_pipeline_options);
    tcase_add_test(pipe, test_pipeline_runs_in_order);
    suite_add_tcase(s, pipe);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(passes_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
