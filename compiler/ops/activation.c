/* ops/activation.c - elementwise activations: relu, relu6, leaky_relu, sigmoid, tanh, hardswish, silu.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_RELU = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_RELU6 = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_LEAKY_RELU = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_SIGMOID = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_TANH = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_HARDSWISH = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_SILU = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};
