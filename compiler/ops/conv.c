/* ops/conv.c - conv2d: 2-D convolution (nn.Conv2d), any stride, padding, dilation and groups.
 *
 * Everything specific to these ops: arguments and PyTorch defaults, shape
 * rule, parameters, IR printing (front end), and the emitter (back end). */
#include "opdef.h"

/* ---- front end ------------------------------------------------------------ */

/* ---- back end: emitter ---------------------------------------------------- */

/* ---- the ops ---------------------------------------------------------------- */

const OpDef opdef_CONV2D = {
    /* front end */
    .args = NULL,
    /* back end */
    .emit = NULL,
};
