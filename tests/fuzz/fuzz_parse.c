/* fuzz_parse.c - libFuzzer target: the lexer and parser on arbitrary bytes.
 *
 * parse_program() must return a tree or NULL (with diagnostics) for any input,
 * never crash, leak, or recurse without bound. A tree that parsed is printed
 * back with ast_print() so that every node is visited. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ast.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    diag_reset();
    diag_set_source("fuzz.cnn", (const char *)data, size);
    Program *p = parse_program((const char *)data, size);
    if (p && devnull)
        ast_print(p, devnull);
    ast_free(p);
    diag_reset();
    return 0;
}
