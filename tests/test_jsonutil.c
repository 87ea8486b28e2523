/* JSON from hostile bytes stays valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonutil.h"

static char *dump_string(const char *bytes, size_t len)
{
    json_t *s = json_string_lossy(bytes, len);
    assert_non_null(s);
    char *out = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    assert_non_null(out);
    return out;
}

static void test_valid_utf8_unchanged(void **state)
{
    const char text[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    json_t *s = json_string_lossy(text, strlen(text));
    assert_string_equal(json_string_value(s), text);
    json_decref(s);
}

static void test_invalid_bytes_replaced(void **state)
{
    /* lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF */
    const char text[] = "a\x80"
                        "b\xc3"
                        "c\xc0\xaf"
                        "d\xed\xa0\x80"
                        "e\xf4\x90\x80\x80";
    json_t *s = json_string_lossy(text, sizeof(text) - 1);
    assert_non_null(s);
    const char *v = json_string_value(s);
    assert_non_null(strstr(v, "a\xef\xbf\xbd"
                              "b\xef\xbf\xbd"
                              "c"));
    /* What was written parses back: the output is valid JSON. */
    char *out = json_dumps(s, JSON_ENCODE_ANY);
    json_t *back = json_loads(out, JSON_DECODE_ANY, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(back), v);
    json_decref(back);
    free(out);
    json_decref(s);
}

static void test_control_and_quotes_escaped(void **state)
{
    const char text[] = "x\ny\"z\\\x01";
    char *out = dump_string(text, sizeof(text) - 1);
    assert_string_equal(out, "\"x\\ny\\\"z\\\\\\u0001\"");
    free(out);
}

static void test_embedded_nul(void **state)
{
    char *out = dump_string("a\0b", 3);
    assert_string_equal(out, "\"a\\u0000b\"");
    free(out);
}

static void test_large(void **state)
{
    size_t n = 100 * 1024;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 0xff, n);
    json_t *s = json_string_lossy(big, n);
    assert_non_null(s);
    assert_int_equal(json_string_length(s), n * 3);
    json_decref(s);
    free(big);
}

static void test_sequence_length(void **state)
{
    assert_int_equal(utf8_sequence_length((const unsigned char *)"A", 1), 1);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xc3\xa9", 2), 2);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xc3", 1), 0);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xe0\x80\x80", 3), 0);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xff", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_utf8_unchanged),
        cmocka_unit_test(test_invalid_bytes_replaced),
        cmocka_unit_test(test_control_and_quotes_escaped),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_sequence_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
