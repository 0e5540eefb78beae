/* emit_weights.c - the weight blob: every parameter as little-endian
 * float32 at its offset (in the layout its kernel wants, kernels.h), each
 * starting on a 64-byte boundary; embedded in the source as string literals
 * of at most BLOB_CHUNK bytes (a string is one token to the C compiler, so
 * an 11.7M parameter ResNet-18 compiles in seconds where a float literal per
 * weight takes minutes and gigabytes), or with --weights-file written to a
 * file of its own that the generated code loads. */
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

#define PARAM_ALIGN 16 /* floats: each parameter starts on a 64-byte boundary */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

void layout_weights(Emitter *e)
{
    const Graph *g = e->g;
    e->param_at = xcalloc((size_t)g->nnodes * PARAM_MAX, sizeof *e->param_at);
    int64_t at = 0;
    for (int i = 0; i < g->nnodes; i++) {
        for (int p = 0; p < PARAM_MAX; p++) {
            const Const *c = g->nodes[i]->param[p];
            if (!c || sparse_weight(g->nodes[i], p))
                continue;
            at = (at + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
            e->param_at[i * PARAM_MAX + p] = at;
            at += conv_param_floats(g->nodes[i], p);
        }
    }
    e->weight_floats = at;
}

/* All parameters as one little-endian float32 image, at their layout offsets. */
static unsigned char *weight_bytes(const Emitter *e)
{
    const Graph *g = e->g;
    unsigned char *blob = xcalloc((size_t)e->weight_floats * 4, 1);
    for (int i = 0; i < g->nnodes; i++) {
        for (int p = 0; p < PARAM_MAX; p++) {
            const Const *c = g->nodes[i]->param[p];
            if (!c || sparse_weight(g->nodes[i], p))
                continue;
            unsigned char *dst = blob + e->param_at[i * PARAM_MAX + p] * 4;
            int64_t count = conv_param_floats(g->nodes[i], p);
            float *data = xmalloc(sizeof(float) * (size_t)count);
            conv_param_pack(g->nodes[i], p, data);
            for (int64_t k = 0; k < count; k++) {
                uint32_t bits;
                memcpy(&bits, &data[k], 4);
                for (int b = 0; b < 4; b++)
                    dst[k * 4 + b] = (unsigned char)(bits >> (8 * b));
            }
            free(data);
        }
    }
    return blob;
}

static void emit_weights_embedded(Emitter *e, const unsigned char *blob)
{
    int64_t nbytes = e->weight_floats * 4;
    int64_t chunks = (nbytes + BLOB_CHUNK - 1) / BLOB_CHUNK;
    sb_puts(e->sb, "\n#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
                   "#error \"cnnc stores weights as little-endian float32\"\n#endif\n\n");
    sb_printf(e->sb,
              "/* All parameters, float32 little-endian, as string literals (fast to compile). */\n"
              "static const union {\n    unsigned char bytes[%lld][%d];\n    float f[%lld];\n} "
              "%s_weights = {{\n",
              (long long)chunks, BLOB_CHUNK, (long long)e->weight_floats, e->net);
    emit_string_chunks(e, blob, nbytes);
    sb_puts(e->sb, "}};\n");
}

/* Weights kept out of the source (--weights-file): a static array the caller
 * fills once with NAME_load_weights(). */
static void emit_weights_external(Emitter *e, const EmitOptions *opt)
{
    sb_printf(e->sb,
              "\n/* Parameters are loaded at run time from %s (cnnc --weights-file). */\n"
              "static struct {\n    float f[%lld];\n} %s_weights;\n\n"
              "int %s_load_weights(const char *path)\n{\n"
              "    return cnnrt_read_f32(path, %s_weights.f, %lld);\n}\n",
              base_name(opt->weights_file), (long long)e->weight_floats, e->net, e->net, e->net,
              (long long)e->weight_floats);
}

void emit_weights(Emitter *e, const EmitOptions *opt, StrBuf *blob_out)
{
    if (e->weight_floats == 0)
        return;
    unsigned char *blob = weight_bytes(e);
    if (opt->weights_file) {
        sb_write(blob_out, blob, (size_t)e->weight_floats * 4);
        emit_weights_external(e, opt);
    } else {
        emit_weights_embedded(e, blob);
    }
    free(blob);
}
