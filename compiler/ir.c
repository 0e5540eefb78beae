/* ir.c - the graph IR: constructors, queries and the textual dump (each
 * op's attributes printed by its OpDef.print).
 *
 * The IR is deliberately plain: arrays of pointers to Nodes and Tensors, in
 * topological order (the order layers appear in the source). Passes rewrite it
 * in place; ir_verify (verify.c) recomputes every shape to catch a pass that
 * broke it. Shape inference is infer.c, the counts counts.c. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "util.h"

Graph *ir_graph_new(void)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->batch = 1;
    return g;
}

Tensor *ir_tensor_new(Graph *g, const char *name)
{
    Tensor *t = xcalloc(1, sizeof *t);
    t->id = g->ntensors;
    t->name = xstrdup(name);
    t->label = xstrdup(name);
    g->tensors = xrealloc(g->tensors, sizeof *g->tensors * (size_t)(g->ntensors + 1));
    g->tensors[g->ntensors++] = t;
    return t;
}

Node *ir_node_new(Graph *g, OpKind op, const char *name, Loc loc)
{
    Node *n = xcalloc(1, sizeof *n);
    n->id = g->nnodes;
    n->op = op;
    n->name = xstrdup(name);
    n->loc = loc;
    n->in = xcalloc(2, sizeof *n->in);
    g->nodes = xrealloc(g->nodes, sizeof *g->nodes * (size_t)(g->nnodes + 1));
    g->nodes[g->nnodes++] = n;
    return n;
}

void ir_node_set_inputs(Node *n, Tensor *const *in, int nin)
{
    if (nin < 0 || nin > IR_MAX_NODE_INPUTS)
        die("node %s: %d inputs", n->name, nin);
    Tensor **copy = xcalloc((size_t)(nin > 2 ? nin : 2), sizeof *copy);
    memcpy(copy, in, sizeof *in * (size_t)nin);
    free(n->in);
    n->in = copy;
    n->nin = nin;
}

Const *ir_const_new(const char *key, int rank, const int64_t *dims)
{
    Const *c = xcalloc(1, sizeof *c);
    c->key = xstrdup(key);
    c->rank = rank;
    memcpy(c->dims, dims, sizeof *dims * (size_t)rank);
    return c;
}

int64_t ir_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

bool ir_is_output(const Graph *g, const Tensor *t)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == t)
            return true;
    return false;
}

int64_t ir_linear_rows(const Node *n)
{
    const Tensor *in = n->in[0];
    return ir_numel(in->rank - 1, in->dims);
}

bool ir_is_constant(const Tensor *t)
{
    return t->producer && t->producer->op == OP_CONSTANT;
}

int64_t ir_tensor_numel(const Tensor *t)
{
    return ir_numel(t->rank, t->dims);
}

int64_t ir_tensor_bytes(const Tensor *t)
{
    return ir_tensor_numel(t) * (t->quant ? 1 : (int64_t)sizeof(float));
}

bool ir_node_quant(const Node *n)
{
    return (n->nin > 0 && n->in[0]->quant) || n->out->quant;
}

void ir_const_free(Const *c)
{
    if (!c)
        return;
    free(c->key);
    free(c->data);
    free(c->mask);
    free(c);
}

void ir_node_free(Node *n)
{
    for (int p = 0; p < PARAM_MAX; p++)
        ir_const_free(n->param[p]);
    if (n->q) {
        free(n->q->w);
        free(n->q->wscale);
        free(n->q->bias);
        free(n->q);
    }
    free(n->in);
    free(n->name);
    free(n->fuse.names);
    free(n->fuse.last);
    free(n);
}

void ir_tensor_free(Tensor *t)
{
    free(t->name);
    free(t->label);
    free(t);
}

void ir_prunes_free(Graph *g)
{
    for (int i = 0; i < g->nprunes; i++) {
        free(g->prunes[i].nodes);
        free(g->prunes[i].locs);
    }
    free(g->prunes);
    g->prunes = NULL;
    g->nprunes = 0;
}

void ir_graph_free(Graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nnodes; i++)
        ir_node_free(g->nodes[i]);
    for (int i = 0; i < g->ntensors; i++)
        ir_tensor_free(g->tensors[i]);
    ir_prunes_free(g);
    free(g->nodes);
    free(g->tensors);
    free(g->name);
    free(g->weights_path);
    free(g);
}

const char *ir_shape_str(int rank, const int64_t *dims, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* ---- fused nodes --------------------------------------------------------- */

const char *ir_result_name(const Node *n)
{
    return n->fuse.last ? n->fuse.last : n->name;
}

const char *ir_op_label(const Node *n, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", op_name(n->op), n->fuse.act ? "+" : "",
             n->fuse.act ? op_name(n->fuse.act) : "", n->fuse.pool ? "+" : "",
             n->fuse.pool ? op_name(n->fuse.pool_op) : "");
    return buf;
}

void ir_dot_channels(const Node *n, const char *unit, FILE *f)
{
    long long now = (long long)n->a.channels, before = (long long)n->channels_before_prune;
    if (!before)
        fprintf(f, " %lld %s", now, unit);
    else
        fprintf(f, " %lld\u2192%lld %s (%lld pruned)", before, now, unit, before - now);
}

const char *ir_pad_str(const Attrs *a, const char *sep, char *buf, size_t size)
{
    if (a->pb == a->ph && a->pr == a->pw)
        snprintf(buf, size, "(%lld%s%lld)", (long long)a->ph, sep, (long long)a->pw);
    else
        snprintf(buf, size, "(%lld%s%lld%s%lld%s%lld)", (long long)a->ph, sep, (long long)a->pw,
                 sep, (long long)a->pb, sep, (long long)a->pr);
    return buf;
}

void ir_print_pad(const Attrs *a, FILE *f)
{
    char buf[96];
    fprintf(f, " pad=%s", ir_pad_str(a, ",", buf, sizeof buf));
}

void ir_conv_out_hw(const Node *n, int64_t *oh, int64_t *ow)
{
    *oh = n->fuse.pool ? n->fuse.conv_dims[2] : n->out->dims[2];
    *ow = n->fuse.pool ? n->fuse.conv_dims[3] : n->out->dims[3];
}

/* A window starts before H + pad (ceil_mode included: the output size rule)
 * and spans (kernel - 1) * dilation + 1. */
bool ir_window_fits_int(const Attrs *a, int64_t H, int64_t W)
{
    return H + a->ph + a->pb + a->kh * a->dh < INT32_MAX &&
           W + a->pw + a->pr + a->kw * a->dw < INT32_MAX;
}

/* ---- textual dump -------------------------------------------------------- */

/* The attributes of n as --emit=ir prints them (OpDef.print). */
static void print_attrs(const Node *n, FILE *f)
{
    if (op_def(n->op)->print)
        op_def(n->op)->print(n, f);
}

/* print_attrs into a string (malloc'd): "" or " kernel=(2,2) ...". */
static char *attrs_str(const Node *n)
{
    char *attrs = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&attrs, &len);
    if (!mem)
        die("out of memory");
    print_attrs(n, mem);
    fclose(mem);
    return attrs;
}

/* What the optimizer merged into n: " act=relu pool=maxpool(...) conv=[...]". */
static void print_fused(const Node *n, FILE *f)
{
    const Fused *u = &n->fuse;
    char shape[128], *attrs;
    if (u->act != OP_NONE) {
        Node act = {.op = u->act, .a = u->act_a};
        attrs = attrs_str(&act); /* leaky_relu: " slope=0.1" */
        fprintf(f, " act=%s%s%s%s", op_name(u->act), attrs[0] ? "(" : "", attrs + (attrs[0] != 0),
                attrs[0] ? ")" : "");
        free(attrs);
    }
    if (!u->pool)
        return;
    Node pool = {.op = u->pool_op, .a = u->pool_a};
    attrs = attrs_str(&pool); /* " kernel=(2,2) stride=..." */
    fprintf(f, " pool=%s(%s) conv_out=%s", op_name(u->pool_op), attrs + (attrs[0] != 0),
            ir_shape_str(4, u->conv_dims, shape, sizeof shape));
    free(attrs);
}

static const char *storage_str(const Tensor *t, char *buf, size_t size)
{
    switch (t->storage) {
    case STORE_INPUT:
        return "input";
    case STORE_OUTPUT:
        return "output";
    case STORE_ARENA:
        snprintf(buf, size, "arena+%lld", (long long)t->offset);
        return buf;
    case STORE_ALIAS:
        snprintf(buf, size, "alias %%%s", t->alias->name);
        return buf;
    default:
        return NULL;
    }
}

static void print_tensor(const Tensor *t, FILE *f)
{
    char shape[128], where[160];
    const char *s = storage_str(t, where, sizeof where);
    fprintf(f, "%%%s %s", t->name, ir_shape_str(t->rank, t->dims, shape, sizeof shape));
    if (t->quant)
        fprintf(f, " quint8(scale=%.9g, zero_point=%lld)", t->qscale, (long long)t->qzero);
    if (s)
        fprintf(f, " @%s", s);
}

void ir_print(const Graph *g, FILE *f)
{
    fprintf(f, "graph %s batch=%lld\n", g->name ? g->name : "?", (long long)g->batch);
    for (int i = 0; i < g->ninputs; i++) {
        fputs("  input ", f);
        print_tensor(g->inputs[i], f);
        fputc('\n', f);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        fputs("  ", f);
        print_tensor(n->out, f);
        fprintf(f, " = %s", op_name(n->op));
        for (int j = 0; j < n->nin; j++)
            fprintf(f, "%s%%%s", j ? ", " : " ", n->in[j]->name);
        print_attrs(n, f);
        print_fused(n, f);
        fprintf(f, "  # %s%s", n->name, n->fuse.names ? n->fuse.names : "");
        for (int p = 0; p < PARAM_MAX; p++) {
            const Const *c = n->param[p];
            char shape[128];
            if (c)
                fprintf(f, " %s%s", c->key, ir_shape_str(c->rank, c->dims, shape, sizeof shape));
        }
        fputc('\n', f);
    }
    for (int i = 0; i < g->noutputs; i++)
        fprintf(f, "  output %%%s\n", g->outputs[i]->name);
    if (g->arena_bytes)
        fprintf(f, "  arena %lld bytes\n", (long long)g->arena_bytes);
}
