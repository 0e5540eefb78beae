/* report.c - views of a graph for people: the --summary table and --emit=dot.
 *
 * The summary is modelled on torchinfo's: one row per layer with its output
 * shape, parameters, multiply-accumulates and activation bytes, then totals
 * and the planned arena next to the sum of all activations. The DOT graph is
 * for Graphviz (`dot -Tsvg`): inputs and outputs as ellipses, layers as boxes,
 * edges labelled with the shapes that flow along them. */
#include <string.h>

#include "ir.h"
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

/* The totals before the passes (set by run_passes), and the nonzero weights:
 * what pruning changed, for the lines after "total:". */
static void print_pruning(const Graph *g, FILE *f)
{
    char a[32], b[32], c[32], d[32];
    int64_t params, nonzero, macs, nonzero_macs;
    ir_graph_counts(g, &params, &nonzero, &macs, &nonzero_macs);
    if (g->params_before || g->macs_before)
        fprintf(f, "before the passes: %s parameters, %s MACs\n",
                grouped(g->params_before, a, sizeof a), grouped(g->macs_before, b, sizeof b));
    if (nonzero == params && g->nonzero_before == g->params_before)
        return;
    fprintf(f, "nonzero weights: %s parameters, %s MACs (before the passes: %s and %s)\n",
            grouped(nonzero, a, sizeof a), grouped(nonzero_macs, b, sizeof b),
            grouped(g->nonzero_before, c, sizeof c), grouped(g->nonzero_macs_before, d, sizeof d));
}

void ir_summary(const Graph *g, const char *title, FILE *f)
{
    char shape[160], a[32], b[32], c[32], label[64];
    int64_t params = 0, macs = 0, act = 0;
    int opw = 16; /* wider if a fused label ("conv2d+relu+maxpool") needs it */
    for (int i = 0; i < g->nnodes; i++) {
        int len = (int)strlen(ir_op_label(g->nodes[i], label, sizeof label));
        opw = len > opw ? len : opw;
    }
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
        fprintf(f, "%-28s %-*s %-20s %12s %15s %12s\n", n->name, opw,
                ir_op_label(n, label, sizeof label),
                ir_shape_str(n->out->rank, n->out->dims, shape, sizeof shape),
                grouped(p, a, sizeof a), grouped(m, b, sizeof b), grouped(bytes, c, sizeof c));
    }
    fprintf(f, "total: %s parameters (%s bytes), %s MACs\n", grouped(params, a, sizeof a),
            grouped(params * 4, b, sizeof b), grouped(macs, c, sizeof c));
    print_pruning(g, f);
    fprintf(f, "activations: %s bytes if each had its own buffer; arena %s bytes "
               "(lower bound %s: the most live at one step)\n",
            grouped(act, a, sizeof a), grouped(g->arena_bytes, b, sizeof b),
            grouped(g->peak_live_bytes, c, sizeof c));
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
        fprintf(f, "\\n%s", ir_op_label(n, label, sizeof label));
        if (n->op == OP_CONV2D)
            fprintf(f, " %lldx%lld/%lld, %lld ch", (long long)n->a.kh, (long long)n->a.kw,
                    (long long)n->a.sh, (long long)n->a.channels);
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
