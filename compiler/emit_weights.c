/* emit_weights.c - the weight blob: every parameter as little-endian
 * float32 at its offset (in the layout its kernel wants, kernels.h), each
 * starting on a 64-byte boundary; embedded in the source as string literals
 * of at most BLOB_CHUNK bytes (a string is one token to the C compiler, so
 * an 11.7M parameter ResNet-18 compiles in seconds where a float literal per
 * weight takes minutes and gigabytes); above a size (--weights-as, main.c)
 * written beside the .c file and included by the assembler (.incbin), so
 * the C compiler never parses it; or with --weights-file written to a file
 * of its own that the generated code loads. The blob is streamed to its file
 * (emit_weight_blob), never held whole in memory. */
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

/* Stream the blob through put(): the parameters in layout order, zeros
 * between them up to each one's offset. Floats are written little-endian
 * whatever the host; a parameter is packed first only where its kernel
 * repacks it (conv2d on KERNEL_BLOCKED), else read where it lies, so the
 * largest linear layer of a big network is never copied whole. */
static bool stream_blob(const Graph *g, const int64_t *param_at, int64_t floats, BlobSink put,
                        void *ctx)
{
    enum { STEP = 16384 }; /* floats converted at a time */
    static const unsigned char zeros[4 * PARAM_ALIGN];
    unsigned char *bytes = xmalloc(4 * STEP);
    int64_t at = 0;
    bool ok = true;
    for (int i = 0; ok && i < g->nnodes; i++) {
        const Node *n = g->nodes[i];
        for (int p = 0; ok && p < PARAM_MAX; p++) {
            const Const *c = n->param[p];
            if (!c || sparse_weight(n, p))
                continue;
            for (; ok && at < param_at[i * PARAM_MAX + p]; at++)
                ok = put(ctx, zeros, 4);
            int64_t count = conv_param_floats(n, p);
            float *packed = NULL;
            const float *data = c->data;
            if (n->kernel == KERNEL_BLOCKED) {
                packed = xmalloc(sizeof(float) * (size_t)count);
                conv_param_pack(n, p, packed);
                data = packed;
            }
            for (int64_t k = 0; ok && k < count; k += STEP) {
                int64_t m = count - k < STEP ? count - k : STEP;
                for (int64_t j = 0; j < m; j++) {
                    uint32_t bits;
                    memcpy(&bits, &data[k + j], 4);
                    for (int b = 0; b < 4; b++)
                        bytes[j * 4 + b] = (unsigned char)(bits >> (8 * b));
                }
                ok = put(ctx, bytes, (size_t)m * 4);
            }
            at += count;
            free(packed);
        }
    }
    for (; ok && at < floats; at++)
        ok = put(ctx, zeros, 4);
    free(bytes);
    return ok;
}

static bool put_strbuf(void *ctx, const void *bytes, size_t n)
{
    sb_write(ctx, bytes, n);
    return true;
}

/* FNV-1a, 64 bits: the incbin blob's fingerprint in the .c file. */
static bool put_fnv(void *ctx, const void *bytes, size_t n)
{
    uint64_t *h = ctx;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ ((const unsigned char *)bytes)[i]) * 0x100000001b3u;
    return true;
}

int64_t emit_weight_blob_bytes(const Graph *g)
{
    Emitter e = {.g = g};
    layout_weights(&e);
    free(e.param_at);
    return e.weight_floats * 4;
}

bool emit_weight_blob(const Graph *g, BlobSink put, void *ctx)
{
    Emitter e = {.g = g};
    layout_weights(&e);
    bool ok = stream_blob(g, e.param_at, e.weight_floats, put, ctx);
    free(e.param_at);
    return ok;
}

static void emit_weights_embedded(Emitter *e)
{
    int64_t nbytes = e->weight_floats * 4;
    StrBuf blob = {0};
    stream_blob(e->g, e->param_at, e->weight_floats, put_strbuf, &blob);
    int64_t chunks = (nbytes + BLOB_CHUNK - 1) / BLOB_CHUNK;
    sb_puts(e->sb, "\n#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
                   "#error \"cnnc stores weights as little-endian float32\"\n#endif\n\n");
    sb_printf(e->sb,
              "/* All parameters, float32 little-endian, as string literals (fast to compile). */\n"
              "static const union {\n    unsigned char bytes[%lld][%d];\n    float f[%lld];\n} "
              "%s_weights = {{\n",
              (long long)chunks, BLOB_CHUNK, (long long)e->weight_floats, e->net);
    emit_string_chunks(e, (const unsigned char *)blob.data, nbytes);
    sb_puts(e->sb, "}};\n");
    sb_free(&blob);
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

/* Weights beside the source (--weights-as=incbin): the blob is the file
 * NAME.c.weights, which the assembler includes with .incbin, found by the
 * same path the C compiler was given for the .c file (__FILE__), so gcc and
 * clang never parse it. The symbol is global but hidden, like a static
 * object that LTO partitions can still share; its name has the network's
 * prefix, so two networks link into one program. */
static void emit_weights_incbin(Emitter *e, const EmitOptions *opt)
{
    int64_t nbytes = e->weight_floats * 4;
    uint64_t fnv = 0xcbf29ce484222325u;
    stream_blob(e->g, e->param_at, e->weight_floats, put_fnv, &fnv);
    sb_printf(e->sb,
              "\n/* All parameters, float32 little-endian, in the file %s beside this one\n"
              " * (%lld bytes, FNV-1a 64 %016llx), included by the assembler (cnnc\n"
              " * --weights-as=incbin): compile this file under the name it was written\n"
              " * as, or under any name X.c with the blob beside it as X.c.weights. */\n",
              opt->blob_name, (long long)nbytes, (unsigned long long)fnv);
    sb_printf(e->sb,
              "#if !defined(__GNUC__) || !defined(__ELF__)\n"
              "#error \"this file includes its weights (%s) with the GNU assembler's .incbin (GCC "
              "or Clang, ELF targets): rerun cnnc with --weights-as=c or --weights-file=FILE\"\n"
              "#endif\n"
              "#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__\n"
              "#error \"cnnc stores weights as little-endian float32\"\n#endif\n",
              opt->blob_name);
    sb_printf(e->sb,
              "__asm__(\".pushsection .rodata\\n\"\n"
              "        \".balign 64\\n\"\n"
              "        \".globl %s_weights\\n\"\n"
              "        \".hidden %s_weights\\n\"\n"
              "        \".type %s_weights, STT_OBJECT\\n\"\n"
              "        \"%s_weights:\\n\"\n"
              "        \".incbin \\\"\" __FILE__ \".weights\\\", 0, %lld\\n\"\n"
              "        \".size %s_weights, %lld\\n\"\n"
              "        \".popsection\\n\");\n",
              e->net, e->net, e->net, e->net, (long long)nbytes, e->net, (long long)nbytes);
    sb_printf(e->sb,
              "extern const struct %s_weights_blob {\n    float f[%lld];\n} %s_weights "
              "__attribute__((visibility(\"hidden\"), aligned(64)));\n",
              e->net, (long long)e->weight_floats, e->net);
}

void emit_weights(Emitter *e, const EmitOptions *opt, StrBuf *blob_out)
{
    if (e->weight_floats == 0)
        return;
    if (opt->weights_file) {
        if (blob_out)
            stream_blob(e->g, e->param_at, e->weight_floats, put_strbuf, blob_out);
        emit_weights_external(e, opt);
    } else if (opt->weights_incbin) {
        emit_weights_incbin(e, opt);
    } else {
        emit_weights_embedded(e);
    }
}
