/* ops/tensor.c - tensor ops: flatten, dropout (identity at inference), add, concat, upsample.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_FLATTEN = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_DROPOUT = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_ADD = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_CONCAT = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_UPSAMPLE = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};
