/* Command-line parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static enum cli_result parse(struct cli_options *o, char *errbuf, size_t len, int argc, char **argv)
{
    FILE *err = fmemopen(errbuf, len, "w");
    assert_non_null(err);
    enum cli_result r = cli_parse(argc, argv, o, err);
    fclose(err);
    return r;
}

static void test_defaults(void **state)
{
    char e[512] = "";
    struct cli_options o;
    char *argv[] = {"pidtree-bcc", NULL};
    assert_int_equal(parse(&o, e, sizeof(e), 1, argv), CLI_OK);
    assert_string_equal(o.output_path, "-");
    assert_int_equal(o.health_check_period, 60);
    assert_null(o.config_path);
    assert_false(o.print_and_quit);
}

static void test_all_options(void **state)
{
    char e[512] = "";
    struct cli_options o;
    char *argv[] = {"pidtree-bcc", "-c",
                    "c.yml",       "--output_file",
                    "out",         "-p",
                    "-w",          "--health-check-period",
                    "5",           "--lost-event-telemetry",
                    "100",         "--extra-probe-path",
                    "/p",          "--extra-plugin-path",
                    "/q",          NULL};
    assert_int_equal(parse(&o, e, sizeof(e), 15, argv), CLI_OK);
    assert_string_equal(o.config_path, "c.yml");
    assert_string_equal(o.output_path, "out");
    assert_true(o.print_and_quit && o.watch_config);
    assert_int_equal(o.health_check_period, 5);
    assert_int_equal(o.lost_event_telemetry, 100);
    assert_string_equal(o.extra_probe_path, "/p");
    assert_string_equal(o.extra_plugin_path, "/q");
}

static void test_errors(void **state)
{
    char e[512];
    struct cli_options o;
    char *a1[] = {"pidtree-bcc", "--health-check-period", "-1", NULL};
    memset(e, 0, sizeof(e));
    assert_int_equal(parse(&o, e, sizeof(e), 3, a1), CLI_USAGE_ERROR);
    assert_non_null(strstr(e, "--health-check-period: '-1'"));
    char *a2[] = {"pidtree-bcc", "-c", NULL};
    memset(e, 0, sizeof(e));
    assert_int_equal(parse(&o, e, sizeof(e), 2, a2), CLI_USAGE_ERROR);
    assert_non_null(strstr(e, "needs a value"));
    char *a3[] = {"pidtree-bcc", "stray", NULL};
    memset(e, 0, sizeof(e));
    assert_int_equal(parse(&o, e, sizeof(e), 2, a3), CLI_USAGE_ERROR);
    assert_non_null(strstr(e, "unexpected argument 'stray'"));
    char *a4[] = {"pidtree-bcc", "--lost-event-telemetry", "-x", NULL};
    memset(e, 0, sizeof(e));
    assert_int_equal(parse(&o, e, sizeof(e), 3, a4), CLI_USAGE_ERROR);
    char *a5[] = {"pidtree-bcc", "--lost-event-telemetry", "--", NULL};
    memset(e, 0, sizeof(e));
    assert_int_equal(parse(&o, e, sizeof(e), 3, a5), CLI_USAGE_ERROR);
}

/* The original's documented values: --lost-event-telemetry -1 is its
 * default (off), and so is anything not above 0; --health-check-period 0
 * turns the periodic checks off. --strict is this version's own. */
static void test_original_values(void **state)
{
    char e[512] = "";
    struct cli_options o;
    char *a1[] = {
        "pidtree-bcc", "--lost-event-telemetry", "-1", "--health-check-period", "0", "--strict",
        NULL};
    assert_int_equal(parse(&o, e, sizeof(e), 6, a1), CLI_OK);
    assert_int_equal(o.lost_event_telemetry, 0);
    assert_int_equal(o.health_check_period, 0);
    assert_true(o.strict);
    char *a2[] = {"pidtree-bcc", "--lost-event-telemetry=0", NULL};
    assert_int_equal(parse(&o, e, sizeof(e), 2, a2), CLI_OK);
    assert_int_equal(o.lost_event_telemetry, 0);
    assert_false(o.strict);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_original_values),
        cmocka_unit_test(test_all_options),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
