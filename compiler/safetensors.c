/* safetensors.c - a strict, bounds-checked reader for safetensors files (safetensors.h).
 *
 * A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON, and
 * the data area. The JSON is one object mapping tensor names to
 * {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, plus an
 * optional "__metadata__" object of strings, which is checked and ignored.
 *
 * Weight files come from anywhere, so nothing in one is trusted: the length is
 * checked against the file size and a 100 MB limit before the header is read,
 * the header must be valid UTF-8 and strict JSON, every number is parsed with
 * overflow checks, every byte count is computed with checked arithmetic, and
 * the tensors must tile the data area exactly (no overlaps, no holes), as the
 * reference implementation requires. The first problem found is reported as
 * one line that names the tensor involved.
 *
 * The JSON parser is hand-written and schema-driven rather than a generic tree
 * builder: it descends directly through the one shape a header can have
 * (object -> object -> array of integers). That keeps it small, lets every
 * message say which tensor and field is wrong, and bounds the nesting depth at
 * three by construction, so no input can drive deep recursion. For the same
 * reason unknown fields in a tensor entry are rejected rather than skipped.
 * Allocation is proportional to the header, which is at most 100 MB.
 *
 * Tensor data pointers point into the file buffer and need not be aligned:
 * read elements with memcpy. */
#include "safetensors.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000u /* bytes; the reference implementation's limit */
#define SHOW_BYTES 64            /* bytes of a name quoted in a message */
#define SHOW_SIZE (SHOW_BYTES * 4 + 8)
#define SHAPE_SIZE (ST_MAX_RANK * 22 + 4)

typedef struct DtypeInfo {
    const char *name;
    StDtype dtype;
    unsigned bits; /* element size; the sub-byte float formats are packed */
} DtypeInfo;

static const DtypeInfo dtypes[] = {
    {"F64", ST_F64, 64},      {"F32", ST_F32, 32},      {"F16", ST_F16, 16},
    {"BF16", ST_BF16, 16},    {"I64", ST_I64, 64},      {"I32", ST_I32, 32},
    {"I16", ST_I16, 16},      {"I8", ST_I8, 8},         {"U8", ST_U8, 8},
    {"BOOL", ST_BOOL, 8},     {"U64", ST_OTHER, 64},    {"U32", ST_OTHER, 32},
    {"U16", ST_OTHER, 16},    {"F8_E4M3", ST_OTHER, 8}, {"F8_E5M2", ST_OTHER, 8},
    {"F8_E8M0", ST_OTHER, 8}, {"F6_E2M3", ST_OTHER, 6}, {"F6_E3M2", ST_OTHER, 6},
    {"F4", ST_OTHER, 4},      {"C64", ST_OTHER, 64},
};

const char *st_dtype_name(StDtype d)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d && d != ST_OTHER)
            return dtypes[i].name;
    return "OTHER";
}

static const DtypeInfo *dtype_lookup(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, s, len) == 0)
            return &dtypes[i];
    return NULL;
}

/* ---- messages ------------------------------------------------------------ */

static bool set_err(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message (if there is room for one) and returns false. */
static bool set_err(char *err, size_t errsize, const char *fmt, ...)
{
    if (err && errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Quote a (valid UTF-8) name for a one-line message: control bytes become
 * \xNN and long names are cut at a character boundary. */
static const char *show(char dst[SHOW_SIZE], const char *s, size_t len)
{
    size_t n = len;
    if (n > SHOW_BYTES) {
        n = SHOW_BYTES;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            o += (size_t)snprintf(dst + o, SHOW_SIZE - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    if (n < len)
        o += (size_t)snprintf(dst + o, SHOW_SIZE - o, "...");
    dst[o] = '\0';
    return dst;
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

static const char *fmt_shape(char dst[SHAPE_SIZE], const StTensor *t)
{
    size_t o = (size_t)snprintf(dst, SHAPE_SIZE, "[");
    for (int i = 0; i < t->rank; i++)
        o += (size_t)snprintf(dst + o, SHAPE_SIZE - o, "%s%" PRId64, i ? ", " : "", t->dims[i]);
    snprintf(dst + o, SHAPE_SIZE - o, "]");
    return dst;
}

/* ---- the file as a whole ------------------------------------------------- */

static bool check_length(const unsigned char *buf, size_t size, uint64_t *n, char *err,
                         size_t errsize)
{
    if (size < 8)
        return set_err(err, errsize,
                       "file is %zu bytes, too short for the 8-byte safetensors header length",
                       size);
    *n = 0;
    for (int i = 7; i >= 0; i--)
        *n = (*n << 8) | buf[i];
    if (*n > (uint64_t)(size - 8))
        return set_err(err, errsize,
                       "header length %" PRIu64 " exceeds file size %zu (at most %zu bytes "
                       "available)",
                       *n, size, size - 8);
    if (*n > ST_MAX_HEADER)
        return set_err(err, errsize, "header length %" PRIu64 " exceeds the limit of %u bytes", *n,
                       ST_MAX_HEADER);
    return true;
}

/* Index of the first byte that is not part of valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF are invalid), or n. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], lo = 0x80, hi = 0xBF;
        size_t len;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else
            return i;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += len;
    }
    return n;
}

/* ---- JSON tokens ---------------------------------------------------------- */

typedef struct Parser {
    const unsigned char *s; /* the header */
    size_t n, pos;
    uint64_t data_size;
    char *err;
    size_t errsize;
    StTensor *t;
    int nt, cap;
    bool have_meta;
    char tname[SHOW_SIZE]; /* the tensor being parsed, quoted for messages */
} Parser;

#define FAIL(p, ...) set_err((p)->err, (p)->errsize, __VA_ARGS__)

static bool syntax(Parser *p, const char *what)
{
    return FAIL(p, "invalid JSON at header byte %zu: %s", p->pos, what);
}

static bool syntax_expected(Parser *p, const char *what)
{
    char got[16];
    if (p->pos >= p->n)
        snprintf(got, sizeof got, "end of header");
    else if (p->s[p->pos] >= 0x20 && p->s[p->pos] < 0x7F)
        snprintf(got, sizeof got, "'%c'", p->s[p->pos]);
    else
        snprintf(got, sizeof got, "byte 0x%02x", p->s[p->pos]);
    return FAIL(p, "invalid JSON at header byte %zu: expected %s, got %s", p->pos, what, got);
}

static void skip_ws(Parser *p)
{
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

/* The next significant character, or -1 at the end of the header. */
static int peek(Parser *p)
{
    skip_ws(p);
    return p->pos < p->n ? p->s[p->pos] : -1;
}

static bool accept(Parser *p, int c)
{
    if (peek(p) != c)
        return false;
    p->pos++;
    return true;
}

static bool expect(Parser *p, int c, const char *what)
{
    return accept(p, c) || syntax_expected(p, what);
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* What kind of JSON value starts with c, for "got a string" messages; NULL if none. */
static const char *value_kind(int c)
{
    switch (c) {
    case '"':
        return "a string";
    case '{':
        return "an object";
    case '[':
        return "an array";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    default:
        return c == '-' || is_digit(c) ? "a number" : NULL;
    }
}

#define MSG_SIZE (SHOW_SIZE + 128)

/* "msg, got a string" for the value at p->pos, or a syntax error if no value starts there. */
static bool wrong_type(Parser *p, const char *msg)
{
    const char *kind = value_kind(peek(p));
    if (!kind)
        return syntax_expected(p, "a value");
    return FAIL(p, "%s, got %s", msg, kind);
}

static bool hex4(const Parser *p, size_t at, unsigned *v)
{
    if (at > p->n || p->n - at < 4)
        return false;
    *v = 0;
    for (size_t i = at; i < at + 4; i++) {
        int c = p->s[i];
        int d = is_digit(c)            ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        *v = *v * 16 + (unsigned)d;
    }
    return true;
}

static void put_utf8(StrBuf *sb, unsigned cp)
{
    if (cp < 0x80) {
        sb_putc(sb, (char)cp);
    } else if (cp < 0x800) {
        sb_putc(sb, (char)(0xC0 | cp >> 6));
        sb_putc(sb, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        sb_putc(sb, (char)(0xE0 | cp >> 12));
        sb_putc(sb, (char)(0x80 | (cp >> 6 & 0x3F)));
        sb_putc(sb, (char)(0x80 | (cp & 0x3F)));
    } else {
        sb_putc(sb, (char)(0xF0 | cp >> 18));
        sb_putc(sb, (char)(0x80 | (cp >> 12 & 0x3F)));
        sb_putc(sb, (char)(0x80 | (cp >> 6 & 0x3F)));
        sb_putc(sb, (char)(0x80 | (cp & 0x3F)));
    }
}

/* \uXXXX at p->pos, with a following \uXXXX if it is a high surrogate. */
static bool parse_u_escape(Parser *p, StrBuf *out)
{
    unsigned cp, lo;
    if (!hex4(p, p->pos + 2, &cp))
        return syntax(p, "invalid \\u escape (needs 4 hex digits)");
    size_t start = p->pos;
    p->pos += 6;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        if (cp >= 0xDC00 || p->n - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
            !hex4(p, p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
            p->pos = start;
            return syntax(p, "unpaired surrogate in \\u escape");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p->pos += 6;
    }
    put_utf8(out, cp);
    return true;
}

static bool parse_escape(Parser *p, StrBuf *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (p->n - p->pos < 2)
        return syntax(p, "unterminated string");
    int c = p->s[p->pos + 1];
    if (c == 'u')
        return parse_u_escape(p, out);
    const char *k = c ? strchr(from, c) : NULL;
    if (!k)
        return syntax(p, "invalid escape in string");
    sb_putc(out, to[k - from]);
    p->pos += 2;
    return true;
}

/* A string at p->pos (after whitespace), decoded into out (always allocated). */
static bool parse_string(Parser *p, StrBuf *out)
{
    sb_write(out, "", 0);
    if (peek(p) != '"')
        return syntax_expected(p, "a string");
    size_t start = p->pos++;
    for (;;) {
        if (p->pos >= p->n) {
            p->pos = start;
            return syntax(p, "unterminated string");
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return true;
        }
        if (c < 0x20)
            return syntax(p, "control character in string");
        if (c == '\\') {
            if (!parse_escape(p, out))
                return false;
        } else {
            sb_putc(out, (char)c);
            p->pos++;
        }
    }
}

static bool is_key(const StrBuf *k, const char *s)
{
    return k->len == strlen(s) && memcmp(k->data, s, k->len) == 0;
}

/* An object key and its ':'. Names become C strings, so unless where is NULL
 * (a field name, checked against a fixed list) NUL is refused. */
static bool parse_key(Parser *p, StrBuf *key, const char *where)
{
    char shown[SHOW_SIZE];
    if (!parse_string(p, key))
        return false;
    if (where && memchr(key->data, '\0', key->len))
        return FAIL(p, "%skey '%s' contains a NUL character", where,
                    show(shown, key->data, key->len));
    return expect(p, ':', "':'");
}

typedef struct Num {
    size_t start, len;
    bool neg, integer, overflow;
    uint64_t v;
} Num;

static bool digits(Parser *p)
{
    if (p->pos >= p->n || !is_digit(p->s[p->pos]))
        return syntax(p, "invalid number");
    while (p->pos < p->n && is_digit(p->s[p->pos]))
        p->pos++;
    return true;
}

/* A JSON number at p->pos; its value is kept if it is a non-negative integer. */
static bool parse_number(Parser *p, Num *num)
{
    *num = (Num){.start = p->pos, .integer = true};
    if (p->s[p->pos] == '-')
        num->neg = true, p->pos++;
    if (p->pos < p->n && p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && is_digit(p->s[p->pos]))
            return syntax(p, "invalid number (leading zero)");
    } else {
        size_t from = p->pos;
        if (!digits(p))
            return false;
        for (size_t i = from; i < p->pos; i++) {
            unsigned d = (unsigned)(p->s[i] - '0');
            if (num->v > (UINT64_MAX - d) / 10)
                num->overflow = true;
            else
                num->v = num->v * 10 + d;
        }
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        p->pos++;
        num->integer = false;
        if (!digits(p))
            return false;
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        num->integer = false;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (!digits(p))
            return false;
    }
    num->len = p->pos - num->start;
    return true;
}

/* ---- the header schema ---------------------------------------------------- */

/* One element of `field` that must be an integer in [0, max]. */
static bool parse_uint(Parser *p, const char *field, int index, uint64_t max, uint64_t *out)
{
    int c = peek(p);
    if (c != '-' && !is_digit(c)) {
        const char *kind = value_kind(c);
        if (!kind)
            return syntax_expected(p, "a number");
        return FAIL(p, "tensor '%s': %s[%d] must be a non-negative integer, got %s", p->tname,
                    field, index, kind);
    }
    Num num;
    if (!parse_number(p, &num))
        return false;
    int shown = num.len > 40 ? 40 : (int)num.len;
    const char *text = (const char *)p->s + num.start;
    if (num.neg || !num.integer)
        return FAIL(p, "tensor '%s': %s[%d] must be a non-negative integer, got %.*s%s", p->tname,
                    field, index, shown, text, shown < (int)num.len ? "..." : "");
    if (num.overflow || num.v > max)
        return FAIL(p, "tensor '%s': %s[%d] = %.*s%s is too large", p->tname, field, index, shown,
                    text, shown < (int)num.len ? "..." : "");
    *out = num.v;
    return true;
}

/* An array of at most maxcount integers in [0, max]. */
static bool parse_uint_array(Parser *p, const char *field, uint64_t max, uint64_t *vals,
                             int maxcount, int *count)
{
    char msg[MSG_SIZE];
    snprintf(msg, sizeof msg, "tensor '%s': '%s' must be an array", p->tname, field);
    if (peek(p) != '[')
        return wrong_type(p, msg);
    p->pos++;
    *count = 0;
    if (accept(p, ']'))
        return true;
    for (;;) {
        if (*count == maxcount)
            return FAIL(p, "tensor '%s': %s has more than %d entries", p->tname, field, maxcount);
        if (!parse_uint(p, field, *count, max, &vals[*count]))
            return false;
        ++*count;
        if (accept(p, ']'))
            return true;
        if (!expect(p, ',', "',' or ']'"))
            return false;
    }
}

static bool parse_dtype(Parser *p, StTensor *t, unsigned *bits)
{
    char shown[SHOW_SIZE], msg[MSG_SIZE];
    snprintf(msg, sizeof msg, "tensor '%s': 'dtype' must be a string", p->tname);
    if (peek(p) != '"')
        return wrong_type(p, msg);
    StrBuf s = {0};
    if (!parse_string(p, &s)) {
        sb_free(&s);
        return false;
    }
    const DtypeInfo *d = dtype_lookup(s.data, s.len);
    if (!d) {
        FAIL(p, "tensor '%s': unknown dtype '%s'", p->tname, show(shown, s.data, s.len));
        sb_free(&s);
        return false;
    }
    t->dtype = d->dtype;
    t->dtype_name = s.data;
    *bits = d->bits;
    return true;
}

static bool parse_shape(Parser *p, StTensor *t)
{
    uint64_t dims[ST_MAX_RANK];
    if (!parse_uint_array(p, "shape", INT64_MAX, dims, ST_MAX_RANK, &t->rank))
        return false;
    for (int i = 0; i < t->rank; i++)
        t->dims[i] = (int64_t)dims[i];
    return true;
}

static bool parse_offsets(Parser *p, StTensor *t)
{
    uint64_t v[2];
    int count;
    if (!parse_uint_array(p, "data_offsets", UINT64_MAX, v, 2, &count))
        return false;
    if (count != 2)
        return FAIL(p, "tensor '%s': data_offsets must have 2 entries, got %d", p->tname, count);
    t->begin = v[0];
    t->end = v[1];
    return true;
}

/* Byte count of t; false if it overflows or is not whole bytes. The product of
 * the non-zero dims must fit even when a zero dim makes the tensor empty, so
 * that the answer does not depend on the order of the dims and later stages
 * can multiply any subset of them safely. */
static bool tensor_bytes(Parser *p, const StTensor *t, unsigned bits, int64_t *bytes)
{
    char shape[SHAPE_SIZE];
    int64_t n = 1;
    bool ok = true, empty = false;
    for (int i = 0; i < t->rank && ok; i++) {
        empty = empty || t->dims[i] == 0;
        ok = t->dims[i] == 0 || ck_mul(n, t->dims[i], &n);
    }
    if (empty)
        n = 0;
    if (ok)
        ok = bits % 8 ? ck_mul(n, bits, bytes) : ck_mul(n, bits / 8, bytes);
    if (!ok)
        return FAIL(p, "tensor '%s': shape %s of %s is too large (its byte count overflows)",
                    p->tname, fmt_shape(shape, t), t->dtype_name);
    if (bits % 8 && *bytes % 8)
        return FAIL(p, "tensor '%s': shape %s of %s is not a whole number of bytes", p->tname,
                    fmt_shape(shape, t), t->dtype_name);
    if (bits % 8)
        *bytes /= 8;
    return true;
}

static bool check_tensor(Parser *p, const StTensor *t, unsigned bits)
{
    char shape[SHAPE_SIZE];
    int64_t need;
    if (t->begin > t->end)
        return FAIL(p, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] have begin > end",
                    p->tname, t->begin, t->end);
    if (!tensor_bytes(p, t, bits, &need))
        return false;
    if (t->end - t->begin != (uint64_t)need)
        return FAIL(p,
                    "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                    " byte%s but shape %s of %s needs %" PRId64,
                    p->tname, t->begin, t->end, t->end - t->begin, plural(t->end - t->begin),
                    fmt_shape(shape, t), t->dtype_name, need);
    if (t->end > p->data_size)
        return FAIL(p,
                    "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                    "] extend past the end of the data (%" PRIu64 " byte%s)",
                    p->tname, t->begin, t->end, p->data_size, plural(p->data_size));
    return true;
}

/* One field of a tensor entry; seen[] tracks dtype, shape, data_offsets. */
static bool parse_field(Parser *p, StTensor *t, const StrBuf *key, bool seen[3], unsigned *bits)
{
    static const char *const names[3] = {"dtype", "shape", "data_offsets"};
    char shown[SHOW_SIZE];
    for (int i = 0; i < 3; i++) {
        if (!is_key(key, names[i]))
            continue;
        if (seen[i])
            return FAIL(p, "tensor '%s': duplicate field '%s'", p->tname, names[i]);
        seen[i] = true;
        return i == 0 ? parse_dtype(p, t, bits) : i == 1 ? parse_shape(p, t) : parse_offsets(p, t);
    }
    return FAIL(p, "tensor '%s': unknown field '%s'", p->tname, show(shown, key->data, key->len));
}

static bool parse_tensor(Parser *p, StTensor *t)
{
    static const char *const names[3] = {"dtype", "shape", "data_offsets"};
    bool seen[3] = {false, false, false};
    unsigned bits = 8;
    char msg[MSG_SIZE];
    snprintf(msg, sizeof msg, "tensor '%s': expected an object with dtype, shape and data_offsets",
             p->tname);
    if (peek(p) != '{')
        return wrong_type(p, msg);
    p->pos++;
    if (!accept(p, '}')) {
        for (;;) {
            StrBuf key = {0};
            bool ok = parse_key(p, &key, NULL) && parse_field(p, t, &key, seen, &bits);
            sb_free(&key);
            if (!ok)
                return false;
            if (accept(p, '}'))
                break;
            if (!expect(p, ',', "',' or '}'"))
                return false;
        }
    }
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            return FAIL(p, "tensor '%s': missing field '%s'", p->tname, names[i]);
    return check_tensor(p, t, bits);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool check_meta_keys(Parser *p, char **keys, int nkeys)
{
    char shown[SHOW_SIZE];
    if (nkeys > 1)
        qsort(keys, (size_t)nkeys, sizeof *keys, cmp_str);
    for (int i = 1; i < nkeys; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return FAIL(p, "__metadata__: duplicate key '%s'",
                        show(shown, keys[i], strlen(keys[i])));
    return true;
}

/* The entries of __metadata__ after its '{'; keys collected for the duplicate check. */
static bool parse_meta_entries(Parser *p, char ***keys, int *nkeys)
{
    char shown[SHOW_SIZE], msg[MSG_SIZE];
    int cap = 0;
    if (accept(p, '}'))
        return true;
    for (;;) {
        StrBuf key = {0}, val = {0};
        if (!parse_key(p, &key, "__metadata__: ")) {
            sb_free(&key);
            return false;
        }
        if (*nkeys == cap) {
            cap = cap ? cap * 2 : 8;
            *keys = xrealloc(*keys, (size_t)cap * sizeof **keys);
        }
        (*keys)[(*nkeys)++] = key.data;
        if (peek(p) != '"') {
            snprintf(msg, sizeof msg, "__metadata__: value of '%s' must be a string",
                     show(shown, key.data, key.len));
            return wrong_type(p, msg);
        }
        bool ok = parse_string(p, &val);
        sb_free(&val);
        if (!ok)
            return false;
        if (accept(p, '}'))
            return true;
        if (!expect(p, ',', "',' or '}'"))
            return false;
    }
}

static bool parse_metadata(Parser *p)
{
    if (p->have_meta)
        return FAIL(p, "duplicate key '__metadata__' in the header");
    p->have_meta = true;
    if (peek(p) != '{')
        return wrong_type(p, "__metadata__ must be an object of strings");
    p->pos++;
    char **keys = NULL;
    int nkeys = 0;
    bool ok = parse_meta_entries(p, &keys, &nkeys) && check_meta_keys(p, keys, nkeys);
    for (int i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
    return ok;
}

/* A tensor entry whose name is key (ownership taken). */
static bool parse_entry(Parser *p, StrBuf *key)
{
    if (is_key(key, "__metadata__")) {
        sb_free(key);
        return parse_metadata(p);
    }
    if (p->nt == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->t = xrealloc(p->t, (size_t)p->cap * sizeof *p->t);
    }
    StTensor *t = &p->t[p->nt++];
    *t = (StTensor){.name = key->data};
    show(p->tname, key->data, key->len);
    *key = (StrBuf){0};
    return parse_tensor(p, t);
}

static bool parse_header(Parser *p)
{
    if (p->n == 0 || p->s[0] != '{')
        return syntax_expected(p, "'{'");
    p->pos = 1;
    if (!accept(p, '}')) {
        for (;;) {
            StrBuf key = {0};
            bool ok = parse_key(p, &key, "header ") && parse_entry(p, &key);
            sb_free(&key);
            if (!ok)
                return false;
            if (accept(p, '}'))
                break;
            if (!expect(p, ',', "',' or '}'"))
                return false;
        }
    }
    skip_ws(p);
    if (p->pos < p->n)
        return syntax(p, "trailing characters after the header object");
    return true;
}

/* ---- whole-file checks ---------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

static bool sort_and_check_names(Parser *p)
{
    char shown[SHOW_SIZE];
    if (p->nt > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(p->t, (size_t)p->nt, sizeof *p->t, cmp_name);
    for (int i = 1; i < p->nt; i++)
        if (strcmp(p->t[i - 1].name, p->t[i].name) == 0)
            return FAIL(p, "duplicate key '%s' in the header",
                        show(shown, p->t[i].name, strlen(p->t[i].name)));
    return true;
}

static int cmp_offsets(const void *a, const void *b)
{
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Walk the tensors in offset order: each must start where the data so far ends. */
static bool walk_coverage(Parser *p, const StTensor **order)
{
    char a[SHOW_SIZE], b[SHOW_SIZE];
    const StTensor *last = NULL; /* the non-empty tensor that ends at `at` */
    uint64_t at = 0;
    for (int i = 0; i < p->nt; i++) {
        const StTensor *t = order[i];
        if (t->begin < at)
            return FAIL(p, "tensors '%s' and '%s' overlap", show(a, last->name, strlen(last->name)),
                        show(b, t->name, strlen(t->name)));
        if (t->begin > at)
            return FAIL(p,
                        "bytes %" PRIu64 "..%" PRIu64 " of the data are not covered by any tensor",
                        at, t->begin);
        if (t->end > t->begin)
            last = t;
        at = t->end;
    }
    if (at < p->data_size)
        return FAIL(p, "bytes %" PRIu64 "..%" PRIu64 " of the data are not covered by any tensor",
                    at, p->data_size);
    return true;
}

static bool check_coverage(Parser *p)
{
    const StTensor **order = xmalloc((size_t)p->nt * sizeof *order);
    for (int i = 0; i < p->nt; i++)
        order[i] = &p->t[i];
    qsort(order, (size_t)p->nt, sizeof *order, cmp_offsets);
    bool ok = walk_coverage(p, order);
    free(order);
    return ok;
}

static void free_tensors(StTensor *t, int n)
{
    for (int i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].dtype_name);
    }
    free(t);
}

int st_parse(unsigned char *buf, size_t size, StFile *out, char *err, size_t errsize)
{
    uint64_t n = 0;
    *out = (StFile){0};
    if (err && errsize)
        err[0] = '\0';
    if (!check_length(buf, size, &n, err, errsize)) {
        free(buf);
        return -1;
    }
    Parser p = {.s = buf + 8,
                .n = (size_t)n,
                .data_size = size - 8 - (size_t)n,
                .err = err,
                .errsize = errsize};
    size_t bad = utf8_invalid_at(p.s, p.n);
    bool ok =
        bad == p.n || set_err(err, errsize, "header is not valid UTF-8 (at header byte %zu)", bad);
    ok = ok && parse_header(&p) && sort_and_check_names(&p) && check_coverage(&p);
    if (!ok) {
        free_tensors(p.t, p.nt);
        free(buf);
        return -1;
    }
    for (int i = 0; i < p.nt; i++)
        p.t[i].data = buf + 8 + n + p.t[i].begin;
    *out = (StFile){.buf = buf, .size = size, .tensors = p.t, .ntensors = p.nt};
    return 0;
}

int st_load(const char *path, StFile *out, char *err, size_t errsize)
{
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) {
        *out = (StFile){0};
        set_err(err, errsize, "%s", strerror(errno));
        return -1;
    }
    return st_parse((unsigned char *)buf, len, out, err, errsize);
}

void st_free(StFile *f)
{
    free_tensors(f->tensors, f->ntensors);
    free(f->buf);
    *f = (StFile){0};
}

const StTensor *st_find(const StFile *f, const char *name)
{
    int lo = 0, hi = f->ntensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0)
            return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}
