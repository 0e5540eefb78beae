/* test_safetensors.c - unit tests for the safetensors reader (compiler/safetensors.c).
 *
 * Files are built in memory: an 8-byte length, the header text, then the data.
 * Valid files are checked value by value; every kind of malformation is checked
 * against its exact error message; and a seeded mutation loop feeds 2000
 * corrupted copies of a valid file to the parser, which must never crash
 * (run under valgrind or -fsanitize=address,undefined to see memory errors). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "weights.h"

/* One tensor entry of a header, as JSON text. */
#define T(name, dtype, shape, b, e)                                                                \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static char err[512];
static StFile sf;

/* An image: the length hlen, hlen header bytes, dlen data bytes (zeros if data is NULL). */
static unsigned char *image(const char *hdr, size_t hlen, const void *data, size_t dlen,
                            size_t *size)
{
    unsigned char *b = xcalloc(1, 8 + hlen + dlen);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, hdr, hlen);
    if (data)
        memcpy(b + 8 + hlen, data, dlen);
    *size = 8 + hlen + dlen;
    return b;
}

static int parse_n(const char *hdr, size_t hlen, size_t dlen)
{
    size_t size;
    unsigned char *b = image(hdr, hlen, NULL, dlen, &size);
    return st_parse(b, size, &sf, err, sizeof err);
}

static int parse_hdr(const char *hdr, size_t dlen)
{
    return parse_n(hdr, strlen(hdr), dlen);
}

/* An image whose first 8 bytes say `len` and which is `size` bytes in all. */
static int parse_len(uint64_t len, size_t size)
{
    unsigned char *b = xcalloc(1, size);
    for (int i = 0; i < 8 && (size_t)i < size; i++)
        b[i] = (unsigned char)(len >> (8 * i));
    return st_parse(b, size, &sf, err, sizeof err);
}

/* Parsing hdr followed by dlen zero bytes fails with exactly msg. */
#define ERR(hdr, dlen, msg)                                                                        \
    do {                                                                                           \
        ck_assert_int_eq(parse_hdr(hdr, dlen), -1);                                                \
        ck_assert_str_eq(err, msg);                                                                \
    } while (0)

#define OK(hdr, dlen)                                                                              \
    do {                                                                                           \
        ck_assert_msg(parse_hdr(hdr, dlen) == 0, "unexpected error: %s", err);                     \
    } while (0)

/* ---- valid files ------------------------------------------------------------------------- */

/* clang-format off */
static const char valid_header[] =
    "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\\u00e9 \\\"q\\\"\"},"
    T("fc1.weight", "F32", "[2,3]", 0, 24) "," T("fc1.bias", "F64", "[2]", 24, 40) ","
    T("a.half", "F16", "[2,2]", 40, 48) "," T("a.bf", "BF16", "[3]", 48, 54) ","
    T("i64", "I64", "[1]", 54, 62) "," T("i32", "I32", "[2]", 62, 70) ","
    T("i16", "I16", "[1]", 70, 72) "," T("i8", "I8", "[3]", 72, 75) ","
    T("u8", "U8", "[1,1]", 75, 76) "," T("mask", "BOOL", "[2]", 76, 78) ","
    T("fp8", "F8_E4M3", "[2]", 78, 80) "," T("scalar", "F32", "[]", 80, 84) "}";
/* clang-format on */

static const float w_values[6] = {0.5f, -1.25f, 2.0f, 3.0f, 4.0f, 1e-3f};
static const double b_values[2] = {3.14, -2.0};

static unsigned char *valid_image(size_t *size)
{
    unsigned char data[84] = {0};
    float s = 7.5f;
    memcpy(data, w_values, sizeof w_values);
    memcpy(data + 24, b_values, sizeof b_values);
    data[75] = 200;
    memcpy(data + 80, &s, sizeof s);
    return image(valid_header, strlen(valid_header), data, sizeof data, size);
}

static void check_tensor(const char *name, StDtype dtype, const char *dname, int rank,
                         const int64_t *dims, uint64_t begin, uint64_t end)
{
    const StTensor *t = st_find(&sf, name);
    ck_assert_msg(t != NULL, "tensor %s not found", name);
    ck_assert_str_eq(t->name, name);
    ck_assert_int_eq(t->dtype, dtype);
    ck_assert_str_eq(t->dtype_name, dname);
    ck_assert_int_eq(t->rank, rank);
    for (int i = 0; i < rank; i++)
        ck_assert_int_eq(t->dims[i], dims[i]);
    ck_assert_uint_eq(t->begin, begin);
    ck_assert_uint_eq(t->end, end);
    ck_assert_ptr_eq(t->data, sf.buf + 8 + strlen(valid_header) + begin);
    ck_assert(!t->used);
}

START_TEST(valid_file)
{
    size_t size;
    unsigned char *b = valid_image(&size);
    ck_assert_int_eq(st_parse(b, size, &sf, err, sizeof err), 0);
    ck_assert_ptr_eq(sf.buf, b);
    ck_assert_uint_eq(sf.size, size);
    ck_assert_int_eq(sf.ntensors, 12);
    static const char *const sorted[] = {"a.bf", "a.half", "fc1.bias", "fc1.weight",
                                         "fp8",  "i16",    "i32",      "i64",
                                         "i8",   "mask",   "scalar",   "u8"};
    for (int i = 0; i < 12; i++)
        ck_assert_str_eq(sf.tensors[i].name, sorted[i]);

    check_tensor("fc1.weight", ST_F32, "F32", 2, (int64_t[]){2, 3}, 0, 24);
    check_tensor("fc1.bias", ST_F64, "F64", 1, (int64_t[]){2}, 24, 40);
    check_tensor("a.half", ST_F16, "F16", 2, (int64_t[]){2, 2}, 40, 48);
    check_tensor("a.bf", ST_BF16, "BF16", 1, (int64_t[]){3}, 48, 54);
    check_tensor("i64", ST_I64, "I64", 1, (int64_t[]){1}, 54, 62);
    check_tensor("i32", ST_I32, "I32", 1, (int64_t[]){2}, 62, 70);
    check_tensor("i16", ST_I16, "I16", 1, (int64_t[]){1}, 70, 72);
    check_tensor("i8", ST_I8, "I8", 1, (int64_t[]){3}, 72, 75);
    check_tensor("u8", ST_U8, "U8", 2, (int64_t[]){1, 1}, 75, 76);
    check_tensor("mask", ST_BOOL, "BOOL", 1, (int64_t[]){2}, 76, 78);
    check_tensor("fp8", ST_OTHER, "F8_E4M3", 1, (int64_t[]){2}, 78, 80);
    check_tensor("scalar", ST_F32, "F32", 0, NULL, 80, 84);

    float w[6], s;
    double d[2];
    memcpy(w, st_find(&sf, "fc1.weight")->data, sizeof w);
    for (int i = 0; i < 6; i++)
        ck_assert(w[i] == w_values[i]);
    memcpy(d, st_find(&sf, "fc1.bias")->data, sizeof d);
    ck_assert(d[0] == 3.14 && d[1] == -2.0);
    memcpy(&s, st_find(&sf, "scalar")->data, sizeof s);
    ck_assert(s == 7.5f);
    ck_assert_int_eq(st_find(&sf, "u8")->data[0], 200);

    ck_assert_ptr_null(st_find(&sf, "fc1"));
    ck_assert_ptr_null(st_find(&sf, "__metadata__"));
    ck_assert_ptr_null(st_find(&sf, "zzz"));
    st_free(&sf);
    ck_assert_ptr_null(sf.buf);
    ck_assert_int_eq(sf.ntensors, 0);
}
END_TEST

START_TEST(dtype_names)
{
    ck_assert_str_eq(st_dtype_name(ST_F32), "F32");
    ck_assert_str_eq(st_dtype_name(ST_BF16), "BF16");
    ck_assert_str_eq(st_dtype_name(ST_BOOL), "BOOL");
    ck_assert_str_eq(st_dtype_name(ST_OTHER), "OTHER");
}
END_TEST

START_TEST(padding_and_whitespace)
{
    /* The reference writer pads with spaces to a multiple of 8. */
    static const char padded[] = "{" T("x", "F32", "[1]", 0, 4) "}       ";
    OK(padded, 4);
    ck_assert_int_eq(sf.ntensors, 1);
    ck_assert_ptr_eq(sf.tensors[0].data, sf.buf + 8 + strlen(padded));
    st_free(&sf);
    /* JSON whitespace between tokens. */
    OK("{ \"x\" : {\n\t\"dtype\" : \"U8\" , \"shape\" : [ 2 , 1 ] ,\r\n"
       " \"data_offsets\" : [ 0 , 2 ] } }\n  ",
       2);
    ck_assert_int_eq(sf.tensors[0].dims[0], 2);
    ck_assert_int_eq(sf.tensors[0].dims[1], 1);
    st_free(&sf);
}
END_TEST

START_TEST(zero_size_tensors)
{
    /* clang-format off */
    static const char hdr[] = "{"
        T("a", "F32", "[2]", 0, 8) "," T("empty", "F32", "[0,3]", 8, 8) ","
        T("b", "U8", "[0]", 8, 8) "," T("c", "U8", "[2]", 8, 10) ","
        T("z", "F64", "[4,0]", 10, 10) "," T("z0", "I8", "[0]", 0, 0) "}";
    /* clang-format on */
    OK(hdr, 10);
    ck_assert_int_eq(sf.ntensors, 6);
    const StTensor *e = st_find(&sf, "empty");
    ck_assert_int_eq(e->rank, 2);
    ck_assert_int_eq(e->dims[0], 0);
    ck_assert_int_eq(e->dims[1], 3);
    ck_assert_uint_eq(e->begin, 8);
    ck_assert_ptr_eq(st_find(&sf, "z")->data, sf.buf + sf.size);
    st_free(&sf);
    /* Only empty tensors and no data at all. */
    OK("{" T("e", "F32", "[0]", 0, 0) "}", 0);
    ck_assert_int_eq(sf.ntensors, 1);
    st_free(&sf);
}
END_TEST

START_TEST(empty_header)
{
    OK("{}", 0);
    ck_assert_int_eq(sf.ntensors, 0);
    ck_assert_ptr_null(st_find(&sf, "x"));
    st_free(&sf);
    OK("{}      ", 0);
    st_free(&sf);
    OK("{\"__metadata__\":{}}", 0);
    ck_assert_int_eq(sf.ntensors, 0);
    st_free(&sf);
    ERR("{}", 4, "bytes 0..4 of the data are not covered by any tensor");
}
END_TEST

START_TEST(other_dtypes)
{
    /* clang-format off */
    static const char hdr[] = "{"
        T("a", "U16", "[3]", 0, 6) "," T("b", "U32", "[1]", 6, 10) ","
        T("c", "U64", "[1]", 10, 18) "," T("d", "F8_E5M2", "[2]", 18, 20) ","
        T("e", "F4", "[4]", 20, 22) "," T("f", "F6_E2M3", "[4]", 22, 25) "}";
    /* clang-format on */
    OK(hdr, 25);
    ck_assert_int_eq(sf.ntensors, 6);
    ck_assert_int_eq(st_find(&sf, "a")->dtype, ST_OTHER);
    ck_assert_str_eq(st_find(&sf, "a")->dtype_name, "U16");
    ck_assert_str_eq(st_find(&sf, "f")->dtype_name, "F6_E2M3");
    st_free(&sf);
    ERR("{" T("e", "F4", "[3]", 0, 2) "}", 2,
        "tensor 'e': shape [3] of F4 is not a whole number of bytes");
    ERR("{" T("x", "F31", "[1]", 0, 4) "}", 4, "tensor 'x': unknown dtype 'F31'");
    ERR("{" T("x", "f32", "[1]", 0, 4) "}", 4, "tensor 'x': unknown dtype 'f32'");
    ERR("{" T("x", "", "[1]", 0, 4) "}", 4, "tensor 'x': unknown dtype ''");
}
END_TEST

START_TEST(unicode_names)
{
    /* Raw UTF-8 and \u escapes (including a surrogate pair) name the same strings. */
    /* clang-format off */
    static const char hdr[] = "{"
        T("\\u00e9", "U8", "[1]", 0, 1) "," T("\\ud83d\\ude00", "U8", "[1]", 1, 2) ","
        T("\\u20ac/\\n", "U8", "[1]", 2, 3) "}";
    /* clang-format on */
    OK(hdr, 3);
    ck_assert_ptr_nonnull(st_find(&sf, "\xc3\xa9"));
    ck_assert_ptr_nonnull(st_find(&sf, "\xf0\x9f\x98\x80"));
    ck_assert_ptr_nonnull(st_find(&sf, "\xe2\x82\xac/\n"));
    st_free(&sf);
    ERR("{" T("\xc3\xa9", "U8", "[1]", 0, 1) "," T("\\u00e9", "U8", "[1]", 1, 2) "}", 2,
        "duplicate key '\xc3\xa9' in the header");
}
END_TEST

/* ---- the length field ---------------------------------------------------------------------- */

START_TEST(bad_length)
{
    ck_assert_int_eq(st_parse(xmalloc(1), 0, &sf, err, sizeof err), -1);
    ck_assert_str_eq(err, "file is 0 bytes, too short for the 8-byte safetensors header length");
    ck_assert_int_eq(parse_len(2, 7), -1);
    ck_assert_str_eq(err, "file is 7 bytes, too short for the 8-byte safetensors header length");
    ck_assert_int_eq(parse_len(UINT64_C(1) << 63, 1000), -1);
    ck_assert_str_eq(err, "header length 9223372036854775808 exceeds file size 1000 "
                          "(at most 992 bytes available)");
    ck_assert_int_eq(parse_len(UINT64_MAX, 16), -1);
    ck_assert_str_eq(err, "header length 18446744073709551615 exceeds file size 16 "
                          "(at most 8 bytes available)");
    ck_assert_int_eq(parse_len(9, 16), -1);
    ck_assert_str_eq(err, "header length 9 exceeds file size 16 (at most 8 bytes available)");
    ck_assert_int_eq(parse_len(0, 8), -1);
    ck_assert_str_eq(err, "invalid JSON at header byte 0: expected '{', got end of header");
    /* Past the reference implementation's limit, in a file big enough to hold it. */
    ck_assert_int_eq(parse_len(100000001, 100000016), -1);
    ck_assert_str_eq(err, "header length 100000001 exceeds the limit of 100000000 bytes");
}
END_TEST

START_TEST(truncated)
{
    size_t size, hlen = strlen(valid_header);
    unsigned char *full = valid_image(&size);
    /* Cut inside the length, inside the header, and inside the data. */
    const size_t cuts[] = {0, 3, 7, 8, 9, 100, 8 + hlen / 2, 8 + hlen - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t n = cuts[i];
        unsigned char *b = xmalloc(n + 1);
        memcpy(b, full, n);
        ck_assert_int_eq(st_parse(b, n, &sf, err, sizeof err), -1);
        if (n < 8)
            ck_assert_ptr_nonnull(strstr(err, "too short for the 8-byte"));
        else
            ck_assert_ptr_nonnull(strstr(err, "exceeds file size"));
    }
    unsigned char *b = xmalloc(size);
    memcpy(b, full, size - 1);
    ck_assert_int_eq(st_parse(b, size - 1, &sf, err, sizeof err), -1);
    ck_assert_str_eq(err, "tensor 'scalar': data_offsets [80, 84] extend past the end of the "
                          "data (83 bytes)");
    b = xmalloc(size);
    memcpy(b, full, 8 + hlen);
    ck_assert_int_eq(st_parse(b, 8 + hlen, &sf, err, sizeof err), -1);
    ck_assert_str_eq(err,
                     "tensor 'fc1.weight': data_offsets [0, 24] extend past the end of the data "
                     "(0 bytes)");
    free(full);
}
END_TEST

/* ---- JSON syntax ---------------------------------------------------------------------------- */

START_TEST(json_syntax)
{
    ERR("{\"x\" {}}", 0, "invalid JSON at header byte 5: expected ':', got '{'");
    ERR("{\"x\":{\"dtype\":\"F32\" \"shape\":[1]}}", 0,
        "invalid JSON at header byte 20: expected ',' or '}', got '\"'");
    ERR("{\"abc", 0, "invalid JSON at header byte 1: unterminated string");
    ERR("{\"a\\", 0, "invalid JSON at header byte 3: unterminated string");
    ERR("{\"a\\q\":1}", 0, "invalid JSON at header byte 3: invalid escape in string");
    ERR("{\"a\\u12G4\":1}", 0,
        "invalid JSON at header byte 3: invalid \\u escape (needs 4 hex digits)");
    ERR("{\"a\\u12", 0, "invalid JSON at header byte 3: invalid \\u escape (needs 4 hex digits)");
    ERR("{\"\\udc00\":1}", 0, "invalid JSON at header byte 2: unpaired surrogate in \\u escape");
    ERR("{\"\\ud800\\u0041\":1}", 0,
        "invalid JSON at header byte 2: unpaired surrogate in \\u escape");
    ERR("{\"\\ud800\":1}", 0, "invalid JSON at header byte 2: unpaired surrogate in \\u escape");
    ERR("{\"a\tb\":1}", 0, "invalid JSON at header byte 3: control character in string");
    ERR("{" T("x", "U8", "[1]", 00, 1) "}", 1,
        "invalid JSON at header byte 48: invalid number (leading zero)");
    ERR("{" T("x", "U8", "[1.]", 0, 1) "}", 1, "invalid JSON at header byte 30: invalid number");
    ERR("{" T("x", "U8", "[-]", 0, 1) "}", 1, "invalid JSON at header byte 29: invalid number");
    ERR("{" T("x", "U8", "[1e]", 0, 1) "}", 1, "invalid JSON at header byte 30: invalid number");
    ERR("{" T("x", "U8", "[1,]", 0, 1) "}", 1,
        "invalid JSON at header byte 30: expected a number, got ']'");
    ERR("{" T("x", "U8", "[1 2]", 0, 1) "}", 1,
        "invalid JSON at header byte 30: expected ',' or ']', got '2'");
    ERR("{" T("x", "U8", "[x]", 0, 1) "}", 1,
        "invalid JSON at header byte 28: expected a number, got 'x'");
    ERR("{" T("x", "U8", "[1]", 0, 1) ",}", 1,
        "invalid JSON at header byte 53: expected a string, got '}'");
    ERR("{" T("x", "U8", "[1]", 0, 1), 1,
        "invalid JSON at header byte 52: expected ',' or '}', got end of header");
    ERR("{\"x\":{\"dtype\":\"U8\"", 0,
        "invalid JSON at header byte 18: expected ',' or '}', got end of header");
    ERR("{\"x\":", 0, "invalid JSON at header byte 5: expected a value, got end of header");
    ERR("{\"x\":@}", 0, "invalid JSON at header byte 5: expected a value, got '@'");
    ERR("{1:2}", 0, "invalid JSON at header byte 1: expected a string, got '1'");
    ERR(" {}", 0, "invalid JSON at header byte 0: expected '{', got ' '");
    ERR("[]", 0, "invalid JSON at header byte 0: expected '{', got '['");
    ERR("{}x", 0, "invalid JSON at header byte 2: trailing characters after the header object");
    ERR("{}{}", 0, "invalid JSON at header byte 2: trailing characters after the header object");
    ck_assert_int_eq(parse_n("{}\0\0", 4, 0), -1);
    ck_assert_str_eq(err,
                     "invalid JSON at header byte 2: trailing characters after the header object");
    ck_assert_int_eq(parse_n("{\"a\0\":1}", 8, 0), -1);
    ck_assert_str_eq(err, "invalid JSON at header byte 3: control character in string");
    ck_assert_int_eq(parse_n("{\x01}", 3, 0), -1);
    ck_assert_str_eq(err, "invalid JSON at header byte 1: expected a string, got byte 0x01");
}
END_TEST

START_TEST(invalid_utf8)
{
    static const struct {
        const char *hdr;
        size_t at;
    } cases[] = {
        {"{\"\xff\":1}", 2},             /* never valid */
        {"{\"\xc0\xaf\":1}", 2},         /* overlong '/' */
        {"{\"\xe0\x80\xaf\":1}", 2},     /* overlong, 3 bytes */
        {"{\"\xed\xa0\x80\":1}", 2},     /* UTF-16 surrogate */
        {"{\"\xf4\x90\x80\x80\":1}", 2}, /* past U+10FFFF */
        {"{\"a\x80\":1}", 3},            /* stray continuation byte */
        {"{\"a\xc3(\":1}", 3},           /* bad continuation */
        {"{\"a\xe2\x82", 3},             /* cut off at the end of the header */
    };
    char want[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(parse_hdr(cases[i].hdr, 0), -1);
        snprintf(want, sizeof want, "header is not valid UTF-8 (at header byte %zu)", cases[i].at);
        ck_assert_str_eq(err, want);
    }
}
END_TEST

/* ---- the schema ------------------------------------------------------------------------------ */

START_TEST(fields)
{
    ERR("{\"x\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'x': missing field 'dtype'");
    ERR("{\"x\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1,
        "tensor 'x': missing field 'shape'");
    ERR("{\"x\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "tensor 'x': missing field 'data_offsets'");
    ERR("{\"x\":{}}", 0, "tensor 'x': missing field 'dtype'");
    ERR("{\"x\":{\"dtype\":5}}", 0, "tensor 'x': 'dtype' must be a string, got a number");
    ERR("{\"x\":{\"dtype\":[\"F32\"]}}", 0, "tensor 'x': 'dtype' must be a string, got an array");
    ERR("{\"x\":{\"shape\":\"1\"}}", 0, "tensor 'x': 'shape' must be an array, got a string");
    ERR("{\"x\":{\"shape\":null}}", 0, "tensor 'x': 'shape' must be an array, got null");
    ERR("{\"x\":{\"data_offsets\":{}}}", 0,
        "tensor 'x': 'data_offsets' must be an array, got an object");
    ERR("{\"x\":5}", 0,
        "tensor 'x': expected an object with dtype, shape and data_offsets, got a number");
    ERR("{\"x\":\"F32\"}", 0,
        "tensor 'x': expected an object with dtype, shape and data_offsets, got a string");
    ERR("{\"x\":{\"dtype\":\"U8\",\"foo\":1}}", 0, "tensor 'x': unknown field 'foo'");
    ERR("{\"x\":{\"dtype\":\"U8\",\"dtype\\u0000\":1}}", 0,
        "tensor 'x': unknown field 'dtype\\x00'");
    ERR("{\"x\":{\"shape\":[1],\"shape\":[1]}}", 0, "tensor 'x': duplicate field 'shape'");
}
END_TEST

START_TEST(shapes)
{
    ERR("{" T("x", "U8", "[-1]", 0, 1) "}", 1,
        "tensor 'x': shape[0] must be a non-negative integer, got -1");
    ERR("{" T("x", "U8", "[1,2.5]", 0, 1) "}", 1,
        "tensor 'x': shape[1] must be a non-negative integer, got 2.5");
    ERR("{" T("x", "U8", "[1e3]", 0, 1) "}", 1,
        "tensor 'x': shape[0] must be a non-negative integer, got 1e3");
    ERR("{" T("x", "U8", "[-0]", 0, 1) "}", 1,
        "tensor 'x': shape[0] must be a non-negative integer, got -0");
    ERR("{" T("x", "U8", "[\"3\"]", 0, 1) "}", 1,
        "tensor 'x': shape[0] must be a non-negative integer, got a string");
    ERR("{" T("x", "U8", "[true]", 0, 1) "}", 1,
        "tensor 'x': shape[0] must be a non-negative integer, got a boolean");
    ERR("{" T("x", "U8", "[[1]]", 0, 1) "}", 1,
        "tensor 'x': shape[0] must be a non-negative integer, got an array");
    ERR("{" T("x", "U8", "[99999999999999999999]", 0, 1) "}", 1,
        "tensor 'x': shape[0] = 99999999999999999999 is too large");
    ERR("{" T("x", "U8", "[9223372036854775808]", 0, 1) "}", 1,
        "tensor 'x': shape[0] = 9223372036854775808 is too large");
    ERR("{" T("x", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1,
        "tensor 'x': shape has more than 8 entries");
    OK("{" T("x", "U8", "[1,1,1,1,1,1,1,1]", 0, 1) "}", 1);
    ck_assert_int_eq(sf.tensors[0].rank, 8);
    st_free(&sf);
    ERR("{" T("x", "U8", "[9223372036854775807]", 0, 1) "}", 1,
        "tensor 'x': data_offsets [0, 1] hold 1 byte but shape [9223372036854775807] of U8 "
        "needs 9223372036854775807");
    ERR("{" T("x", "F32", "[9223372036854775807]", 0, 1) "}", 1,
        "tensor 'x': shape [9223372036854775807] of F32 is too large (its byte count overflows)");
    ERR("{" T("x", "U8", "[4294967296,4294967296]", 0, 1) "}", 1,
        "tensor 'x': shape [4294967296, 4294967296] of U8 is too large (its byte count "
        "overflows)");
    ERR("{" T("x", "U8", "[4294967296,4294967296,0]", 0, 0) "}", 0,
        "tensor 'x': shape [4294967296, 4294967296, 0] of U8 is too large (its byte count "
        "overflows)");
    ERR("{" T("x", "U8", "[0,4294967296,4294967296]", 0, 0) "}", 0,
        "tensor 'x': shape [0, 4294967296, 4294967296] of U8 is too large (its byte count "
        "overflows)");
}
END_TEST

START_TEST(offsets)
{
    ERR("{" T("fc1.weight", "F32", "[5,6]", 0, 100) "}", 100,
        "tensor 'fc1.weight': data_offsets [0, 100] hold 100 bytes but shape [5, 6] of F32 "
        "needs 120");
    ERR("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
        "tensor 'x': data_offsets must have 2 entries, got 1");
    ERR("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[]}}", 1,
        "tensor 'x': data_offsets must have 2 entries, got 0");
    ERR("{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
        "tensor 'x': data_offsets has more than 2 entries");
    ERR("{" T("x", "U8", "[4]", 8, 4) "}", 8, "tensor 'x': data_offsets [8, 4] have begin > end");
    ERR("{" T("x", "U8", "[1]", -1, 0) "}", 1,
        "tensor 'x': data_offsets[0] must be a non-negative integer, got -1");
    ERR("{" T("x", "U8", "[1]", 0, 1.0) "}", 1,
        "tensor 'x': data_offsets[1] must be a non-negative integer, got 1.0");
    ERR("{" T("x", "U8", "[1]", 0, 18446744073709551616) "}", 1,
        "tensor 'x': data_offsets[1] = 18446744073709551616 is too large");
    ERR("{" T("x", "U8", "[1]", 0, 18446744073709551615) "}", 1,
        "tensor 'x': data_offsets [0, 18446744073709551615] hold 18446744073709551615 bytes but "
        "shape [1] of U8 needs 1");
    ERR("{" T("x", "U8", "[1]", 18446744073709551614, 18446744073709551615) "}", 1,
        "tensor 'x': data_offsets [18446744073709551614, 18446744073709551615] extend past the "
        "end of the data (1 byte)");
    ERR("{" T("x", "F32", "[2]", 4, 12) "}", 8,
        "tensor 'x': data_offsets [4, 12] extend past the end of the data (8 bytes)");
}
END_TEST

START_TEST(coverage)
{
    ERR("{" T("a", "U8", "[8]", 0, 8) "," T("b", "U8", "[8]", 4, 12) "}", 12,
        "tensors 'a' and 'b' overlap");
    ERR("{" T("b", "U8", "[8]", 0, 8) "," T("a", "U8", "[8]", 0, 8) "}", 8,
        "tensors 'a' and 'b' overlap");
    ERR("{" T("a", "U8", "[8]", 0, 8) "," T("z", "U8", "[0]", 4, 4) "}", 8,
        "tensors 'a' and 'z' overlap");
    ERR("{" T("a", "U8", "[4]", 0, 4) "," T("b", "U8", "[4]", 8, 12) "}", 12,
        "bytes 4..8 of the data are not covered by any tensor");
    ERR("{" T("a", "U8", "[4]", 4, 8) "}", 8,
        "bytes 0..4 of the data are not covered by any tensor");
    ERR("{" T("a", "F32", "[100]", 0, 400) "}", 512,
        "bytes 400..512 of the data are not covered by any tensor");
    ERR("{" T("a", "U8", "[4]", 0, 4) "," T("e", "U8", "[0]", 6, 6) "}", 6,
        "bytes 4..6 of the data are not covered by any tensor");
}
END_TEST

START_TEST(duplicates_and_metadata)
{
    ERR("{" T("a", "U8", "[1]", 0, 1) "," T("a", "U8", "[1]", 1, 2) "}", 2,
        "duplicate key 'a' in the header");
    ERR("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
        "duplicate key '__metadata__' in the header");
    ERR("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0,
        "__metadata__: duplicate key 'k'");
    ERR("{\"__metadata__\":{\"k\":1}}", 0,
        "__metadata__: value of 'k' must be a string, got a number");
    ERR("{\"__metadata__\":{\"k\":null}}", 0,
        "__metadata__: value of 'k' must be a string, got null");
    ERR("{\"__metadata__\":{\"k\":{}}}", 0,
        "__metadata__: value of 'k' must be a string, got an object");
    ERR("{\"__metadata__\":[]}", 0, "__metadata__ must be an object of strings, got an array");
    ERR("{\"__metadata__\":\"x\"}", 0, "__metadata__ must be an object of strings, got a string");
    ERR("{\"__metadata__\":{\"\\u0000\":\"\"}}", 0,
        "__metadata__: key '\\x00' contains a NUL character");
    ERR("{\"__metadata__\":{\"k\":\"v\",}}", 0,
        "invalid JSON at header byte 25: expected a string, got '}'");
    ERR("{\"a\\u0000b\":{}}", 0, "header key 'a\\x00b' contains a NUL character");
}
END_TEST

START_TEST(names_in_messages)
{
    /* Control characters are escaped so that a message stays on one line. */
    ERR("{" T("a\\nb\\u001b", "X", "[1]", 0, 1) "}", 1, "tensor 'a\\x0ab\\x1b': unknown dtype 'X'");
    /* Long names are cut after 64 bytes, at a character boundary. */
    char name[101], *hdr, *want;
    memset(name, 'n', 100);
    name[100] = '\0';
    name[63] = '\xc3', name[64] = '\xa9'; /* an e-acute across the cut */
    hdr = xasprintf("{\"%s\":{\"dtype\":\"X\"}}", name);
    name[63] = '\0';
    want = xasprintf("tensor '%s...': unknown dtype 'X'", name);
    ERR(hdr, 0, want);
    free(hdr);
    free(want);
    /* A small error buffer truncates; none at all is allowed. */
    size_t size;
    unsigned char *b = image("{]", 2, NULL, 0, &size);
    char small[8];
    ck_assert_int_eq(st_parse(b, size, &sf, small, sizeof small), -1);
    ck_assert_str_eq(small, "invalid");
    b = image("{]", 2, NULL, 0, &size);
    ck_assert_int_eq(st_parse(b, size, &sf, NULL, 0), -1);
}
END_TEST

/* ---- st_load --------------------------------------------------------------------------------- */

START_TEST(load)
{
    ck_assert_int_eq(st_load("/nonexistent/dir/w.safetensors", &sf, err, sizeof err), -1);
    ck_assert_str_eq(err, "No such file or directory");

    char path[] = "/tmp/cnnc-st-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t size;
    unsigned char *b = valid_image(&size);
    ck_assert_int_eq(write(fd, b, size), (ssize_t)size);
    close(fd);
    free(b);
    int rc = st_load(path, &sf, err, sizeof err);
    unlink(path);
    ck_assert_msg(rc == 0, "st_load: %s", err);
    ck_assert_int_eq(sf.ntensors, 12);
    float w[6];
    memcpy(w, st_find(&sf, "fc1.weight")->data, sizeof w);
    ck_assert(w[1] == -1.25f);
    st_free(&sf);
}
END_TEST

/* ---- randomized robustness ------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33);
}

/* Corrupt a copy of the image in one of several ways; returns its new size. */
static size_t mutate(unsigned char *b, size_t size)
{
    static const char tokens[] = "{}[]:,\"\\0123456789-.eEu \x80\xff";
    size_t hlen = strlen(valid_header);
    switch (rnd() % 5) {
    case 0: /* flip bits anywhere */
        for (uint32_t k = 1 + rnd() % 3; k > 0; k--)
            b[rnd() % size] ^= (unsigned char)(1u << (rnd() % 8));
        return size;
    case 1: /* a JSON-significant byte into the header */
        for (uint32_t k = 1 + rnd() % 3; k > 0; k--)
            b[8 + rnd() % hlen] = (unsigned char)tokens[rnd() % (sizeof tokens - 1)];
        return size;
    case 2: /* a digit into the header: offsets and shapes change */
        b[8 + rnd() % hlen] = (unsigned char)('0' + rnd() % 10);
        return size;
    case 3: /* truncate */
        return rnd() % size;
    default: /* a different header length */
        b[rnd() % 8] = (unsigned char)rnd();
        return size;
    }
}

/* What an accepted file must satisfy, whatever the mutation did. */
static void check_invariants(const StFile *f)
{
    uint64_t hlen = 0, covered = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | f->buf[i];
    ck_assert(hlen <= f->size - 8);
    const unsigned char *data = f->buf + 8 + hlen;
    uint64_t data_size = f->size - 8 - hlen;
    for (int i = 0; i < f->ntensors; i++) {
        const StTensor *t = &f->tensors[i];
        ck_assert(t->begin <= t->end && t->end <= data_size);
        ck_assert_ptr_eq(t->data, data + t->begin);
        covered += t->end - t->begin;
        if (i > 0)
            ck_assert(strcmp(f->tensors[i - 1].name, t->name) < 0);
    }
    ck_assert_uint_eq(covered, data_size);
}

START_TEST(random_mutations)
{
    size_t size;
    unsigned char *valid = valid_image(&size);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 2000; iter++) {
        unsigned char *b = xmalloc(size);
        memcpy(b, valid, size);
        size_t n = mutate(b, size);
        err[0] = 'X';
        if (st_parse(b, n, &sf, err, sizeof err) == 0) {
            check_invariants(&sf);
            st_free(&sf);
            accepted++;
        } else {
            ck_assert(err[0] != '\0' && err[0] != 'X');
            ck_assert_ptr_null(strchr(err, '\n'));
            rejected++;
        }
    }
    free(valid);
    ck_assert_int_eq(accepted + rejected, 2000);
    ck_assert_int_gt(rejected, 1000);
    ck_assert_int_gt(accepted, 0);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, valid_file);
    tcase_add_test(tc, dtype_names);
    tcase_add_test(tc, padding_and_whitespace);
    tcase_add_test(tc, zero_size_tensors);
    tcase_add_test(tc, empty_header);
    tcase_add_test(tc, other_dtypes);
    tcase_add_test(tc, unicode_names);
    tcase_add_test(tc, bad_length);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, json_syntax);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, fields);
    tcase_add_test(tc, shapes);
    tcase_add_test(tc, offsets);
    tcase_add_test(tc, coverage);
    tcase_add_test(tc, duplicates_and_metadata);
    tcase_add_test(tc, names_in_messages);
    tcase_add_test(tc, load);
    tcase_add_test(tc, random_mutations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(safetensors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
