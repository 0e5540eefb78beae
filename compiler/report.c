/* report.c - views of a graph for people: the --summary table and --emit=dot.
 *
 * The summary is modelled on torchinfo's: one row per layer with its output
 * shape, parameters, multiply-accumulates and activation bytes, then totals
 * and the planned arena next to the sum of all activations. The DOT graph is
 * for Graphviz (`dot -Tsvg`): inputs and outputs as ellipses, layers as boxes,
 * edges labelled with the shapes that flow along them. */
#include <string.h>

#include "ir.h"
#include "opdef.h"
#include "util.h"

/* A number with thousands separators: 11689512 -> "11,689,512". */
static const char *grouped(int64_t v, char *buf, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)v);
    size_t n = strlen(digits), j = 0;
    for (size_t i = 0; i < n && j + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] != '-')
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

/* The nonzero weights, when some are zero (pruning): the line after "total:". */
static void print_nonzero(const Graph *g, FILE *f)
{
    char a[32], b[32];
    int64_t params, nonzero, macs, nonzero_macs;
    ir_graph_counts(g, &params, &nonzero, &macs, &nonzero_macs);
    if (nonzero != params)
        fprintf(f, "nonzero weights: %s parameters, %s MACs\n", grouped(nonzero, a, sizeof a),
                grouped(nonzero_macs, b, sizeof b));
}

static int op_column_width(const Graph *g)
{
    char label[64];
    int opw = 16; /* wider if a fused label ("conv2d+relu+maxpool") needs it */
    for (int i = 0; i < g->nnodes; i++) {
        int len = (int)strlen(ir_op_label(g->nodes[i], label, sizeof label));
        opw = len > opw ? len : opw;
    }
    return opw;
}

void ir_summary(const Graph *g, const char *title, FILE *f)
{
    char shape[160], a[32], b[32], c[32], label[64];
    int64_t params = 0, macs = 0, act = 0, scratch = 0;
    int opw = op_column_width(g);
    fprintf(f, "%s: network %s, batch %lld\n", title, g->name, (long long)g->batch);
    fprintf(f, "%-28s %-*s %-20s %12s %15s %12s\n", "layer", opw, "op", "output", "params",
            "MACs", "act bytes");
    for (int i = 0; i < g->ninputs; i++) {
        const Tensor *t = g->inputs[i];
        fprintf(f, "%-28s %-*s %-20s %12s %15s %12s\n", t->label, opw, "input",
                ir_shape_str(t->rank, t->dims, shape, sizeof shape), "", "",
                grouped(ir_tensor_bytes(t), c, sizeof c));
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        int64_t p = ir_node_params(n), m = ir_node_macs(n), bytes = ir_tensor_bytes(n->out);
        params += p;
        macs += m;
        act += bytes;
        scratch += n->scratch_bytes;
        fprintf(f, "%-28s %-*s %-20s %12s %15s %12s", n->name, opw,
                ir_op_label(n, label, sizeof label),
                ir_shape_str(n->out->rank, n->out->dims, shape, sizeof shape),
                grouped(p, a, sizeof a), grouped(m, b, sizeof b), grouped(bytes, c, sizeof c));
        fprintf(f, "%s%s\n", n->fuse.names ? "  fused:" : "", n->fuse.names ? n->fuse.names : "");
    }
    fprintf(f, "total: %s parameters (%s bytes), %s MACs\n", grouped(params, a, sizeof a),
            grouped(params * 4, b, sizeof b), grouped(macs, c, sizeof c));
    print_nonzero(g, f);
    fprintf(f, "activations: %s bytes if each had its own buffer", grouped(act, a, sizeof a));
    if (scratch > 0) /* kernels' working space (select_kernels.c) lives in the arena too */
        fprintf(f, ", plus %s bytes of kernel scratch", grouped(scratch, a, sizeof a));
    fprintf(f, "; arena %s bytes (lower bound %s: the most live at one step)\n",
            grouped(g->arena_bytes, b, sizeof b), grouped(g->peak_live_bytes, c, sizeof c));
}

/* One line of the comparison: "  parameters  422,026 -> 421,642  -0.1%". */
static void compare_line(FILE *f, const char *what, int64_t before, int64_t after)
{
    char a[32], b[32];
    fprintf(f, "  %-16s %13s -> %13s", what, grouped(before, a, sizeof a),
            grouped(after, b, sizeof b));
    if (before > 0 && before != after)
        fprintf(f, "  %+.1f%%", 100.0 * ((double)after - (double)before) / (double)before);
    fputc('\n', f);
}

void ir_summary_compare(const Graph *before, const Graph *after, FILE *f)
{
    int64_t params[2], nonzero[2], macs[2], nonzero_macs[2];
    ir_graph_counts(before, &params[0], &nonzero[0], &macs[0], &nonzero_macs[0]);
    ir_graph_counts(after, &params[1], &nonzero[1], &macs[1], &nonzero_macs[1]);
    fprintf(f, "\nbefore -> after optimization:\n");
    compare_line(f, "layers", before->nnodes, after->nnodes);
    compare_line(f, "parameters", params[0], params[1]);
    compare_line(f, "MACs", macs[0], macs[1]);
    if (nonzero[0] != params[0] || nonzero[1] != params[1]) {
        compare_line(f, "nonzero params", nonzero[0], nonzero[1]);
        compare_line(f, "nonzero MACs", nonzero_macs[0], nonzero_macs[1]);
    }
    compare_line(f, "arena bytes", before->arena_bytes, after->arena_bytes);
}

/* DOT string literal contents: quotes and backslashes escaped. */
static void dot_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

void ir_dot(const Graph *g, FILE *f)
{
    char shape[160], label[64];
    fprintf(f, "digraph \"%s\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
               "  edge [fontname=\"Helvetica\", fontsize=9];\n",
            g->name);
    for (int i = 0; i < g->ninputs; i++) {
        const Tensor *t = g->inputs[i];
        fprintf(f, "  t%d [shape=ellipse, style=filled, fillcolor=\"#dbe9f6\", label=\"", t->id);
        dot_text(f, t->label);
        fprintf(f, "\\n%s\"];\n", ir_shape_str(t->rank, t->dims, shape, sizeof shape));
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        int64_t p = ir_node_params(n);
        fprintf(f, "  n%d [shape=box, style=\"rounded,filled\", fillcolor=\"%s\", label=\"", n->id,
                p ? "#fde9c8" : "#eeeeee");
        dot_text(f, n->name);
        if (n->fuse.names)
            dot_text(f, n->fuse.names); /* the layers fused in: "conv1 +bn1 +relu" */
        fprintf(f, "\\n%s", ir_op_label(n, label, sizeof label));
        if (op_def(n->op)->dot) /* conv2d: " 3x3/1, 16 ch" */
            op_def(n->op)->dot(n, f);
        if (p)
            fprintf(f, "\\n%lld params", (long long)p);
        fprintf(f, "\"];\n");
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = n->in[j];
            fprintf(f, "  %s%d -> n%d [label=\"%s\"];\n", t->producer ? "n" : "t",
                    t->producer ? t->producer->id : t->id, n->id,
                    ir_shape_str(t->rank, t->dims, shape, sizeof shape));
        }
        if (ir_is_output(g, n->out)) {
            fprintf(f, "  out%d [shape=ellipse, style=filled, fillcolor=\"#d5f0d5\", label=\"",
                    n->out->id);
            dot_text(f, n->out->label);
            fprintf(f, "\\n%s\"];\n  n%d -> out%d;\n",
                    ir_shape_str(n->out->rank, n->out->dims, shape, sizeof shape), n->id,
                    n->out->id);
        }
    }
    fprintf(f, "}\n");
}
