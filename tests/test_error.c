/* The error convention: first error wins, errno survives, formatting, and
 * the warning list's bound. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

static void test_first_error_wins(void **state)
{
    (void)state;
    struct pt_error err = {0};
    errno = EBADF;
    assert_int_equal(pt_error_set(&err, ENOENT, "a.yml", 3, "missing %s", "x"), -ENOENT);
    assert_int_equal(errno, EBADF);
    assert_int_equal(pt_error_set(&err, ENOMEM, NULL, 0, "later"), -ENOMEM);
    char buf[256];
    pt_error_format(&err, buf, sizeof(buf));
    assert_string_equal(buf, "a.yml:3: missing x");
    pt_error_clear(&err);
    assert_false(pt_error_is_set(&err));
    pt_error_set(&err, 0, "b.yml", 0, "no line");
    pt_error_format(&err, buf, sizeof(buf));
    assert_string_equal(buf, "b.yml: no line");
}

static void test_diags_bounded(void **state)
{
    (void)state;
    struct pt_diags d = {0};
    for (int i = 0; i < PT_DIAGS_MAX + 50; i++)
        assert_int_equal(pt_diags_add(&d, "c.yml", i + 1, "duplicate key 'k%d'", i), 0);
    assert_int_equal(d.n, PT_DIAGS_MAX);
    assert_int_equal(d.n_more, 50);
    assert_int_equal(d.items[PT_DIAGS_MAX - 1].line, PT_DIAGS_MAX);
    assert_string_equal(d.items[0].msg, "duplicate key 'k0'");
    pt_diags_free(&d);
    assert_null(d.items);
    assert_int_equal(d.n + d.n_more, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_diags_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
