#include "rules_kernel.h"

#include <arpa/inet.h>
#include <bcc/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "strbuf.h"

static uint32_t probe_mask(const struct rules_kernel *rk, const struct rule *r)
{
    uint32_t mask = 0;
    for (size_t p = 0; p < r->n_probes; p++)
        for (size_t id = 1; id < rk->n_probes && id < 32; id++)
            if (rk->probe_names[id] && strcmp(rk->probe_names[id], r->probes[p]) == 0)
                mask |= 1u << id;
    return mask;
}

/* The network as IPv4-mapped IPv6 with its mask, as the programs compare
 * (an IPv4 network then also matches IPv4-mapped peers). */
static void encode_network(const struct rule_kernel_terms *kt, struct pt_krule *out)
{
    uint8_t addr[16] = {0}, mask[16];
    unsigned bits = kt->prefixlen;
    if (kt->family == AF_INET) {
        addr[10] = addr[11] = 0xff;
        memcpy(&addr[12], kt->addr, 4);
        bits += 96;
    } else {
        memcpy(addr, kt->addr, 16);
    }
    for (unsigned i = 0; i < 16; i++) {
        unsigned take = bits > 8 * i ? bits - 8 * i : 0;
        mask[i] = take >= 8 ? 0xff : (uint8_t)(0xff << (8 - take));
        addr[i] &= mask[i];
    }
    memcpy(out->addr, addr, sizeof(addr));
    memcpy(out->addr_mask, mask, sizeof(mask));
}

/* A whole name is compared with its NUL; a prefix, without. */
static void encode_comm(const struct rule_kernel_terms *kt, struct pt_krule *out)
{
    uint8_t comm[16] = {0}, mask[16] = {0};
    bool prefix = kt->flags & RULE_KT_COMM_PREFIX;
    memcpy(comm, kt->comm, kt->comm_len);
    memset(mask, 0xff, kt->comm_len + (prefix ? 0 : 1));
    memcpy(out->comm, comm, sizeof(comm));
    memcpy(out->comm_mask, mask, sizeof(mask));
}

int rules_kernel_encode(const struct rules_kernel *rk, const struct rule *r, struct pt_krule *out)
{
    const struct rule_kernel_terms *kt = &r->kterms;
    memset(out, 0, sizeof(*out));
    out->probe_mask = probe_mask(rk, r);
    if (!out->probe_mask)
        return -ENOENT;
    out->rule_id = r->id;
    out->signal = (uint32_t)rule_action_signal(r->action);
    out->flags = r->audit ? PT_KRULE_AUDIT : 0;
    /* No term: the whole range (an empty mask matches anything). */
    out->uid_hi = UINT32_MAX;
    out->port_hi = UINT16_MAX;
    if (kt->flags & RULE_KT_UID) {
        out->flags |= PT_KRULE_UID;
        out->uid_lo = kt->uid_lo;
        out->uid_hi = kt->uid_hi;
    }
    if (kt->flags & RULE_KT_PORT) {
        out->flags |= PT_KRULE_PORT;
        out->port_lo = kt->port_lo;
        out->port_hi = kt->port_hi;
    }
    if (kt->flags & RULE_KT_ADDR) {
        out->flags |= PT_KRULE_ADDR;
        encode_network(kt, out);
    }
    if (kt->flags & RULE_KT_COMM) {
        out->flags |= PT_KRULE_COMM;
        encode_comm(kt, out);
    }
    return 0;
}

static int map_write(int fd, uint32_t key, const void *value, struct pt_error *err)
{
    if (bpf_update_elem(fd, &key, (void *)value, BPF_ANY) < 0)
        return pt_error_set(err, errno, NULL, 0, "cannot write the kernel rules: %s",
                            strerror(errno));
    return 0;
}

int rules_kernel_sync(void *ctx, struct rule *const *rules, size_t n, bool *in_kernel,
                      struct pt_error *err)
{
    struct rules_kernel *rk = ctx;
    uint32_t next = rk->bank ^ 1, count = 0;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        struct pt_krule k;
        in_kernel[i] = false;
        if (!rules[i]->kernel || count == PT_KRULES_MAX ||
            rules_kernel_encode(rk, rules[i], &k) < 0)
            continue;
        ret = map_write(rk->rules_fd, next * PT_KRULES_MAX + count, &k, err);
        in_kernel[i] = ret == 0;
        count += ret == 0;
    }
    /* The programs read whole chunks: the rest of the last one matches
     * nothing (a zero probe mask). */
    static const struct pt_krule none;
    for (uint32_t s = count; ret == 0 && s % PT_KRULES_CHUNK; s++)
        ret = map_write(rk->rules_fd, next * PT_KRULES_MAX + s, &none, err);
    if (ret < 0)
        return ret;
    uint32_t n_after[2] = {rk->n[0], rk->n[1]};
    n_after[next] = count;
    struct pt_krules_ctl ctl = {
        .bank = next, .n = {n_after[0], n_after[1]}, .daemon_tgid = rk->daemon_tgid};
    ret = map_write(rk->ctl_fd, 0, &ctl, err);
    if (ret == 0) {
        rk->bank = next;
        rk->n[0] = n_after[0];
        rk->n[1] = n_after[1];
    }
    return ret;
}

/* ---- -p ---- */

static int describe_one(const struct rules_kernel *rk, const struct rule *r, struct strbuf *out)
{
    struct pt_krule k;
    char addr[INET6_ADDRSTRLEN];
    if (rules_kernel_encode(rk, r, &k) < 0)
        return strbuf_printf(out, " *   %s: none of its probes is configured\n", r->name);
    int ret = strbuf_printf(out, " *   #%u %s: probe_mask 0x%x signal %u%s", k.rule_id, r->name,
                            k.probe_mask, k.signal, r->audit ? " audit" : "");
    if (ret == 0 && (k.flags & PT_KRULE_UID))
        ret = strbuf_printf(out, " uid %u-%u", k.uid_lo, k.uid_hi);
    if (ret == 0 && (k.flags & PT_KRULE_COMM))
        ret = strbuf_printf(
            out, " comm %s\"%s\"",
            r->kterms.flags & RULE_KT_COMM_PREFIX ? "starts with " : "== ", r->kterms.comm);
    if (ret == 0 && (k.flags & PT_KRULE_ADDR))
        ret = strbuf_printf(out, " addr %s/%u (mapped)",
                            inet_ntop(AF_INET6, k.addr, addr, sizeof(addr)),
                            (r->kterms.family == AF_INET ? 96 : 0) + r->kterms.prefixlen);
    if (ret == 0 && (k.flags & PT_KRULE_PORT))
        ret = strbuf_printf(out, " port %u-%u", k.port_lo, k.port_hi);
    return ret == 0 ? strbuf_puts(out, "\n") : ret;
}

int rules_kernel_describe(const struct rules_kernel *rk, struct rule *const *rules, size_t n,
                          struct strbuf *out)
{
    size_t in_kernel = 0;
    int ret = strbuf_puts(out, "/* Kernel rules: entries of pt_krules (templates/rules.h), "
                               "written at start-up\n * and on every change, not compiled:\n");
    for (size_t i = 0; i < n && ret == 0; i++) {
        if (!rules[i]->kernel || in_kernel == PT_KRULES_MAX)
            continue;
        in_kernel++;
        ret = describe_one(rk, rules[i], out);
    }
    if (ret == 0 && !in_kernel)
        ret = strbuf_puts(out, " *   (none)\n");
    if (ret == 0)
        ret = strbuf_puts(out, " * Rules the daemon evaluates:\n");
    for (size_t i = 0, k = 0; i < n && ret == 0; i++) {
        bool kernel = rules[i]->kernel && k++ < PT_KRULES_MAX;
        if (!kernel)
            ret = strbuf_printf(out, " *   %s: %s\n", rules[i]->name,
                                rules[i]->kernel ? "more kernel rules than the maps hold"
                                                 : rules[i]->why_daemon);
    }
    return ret == 0 ? strbuf_puts(out, " */\n") : ret;
}

/* ---- what the kernel allows ---- */

/* Loads r1 = SIGKILL; call bpf_send_signal; r0 = 1; exit as a program of
 * `type`. Returns 1 when the kernel takes it, 0 when its verifier refuses
 * the helper (EINVAL), -1 when that cannot be tried (no privilege). */
static int signal_helper_allowed(int type, int attach_type)
{
    struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = SIGKILL},
        {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_send_signal},
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = (uint32_t)type;
    attr.expected_attach_type = (uint32_t)attach_type;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
    attr.license = (uint64_t)(uintptr_t) "GPL";
    int fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    return errno == EINVAL ? 0 : -1;
}

bool rules_kernel_cgroup_can_signal(void)
{
    static int known = -1;
    /* The program types kernel rules run in besides tracing ones. */
    static const int types[][2] = {
        {BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT},
        {BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND},
        {BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS},
    };
    for (size_t i = 0; known < 0 && i < sizeof(types) / sizeof(types[0]); i++)
        if (signal_helper_allowed(types[i][0], types[i][1]) == 0)
            known = 0;
    /* Allowed everywhere, or not known (-p as a user): as 6.18 does. */
    if (known < 0)
        known = 1;
    return known;
}
