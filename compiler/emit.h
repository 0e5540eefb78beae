/* emit.h - the C99 backend: a planned graph in, a .c and a .h out.
 *
 * The generated source has every dimension as a literal, weights as static
 * const data (exact float32 bits), activations in one static arena, and no
 * malloc. It includes the generated header and cnnrt.h. */
#ifndef CNNC_EMIT_H
#define CNNC_EMIT_H

#include <stdbool.h>

#include "ir.h"
#include "util.h"

typedef struct EmitOptions {
    bool with_main;           /* add main(): ./prog in.f32 out.f32 */
    const char *source_path;  /* for the header comment */
    const char *header_name;  /* how the .c includes the .h, e.g. "lenet5.h" */
    const char *version;      /* cnnc version, for the header comment */
    const char *weights_file; /* non-NULL: weights go to this blob, loaded at run time */
    bool weights_incbin;      /* else: the blob beside the .c, as __FILE__ ".weights" (.incbin) */
    const char *blob_name;    /* with weights_incbin: its file name, for comments */
    int threads;              /* --threads N: OpenMP work sharing in the layers when N > 1 */
    bool profile;             /* time every layer: NAME_profile_print(), main --bench prints it */
    bool with_test;           /* a self-checking main() instead: ./test in.f32 expected.f32 */
    bool dump_tensors;        /* NAME_dump_tensors(dir): NAME_run() writes each layer's output */
} EmitOptions;

/* Print the network as C: source into src, header into hdr, and with
 * opt->weights_file the raw little-endian float32 weight blob into blob
 * unless blob is NULL (then write it with emit_weight_blob). The graph must
 * have its weights bound, kernels selected and memory planned. */
void emit_c(const Graph *g, const EmitOptions *opt, StrBuf *src, StrBuf *hdr, StrBuf *blob);

/* The size in bytes of the weight blob of a graph ready to emit (0: none). */
int64_t emit_weight_blob_bytes(const Graph *g);
/* Stream that blob (what --weights-file and --weights-as=incbin write) through
 * put(ctx, bytes, n), in order and in pieces of at most 64 KiB, without
 * building it in memory; false as soon as put returns false. */
typedef bool (*BlobSink)(void *ctx, const void *bytes, size_t n);
bool emit_weight_blob(const Graph *g, BlobSink put, void *ctx);

#endif
