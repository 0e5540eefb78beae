/* safetensors.h - a strict, bounds-checked reader for safetensors files.
 *
 * The reader validates the entire file before anything uses it: header length,
 * JSON syntax, every dtype/shape/offset, offsets against the file size, overlaps,
 * holes, duplicate names, and arithmetic overflow. A malformed file is an error
 * message, never a crash. */
#ifndef CNNC_SAFETENSORS_H
#define CNNC_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_MAX_RANK 8

typedef enum StDtype {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_OTHER /* a dtype string we do not know */
} StDtype;

typedef struct StTensor {
    char *name;
    StDtype dtype;
    char *dtype_name; /* as written in the file, e.g. "F32" */
    int rank;
    int64_t dims[ST_MAX_RANK];
    uint64_t begin, end; /* byte offsets into data */
    const unsigned char *data; /* points into the file buffer: data + begin */
    bool used;
} StTensor;

typedef struct StFile {
    unsigned char *buf; /* whole file, owned */
    size_t size;
    StTensor *tensors;
    int ntensors;
} StFile;

/* Parse a safetensors image in memory. On success returns 0 and fills *out
 * (taking ownership of buf, which must come from malloc). On failure returns -1,
 * writes a one-line description to err (never crashes), and frees buf. */
int st_parse(unsigned char *buf, size_t size, StFile *out, char *err, size_t errsize);
/* Read and parse a file; errors are as st_parse, or the OS error. */
int st_load(const char *path, StFile *out, char *err, size_t errsize);
void st_free(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
const char *st_dtype_name(StDtype d);

#endif
