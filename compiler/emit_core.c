/* emit_core.c - the C emitter's core, which every other emitter file uses
 * and which calls none of them: the Emitter's lines, literals, C string
 * bodies and tables, and the C expressions that name weights and tensors. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_internal.h"

void out(Emitter *e, const char *fmt, ...)
{
    for (int i = 0; i < e->indent; i++)
        sb_puts(e->sb, "    ");
    va_list ap;
    va_start(ap, fmt);
    StrBuf tmp = {0};
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    tmp.data = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_puts(e->sb, tmp.data);
    sb_putc(e->sb, '\n');
    free(tmp.data);
}

void close_brace(Emitter *e)
{
    e->indent--;
    out(e, "}");
}

char *upper_case(const char *s)
{
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

/* A float literal that reads back as exactly the same float. */
const char *flit(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.9g", (double)(float)v);
    if (!strpbrk(buf, ".en"))
        strncat(buf, ".0", size - strlen(buf) - 1);
    strncat(buf, "f", size - strlen(buf) - 1);
    return buf;
}

/* Append one byte to a C string literal body. Octal escapes are always three
 * digits so a following digit cannot extend them; '?' is escaped so no
 * trigraph can form. */
void put_byte(StrBuf *sb, unsigned char c)
{
    if (c >= 32 && c < 127 && c != '"' && c != '\\' && c != '?')
        sb_putc(sb, (char)c);
    else {
        char esc[5] = {'\\', (char)('0' + (c >> 6)), (char)('0' + ((c >> 3) & 7)),
                       (char)('0' + (c & 7)), 0};
        sb_puts(sb, esc);
    }
}

/* The body of a C string literal holding s. */
void put_c_string(StrBuf *sb, const char *s)
{
    for (; *s; s++)
        put_byte(sb, (unsigned char)*s);
}

void emit_string_chunks(Emitter *e, const unsigned char *bytes, int64_t n)
{
    int64_t chunks = (n + BLOB_CHUNK - 1) / BLOB_CHUNK;
    for (int64_t ch = 0; ch < chunks; ch++) {
        int64_t begin = ch * BLOB_CHUNK;
        int64_t end = begin + BLOB_CHUNK < n ? begin + BLOB_CHUNK : n;
        /* One line per chunk: splitting it into concatenated pieces costs gcc
         * about 25% more memory (measured on a 9.7M-parameter network). */
        sb_puts(e->sb, "\"");
        for (int64_t k = begin; k < end; k++)
            put_byte(e->sb, bytes[k]);
        sb_puts(e->sb, ch + 1 < chunks ? "\",\n" : "\"\n");
    }
}

void emit_int_table_as(Emitter *e, const char *type, const char *name, const int64_t *v, int64_t n)
{
    StrBuf sb = {0};
    for (int64_t i = 0; i < n; i++)
        sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)v[i]);
    out(e, "static const %s %s[%lld] = {%s};", type, name, (long long)n, sb.data);
    sb_free(&sb);
}

void emit_int_table(Emitter *e, const char *name, const int64_t *v, int64_t n)
{
    emit_int_table_as(e, "int", name, v, n);
}

void emit_float_table(Emitter *e, const char *name, const float *v, int64_t n)
{
    StrBuf sb = {0};
    for (int64_t i = 0; i < n; i++)
        sb_printf(&sb, "%s%af", i ? ", " : "", (double)v[i]);
    out(e, "static const float %s[%lld] = {%s};", name, (long long)n, sb.data);
    sb_free(&sb);
}

const char *wptr(const Emitter *e, const Node *n, int p, char *buf, size_t size)
{
    snprintf(buf, size, "%s_weights.f + %lld", e->net,
             (long long)e->param_at[n->id * PARAM_MAX + p]);
    return buf;
}

const char *elem_type(const Tensor *t)
{
    return t->quant ? "unsigned char" : "float";
}

Tensor *tensor_root(const Tensor *t)
{
    while (t->storage == STORE_ALIAS)
        t = t->alias;
    return (Tensor *)t;
}

char *layer_fn(const Node *n)
{
    char *s = xasprintf("layer%d_%s", n->id, n->name);
    for (char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    return s;
}

/* The graph inputs and outputs are the parameters of NAME_run(), whose body
 * calls the layer functions and uses the arena (and with --dump-tensors
 * NAME_dump_dir and NAME_dump): a tensor named like one of those would hide
 * it, so its parameter gets a '_'. */
const char *hiding_suffix(const Emitter *e, const Tensor *t)
{
    size_t n = strlen(e->net);
    const char *rest = strncmp(t->name, e->net, n) == 0 ? t->name + n : "";
    bool hides = strcmp(rest, "_arena") == 0 ||
                 (e->dump && (strcmp(rest, "_dump_dir") == 0 || strcmp(rest, "_dump") == 0));
    for (int i = 0; i < e->g->nnodes && !hides; i++) {
        char *fn = layer_fn(e->g->nodes[i]);
        hides = strcmp(fn, t->name) == 0;
        free(fn);
    }
    return hides ? "_" : "";
}

const char *tensor_ptr(const Emitter *e, const Tensor *t, StrBuf *buf)
{
    t = tensor_root(t);
    buf->len = 0;
    sb_write(buf, "", 0); /* NUL-terminated */
    if (t->storage == STORE_ARENA && t->quant)
        sb_printf(buf, "(unsigned char *)(%s_arena + %lld)", e->net, (long long)(t->offset / 4));
    else if (t->storage == STORE_ARENA)
        sb_printf(buf, "%s_arena + %lld", e->net, (long long)(t->offset / 4));
    else
        sb_printf(buf, "%s%s", t->name, hiding_suffix(e, t));
    return buf->data;
}

/* A label is any string, so "*\/" is broken up and control characters
 * become '?'. */
const char *comment_safe(Emitter *e, const char *label)
{
    e->label.len = 0;
    sb_write(&e->label, "", 0); /* NUL-terminated, even for an empty label */
    for (const char *p = label; *p; p++) {
        unsigned char c = (unsigned char)*p;
        sb_putc(&e->label, c < 32 || c == 127 ? '?' : (char)c);
        if (c == '*' && p[1] == '/')
            sb_putc(&e->label, '\\');
    }
    return e->label.data;
}

const char *kernel_name(Kernel k)
{
    switch (k) {
    case KERNEL_GEMM:
        return "gemm";
    case KERNEL_IM2COL:
        return "im2col+gemm";
    case KERNEL_BLOCKED:
        return "blocked";
    case KERNEL_DEPTHWISE:
        return "depthwise";
    case KERNEL_SPARSE:
        return "sparse";
    case KERNEL_QDOT:
        return "int8-dot";
    case KERNEL_QCONV:
        return "int8-direct";
    case KERNEL_QDW:
        return "int8-depthwise";
    default:
        return "direct";
    }
}

bool emit_parallel(const Emitter *e, int64_t work)
{
    return e->threads > 1 && work >= PARALLEL_MIN_WORK;
}

void emit_parallel_for(Emitter *e, int64_t work)
{
    if (emit_parallel(e, work))
        out(e, "%s_PARALLEL_FOR", e->NET);
}
