/* test_ops.c - Check unit tests for the op table (compiler/ops.h, opdef.h):
 * every op's front end is complete and agrees with its traits, so a new row
 * in ops.h without its rules fails here rather than at a user's network. */
#include "opdef.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "shape.h"

START_TEST(every_op_has_a_shape_rule)
{
    for (int op = OP_NONE + 1; op < OP_COUNT; op++) {
        const OpDef *d = op_def((OpKind)op);
        ck_assert_msg(d != NULL, "%s: no OpDef", op_name((OpKind)op));
        ck_assert_msg(d->infer != NULL, "%s: no shape rule", op_name((OpKind)op));
    }
}
END_TEST

/* Arguments and their setter come together (ops reading several tensors
 * take tensor names as arguments, then their own named: concat's dim). */
START_TEST(arguments_match_their_setter)
{
    for (int op = OP_NONE + 1; op < OP_COUNT; op++) {
        const OpDef *d = op_def((OpKind)op);
        const char *name = op_name((OpKind)op);
        ck_assert_msg((d->args != NULL) == (d->set_attrs != NULL), "%s: args without set_attrs",
                      name);
        int n = 0;
        while (d->args && d->args[n].name)
            n++;
        ck_assert_msg(n <= MAX_ATTRS, "%s: %d arguments, more than MAX_ATTRS", name, n);
    }
}
END_TEST

START_TEST(traits_have_their_rules)
{
    for (int op = OP_NONE + 1; op < OP_COUNT; op++) {
        const OpDef *d = op_def((OpKind)op);
        const char *name = op_name((OpKind)op);
        bool weights = op_has((OpKind)op, OPT_WEIGHTS);
        ck_assert_msg(weights == (d->params != NULL), "%s: OPT_WEIGHTS and params disagree", name);
        ck_assert_msg(weights == (d->init_range != NULL), "%s: OPT_WEIGHTS and init_range", name);
        if (op_has((OpKind)op, OPT_PRUNABLE))
            ck_assert_msg(weights && d->absorbs && d->macs, "%s: prunable without its rules", name);
        if (op_has((OpKind)op, OPT_ACTIVATION))
            ck_assert_msg(d->act_eval != NULL, "%s: activation without act_eval", name);
        if (op_has((OpKind)op, OPT_PER_CHANNEL))
            ck_assert_msg(op_arity((OpKind)op) == 1 && d->channel_in == NULL,
                          "%s: per-channel ops read one tensor, channel k from channel k", name);
    }
}
END_TEST

/* What prune-channels computes for a constant channel follows each op. */
START_TEST(constant_channels)
{
    Attrs a = {.slope = 0.5};
    ck_assert(op_def(OP_RELU)->act_eval(&a, -2.0f) == 0.0f);
    ck_assert(op_def(OP_RELU6)->act_eval(&a, 7.0f) == 6.0f);
    ck_assert(op_def(OP_LEAKY_RELU)->act_eval(&a, -2.0f) == -1.0f);
    Node add = {.op = OP_ADD};
    float x[2] = {1.5f, 2.0f};
    ck_assert(op_def(OP_ADD)->channel_value(&add, 0, x) == 3.5f);
    ck_assert(op_def(OP_MUL)->channel_value(&add, 0, x) == 3.0f);
    ck_assert(op_def(OP_SUB)->channel_value(&add, 0, x) == -0.5f); /* x[0] - x[1], in order */
    Node pool = {.op = OP_AVGPOOL, .a = {.count_include_pad = true, .ph = 1}};
    ck_assert(isnan(op_def(OP_AVGPOOL)->channel_value(&pool, 0, x)));
    x[0] = 0.0f;
    ck_assert(op_def(OP_AVGPOOL)->channel_value(&pool, 0, x) == 0.0f);
    /* mean over (2, 3): the emitter's in-order sum of H*W copies, divided
     * (sum: not divided; amax: the constant); too large: not a constant */
    Tensor img = {.rank = 4, .dims = {1, 1, 7, 7}};
    Tensor *img_in[] = {&img};
    Node mean = {.op = OP_MEAN, .in = img_in, .nin = 1, .a = {.reduced = 1u << 2 | 1u << 3}};
    x[0] = 0.1f;
    float sum = 0.0f;
    for (int i = 0; i < 49; i++)
        sum += x[0];
    ck_assert(op_def(OP_MEAN)->channel_value(&mean, 0, x) == sum / 49.0f);
    mean.op = OP_SUM;
    ck_assert(op_def(OP_SUM)->channel_value(&mean, 0, x) == sum);
    mean.op = OP_AMAX;
    ck_assert(op_def(OP_AMAX)->channel_value(&mean, 0, x) == 0.1f);
    ck_assert(op_def(OP_AMAX)->maps_channels(&mean));
    mean.a.reduced = 1u << 1;
    ck_assert(!op_def(OP_AMAX)->maps_channels(&mean));
    mean.op = OP_MEAN;
    mean.a.reduced = 1u << 2 | 1u << 3;
    img.dims[2] = img.dims[3] = 100;
    ck_assert(isnan(op_def(OP_MEAN)->channel_value(&mean, 0, x)));
}
END_TEST

/* concat: channel k of input i is channel offset_i + k of the output. */
START_TEST(concat_maps_channels)
{
    Tensor a = {.rank = 2, .dims = {1, 3}}, b = {.rank = 2, .dims = {1, 2}};
    Tensor *ins[] = {&a, &b};
    Node n = {.op = OP_CONCAT, .in = ins, .nin = 2};
    int64_t (*in)(const Node *, int, int64_t) = op_def(OP_CONCAT)->channel_in;
    ck_assert_int_eq(in(&n, 0, 2), 2);
    ck_assert_int_eq(in(&n, 0, 3), -1);
    ck_assert_int_eq(in(&n, 1, 3), 0);
    ck_assert_int_eq(in(&n, 1, 4), 1);
    ck_assert_int_eq(in(&n, 1, 2), -1);
}
END_TEST

/* Issue 12's ops: gelu's two forms, scale and pad on constant channels. */
START_TEST(issue12_constant_channels)
{
    Attrs exact = {0}, approx = {.gelu_tanh = true};
    float (*gelu)(const Attrs *, float) = op_def(OP_GELU)->act_eval;
    ck_assert(gelu(&exact, 0.0f) == 0.0f);
    ck_assert(fabsf(gelu(&exact, 1.0f) - 0.8413447f) < 1e-6f);
    ck_assert(fabsf(gelu(&approx, 1.0f) - 0.8411920f) < 1e-6f);
    ck_assert(fabsf(gelu(&exact, -3.0f) + 0.0040499f) < 1e-6f);
    float w[2] = {2.0f, -1.0f}, b[2] = {0.5f, 0.25f};
    Const cw = {.data = w}, cb = {.data = b};
    Node sc = {.op = OP_SCALE, .a = {.bias = true}, .param = {&cw, &cb}};
    float x[1] = {1.5f};
    ck_assert(op_def(OP_SCALE)->channel_value(&sc, 1, x) == -1.25f);
    Node pad = {.op = OP_PAD, .a = {.pad_l = 1, .value = 1.5}};
    ck_assert(op_def(OP_PAD)->channel_value(&pad, 0, x) == 1.5f);
    pad.a.value = 0.0;
    ck_assert(isnan(op_def(OP_PAD)->channel_value(&pad, 0, x)));
    pad.a.pad_l = -1; /* crops only: still the constant */
    ck_assert(op_def(OP_PAD)->channel_value(&pad, 0, x) == 1.5f);
}
END_TEST

/* Per-side pads: any one side's padding changes what prune-channels may
 * assume, and the window length counts both sides. */
START_TEST(per_side_pads)
{
    float x[1] = {1.5f};
    Node pool = {.op = OP_AVGPOOL, .a = {.count_include_pad = true, .pr = 1}};
    ck_assert(isnan(op_def(OP_AVGPOOL)->channel_value(&pool, 0, x)));
    Node conv = {.op = OP_CONV2D, .a = {.groups = 1}};
    ck_assert(op_def(OP_CONV2D)->absorbs(&conv, 1.5f));
    conv.a.pb = 1;
    ck_assert(!op_def(OP_CONV2D)->absorbs(&conv, 1.5f));
    ck_assert(op_def(OP_CONV2D)->absorbs(&conv, 0.0f));
    Node pad = {.op = OP_PAD, .a = {.pad_t = 2, .pad_mode = PAD_REFLECT}};
    ck_assert(op_def(OP_PAD)->channel_value(&pad, 0, x) == 1.5f);
    /* (in + top + bottom - span) / stride + 1; ceil_mode drops a last
     * window starting at or after in + top */
    ck_assert_int_eq(window_out(5, 3, 1, 0, 2, 1, false), 5);
    ck_assert_int_eq(window_out(5, 3, 2, 2, 0, 1, false), 3);
    ck_assert_int_eq(window_out(4, 2, 2, 1, 1, 1, true), 3);
    ck_assert_int_eq(window_out(4, 2, 2, 0, 1, 1, true), 2); /* [4, 6) is all padding */
    ck_assert_int_eq(window_out(4, 2, 3, 1, 1, 1, true), 2);
    ck_assert_int_eq(window_out(2, 5, 1, 1, 1, 1, false), -1);
}
END_TEST

static Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_op_has_a_shape_rule);
    tcase_add_test(tc, arguments_match_their_setter);
    tcase_add_test(tc, traits_have_their_rules);
    tcase_add_test(tc, constant_channels);
    tcase_add_test(tc, concat_maps_channels);
    tcase_add_test(tc, issue12_constant_channels);
    tcase_add_test(tc, per_side_pads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ops_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
