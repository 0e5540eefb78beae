/* test_parse.c - the scanner, the parser and ast_print (Check). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ast.h"
#include "diag.h"
#include "util.h"

/* ---- helpers -------------------------------------------------------------- */

static Program *parse_n(const char *src, size_t len)
{
    diag_reset();
    diag_set_source("t.cnn", src, len);
    return parse_program(src, len);
}

/* Parse text that must be valid. */
static Program *parse_ok(const char *src)
{
    Program *p = parse_n(src, strlen(src));
    ck_assert_msg(p != NULL, "parse failed: %s", src);
    ck_assert_int_eq(diag_error_count(), 0);
    return p;
}

/* Parse src[len], which must be invalid, and return what was printed on stderr. */
static char *parse_err_n(const char *src, size_t len)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    dup2(fileno(tmp), 2);
    Program *p = parse_n(src, len);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_msg(p == NULL, "expected a parse error for: %.*s", (int)len, src);
    ck_assert_int_gt(diag_error_count(), 0);
    long n = lseek(fileno(tmp), 0, SEEK_END);
    char *text = xmalloc((size_t)n + 1);
    rewind(tmp);
    size_t got = fread(text, 1, (size_t)n, tmp);
    text[got] = '\0';
    fclose(tmp);
    return text;
}

static char *parse_err(const char *src)
{
    return parse_err_n(src, strlen(src));
}

/* Assert that parsing src fails with `needle` in the messages. */
#define ck_assert_error(src, needle)                                                               \
    do {                                                                                           \
        char *msg_ = parse_err(src);                                                               \
        ck_assert_msg(strstr(msg_, needle) != NULL, "expected \"%s\" in:\n%s", needle, msg_);      \
        free(msg_);                                                                                \
    } while (0)

static char *print_program(const Program *p)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ast_print(p, f);
    fclose(f);
    return buf;
}

/* Parse src and return ast_print's text. */
static char *normalise(const char *src)
{
    Program *p = parse_ok(src);
    char *text = print_program(p);
    ast_free(p);
    return text;
}

#define ck_assert_prints(src, expected)                                                            \
    do {                                                                                           \
        char *t_ = normalise(src);                                                                 \
        ck_assert_str_eq(t_, expected);                                                            \
        free(t_);                                                                                  \
    } while (0)

/* The value of `param x = <src>`. */
static Program *param_program(const char *expr)
{
    char *src = xasprintf("param x = %s\n", expr);
    Program *p = parse_ok(src);
    free(src);
    ck_assert_int_eq(p->nstmts, 1);
    ck_assert_int_eq(p->stmts[0].kind, ST_PARAM);
    return p;
}

static void ck_loc(Loc loc, int line, int col, int len)
{
    ck_assert_int_eq(loc.line, line);
    ck_assert_int_eq(loc.col, col);
    ck_assert_int_eq(loc.len, len);
}

/* ---- statements ----------------------------------------------------------- */
START_TEST(output_list)
{
    Program *p = parse_ok("output p3, p4,\np5\n");
    ck_assert_int_eq(p->nstmts, 1);
    const Stmt *st = &p->stmts[0];
    ck_assert_int_eq(st->kind, ST_OUTPUT);
    ck_assert_int_eq(st->nnames, 3);
    ck_assert_str_eq(st->names[0], "p3");
    ck_assert_str_eq(st->names[2], "p5");
    ck_loc(st->name_locs[1], 1, 12, 2);
    ck_loc(st->name_locs[2], 2, 1, 2);
    ast_free(p);
}
END_TEST

START_TEST(block_def)
{
    Program *p = parse_ok("block basic(c, stride = 1) {\n"
                          "    y = conv1: conv2d(c, 3, stride=stride) -> relu\n"
                          "\n"
                          "    add(y, in)   # the skip\n"
                          "}\n"
                          "block one() { relu }\n");
    ck_assert_int_eq(p->nstmts, 2);
    const Stmt *b = &p->stmts[0];
    ck_assert_int_eq(b->kind, ST_BLOCK);
    ck_assert_str_eq(b->name, "basic");
    ck_loc(b->loc, 1, 1, 5);
    ck_assert_int_eq(b->nargs, 2);
    ck_assert_str_eq(b->args[0].name, "c");
    ck_assert_ptr_null(b->args[0].value);
    ck_assert_str_eq(b->args[1].name, "stride");
    ck_assert_int_eq(b->args[1].value->ival, 1);
    ck_assert_int_eq(b->nbody, 2);
    ck_assert_int_eq(b->body[0].kind, ST_CHAIN);
    ck_assert_str_eq(b->body[0].target, "y");
    ck_assert_int_eq(b->body[0].nlayers, 2);
    ck_assert_str_eq(b->body[1].layers[0].op, "add");
    ck_assert_int_eq(b->body[1].layers[0].nargs, 2);
    ck_assert_int_eq(p->stmts[1].nbody, 1); /* last statement on the '}' line */
    ck_assert_str_eq(p->stmts[1].body[0].layers[0].op, "relu");
    ast_free(p);
    ck_assert_prints("block b(c, k=3) {\nconv2d(c, k)\n}\n",
                     "block b(c, k=3) {\n    conv2d(c, k)\n}\n");
}
END_TEST

START_TEST(layer_repeat)
{
    Program *p = parse_ok("layer1: basic(64) * 2 -> relu * n -> tanh * (k + 1)\n");
    const Stmt *st = &p->stmts[0];
    ck_assert_int_eq(st->nlayers, 3);
    ck_assert_str_eq(st->layers[0].label, "layer1");
    ck_assert_int_eq(st->layers[0].repeat->kind, EX_INT);
    ck_assert_int_eq(st->layers[0].repeat->ival, 2);
    ck_assert_int_eq(st->layers[1].repeat->kind, EX_NAME);
    ck_assert_int_eq(st->layers[2].repeat->kind, EX_BINOP);
    ast_free(p);
    ck_assert_prints("a: b(1) * 2\n", "a: b(1) * (2)\n");
}
END_TEST

START_TEST(error_block_nesting)
{
    ck_assert_error("block a() {\n    block b() { relu }\n}\n",
                    "t.cnn:2:5: error: unexpected 'block' at start of statement");
    ck_assert_error("block a() {\n    relu\n", "t.cnn:");
}
END_TEST



START_TEST(empty_file)
{
    Program *p = parse_ok("");
    ck_assert_int_eq(p->nstmts, 0);
    ast_free(p);
    p = parse_ok("\n\n  # only a comment\n\t\n;;\n");
    ck_assert_int_eq(p->nstmts, 0);
    ast_free(p);
}
END_TEST

START_TEST(network_stmt)
{
    Program *p = parse_ok("network lenet5\n");
    ck_assert_int_eq(p->nstmts, 1);
    Stmt *s = &p->stmts[0];
    ck_assert_int_eq(s->kind, ST_NETWORK);
    ck_assert_str_eq(s->name, "lenet5");
    ck_loc(s->loc, 1, 1, 7);
    ck_loc(s->name_loc, 1, 9, 6);
    ast_free(p);
}
END_TEST

START_TEST(input_stmt)
{
    Program *p = parse_ok("input image[1, 28, 2 * 14]");
    Stmt *s = &p->stmts[0];
    ck_assert_int_eq(s->kind, ST_INPUT);
    ck_assert_str_eq(s->name, "image");
    ck_assert_int_eq(s->ndims, 3);
    ck_assert_int_eq(s->dims[0]->kind, EX_INT);
    ck_assert_int_eq(s->dims[0]->ival, 1);
    ck_assert_int_eq(s->dims[1]->ival, 28);
    ck_assert_int_eq(s->dims[2]->kind, EX_BINOP);
    ck_assert_int_eq(s->dims[2]->op, '*');
    ck_loc(s->dims[1]->loc, 1, 16, 2);
    ast_free(p);

    p = parse_ok("input v[784]\n");
    ck_assert_int_eq(p->stmts[0].ndims, 1);
    ck_assert_int_eq(p->stmts[0].dims[0]->ival, 784);
    ast_free(p);
}
END_TEST

START_TEST(weights_stmt)
{
    Program *p = parse_ok("weights \"dir/a \\\"b\\\" \\\\c.safetensors\"\n");
    Stmt *s = &p->stmts[0];
    ck_assert_int_eq(s->kind, ST_WEIGHTS);
    ck_assert_str_eq(s->str, "dir/a \"b\" \\c.safetensors");
    ck_loc(s->name_loc, 1, 9, 29);
    ast_free(p);
}
END_TEST

START_TEST(init_stmt)
{
    Program *p = parse_ok("init he(seed=42)\ninit xavier\ninit he()\n");
    ck_assert_int_eq(p->nstmts, 3);
    Stmt *s = &p->stmts[0];
    ck_assert_int_eq(s->kind, ST_INIT);
    ck_assert_str_eq(s->name, "he");
    ck_assert_int_eq(s->nargs, 1);
    ck_assert_str_eq(s->args[0].name, "seed");
    ck_loc(s->args[0].name_loc, 1, 9, 4);
    ck_assert_int_eq(s->args[0].value->ival, 42);
    ck_assert_str_eq(p->stmts[1].name, "xavier");
    ck_assert_int_eq(p->stmts[1].nargs, 0);
    ck_assert_int_eq(p->stmts[2].nargs, 0);
    ast_free(p);
}
END_TEST

START_TEST(param_and_output_stmts)
{
    Program *p = parse_ok("param k = 5\nparam eps = 1e-5\noutput logits\n");
    ck_assert_int_eq(p->nstmts, 3);
    ck_assert_int_eq(p->stmts[0].kind, ST_PARAM);
    ck_assert_str_eq(p->stmts[0].name, "k");
    ck_assert_int_eq(p->stmts[0].value->kind, EX_INT);
    ck_assert_int_eq(p->stmts[0].value->ival, 5);
    ck_assert_int_eq(p->stmts[1].value->kind, EX_FLOAT);
    ck_assert_double_eq(p->stmts[1].value->fval, 1e-5);
    ck_assert_int_eq(p->stmts[2].kind, ST_OUTPUT);
    ck_assert_str_eq(p->stmts[2].name, "logits");
    ck_loc(p->stmts[2].name_loc, 3, 8, 6);
    ast_free(p);
}
END_TEST

START_TEST(chain_stmt)
{
    Program *p = parse_ok("conv1: conv2d(6, kernel=k, pad=k/2) -> relu -> maxpool(2)\n");
    Stmt *s = &p->stmts[0];
    ck_assert_int_eq(s->kind, ST_CHAIN);
    ck_assert_ptr_null(s->target);
    ck_assert_ptr_null(s->source);
    ck_loc(s->loc, 1, 1, 5);
    ck_assert_int_eq(s->nlayers, 3);

    Layer *l = &s->layers[0];
    ck_assert_str_eq(l->label, "conv1");
    ck_loc(l->label_loc, 1, 1, 5);
    ck_assert_str_eq(l->op, "conv2d");
    ck_loc(l->op_loc, 1, 8, 6);
    ck_assert_int_eq(l->nargs, 3);
    ck_assert_ptr_null(l->args[0].name);
    ck_assert_int_eq(l->args[0].value->ival, 6);
    ck_assert_str_eq(l->args[1].name, "kernel");
    ck_assert_int_eq(l->args[1].value->kind, EX_NAME);
    ck_assert_str_eq(l->args[1].value->str, "k");
    ck_assert_str_eq(l->args[2].name, "pad");
    ck_assert_int_eq(l->args[2].value->kind, EX_BINOP);
    ck_assert_int_eq(l->args[2].value->op, '/');
    ck_loc(l->args[2].value->loc, 1, 32, 3);

    ck_assert_ptr_null(s->layers[1].label);
    ck_assert_str_eq(s->layers[1].op, "relu");
    ck_assert_int_eq(s->layers[1].nargs, 0);
    ck_assert_str_eq(s->layers[2].op, "maxpool");
    ck_assert_int_eq(s->layers[2].args[0].value->ival, 2);
    ast_free(p);
}
END_TEST

START_TEST(chain_target_and_first_name)
{
    /* `y` may be a source tensor or an op: the parser keeps it as a layer. */
    Program *p = parse_ok("x = y -> relu\nflatten\n");
    Stmt *s = &p->stmts[0];
    ck_assert_str_eq(s->target, "x");
    ck_loc(s->target_loc, 1, 1, 1);
    ck_loc(s->loc, 1, 1, 1);
    ck_assert_ptr_null(s->source);
    ck_assert_int_eq(s->nlayers, 2);
    ck_assert_str_eq(s->layers[0].op, "y");
    ck_assert_ptr_null(s->layers[0].label);
    ck_assert_int_eq(p->stmts[1].nlayers, 1);
    ck_assert_str_eq(p->stmts[1].layers[0].op, "flatten");
    ast_free(p);
}
END_TEST

START_TEST(labels)
{
    Program *p = parse_ok("features.0: conv2d(64)\n"
                          "layer1.0.conv1: conv2d(8)\n"
                          "\"0.1\": conv2d(8, 3)\n"
                          "0: linear(10)\n"
                          "0.1.weight: relu\n"
                          "output.0: relu\n");
    ck_assert_int_eq(p->nstmts, 6);
    ck_assert_str_eq(p->stmts[0].layers[0].label, "features.0");
    ck_loc(p->stmts[0].layers[0].label_loc, 1, 1, 10);
    ck_assert_str_eq(p->stmts[1].layers[0].label, "layer1.0.conv1");
    ck_assert_str_eq(p->stmts[2].layers[0].label, "0.1");
    ck_assert_str_eq(p->stmts[2].layers[0].op, "conv2d");
    ck_assert_str_eq(p->stmts[3].layers[0].label, "0");
    ck_assert_str_eq(p->stmts[4].layers[0].label, "0.1.weight");
    ck_assert_str_eq(p->stmts[5].layers[0].label, "output.0");
    ast_free(p);
}
END_TEST

START_TEST(arg_order)
{
    Program *p = parse_ok("avgpool(3, 2, pad=1, ceil_mode=true, count_include_pad=false)");
    Layer *l = &p->stmts[0].layers[0];
    ck_assert_int_eq(l->nargs, 5);
    ck_assert_int_eq(l->args[0].value->ival, 3);
    ck_assert_int_eq(l->args[1].value->ival, 2);
    ck_assert_str_eq(l->args[2].name, "pad");
    ck_assert_str_eq(l->args[3].name, "ceil_mode");
    ck_assert_int_eq(l->args[3].value->kind, EX_BOOL);
    ck_assert_int_eq(l->args[3].value->ival, 1);
    ck_assert_str_eq(l->args[4].name, "count_include_pad");
    ck_assert_int_eq(l->args[4].value->ival, 0);
    ast_free(p);
}
END_TEST

/* ---- expressions ---------------------------------------------------------- */

START_TEST(precedence)
{
    Program *p = param_program("1 + 2 * 3");
    Expr *e = p->stmts[0].value;
    ck_assert_int_eq(e->kind, EX_BINOP);
    ck_assert_int_eq(e->op, '+');
    ck_assert_int_eq(e->lhs->ival, 1);
    ck_assert_int_eq(e->rhs->kind, EX_BINOP);
    ck_assert_int_eq(e->rhs->op, '*');
    ck_assert_int_eq(e->rhs->lhs->ival, 2);
    ck_assert_int_eq(e->rhs->rhs->ival, 3);
    ck_loc(e->loc, 1, 11, 9);
    ast_free(p);

    /* Left associativity: (7 - 2) - 1 and (8 / 4) % 3. */
    p = param_program("7 - 2 - 1");
    e = p->stmts[0].value;
    ck_assert_int_eq(e->op, '-');
    ck_assert_int_eq(e->lhs->kind, EX_BINOP);
    ck_assert_int_eq(e->rhs->ival, 1);
    ast_free(p);
    p = param_program("8 / 4 % 3");
    e = p->stmts[0].value;
    ck_assert_int_eq(e->op, '%');
    ck_assert_int_eq(e->lhs->op, '/');
    ast_free(p);

    p = param_program("(1 + 2) * 3");
    e = p->stmts[0].value;
    ck_assert_int_eq(e->op, '*');
    ck_assert_int_eq(e->lhs->op, '+');
    ast_free(p);
}
END_TEST

START_TEST(unary_minus)
{
    /* Unary minus binds tighter than * and %: (-2) * 3. */
    Program *p = param_program("-2 * 3");
    Expr *e = p->stmts[0].value;
    ck_assert_int_eq(e->op, '*');
    ck_assert_int_eq(e->lhs->kind, EX_NEG);
    ck_assert_int_eq(e->lhs->lhs->ival, 2);
    ck_loc(e->lhs->loc, 1, 11, 2);
    ast_free(p);

    p = param_program("1 - -k");
    e = p->stmts[0].value;
    ck_assert_int_eq(e->op, '-');
    ck_assert_int_eq(e->rhs->kind, EX_NEG);
    ck_assert_str_eq(e->rhs->lhs->str, "k");
    ast_free(p);

    p = param_program("-(1 + 2)");
    e = p->stmts[0].value;
    ck_assert_int_eq(e->kind, EX_NEG);
    ck_assert_int_eq(e->lhs->op, '+');
    ast_free(p);
}
END_TEST

START_TEST(tuples)
{
    Program *p = parse_ok("maxpool(kernel=(2, 3), stride=((1, 2), k), pad=((4)))");
    Layer *l = &p->stmts[0].layers[0];
    Expr *t = l->args[0].value;
    ck_assert_int_eq(t->kind, EX_TUPLE);
    ck_assert_int_eq(t->nitems, 2);
    ck_assert_int_eq(t->items[0]->ival, 2);
    ck_assert_int_eq(t->items[1]->ival, 3);
    ck_loc(t->loc, 1, 16, 6);
    t = l->args[1].value;
    ck_assert_int_eq(t->kind, EX_TUPLE);
    ck_assert_int_eq(t->items[0]->kind, EX_TUPLE);
    ck_assert_int_eq(t->items[1]->kind, EX_NAME);
    ck_assert_int_eq(l->args[2].value->kind, EX_INT); /* parentheses are not a tuple */
    ck_assert_int_eq(l->args[2].value->ival, 4);
    ast_free(p);

    p = param_program("(1, 2, 3)");
    ck_assert_int_eq(p->stmts[0].value->nitems, 3);
    ast_free(p);
}
END_TEST

START_TEST(literals)
{
    Program *p =
        parse_ok("f(0.5, 1e-5, 2., 1.5e-3, 1.5, true, false, \"s\", name, 9223372036854775807)");
    Arg *a = p->stmts[0].layers[0].args;
    ck_assert_int_eq(p->stmts[0].layers[0].nargs, 10);
    ck_assert_int_eq(a[0].value->kind, EX_FLOAT);
    ck_assert_double_eq(a[0].value->fval, 0.5);
    ck_assert_double_eq(a[1].value->fval, 1e-5);
    ck_assert_int_eq(a[2].value->kind, EX_FLOAT);
    ck_assert_double_eq(a[2].value->fval, 2.0);
    ck_assert_double_eq(a[3].value->fval, 1.5e-3);
    ck_assert_int_eq(a[4].value->kind, EX_FLOAT); /* not a dotted path */
    ck_assert_double_eq(a[4].value->fval, 1.5);
    ck_assert_int_eq(a[5].value->kind, EX_BOOL);
    ck_assert_int_eq(a[5].value->ival, 1);
    ck_assert_int_eq(a[6].value->ival, 0);
    ck_assert_int_eq(a[7].value->kind, EX_STR);
    ck_assert_str_eq(a[7].value->str, "s");
    ck_assert_int_eq(a[8].value->kind, EX_NAME);
    ck_assert_int_eq(a[9].value->kind, EX_INT);
    ck_assert(a[9].value->ival == INT64_MAX);
    ast_free(p);
}
END_TEST

/* ---- layout: white space, comments, line ends ---------------------------- */

START_TEST(crlf_and_tabs)
{
    Program *p = parse_ok("network n\r\n\tinput\tx[1,\t2]\r\n\r\nconv1:\tconv2d(3)\t->\trelu\r\n");
    ck_assert_int_eq(p->nstmts, 3);
    ck_assert_str_eq(p->stmts[0].name, "n");
    ck_assert_int_eq(p->stmts[1].ndims, 2);
    ck_loc(p->stmts[1].loc, 2, 2, 5);
    ck_assert_int_eq(p->stmts[2].nlayers, 2);
    ck_loc(p->stmts[2].layers[1].op_loc, 4, 21, 4);
    ast_free(p);
}
END_TEST

START_TEST(comments_everywhere)
{
    Program *p = parse_ok("# header\n"
                          "network n # trailing\n"
                          "   # indented\n"
                          "conv2d(3, # in args\n"
                          "  kernel=3 # more\n"
                          ") -> # after arrow\n"
                          "  relu # end\n"
                          "#no newline at end");
    ck_assert_int_eq(p->nstmts, 2);
    ck_assert_int_eq(p->stmts[1].nlayers, 2);
    ck_assert_int_eq(p->stmts[1].layers[0].nargs, 2);
    ck_assert_str_eq(p->stmts[1].layers[1].op, "relu");
    ast_free(p);
}
END_TEST

START_TEST(continuation_lines)
{
    /* '->' at the end of a line, and a line starting with '->' (past blank
     * and comment lines). */
    Program *p = parse_ok("a ->\n"
                          "  b\n"
                          "    -> c\n"
                          "\n"
                          "  # comment\n"
                          "\t-> d\n"
                          "e\n");
    ck_assert_int_eq(p->nstmts, 2);
    ck_assert_int_eq(p->stmts[0].nlayers, 4);
    ck_assert_str_eq(p->stmts[0].layers[3].op, "d");
    ck_loc(p->stmts[0].layers[3].op_loc, 6, 5, 1);
    ck_assert_str_eq(p->stmts[1].layers[0].op, "e");
    ast_free(p);
}
END_TEST

START_TEST(newlines_in_brackets)
{
    Program *p = parse_ok("input x[\n  1,\n  28,\n  28\n]\nc(\n  1,\n\n  k = (2,\n 3)\n)\n");
    ck_assert_int_eq(p->nstmts, 2);
    ck_assert_int_eq(p->stmts[0].ndims, 3);
    ck_assert_int_eq(p->stmts[1].layers[0].nargs, 2);
    ck_assert_int_eq(p->stmts[1].layers[0].args[1].value->kind, EX_TUPLE);
    ast_free(p);
}
END_TEST

START_TEST(semicolons)
{
    Program *p = parse_ok("network n; param k = 3;input x[1]\n;a -> b; c;\n");
    ck_assert_int_eq(p->nstmts, 5);
    ck_assert_int_eq(p->stmts[1].kind, ST_PARAM);
    ck_assert_int_eq(p->stmts[2].kind, ST_INPUT);
    ck_assert_int_eq(p->stmts[3].nlayers, 2);
    ck_assert_str_eq(p->stmts[4].layers[0].op, "c");
    ast_free(p);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(error_location)
{
    ck_assert_error("network n\ninput x[1]\nconv2$(3)\n",
                    "t.cnn:3:6: error: unexpected character '$'");
    ck_assert_error("a\n\tb\x01\n", "t.cnn:2:3: error: unexpected character '\\x01'");
    ck_assert_error("a ->\n  b -> @\n", "t.cnn:2:8: error: unexpected character '@'");
}
END_TEST

START_TEST(error_nul_byte)
{
    static const char src[] = "network n\nparam k = 1\0\nrelu\n";
    char *msg = parse_err_n(src, sizeof src - 1);
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:2:12: error: unexpected character '\\x00'"));
    free(msg);
    static const char comment[] = "a # x\0y\nb\n";
    msg = parse_err_n(comment, sizeof comment - 1);
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:1:6: error: unexpected character '\\x00' in comment"));
    free(msg);
    static const char string[] = "weights \"a\0b\"\n";
    msg = parse_err_n(string, sizeof string - 1);
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:1:11: error: unexpected character '\\x00' in string"));
    free(msg);
}
END_TEST

START_TEST(error_garbage_bytes)
{
    ck_assert_error("a \xff\xfe\n", "t.cnn:1:3: error: unexpected character '\\xff'");
    ck_assert_error("a \xe2\x86\x92 b\n",
                    "unexpected character '\xe2\x86\x92' (U+2192; did you mean '->'?)");
    /* Arbitrary bytes never crash; errors are capped but still counted. */
    char buf[4096];
    unsigned state = 12345;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            state = state * 1103515245u + 12345u;
            buf[i] = (char)(state >> 16);
        }
        free(parse_err_n(buf, sizeof buf));
    }
}
END_TEST

START_TEST(error_unterminated_string)
{
    ck_assert_error("weights \"abc\nnetwork n\n",
                    "t.cnn:1:9: error: unterminated string (a string must end on its line)");
    ck_assert_error("weights \"a\\\"\n", "t.cnn:1:9: error: unterminated string");
    ck_assert_error("weights \"a\\qb\"\n", "t.cnn:1:11: error: unknown escape sequence '\\q'");
}
END_TEST

START_TEST(error_number_range)
{
    ck_assert_error("param k = 9223372036854775808\n", "t.cnn:1:11: error: integer "
                                                       "9223372036854775808 is too large");
    ck_assert_error("param k = 1e999\n", "t.cnn:1:11: error: number 1e999 is too large");
    ck_assert_error("c(0x10)\n", "t.cnn:1:3: error: invalid number '0x10'");
}
END_TEST

START_TEST(error_deep_nesting)
{
    size_t n = 10000;
    StrBuf sb = {0};
    sb_puts(&sb, "param x = ");
    for (size_t i = 0; i < n; i++)
        sb_putc(&sb, '(');
    sb_putc(&sb, '1');
    for (size_t i = 0; i < n; i++)
        sb_putc(&sb, ')');
    sb_puts(&sb, "\nnetwork 3\n");
    char *msg = parse_err(sb.data);
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:1:75: error: brackets nested too deeply"));
    /* Recovery resumes at the next line. */
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:2:9: error: expected a name after 'network'"));
    free(msg);
    sb_free(&sb);

    /* 64 levels are fine. */
    sb_puts(&sb, "param x = ");
    for (int i = 0; i < AST_MAX_DEPTH; i++)
        sb_putc(&sb, '(');
    sb_putc(&sb, '1');
    for (int i = 0; i < AST_MAX_DEPTH; i++)
        sb_putc(&sb, ')');
    Program *p = parse_ok(sb.data);
    ck_assert_int_eq(p->stmts[0].value->ival, 1);
    ast_free(p);
    sb_free(&sb);
}
END_TEST

START_TEST(error_deep_expression)
{
    /* Deep trees without parentheses: a long sum and many unary minuses. */
    StrBuf sb = {0};
    sb_puts(&sb, "param x = 1");
    for (int i = 0; i < 100000; i++)
        sb_puts(&sb, " + 1");
    char *msg = parse_err(sb.data);
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:1:11: error: expression is nested too deeply"));
    free(msg);
    sb_free(&sb);

    sb_puts(&sb, "param x = ");
    for (int i = 0; i < 100000; i++)
        sb_putc(&sb, '-');
    sb_putc(&sb, '1');
    msg = parse_err(sb.data);
    ck_assert_ptr_nonnull(strstr(msg, "error: expression is nested too deeply"));
    free(msg);
    sb_free(&sb);
}
END_TEST

START_TEST(error_messages)
{
    ck_assert_error("-> relu\n", "t.cnn:1:1: error: unexpected '->' at start of statement");
    /* A line starting with '->' continues the previous one, whatever that is. */
    ck_assert_error("network n\n  -> relu\n", "t.cnn:2:3: error: expected end of statement after "
                                              "'n', found '->' (a line starting with '->' "
                                              "continues the line before)");
    ck_assert_error("a; -> relu\n", "t.cnn:1:4: error: unexpected '->' at start of statement");
    ck_assert_error("conv1: 5\n", "t.cnn:1:8: error: expected an op name after ':', found '5'");
    ck_assert_error("a -> -> b\n", "t.cnn:1:6: error: expected a layer after '->', found '->'");
    ck_assert_error("a ->", "t.cnn:1:5: error: expected a layer after '->', found end of file");
    ck_assert_error("network\n", "t.cnn:1:8: error: expected a name after 'network', found end "
                                 "of line");
    ck_assert_error("weights x.bin\n", "t.cnn:1:9: error: expected a file name in quotes after "
                                       "'weights', found 'x.bin'");
    ck_assert_error("param k = \n", "t.cnn:1:10: error: expected a value after '=', found end");
    ck_assert_error("c(3,,)\n", "t.cnn:1:5: error: expected a value after ',', found ','");
    ck_assert_error("network a b\n", "t.cnn:1:11: error: expected end of statement after 'a'");
    ck_assert_error("0.1: conv2d(3)\n", "must be quoted");
}
END_TEST

START_TEST(error_unclosed_bracket)
{
    ck_assert_error("\n\nx = conv2d(3, 4", "t.cnn:3:16: error: expected ',' or ')' to close '(' at "
                                           "3:11, found end of file");
    ck_assert_error("c(3 4)\n", "t.cnn:1:5: error: expected ',' or ')' to close '(' at 1:2, "
                                "found '4'");
    ck_assert_error("input x[1, 2)\n", "expected ',' or ']' to close '[' at 1:8, found ')'");
    /* The unclosed '(' does not swallow the rest of the file: line 3 is checked. */
    char *msg = parse_err("c(3, kernel=3\nrelu\nnetwork\n");
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:2:1: error: expected ',' or ')' to close '(' at 1:2, "
                                      "found 'relu'"));
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:3:8: error: expected a name after 'network'"));
    free(msg);
}
END_TEST

START_TEST(error_positional_after_named)
{
    ck_assert_error("conv2d(kernel=3, 16)\n",
                    "t.cnn:1:18: error: positional argument after named argument 'kernel'");
}
END_TEST

START_TEST(error_recovery_reports_each_line)
{
    char *msg = parse_err("network\nparam k 5\nok -> fine\nc(1,,2)\n");
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:1:8: error:"));
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:2:9: error: expected '=', found '5'"));
    ck_assert_ptr_nonnull(strstr(msg, "t.cnn:4:5: error:"));
    ck_assert_int_eq(diag_error_count(), 3);
    free(msg);
}
END_TEST

START_TEST(truncated_inputs_never_crash)
{
    static const char src[] = "network n\ninput x[1, 28, 28]\nweights \"w.st\"\nparam k = (3 + 1) "
                              "* -2 % 5\nc1: conv2d(6, kernel=(k, 3), pad=k/2) -> relu\n  -> "
                              "\"0.1\": maxpool(2)\ny = x -> linear(10)\noutput y\n";
    for (size_t n = 0; n < sizeof src; n++) {
        fflush(stderr);
        int saved = dup(2);
        FILE *null = fopen("/dev/null", "w");
        dup2(fileno(null), 2);
        Program *p = parse_n(src, n);
        dup2(saved, 2);
        close(saved);
        fclose(null);
        ast_free(p);
    }
}
END_TEST

/* ---- printing --------------------------------------------------------------- */

START_TEST(print_normalises)
{
    ck_assert_prints("network n;input x[1,28 , 28]\nweights \"a\\\"b\"\n",
                     "network n\ninput x[1, 28, 28]\nweights \"a\\\"b\"\n");
    ck_assert_prints("c1 : conv2d( 6 ,kernel = 3)->relu\n  ->  mp : maxpool(2)",
                     "c1: conv2d(6, kernel=3) -> relu -> mp: maxpool(2)\n");
    ck_assert_prints("param a = ((1 + 2)) * -(3 - 4) - -5 % 2\n",
                     "param a = (1 + 2) * -(3 - 4) - -5 % 2\n");
    ck_assert_prints("param a = 1 - (2 - 3) + (4 + 5)\n", "param a = 1 - (2 - 3) + (4 + 5)\n");
    ck_assert_prints("param a = (1 - 2) + 3 * (4 * 5)\n", "param a = 1 - 2 + 3 * (4 * 5)\n");
    ck_assert_prints("param f = 2.\nparam g = 0.1\n",
                     "param f = 2.0\nparam g = 0.10000000000000001\n");
    ck_assert_prints("\"0.1\": a -> \"x\": b -> \"net.0\": c -> \"two words\": d -> 007: e\n",
                     "\"0.1\": a -> x: b -> net.0: c -> \"two words\": d -> 7: e\n");
    ck_assert_prints("\"output\": a -> \"1e5\": b -> 1e5.x: c\n",
                     "\"output\": a -> \"1e5\": b -> 1e5.x: c\n");
    ck_assert_prints("init he()\ninit xavier(seed=1)\n", "init he\ninit xavier(seed=1)\n");
    ck_assert_prints("x = y -> f(k=(1, (2, 3)), s=\"q\", t=true)\noutput x\n",
                     "x = y -> f(k=(1, (2, 3)), s=\"q\", t=true)\noutput x\n");
    ck_assert_prints("prune ( amount = 0.5 ) conv1 ,layer1.0.conv2,\n  *, \"0.1\", 7, \"prune\"\n",
                     "prune(amount=0.5) conv1, layer1.0.conv2, *, \"0.1\", 7, \"prune\"\n");
    ck_assert_prints("prune(amount=3, structured=true) fc\nprune c\n",
                     "prune(amount=3, structured=true) fc\nprune c\n");
}
END_TEST

START_TEST(print_round_trip)
{
    static const char src[] =
        "# LeNet-5\r\n"
        "network lenet5\n"
        "input image[1, 28, 28]\n"
        "weights \"dir\\\\lenet5.safetensors\"\n"
        "param k = 5; param eps = 1.5e-3\n"
        "conv1: conv2d(6, kernel=k, pad=k/2) -> relu -> maxpool(2)\n"
        "conv2: conv2d(16, kernel=(k, k), stride=-(-2), dilation=2 * (1 + 0) % 3)\n"
        "    -> batchnorm(eps=eps) -> \"0.1\": relu\n"
        "features.0: leaky_relu(slope=0.01) -> 3: dropout(p=0.5)\n"
        "flat = flatten\n"
        "fc1: linear(120, bias=false) -> softmax(dim=1)\n"
        "output flat\n";
    Program *p = parse_ok(src);
    char *once = print_program(p);
    ast_free(p);
    p = parse_ok(once);
    char *twice = print_program(p);
    ast_free(p);
    ck_assert_str_eq(once, twice);
    ck_assert_ptr_nonnull(strstr(once, "conv2: conv2d(16, kernel=(k, k), stride=--2, "
                                       "dilation=2 * (1 + 0) % 3) -> batchnorm(eps=eps) -> "
                                       "\"0.1\": relu\n"));
    free(once);
    free(twice);
}
END_TEST

static Suite *parse_suite(void)
{
    Suite *s = suite_create("parse");
    TCase *tc = tcase_create("statements");
    tcase_add_test(tc, empty_file);
    tcase_add_test(tc, network_stmt);
    tcase_add_test(tc, input_stmt);
    tcase_add_test(tc, weights_stmt);
    tcase_add_test(tc, init_stmt);
    tcase_add_test(tc, param_and_output_stmts);
    tcase_add_test(tc, chain_stmt);
    tcase_add_test(tc, chain_target_and_first_name);
    tcase_add_test(tc, labels);
    tcase_add_test(tc, arg_order);
    tcase_add_test(tc, output_list);
    tcase_add_test(tc, block_def);
    tcase_add_test(tc, layer_repeat);
    tcase_add_test(tc, error_block_nesting);
    suite_add_tcase(s, tc);

    tc = tcase_create("expressions");
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, unary_minus);
    tcase_add_test(tc, tuples);
    tcase_add_test(tc, literals);
    suite_add_tcase(s, tc);

    tc = tcase_create("layout");
    tcase_add_test(tc, crlf_and_tabs);
    tcase_add_test(tc, comments_everywhere);
    tcase_add_test(tc, continuation_lines);
    tcase_add_test(tc, newlines_in_brackets);
    tcase_add_test(tc, semicolons);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, error_location);
    tcase_add_test(tc, error_nul_byte);
    tcase_add_test(tc, error_garbage_bytes);
    tcase_add_test(tc, error_unterminated_string);
    tcase_add_test(tc, error_number_range);
    tcase_add_test(tc, error_deep_nesting);
    tcase_add_test(tc, error_deep_expression);
    tcase_add_test(tc, error_messages);
    tcase_add_test(tc, error_unclosed_bracket);
    tcase_add_test(tc, error_positional_after_named);
    tcase_add_test(tc, error_recovery_reports_each_line);
    tcase_add_test(tc, truncated_inputs_never_crash);
    suite_add_tcase(s, tc);

    tc = tcase_create("print");
    tcase_add_test(tc, print_normalises);
    tcase_add_test(tc, print_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parse_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
