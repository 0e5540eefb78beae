/* util.c - allocation, buffers, files, checked arithmetic (see util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static _Noreturn void out_of_memory(void)
{
    fputs("cnnc: fatal error: out of memory\n", stderr);
    exit(1);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    StrBuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    sb.data = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(sb.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return sb.data;
}

void die_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cnnc: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nThis is a bug in cnnc; please report it with the input that caused it.\n", stderr);
    exit(1);
}

static void sb_reserve(StrBuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
}

void sb_write(StrBuf *sb, const void *p, size_t n)
{
    sb_reserve(sb, n);
    memcpy(sb->data + sb->len, p, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sb_putc(StrBuf *sb, char c)
{
    sb_write(sb, &c, 1);
}

void sb_puts(StrBuf *sb, const char *s)
{
    sb_write(sb, s, strlen(s));
}

void sb_printf(StrBuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    sb_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sb_free(StrBuf *sb)
{
    free(sb->data);
    *sb = (StrBuf){0};
}

/* errno for a file read_file() refuses: a directory, or too large (a regular
 * file by its size, a pipe or device such as /dev/zero once that much is read). */
static int refused(FILE *f, size_t *max)
{
    struct stat st;
    *max = READ_FILE_MAX_STREAM;
    if (fstat(fileno(f), &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (S_ISREG(st.st_mode)) {
        *max = READ_FILE_MAX;
        if ((uint64_t)st.st_size > READ_FILE_MAX)
            return EFBIG;
    }
    return 0;
}

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t max;
    int failed = refused(f, &max);
    StrBuf sb = {0};
    char chunk[65536];
    size_t n;
    while (!failed && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (sb.len + n > max)
            failed = EFBIG;
        else
            sb_write(&sb, chunk, n);
    }
    if (!failed && ferror(f))
        failed = EIO;
    fclose(f);
    if (failed) {
        sb_free(&sb);
        errno = failed;
        return NULL;
    }
    if (!sb.data)
        sb_write(&sb, "", 0);
    *len = sb.len;
    return sb.data;
}

bool ck_add(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

bool ck_mul(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] != b[j - 1];
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *nearest_name(const char *name, const char *const *names, int count)
{
    const char *best = NULL;
    int best_d = 3; /* at most two edits, and fewer than the name has letters */
    int len = (int)strlen(name);
    for (int i = 0; i < count; i++) {
        int d = edit_distance(name, names[i]);
        if (d < best_d && d < len) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

const char *path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

uint64_t le_bytes(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
