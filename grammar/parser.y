/* parser.y - the .cnn grammar (docs/language.md); builds the AST of ast.h.
 *
 * The scanner (lexer.l) has already decided where statements end: every
 * statement here is followed by exactly one NEWLINE token. A syntax error skips
 * to the end of its statement, so several errors can be reported per file.
 * The first element of a chain is always parsed as a layer; whether a bare
 * name there is a source tensor or an op without arguments is for sema. */

%code requires {
#include <stdbool.h>

#include "ast.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* An expression being built, and the depth of its tree (bounded by AST_MAX_DEPTH). */
typedef struct ExprVal {
    Expr *e;
    int depth;
} ExprVal;

typedef struct ExprVec {
    Expr **items;
    int n, cap, depth;
} ExprVec;

typedef struct ArgVec {
    Arg *items;
    int n, cap;
} ArgVec;

typedef struct LayerVec {
    Layer *items;
    int n, cap;
} LayerVec;

#define PARSE_TEXT_MAX 40

/* The state of one parse_program() call, shared by scanner and parser (it is
 * the flex "extra" data). */
typedef struct ParseState {
    const char *src;
    size_t len, off;             /* off: bytes consumed by the scanner */
    int line, col;               /* position of src[off] */
    int depth;                   /* open ( and [ */
    Loc open_loc[AST_MAX_DEPTH]; /* where each open bracket is */
    char open_ch[AST_MAX_DEPTH];
    Loc popped_loc; /* the bracket closed by the last ')' or ']' */
    char popped_ch; /* 0 if there was none */
    int tok, prev_tok; /* the last two tokens returned; 0 before the first */
    char text[PARSE_TEXT_MAX], prev_text[PARSE_TEXT_MAX];
    int end_line, end_col; /* just past the last token other than NEWLINE */
    int arrow_line;        /* the last line joined to the one before by its leading '->' */
    Program *prog;
    int cap; /* of prog->stmts */
} ParseState;

/* ast.c: freeing of partial trees (Bison's %destructor and error recovery). */
void ast_free_expr(Expr *e);
void ast_free_args(Arg *args, int n);
void ast_free_layer(Layer *l);
void ast_free_stmt(Stmt *s);
}

%code provides {
static inline Loc loc_from_yy(const YYLTYPE *l)
{
    int len = l->first_line == l->last_line ? l->last_column - l->first_column : 1;
    return (Loc){l->first_line, l->first_column, len > 0 ? len : 1};
}
}

%code {
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexer.h"
#include "util.h"

#define PS ((ParseState *)yyget_extra(scanner))
#define LOC(l) loc_from_yy(&(l))

static void yyerror(YYLTYPE *loc, yyscan_t scanner, const char *msg);
static ExprVal leaf(Expr *e);
static bool binop(ExprVal *out, char op, ExprVal l, ExprVal r, YYLTYPE loc);
static bool negate(ExprVal *out, ExprVal e, YYLTYPE loc);
static bool tuple(ExprVal *out, ExprVec *v, YYLTYPE loc);
static void exprs_push(ExprVec *v, ExprVal e);
static void exprs_free(ExprVec *v);
static void args_push(ArgVec *v, Arg a);
static void layers_push(LayerVec *v, Layer l);
static void layers_free(LayerVec *v);
static Layer make_layer(char *label, YYLTYPE label_loc, char *op, YYLTYPE op_loc, ArgVec *args);
static Stmt *stmt_new(StmtKind kind, YYLTYPE loc);
static Stmt *stmt_named(StmtKind kind, YYLTYPE loc, char *name, YYLTYPE name_loc);
static Stmt *stmt_chain(LayerVec *layers);
static void name_push(Stmt *s, char *name, YYLTYPE loc);
static void body_push(Stmt *s, Stmt *item);
static void append_stmt(ParseState *ps, Stmt *s);
}

%define api.pure full
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%locations
%param {yyscan_t scanner}

%union {
    char *str;
    int64_t ival;
    double fval;
    ExprVal ex;
    ExprVec exs;
    Arg arg;
    ArgVec args;
    Layer layer;
    LayerVec layers;
    Stmt *stmt;
}

%token NEWLINE "end of line"
%token ARROW "'->'"
%token NETWORK "'network'" INPUT "'input'" WEIGHTS "'weights'" INIT "'init'"
%token PARAM "'param'" OUTPUT "'output'" BLOCK "'block'" TRUE "'true'" FALSE "'false'"
%token PRUNE "'prune'"
%token <str> IDENT "a name"
%token <str> PATH "a dotted label"
%token <str> STRING "a string"
%token <ival> INT "an integer"
%token <fval> FLOAT "a number"

%type <stmt> stmt block names targets
%type <stmt> body stmts
%type <arg> param
%type <args> params opt_params
%type <ex> opt_repeat
%type <ex> expr
%type <exs> exprs items
%type <arg> arg
%type <args> args opt_args
%type <layer> layer
%type <layers> chain
%type <str> label target

%destructor { free($$); } <str>
%destructor { ast_free_expr($$.e); } <ex>
%destructor { exprs_free(&$$); } <exs>
%destructor { ast_free_args(&$$, 1); } <arg>
%destructor { ast_free_args($$.items, $$.n); } <args>
%destructor { ast_free_layer(&$$); } <layer>
%destructor { layers_free(&$$); } <layers>
%destructor { ast_free_stmt($$); free($$); } <stmt>

%left '+' '-'
%left '*' '/' '%'
%precedence NEG

%%

program
    : %empty
    | program stmt NEWLINE      { append_stmt(PS, $2); }
    | program block NEWLINE     { append_stmt(PS, $2); }
    | program error NEWLINE     { yyerrok; }
    ;

stmt
    : NETWORK IDENT                 { $$ = stmt_named(ST_NETWORK, @1, $2, @2); }
    | INPUT IDENT '[' exprs ']'     {
                                        $$ = stmt_named(ST_INPUT, @1, $2, @2);
                                        $$->dims = $4.items;
                                        $$->ndims = $4.n;
                                    }
    | WEIGHTS STRING                {
                                        $$ = stmt_new(ST_WEIGHTS, @1);
                                        $$->str = $2;
                                        $$->name_loc = LOC(@2);
                                    }
    | INIT IDENT opt_args           {
                                        $$ = stmt_named(ST_INIT, @1, $2, @2);
                                        $$->args = $3.items;
                                        $$->nargs = $3.n;
                                    }
    | PARAM IDENT '=' expr          {
                                        $$ = stmt_named(ST_PARAM, @1, $2, @2);
                                        $$->value = $4.e;
                                    }
    | OUTPUT names                  { $$ = $2; $$->loc = LOC(@1); }
    | PRUNE opt_args targets        {
                                        $$ = $3;
                                        $$->loc = LOC(@1);
                                        $$->args = $2.items;
                                        $$->nargs = $2.n;
                                    }
    | chain                         { $$ = stmt_chain(&$1); }
    | IDENT '=' chain               {
                                        $$ = stmt_chain(&$3);
                                        $$->loc = $$->target_loc = LOC(@1);
                                        $$->target = $1;
                                    }
    ;

/* block := 'block' IDENT [params] '{' body '}'   (only at the top level) */
block
    : BLOCK IDENT opt_params '{' body '}' {
                                        $$ = $5;
                                        $$->kind = ST_BLOCK;
                                        $$->loc = LOC(@1);
                                        $$->name = $2;
                                        $$->name_loc = LOC(@2);
                                        $$->args = $3.items;
                                        $$->nargs = $3.n;
                                    }
    ;

/* names := IDENT { ',' IDENT }   (the tensors of an output statement) */
names
    : IDENT                         {
                                        $$ = stmt_named(ST_OUTPUT, @1, $1, @1);
                                        name_push($$, xstrdup($1), @1);
                                    }
    | names ',' IDENT               { $$ = $1; name_push($$, $3, @3); }
    ;

/* targets := target { ',' target },  target := label | '*'   (of a prune statement) */
targets
    : target                        {
                                        $$ = stmt_new(ST_PRUNE, @1);
                                        name_push($$, $1, @1);
                                    }
    | targets ',' target            { $$ = $1; name_push($$, $3, @3); }
    ;

target
    : label
    | '*'                           { $$ = xstrdup("*"); }
    ;

/* body := { stmt NEWLINE } [ stmt ]   (the last statement may share the '}' line) */
body
    : stmts
    | stmts stmt                    { $$ = $1; body_push($$, $2); }
    ;

stmts
    : %empty                        { $$ = xcalloc(1, sizeof *$$); }
    | stmts NEWLINE
    | stmts stmt NEWLINE            { $$ = $1; body_push($$, $2); }
    | stmts error NEWLINE           { $$ = $1; yyerrok; }
    ;

/* opt_params := [ '(' [ param { ',' param } ] ')' ],  param := IDENT [ '=' expr ] */
opt_params
    : %empty                        { $$ = (ArgVec){0}; }
    | '(' ')'                       { $$ = (ArgVec){0}; }
    | '(' params ')'                { $$ = $2; }
    ;

params
    : param                         { $$ = (ArgVec){0}; args_push(&$$, $1); }
    | params ',' param              { $$ = $1; args_push(&$$, $3); }
    ;

param
    : IDENT                         { $$ = (Arg){$1, LOC(@1), NULL}; }
    | IDENT '=' expr                { $$ = (Arg){$1, LOC(@1), $3.e}; }
    ;

/* chain := layer { '->' layer } */
chain
    : layer                     { $$ = (LayerVec){0}; layers_push(&$$, $1); }
    | chain ARROW layer         { $$ = $1; layers_push(&$$, $3); }
    ;

/* layer := [label ':'] IDENT [ '(' [args] ')' ] [ '*' repeat ] */
layer
    : IDENT opt_args opt_repeat { $$ = make_layer(NULL, @1, $1, @1, &$2); $$.repeat = $3.e; }
    | label ':' IDENT opt_args opt_repeat {
                                    $$ = make_layer($1, @1, $3, @3, &$4);
                                    $$.repeat = $5.e;
                                }
    ;

/* repeat := INT | IDENT | '(' expr ')' */
opt_repeat
    : %empty                    { $$ = (ExprVal){NULL, 0}; }
    | '*' INT                   { $$ = leaf(ast_int(LOC(@2), $2)); }
    | '*' IDENT                 { $$ = leaf(ast_name(LOC(@2), $2)); }
    | '*' '(' expr ')'          { $$ = $3; }
    ;

label
    : IDENT
    | PATH
    | STRING
    | INT                       { $$ = xasprintf("%" PRId64, $1); }
    ;

/* opt_args := [ '(' [ arg { ',' arg } ] ')' ] */
opt_args
    : %empty                    { $$ = (ArgVec){0}; }
    | '(' ')'                   { $$ = (ArgVec){0}; }
    | '(' args ')'              { $$ = $2; }
    ;

args
    : arg                       { $$ = (ArgVec){0}; args_push(&$$, $1); }
    | args ',' arg              {
                                    $$ = $1;
                                    if (!$3.name && $1.items[$1.n - 1].name)
                                        diag_error(LOC(@3),
                                                   "positional argument after named argument "
                                                   "'%s' (write values first, then NAME=value)",
                                                   $1.items[$1.n - 1].name);
                                    args_push(&$$, $3);
                                }
    ;

arg
    : expr                      { $$ = (Arg){NULL, {0, 0, 0}, $1.e}; }
    | IDENT '=' expr            { $$ = (Arg){$1, LOC(@1), $3.e}; }
    ;

exprs
    : expr                      { $$ = (ExprVec){0}; exprs_push(&$$, $1); }
    | exprs ',' expr            { $$ = $1; exprs_push(&$$, $3); }
    ;

/* The items of a tuple: two or more. */
items
    : expr ',' expr             { $$ = (ExprVec){0}; exprs_push(&$$, $1); exprs_push(&$$, $3); }
    | items ',' expr            { $$ = $1; exprs_push(&$$, $3); }
    ;

expr
    : expr '+' expr             { if (!binop(&$$, '+', $1, $3, @$)) YYERROR; }
    | expr '-' expr             { if (!binop(&$$, '-', $1, $3, @$)) YYERROR; }
    | expr '*' expr             { if (!binop(&$$, '*', $1, $3, @$)) YYERROR; }
    | expr '/' expr             { if (!binop(&$$, '/', $1, $3, @$)) YYERROR; }
    | expr '%' expr             { if (!binop(&$$, '%', $1, $3, @$)) YYERROR; }
    | '-' expr %prec NEG        { if (!negate(&$$, $2, @$)) YYERROR; }
    | '(' expr ')'              { $$ = $2; }
    | '(' items ')'             { if (!tuple(&$$, &$2, @$)) YYERROR; }
    | INT                       { $$ = leaf(ast_int(LOC(@1), $1)); }
    | FLOAT                     { $$ = leaf(ast_float(LOC(@1), $1)); }
    | TRUE                      { $$ = leaf(ast_bool(LOC(@1), true)); }
    | FALSE                     { $$ = leaf(ast_bool(LOC(@1), false)); }
    | STRING                    { $$ = leaf(ast_str(LOC(@1), $1)); }
    | IDENT                     { $$ = leaf(ast_name(LOC(@1), $1)); }
    ;

%%

/* ---- building the tree ---------------------------------------------------- */

static ExprVal leaf(Expr *e)
{
    return (ExprVal){e, 1};
}

/* Every new node checks the depth of its tree so that no later stage can be
 * made to recurse without bound. On failure the operands are freed. */
static bool depth_ok(int depth, YYLTYPE loc)
{
    if (depth <= AST_MAX_DEPTH)
        return true;
    diag_error(LOC(loc), "expression is nested too deeply (the limit is %d levels)",
               AST_MAX_DEPTH);
    return false;
}

static bool binop(ExprVal *out, char op, ExprVal l, ExprVal r, YYLTYPE loc)
{
    int depth = 1 + (l.depth > r.depth ? l.depth : r.depth);
    if (!depth_ok(depth, loc)) {
        ast_free_expr(l.e);
        ast_free_expr(r.e);
        return false;
    }
    *out = (ExprVal){ast_binop(LOC(loc), op, l.e, r.e), depth};
    return true;
}

static bool negate(ExprVal *out, ExprVal e, YYLTYPE loc)
{
    if (!depth_ok(e.depth + 1, loc)) {
        ast_free_expr(e.e);
        return false;
    }
    *out = (ExprVal){ast_neg(LOC(loc), e.e), e.depth + 1};
    return true;
}

static bool tuple(ExprVal *out, ExprVec *v, YYLTYPE loc)
{
    if (!depth_ok(v->depth + 1, loc)) {
        exprs_free(v);
        return false;
    }
    *out = (ExprVal){ast_tuple(LOC(loc), v->items, v->n), v->depth + 1};
    return true;
}

/* Grow *items (of *cap elements of size elem) to hold at least n + 1. */
static void *grow(void *items, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return items;
    if (*cap > INT32_MAX / 2)
        die("too many items");
    *cap = *cap ? 2 * *cap : 4;
    return xrealloc(items, (size_t)*cap * elem);
}

static void exprs_push(ExprVec *v, ExprVal e)
{
    v->items = grow(v->items, v->n, &v->cap, sizeof *v->items);
    v->items[v->n++] = e.e;
    if (e.depth > v->depth)
        v->depth = e.depth;
}

static void exprs_free(ExprVec *v)
{
    for (int i = 0; i < v->n; i++)
        ast_free_expr(v->items[i]);
    free(v->items);
}

static void args_push(ArgVec *v, Arg a)
{
    v->items = grow(v->items, v->n, &v->cap, sizeof *v->items);
    v->items[v->n++] = a;
}

static void layers_push(LayerVec *v, Layer l)
{
    v->items = grow(v->items, v->n, &v->cap, sizeof *v->items);
    v->items[v->n++] = l;
}

static void layers_free(LayerVec *v)
{
    for (int i = 0; i < v->n; i++)
        ast_free_layer(&v->items[i]);
    free(v->items);
}

static Layer make_layer(char *label, YYLTYPE label_loc, char *op, YYLTYPE op_loc, ArgVec *args)
{
    Layer l = {0};
    l.label = label;
    if (label)
        l.label_loc = LOC(label_loc);
    l.op = op;
    l.op_loc = LOC(op_loc);
    l.args = args->items;
    l.nargs = args->n;
    return l;
}

static Stmt *stmt_new(StmtKind kind, YYLTYPE loc)
{
    Stmt *s = xcalloc(1, sizeof *s);
    s->kind = kind;
    s->loc = LOC(loc);
    return s;
}

static Stmt *stmt_named(StmtKind kind, YYLTYPE loc, char *name, YYLTYPE name_loc)
{
    Stmt *s = stmt_new(kind, loc);
    s->name = name;
    s->name_loc = LOC(name_loc);
    return s;
}

static void name_push(Stmt *s, char *name, YYLTYPE loc)
{
    s->names = xrealloc(s->names, sizeof *s->names * (size_t)(s->nnames + 1));
    s->name_locs = xrealloc(s->name_locs, sizeof *s->name_locs * (size_t)(s->nnames + 1));
    s->names[s->nnames] = name;
    s->name_locs[s->nnames++] = LOC(loc);
}

/* Append a statement (taking over its contents) to a block body. */
static void body_push(Stmt *s, Stmt *item)
{
    s->body = xrealloc(s->body, sizeof *s->body * (size_t)(s->nbody + 1));
    s->body[s->nbody++] = *item;
    free(item);
}

/* A chain statement is located at its first token: the first layer's label or op. */
static Stmt *stmt_chain(LayerVec *layers)
{
    Stmt *s = xcalloc(1, sizeof *s);
    s->kind = ST_CHAIN;
    Layer *first = &layers->items[0];
    s->loc = first->label ? first->label_loc : first->op_loc;
    s->layers = layers->items;
    s->nlayers = layers->n;
    return s;
}

static void append_stmt(ParseState *ps, Stmt *s)
{
    Program *p = ps->prog;
    p->stmts = grow(p->stmts, p->nstmts, &ps->cap, sizeof *p->stmts);
    p->stmts[p->nstmts++] = *s;
    free(s);
}

/* ---- syntax errors -------------------------------------------------------- */

static void yyerror(YYLTYPE *loc, yyscan_t scanner, const char *msg)
{
    (void)scanner;
    /* Bison's only own message: its stack is full (e.g. 10000 unary minuses). */
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "expression is nested too deeply";
    diag_error(LOC(*loc), "%s", msg);
}

/* Quote token text for a message, escaping what is not printable ASCII. */
static void quote(char *out, size_t size, const char *text, char q)
{
    size_t n = 0;
    out[n++] = q;
    for (const char *p = text; *p && n + 6 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 32 && c < 127)
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
    }
    out[n++] = q;
    out[n] = '\0';
}

/* How a token reads in a message: 'foo', end of line, string "x", ... */
static void describe(char *out, size_t size, int tok, const char *text)
{
    if (tok == TOK_YYEOF || (tok == TOK_NEWLINE && !*text))
        snprintf(out, size, "end of file");
    else if (tok == TOK_NEWLINE && *text == '\n')
        snprintf(out, size, "end of line");
    else if (tok == TOK_STRING) {
        char q[2 * PARSE_TEXT_MAX];
        quote(q, sizeof q, text, '\'');
        snprintf(out, size, "string %s", q);
    } else
        quote(out, size, text, '\'');
}

/* The bracket that an expected ')' or ']' would close, or NULL. */
static const char *open_bracket_of(const ParseState *ps, Loc *loc)
{
    int d = ps->depth;
    if (ps->tok == '(' || ps->tok == '[')
        d--; /* the lookahead itself opened one */
    if (ps->tok == ')' || ps->tok == ']') {
        if (!ps->popped_ch)
            return NULL;
        *loc = ps->popped_loc;
        return ps->popped_ch == '(' ? "(" : "[";
    }
    if (d <= 0)
        return NULL;
    *loc = ps->open_loc[d - 1];
    return ps->open_ch[d - 1] == '(' ? "(" : "[";
}

typedef struct Expected {
    yysymbol_kind_t sym[YYNTOKENS];
    int n;
} Expected;

static bool expects(const Expected *e, yysymbol_kind_t sym)
{
    for (int i = 0; i < e->n; i++)
        if (e->sym[i] == sym)
            return true;
    return false;
}

/* "expected ',' or ')'": the expected tokens, binary operators left out (they
 * are always possible after a value and only add noise). NULL if too many. */
static char *expected_list(const Expected *e)
{
    static const char ops[] = "+-*/%";
    StrBuf sb = {0};
    const char *names[7];
    int n = 0;
    const char *closer = NULL; /* reads best last: "expected ',' or ')'" */
    for (int i = 0; i < e->n && n < 6; i++) {
        bool is_op = false;
        for (const char *o = ops; *o; o++)
            is_op |= e->sym[i] == YYTRANSLATE((unsigned char)*o);
        if (e->sym[i] == YYTRANSLATE(')') || e->sym[i] == YYTRANSLATE(']'))
            closer = yysymbol_name(e->sym[i]);
        else if (!is_op)
            names[n++] = yysymbol_name(e->sym[i]);
    }
    if (closer)
        names[n++] = closer;
    if (n == 0 || n > 5)
        return NULL;
    sb_puts(&sb, "expected ");
    for (int i = 0; i < n; i++)
        sb_printf(&sb, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return sb.data;
}

static char *syntax_message(const ParseState *ps, const Expected *e, const char *found)
{
    char after[2 * PARSE_TEXT_MAX + 16];
    describe(after, sizeof after, ps->prev_tok, ps->prev_text);
    if (expects(e, YYSYMBOL_NETWORK))
        return xasprintf("unexpected %s at start of statement%s", found,
                         ps->tok == TOK_FLOAT ? " (a label that looks like a number must be "
                                                "quoted, as in \"0.1\": ...)"
                                              : "");
    switch (ps->prev_tok) {
    case ':':
        return xasprintf("expected an op name after ':', found %s", found);
    case TOK_ARROW:
        return xasprintf("expected a layer after '->', found %s", found);
    case TOK_WEIGHTS:
        return xasprintf("expected a file name in quotes after 'weights', found %s", found);
    case TOK_NETWORK:
    case TOK_INPUT:
    case TOK_INIT:
    case TOK_PARAM:
    case TOK_OUTPUT:
        return xasprintf("expected a name after %s, found %s", after, found);
    }
    if (expects(e, YYSYMBOL_FLOAT))
        return xasprintf("expected a value after %s, found %s", after, found);
    if (expects(e, YYSYMBOL_PATH))
        return xasprintf("expected a layer after %s, found %s", after, found);
    Loc open = {0, 0, 0};
    const char *br = open_bracket_of(ps, &open);
    char *list = expected_list(e);
    char *msg;
    if (br && (expects(e, YYTRANSLATE(')')) || expects(e, YYTRANSLATE(']'))))
        msg = xasprintf("%s to close '%s' at %d:%d, found %s", list ? list : "expected a bracket",
                        br, open.line, open.col, found);
    else if (e->n == 1 && e->sym[0] == YYSYMBOL_NEWLINE)
        msg = xasprintf("expected end of statement after %s, found %s%s", after, found,
                        ps->tok == TOK_ARROW && ps->end_line == ps->arrow_line
                            ? " (a line starting with '->' continues the line before)"
                            : "");
    else if (list)
        msg = xasprintf("%s, found %s", list, found);
    else
        msg = xasprintf("unexpected %s", found);
    free(list);
    return msg;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner)
{
    ParseState *ps = PS;
    Expected e;
    e.n = yypcontext_expected_tokens(ctx, e.sym, YYNTOKENS);
    if (e.n < 0)
        return e.n;
    char found[2 * PARSE_TEXT_MAX + 16];
    describe(found, sizeof found, ps->tok, ps->text);
    Loc loc = loc_from_yy(yypcontext_location(ctx));
    char *msg = syntax_message(ps, &e, found);
    diag_error(loc, "%s", msg);
    free(msg);
    /* An error on a later line than an open bracket most likely means that the
     * bracket was never closed: forget it, so that recovery stops at this line. */
    if (ps->depth > 0 && loc.line > ps->open_loc[0].line)
        ps->depth = 0;
    return 0;
}

/* ---- entry point ---------------------------------------------------------- */

Program *parse_program(const char *src, size_t len)
{
    int errors = diag_error_count();
    if (len > INT32_MAX - 2) {
        diag_error((Loc){0, 0, 0}, "input is too large (%zu bytes)", len);
        return NULL;
    }
    ParseState ps = {.src = src ? src : "", .len = len, .line = 1, .col = 1};
    ps.prog = xcalloc(1, sizeof *ps.prog);
    yyscan_t scanner;
    if (yylex_init_extra(&ps, &scanner) != 0)
        die("cannot create the scanner");
    YY_BUFFER_STATE buf = yy_scan_bytes(ps.src, (int)len, scanner);
    yyparse(scanner);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    if (diag_error_count() != errors) {
        ast_free(ps.prog);
        return NULL;
    }
    return ps.prog;
}
