/* plan_memory.c - give every tensor its memory: one static arena, reused.
 *
 * Graph inputs and outputs live in the caller's buffers. Identity ops
 * (flatten, dropout) alias their input. Every other tensor, and each kernel's
 * scratch, is an interval [first step, last step] of node indices during which
 * it must stay intact; two intervals that overlap must not share bytes.
 * Placement is greedy: largest block first, at the lowest 64-byte-aligned
 * offset that clashes with no already placed, time-overlapping block. This is
 * the classic offline heuristic (TFLite Micro's greedy planner, ggml-alloc);
 * it is optimal for a chain and close to the lower bound on branching graphs. */
#include <stdlib.h>

#include "ir.h"
#include "util.h"

#define ARENA_ALIGN 64

typedef struct Block {
    int64_t size, offset;
    int first, last; /* node steps; inputs of step i are read during step i */
    Tensor *tensor;  /* NULL for a node's scratch */
    Node *node;
} Block;

static bool is_identity(const Node *n)
{
    return n->op == OP_FLATTEN || n->op == OP_DROPOUT;
}

static bool is_output(const Graph *g, const Tensor *t)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i] == t)
            return true;
    return false;
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

static int cmp_size_desc(const void *a, const void *b)
{
    const Block *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->first - y->first; /* deterministic */
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

bool plan_memory(Graph *g)
{
    assign_storage(g);
    Block *blocks = xcalloc((size_t)(g->ntensors + g->nnodes), sizeof *blocks);
    int nb = 0;
    int *block_of = xmalloc(sizeof(int) * (size_t)g->ntensors);
    for (int i = 0; i < g->ntensors; i++) {
        Tensor *t = g->tensors[i];
        block_of[i] = -1;
        if (t->storage != STORE_ARENA)
            continue;
        block_of[i] = nb;
        blocks[nb++] = (Block){ir_tensor_bytes(t), 0, t->producer->id, t->producer->id, t, NULL};
    }
    /* A tensor stays live until its last reader, through any aliases of it. */
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = g->nodes[i];
        for (int j = 0; j < n->nin; j++) {
            Tensor *r = root(n->in[j]);
            if (r->storage == STORE_ARENA && blocks[block_of[r->id]].last < i)
                blocks[block_of[r->id]].last = i;
        }
        /* An output that aliases an arena tensor is copied at the end of the run. */
        if (is_output(g, n->out) && is_identity(n)) {
            Tensor *r = root(n->in[0]);
            if (r->storage == STORE_ARENA)
                blocks[block_of[r->id]].last = g->nnodes;
        }
        if (n->scratch_bytes > 0)
            blocks[nb++] = (Block){n->scratch_bytes, 0, i, i, NULL, n};
    }
    qsort(blocks, (size_t)nb, sizeof *blocks, cmp_size_desc);
    Block **placed = xmalloc(sizeof *placed * (size_t)(nb + 1));
    int64_t arena = 0;
    for (int i = 0; i < nb; i++) {
        blocks[i].offset = place(&blocks[i], placed, i);
        placed[i] = &blocks[i];
        int64_t end = align_up(blocks[i].offset + blocks[i].size);
        if (end > arena)
            arena = end;
        if (blocks[i].tensor)
            blocks[i].tensor->offset = blocks[i].offset;
        else
            blocks[i].node->scratch_offset = blocks[i].offset;
    }
    free(placed);
    free(blocks);
    free(block_of);
    g->arena_bytes = arena;
    if (arena > IR_MAX_ARENA_BYTES) {
        diag_error((Loc){0}, "the activations need a %lld-byte arena, more than the %lld-byte limit",
                   (long long)arena, (long long)IR_MAX_ARENA_BYTES);
        return false;
    }
    return true;
}
