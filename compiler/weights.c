/* weights.c - attach parameters to the IR: from a safetensors file, checked
 * key by key against the shapes the graph expects, or from the documented
 * deterministic init (docs/language.md, "Deterministic init").
 *
 * Keys follow PyTorch's state_dict: "<layer>.weight", "<layer>.bias",
 * "<layer>.running_mean", "<layer>.running_var". A tensor pruned with
 * torch.nn.utils.prune may instead be "<key>_orig" and "<key>_mask"
 * (load_pruned). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "util.h"
#include "weights.h"

static const char *param_suffix[PARAM_MAX] = {"weight", "bias", "running_mean", "running_var"};

void weights_expected(const Node *n, int rank[PARAM_MAX], int64_t dims[PARAM_MAX][4])
{
    memset(rank, 0, sizeof(int) * PARAM_MAX);
    if (op_def(n->op)->params && !ir_node_quant(n)) /* quantized: weights_quant.c */
        op_def(n->op)->params(n, rank, dims);
}

/* ---- deterministic init ------------------------------------------------- */

uint64_t init_next(InitRng *r)
{
    r->state += 0x9E3779B97F4A7C15ull;
    uint64_t z = r->state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double init_uniform(InitRng *r)
{
    return (double)(init_next(r) >> 11) * 0x1.0p-53;
}

static void fill_uniform(InitRng *r, Const *c, double lo, double hi)
{
    int64_t n = ir_numel(c->rank, c->dims);
    for (int64_t i = 0; i < n; i++)
        c->data[i] = (float)(lo + (hi - lo) * init_uniform(r));
}

/* Each parameter uniform in the range its op gives (OpDef.init_range). */
static void init_node(Graph *g, InitRng *r, Node *n)
{
    for (int p = 0; p < PARAM_MAX; p++) {
        Const *c = n->param[p];
        if (!c)
            continue;
        double lo, hi;
        op_def(n->op)->init_range(n, p, g->init, &lo, &hi);
        fill_uniform(r, c, lo, hi);
    }
}

/* ---- loading from a file ------------------------------------------------ */

static void suggest_key(const StFile *f, const char *key, Loc loc)
{
    const char *best = NULL;
    int best_d = 4;
    for (int i = 0; i < f->ntensors; i++) {
        int d = edit_distance(key, f->tensors[i].name);
        if (d < best_d) {
            best_d = d;
            best = f->tensors[i].name;
        }
    }
    if (best)
        diag_note(loc, "did you mean '%s'?", best);
}

/* The message for a parameter of the wrong shape: the op's own
 * (OpDef.param_mismatch), else this one. */
static void shape_mismatch(const Node *n, const Const *want, const StTensor *t)
{
    char a[160], b[160];
    ir_shape_str(t->rank, t->dims, b, sizeof b);
    const OpDef *d = op_def(n->op);
    if (d->param_mismatch && d->param_mismatch(n, want, t))
        return;
    diag_error(n->loc, "%s '%s' expects '%s' of shape %s but the file has %s", op_name(n->op),
               n->name, t->name, ir_shape_str(want->rank, want->dims, a, sizeof a), b);
}

/* Whether t can be parameter c of node n: F32 and of c's shape. */
static bool check_tensor(const Node *n, const Const *c, const StTensor *t, const char *path)
{
    if (t->dtype != ST_F32) {
        diag_error(n->loc, "'%s' in %s is %s; cnnc needs F32 (save the tensor with .float())",
                   t->name, path_base(path), t->dtype_name);
        return false;
    }
    bool same = t->rank == c->rank;
    for (int i = 0; same && i < c->rank; i++)
        same = t->dims[i] == c->dims[i];
    if (!same)
        shape_mismatch(n, c, t);
    return same;
}

static float read_f32(const unsigned char *src)
{
    uint32_t bits = (uint32_t)le_bytes(src, 4);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

static void copy_f32(Const *c, const StTensor *t)
{
    int64_t count = ir_numel(c->rank, c->dims);
    c->data = xmalloc(sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++)
        c->data[i] = read_f32(t->data + 4 * i);
}

/* A tensor pruned with torch.nn.utils.prune is saved as "<key>_orig" and
 * "<key>_mask". The parameter is mask * orig in float32, the product PyTorch
 * computes before each forward (so pruned entries are zero, or NaN where orig
 * is not finite); the mask is kept: an entry is pruned where it is 0. */
static bool load_pruned(const StFile *f, const char *path, const Node *n, Const *c,
                        const StTensor *orig)
{
    char *mask_key = xasprintf("%s_mask", c->key);
    const StTensor *mask = st_find(f, mask_key);
    bool ok = mask != NULL;
    if (!mask)
        diag_error(n->loc, "%s '%s': %s has '%s' but no '%s' (a pruned tensor needs both)",
                   op_name(n->op), n->name, path_base(path), orig->name, mask_key);
    free(mask_key);
    if (!ok)
        return false;
    ((StTensor *)mask)->used = true;
    if (!check_tensor(n, c, orig, path) || !check_tensor(n, c, mask, path))
        return false;
    int64_t count = ir_numel(c->rank, c->dims);
    c->data = xmalloc(sizeof(float) * (size_t)count);
    c->mask = xmalloc((size_t)count);
    for (int64_t i = 0; i < count; i++) {
        float m = read_f32(mask->data + 4 * i);
        c->data[i] = m * read_f32(orig->data + 4 * i);
        c->mask[i] = m != 0.0f;
    }
    return true;
}

static bool load_param(const StFile *f, const char *path, const Node *n, Const *c)
{
    const StTensor *t = st_find(f, c->key);
    if (!t) {
        char *orig_key = xasprintf("%s_orig", c->key);
        t = st_find(f, orig_key);
        free(orig_key);
        if (t) {
            ((StTensor *)t)->used = true;
            return load_pruned(f, path, n, c, t);
        }
        diag_error(n->loc, "%s '%s' needs '%s', which is not in %s", op_name(n->op), n->name,
                   c->key, path_base(path));
        suggest_key(f, c->key, n->loc);
        return false;
    }
    ((StTensor *)t)->used = true;
    if (!check_tensor(n, c, t, path))
        return false;
    copy_f32(c, t);
    return true;
}

static void mark_used(StFile *f, const char *key)
{
    const StTensor *t = st_find(f, key);
    if (t)
        ((StTensor *)t)->used = true;
}

static void warn_unused(const StFile *f, const char *path)
{
    int shown = 0, unused = 0;
    for (int i = 0; i < f->ntensors; i++) {
        if (f->tensors[i].used)
            continue;
        if (++unused <= 10) {
            diag_warning((Loc){0}, "'%s' in %s is not used by any layer; skipped",
                         f->tensors[i].name, path_base(path));
            shown++;
        }
    }
    if (unused > shown)
        diag_warning((Loc){0}, "%d more unused tensors in %s skipped", unused - shown,
                     path_base(path));
}

bool weights_bind(Graph *g)
{
    StFile f = {0};
    char err[512];
    if (g->weights_path && st_load(g->weights_path, &f, err, sizeof err) != 0) {
        diag_error(g->weights_loc, "cannot load weights '%s': %s", g->weights_path, err);
        return false;
    }
    bool ok = weights_bind_file(g, g->weights_path ? &f : NULL);
    st_free(&f);
    return ok;
}

/* Every parameter tensor, and all of them together, within IR_MAX_ELEMS: checked
 * before anything is allocated, so that a huge layer is an error, not an
 * attempt to allocate (and initialize) terabytes. */
static bool params_fit(const Graph *g)
{
    bool ok = true;
    int64_t total = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        int rank[PARAM_MAX];
        int64_t dims[PARAM_MAX][4];
        weights_expected(n, rank, dims);
        for (int p = 0; p < PARAM_MAX; p++) {
            int64_t count = 1;
            for (int d = 0; d < rank[p] && count <= IR_MAX_ELEMS; d++)
                if (!ck_mul(count, dims[p][d], &count))
                    count = IR_MAX_ELEMS + 1;
            if (rank[p] && count > IR_MAX_ELEMS) {
                char buf[160];
                diag_error(n->loc, "%s '%s': %s %s is too large (limit %lld elements)",
                           op_name(n->op), n->name, param_suffix[p],
                           ir_shape_str(rank[p], dims[p], buf, sizeof buf),
                           (long long)IR_MAX_ELEMS);
                ok = false;
            } else if (rank[p] && ok && (total += count) > IR_MAX_ELEMS) {
                diag_error(n->loc, "the network has more than %lld parameters (at %s '%s')",
                           (long long)IR_MAX_ELEMS, op_name(n->op), n->name);
                ok = false;
            }
        }
    }
    return ok;
}

bool weights_bind_file(Graph *g, StFile *f)
{
    const char *path = g->weights_path ? g->weights_path : "weights";
    InitRng rng = {g->seed};
    if (!params_fit(g))
        return false;
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        int rank[PARAM_MAX];
        int64_t dims[PARAM_MAX][4];
        weights_expected(n, rank, dims);
        for (int p = 0; p < PARAM_MAX; p++) {
            if (!rank[p])
                continue;
            char *key = xasprintf("%s.%s", n->name, param_suffix[p]);
            n->param[p] = ir_const_new(key, rank[p], dims[p]);
            free(key);
            if (f)
                ok = load_param(f, path, n, n->param[p]) && ok;
            else
                n->param[p]->data = xcalloc((size_t)ir_numel(rank[p], dims[p]), sizeof(float));
        }
        if (f && op_def(n->op)->ignored_key) { /* batchnorm's training counter */
            char *key = xasprintf("%s.%s", n->name, op_def(n->op)->ignored_key);
            mark_used(f, key);
            free(key);
        }
        if (!f)
            init_node(g, &rng, n);
    }
    ok = ok && quant_bind(g, f, path);
    if (f && ok)
        warn_unused(f, path);
    return ok;
}
