/* fuzz_safetensors.c - libFuzzer target: the safetensors reader on arbitrary bytes.
 *
 * st_parse() must accept the image or describe what is wrong, never crash or
 * read outside it. Each accepted tensor's data span is read in full (ASan sees
 * any span past the buffer) and looked up by name. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"

static volatile unsigned sink; /* keeps the reads of tensor data */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy, so that ASan catches a read one byte past the end. */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    StFile f;
    char err[512];
    if (st_parse(buf, size, &f, err, sizeof err) != 0) {
        if (err[0] == '\0' || strchr(err, '\n'))
            abort(); /* every failure is described, on one line */
        return 0;
    }
    for (int i = 0; i < f.ntensors; i++) {
        const StTensor *t = &f.tensors[i];
        if (t->end < t->begin || st_find(&f, t->name) != t)
            abort();
        for (uint64_t b = 0; b < t->end - t->begin; b++)
            sink += t->data[b];
    }
    st_free(&f);
    return 0;
}
