/* args.h - a layer's arguments, matched against its op's argument table.
 *
 * Each op lists its arguments in positional order (OpDef.args, an AttrSpec
 * array ending in {NULL}); sema.c matches a layer's arguments to it with
 * args_match() (names, positions, types, required ones), and the op's
 * set_attrs() turns them into Attrs with the helpers below, which apply
 * PyTorch's defaults and check ranges with the exact messages users see. */
#ifndef CNNC_ARGS_H
#define CNNC_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "expr.h"
#include "ir.h"

/* A_NUM: int or float; A_PADS: an integer, a pair (h, w) or four pads
 * (top, left, bottom, right); A_SCALE: an int or pair (as A_PAIR), or a float;
 * A_DIMS: dimensions, one to four (an integer, a pair, three or four
 * integers; get_dims) */
typedef enum { A_INT, A_PAIR, A_FLOAT, A_BOOL, A_STR, A_NUM, A_PADS, A_SCALE, A_DIMS } AttrKind;

typedef struct AttrSpec {
    const char *name;
    AttrKind kind;
    bool required;
} AttrSpec;

#define MAX_ATTRS 8

/* One layer's arguments, matched to its op's attributes. */
typedef struct ArgSet {
    const AttrSpec *spec;
    Value val[MAX_ATTRS];
    bool set[MAX_ATTRS];
    Loc loc[MAX_ATTRS];
} ArgSet;

/* The op's arguments, in positional order (OpDef.args; docs/language.md,
 * "Ops"); an empty table for ops without. */
const AttrSpec *op_args(OpKind op);
/* Turn matched arguments into the node's Attrs, with PyTorch's defaults
 * (OpDef.set_attrs). Reports errors; false on any. */
bool op_set_attrs(Node *n, const ArgSet *as);

/* Match l's arguments (evaluated in env) to spec: by name or position, each
 * converted to its kind (an integer is a pair (i, i) or a float where one is
 * wanted), every required one present. Reports errors; false on any. */
bool args_match(const Env *env, const Layer *l, const AttrSpec *spec, ArgSet *as);
/* The index of argument `name` in spec (it must be there for the getters). */
int spec_index(const AttrSpec *spec, const char *name);
/* Whether argument `name` was given. */
bool arg_given(const ArgSet *as, const char *name);

/* Fetch attribute `name` (or its default) checking it is at least `min` (and
 * at most 2^31); the error points at the argument, or at the layer for a
 * default. `op` names the op in the message. */
bool get_int(const ArgSet *as, const char *name, int64_t def, int64_t min, int64_t *out,
             const char *op, Loc layer_loc);
bool get_pair(const ArgSet *as, const char *name, int64_t def_h, int64_t def_w, int64_t min,
              int64_t *h, int64_t *w, const char *op, Loc layer_loc);
/* Fetch `pad` (A_PADS, default 0) into a->ph, pw, pb, pr (top, left, bottom,
 * right), each at least 0 and at most 2^31; the error points at the argument. */
bool get_pads(const ArgSet *as, Attrs *a, const char *op, Loc layer_loc);
/* The arguments d0, d1, d2, d3 of a table DIM_ARGS (constant, permute,
 * reshape: PyTorch's varargs), those given, in order, each at least `min`,
 * into dims[0..*n). Reports errors. */
bool get_dim_list(const ArgSet *as, int64_t min, int64_t *dims, int *n, const char *op,
                  Loc layer_loc);
#define DIM_ARGS(first_required)                                                                 \
    {{"d0", A_INT, first_required},                                                               \
     {"d1", A_INT, false},                                                                        \
     {"d2", A_INT, false},                                                                        \
     {"d3", A_INT, false},                                                                        \
     {NULL, 0, 0}}
/* The dimensions of argument `name` (A_DIMS), as given, into dims[0..*n). */
void get_dims(const ArgSet *as, const char *name, int64_t dims[4], int *n);
bool get_bool(const ArgSet *as, const char *name, bool def);
double get_float(const ArgSet *as, const char *name, double def);
/* The attributes conv2d and conv_transpose2d share, in their argument
 * order: channels, kernel, stride, pad, output_padding (only with
 * `output_padding`), dilation, groups and bias, with PyTorch's defaults.
 * Reports the first error; false on it. */
bool get_conv_attrs(Node *n, const ArgSet *as, bool output_padding);
/* Fetch float attribute `name` (or its default), which must round to a
 * finite float32 (the value a generated C literal takes); one that rounds
 * to FLT_MAX is stored as FLT_MAX. */
bool get_float32(const ArgSet *as, const char *name, double def, double *out, const char *op);
/* Check a float argument's value v is in [lo, hi] (or [lo, hi) if hi_open). */
bool float_in(const ArgSet *as, const char *name, double v, double lo, double hi, bool hi_open,
              const char *op);

#endif
