#!/usr/bin/env python3
"""Renders bench/results/latest.json as the markdown the README quotes:
one table of measurements, one of the targets (ratios from this one run)."""
import json
import sys


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def fmt(v, digits=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def main(path):
    data = json.load(open(path))
    s = {x["scenario"]: x for x in data["scenarios"]}
    m = data["machine"]
    out = [f"Machine: {m['cores']} cores, {m['cpu']}, kernel {m['kernel']}; "
           f"commit {m['commit']}, {m['date']}.", ""]
    out.append(row(["scenario", "workload rate /s", "generated", "events written",
                    "lost (kernel)", "daemon CPU (cores)", "peak RSS MB"]))
    out.append(row(["---"] * 7))
    for x in data["scenarios"]:
        if "rate" not in x:
            continue
        out.append(row([x["scenario"], fmt(x.get("rate")), fmt(x.get("generated")),
                        fmt(x.get("events")), fmt(x.get("lost_kernel")),
                        fmt(x.get("daemon_cpu"), 3), fmt(x.get("peak_rss_mb"))]))
    out.append("")

    over = [x for x in data["scenarios"] if x["scenario"].endswith("_overhead")]
    if over:
        out.append("Overhead, every destination filtered: rate with the daemon / rate "
                   "alone, per alternated pair; the workload's CPU time per unit alone / "
                   "with, likewise. Rows without a prefix: every probe that needs no "
                   "syscall tracepoint (tcp_connect, net_listen, udp_session, exec, "
                   "bashreadline); every_ rows: tcp_accept and file_open too; floor_ "
                   "rows: udp_session alone, its hooks with programs that return at once "
                   "(bench/floor/udp_hooks), one syscall tracepoint with such a program "
                   "(bench/floor/syscall_hooks).")
        out.append("")
        out.append(row(["workload", "pairs", "rate ratio: median", "min - max",
                        "CPU ratio: median", "min - max", "rate alone /s"]))
        out.append(row(["---"] * 7))
        for x in over:
            out.append(row([x["scenario"][:-len("_overhead")], x["pairs"],
                            f"{x['ratio_median']:.3f}",
                            f"{x['ratio_min']:.3f} - {x['ratio_max']:.3f}",
                            f"{x['cpu_ratio_median']:.3f}",
                            f"{x['cpu_ratio_min']:.3f} - {x['cpu_ratio_max']:.3f}",
                            fmt(x["rate_alone_median"])]))
        out.append("")

    def over_target(name, goal):
        x = s.get(name + "_overhead")
        if not x:
            return None
        return (f"{name.replace('_', ' ')}: rate with daemon / without (median of {x['pairs']})",
                f"{x['ratio_median']:.3f} ({x['ratio_min']:.3f} - {x['ratio_max']:.3f})",
                f">= {goal}", x["ratio_median"] >= goal)

    lat = s.get("latency_10k", {})
    st = s.get("startup_all_probes", {})
    soak = s.get("rss_soak", {})
    rep = s.get("connect_loopback_reported", {})
    targets = [t for t in [
        over_target("connect_loopback", 0.97), over_target("connect_netns", 0.97),
        over_target("established", 0.97), over_target("udp", 0.97),
        over_target("open", 0.98), over_target("pipe", 0.98), over_target("forkexec", 0.98),
        over_target("every_established", 0.97), over_target("every_udp", 0.97),
        over_target("every_open", 0.98), over_target("every_pipe", 0.98),
        over_target("every_forkexec", 0.98),
    ] if t] + [
        ("daemon CPU per reported tcp_connect event",
         f"{rep.get('daemon_us_per_event') or 0:.2f} us", "<= 3.5 us",
         (rep.get("daemon_us_per_event") or 99) <= 3.5),
        ("one-thread loopback storm: events / connections",
         f"{rep.get('events', 0)} / {rep.get('generated', 0)}", "all, 0 lost",
         (rep.get("events") or 0) >= (rep.get("generated") or 1) and rep.get("lost_kernel") == 0),
        ("one-thread loopback storm: daemon CPU", f"{rep.get('daemon_cpu', 0):.3f} cores",
         "< 0.5", rep.get("daemon_cpu", 1) < 0.5),
        (f"start-up, every built-in probe (median of {st.get('runs', 1)})",
         f"{st.get('startup_s', 0):.3f} s ({st.get('startup_min_s', 0):.3f} - "
         f"{st.get('startup_max_s', 0):.3f})", "< 1.5 s", st.get("startup_s", 9) < 1.5),
        ("RSS after start-up", f"{st.get('rss_after_start_mb', 0):.1f} MB", "< 40 MB",
         st.get("rss_after_start_mb", 99) < 40),
        (f"RSS over a {soak.get('seconds', 0)} s storm (start / end / max)",
         f"{soak.get('rss_start_mb', 0):.1f} / {soak.get('rss_end_mb', 0):.1f} / "
         f"{soak.get('rss_max_mb', 0):.1f} MB", "flat",
         soak.get("rss_max_mb", 99) - soak.get("rss_start_mb", 0) < 2),
        (f"latency at {lat.get('rate', 0):,.0f} events/s (p50 / p99 / max)",
         f"{lat.get('p50_ms', 0):.2f} / {lat.get('p99_ms', 0):.2f} / {lat.get('max_ms', 0):.2f} ms",
         "p99 < 10 ms", lat.get("p99_ms", 99) < 10),
    ]
    out.append(row(["target", "measured", "goal", "met"]))
    out.append(row(["---"] * 4))
    for name, measured, goal, met in targets:
        out.append(row([name, measured, goal, "yes" if met else "**no**"]))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
