/* diag.h - user-facing diagnostics in GCC's format.
 *
 *   net.cnn:7:12: error: message
 *       7 | fc1: linear(120) -> relu
 *         |      ^~~~~~
 *
 * The diagnostic module holds the one source file being compiled so that it can
 * print the offending line under every message. Errors are counted; the driver
 * stops after a stage that reported any (and exits 1). */
#ifndef CNNC_DIAG_H
#define CNNC_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A source position: 1-based line and column, and the length of the span (>= 1). */
typedef struct Loc {
    int line, col, len;
} Loc;

/* Register the source being compiled (not copied: must outlive all diagnostics). */
void diag_set_source(const char *filename, const char *src, size_t len);
const char *diag_filename(void);

/* loc.line == 0 means "no position": prints "file: error: msg" (or "cnnc: error:" without a file). */
void diag_error(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_warning(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_note(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_verror(Loc loc, const char *fmt, va_list ap);

/* Context for errors inside block expansions: every error printed while a
 * context is pushed is followed by one note per context, innermost first. */
void diag_push_context(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag_pop_context(void);
#define DIAG_MAX_CONTEXT 64

/* While quiet, warnings are not printed (errors still are): for a second
 * build of the same input, whose warnings were printed the first time. */
void diag_quiet_warnings(bool quiet);

int diag_error_count(void);
void diag_reset(void); /* forget the source and counts (tests, fuzzing) */

/* Errors past this many are counted but not printed (one "too many errors" line). */
#define DIAG_MAX_ERRORS 20

#endif
