/* plan_memory.c - give every tensor its memory: one static arena, reused.
 *
 * Graph inputs and outputs live in the caller's buffers. Identity ops
 * (flatten, dropout) alias their input. Every other tensor, and each kernel's
 * scratch, is an interval [first step, last step] of node indices during which
 * it must stay intact; two intervals that overlap must not share bytes.
 * Placement is greedy: each block in turn at the lowest 64-byte-aligned
 * offset that clashes with no already placed, time-overlapping block (the
 * classic offline heuristic of TFLite Micro's planner and ggml-alloc). Three
 * orders are tried (largest first, earliest first, largest size x lifetime
 * first) and the smallest arena is kept.
 * Elementwise ops (activations, batchnorm, add, mul, sub, div) work in place: their
 * output takes over the block of an input of its size that dies at that step
 * (mul's [N, C, H, W] operand, not its broadcast [N, C, 1, 1] one). */
#include <stdlib.h>

#include "ir.h"
#include "opdef.h"
#include "util.h"

#define ARENA_ALIGN 64

typedef struct Block {
    int64_t size, offset;
    int first, last; /* node steps; inputs of step i are read during step i */
    Node *scratch_of; /* non-NULL for a node's scratch */
} Block;

static bool is_identity(const Node *n)
{
    return op_has(n->op, OPT_VIEW);
}

/* Ops that read each input element once, at the position they write: their
 * output may overwrite an input that dies at that step. */
static bool can_work_in_place(const Node *n)
{
    return op_has(n->op, OPT_IN_PLACE);
}

static Tensor *root(Tensor *t)
{
    while (t->storage == STORE_ALIAS)
        t = t->alias;
    return t;
}

static void assign_storage(Graph *g)
{
    for (int i = 0; i < g->ntensors; i++)
        g->tensors[i]->storage = STORE_NONE;
    for (int i = 0; i < g->ninputs; i++)
        g->inputs[i]->storage = STORE_INPUT;
    for (int i = 0; i < g->noutputs; i++)
        g->outputs[i]->storage = STORE_OUTPUT;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        if (n->out->storage != STORE_NONE)
            continue;
        if (is_identity(n)) {
            n->out->storage = STORE_ALIAS;
            n->out->alias = n->in[0];
        } else {
            n->out->storage = STORE_ARENA;
        }
    }
}

/* The step at which each tensor is last read, through any aliases of it. An
 * output that aliases an arena tensor is copied at the end of the run. */
static int *last_uses(Graph *g)
{
    int *last = xmalloc(sizeof(int) * (size_t)g->ntensors);
    for (int i = 0; i < g->ntensors; i++)
        last[i] = g->tensors[i]->producer ? g->tensors[i]->producer->id : -1;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++) {
            Tensor *r = root(n->in[j]);
            if (last[r->id] < i)
                last[r->id] = i;
        }
        if (ir_is_output(g, n->out) && is_identity(n))
            last[root(n->in[0])->id] = g->nnodes;
    }
    return last;
}

static int64_t align_up(int64_t v)
{
    return (v + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

/* Lowest offset for b among the already placed blocks placed[0..n). */
static int64_t place(const Block *b, Block **placed, int n)
{
    int64_t offset = 0;
    for (bool moved = true; moved;) {
        moved = false;
        for (int i = 0; i < n; i++) {
            const Block *p = placed[i];
            bool time = p->first <= b->last && b->first <= p->last;
            bool space = p->offset < offset + b->size && offset < p->offset + p->size;
            if (time && space) {
                offset = align_up(p->offset + p->size);
                moved = true;
            }
        }
    }
    return offset;
}

/* Placement orders tried by plan_memory; ties fall back to the position in
 * the block array (the pointers point into one array), so plans are
 * deterministic. */
static int by_position(const Block *x, const Block *y)
{
    return x < y ? -1 : x > y;
}

static int by_size(const void *a, const void *b)
{
    const Block *x = *(Block *const *)a, *y = *(Block *const *)b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return by_position(x, y);
}

static int by_first_step(const void *a, const void *b)
{
    const Block *x = *(Block *const *)a, *y = *(Block *const *)b;
    if (x->first != y->first)
        return x->first - y->first;
    return by_size(a, b);
}

static int by_area(const void *a, const void *b)
{
    const Block *x = *(Block *const *)a, *y = *(Block *const *)b;
    int64_t ax = x->size * (x->last - x->first + 1), ay = y->size * (y->last - y->first + 1);
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return by_size(a, b);
}

/* Place blocks in the given order at their lowest fitting offsets; returns the
 * arena size and leaves the offsets in the blocks. */
static int64_t place_all(Block *blocks, int nb, int (*order)(const void *, const void *))
{
    Block **sorted = xmalloc(sizeof *sorted * (size_t)(nb + 1));
    Block **placed = xmalloc(sizeof *placed * (size_t)(nb + 1));
    for (int i = 0; i < nb; i++)
        sorted[i] = &blocks[i];
    qsort(sorted, (size_t)nb, sizeof *sorted, order);
    int64_t arena = 0;
    for (int k = 0; k < nb; k++) {
        sorted[k]->offset = place(sorted[k], placed, k);
        placed[k] = sorted[k];
        int64_t end = align_up(sorted[k]->offset + sorted[k]->size);
        arena = end > arena ? end : arena;
    }
    free(sorted);
    free(placed);
    return arena;
}

/* One block per arena tensor, except that an in-place op's output joins the
 * block of the input it overwrites; plus one block per kernel scratch. */
static int make_blocks(Graph *g, const int *last, int *block_of, Block *blocks)
{
    int nb = 0;
    for (int i = 0; i < g->ntensors; i++)
        block_of[i] = -1;
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        Tensor *out = n->out;
        if (n->scratch_bytes > 0)
            blocks[nb++] = (Block){n->scratch_bytes, 0, i, i, n};
        if (out->storage != STORE_ARENA)
            continue;
        for (int j = 0; can_work_in_place(n) && j < n->nin; j++) {
            Tensor *in = n->in[j];
            int b = in->storage == STORE_ARENA ? block_of[in->id] : -1;
            if (b >= 0 && blocks[b].last == i && ir_tensor_bytes(in) == ir_tensor_bytes(out)) {
                block_of[out->id] = b;
                blocks[b].last = last[out->id];
                break;
            }
        }
        if (block_of[out->id] < 0) {
            block_of[out->id] = nb;
            blocks[nb++] = (Block){ir_tensor_bytes(out), 0, i, last[out->id], NULL};
        }
    }
    return nb;
}

/* The most bytes live at one step: no arena can be smaller. */
static int64_t peak_live_bytes(const Block *blocks, int nb, int nsteps)
{
    int64_t peak = 0;
    for (int step = 0; step < nsteps; step++) {
        int64_t live = 0;
        for (int i = 0; i < nb; i++)
            if (blocks[i].first <= step && step <= blocks[i].last)
                live += blocks[i].size;
        peak = live > peak ? live : peak;
    }
    return peak;
}

bool plan_memory(Graph *g)
{
    assign_storage(g);
    int *last = last_uses(g);
    int *block_of = xmalloc(sizeof(int) * (size_t)(g->ntensors + 1));
    Block *blocks = xcalloc((size_t)(g->ntensors + g->nnodes + 1), sizeof *blocks);
    int nb = make_blocks(g, last, block_of, blocks);
    g->peak_live_bytes = peak_live_bytes(blocks, nb, g->nnodes);

    /* Greedy placement is a heuristic and no one order wins on every graph
     * (largest-first suits ResNet's skips, earliest-first MobileNet's
     * expansions): try each and keep the smallest arena. */
    int (*orders[])(const void *, const void *) = {by_size, by_first_step, by_area};
    int best = 0;
    int64_t arena = INT64_MAX;
    for (int k = 0; k < (int)(sizeof orders / sizeof orders[0]); k++) {
        int64_t size = place_all(blocks, nb, orders[k]);
        if (size < arena) {
            arena = size;
            best = k;
        }
    }
    place_all(blocks, nb, orders[best]);
    for (int i = 0; i < nb; i++)
        if (blocks[i].scratch_of)
            blocks[i].scratch_of->scratch_offset = blocks[i].offset;
    for (int i = 0; i < g->ntensors; i++)
        if (block_of[i] >= 0)
            g->tensors[i]->offset = blocks[block_of[i]].offset;
    /* Too large: the error points at the layer whose output (or scratch)
     * lies at the arena's top. */
    Loc top = {0};
    for (int i = 0; i < nb && !top.line; i++)
        if (blocks[i].offset + blocks[i].size > arena - ARENA_ALIGN)
            top = g->nodes[blocks[i].first]->loc;
    free(blocks);
    free(block_of);
    free(last);
    g->arena_bytes = arena;
    if (arena > IR_MAX_ARENA_BYTES) {
        diag_error(top, "the activations need a %lld-byte arena, more than the %lld-byte limit",
                   (long long)arena, (long long)IR_MAX_ARENA_BYTES);
        diag_note(top, "the arena is one static array: with the rest of a program's static data "
                       "it must stay within the 2 GiB that the default code model reaches");
        return false;
    }
    return true;
}
