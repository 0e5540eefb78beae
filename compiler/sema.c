/* sema.c - from the syntax tree to the graph IR, with every shape inferred.
 *
 * One walk over the statements: params are evaluated as they appear (a -D
 * override replaces the value; expr.c), each layer's arguments are checked
 * against its op's argument table (OpDef.args, args.c) and turned into Attrs
 * with PyTorch's defaults (OpDef.set_attrs), and each node's output shape is
 * inferred at once (infer.c), so a shape error points at the layer that
 * caused it. `prune` statements are checked and resolved in prune_stmt.c.
 * All size arithmetic is overflow-checked. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "expr.h"
#include "ir.h"
#include "network.h"
#include "opdef.h"
#include "prune_stmt.h"
#include "util.h"

/* A tensor visible under a name: the input, `x = ...` results, a block's `in`. */
typedef struct Binding {
    char *name;
    Tensor *t;
} Binding;

/* The top level, or one expansion of a block. */
typedef struct Scope {
    struct Scope *caller;
    const Stmt *block; /* NULL at the top level */
    char *prefix;      /* label prefix: "" at the top, "layer1.0" inside that block use */
    Param *params;     /* block parameters and params declared in the block */
    int nparams;
    Binding *names;
    int nnames;
    int op_counts[OP_COUNT]; /* for "<op>_<n>" names */
    int *block_counts;       /* for "<block>_<n>" names, one per block definition */
    Tensor *current;         /* result of the previous chain */
    Loc current_loc;
    Tensor *result; /* `output NAME` inside a block */
    int depth;
} Scope;

/* The state of one ir_build() call. */
typedef struct Sema {
    const BuildOptions *opt;
    const Program *prog;
    Graph *g;
    Param *params; /* top-level params */
    int nparams;
    Scope *scope;
    const Stmt **blocks;
    int nblocks;
    const Stmt *network_stmt, *input_stmt, *weights_stmt, *init_stmt, *output_stmt;
    const Stmt **prune_stmts; /* the statement of each g->prunes[i] */
} Sema;

#define MAX_BLOCK_DEPTH 32

/* The params an expression sees here: the current block's, then the top level's. */
static Env env_of(const Sema *s)
{
    return (Env){s->scope ? s->scope->params : NULL, s->scope ? s->scope->nparams : 0, s->params,
                 s->nparams};
}

/* ---- names ----------------------------------------------------------------- */

static bool is_c_keyword(const char *s)
{
    static const char *kw[] = {
        "auto",     "break",  "case",   "char",     "const",    "continue",  "default",  "do",
        "double",   "else",   "enum",   "extern",   "float",    "for",       "goto",     "if",
        "inline",   "int",    "long",   "register", "restrict", "return",    "short",    "signed",
        "sizeof",   "static", "struct", "switch",   "typedef",  "union",     "unsigned", "void",
        "volatile", "while",  "main",   "_Bool",    "_Complex", "_Imaginary"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0)
            return true;
    return false;
}

/* Names a tensor's C name may not be: it is a parameter of NAME_run(), so it
 * must not be an object-like macro of the headers the generated code
 * includes (<math.h>, <string.h>, <stdio.h>, <stdlib.h>, "cnnrt.h" with
 * <stdbool.h> and <stddef.h>), in ISO or GNU mode (-std=gnu11 predefines
 * linux and unix), nor hide what NAME_run() uses (memcpy, its locals). The
 * list is glibc's, plus the traditional system names other targets
 * predefine in GNU mode; other libcs' macros mostly follow the prefixes of
 * reserved_prefix(). Function-like macros (isnan) are only expanded before
 * a '(', never after a parameter name. */
static bool is_reserved(const char *s)
{
    static const char *const names[] = {
        /* what NAME_run() calls or declares */
        "memcpy", "prof_t", "blas_threads_set",
        /* <stdbool.h>, <stddef.h>, <stdio.h>, <stdlib.h>, <string.h> */
        "bool", "true", "false", "NULL", "EOF", "BUFSIZ", "FILENAME_MAX", "FOPEN_MAX",
        "TMP_MAX", "P_tmpdir", "stdin", "stdout", "stderr", "RAND_MAX", "MB_CUR_MAX",
        "FD_SETSIZE", "NFDBITS", "BIG_ENDIAN", "LITTLE_ENDIAN", "PDP_ENDIAN", "BYTE_ORDER",
        "WCONTINUED", "WEXITED", "WNOHANG", "WNOWAIT", "WSTOPPED", "WUNTRACED", "errno",
        /* <math.h> */
        "NAN", "INFINITY", "MAXFLOAT", "math_errhandling",
        /* predefined in GNU mode */
        "linux", "unix", "i386", "sun", "sparc", "mips", "vax", "m68k", "hppa", "pdp11",
        "ns32000", "bsd", "BSD"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

/* Families of macros by prefix: the runtime's (cnnrt_, CNNRT_), and <math.h>'s
 * and <stdio.h>/<stdlib.h>'s (FP_NAN, FP_INT_UPWARD, M_PI, M_2_SQRTPI,
 * HUGE_VALF, SNANF, MATH_ERRNO, SEEK_SET, EXIT_FAILURE, L_tmpnam,
 * RENAME_NOREPLACE). */
static bool reserved_prefix(const char *s)
{
    static const char *const prefixes[] = {"cnnrt_", "CNNRT_",   "FP_",   "HUGE_VAL", "SNAN",
                                           "MATH_ERR", "SEEK_", "EXIT_", "RENAME_",  "L_"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return s[0] == 'M' && s[1] == '_' && (isupper((unsigned char)s[2]) || isdigit((unsigned char)s[2]));
}

/* A C identifier made from a label: "features.0" -> "features_0", "int" ->
 * "int_", "NAN" -> "NAN_" (a macro), "__LINE__" -> "t__LINE__" (names that
 * begin with __ or _ and a capital letter are the C implementation's, any of
 * them may be a macro, and one that ends in _ as well: a trailing _ is not
 * enough). */
static char *c_ident(const char *label)
{
    size_t n = strlen(label);
    char *s = xmalloc(n + 4);
    size_t j = 0;
    if (!isalpha((unsigned char)label[0]) && label[0] != '_')
        s[j++] = '_';
    else if (label[0] == '_' && (label[1] == '_' || isupper((unsigned char)label[1])))
        s[j++] = 't';
    for (size_t i = 0; i < n; i++)
        s[j++] = isalnum((unsigned char)label[i]) ? label[i] : '_';
    s[j] = '\0';
    if (is_c_keyword(s) || j == 0 || is_reserved(s) || reserved_prefix(s))
        s[j++] = '_';
    s[j] = '\0';
    return s;
}

static Node *find_node(const Graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0)
            return g->nodes[i];
    return NULL;
}

/* A tensor whose name differs from `name` by case only: the generated header's
 * macros (NET_X_SIZE) would be the same. */
static Tensor *find_tensor_nocase(const Graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcasecmp(g->tensors[i]->name, name) == 0)
            return g->tensors[i];
    return NULL;
}

/* A tensor C name not yet used, even ignoring case: base, or base_2, ... */
static char *unique_tensor_name(Graph *g, const char *base)
{
    char *id = c_ident(base);
    char *name = xstrdup(id);
    for (int k = 2; find_tensor_nocase(g, name); k++) {
        free(name);
        name = xasprintf("%s_%d", id, k);
    }
    free(id);
    return name;
}

/* Once the network has its name: the generated code's own names begin with
 * it, NET_ in upper case for macros (NET_BATCH, NET_H, NET_X_SIZE, NET_PARTS)
 * and net_ for the rest (net_arena, net_prof), so a tensor named so would be
 * replaced by a macro or hide a variable in net_run(). It gets a trailing _:
 * no generated name ends in _. */
static void rename_prefixed_tensors(Graph *g)
{
    char *lower = xasprintf("%s_", g->name), *upper = xstrdup(lower);
    size_t n = strlen(lower);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (int i = 0; i < g->ntensors; i++) {
        Tensor *t = g->tensors[i];
        if (strncmp(t->name, lower, n) != 0 && strncmp(t->name, upper, n) != 0)
            continue;
        char *base = xasprintf("%s_", t->name);
        char *name = xstrdup(base);
        for (int k = 2; find_tensor_nocase(g, name); k++) {
            free(name);
            name = xasprintf("%s_%d", base, k);
        }
        free(base);
        free(t->name);
        t->name = name;
    }
    free(lower);
    free(upper);
}

static Tensor *new_unique_tensor(Graph *g, const char *base)
{
    char *name = unique_tensor_name(g, base);
    Tensor *t = ir_tensor_new(g, name);
    free(name);
    return t;
}

static Tensor *find_binding(const Scope *sc, const char *name)
{
    for (int i = sc->nnames - 1; i >= 0; i--)
        if (strcmp(sc->names[i].name, name) == 0)
            return sc->names[i].t;
    return NULL;
}

/* "prefix.label", or just label at the top level. */
static char *qualify(const Scope *sc, const char *label)
{
    return sc->prefix[0] ? xasprintf("%s.%s", sc->prefix, label) : xstrdup(label);
}

/* A name for a tensor: a binding in scope (the input, `x = ...`, a block's
 * `in`), else the label of a layer in this scope, which names its output. */
static Tensor *lookup_tensor(Sema *s, const char *name)
{
    Tensor *t = find_binding(s->scope, name);
    if (t)
        return t;
    char *qualified = qualify(s->scope, name);
    Node *n = find_node(s->g, qualified);
    free(qualified);
    return n ? n->out : NULL;
}

/* Whether some name in this scope or a calling one refers to t. */
static bool is_bound(const Scope *sc, const Tensor *t)
{
    for (; sc; sc = sc->caller)
        for (int i = 0; i < sc->nnames; i++)
            if (sc->names[i].t == t)
                return true;
    return false;
}

static void bind(Scope *sc, const char *name, Tensor *t)
{
    sc->names = xrealloc(sc->names, sizeof *sc->names * (size_t)(sc->nnames + 1));
    sc->names[sc->nnames++] = (Binding){xstrdup(name), t};
}

/* Where a statement of stmts[n] defines the tensor `name` (`name = ...` or a
 * layer labelled name), or NULL. */
static const Loc *definition_in(const Stmt *stmts, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const Stmt *st = &stmts[i];
        if (st->kind != ST_CHAIN)
            continue;
        if (st->target && strcmp(st->target, name) == 0)
            return &st->target_loc;
        for (int j = 0; j < st->nlayers; j++)
            if (st->layers[j].label && strcmp(st->layers[j].label, name) == 0)
                return &st->layers[j].label_loc;
    }
    return NULL;
}

/* A name no tensor in scope has, which the scope defines further on: it is
 * used before its definition. Says so and where, since that is also how a
 * cycle (a = f(b), b = g(a)) shows. False if the name is not defined later. */
static bool used_before_definition(const Sema *s, const char *name, Loc loc)
{
    const Scope *sc = s->scope;
    const Loc *later = sc->block ? definition_in(sc->block->body, sc->block->nbody, name)
                                 : definition_in(s->prog->stmts, s->prog->nstmts, name);
    if (!later)
        return false;
    diag_error(loc, "tensor '%s' is used before its definition", name);
    diag_note(*later,
              "'%s' is defined here; a tensor must be defined before it is used, so "
              "the network cannot contain a cycle",
              name);
    return true;
}

static void unknown_tensor(const Sema *s, const char *name, Loc loc)
{
    if (used_before_definition(s, name, loc))
        return;
    const Scope *sc = s->scope;
    const char **names = xmalloc(sizeof *names * (size_t)(sc->nnames + 1));
    for (int i = 0; i < sc->nnames; i++)
        names[i] = sc->names[i].name;
    const char *near = nearest_name(name, names, sc->nnames);
    if (near)
        diag_error(loc, "no tensor named '%s'; did you mean '%s'?", name, near);
    else
        diag_error(loc, "no tensor named '%s'", name);
    free(names);
}

static const Stmt *find_block(const Sema *s, const char *name, int *index)
{
    for (int i = 0; i < s->nblocks; i++) {
        if (strcmp(s->blocks[i]->name, name) == 0) {
            if (index)
                *index = i;
            return s->blocks[i];
        }
    }
    return NULL;
}

/* ---- statements --------------------------------------------------------- */

static bool do_param(Sema *s, const Stmt *st)
{
    bool top = s->scope->block == NULL;
    const Param *old = top ? param_find(s->params, s->nparams, st->name)
                           : param_find(s->scope->params, s->scope->nparams, st->name);
    if (old) {
        diag_error(st->name_loc, "param '%s' is already defined", st->name);
        diag_note(old->loc, "first defined here");
        return false;
    }
    if (s->nparams >= IR_MAX_PARAMS) {
        diag_error(st->loc, "too many params (the limit is %d)", IR_MAX_PARAMS);
        return false;
    }
    Value v;
    Env env = env_of(s);
    if (!expr_eval(&env, st->value, &v) || (top && !defines_apply(s->opt, st->name, &v)))
        return false;
    if (top)
        param_add(&s->params, &s->nparams, st->name, v, st->name_loc);
    else
        param_add(&s->scope->params, &s->scope->nparams, st->name, v, st->name_loc);
    return true;
}

static bool do_input(Sema *s, const Stmt *st)
{
    if (s->input_stmt) {
        diag_error(st->loc, "only one input is supported");
        diag_note(s->input_stmt->loc, "the input is declared here");
        return false;
    }
    s->input_stmt = st;
    int64_t dims[IR_MAX_RANK];
    Env env = env_of(s);
    if (!network_input_dims(&env, st, s->g->batch, dims))
        return false;
    Tensor *t = new_unique_tensor(s->g, st->name);
    t->rank = st->ndims + 1;
    memcpy(t->dims, dims, sizeof dims);
    s->g->inputs[s->g->ninputs++] = t;
    bind(s->scope, st->name, t);
    s->scope->current = t;
    s->scope->current_loc = st->loc;
    return true;
}

/* The node name of a layer: its label, or "<op>_<n>", qualified by the scope. */
static char *layer_name(Sema *s, const char *label, OpKind op)
{
    if (label)
        return qualify(s->scope, label);
    for (;;) {
        char *auto_label = xasprintf("%s_%d", op_name(op), ++s->scope->op_counts[op]);
        char *name = qualify(s->scope, auto_label);
        free(auto_label);
        if (!find_node(s->g, name))
            return name;
        free(name);
    }
}

static bool unknown_op(Sema *s, const Layer *l)
{
    Env env = env_of(s);
    int count = 0;
    const char **names = xmalloc(sizeof *names * (size_t)(OP_COUNT + s->nblocks));
    for (int i = OP_NONE + 1; i < OP_COUNT; i++)
        names[count++] = op_name((OpKind)i);
    for (int i = 0; i < s->nblocks; i++)
        names[count++] = s->blocks[i]->name;
    const char *near = nearest_name(l->op, names, count);
    if (l->nargs == 0 && used_before_definition(s, l->op, l->op_loc))
        ; /* `b -> ...` before `b = ...` */
    else if (env_find(&env, l->op))
        diag_error(l->op_loc, "'%s' is a param, not an op", l->op);
    else if (near)
        diag_error(l->op_loc, "unknown op '%s'; did you mean '%s'?", l->op, near);
    else
        diag_error(l->op_loc, "unknown op '%s'", l->op);
    free(names);
    return false;
}

/* Inputs of add/mul/sub/div/concat: the incoming tensor (after '->'), then the arguments,
 * which must be tensor names; an op with attributes (concat's dim) takes them
 * named, after the tensors, into *as. */
static bool gather_inputs(Sema *s, const Layer *l, OpKind op, bool incoming, Tensor **ins, int *nin,
                          ArgSet *as)
{
    *nin = 0;
    if (incoming)
        ins[(*nin)++] = s->scope->current;
    const AttrSpec *spec = op_args(op);
    int ntensors = l->nargs;
    while (spec[0].name && ntensors > 0 && l->args[ntensors - 1].name)
        ntensors--;
    Layer named = *l;
    named.args = l->args + ntensors;
    named.nargs = l->nargs - ntensors;
    Env env = env_of(s);
    if (!args_match(&env, &named, spec, as))
        return false;
    for (int i = 0; i < ntensors; i++) {
        const Arg *a = &l->args[i];
        if (a->name || a->value->kind != EX_NAME) {
            diag_error(a->name ? a->name_loc : a->value->loc,
                       "%s takes tensor names as arguments, e.g. %s(x, y)", l->op, l->op);
            return false;
        }
        Tensor *t = lookup_tensor(s, a->value->str);
        if (!t) {
            unknown_tensor(s, a->value->str, a->value->loc);
            return false;
        }
        if (*nin == IR_MAX_NODE_INPUTS) {
            diag_error(a->value->loc, "%s takes at most %d tensors%s", l->op, IR_MAX_NODE_INPUTS,
                       op == OP_CONCAT ? "; concatenate the rest in a second concat" : "");
            return false;
        }
        ins[(*nin)++] = t;
    }
    int want = op_arity(op);
    if ((want > 0 && *nin != want) || (want < 0 && *nin < 2)) {
        diag_error(l->op_loc, "%s needs %s tensors, got %d%s", l->op,
                   want > 0 ? "two" : "two or more", *nin,
                   incoming ? " (counting the one coming in through '->')" : "");
        return false;
    }
    return true;
}

static bool apply_op(Sema *s, const Layer *l, OpKind op, const char *label, bool incoming)
{
    if (s->g->nnodes >= IR_MAX_NODES) {
        diag_error(l->label ? l->label_loc : l->op_loc,
                   "too many layers (the limit is %d per network)", IR_MAX_NODES);
        return false;
    }
    Tensor *ins[IR_MAX_NODE_INPUTS] = {s->scope->current};
    int nin = 1;
    ArgSet as;
    Env env = env_of(s);
    if (op_arity(op) == 0) {
        if (incoming) {
            diag_error(l->op_loc, "%s reads no tensor: it starts a chain, as 'k = %s(...)'", l->op,
                       l->op);
            return false;
        }
        nin = 0;
        if (!args_match(&env, l, op_args(op), &as))
            return false;
    } else if (op_arity(op) != 1) {
        if (!gather_inputs(s, l, op, incoming, ins, &nin, &as))
            return false;
    } else if (!args_match(&env, l, op_args(op), &as)) {
        return false;
    }
    for (int i = 0; i < nin; i++) {
        if (ir_is_constant(ins[i]) && !op_has(op, OPT_READS_CONST)) {
            diag_error(l->op_loc,
                       "%s cannot read the constant '%s' (only add, sub, mul, div, maximum, "
                       "minimum and concat read constants)",
                       l->op, ins[i]->label);
            return false;
        }
    }
    char *name = layer_name(s, label, op);
    Node *prev = find_node(s->g, name);
    if (prev) {
        diag_error(l->label ? l->label_loc : l->op_loc, "layer '%s' is already defined", name);
        diag_note(prev->loc, "first defined here");
        free(name);
        return false;
    }
    Node *n = ir_node_new(s->g, op, name, l->label ? l->label_loc : l->op_loc);
    free(name);
    ir_node_set_inputs(n, ins, nin);
    for (int i = 0; i < nin; i++)
        ins[i]->nconsumers++;
    n->out = new_unique_tensor(s->g, n->name);
    free(n->out->label);
    n->out->label = xstrdup(n->name);
    n->out->producer = n;
    if (!op_set_attrs(n, &as) || !infer_shape(n))
        return false;
    s->scope->current = n->out;
    return true;
}

static bool do_stmt(Sema *s, const Stmt *st);

static void free_scope(Scope *sc)
{
    for (int i = 0; i < sc->nparams; i++)
        free(sc->params[i].name);
    for (int i = 0; i < sc->nnames; i++)
        free(sc->names[i].name);
    free(sc->params);
    free(sc->names);
    free(sc->block_counts);
    free(sc->prefix);
}

static bool check_recursion(Sema *s, const Layer *l, const Stmt *b)
{
    for (const Scope *c = s->scope; c; c = c->caller) {
        if (c->block == b) {
            diag_error(l->op_loc, "block '%s' uses itself", b->name);
            diag_note(b->loc, "block '%s' is defined here", b->name);
            return false;
        }
    }
    if (s->scope->depth >= MAX_BLOCK_DEPTH) {
        diag_error(l->op_loc, "blocks nest more than %d deep", MAX_BLOCK_DEPTH);
        return false;
    }
    return true;
}

static bool expand_block(Sema *s, const Layer *l, const Stmt *b, int index, const char *label)
{
    if (!check_recursion(s, l, b))
        return false;
    Scope *caller = s->scope;
    char *auto_label = label ? NULL : xasprintf("%s_%d", b->name, ++caller->block_counts[index]);
    Scope inner = {.caller = caller, .block = b, .depth = caller->depth + 1};
    inner.prefix = qualify(caller, label ? label : auto_label);
    inner.block_counts = xcalloc((size_t)s->nblocks + 1, sizeof(int));
    inner.current = caller->current;
    inner.current_loc = caller->current_loc;
    bind(&inner, "in", caller->current);
    free(auto_label);
    Env env = env_of(s);
    bool ok = params_bind_block(&env, l, b, &inner.params, &inner.nparams);
    if (ok) {
        diag_push_context(l->label ? l->label_loc : l->op_loc, "in expansion of block '%s' as '%s'",
                          b->name, inner.prefix);
        s->scope = &inner;
        for (int i = 0; i < b->nbody && ok; i++)
            ok = do_stmt(s, &b->body[i]);
        s->scope = caller;
        diag_pop_context();
    }
    if (ok)
        caller->current = inner.result ? inner.result : inner.current;
    free_scope(&inner);
    return ok;
}

static bool apply_layer(Sema *s, const Layer *l, const char *label, bool incoming)
{
    OpKind op;
    int index;
    if (op_lookup(l->op, &op))
        return apply_op(s, l, op, label, incoming);
    const Stmt *b = find_block(s, l->op, &index);
    if (b)
        return expand_block(s, l, b, index, label);
    return unknown_op(s, l);
}

/* A layer, or `layer * N`: N copies in sequence labelled LABEL.0 .. LABEL.N-1. */
static bool do_layer(Sema *s, const Layer *l, bool incoming)
{
    if (!l->repeat)
        return apply_layer(s, l, l->label, incoming);
    int64_t count;
    Env env = env_of(s);
    if (!expr_repeat_count(&env, l->repeat, &count))
        return false;
    for (int64_t k = 0; k < count; k++) {
        char *label = l->label ? xasprintf("%s.%lld", l->label, (long long)k) : NULL;
        bool ok = apply_layer(s, l, label, incoming || k > 0);
        free(label);
        if (!ok)
            return false;
    }
    return true;
}

/* A chain's first element is its source tensor when it is a bare name (no
 * label, no arguments) that names a tensor: `x -> conv2d(...)`. */
static int chain_source(Sema *s, const Stmt *st)
{
    const Layer *first = &st->layers[0];
    if (st->nlayers < 1 || first->label || first->nargs > 0 || first->repeat)
        return 0;
    Tensor *t = lookup_tensor(s, first->op);
    if (!t)
        return 0;
    s->scope->current = t;
    return 1;
}

static bool do_chain(Sema *s, const Stmt *st)
{
    Scope *sc = s->scope;
    if (!sc->current) {
        diag_error(st->loc, "layers must come after the 'input' declaration");
        return false;
    }
    int first = chain_source(s, st);
    for (int i = first; i < st->nlayers; i++)
        if (!do_layer(s, &st->layers[i], i > 0))
            return false;
    if (st->target) {
        for (int i = 0; i < sc->nnames; i++) {
            if (strcmp(sc->names[i].name, st->target) == 0) {
                diag_error(st->target_loc, "tensor name '%s' is already used", st->target);
                return false;
            }
        }
        /* Name the C tensor after the user's name, unless it already is the input.
         * The name is the user's choice, so a clash is an error, not a rename;
         * names that differ only by case clash (the header's macros are upper case). */
        if (sc->current->producer && st->nlayers > first) {
            char *qualified = qualify(sc, st->target);
            char *id = c_ident(qualified); /* "int" is the tensor int_ */
            Tensor *t = find_tensor_nocase(s->g, id);
            if (t && t != sc->current && !is_bound(sc, t)) {
                /* Its name only came from a layer label (`e1 = e1: conv2d ...`):
                 * the explicit name wins and that tensor moves aside. */
                char *moved = unique_tensor_name(s->g, t->name);
                free(t->name);
                t->name = moved;
                t = NULL;
            }
            if (t && t != sc->current) {
                if (strcmp(t->name, id) != 0)
                    diag_error(st->target_loc,
                               "tensor name '%s' clashes with '%s' (the generated macros ignore "
                               "case)",
                               st->target, t->name);
                else
                    diag_error(st->target_loc, "tensor name '%s' is already used", st->target);
                free(id);
                free(qualified);
                return false;
            }
            free(sc->current->name);
            sc->current->name = id;
            free(sc->current->label);
            sc->current->label = qualified;
        }
        bind(sc, st->target, sc->current);
    }
    sc->current_loc = st->loc;
    return true;
}

static bool do_once(const Stmt **slot, const Stmt *st, const char *what)
{
    if (*slot) {
        diag_error(st->loc, "'%s' given twice", what);
        diag_note((*slot)->loc, "first given here");
        return false;
    }
    *slot = st;
    return true;
}

static bool do_init(Sema *s, const Stmt *st)
{
    Env env = env_of(s);
    return do_once(&s->init_stmt, st, "init") && network_init(&env, st, s->g);
}

/* `output a, b`: at the top level the graph outputs, in a block its result. */
static bool do_output(Sema *s, const Stmt *st)
{
    Scope *sc = s->scope;
    if (sc->block && st->nnames != 1) {
        diag_error(st->loc, "a block has one result: 'output NAME'");
        return false;
    }
    if (!sc->block && !do_once(&s->output_stmt, st, "output"))
        return false;
    for (int i = 0; i < st->nnames; i++) {
        Tensor *t = lookup_tensor(s, st->names[i]);
        if (!t) {
            unknown_tensor(s, st->names[i], st->name_locs[i]);
            return false;
        }
        if (sc->block)
            sc->result = t;
        else if (!network_add_output(s->g, t, st->names[i], st->name_locs[i]))
            return false;
    }
    return true;
}

static bool do_block_def(Sema *s, const Stmt *st)
{
    OpKind op;
    const Stmt *prev = find_block(s, st->name, NULL);
    if (op_lookup(st->name, &op)) {
        diag_error(st->name_loc, "block '%s' has the name of an op", st->name);
        return false;
    }
    if (prev) {
        diag_error(st->name_loc, "block '%s' is already defined", st->name);
        diag_note(prev->loc, "first defined here");
        return false;
    }
    if (!params_check_block(st))
        return false;
    s->blocks = xrealloc(s->blocks, sizeof *s->blocks * (size_t)(s->nblocks + 1));
    s->blocks[s->nblocks++] = st;
    s->scope->block_counts = xrealloc(s->scope->block_counts, sizeof(int) * (size_t)s->nblocks);
    s->scope->block_counts[s->nblocks - 1] = 0;
    return true;
}

/* `prune ...`: its arguments now, its targets once every layer exists
 * (prune_stmt.c), so the statement may come first. */
static bool do_prune(Sema *s, const Stmt *st)
{
    Env env = env_of(s);
    if (!prune_stmt_add(&env, st, s->g))
        return false;
    s->prune_stmts = xrealloc(s->prune_stmts, sizeof *s->prune_stmts * (size_t)s->g->nprunes);
    s->prune_stmts[s->g->nprunes - 1] = st;
    return true;
}

static bool do_stmt(Sema *s, const Stmt *st)
{
    static const char *only_top[] = {"network", "input", "weights", "init", NULL,
                                     NULL,      NULL,    "block",   "prune"};
    bool in_block = s->scope->block != NULL;
    if (in_block && (st->kind == ST_NETWORK || st->kind == ST_INPUT || st->kind == ST_WEIGHTS ||
                     st->kind == ST_INIT || st->kind == ST_BLOCK || st->kind == ST_PRUNE)) {
        diag_error(st->loc, "'%s' is not allowed inside a block", only_top[st->kind]);
        return false;
    }
    switch (st->kind) {
    case ST_NETWORK:
        return do_once(&s->network_stmt, st, "network");
    case ST_INPUT:
        return do_input(s, st);
    case ST_WEIGHTS:
        return do_once(&s->weights_stmt, st, "weights");
    case ST_INIT:
        return do_init(s, st);
    case ST_PARAM:
        return do_param(s, st);
    case ST_CHAIN:
        return do_chain(s, st);
    case ST_OUTPUT:
        return do_output(s, st);
    case ST_BLOCK:
        return do_block_def(s, st);
    case ST_PRUNE:
        return do_prune(s, st);
    }
    die("bad statement kind %d", (int)st->kind);
}

/* Why a network name cannot prefix the generated code's names, or NULL:
 * NAME_H is the header's include guard and NAME_ begins every symbol, so
 * "_stdio" would take glibc's _STDIO_H (and every _X name is the C
 * implementation's), "cnnrt" the runtime's CNNRT_H and cnnrt_ names,
 * "fp_fast" <math.h>'s FP_FAST_FMA (the .c defines NET_FMA), and "main"
 * --main's main_x variables. */
static const char *bad_network_name(const char *name)
{
    if (name[0] == '_')
        return "cannot begin with '_' (its macros would be names reserved to the C "
               "implementation, such as <stdio.h>'s include guard _STDIO_H)";
    if (strncasecmp(name, "cnnrt", 5) == 0 && (name[5] == '\0' || name[5] == '_'))
        return "is reserved: cnnrt and cnnrt_... (in any case) are the runtime's names";
    if (strncasecmp(name, "fp_", 3) == 0) /* NET_FMA, for network fp_fast */
        return "is reserved: FP_... are <math.h>'s names (FP_FAST_FMA)";
    if (strcmp(name, "main") == 0)
        return "is reserved: --main's code has main_ names";
    return NULL;
}

/* The network name: --name, else `network NAME`, else the file name's stem
 * (made a C identifier, and one bad_network_name() accepts: "cnnrt.cnn" is
 * network n_cnnrt, "_x.cnn" n_x). */
static bool set_name(Sema *s)
{
    const char *name = s->opt->name;
    Loc loc = {0};
    char *stem = NULL;
    if (!name && s->network_stmt) {
        name = s->network_stmt->name;
        loc = s->network_stmt->name_loc;
    }
    if (!name) {
        const char *path = s->opt->source_path ? s->opt->source_path : "net";
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        const char *dot = strrchr(base, '.');
        char *raw = xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
        stem = c_ident(raw);
        free(raw);
        if (bad_network_name(stem)) {
            char *prefixed = xasprintf("%s%s", stem[0] == '_' ? "n" : "n_", stem);
            free(stem);
            stem = prefixed;
        }
        name = stem;
    }
    bool ok = isalpha((unsigned char)name[0]) || name[0] == '_';
    for (const char *p = name; *p; p++)
        ok = ok && (isalnum((unsigned char)*p) || *p == '_');
    if (!ok)
        diag_error(loc, "network name '%s' is not a C identifier", name);
    else if (strlen(name) > AST_MAX_NAME)
        diag_error(loc, "network name '%.40s...' is too long (%zu bytes; the limit is %d)", name,
                   strlen(name), AST_MAX_NAME);
    else if (bad_network_name(name)) {
        diag_error(loc, "network name '%s' %s", name, bad_network_name(name));
        ok = false;
    } else {
        s->g->name = xstrdup(name);
        rename_prefixed_tensors(s->g);
    }
    free(stem);
    return ok;
}

Graph *ir_build(const Program *prog, const BuildOptions *opt)
{
    Scope top = {.prefix = xstrdup("")};
    Sema s = {.opt = opt, .prog = prog, .g = ir_graph_new(), .scope = &top};
    s.g->batch = opt->batch;
    int errors = diag_error_count();
    for (int i = 0; i < prog->nstmts; i++)
        if (!do_stmt(&s, &prog->stmts[i]))
            break; /* later statements depend on this one: stop at the first error */
    if (diag_error_count() == errors)
        defines_check_used(opt, s.params, s.nparams);
    if (diag_error_count() == errors && !s.input_stmt)
        diag_error((Loc){0}, "the network has no 'input' declaration");
    if (diag_error_count() == errors)
        prune_stmts_resolve(s.g, s.prune_stmts);
    if (diag_error_count() == errors)
        set_name(&s);
    if (diag_error_count() == errors)
        network_weights(s.g, opt, s.weights_stmt, s.init_stmt);
    if (diag_error_count() == errors && s.g->noutputs == 0)
        s.g->outputs[s.g->noutputs++] = top.current;
    for (int i = 0; diag_error_count() == errors && i < s.g->noutputs; i++)
        if (s.g->outputs[i]->producer == NULL)
            diag_error(s.output_stmt ? s.output_stmt->loc : top.current_loc,
                       "the network output '%s' is its input: add at least one layer",
                       s.g->outputs[i]->label);
        else if (ir_is_constant(s.g->outputs[i]))
            diag_error(s.output_stmt ? s.output_stmt->loc : top.current_loc,
                       "the network output '%s' is a constant: outputs are computed tensors",
                       s.g->outputs[i]->label);
        else if (s.g->outputs[i]->quant)
            diag_error(s.output_stmt ? s.output_stmt->loc : top.current_loc,
                       "the network output '%s' is quantized (quint8): add a dequantize layer "
                       "(outputs are float32)",
                       s.g->outputs[i]->label);
    for (int i = 0; i < s.nparams; i++)
        free(s.params[i].name);
    free(s.params);
    free(s.blocks);
    free(s.prune_stmts);
    free_scope(&top);
    if (diag_error_count() != errors) {
        ir_graph_free(s.g);
        return NULL;
    }
    return s.g;
}
