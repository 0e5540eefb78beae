/* ops/norm.c - batchnorm: batch normalization in eval mode (nn.BatchNorm2d/1d).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_BATCHNORM = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};
