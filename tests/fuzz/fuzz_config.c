/* Fuzzes the config loader and its schema (config_load_string): YAML
 * parsing, includes, aliases, merge keys, every limit, every typed field.
 * Any input must end in a config or in an error, never a crash, a hang or
 * unbounded memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "probe.h"

/* A probe from --extra-probe-path, as its description's settings make it. */
static const struct probe_option my_probe_options[] = {
    {.name = "min_uid", .type = POPT_INT, .min = -1000000, .max = 1000000},
    {.name = "verbose", .type = POPT_BOOL},
};
static const struct probe_schema my_probe_schema = {my_probe_options, 2, true, false};

/* Every built-in probe's real schema, so every option type is fuzzed. */
static const struct probe_schema *find_schema(const char *name, void *ctx)
{
    const struct probe_ops *ops = probe_builtin_find(name);
    return ops ? &ops->schema : strcmp(name, "my_probe") == 0 ? &my_probe_schema : NULL;
}

static const struct config_probes known_probe = {find_schema, NULL, "tcp_connect"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* An input's `!include http://...` must not reach the network: every
     * fetch goes through a "proxy" on 127.0.0.1:1, which refuses at once. */
    static const char *const proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY",
                                          "all_proxy"};
    for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
        setenv(proxies[i], "http://127.0.0.1:1", 1);
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct config *cfg = NULL;
    struct pt_error err;
    if (config_load_string(text, "fuzz.yml", &known_probe, &cfg, &err) == 0)
        config_free(cfg);
    free(text);
    return 0;
}
