/* ast.h - the syntax tree of a .cnn file, and the parser that builds it.
 *
 * The parser (grammar/parser.y, grammar/lexer.l) only builds these nodes; it
 * evaluates nothing and knows no ops. Meaning is given by ir.h's ir_build().
 * Every node carries the Loc of its first token for diagnostics.
 * See docs/language.md for the language itself. */
#ifndef CNNC_AST_H
#define CNNC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef enum ExprKind {
    EX_INT,   /* ival */
    EX_FLOAT, /* fval */
    EX_BOOL,  /* ival: 0 or 1 */
    EX_STR,   /* str */
    EX_NAME,  /* str: a param (or, in args, a tensor name) */
    EX_BINOP, /* op is one of + - * / %; lhs, rhs */
    EX_NEG,   /* -lhs */
    EX_TUPLE, /* items[nitems], nitems >= 2: (h, w) */
} ExprKind;

typedef struct Expr {
    ExprKind kind;
    Loc loc;
    int64_t ival;
    double fval;
    char *str;
    char op;
    struct Expr *lhs, *rhs;
    struct Expr **items;
    int nitems;
} Expr;

/* One argument of a layer: `value` (name == NULL) or `name = value`. */
typedef struct Arg {
    char *name;
    Loc name_loc;
    Expr *value;
} Arg;

/* `[label:] op[(args)] [* N]` */
typedef struct Layer {
    char *label; /* NULL when unlabelled; a dotted path like "features.0" or any string */
    Loc label_loc;
    char *op;
    Loc op_loc;
    Arg *args;
    int nargs;
    Expr *repeat; /* `* N`: N copies in sequence, labelled LABEL.0 .. LABEL.N-1; NULL = once */
} Layer;

typedef enum StmtKind {
    ST_NETWORK, /* name */
    ST_INPUT,   /* name, dims[ndims] */
    ST_WEIGHTS, /* str (file name) */
    ST_INIT,    /* name (scheme: "he", "xavier"), args[nargs] */
    ST_PARAM,   /* name, value */
    ST_CHAIN,   /* target (NULL if none), source (NULL: previous result), layers[nlayers] */
    ST_OUTPUT,  /* names[nnames] */
    ST_BLOCK,   /* name, args[nargs] (parameters: name, default value or NULL), body[nbody] */
    ST_PRUNE,   /* args[nargs] (amount=, structured=), names[nnames] (layer labels or "*") */
} StmtKind;

typedef struct Stmt {
    StmtKind kind;
    Loc loc;      /* first token of the statement */
    char *name;
    Loc name_loc;
    char *str;
    Expr *value;
    Expr **dims;
    int ndims;
    Arg *args;
    int nargs;
    char *target; /* ST_CHAIN: `target = ...` */
    Loc target_loc;
    char *source; /* ST_CHAIN: `source -> ...` */
    Loc source_loc;
    Layer *layers;
    int nlayers;
    char **names; /* ST_OUTPUT, ST_PRUNE */
    Loc *name_locs;
    int nnames;
    struct Stmt *body; /* ST_BLOCK */
    int nbody;
} Stmt;

typedef struct Program {
    Stmt *stmts;
    int nstmts;
} Program;

/* Parse a whole .cnn source (src[len] need not be NUL-terminated; it may contain
 * NUL bytes, which are reported as errors). Syntax errors are reported through
 * diag.h (call diag_set_source first); returns NULL if there was any. Never
 * crashes or recurses without bound on hostile input. */
Program *parse_program(const char *src, size_t len);

/* Nesting limit for parentheses in expressions; deeper input is an error. */
#define AST_MAX_DEPTH 64
/* Longest name or dotted label, and longest string, in bytes; longer is an error. */
#define AST_MAX_NAME 255
#define AST_MAX_STRING 4096

/* Constructors used by the parser actions (compiler/ast.c). */
Expr *ast_int(Loc loc, int64_t v);
Expr *ast_float(Loc loc, double v);
Expr *ast_bool(Loc loc, bool v);
Expr *ast_str(Loc loc, char *s);
Expr *ast_name(Loc loc, char *s);
Expr *ast_binop(Loc loc, char op, Expr *lhs, Expr *rhs);
Expr *ast_neg(Loc loc, Expr *e);
Expr *ast_tuple(Loc loc, Expr **items, int n);

void ast_free(Program *p);
/* Print the AST back as .cnn-like text (used by tests and --emit=ast). */
void ast_print(const Program *p, void *file /* FILE* */);

#endif
