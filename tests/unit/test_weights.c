/* test_weights.c - unit tests for binding parameters to the IR (compiler/weights.c)
 * through weights_bind_file(): from a safetensors image in memory, from the
 * deterministic init, and the parameter size limits, which must fail before
 * anything is allocated. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "ir.h"
#include "util.h"
#include "weights.h"

static Program *prog;

/* Parse and build src (with batch 1); the caller frees with done(). */
static Graph *build(const char *src)
{
    diag_reset();
    diag_set_source("net.cnn", src, strlen(src));
    prog = parse_program(src, strlen(src));
    ck_assert_ptr_nonnull(prog);
    BuildOptions opt = {.batch = 1, .source_path = "net.cnn"};
    Graph *g = ir_build(prog, &opt);
    ck_assert_ptr_nonnull(g);
    return g;
}

static void done(Graph *g)
{
    ir_graph_free(g);
    ast_free(prog);
    diag_reset();
}

/* A safetensors image of fc.weight [2, wcols] = 1, 2, 3, ... and fc.bias [2] = 0.5, -0.5. */
static void fc_image(StFile *f, int wcols)
{
    char hdr[256];
    int wbytes = 2 * wcols * 4;
    int n = snprintf(hdr, sizeof hdr,
                     "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,%d],\"data_offsets\":[0,%d]},"
                     "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}}",
                     wcols, wbytes, wbytes, wbytes + 8);
    size_t size = 8 + (size_t)n + (size_t)wbytes + 8;
    unsigned char *buf = xcalloc(1, size);
    buf[0] = (unsigned char)n;
    memcpy(buf + 8, hdr, (size_t)n);
    float *data = xmalloc((size_t)wbytes + 8);
    for (int i = 0; i < 2 * wcols; i++)
        data[i] = (float)(i + 1);
    data[2 * wcols] = 0.5f;
    data[2 * wcols + 1] = -0.5f;
    memcpy(buf + 8 + n, data, (size_t)wbytes + 8); /* the test hosts are little-endian */
    free(data);
    char err[256];
    ck_assert_msg(st_parse(buf, size, f, err, sizeof err) == 0, "%s", err);
}

START_TEST(bind_from_memory)
{
    Graph *g = build("input x[4]\nweights \"w.safetensors\"\nfc: linear(2)\n");
    ck_assert_str_eq(g->weights_path, "w.safetensors");
    StFile f;
    fc_image(&f, 4);
    ck_assert(weights_bind_file(g, &f));
    ck_assert_int_eq(diag_error_count(), 0);
    const Node *fc = g->nodes[0];
    const Const *w = fc->param[PARAM_WEIGHT], *b = fc->param[PARAM_BIAS];
    ck_assert_str_eq(w->key, "fc.weight");
    ck_assert_int_eq(w->rank, 2);
    ck_assert_int_eq(w->dims[0], 2);
    ck_assert_int_eq(w->dims[1], 4);
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(w->data[i], (float)(i + 1));
    ck_assert_float_eq(b->data[0], 0.5f);
    ck_assert_float_eq(b->data[1], -0.5f);
    ck_assert(st_find(&f, "fc.weight")->used && st_find(&f, "fc.bias")->used);
    st_free(&f);
    done(g);
}
END_TEST

START_TEST(bind_wrong_shape)
{
    Graph *g = build("input x[4]\nweights \"w.safetensors\"\nfc: linear(2)\n");
    StFile f;
    fc_image(&f, 3);
    ck_assert(!weights_bind_file(g, &f));
    ck_assert_int_eq(diag_error_count(), 1);
    ck_assert_ptr_null(g->nodes[0]->param[PARAM_WEIGHT]->data);
    st_free(&f);
    done(g);
}
END_TEST

START_TEST(bind_init_is_deterministic)
{
    const char *src = "input x[6]\ninit he(seed=7)\nfc: linear(3)\n";
    float first[18];
    Graph *g = build(src);
    ck_assert(weights_bind_file(g, NULL));
    memcpy(first, g->nodes[0]->param[PARAM_WEIGHT]->data, sizeof first);
    done(g);
    g = build(src);
    ck_assert(weights_bind_file(g, NULL));
    const Const *w = g->nodes[0]->param[PARAM_WEIGHT];
    double bound = sqrt(6.0 / 6.0); /* He uniform: sqrt(6 / fan_in) */
    bool all_zero = true;
    for (int i = 0; i < 18; i++) {
        ck_assert_float_eq(w->data[i], first[i]);
        ck_assert(fabs(w->data[i]) <= bound);
        all_zero = all_zero && w->data[i] == 0.0f;
    }
    ck_assert(!all_zero);
    done(g);
}
END_TEST

START_TEST(param_too_large)
{
    Graph *g = build("input x[1048576]\ninit he\nfc: linear(1048576)\n");
    ck_assert(!weights_bind_file(g, NULL));
    ck_assert_int_eq(diag_error_count(), 1);
    ck_assert_ptr_null(g->nodes[0]->param[PARAM_WEIGHT]); /* nothing was allocated */
    done(g);
}
END_TEST

START_TEST(params_total_too_large)
{
    Graph *g = build("input x[16384]\ninit he\na: linear(32768)\nb: linear(16384)\n");
    ck_assert(!weights_bind_file(g, NULL));
    ck_assert_int_eq(diag_error_count(), 1);
    ck_assert_ptr_null(g->nodes[0]->param[PARAM_WEIGHT]);
    done(g);
}
END_TEST

static Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("bind");
    tcase_add_test(tc, bind_from_memory);
    tcase_add_test(tc, bind_wrong_shape);
    tcase_add_test(tc, bind_init_is_deterministic);
    tcase_add_test(tc, param_too_large);
    tcase_add_test(tc, params_total_too_large);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(weights_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
