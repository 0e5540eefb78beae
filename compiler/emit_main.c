/* emit_main.c - main() of the generated file, for --main and --emit=test.
 *
 * Both programs take raw little-endian float32 files: --main's
 *     ./prog [--bench N] IN.f32... OUT.f32
 * runs the network and writes all outputs concatenated, in declaration
 * order; with --bench N it runs N timed times after a warm-up and prints the
 * median last, as median_ms=<value>. --emit=test's
 *     ./test [--tol T] IN.f32... EXPECTED.f32
 * runs the network once and compares every output with its part of
 * EXPECTED (all outputs concatenated, as --main writes them) by the
 * abs-or-rel rule of cnnrt_compare_f32; exit 0 if all match, 1 if not.
 * They share the buffers, the option loop, the usage message, --dump DIR and
 * the reading of weights and inputs (emit_main); a MainKind holds what
 * differs. */
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

/* The argument list "main_a, main_b" of inputs then outputs, for NAME_run. */
static char *main_call_args(const Graph *g)
{
    StrBuf call = {0};
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(&call, "%smain_%s", i ? ", " : "", g->inputs[i]->name);
    for (int i = 0; i < g->noutputs; i++)
        sb_printf(&call, ", main_%s", g->outputs[i]->name);
    return call.data;
}

#define OPT_LINES 12

/* The option loop opening a generated main(): "--NAME VALUE" pairs before
 * the files; option names[i] runs the lines stmts[i] (NULL-ended),
 * which read argv[2] and may `break` out of the loop on a bad value. */
static void emit_main_options(Emitter *e, int n, const char *const names[],
                              const char *const stmts[][OPT_LINES])
{
    open_block(e, "while (argc > 2) {");
    for (int i = 0; i < n; i++) {
        out(e, "%sif (strcmp(argv[1], \"%s\") == 0) {", i ? "} else " : "", names[i]);
        e->indent++;
        for (int j = 0; j < OPT_LINES && stmts[i][j]; j++)
            out(e, "%s", stmts[i][j]);
        e->indent--;
    }
    out(e, "} else {");
    out(e, "    break;");
    out(e, "}");
    out(e, "argc -= 2;");
    out(e, "argv += 2;");
    close_brace(e);
}

/* With --dump-tensors, main()'s --dump DIR: the usage line and the call. */
static void emit_dump_usage(Emitter *e)
{
    if (e->dump)
        out(e,
            "fprintf(stderr, \"--dump DIR: write every layer's output to DIR/LABEL.f32, listed in "
            "DIR/index.tsv.\\n\");");
}

static void emit_dump_start(Emitter *e)
{
    if (e->dump)
        out(e, "if (dump)\n        %s_dump_tensors(dump);", e->net);
}

/* What tells the two programs apart. */
typedef struct MainKind {
    const char *synopsis;      /* the comment before the buffers */
    const char *option, *arg;  /* its option, "--bench" "N" */
    const char *decl;          /* the option's variable with its default */
    const char *parse[OPT_LINES]; /* lines setting it from argv[2] (NULL-ended) */
    const char *bad;           /* when the option's value is refused */
    const char *last;          /* the file after the inputs, in the usage line */
    const char *runs;          /* the usage message's "Runs network NAME" goes on */
    const char *const help[3]; /* and its further lines, up to a NULL */
    int fail;                  /* exit status when the weights or an input cannot be read */
    /* statics after the buffers; the statements after the inputs are read */
    void (*statics)(Emitter *e, int64_t total, const char *call);
    void (*body)(Emitter *e, const EmitOptions *opt, int64_t total, const char *call);
} MainKind;

/* --main: a benchmark's bench_once() runs the network; several outputs are
 * gathered into one buffer to be written. */
static void prog_statics(Emitter *e, int64_t total, const char *call)
{
    if (e->g->noutputs > 1)
        sb_printf(e->sb, "static float main_all_outputs[%lld];\n", (long long)total);
    sb_printf(e->sb, "\nstatic void bench_once(void *ctx)\n{\n    (void)ctx;\n    %s_run(%s);\n}\n",
              e->net, call);
}

/* --main: run (timed with --bench), write the outputs, print the median. */
static void prog_body(Emitter *e, const EmitOptions *opt, int64_t total, const char *call)
{
    const Graph *g = e->g;
    (void)call;
    emit_dump_start(e);
    out(e, "double median_ms = 0.0;");
    if (opt->profile) {
        /* The same warm-up as cnnrt_bench's, then profile the timed runs only. */
        open_block(e, "if (bench > 0) {");
        out(e, "for (int i = 0; i < bench / 10 + 1; i++)");
        out(e, "    bench_once(NULL);");
        out(e, "%s_profile_reset();", e->net);
        out(e, "median_ms = cnnrt_bench(bench_once, NULL, 0, bench);");
        e->indent--;
        out(e, "} else {");
        out(e, "    bench_once(NULL);");
        out(e, "}");
    } else {
        out(e, "if (bench > 0)");
        out(e, "    median_ms = cnnrt_bench(bench_once, NULL, bench / 10 + 1, bench);");
        out(e, "else");
        out(e, "    bench_once(NULL);");
    }
    const char *result = "main_all_outputs";
    if (g->noutputs > 1) {
        int64_t at = 0;
        for (int i = 0; i < g->noutputs; i++) {
            out(e, "memcpy(main_all_outputs + %lld, main_%s, sizeof main_%s);", (long long)at,
                g->outputs[i]->name, g->outputs[i]->name);
            at += ir_tensor_numel(g->outputs[i]);
        }
    } else {
        result = NULL;
    }
    out(e, "if (cnnrt_write_f32(argv[%d], %s%s, %lld) != 0)\n        return 1;", g->ninputs + 1,
        result ? result : "main_", result ? "" : g->outputs[0]->name, (long long)total);
    if (e->dump)
        out(e, "if (%s_dump_status() != 0)\n        return 1;", e->net);
    if (opt->profile)
        out(e, "if (bench > 0)\n        %s_profile_print();", e->net);
    out(e, "if (bench > 0)");
    out(e, "    printf(\"median_ms=%%.6f\\n\", median_ms);");
    out(e, "return 0;");
}

/* --emit=test: the expected outputs. */
static void test_statics(Emitter *e, int64_t total, const char *call)
{
    (void)call;
    sb_printf(e->sb, "static float main_expected[%lld];\n", (long long)total);
}

/* --emit=test: read EXPECTED, run once, compare every output. */
static void test_body(Emitter *e, const EmitOptions *opt, int64_t total, const char *call)
{
    const Graph *g = e->g;
    (void)opt;
    out(e, "if (cnnrt_read_f32(argv[%d], main_expected, %lld) != 0)\n        return 2;",
        g->ninputs + 1, (long long)total);
    emit_dump_start(e);
    out(e, "%s_run(%s);", e->net, call);
    if (e->dump)
        out(e, "if (%s_dump_status() != 0)\n        return 2;", e->net);
    out(e, "size_t bad = 0;");
    int64_t at = 0;
    for (int i = 0; i < g->noutputs; i++) {
        out(e, "bad += cnnrt_compare_f32(\"%s\", main_%s, main_expected + %lld, %lld, tol);",
            g->outputs[i]->name, g->outputs[i]->name, (long long)at,
            (long long)ir_tensor_numel(g->outputs[i]));
        at += ir_tensor_numel(g->outputs[i]);
    }
    out(e,
        "printf(\"%%s: network %s, tolerance %%g (abs or rel)\\n\", bad ? \"FAIL\" : "
        "\"PASS\", tol);",
        g->name);
    out(e, "return bad ? 1 : 0;");
}

static const MainKind prog_main = {
    .synopsis = "./prog [--bench N] IN.f32... OUT.f32 (see cnnc --help, --main).",
    .option = "--bench",
    .arg = "N",
    .decl = "int bench = 0;",
    /* Strict: digits only, 0 to CNNRT_BENCH_MAX_RUNS (what cnnrt_bench runs at
     * most); anything else is an error (bench -1) with the usage message. */
    .parse = {"char *end;", "long v = strtol(argv[2], &end, 10);",
              "if (argv[2][0] < '0' || argv[2][0] > '9' || *end != '\\0' || v > CNNRT_BENCH_MAX_RUNS) {",
              "    fprintf(stderr, \"%s: --bench N must be an integer from 0 to %d, not '%s'\\n\",",
              "            prog, CNNRT_BENCH_MAX_RUNS, argv[2]);",
              "    bench = -1;", "    break;", "}", "bench = (int)v;"},
    .bad = "bench < 0",
    .last = "OUT.f32",
    .runs = " on raw little-endian float32 input and writes its output.\\n",
    .help = {"--bench N: run N timed times, print median_ms=<milliseconds>.\\n"},
    .fail = 1,
    .statics = prog_statics,
    .body = prog_body,
};

static const MainKind test_main = {
    .synopsis = "./test [--tol T] IN.f32... EXPECTED.f32 (cnnc --emit=test).",
    .option = "--tol",
    .arg = "T",
    .decl = "double tol = 1e-4;",
    /* Strict: a whole finite number, at least 0; anything else is an error
     * (tol -1) with the usage message. */
    .parse = {"char *end;", "double v = strtod(argv[2], &end);",
              "if (end == argv[2] || *end != '\\0' || !(v >= 0) || !isfinite(v)) {",
              "    fprintf(stderr, \"%s: --tol T must be a finite number of at least 0, not '%s'\\n\",",
              "            prog, argv[2]);",
              "    tol = -1;", "    break;", "}", "tol = v;"},
    .bad = "!(tol >= 0)",
    .last = "EXPECTED.f32",
    .runs = " and compares its output with EXPECTED.f32 (raw float32,\\n",
    .help = {"all outputs concatenated). A value matches if its absolute or relative\\n",
             "error is at most T (default 1e-4). Exit status 0 if all match.\\n"},
    .fail = 2,
    .statics = test_statics,
    .body = test_body,
};

void emit_main(Emitter *e, const EmitOptions *opt)
{
    const MainKind *k = opt->with_test ? &test_main : &prog_main;
    const Graph *g = e->g;
    int64_t total = 0;
    char *call = main_call_args(g);
    sb_printf(e->sb, "\n/* %s */\n", k->synopsis);
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(e->sb, "static float main_%s[%lld];\n", g->inputs[i]->name,
                  (long long)ir_tensor_numel(g->inputs[i]));
    for (int i = 0; i < g->noutputs; i++) {
        sb_printf(e->sb, "static float main_%s[%lld];\n", g->outputs[i]->name,
                  (long long)ir_tensor_numel(g->outputs[i]));
        total += ir_tensor_numel(g->outputs[i]);
    }
    k->statics(e, total, call);
    out(e, "\nint main(int argc, char **argv)\n{");
    e->indent = 1;
    out(e, "const char *prog = argv[0];");
    out(e, "%s", k->decl);
    if (e->dump)
        out(e, "const char *dump = NULL;");
    const char *names[] = {k->option, "--dump"};
    const char *stmts[2][OPT_LINES] = {{NULL}, {"dump = argv[2];"}};
    memcpy(stmts[0], k->parse, sizeof stmts[0]);
    emit_main_options(e, e->dump ? 2 : 1, names, stmts);
    open_block(e, "if (argc != %d || %s) {", g->ninputs + 2, k->bad);
    StrBuf usage = {0};
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(&usage, " %s.f32", g->inputs[i]->name);
    out(e, "fprintf(stderr, \"usage: %%s [%s %s]%s%s %s\\n\", prog);", k->option, k->arg,
        e->dump ? " [--dump DIR]" : "", usage.data, k->last);
    out(e, "fprintf(stderr, \"Runs network %s%s\");", g->name, k->runs);
    for (int i = 0; i < 3 && k->help[i]; i++)
        out(e, "fprintf(stderr, \"%s\");", k->help[i]);
    emit_dump_usage(e);
    out(e, "return 2;");
    close_brace(e);
    sb_free(&usage);
    if (opt->weights_file && e->weight_floats > 0) {
        StrBuf path = {0};
        put_c_string(&path, opt->weights_file);
        out(e, "if (%s_load_weights(\"%s\") != 0)\n        return %d;", e->net, path.data, k->fail);
        sb_free(&path);
    }
    for (int i = 0; i < g->ninputs; i++)
        out(e, "if (cnnrt_read_f32(argv[%d], main_%s, %lld) != 0)\n        return %d;", i + 1,
            g->inputs[i]->name, (long long)ir_tensor_numel(g->inputs[i]), k->fail);
    k->body(e, opt, total, call);
    e->indent = 0;
    out(e, "}");
    free(call);
}
