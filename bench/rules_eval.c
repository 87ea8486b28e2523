/* rules_eval: what matching each event against the daemon's rules costs
 * (bench/rules.sh). 0, 1, 10 and 100 rules that do not match, evaluated
 * by the daemon: of two kinds in turn (a port, a network: the event's own
 * fields), then of five (also a comm glob, a cmdline glob, an ancestor's
 * cmdline); tcp_connect events of this process, whose tree is in a process
 * cache read from /proc. Prints one JSON object per run:
 * {"rules","kinds","events","matched","ns_per_event"}. No root, no kernel. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"
#include "proctree.h"
#include "rule_engine.h"
#include "rules.h"
#include "strbuf.h"
#include "timeutil.h"

#define EVENTS 20000

static const struct probe_ops *find_probe(void *ctx, const char *name)
{
    return probe_builtin_find(name);
}

/* `kinds` 2: ports and networks only (the event's own fields); 5: also
 * comm (read from /proc), cmdline and ancestors (the process tree). */
static int rules_text(int n, int kinds, struct strbuf *sb)
{
    int ret = strbuf_puts(sb, n ? "rules:\n" : "rules: []\n");
    for (int i = 0; i < n && ret == 0; i++) {
        int k = i % 250;
        char cond[128];
        switch (i % kinds) {
        case 0:
            snprintf(cond, sizeof(cond), "port: %d", 10000 + i);
            break;
        case 1:
            snprintf(cond, sizeof(cond), "daddr: 10.%d.0.0/16", k);
            break;
        case 2:
            snprintf(cond, sizeof(cond), "comm: 'nomatch%d*'", k);
            break;
        case 3:
            snprintf(cond, sizeof(cond), "cmdline: '*nomatch%d*'", k);
            break;
        default:
            snprintf(cond, sizeof(cond), "ancestor: {cmdline: '*nomatch%d*'}", k);
            break;
        }
        ret = strbuf_printf(sb, "  - {name: r%d, probe: tcp_connect, match: {%s}}\n", i, cond);
    }
    return ret;
}

static int measure(struct proc_cache *cache, int n_rules, int kinds)
{
    struct rule_engine *re = rule_engine_new();
    struct rule_list l = {0};
    struct pt_error err = {0};
    struct strbuf text = STRBUF_INIT;
    if (!re || rules_text(n_rules, kinds, &text) < 0 ||
        rules_load_string(text.data, text.len, "bench.yml", find_probe, NULL, &l, &err) < 0 ||
        rule_engine_add(re, &l, &err) < 0) {
        fprintf(stderr, "rules_eval: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    json_t *fields =
        json_pack("{s:s,s:s,s:i}", "saddr", "198.51.100.1", "daddr", "198.51.100.2", "port", 8080);
    struct rule_event ev = {.probe_id = 1,
                            .probe = "tcp_connect",
                            .pid = (uint32_t)getpid(),
                            .tid = (uint32_t)getpid(),
                            .boot_ns = time_boot_ns(),
                            .fields = fields,
                            .cache = cache};
    unsigned matched = 0;
    uint64_t t0 = time_monotonic_ns();
    for (int i = 0; i < EVENTS; i++) {
        json_t *marks = rule_engine_judge(re, &ev);
        matched += marks != NULL;
        json_decref(marks);
    }
    uint64_t t1 = time_monotonic_ns();
    printf("{\"rules\":%d,\"kinds\":\"%s\",\"events\":%d,\"matched\":%u,\"ns_per_event\":%.0f}\n",
           n_rules, kinds == 2 ? "fields" : "mixed", EVENTS, matched, (double)(t1 - t0) / EVENTS);
    json_decref(fields);
    rule_list_release(&l);
    strbuf_release(&text);
    rule_engine_free(re);
    return matched != 0;
}

int main(void)
{
    struct proc_cache *cache = proc_cache_new("/proc");
    if (!cache || proc_cache_scan(cache) < 0) {
        fprintf(stderr, "rules_eval: cannot read /proc\n");
        return 1;
    }
    static const int counts[] = {0, 1, 10, 100};
    int ret = 0;
    for (int kinds = 2; kinds <= 5 && ret == 0; kinds += 3)
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]) && ret == 0; i++)
            ret = measure(cache, counts[i], kinds);
    proc_cache_free(cache);
    return ret;
}
