/* output.h - writing cnnc's output files all-or-nothing.
 *
 * Every regular output is written to a temporary beside it and renamed only
 * when all were written, so an error never leaves a half-written or
 * truncated file; a symlink is followed; devices, FIFOs and /proc's stdout
 * links are written into directly; directories and block devices are
 * refused. */
#ifndef CNNC_OUTPUT_H
#define CNNC_OUTPUT_H

#include <stdbool.h>

#include "emit.h"
#include "ir.h"
#include "util.h"

/* Where an output's bytes come from: text, or (text NULL) the weight blob
 * of a graph, streamed from the graph's parameters (emit_weight_blob). */
typedef struct OutData {
    const StrBuf *text;
    const Graph *blob;
} OutData;

/* Whether path is a device, FIFO or /proc link that output is written into. */
bool written_directly(const char *path);
/* The output files (NULL entries skipped) must be distinct, and none of them
 * an input: inputs[0] the .cnn, inputs[1] the weights file read or NULL.
 * Prints the error and returns false otherwise. */
bool outputs_distinct(const char *const inputs[2], const char *const paths[3]);
/* Write up to three files (NULL paths skipped) all-or-nothing. */
bool write_outputs(const char *const paths[3], const OutData data[3]);

#endif
