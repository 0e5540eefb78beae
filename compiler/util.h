/* util.h - allocation, growable buffers and overflow-checked arithmetic.
 *
 * Every stage uses these; none of them reports user errors (that is diag.h).
 * Allocation failure is fatal: a compiler that cannot allocate cannot continue. */
#ifndef CNNC_UTIL_H
#define CNNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...);

/* An internal error: a cnnc bug, never a user mistake. Prints file:line and exits 1. */
#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void die_at(const char *file, int line, const char *fmt, ...);

/* Append-only byte buffer; data is always NUL-terminated. */
typedef struct StrBuf {
    char *data;
    size_t len, cap;
} StrBuf;

void sb_putc(StrBuf *sb, char c);
void sb_puts(StrBuf *sb, const char *s);
void sb_write(StrBuf *sb, const void *p, size_t n);
void sb_printf(StrBuf *sb, const char *fmt, ...);
void sb_free(StrBuf *sb);

/* Read a whole file. Returns NULL (errno set) on failure. *len excludes the added NUL.
 * A directory is refused (EISDIR), and so is a file over READ_FILE_MAX bytes, or
 * a pipe or device (/dev/zero) that gives more than READ_FILE_MAX_STREAM (EFBIG). */
#define READ_FILE_MAX ((size_t)1 << 34)
#define READ_FILE_MAX_STREAM ((size_t)1 << 28)
char *read_file(const char *path, size_t *len);

/* Checked int64 arithmetic: return false on overflow, leaving *r unspecified. */
bool ck_add(int64_t a, int64_t b, int64_t *r);
bool ck_mul(int64_t a, int64_t b, int64_t *r);

/* The file name of a path: what follows its last '/'. */
const char *path_base(const char *path);
/* The n <= 8 bytes at p as a little-endian unsigned integer. */
uint64_t le_bytes(const unsigned char *p, int n);

/* Levenshtein distance, for "did you mean" suggestions. */
int edit_distance(const char *a, const char *b);
/* The closest of `count` names to `name` (at most two edits, and fewer than
 * the name has letters), or NULL if none is close. */
const char *nearest_name(const char *name, const char *const *names, int count);

#endif
