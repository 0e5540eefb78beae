/* emit_run.c - the entry point NAME_run(inputs..., outputs...): one call
 * per layer function, in graph order, on the planned pointers; with
 * --profile a timer tick after each layer and NAME_profile_print(), with
 * --dump-tensors each layer's output written to a directory. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"
#include "opdef.h"

void emit_signature(Emitter *e, StrBuf *sb, const char *end)
{
    const Graph *g = e->g;
    sb_printf(sb, "void %s_run(", e->net);
    for (int i = 0; i < g->ninputs; i++)
        sb_printf(sb, "%sconst float *%s%s", i ? ", " : "", g->inputs[i]->name,
                  hiding_suffix(e, g->inputs[i]));
    for (int i = 0; i < g->noutputs; i++)
        sb_printf(sb, ", float *%s%s", g->outputs[i]->name, hiding_suffix(e, g->outputs[i]));
    sb_printf(sb, ")%s", end);
}

/* --profile: a static cnnrt_prof_layer per timed layer (every non-view node,
 * in order), and NAME_profile_print() / NAME_profile_reset(). */
static void emit_profile_table(Emitter *e)
{
    const Graph *g = e->g;
    int count = 0;
    for (int i = 0; i < g->nnodes; i++)
        count += !op_has(g->nodes[i]->op, OPT_VIEW);
    sb_printf(e->sb,
              "\n/* Per-layer profile (cnnc --profile): name, op, kernel, FLOPs per call. */\n"
              "static cnnrt_prof_layer %s_prof[%d] = {\n",
              e->net, count > 0 ? count : 1);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (op_has(n->op, OPT_VIEW))
            continue;
        StrBuf name = {0};
        put_c_string(&name, n->name);
        sb_printf(e->sb, "    {\"%s\", \"%s\", \"%s\", %lld.0, 0.0, 0},\n", name.data,
                  op_name(n->op), kernel_name(n->kernel), 2 * (long long)ir_node_macs(n));
        sb_free(&name);
    }
    if (count == 0)
        sb_puts(e->sb, "    {\"\", \"\", \"\", 0.0, 0.0, 0},\n");
    sb_puts(e->sb, "};\n");
    sb_printf(e->sb,
              "\nvoid %s_profile_print(void)\n{\n    cnnrt_prof_print(%s_prof, %d, \"%s, batch "
              "%lld\");\n}\n",
              e->net, e->net, count, g->name, (long long)g->batch);
    sb_printf(e->sb, "\nvoid %s_profile_reset(void)\n{\n    cnnrt_prof_reset(%s_prof, %d);\n}\n",
              e->net, e->net, count);
}

/* ---- --dump-tensors -------------------------------------------------------- */

static bool file_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* The file node n's output is dumped to: the name of the layer whose output
 * it is (ir_result_name) and ".f32"; if that name holds other characters
 * than letters, digits, '.', '_' and '-', they become '_' and "~ID" is
 * added, so two labels never share a file. */
static void dump_file_name(const Node *n, StrBuf *sb)
{
    const char *name = ir_result_name(n);
    bool changed = name[0] == '\0';
    for (const char *p = name; *p; p++) {
        sb_putc(sb, file_name_char(*p) ? *p : '_');
        changed |= !file_name_char(*p);
    }
    if (changed)
        sb_printf(sb, "~%d", n->id);
    sb_puts(sb, ".f32");
}

/* Text for one field of index.tsv: tabs and control characters become '?'. */
static void put_index_text(StrBuf *sb, const char *s)
{
    for (; *s; s++)
        sb_putc(sb, (unsigned char)*s < 32 || *s == 127 ? '?' : *s);
}

/* n's line in index.tsv after the file: label, op, shape "1,6,28,28", and the
 * layers computed, "conv1 +bn1 +relu_1". */
static void dump_index_line(const Node *n, StrBuf *sb)
{
    char label[64];
    put_index_text(sb, ir_result_name(n));
    sb_printf(sb, "\t%s\t", ir_op_label(n, label, sizeof label));
    for (int i = 0; i < n->out->rank; i++)
        sb_printf(sb, "%s%lld", i ? "," : "", (long long)n->out->dims[i]);
    sb_putc(sb, '\t');
    put_index_text(sb, n->name);
    if (n->fuse.names)
        put_index_text(sb, n->fuse.names);
}

/* NAME_dump_tensors(), NAME_dump_status() and the static state they share
 * with NAME_run(). */
static void emit_dump_functions(Emitter *e)
{
    const char *n = e->net;
    sb_printf(e->sb,
              "\n/* cnnc --dump-tensors: where NAME_run() writes every layer's output (NULL:\n"
              " * nowhere), and whether a write failed. */\n"
              "static const char *%s_dump_dir;\nstatic int %s_dump_failed;\n",
              n, n);
    sb_printf(e->sb,
              "\nvoid %s_dump_tensors(const char *dir)\n{\n    %s_dump_dir = dir;\n"
              "    %s_dump_failed = 0;\n}\n",
              n, n, n);
    sb_printf(e->sb, "\nint %s_dump_status(void)\n{\n    return %s_dump_failed ? -1 : 0;\n}\n", n,
              n);
    sb_printf(e->sb,
              "\n/* Dump one tensor to dir; on an error, stop dumping (NULL). */\n"
              "static const char *%s_dump(const char *dir, const char *file, const char *line,\n"
              "                           const float *data, size_t count)\n{\n"
              "    if (dir && cnnrt_dump_tensor(dir, file, line, data, count) != 0) {\n"
              "        %s_dump_failed = 1;\n        return NULL;\n    }\n    return dir;\n}\n",
              n, n);
}

/* In NAME_run(), after node n: write its output if dumping. */
static void emit_dump_call(Emitter *e, const Node *n, bool profile)
{
    StrBuf a = {0}, file = {0}, line = {0}, index = {0};
    dump_file_name(n, &file);
    dump_index_line(n, &index);
    put_c_string(&line, index.data);
    if (profile)
        open_block(e, "if (%s_dump_dir) {", e->net);
    else
        open_block(e, "if (%s_dump_dir)", e->net);
    out(e, "%s_dump_dir = %s_dump(%s_dump_dir, \"%s\", \"%s\", %s, %lld);", e->net, e->net, e->net,
        file.data, line.data, tensor_ptr(e, n->out, &a),
        (long long)ir_tensor_numel(n->out));
    if (profile) {
        out(e, "prof_t = cnnrt_now_ms(); /* the time to write is no layer's */");
        close_brace(e);
    } else {
        e->indent--;
    }
    sb_free(&a);
    sb_free(&file);
    sb_free(&line);
    sb_free(&index);
}

/* Whether a layer of g calls the runtime's GEMM/GEMV (OpenBLAS). */
static bool uses_blas(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->kernel == KERNEL_GEMM || n->kernel == KERNEL_IM2COL ||
            (n->op == OP_LINEAR && n->kernel != KERNEL_SPARSE && !ir_node_quant(n)))
            return true;
    }
    return false;
}

/* Whether a layer of g is emitted once per instruction set (emit_conv.c). */
static bool uses_blocked(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->op == OP_CONV2D && (g->nodes[i]->kernel == KERNEL_BLOCKED ||
                                              g->nodes[i]->kernel == KERNEL_DEPTHWISE))
            return true;
    return false;
}

/* In NAME_run(), where NAME_<macro> is defined: NAME_<var> = value, once. */
static void emit_isa_once(Emitter *e, const char *macro, const char *var, const char *value)
{
    sb_printf(e->sb, "#ifdef %s_%s\n", e->NET, macro);
    out(e, "static int %s_set;", var);
    open_block(e, "if (!%s_set) {", var);
    out(e, "%s_%s = %s;", e->net, var, value);
    out(e, "%s_set = 1;", var);
    close_brace(e);
    sb_puts(e->sb, "#endif\n");
}

/* Whether a layer of g is a quantized conv2d with vector kernels (QDOT, QCONV, QDW). */
static bool uses_qdot(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->kernel == KERNEL_QDOT || g->nodes[i]->kernel == KERNEL_QCONV ||
            g->nodes[i]->kernel == KERNEL_QDW)
            return true;
    return false;
}

void emit_run(Emitter *e, bool profile)
{
    const Graph *g = e->g;
    char s[REF_SIZE];
    StrBuf a = {0}, b = {0};
    int timed = 0;
    if (profile)
        emit_profile_table(e);
    if (e->dump)
        emit_dump_functions(e);
    sb_puts(e->sb, "\n");
    emit_signature(e, e->sb, "\n{\n");
    e->indent = 1;
    /* Once: OpenBLAS's thread count (process-wide). --threads 1 means one
     * thread whatever OPENBLAS_NUM_THREADS says; with --threads N, N while
     * our own loops are serial (no OpenMP), else 1. Only networks with a
     * layer that calls BLAS set it. */
    if (e->threads > 1 || uses_blas(g)) {
        out(e, "static int blas_threads_set;");
        open_block(e, "if (!blas_threads_set) {");
        if (e->threads > 1)
            out(e, "cnnrt_set_blas_threads(%s_PARTS == 1 ? %d : 1);", e->NET, e->threads);
        else
            out(e, "cnnrt_set_blas_threads(1);");
        out(e, "blas_threads_set = 1;");
        close_brace(e);
    }
    /* Once: the instruction set of the blocked and depthwise conv layers' copies
     * (emit_conv.c; NAME_TILES only where they were emitted). */
    if (uses_blocked(g))
        emit_isa_once(e, "TILES", "isa", "cnnrt_cpu_isa()");
    if (uses_qdot(g)) /* emit_quant.c's dot products */
        emit_isa_once(e, "QTILES", "qisa",
                      "cnnrt_cpu_vnni() ? 2 : cnnrt_cpu_isa() >= CNNRT_ISA_AVX2");
    if (e->dump) {
        open_block(e, "if (%s_dump_dir && cnnrt_dump_begin(%s_dump_dir) != 0) {", e->net, e->net);
        out(e, "%s_dump_dir = NULL;", e->net);
        out(e, "%s_dump_failed = 1;", e->net);
        close_brace(e);
    }
    if (profile)
        out(e, "double prof_t = cnnrt_now_ms();");
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (op_has(n->op, OPT_VIEW)) {
            if (n->out->storage == STORE_OUTPUT)
                out(e, "memcpy(%s, %s, %lld); /* %s */", n->out->name,
                    tensor_ptr(e, n->in[0], &a), (long long)ir_tensor_bytes(n->out),
                    comment_safe(e, n->name));
            else
                out(e, "/* %s: %s is a view of %s */", comment_safe(e, n->name), n->out->name,
                    tensor_root(n->out)->name);
            if (e->dump && !n->out->quant)
                emit_dump_call(e, n, false);
            continue;
        }
        char *fn = layer_fn(n);
        if (n->scratch_bytes > 0)
            snprintf(s, sizeof s, ", %s_arena + %lld", e->net, (long long)(n->scratch_offset / 4));
        else
            s[0] = '\0';
        StrBuf args = {0};
        for (int j = 0; j < n->nin; j++)
            sb_printf(&args, "%s, ", tensor_ptr(e, n->in[j], &a));
        out(e, "%s(%s%s%s);", fn, args.len ? args.data : "", tensor_ptr(e, n->out, &b), s);
        sb_free(&args);
        if (profile)
            out(e, "prof_t = cnnrt_prof_tick(&%s_prof[%d], prof_t);", e->net, timed++);
        if (e->dump && !n->out->quant) /* dumps are float32 */
            emit_dump_call(e, n, profile);
        free(fn);
    }
    sb_free(&a);
    sb_free(&b);
    e->indent = 0;
    out(e, "}");
}
