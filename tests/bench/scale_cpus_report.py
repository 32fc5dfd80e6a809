#!/usr/bin/env python3
"""Summarises scale_cpus.sh's samples (tests/vm/guest-scale.sh, one file per kernel and vCPU count)
into JSON and a markdown table. Standard library only.

Input, one JSON object per line (one window):
  {"cpus", "round", "config": "bare", "seconds", "loads": [smith_paced_load's line per CPU]}
  {"cpus", "round", "config": "lkm"|"ebpf"|"ebpf-percpu", "seconds", "ring_kb", "loads": [...],
   "before", "drained": <smithctl status --json>}
Per kernel, vCPU count and configuration, medians over the rounds of:
  calls/s     the connect() calls the load processes made per second (their sum)
  events/s    connect events smithd received per second of the window, counted once it had drained
              what the kernel kept ("received" after the window minus before it)
  drops       kernel drops during the window (sum over hooks), and their share of the calls
and the ratios: calls/s and events/s against the same configuration at 1 vCPU (or the fewest
measured), and calls/s under smithd against bare at the same vCPU count.
"""
import argparse
import datetime
import json
import statistics


def connects(status, key):
    if not isinstance(status, dict):
        return None
    return ((status.get("events") or {}).get(key) or {}).get("connect")


def drops(status):
    if not isinstance(status, dict):
        return None
    return sum(h.get("kernel_drops", 0) for h in status.get("hooks", []))


def window_of(sample):
    loads = sample["loads"]
    calls = sum(l["calls"] for l in loads)
    start = min(l["start_realtime_ns"] for l in loads)
    end = max(l["end_realtime_ns"] for l in loads)
    seconds = (end - start) / 1e9
    w = {"round": sample["round"], "calls": calls, "window_s": round(seconds, 3),
         "calls_per_s": calls / seconds,
         "per_load_calls_per_s": [round(l["achieved_rate"], 1) for l in loads]}
    if sample["config"] != "bare":
        b, d = sample["before"], sample["drained"]
        got = connects(d, "received") - connects(b, "received")
        dropped = drops(d) - drops(b)
        w.update({"ring_kb": sample.get("ring_kb"), "events": got, "kernel_drops": dropped,
                  "events_per_s": got / seconds, "drops_per_s": dropped / seconds,
                  "captured": got / calls if calls else None,
                  "drop_share": dropped / calls if calls else None})
    return w


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", nargs="+", required=True, help="KERNEL=FILE, one per boot")
    ap.add_argument("--source-rev", default="unknown")
    ap.add_argument("--command", default="")
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-md", required=True)
    a = ap.parse_args()

    windows = {}  # (kernel, cpus, config) -> [window]
    kernels = []
    for spec in a.samples:
        kernel, path = spec.split("=", 1)
        if kernel not in kernels:
            kernels.append(kernel)
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    s = json.loads(line)
                    windows.setdefault((kernel, s["cpus"], s["config"]), []).append(window_of(s))

    rows = []
    for (kernel, cpus, config), ws in sorted(windows.items(), key=lambda kv: (
            kernels.index(kv[0][0]), kv[0][1], ["bare", "lkm", "ebpf", "ebpf-percpu"].index(kv[0][2])
            if kv[0][2] in ("bare", "lkm", "ebpf", "ebpf-percpu") else 9)):
        row = {"kernel": kernel, "cpus": cpus, "config": config, "rounds": len(ws),
               "calls_per_s": med(w["calls_per_s"] for w in ws)}
        row["calls_per_s_per_cpu"] = row["calls_per_s"] / cpus
        if config != "bare":
            for k in ("events_per_s", "drops_per_s", "kernel_drops", "captured", "drop_share"):
                row[k] = med(w[k] for w in ws)
            row["ring_kb"] = ws[0]["ring_kb"]
        row["windows"] = ws
        rows.append(row)

    def find(kernel, cpus, config):
        for r in rows:
            if (r["kernel"], r["cpus"], r["config"]) == (kernel, cpus, config):
                return r
        return None

    for r in rows:
        base_cpus = min(x["cpus"] for x in rows if x["kernel"] == r["kernel"] and x["config"] == r["config"])
        base = find(r["kernel"], base_cpus, r["config"])
        r["base_cpus"] = base_cpus
        r["calls_ratio_to_base"] = r["calls_per_s"] / base["calls_per_s"]
        if r["config"] != "bare":
            r["events_ratio_to_base"] = (r["events_per_s"] / base["events_per_s"]
                                         if base["events_per_s"] else None)
            bare = find(r["kernel"], r["cpus"], "bare")
            r["calls_vs_bare"] = r["calls_per_s"] / bare["calls_per_s"] if bare else None
            r["events_vs_bare"] = r["events_per_s"] / bare["calls_per_s"] if bare else None

    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report = {
        "benchmark": "scale_cpus",
        "source_rev": a.source_rev,
        "command": a.command,
        "date": date,
        "kernels": kernels,
        "machine": "QEMU TCG guests (multi-threaded TCG), 1536 MiB, on a 2-core host: vCPUs beyond 2 "
                   "share the host's cores; the CPU is emulated, so only ratios mean something",
        "seconds_per_window": a.seconds,
        "rounds": a.rounds,
        "rows": rows,
    }
    with open(a.out_json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    def fmt(x, spec):
        return "–" if x is None else format(x, spec)

    lines = [
        "# Events per second against vCPUs (QEMU TCG)",
        "",
        f"Source {a.source_rev}, {date}, kernels: {', '.join(kernels)}. Command: `{a.command}`.",
        "",
        f"One `smith_paced_load --rate 0` per vCPU, pinned, UDP `connect()` to 127.0.0.1:9 for "
        f"{a.seconds} s; bare, under `smithd --backend=lkm` (smith.ko, ring_kb = 2048 / vCPUs: 2 MiB "
        "of per-CPU rings in all), under `smithd --backend=ebpf` (one 2 MiB BPF ring buffer) and "
        "under `smithd --backend=ebpf --bpf-ring=percpu` (ebpf-percpu: one BPF ring buffer per vCPU, "
        "2 MiB shared out, at least 256 KiB each), file "
        f"sink to /dev/null, no connect budget; {a.rounds} rounds, order reversed every other round, "
        "medians. The guest is emulated (multi-threaded TCG) on a host with 2 cores, so absolute rates "
        "mean nothing and, past 2 vCPUs, the vCPUs share the host's cores: read the ratios at one vCPU "
        "count (smithd against bare, ebpf against lkm and ebpf-percpu) before the ratios across counts. smithd on an "
        "emulated CPU takes in far fewer events than the loads make: the rings fill and the kernel "
        "drops the rest, in both backends; each hooked call still reserves (ebpf: under the ring "
        "buffer's lock) before it can drop.",
        "",
        "Columns: calls/s = connects the loads made per second (all vCPUs); ×1 = that figure over the "
        "same configuration's at the fewest vCPUs; vs bare = calls/s under smithd over bare calls/s at "
        "the same vCPU count (what the hook costs the callers, lock included); events/s = connect "
        "events smithd received per second of the window (counted once it had drained the ring); "
        "captured = events / calls; drops/s = kernel drops per second of the window.",
        "",
    ]
    for kernel in kernels:
        lines += [f"## {kernel}", "",
                  "| vCPUs | config | calls/s | per vCPU | calls ×1 | vs bare | events/s | events ×1 | "
                  "captured | drops/s | drop share |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            if r["kernel"] != kernel:
                continue

            def pct(x):
                return "–" if x is None else f"{100 * x:.1f} %"
            lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                r["cpus"], r["config"], fmt(r["calls_per_s"], ",.0f"), fmt(r["calls_per_s_per_cpu"], ",.0f"),
                fmt(r["calls_ratio_to_base"], ".2f"), fmt(r.get("calls_vs_bare"), ".2f"),
                fmt(r.get("events_per_s"), ",.0f"), fmt(r.get("events_ratio_to_base"), ".2f"),
                pct(r.get("captured")), fmt(r.get("drops_per_s"), ",.0f"), pct(r.get("drop_share"))))
        lines.append("")
    lines += ["Each window (round: calls, events, drops):", ""]
    for r in rows:
        if r["config"] == "bare":
            continue
        lines.append(f"- {r['kernel']}, {r['cpus']} vCPUs, {r['config']}: " + "; ".join(
            f"r{w['round']}: {w['calls']:,} calls, {w['events']:,} events, {w['kernel_drops']:,} drops"
            for w in r["windows"]))
    with open(a.out_md, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
