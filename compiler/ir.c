/* ir.c - the graph IR: constructors, queries, the textual dump and ir_verify.
 *
 * The IR is deliberately plain: arrays of pointers to Nodes and Tensors, in
 * topological order (the order layers appear in the source). Passes rewrite it
 * in place; ir_verify recomputes every shape to catch a pass that broke it. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

Graph *ir_graph_new(void)
{
    Graph *g = xcalloc(1, sizeof *g);
    g->batch = 1;
    g->sparse_min = -1;
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
    case OP_CONV2D: {
        int64_t oh, ow;
        ir_conv_out_hw(n, &oh, &ow);
        return out->dims[0] * n->a.channels * oh * ow * (in->dims[1] / n->a.groups) * n->a.kh *
               n->a.kw;
    }
    case OP_LINEAR:
        return ir_tensor_numel(out) * in->dims[1];
    default:
        return 0;
    }
}

int64_t ir_const_zeros(const Const *c)
{
    int64_t n = ir_numel(c->rank, c->dims), zeros = 0;
    for (int64_t i = 0; c->data && i < n; i++)
        zeros += c->data[i] == 0.0f;
    return zeros;
}

int64_t ir_node_nonzero_params(const Node *n)
{
    int64_t total = 0;
    for (int p = 0; p < PARAM_MAX; p++)
        if (n->param[p])
            total += ir_numel(n->param[p]->rank, n->param[p]->dims) - ir_const_zeros(n->param[p]);
    return total;
}

/* Every weight of a conv2d or linear is used the same number of times, so the
 * MACs of the nonzero weights are the MACs scaled by the nonzero fraction. */
int64_t ir_node_nonzero_macs(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    if ((n->op != OP_CONV2D && n->op != OP_LINEAR) || !w || !w->data)
        return ir_node_macs(n);
    int64_t total = ir_numel(w->rank, w->dims);
    return ir_node_macs(n) / total * (total - ir_const_zeros(w));
}

void ir_graph_counts(const Graph *g, int64_t *params, int64_t *nonzero, int64_t *macs,
                     int64_t *nonzero_macs)
{
    *params = *nonzero = *macs = *nonzero_macs = 0;
    for (int i = 0; i < g->nnodes; i++) {
        *params += ir_node_params(g->nodes[i]);
        *nonzero += ir_node_nonzero_params(g->nodes[i]);
        *macs += ir_node_macs(g->nodes[i]);
        *nonzero_macs += ir_node_nonzero_macs(g->nodes[i]);
    }
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

void ir_conv_out_hw(const Node *n, int64_t *oh, int64_t *ow)
{
    *oh = n->fuse.pool ? n->fuse.conv_dims[2] : n->out->dims[2];
    *ow = n->fuse.pool ? n->fuse.conv_dims[3] : n->out->dims[3];
}

bool ir_infer_node(Node *n)
{
    if (!n->fuse.pool)
        return infer_shape(n);
    Tensor conv_out = *n->out, pooled = *n->out;
    Node conv = *n, pool = {.op = n->fuse.pool_op, .name = n->name, .loc = n->loc};
    conv.out = &conv_out;
    if (n->op != OP_CONV2D || !infer_shape(&conv) || conv_out.rank != 4 ||
        memcmp(conv_out.dims, n->fuse.conv_dims, sizeof conv_out.dims) != 0)
        return false;
    pool.a = n->fuse.pool_a;
    pool.in[0] = &conv_out;
    pool.nin = 1;
    pool.out = &pooled;
    if (!infer_shape(&pool))
        return false;
    n->out->rank = pooled.rank;
    memcpy(n->out->dims, pooled.dims, sizeof pooled.dims);
    return true;
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

/* What the optimizer merged into n: " act=relu pool=maxpool(...) conv=[...]". */
static void print_fused(const Node *n, FILE *f)
{
    const Fused *u = &n->fuse;
    if (u->act == OP_LEAKY_RELU)
        fprintf(f, " act=leaky_relu(slope=%g)", u->act_a.slope);
    else if (u->act != OP_NONE)
        fprintf(f, " act=%s", op_name(u->act));
    if (!u->pool)
        return;
    Node pool = {.op = u->pool_op, .a = u->pool_a};
    char shape[128], *attrs = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&attrs, &len);
    if (!mem)
        die("out of memory");
    print_attrs(&pool, mem); /* " kernel=(2,2) stride=..." */
    fclose(mem);
    fprintf(f, " pool=%s(%s) conv_out=%s", op_name(u->pool_op), attrs + (len > 0),
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

/* ---- verification -------------------------------------------------------- */

/* Ids are array indices, every tensor a node touches is in the graph, and
 * each tensor's consumer count is its number of uses as a node input. */
static void verify_links(const Graph *g)
{
    int *uses = calloc((size_t)g->ntensors + 1, sizeof *uses);
    if (!uses)
        die("out of memory");
    for (int i = 0; i < g->ntensors; i++)
        if (g->tensors[i]->id != i)
            die("tensor %s: id %d at index %d", g->tensors[i]->name, g->tensors[i]->id, i);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        if (n->id != i)
            die("node %s: id %d at index %d", n->name, n->id, i);
        if (!n->out)
            die("node %s: no output", n->name);
        for (int j = 0; j < n->nin; j++) {
            const Tensor *t = n->in[j];
            if (t->id < 0 || t->id >= g->ntensors || g->tensors[t->id] != t)
                die("node %s: input %%%s is not in the graph", n->name, t->name);
            uses[t->id]++;
        }
        if (n->out->id < 0 || n->out->id >= g->ntensors || g->tensors[n->out->id] != n->out)
            die("node %s: output %%%s is not in the graph", n->name, n->out->name);
    }
    for (int i = 0; i < g->ntensors; i++)
        if (uses[i] != g->tensors[i]->nconsumers)
            die("tensor %s: %d consumers recorded, %d found", g->tensors[i]->name,
                g->tensors[i]->nconsumers, uses[i]);
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i]->id >= g->ntensors || g->tensors[g->outputs[i]->id] != g->outputs[i])
            die("output %s is not in the graph", g->outputs[i]->name);
    free(uses);
}

/* Each parameter has the shape its node's attributes and input ask for
 * (weights.c binds them so; passes that slice or create them must keep it). */
static void verify_params(const Node *n)
{
    int64_t c = n->in[0]->rank >= 2 ? n->in[0]->dims[1] : 0, want[PARAM_MAX][4] = {{0}};
    int rank[PARAM_MAX] = {0};
    if (n->op == OP_CONV2D) {
        rank[PARAM_WEIGHT] = 4;
        memcpy(want[PARAM_WEIGHT], (int64_t[4]){n->a.channels, c / n->a.groups, n->a.kh, n->a.kw},
               sizeof want[0]);
        rank[PARAM_BIAS] = 1;
        want[PARAM_BIAS][0] = n->a.channels;
    } else if (n->op == OP_LINEAR) {
        rank[PARAM_WEIGHT] = 2;
        memcpy(want[PARAM_WEIGHT], (int64_t[4]){n->a.channels, c, 0, 0}, sizeof want[0]);
        rank[PARAM_BIAS] = 1;
        want[PARAM_BIAS][0] = n->a.channels;
    } else if (n->op == OP_BATCHNORM) {
        for (int p = 0; p < PARAM_MAX; p++) {
            rank[p] = 1;
            want[p][0] = c;
        }
    }
    for (int p = 0; p < PARAM_MAX; p++) {
        const Const *k = n->param[p];
        if (!k)
            continue;
        if (k->rank != rank[p] || memcmp(k->dims, want[p], sizeof(int64_t) * (size_t)k->rank) != 0)
            die("node %s: parameter %s has the wrong shape", n->name, k->key);
    }
}

void ir_verify(const Graph *g)
{
    verify_links(g);
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
        if (!ir_infer_node(n))
            die("node %s: shape no longer valid", n->name);
        verify_params(n);
        if (saved.rank != n->out->rank ||
            memcmp(saved.dims, n->out->dims, sizeof saved.dims[0] * (size_t)saved.rank) != 0)
            die("node %s: stored shape differs from inferred shape", n->name);
    }
}
