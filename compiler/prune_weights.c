/* prune_weights.c - `prune` statements: magnitude pruning of the bound
 * weights at compile time, as torch.nn.utils.prune computes it.
 *
 * Design note. `prune(amount=A) L` is prune.l1_unstructured(L, "weight", A)
 * and `prune(amount=A, structured=true) L` is prune.ln_structured(L,
 * "weight", A, n=1, dim=0), applied in statement order right after
 * weights_bind(), before any pass, so every later stage sees ordinary
 * weights with zeros (and a mask, Const.mask). To give PyTorch's masks, the
 * rules are PyTorch's own:
 *
 *   - How many: a float amount is a fraction, round(A * size) with Python's
 *     round (half to even: 0.5 * 5 = 2.5 prunes 2, 0.5 * 7 prunes 4); an
 *     integer amount is a count (and more than the size is an error).
 *   - Of what: a tensor that was never pruned counts all its entries (or
 *     channels). A tensor already pruned (a mask from the weights file, or an
 *     earlier statement) is pruned as a PruningContainer does: unstructured
 *     among the entries still kept (mask == 1), structured among the
 *     channels with any kept entry, the amount relative to those.
 *   - Ranked by: |w| of the current (masked) weight for unstructured; for
 *     structured the L1 norm of each output channel (all its input channels
 *     and taps, or a linear row), summed in float32 in memory order as
 *     torch.norm(p=1) does on the CPU (checked bit for bit).
 *   - Ties: torch.topk on the CPU picks among equal values by the order in
 *     which libstdc++'s std::partial_sort (when k * 64 <= n) or
 *     std::nth_element (otherwise) leave them; neither is stable. topk_select
 *     below is that exact sequence of compares and swaps (introselect with
 *     median-of-three, heap select, insertion sort), so ties go where
 *     PyTorch puts them. l1_unstructured prunes the k smallest |w|;
 *     ln_structured keeps the largest norms. NaN counts as the largest value.
 *
 * A pruned entry becomes w * 0, which is what orig * mask gives (0, or NaN
 * for a non-finite w). Masks of structured pruning multiply into the mask
 * already there, as PyTorch's do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "weights.h"

/* ---- torch.topk on the CPU ----------------------------------------------- */

typedef struct Elem {
    double v;  /* the value (PyTorch compares in the accumulation type, double) */
    int64_t i; /* its position */
} Elem;

/* The comparators of at::native's topk: NaN is the largest value. */
static bool before(const Elem *x, const Elem *y, bool largest)
{
    if (largest)
        return (isnan(x->v) && !isnan(y->v)) || x->v > y->v;
    return (!isnan(x->v) && isnan(y->v)) || x->v < y->v;
}

static void swap_elems(Elem *a, Elem *b)
{
    Elem t = *a;
    *a = *b;
    *b = t;
}

/* libstdc++'s std::__push_heap and std::__adjust_heap (a max-heap under `before`). */
static void push_heap(Elem *first, int64_t hole, int64_t top, Elem value, bool largest)
{
    int64_t parent = (hole - 1) / 2;
    while (hole > top && before(&first[parent], &value, largest)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

static void adjust_heap(Elem *first, int64_t hole, int64_t len, Elem value, bool largest)
{
    int64_t top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (before(&first[child], &first[child - 1], largest))
            child--;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    push_heap(first, hole, top, value, largest);
}

/* std::__heap_select: afterwards [first, middle) holds the middle - first
 * elements that come first. */
static void heap_select(Elem *first, Elem *middle, Elem *last, bool largest)
{
    int64_t len = middle - first;
    if (len >= 2)
        for (int64_t parent = (len - 2) / 2;; parent--) {
            adjust_heap(first, parent, len, first[parent], largest);
            if (parent == 0)
                break;
        }
    for (Elem *i = middle; i < last; i++) {
        if (before(i, first, largest)) { /* std::__pop_heap(first, middle, i) */
            Elem value = *i;
            *i = *first;
            adjust_heap(first, 0, len, value, largest);
        }
    }
}

static void move_median_to_first(Elem *result, Elem *a, Elem *b, Elem *c, bool largest)
{
    if (before(a, b, largest)) {
        if (before(b, c, largest))
            swap_elems(result, b);
        else if (before(a, c, largest))
            swap_elems(result, c);
        else
            swap_elems(result, a);
    } else if (before(a, c, largest)) {
        swap_elems(result, a);
    } else if (before(b, c, largest)) {
        swap_elems(result, c);
    } else {
        swap_elems(result, b);
    }
}

static Elem *unguarded_partition(Elem *first, Elem *last, const Elem *pivot, bool largest)
{
    for (;;) {
        while (before(first, pivot, largest))
            first++;
        last--;
        while (before(pivot, last, largest))
            last--;
        if (!(first < last))
            return first;
        swap_elems(first, last);
        first++;
    }
}

static void insertion_sort(Elem *first, Elem *last, bool largest)
{
    if (first == last)
        return;
    for (Elem *i = first + 1; i != last; i++) {
        Elem value = *i;
        if (before(&value, first, largest)) {
            memmove(first + 1, first, sizeof *first * (size_t)(i - first));
            *first = value;
        } else {
            Elem *hole = i;
            while (before(&value, hole - 1, largest)) {
                *hole = *(hole - 1);
                hole--;
            }
            *hole = value;
        }
    }
}

static int64_t floor_log2(int64_t n)
{
    int64_t lg = 0;
    while (n >>= 1)
        lg++;
    return lg;
}

/* std::nth_element (std::__introselect). */
static void nth_element(Elem *first, Elem *nth, Elem *last, bool largest)
{
    if (first == last || nth == last)
        return;
    int64_t depth = 2 * floor_log2(last - first);
    while (last - first > 3) {
        if (depth == 0) {
            heap_select(first, nth + 1, last, largest);
            swap_elems(first, nth);
            return;
        }
        depth--;
        Elem *mid = first + (last - first) / 2;
        move_median_to_first(first, first + 1, mid, last - 1, largest);
        Elem *cut = unguarded_partition(first + 1, last, first, largest);
        if (cut <= nth)
            first = cut;
        else
            last = cut;
    }
    insertion_sort(first, last, largest);
}

void prune_topk(const double *v, int64_t n, int64_t k, bool largest, bool *chosen)
{
    memset(chosen, 0, (size_t)n * sizeof *chosen);
    if (k <= 0)
        return;
    Elem *q = xmalloc(sizeof *q * (size_t)n);
    for (int64_t j = 0; j < n; j++)
        q[j] = (Elem){v[j], j};
    if (k * 64 <= n)
        heap_select(q, q + k, q + n, largest); /* std::partial_sort, before its final sort */
    else
        nth_element(q, q + k - 1, q + n, largest);
    for (int64_t j = 0; j < k; j++)
        chosen[q[j].i] = true;
    free(q);
}

/* ---- applying a statement ------------------------------------------------ */

/* How many of `size` units the statement prunes, or -1 after an error. */
static int64_t units_to_prune(const PruneSpec *ps, int64_t size, const Node *n, Loc loc,
                              const char *units)
{
    if (ps->count < 0)
        return (int64_t)rint(ps->fraction * (double)size);
    if (ps->count > size) {
        diag_error(loc, "prune: amount=%lld is more than the %lld %s%s of %s '%s'",
                   (long long)ps->count, (long long)size,
                   n->param[PARAM_WEIGHT]->mask ? "unpruned " : "", units, op_name(n->op), n->name);
        return -1;
    }
    return ps->count;
}

static unsigned char *ensure_mask(Const *w)
{
    int64_t count = ir_numel(w->rank, w->dims);
    if (!w->mask) {
        w->mask = xmalloc((size_t)count);
        memset(w->mask, 1, (size_t)count);
    }
    return w->mask;
}

/* prune.l1_unstructured among the entries still kept. */
static bool prune_unstructured(const PruneSpec *ps, Node *n, Loc loc)
{
    Const *w = n->param[PARAM_WEIGHT];
    int64_t count = ir_numel(w->rank, w->dims), size = 0;
    int64_t *at = xmalloc(sizeof *at * (size_t)count);
    for (int64_t i = 0; i < count; i++)
        if (!w->mask || w->mask[i])
            at[size++] = i;
    int64_t k = units_to_prune(ps, size, n, loc, "weights");
    if (k >= 0) {
        double *mag = xmalloc(sizeof *mag * (size_t)size + 1);
        bool *chosen = xmalloc(sizeof *chosen * (size_t)size + 1);
        for (int64_t j = 0; j < size; j++)
            mag[j] = fabsf(w->data[at[j]]);
        prune_topk(mag, size, k, false, chosen);
        unsigned char *mask = ensure_mask(w);
        for (int64_t j = 0; j < size; j++) {
            if (chosen[j]) {
                mask[at[j]] = 0;
                w->data[at[j]] *= 0.0f;
            }
        }
        free(mag);
        free(chosen);
    }
    free(at);
    return k >= 0;
}

/* prune.ln_structured(n=1, dim=0) among the output channels with a kept entry. */
static bool prune_structured(const PruneSpec *ps, Node *n, Loc loc)
{
    Const *w = n->param[PARAM_WEIGHT];
    int64_t rows = w->dims[0], cols = ir_numel(w->rank - 1, w->dims + 1), size = 0;
    int64_t *at = xmalloc(sizeof *at * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        bool kept = !w->mask;
        for (int64_t c = 0; !kept && c < cols; c++)
            kept = w->mask[r * cols + c] != 0;
        if (kept)
            at[size++] = r;
    }
    int64_t k = units_to_prune(ps, size, n, loc, "channels");
    if (k > 0) {
        double *norm = xmalloc(sizeof *norm * (size_t)size);
        bool *keep = xmalloc(sizeof *keep * (size_t)size);
        for (int64_t j = 0; j < size; j++) {
            float sum = 0.0f; /* float32, in memory order, as torch.norm(p=1) */
            for (int64_t c = 0; c < cols; c++)
                sum += fabsf(w->data[at[j] * cols + c]);
            norm[j] = sum;
        }
        prune_topk(norm, size, size - k, true, keep);
        unsigned char *mask = ensure_mask(w);
        for (int64_t j = 0; j < size; j++) {
            for (int64_t c = 0; !keep[j] && c < cols; c++) {
                mask[at[j] * cols + c] = 0;
                w->data[at[j] * cols + c] *= 0.0f;
            }
        }
        free(norm);
        free(keep);
    } else if (k == 0) {
        ensure_mask(w); /* PyTorch registers the (unchanged) mask all the same */
    }
    free(at);
    return k >= 0;
}

bool prune_weights(Graph *g)
{
    bool ok = true;
    for (int s = 0; s < g->nprunes; s++) {
        const PruneSpec *ps = &g->prunes[s];
        for (int i = 0; i < ps->nnodes; i++) {
            if (ir_node_quant(ps->nodes[i])) {
                diag_error(ps->locs[i],
                           "prune: %s '%s' is quantized; prune its float weights "
                           "before quantizing them",
                           op_name(ps->nodes[i]->op), ps->nodes[i]->name);
                ok = false;
            } else if (ps->structured)
                ok = prune_structured(ps, ps->nodes[i], ps->locs[i]) && ok;
            else
                ok = prune_unstructured(ps, ps->nodes[i], ps->locs[i]) && ok;
        }
    }
    ir_prunes_free(g);
    return ok;
}
