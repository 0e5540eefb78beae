/* ops.h - the table of ops (X-macro), QBE-style: one row per op, its traits
 * as columns. Everything else about an op lives in its family's file under
 * compiler/ops/ (arguments and PyTorch defaults, shape rule, parameters, IR
 * printing, emitter), reached through op_def() (opdef.h).
 *
 * Columns: enum suffix, name in the language, family file (ops/FAMILY.c),
 * number of tensor inputs (-1: two or more), traits (OPT_* in opdef.h, or 0).
 * Including files define OP(id, name, family, ninputs, traits) first. */
OP(CONV2D, "conv2d", conv, 1, OPT_WEIGHTS | OPT_PRUNABLE | OPT_EPILOGUE)
OP(CONV_TRANSPOSE2D, "conv_transpose2d", conv_transpose, 1, OPT_WEIGHTS | OPT_EPILOGUE)
OP(BATCHNORM, "batchnorm", norm, 1, OPT_WEIGHTS | OPT_PER_CHANNEL | OPT_IN_PLACE | OPT_EPILOGUE)
OP(RELU, "relu", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(RELU6, "relu6", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(LEAKY_RELU, "leaky_relu", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(SIGMOID, "sigmoid", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(TANH, "tanh", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(MAXPOOL, "maxpool", pool, 1, OPT_POOL | OPT_PER_CHANNEL)
OP(AVGPOOL, "avgpool", pool, 1, OPT_POOL | OPT_PER_CHANNEL)
OP(GLOBAL_AVGPOOL, "global_avgpool", pool, 1, OPT_PER_CHANNEL)
OP(FLATTEN, "flatten", tensor, 1, OPT_VIEW)
OP(LINEAR, "linear", linear, 1, OPT_WEIGHTS | OPT_PRUNABLE | OPT_EPILOGUE)
OP(DROPOUT, "dropout", tensor, 1, OPT_VIEW | OPT_PER_CHANNEL)
OP(SOFTMAX, "softmax", softmax, 1, 0)
OP(ADD, "add", tensor, 2, OPT_IN_PLACE)
OP(MUL, "mul", tensor, 2, OPT_IN_PLACE)
OP(SUB, "sub", tensor, 2, OPT_IN_PLACE)
OP(MEAN, "mean", pool, 1, OPT_PER_CHANNEL)
OP(CONCAT, "concat", tensor, -1, 0)
OP(UPSAMPLE, "upsample", upsample, 1, OPT_PER_CHANNEL)
OP(ADAPTIVE_AVGPOOL, "adaptive_avgpool", pool, 1, OPT_PER_CHANNEL)
OP(HARDSWISH, "hardswish", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(SILU, "silu", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(HARDSIGMOID, "hardsigmoid", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(GELU, "gelu", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(CLAMP, "clamp", activation, 1, OPT_ACTIVATION | OPT_PER_CHANNEL | OPT_IN_PLACE)
OP(LOG_SOFTMAX, "log_softmax", softmax, 1, 0)
OP(LAYERNORM, "layernorm", norm, 1, OPT_WEIGHTS | OPT_EPILOGUE)
OP(SCALE, "scale", norm, 1, OPT_WEIGHTS | OPT_PER_CHANNEL | OPT_IN_PLACE | OPT_EPILOGUE)
OP(PAD, "pad", shuffle, 1, OPT_PER_CHANNEL)
OP(CHANNEL_SHUFFLE, "channel_shuffle", shuffle, 1, 0)
OP(NARROW, "narrow", shuffle, 1, 0)
OP(CHUNK, "chunk", shuffle, 1, 0)
