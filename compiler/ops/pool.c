/* ops/pool.c - pools: maxpool, avgpool (nn.MaxPool2d, nn.AvgPool2d), global_avgpool, adaptive_avgpool.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_MAXPOOL = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_AVGPOOL = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_GLOBAL_AVGPOOL = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};

const OpDef opdef_ADAPTIVE_AVGPOOL = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};
