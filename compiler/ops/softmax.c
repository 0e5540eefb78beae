/* ops/softmax.c - softmax over one dimension (nn.Softmax).
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_SOFTMAX = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};
