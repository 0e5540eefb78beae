/* diag.c - GCC-style diagnostics with the source line and a caret (see diag.h). */
#include "diag.h"

#include <stdio.h>
#include <string.h>

static const char *file_name;
static const char *source;
static size_t source_len;
static int nerrors;
static bool quiet_warnings;

typedef struct Context {
    Loc loc;
    char text[256];
} Context;
static Context contexts[DIAG_MAX_CONTEXT];
static int ncontexts;

void diag_set_source(const char *filename, const char *src, size_t len)
{
    file_name = filename;
    source = src;
    source_len = len;
}

const char *diag_filename(void)
{
    return file_name;
}

void diag_quiet_warnings(bool quiet)
{
    quiet_warnings = quiet;
}

int diag_error_count(void)
{
    return nerrors;
}

void diag_reset(void)
{
    file_name = NULL;
    source = NULL;
    source_len = 0;
    nerrors = 0;
    ncontexts = 0;
    quiet_warnings = false;
}

void diag_push_context(Loc loc, const char *fmt, ...)
{
    if (ncontexts == DIAG_MAX_CONTEXT)
        return;
    va_list ap;
    va_start(ap, fmt);
    contexts[ncontexts].loc = loc;
    vsnprintf(contexts[ncontexts].text, sizeof contexts[ncontexts].text, fmt, ap);
    va_end(ap);
    ncontexts++;
}

void diag_pop_context(void)
{
    if (ncontexts > 0)
        ncontexts--;
}

/* Find line `line` (1-based) of the source; returns its start and sets *len. */
static const char *find_line(int line, size_t *len)
{
    if (!source || line < 1)
        return NULL;
    size_t i = 0;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(source + i, '\n', source_len - i);
        if (!nl)
            return NULL;
        i = (size_t)(nl - source) + 1;
    }
    size_t end = i;
    while (end < source_len && source[end] != '\n' && source[end] != '\r')
        end++;
    *len = end - i;
    return source + i;
}

/* Print the source line and a caret under loc, tabs kept so the caret lines up.
 * Long lines are cut around the caret so a 10 MB line prints one screen. */
static void print_caret(Loc loc)
{
    size_t len;
    const char *line = find_line(loc.line, &len);
    if (!line)
        return;
    size_t col = loc.col > 0 ? (size_t)loc.col - 1 : 0;
    if (col > len)
        col = len;
    size_t from = col > 60 ? col - 60 : 0;
    size_t to = len - from > 160 ? from + 160 : len;
    int width = snprintf(NULL, 0, "%d", loc.line);
    width = width < 5 ? 5 : width; /* the gutter grows past line 99999 */
    fprintf(stderr, "%*d | %s", width, loc.line, from ? "..." : "");
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)line[i];
        fputc(c == '\t' || (c >= 32 && c < 127) || c >= 128 ? c : '?', stderr);
    }
    fprintf(stderr, "%s\n%*s | %s", to < len ? "..." : "", width, "", from ? "   " : "");
    for (size_t i = from; i < col; i++)
        fputc(line[i] == '\t' ? '\t' : ' ', stderr);
    fputc('^', stderr);
    for (int i = 1; i < loc.len && col + (size_t)i < to; i++)
        fputc('~', stderr);
    fputc('\n', stderr);
}

void diag_note(Loc loc, const char *fmt, ...);

static void report(const char *kind, Loc loc, const char *fmt, va_list ap)
{
    if (file_name && loc.line > 0)
        fprintf(stderr, "%s:%d:%d: %s: ", file_name, loc.line, loc.col, kind);
    else if (file_name)
        fprintf(stderr, "%s: %s: ", file_name, kind);
    else
        fprintf(stderr, "cnnc: %s: ", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    if (loc.line > 0)
        print_caret(loc);
}

/* The block expansions an error is in, innermost first. Deep nests show
 * their CONTEXT_SHOWN innermost and the outermost, like GCC's
 * "[skipping N instantiation contexts]". */
#define CONTEXT_SHOWN 4
static void print_contexts(void)
{
    int skipped =
        ncontexts - CONTEXT_SHOWN - 1; /* all but the shown inner ones and the outermost */
    for (int i = ncontexts - 1; i >= 0; i--) {
        if (skipped > 1 && i == skipped) {
            fprintf(stderr, "%s: note: [skipping %d more block expansions]\n",
                    file_name ? file_name : "cnnc", skipped);
            i = 1; /* next: the outermost */
            continue;
        }
        diag_note(contexts[i].loc, "%s", contexts[i].text);
    }
}

void diag_verror(Loc loc, const char *fmt, va_list ap)
{
    nerrors++;
    if (nerrors > DIAG_MAX_ERRORS) {
        if (nerrors == DIAG_MAX_ERRORS + 1)
            fprintf(stderr, "%s: note: too many errors; the rest are not shown\n",
                    file_name ? file_name : "cnnc");
        return;
    }
    report("error", loc, fmt, ap);
    print_contexts();
}

void diag_error(Loc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(loc, fmt, ap);
    va_end(ap);
}

void diag_warning(Loc loc, const char *fmt, ...)
{
    if (quiet_warnings)
        return;
    va_list ap;
    va_start(ap, fmt);
    report("warning", loc, fmt, ap);
    va_end(ap);
}

void diag_note(Loc loc, const char *fmt, ...)
{
    if (nerrors > DIAG_MAX_ERRORS)
        return;
    va_list ap;
    va_start(ap, fmt);
    report("note", loc, fmt, ap);
    va_end(ap);
}
