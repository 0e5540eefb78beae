/* table.c - op_def() and op_traits() from the rows of ops.h. */
#include "opdef.h"

#include <string.h>

#define OP(id, name, family, nin, traits) extern const OpDef opdef_##id;
#include "ops.h"
#undef OP

static const OpDef *const defs[OP_COUNT] = {
#define OP(id, name, family, nin, traits) [OP_##id] = &opdef_##id,
#include "ops.h"
#undef OP
};

static const unsigned traits_of[OP_COUNT] = {
#define OP(id, name, family, nin, traits) [OP_##id] = (traits),
#include "ops.h"
#undef OP
};

const OpDef *op_def(OpKind op)
{
    return defs[op];
}

unsigned op_traits(OpKind op)
{
    return traits_of[op];
}

static const char *const names[OP_COUNT] = {
    [OP_NONE] = "none",
#define OP(id, name, family, nin, traits) [OP_##id] = name,
#include "ops.h"
#undef OP
};

const char *op_name(OpKind op)
{
    return op >= 0 && op < OP_COUNT ? names[op] : "?";
}

int op_arity(OpKind op)
{
    static const int arity[OP_COUNT] = {
#define OP(id, name, family, nin, traits) [OP_##id] = nin,
#include "ops.h"
#undef OP
    };
    return op >= 0 && op < OP_COUNT ? arity[op] : 1;
}

bool op_lookup(const char *name, OpKind *op)
{
    for (int i = OP_NONE + 1; i < OP_COUNT; i++) {
        if (strcmp(names[i], name) == 0) {
            *op = (OpKind)i;
            return true;
        }
    }
    return false;
}
