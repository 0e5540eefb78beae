/* ast.c - syntax tree constructors, freeing and printing (see ast.h). */
#include "ast.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h" /* ast_free_expr() and friends, shared with the parser */
#include "util.h"

/* ---- constructors --------------------------------------------------------- */

static Expr *new_expr(ExprKind kind, Loc loc)
{
    Expr *e = xcalloc(1, sizeof *e);
    e->kind = kind;
    e->loc = loc;
    return e;
}

Expr *ast_int(Loc loc, int64_t v)
{
    Expr *e = new_expr(EX_INT, loc);
    e->ival = v;
    return e;
}

Expr *ast_float(Loc loc, double v)
{
    Expr *e = new_expr(EX_FLOAT, loc);
    e->fval = v;
    return e;
}

Expr *ast_bool(Loc loc, bool v)
{
    Expr *e = new_expr(EX_BOOL, loc);
    e->ival = v;
    return e;
}

Expr *ast_str(Loc loc, char *s)
{
    Expr *e = new_expr(EX_STR, loc);
    e->str = s;
    return e;
}

Expr *ast_name(Loc loc, char *s)
{
    Expr *e = new_expr(EX_NAME, loc);
    e->str = s;
    return e;
}

Expr *ast_binop(Loc loc, char op, Expr *lhs, Expr *rhs)
{
    Expr *e = new_expr(EX_BINOP, loc);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    return e;
}

Expr *ast_neg(Loc loc, Expr *operand)
{
    Expr *e = new_expr(EX_NEG, loc);
    e->lhs = operand;
    return e;
}

Expr *ast_tuple(Loc loc, Expr **items, int n)
{
    Expr *e = new_expr(EX_TUPLE, loc);
    e->items = items;
    e->nitems = n;
    return e;
}

/* ---- freeing -------------------------------------------------------------- */

void ast_free_expr(Expr *e)
{
    if (!e)
        return;
    free(e->str);
    ast_free_expr(e->lhs);
    ast_free_expr(e->rhs);
    for (int i = 0; i < e->nitems; i++)
        ast_free_expr(e->items[i]);
    free(e->items);
    free(e);
}

void ast_free_args(Arg *args, int n)
{
    for (int i = 0; i < n; i++) {
        free(args[i].name);
        ast_free_expr(args[i].value);
    }
    free(args);
}

void ast_free_layer(Layer *l)
{
    free(l->label);
    free(l->op);
    ast_free_args(l->args, l->nargs);
    ast_free_expr(l->repeat);
}

void ast_free_stmt(Stmt *s)
{
    free(s->name);
    free(s->str);
    ast_free_expr(s->value);
    for (int i = 0; i < s->ndims; i++)
        ast_free_expr(s->dims[i]);
    free(s->dims);
    ast_free_args(s->args, s->nargs);
    free(s->target);
    free(s->source);
    for (int i = 0; i < s->nlayers; i++)
        ast_free_layer(&s->layers[i]);
    free(s->layers);
    for (int i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
    free(s->name_locs);
    for (int i = 0; i < s->nbody; i++)
        ast_free_stmt(&s->body[i]);
    free(s->body);
}

void ast_free(Program *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nstmts; i++)
        ast_free_stmt(&p->stmts[i]);
    free(p->stmts);
    free(p);
}

/* ---- printing ------------------------------------------------------------- */

static void print_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* %.17g reads back as the same double; keep a '.' so it reads back as a float. */
static void print_float(FILE *f, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
    if (!strpbrk(buf, ".eEn"))
        fputs(".0", f);
}

/* Binding strength: + - < * / % < unary - < literals and brackets. */
static int prec(const Expr *e)
{
    if (e->kind == EX_BINOP)
        return e->op == '+' || e->op == '-' ? 1 : 2;
    return e->kind == EX_NEG ? 3 : 4;
}

/* Print e, in parentheses if it binds less tightly than min_prec. */
static void print_expr(FILE *f, const Expr *e, int min_prec)
{
    int p = prec(e);
    if (p < min_prec)
        fputc('(', f);
    switch (e->kind) {
    case EX_INT:
        fprintf(f, "%" PRId64, e->ival);
        break;
    case EX_FLOAT:
        print_float(f, e->fval);
        break;
    case EX_BOOL:
        fputs(e->ival ? "true" : "false", f);
        break;
    case EX_STR:
        print_string(f, e->str);
        break;
    case EX_NAME:
        fputs(e->str, f);
        break;
    case EX_BINOP:
        print_expr(f, e->lhs, p);
        fprintf(f, " %c ", e->op);
        print_expr(f, e->rhs, p + 1); /* left-associative */
        break;
    case EX_NEG:
        fputc('-', f);
        print_expr(f, e->lhs, p);
        break;
    case EX_TUPLE:
        fputc('(', f);
        for (int i = 0; i < e->nitems; i++) {
            fputs(i ? ", " : "", f);
            print_expr(f, e->items[i], 0);
        }
        fputc(')', f);
        break;
    }
    if (p < min_prec)
        fputc(')', f);
}

static void print_args(FILE *f, const Arg *args, int n)
{
    if (n == 0)
        return;
    fputc('(', f);
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        if (args[i].name)
            fprintf(f, "%s=", args[i].name);
        print_expr(f, args[i].value, 0);
    }
    fputc(')', f);
}

static bool is_keyword(const char *s, size_t n)
{
    static const char *const kw[] = {"network", "input", "weights", "init", "param",
                                     "output",  "block", "prune",   "true", "false"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && memcmp(kw[i], s, n) == 0)
            return true;
    return false;
}

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the float literal that the scanner would match at the start of s. */
static size_t float_prefix(const char *s)
{
    size_t i = 0;
    while (is_digit(s[i]))
        i++;
    if (i == 0)
        return 0;
    size_t end = 0;
    if (s[i] == '.') {
        i++;
        while (is_digit(s[i]))
            i++;
        end = i;
    }
    size_t j = i;
    if (s[j] == 'e' || s[j] == 'E') {
        j++;
        if (s[j] == '+' || s[j] == '-')
            j++;
        if (is_digit(s[j])) {
            while (is_digit(s[j]))
                j++;
            end = j;
        }
    }
    return end;
}

/* Whether a label reads back as itself without quotes: an identifier, a dotted
 * path that does not scan as a float, or an integer in canonical form. */
static bool label_is_bare(const char *s)
{
    size_t n = strlen(s), dots = 0;
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && s[i - 1] == '.')
            return false;
        if (s[i] == '.')
            dots++;
        else if (!is_word_char(s[i]))
            return false;
    }
    if (dots > 0)
        return float_prefix(s) < n;
    if (!is_digit(s[0]))
        return !is_keyword(s, n);
    size_t digits = strspn(s, "0123456789");
    return digits == n && n <= 18 && (s[0] != '0' || n == 1);
}

static void print_layer(FILE *f, const Layer *l)
{
    if (l->label) {
        if (label_is_bare(l->label))
            fputs(l->label, f);
        else
            print_string(f, l->label);
        fputs(": ", f);
    }
    fputs(l->op, f);
    print_args(f, l->args, l->nargs);
    if (l->repeat) {
        fputs(" * (", f);
        print_expr(f, l->repeat, 0);
        fputc(')', f);
    }
}

/* Block parameters: `(c, stride=1)`; a parameter without a default has no value. */
static void print_params(FILE *f, const Arg *args, int n)
{
    fputc('(', f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s%s", i ? ", " : "", args[i].name);
        if (args[i].value) {
            fputc('=', f);
            print_expr(f, args[i].value, 0);
        }
    }
    fputc(')', f);
}

static void print_stmt(FILE *f, const Stmt *s, int indent)
{
    fprintf(f, "%*s", indent * 4, "");
    switch (s->kind) {
    case ST_NETWORK:
        fprintf(f, "network %s", s->name);
        break;
    case ST_INPUT:
        fprintf(f, "input %s[", s->name);
        for (int i = 0; i < s->ndims; i++) {
            fputs(i ? ", " : "", f);
            print_expr(f, s->dims[i], 0);
        }
        fputc(']', f);
        break;
    case ST_WEIGHTS:
        fputs("weights ", f);
        print_string(f, s->str);
        break;
    case ST_INIT:
        fprintf(f, "init %s", s->name);
        print_args(f, s->args, s->nargs);
        break;
    case ST_PARAM:
        fprintf(f, "param %s = ", s->name);
        print_expr(f, s->value, 0);
        break;
    case ST_CHAIN:
        if (s->target)
            fprintf(f, "%s = ", s->target);
        if (s->source)
            fprintf(f, "%s -> ", s->source);
        for (int i = 0; i < s->nlayers; i++) {
            fputs(i ? " -> " : "", f);
            print_layer(f, &s->layers[i]);
        }
        break;
    case ST_OUTPUT:
        fputs("output ", f);
        for (int i = 0; i < s->nnames; i++)
            fprintf(f, "%s%s", i ? ", " : "", s->names[i]);
        break;
    case ST_PRUNE:
        fputs("prune", f);
        print_args(f, s->args, s->nargs);
        for (int i = 0; i < s->nnames; i++) {
            fputs(i ? ", " : " ", f);
            if (strcmp(s->names[i], "*") == 0 || label_is_bare(s->names[i]))
                fputs(s->names[i], f);
            else
                print_string(f, s->names[i]);
        }
        break;
    case ST_BLOCK:
        fprintf(f, "block %s", s->name);
        print_params(f, s->args, s->nargs);
        fputs(" {\n", f);
        for (int i = 0; i < s->nbody; i++)
            print_stmt(f, &s->body[i], indent + 1);
        fprintf(f, "%*s}", indent * 4, "");
        break;
    }
    fputc('\n', f);
}

void ast_print(const Program *p, void *file)
{
    FILE *f = file;
    for (int i = 0; i < p->nstmts; i++)
        print_stmt(f, &p->stmts[i], 0);
}
