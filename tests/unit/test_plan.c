/* test_plan.c - the memory planner: no two tensors (or scratch areas) that are
 * live at the same step may share bytes; in-place ops reuse their input; the
 * arena is never below the lower bound. The networks are written in .cnn and
 * built with the real front end, then checked by an independent liveness
 * computation written here. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "ir.h"
#include "util.h"

static Graph *build(const char *src)
{
    diag_reset();
    diag_set_source("t.cnn", src, strlen(src));
    Program *p = parse_program(src, strlen(src));
    ck_assert_ptr_nonnull(p);
    BuildOptions opt = {.batch = 2, .source_path = "t.cnn"};
    Graph *g = ir_build(p, &opt);
    ast_free(p);
    ck_assert_ptr_nonnull(g);
    select_kernels(g, -1);
    ck_assert(plan_memory(g));
    return g;
}

static const Tensor *root(const Tensor *t)
{
    while (t->storage == STORE_ALIAS)
        t = t->alias;
    return t;
}

/* Interval of steps during which the arena bytes of t must hold its value. */
static void live_range(const Graph *g, const Tensor *t, int *first, int *last)
{
    *first = *last = t->producer->id;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i]->nin; j++)
            if (root(g->nodes[i]->in[j]) == t && i > *last)
                *last = i;
}

static void check_no_overlap(const Graph *g)
{
    int n = 0;
    int64_t *lo = xmalloc(sizeof *lo * (size_t)(g->ntensors + g->nnodes));
    int64_t *hi = xmalloc(sizeof *hi * (size_t)(g->ntensors + g->nnodes));
    int *first = xmalloc(sizeof *first * (size_t)(g->ntensors + g->nnodes));
    int *last = xmalloc(sizeof *last * (size_t)(g->ntensors + g->nnodes));
    for (int i = 0; i < g->ntensors; i++) {
        const Tensor *t = g->tensors[i];
        if (t->storage != STORE_ARENA)
            continue;
        lo[n] = t->offset;
        hi[n] = t->offset + ir_tensor_bytes(t);
        ck_assert_int_le(hi[n], g->arena_bytes);
        live_range(g, t, &first[n], &last[n]);
        n++;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *nd = g->nodes[i];
        if (nd->scratch_bytes == 0)
            continue;
        lo[n] = nd->scratch_offset;
        hi[n] = nd->scratch_offset + nd->scratch_bytes;
        first[n] = last[n] = i;
        n++;
    }
    for (int a = 0; a < n; a++) {
        for (int b = a + 1; b < n; b++) {
            bool time = first[a] < last[b] && first[b] < last[a];
            /* Same step: a producer's output may reuse an input dying there only in place. */
            bool same_step_ok = first[a] == last[b] || first[b] == last[a];
            bool space = lo[a] < hi[b] && lo[b] < hi[a];
            ck_assert_msg(!(space && time && !same_step_ok) || (lo[a] == lo[b] && hi[a] == hi[b]),
                          "blocks %d and %d overlap in bytes and time", a, b);
        }
    }
    ck_assert_int_ge(g->arena_bytes, g->peak_live_bytes);
    free(lo);
    free(hi);
    free(first);
    free(last);
}

START_TEST(chain_reuses_two_buffers)
{
    Graph *g = build("input x[4, 16, 16]\ninit he\n"
                     "a: conv2d(8, kernel=1) -> b: conv2d(8, kernel=1) -> c: conv2d(8, kernel=1)\n"
                     "d: conv2d(8, kernel=1)\n");
    check_no_overlap(g);
    /* 1x1 convs need no scratch: a chain ping-pongs between two buffers. */
    int64_t t = 2 * 8 * 16 * 16 * 4;
    ck_assert_int_eq(g->arena_bytes, 2 * t);
    ck_assert_int_eq(g->nodes[0]->out->offset, g->nodes[2]->out->offset);
    ir_graph_free(g);
}
END_TEST

START_TEST(activation_runs_in_place)
{
    Graph *g = build("input x[4, 8, 8]\ninit he\n"
                     "c: conv2d(8, kernel=1) -> bn: batchnorm -> relu -> c2: conv2d(4, kernel=1)\n");
    check_no_overlap(g);
    ck_assert_int_eq(g->nodes[0]->out->offset, g->nodes[1]->out->offset);
    ck_assert_int_eq(g->nodes[1]->out->offset, g->nodes[2]->out->offset);
    ir_graph_free(g);
}
END_TEST

START_TEST(skip_connection_stays_alive)
{
    Graph *g = build("input x[4, 8, 8]\ninit he\n"
                     "block basic(c) {\n"
                     "    y = c1: conv2d(c, kernel=3, pad=1) -> b1: batchnorm -> relu\n"
                     "        -> c2: conv2d(c, kernel=3, pad=1) -> b2: batchnorm\n"
                     "    add(y, in) -> relu\n"
                     "}\n"
                     "stem: conv2d(8, kernel=3, pad=1) -> relu\n"
                     "layer: basic(8) * 3\n"
                     "a = adaptive_avgpool((2, 2))\n"
                     "b = a -> upsample(scale=2)\n"
                     "c = a -> upsample(size=(4, 4), mode=\"bilinear\")\n"
                     "d = a -> upsample(scale=2)\n"
                     "concat(b, c, d)\n");
    check_no_overlap(g);
    ir_graph_free(g);
}
END_TEST

START_TEST(views_and_outputs)
{
    Graph *g = build("input x[3, 6, 6]\ninit he\n"
                     "f = conv2d(4, kernel=3) -> relu -> flatten -> dropout\n"
                     "fc: linear(5)\noutput f, fc\n");
    check_no_overlap(g);
    ck_assert_int_eq(g->outputs[0]->storage, STORE_OUTPUT);
    ck_assert_int_eq(g->outputs[1]->storage, STORE_OUTPUT);
    ir_graph_free(g);
}
END_TEST

static Suite *plan_suite(void)
{
    Suite *s = suite_create("plan_memory");
    TCase *tc = tcase_create("plans");
    tcase_add_test(tc, chain_reuses_two_buffers);
    tcase_add_test(tc, activation_runs_in_place);
    tcase_add_test(tc, skip_connection_stays_alive);
    tcase_add_test(tc, views_and_outputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plan_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
