#!/usr/bin/env python3
"""Renders bench/results/edr.json (bench/edr.sh) as markdown: the runs, then
the EDR targets."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import fmt, row  # noqa: E402  (one table format for every report)


def main(path):
    data = json.load(open(path))
    s = {x["scenario"]: x for x in data["scenarios"]}
    m = data["machine"]
    out = [f"Machine: {m['cores']} cores, {m['cpu']}, kernel {m['kernel']}, load {m['load']}; "
           f"commit {m['commit']}, {m['date']}.", ""]
    out.append(row(["scenario", "workload rate /s", "generated", "events", "lost (kernel)",
                    "daemon CPU (cores)"]))
    out.append(row(["---"] * 6))
    for name in ("exec_alone", "exec_reported", "open_reported"):
        x = s.get(name)
        if x:
            out.append(row([name, fmt(x.get("rate")), fmt(x.get("generated")),
                            fmt(x.get("events")), fmt(x.get("lost_kernel")),
                            fmt(x.get("daemon_cpu"), 3)]))
    pairs = s.get("open_excluded_pairs")
    if pairs:
        out.append(row(["open_alone (median of %d)" % len(pairs["alone_rates"]),
                        fmt(sorted(pairs["alone_rates"])[len(pairs["alone_rates"]) // 2]),
                        "-", "-", "-", "-"]))
        out.append(row(["open_excluded (median of %d)" % len(pairs["excluded_rates"]),
                        fmt(sorted(pairs["excluded_rates"])[len(pairs["excluded_rates"]) // 2]),
                        "-", fmt(pairs["events"]), "-", fmt(pairs["daemon_cpu"], 3)]))
    out += ["", row(["target", "measured", "goal", "met"]), row(["---"] * 4)]
    x = s.get("exec_reported")
    if x:
        every = x["events"] == x["generated"]
        out.append(row([f"exec storm at {fmt(x['rate'])}/s: daemon CPU",
                        f"{x['daemon_cpu'] * 100:.1f}% of a core", "< 5% at 1,600/s",
                        "yes" if x["daemon_cpu"] < 0.05 and x["rate"] >= 1500 else "**no**"]))
        out.append(row(["exec storm: execs reported", f"{x['events']} / {x['generated']}",
                        "all", "yes" if every else "**no**"]))
    if pairs:
        r = pairs["median_ratio"]
        out.append(row(["excluded open storm: rate with daemon / without (median of pair "
                        "ratios: " + ", ".join(f"{v:.3f}" for v in pairs["ratios"]) + ")",
                        f"{r:.3f}", ">= 0.97", "yes" if r >= 0.97 else "**no**"]))
    x = s.get("open_reported")
    if x:
        ok = x["events"] == x["generated"] and x["lost_kernel"] == 0 and x["rate"] >= 20000 * 0.98
        out.append(row([f"matching opens at {fmt(x['rate'])}/s: reported / made",
                        f"{x['events']} / {x['generated']}, {x['lost_kernel']} lost",
                        "all at >= 20,000/s", "yes" if ok else "**no**"]))
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
