/* emit_sparse.c - the sparse kernels (select_kernels.c: KERNEL_SPARSE).
 *
 * A sparse conv2d or linear keeps, per output channel, the list of its
 * nonzero weights in memory order as (offset, value) pairs, in one static
 * table NET_sparse of int and float words (string literals again, fast to
 * compile): for node n, start[OC + 1] (where each channel's pairs begin),
 * then off[nnz], then val[nnz]. A conv's offset is where the weight reads in
 * the zero-padded, phase-split copy of the input the kernel works on
 * (sparse_conv_offset, kernels.h's SparseConv); a linear's is the input
 * feature. The dense weights are then left out of NET_weights
 * (sparse_weight). */
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

static int64_t sparse_nnz(const Node *n)
{
    const Const *w = n->param[PARAM_WEIGHT];
    return ir_numel(w->rank, w->dims) - ir_const_zeros(w);
}

/* Words of node n's table, and where it starts (after earlier nodes' tables). */
static int64_t sparse_words(const Node *n)
{
    return n->kernel == KERNEL_SPARSE ? n->a.channels + 1 + 2 * sparse_nnz(n) : 0;
}

static int64_t sparse_at(const Emitter *e, const Node *n)
{
    int64_t at = 0;
    for (int i = 0; i < n->id; i++)
        at += sparse_words(e->g->nodes[i]);
    return at;
}

static void put_word(StrBuf *sb, uint32_t w)
{
    for (int b = 0; b < 4; b++)
        sb_putc(sb, (char)(unsigned char)(w >> (8 * b)));
}

/* Node n's table as little-endian words. */
static void sparse_table(const Node *n, StrBuf *words)
{
    const Const *w = n->param[PARAM_WEIGHT];
    int64_t rows = w->dims[0], cols = ir_numel(w->rank - 1, w->dims + 1), at = 0;
    SparseConv sc;
    if (n->op == OP_CONV2D)
        sparse_conv_layout(n, &sc);
    StrBuf offs = {0}, vals = {0};
    for (int64_t r = 0; r < rows; r++) {
        put_word(words, (uint32_t)at);
        for (int64_t c = 0; c < cols; c++) {
            float v = w->data[r * cols + c];
            if (v == 0.0f)
                continue;
            uint32_t bits;
            memcpy(&bits, &v, 4);
            int64_t off = n->op == OP_CONV2D ? sparse_conv_offset(n, &sc, r, c) : c;
            put_word(&offs, (uint32_t)off);
            put_word(&vals, bits);
            at++;
        }
    }
    put_word(words, (uint32_t)at);
    sb_write(words, offs.data ? offs.data : "", offs.len);
    sb_write(words, vals.data ? vals.data : "", vals.len);
    sb_free(&offs);
    sb_free(&vals);
}

/* NET_sparse: every sparse node's table, as string literals like the weights. */
void emit_sparse_tables(Emitter *e)
{
    StrBuf words = {0};
    for (int i = 0; i < e->g->nnodes; i++)
        if (e->g->nodes[i]->kernel == KERNEL_SPARSE)
            sparse_table(e->g->nodes[i], &words);
    if (words.len == 0)
        return;
    int64_t chunks = ((int64_t)words.len + BLOB_CHUNK - 1) / BLOB_CHUNK;
    sb_printf(e->sb,
              "\n/* Nonzero weights of the sparse layers: per output channel where its\n"
              " * (offset, value) pairs begin, then the offsets, then the values. */\n"
              "typedef char %s_int_is_32_bits[sizeof(int) == 4 ? 1 : -1];\n"
              "static const union {\n    unsigned char bytes[%lld][%d];\n    int i[%lld];\n"
              "    float f[%lld];\n} %s_sparse = {{\n",
              e->net, (long long)chunks, BLOB_CHUNK, (long long)(words.len / 4),
              (long long)(words.len / 4), e->net);
    emit_string_chunks(e, (const unsigned char *)words.data, (int64_t)words.len);
    sb_puts(e->sb, "}};\n");
    sb_free(&words);
}

/* start, off and val of node n's table, and bias. */
static void emit_sparse_pointers(Emitter *e, const Node *n)
{
    char b[96];
    long long at = sparse_at(e, n), nnz = sparse_nnz(n), rows = n->a.channels;
    const Const *w = n->param[PARAM_WEIGHT];
    out(e,
        "/* sparse: %lld of %lld weights are nonzero; per output channel its (offset, value) "
        "pairs */",
        nnz, (long long)ir_numel(w->rank, w->dims));
    out(e, "const int *start = %s_sparse.i + %lld;", e->net, at);
    out(e, "const int *off = %s_sparse.i + %lld;", e->net, at + rows + 1);
    out(e, "const float *val = %s_sparse.f + %lld;", e->net, at + rows + 1 + nnz);
    if (n->param[PARAM_BIAS])
        out(e, "const float *bias = %s;", wptr(e, n, PARAM_BIAS, b, sizeof b));
}

/* The plane value of a sparse conv with a fused pool: cv holds the channel's
 * conv output with its bias (emit_pooled_point's callback). */
static void emit_plane_value(Emitter *e, const Node *n, bool raw)
{
    char v[160];
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    if (raw) {
        out(e, "const float v = cv[oh * %lld + ow];", (long long)sc.wq);
        return;
    }
    out(e, "const float a = cv[oh * %lld + ow];", (long long)sc.wq);
    out(e, "const float v = %s;", act_expr(n, "a", v, sizeof v));
}

/* The image b, zero-padded, into xp (whose borders and margin stay zero):
 * whole rows, or with a stride element by element into the phases. */
static void emit_sparse_pad_copy(Emitter *e, const Node *n, const SparseConv *sc)
{
    long long C = n->in[0]->dims[1], H = n->in[0]->dims[2], W = n->in[0]->dims[3];
    long long HQ = sc->hq, WQ = sc->wq, PH = n->a.ph, PW = n->a.pw, SH = n->a.sh, SW = n->a.sw;
    out(e, "for (int c = 0; c < %lld; c++)", C);
    out(e, "    for (int h = 0; h < %lld; h++)", H);
    if (SH == 1 && SW == 1) {
        out(e,
            "        memcpy(xp + (c * %lld + h + %lld) * %lld + %lld, x + (c * %lld + h) * %lld, "
            "%lld);",
            HQ, PH, WQ, PW, H, W, W * 4);
        return;
    }
    out(e, "        for (int w = 0; w < %lld; w++)", W);
    out(e,
        "            xp[((((h + %lld) %% %lld * %lld + (w + %lld) %% %lld) * %lld + c) * %lld + "
        "(h + %lld) / %lld) * %lld + (w + %lld) / %lld] = x[(c * %lld + h) * %lld + w];",
        PH, SH, SW, PW, SW, C, HQ, PH, SH, WQ, PW, SW, H, W);
}

/* One block of sc->block conv values of channel co into cv + at: the
 * accumulators start at the bias and take the channel's taps in memory
 * order (ci, kh, kw), lane j reading xt[j]. Separate scalars, so the
 * compiler keeps them in (vector) registers across the taps. */
static void emit_sparse_block(Emitter *e, const Node *n, int block, const char *at,
                              const char *base)
{
    StrBuf sb = {0};
    sb_printf(&sb, "float a0 = %s", n->param[PARAM_BIAS] ? "bias[co]" : "0.0f");
    for (int j = 1; j < block; j++)
        sb_printf(&sb, ", a%d = a0", j);
    out(e, "%s;", sb.data);
    sb_free(&sb);
    open_block(e, "for (int t = start[co]; t < start[co + 1]; t++) {");
    out(e, "const float v = val[t];");
    out(e, "const float *xt = xp + off[t] + %s;", base);
    for (int j = 0; j < block; j++)
        out(e, "a%d += xt[%d] * v;", j, j);
    close_brace(e);
    out(e, "float *p = cv + %s;", at);
    for (int j = 0; j < block; j++)
        out(e, "p[%d] = a%d;", j, j);
}

/* Channel co of the conv output into cv, block by block over the plane. */
static void emit_sparse_channel(Emitter *e, const Node *n, const SparseConv *sc)
{
    open_block(e, "for (int i0 = 0; i0 < %lld; i0 += %d) {", (long long)sc->plane, sc->block);
    emit_sparse_block(e, n, sc->block, "i0", "i0");
    close_brace(e);
}

/* Sparse conv2d: per image, the input is copied zero-padded to xp; per output
 * channel the conv values go to the plane cv (emit_sparse_channel), then to
 * the output with the activation, or through the fused pool. Each value is
 * bias + taps in memory order, the direct kernel's sum, so the results are
 * bit-identical to it (a padded tap adds x * 0; finite inputs). */
void emit_conv_sparse(Emitter *e, const Node *n)
{
    const Tensor *in = n->in[0], *o = n->out;
    long long N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
    long long OC = o->dims[1], PH = o->dims[2], PW = o->dims[3];
    int64_t CH, CW;
    ir_conv_out_hw(n, &CH, &CW);
    SparseConv sc;
    sparse_conv_layout(n, &sc);
    char v[160];
    emit_fused_comment(e, n);
    emit_sparse_pointers(e, n);
    out(e, "float *cv = scratch; /* one output channel, %lld rows at pitch %lld */", (long long)CH,
        (long long)sc.wq);
    out(e, "float *xp = scratch + %lld; /* the input zero-padded, in %lld phase%s of %lldx%lld */",
        (long long)sc.plane, (long long)(n->a.sh * n->a.sw), n->a.sh * n->a.sw > 1 ? "s" : "",
        (long long)sc.hq, (long long)sc.wq);
    out(e, "memset(xp, 0, %lld);", (long long)(sc.xp * 4));
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    out(e, "const float *x = in + b * %lld;", C * H * W);
    emit_sparse_pad_copy(e, n, &sc);
    open_block(e, "for (int co = 0; co < %lld; co++) {", OC);
    emit_sparse_channel(e, n, &sc);
    out(e, "float *y = out + (b * %lld + co) * %lld;", OC, PH * PW);
    open_block(e, "for (int py = 0; py < %lld; py++) {", PH);
    open_block(e, "for (int px = 0; px < %lld; px++) {", PW);
    if (n->fuse.pool) {
        emit_pooled_point(e, n, emit_plane_value, "");
    } else {
        out(e, "const float a = cv[py * %lld + px];", (long long)sc.wq);
        out(e, "y[py * %lld + px] = %s;", PW, act_expr(n, "a", v, sizeof v));
    }
    for (int i = 0; i < 4; i++)
        close_brace(e);
}

/* y[o] = bias[o] + the row's nonzero weights times their inputs, summed in
 * four interleaved partial sums (a gather has no vector form in baseline
 * x86-64, and one running sum would wait on each add). */
void emit_linear_sparse(Emitter *e, const Node *n)
{
    long long N = ir_linear_rows(n), FIN = n->in[0]->dims[n->in[0]->rank - 1],
              F = n->out->dims[n->out->rank - 1];
    char v[160], val[160];
    emit_fused_comment(e, n);
    emit_sparse_pointers(e, n);
    open_block(e, "for (int b = 0; b < %lld; b++) {", N);
    out(e, "const float *x = in + b * %lld;", FIN);
    open_block(e, "for (int o = 0; o < %lld; o++) {", F);
    out(e, "float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;");
    out(e, "int t = start[o];");
    open_block(e, "for (; t + 4 <= start[o + 1]; t += 4) {");
    out(e, "s0 += x[off[t]] * val[t];");
    out(e, "s1 += x[off[t + 1]] * val[t + 1];");
    out(e, "s2 += x[off[t + 2]] * val[t + 2];");
    out(e, "s3 += x[off[t + 3]] * val[t + 3];");
    close_brace(e);
    out(e, "for (; t < start[o + 1]; t++)");
    out(e, "    s0 += x[off[t]] * val[t];");
    out(e, "const float a = %s;", linear_value(n, "((s0 + s1) + (s2 + s3))", val, sizeof val));
    out(e, "out[b * %lld + o] = %s;", F, act_expr(n, "a", v, sizeof v));
    close_brace(e);
    close_brace(e);
}
