/* ir.c - the graph IR: constructors, queries, the textual dump and ir_verify.
 *
 * The IR is deliberately plain: arrays of pointers to Nodes and Tensors, in
 * topological order (the order layers appear in the source). Passes rewrite it
 * in place; ir_verify recomputes every shape to catch a pass that broke it. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *op_names[] = {
#define OP(id, name, nin, params) name,
#include "ops.h"
#undef OP
};

const char *op_name(OpKind op)
{
    return op >= 0 && op < OP_COUNT ? op_names[op] : "?";
}

int op_arity(OpKind op)
{
    static const int arity[] = {
#define OP(id, name, nin, params) nin,
#include "ops.h"
#undef OP
    };
    return op >= 0 && op < OP_COUNT ? arity[op] : 1;
}

bool op_lookup(const char *name, OpKind *op)
{
    for (int i = 0; i < OP_COUNT; i++) {
        if (strcmp(op_names[i], name) == 0) {
            *op = (OpKind)i;
            return true;
        }
    }
    return false;
}

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
    g->nodes = xrealloc(g->nodes, sizeof *g->nodes * (size_t)(g->nnodes + 1));
    g->nodes[g->nnodes++] = n;
    return n;
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

int64_t ir_tensor_numel(const Tensor *t)
{
    return ir_numel(t->rank, t->dims);
}

int64_t ir_tensor_bytes(const Tensor *t)
{
    return ir_tensor_numel(t) * (int64_t)sizeof(float);
}

static void const_free(Const *c)
{
    if (!c)
        return;
    free(c->key);
    free(c->data);
    free(c);
}

void ir_graph_free(Graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        for (int p = 0; p < PARAM_MAX; p++)
            const_free(n->param[p]);
        free(n->name);
        free(n);
    }
    for (int i = 0; i < g->ntensors; i++) {
        free(g->tensors[i]->name);
        free(g->tensors[i]->label);
        free(g->tensors[i]);
    }
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

int64_t ir_node_params(const Node *n)
{
    int64_t total = 0;
    for (int p = 0; p < PARAM_MAX; p++)
        if (n->param[p])
            total += ir_numel(n->param[p]->rank, n->param[p]->dims);
    return total;
}

/* Multiply-accumulates, counted as PyTorch profilers do: one per weight use. */
int64_t ir_node_macs(const Node *n)
{
    const Tensor *in = n->in[0], *out = n->out;
    switch (n->op) {
    case OP_CONV2D:
        return ir_tensor_numel(out) * (in->dims[1] / n->a.groups) * n->a.kh * n->a.kw;
    case OP_LINEAR:
        return ir_tensor_numel(out) * in->dims[1];
    default:
        return 0;
    }
}

/* ---- textual dump -------------------------------------------------------- */

static void print_attrs(const Node *n, FILE *f)
{
    const Attrs *a = &n->a;
    switch (n->op) {
    case OP_CONV2D:
        fprintf(f, " channels=%lld kernel=(%lld,%lld) stride=(%lld,%lld) pad=(%lld,%lld)"
                   " dilation=(%lld,%lld) groups=%lld bias=%s",
                (long long)a->channels, (long long)a->kh, (long long)a->kw, (long long)a->sh,
                (long long)a->sw, (long long)a->ph, (long long)a->pw, (long long)a->dh,
                (long long)a->dw, (long long)a->groups, a->bias ? "true" : "false");
        break;
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        fprintf(f, " kernel=(%lld,%lld) stride=(%lld,%lld) pad=(%lld,%lld)", (long long)a->kh,
                (long long)a->kw, (long long)a->sh, (long long)a->sw, (long long)a->ph,
                (long long)a->pw);
        if (n->op == OP_MAXPOOL)
            fprintf(f, " dilation=(%lld,%lld)", (long long)a->dh, (long long)a->dw);
        fprintf(f, " ceil_mode=%s", a->ceil_mode ? "true" : "false");
        if (n->op == OP_AVGPOOL)
            fprintf(f, " count_include_pad=%s", a->count_include_pad ? "true" : "false");
        break;
    case OP_BATCHNORM:
        fprintf(f, " eps=%g affine=%s", a->eps, a->affine ? "true" : "false");
        break;
    case OP_LEAKY_RELU:
        fprintf(f, " slope=%g", a->slope);
        break;
    case OP_LINEAR:
        fprintf(f, " features=%lld bias=%s", (long long)a->channels, a->bias ? "true" : "false");
        break;
    case OP_DROPOUT:
        fprintf(f, " p=%g", a->p);
        break;
    case OP_SOFTMAX:
        fprintf(f, " dim=%lld", (long long)a->dim);
        break;
    case OP_UPSAMPLE:
        if (a->scale_h)
            fprintf(f, " scale=(%lld,%lld)", (long long)a->scale_h, (long long)a->scale_w);
        else
            fprintf(f, " size=(%lld,%lld)", (long long)a->out_h, (long long)a->out_w);
        fprintf(f, " mode=%s", a->bilinear ? "bilinear" : "nearest");
        break;
    case OP_ADAPTIVE_AVGPOOL:
        fprintf(f, " size=(%lld,%lld)", (long long)a->out_h, (long long)a->out_w);
        break;
    default:
        break;
    }
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
        fprintf(f, "  # %s", n->name);
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

/* ---- verification -------------------------------------------------------- */

void ir_verify(const Graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (!n->out || n->out->producer != n)
            die("node %s: output link broken", n->name);
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = n->in[j];
            if (t->producer && t->producer->id >= n->id)
                die("node %s: input %%%s is produced later", n->name, t->name);
        }
        Tensor saved = *n->out;
        if (!infer_shape(n))
            die("node %s: shape no longer valid", n->name);
        if (saved.rank != n->out->rank ||
            memcmp(saved.dims, n->out->dims, sizeof saved.dims[0] * (size_t)saved.rank) != 0)
            die("node %s: stored shape differs from inferred shape", n->name);
    }
}
