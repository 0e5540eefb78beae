/* ops.h - the table of ops (X-macro). Each row: enum suffix, name in the
 * language, number of tensor inputs (-1: two or more), and whether the op
 * has parameters.
 * Including files define OP(id, name, ninputs, has_params) before including. */
OP(CONV2D, "conv2d", 1, 1)
OP(BATCHNORM, "batchnorm", 1, 1)
OP(RELU, "relu", 1, 0)
OP(RELU6, "relu6", 1, 0)
OP(LEAKY_RELU, "leaky_relu", 1, 0)
OP(SIGMOID, "sigmoid", 1, 0)
OP(TANH, "tanh", 1, 0)
OP(MAXPOOL, "maxpool", 1, 0)
OP(AVGPOOL, "avgpool", 1, 0)
OP(GLOBAL_AVGPOOL, "global_avgpool", 1, 0)
OP(FLATTEN, "flatten", 1, 0)
OP(LINEAR, "linear", 1, 1)
OP(DROPOUT, "dropout", 1, 0)
OP(SOFTMAX, "softmax", 1, 0)
OP(ADD, "add", 2, 0)
OP(CONCAT, "concat", -1, 0)
OP(UPSAMPLE, "upsample", 1, 0)
OP(ADAPTIVE_AVGPOOL, "adaptive_avgpool", 1, 0)
OP(HARDSWISH, "hardswish", 1, 0)
OP(SILU, "silu", 1, 0)
