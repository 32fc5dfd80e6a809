#!/usr/bin/env python3
"""Summarises hook_overhead.sh's raw samples into hook_overhead.json and hook_overhead.md.

Input (written by hook_overhead.sh):
  --samples  one JSON line per loop run: {"round", "config", "others", "result": {"loop",
             "iterations", "ns_per_op"}}; "others" names collectors that were running
             besides ours (the sample is then left out of the medians when clean ones exist)
  --runs     one JSON line per smithd run: its status before SIGTERM (kernel drops, events
             sent) and the number of lines it wrote
For each loop and each configuration: the median ns/op over the rounds, and against the
baseline configuration the added ns, the ratio of medians, the added % of the baseline,
and the median of the per-round ratios (each round's pair measured side by side); against
the floor configuration (empty programs on the same hooks), added / floor_added.
Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys

DESCRIPTIONS = {
    "bare": "nothing attached",
    "floor": "empty BPF programs on smithd's hooks, in the attach mode smithd picks (fexit on the syscall functions where the kernel allows trampolines, else sys_exit; tp_btf sched_process_exec and module_load in both)",
    "floor-emit": "the floor, with connect's program sending a record of smithd's size (zeros and a time stamp) through a BPF ring buffer",
    "floor-classic": "empty BPF programs on classic syscall tracepoints (connect, execve; entry and exit)",
    "smithd-ebpf-file": "smithd --backend=ebpf, file sink on local disk",
    "smithd-ebpf-kafka": "smithd --backend=ebpf, Kafka sink to the local broker (acks=all)",
    "smithd-timed": "smithd --backend=ebpf, file sink, --hook-timing=true",
    "smithd-before": "smithd --backend=ebpf, file sink, built from REV",
    "bpftrace": "bpftrace tests/bench/peers/smith.bt printing the same events to a file",
    "auditd": "auditd, one rule on execve, execveat, connect, init_module, finit_module",
}


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    try:
        with open("/proc/loadavg") as f:
            loadavg = " ".join(f.read().split()[:3])
    except OSError:
        loadavg = None
    return {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu_model": cpu_model(),
        "arch": platform.machine(),
        "loadavg_at_report": loadavg,
    }


def fmt_ns(x):
    return "–" if x is None else f"{x:,.0f}".replace(",", " ")


def fmt_ratio(x):
    return "–" if x is None else f"{x:.1f}"


def parse_loop_arg(text):
    """name=iterations:warmup:event (event: the hooked event type one operation causes, or none)"""
    name, rest = text.split("=", 1)
    iterations, warmup, event = rest.split(":", 2)
    return name, {"iterations": int(iterations), "warmup": int(warmup), "event": event}


def add_floor_ratios(rows, floor, emit="floor-emit"):
    """added_ns / the floor's added_ns, per loop, for every configuration but the baseline; and,
    when floor-emit ran, smithd's added_ns / floor-emit's (the least a record per event costs)."""
    floor_added = {r["loop"]: r.get("added_ns") for r in rows if r["config"] == floor}
    emit_added = {r["loop"]: r.get("added_ns") for r in rows if r["config"] == emit}
    for r in rows:
        f = floor_added.get(r["loop"])
        if r.get("added_ns") is not None and f and f > 0:
            r["floor_added_ns"] = f
            r["added_over_floor_added"] = r["added_ns"] / f
        e = emit_added.get(r["loop"])
        if r["config"].startswith("smithd") and r.get("added_ns") is not None and e and e > 0:
            r["emit_added_ns"] = e
            r["added_over_emit_added"] = r["added_ns"] / e


def summarise(samples, baseline, loops):
    """Returns one result row per (loop, config), baseline rows included."""
    configs = []
    for s in samples:
        if s["config"] not in configs:
            configs.append(s["config"])
    by_key = {}
    for s in samples:
        by_key.setdefault((s["result"]["loop"], s["config"]), []).append(s)

    def usable(group):
        clean = [s for s in group if not s.get("others")]
        return clean if clean else group

    rows = []
    for loop in loops:
        base_group = usable(by_key.get((loop, baseline), []))
        base_median = statistics.median(s["result"]["ns_per_op"] for s in base_group) if base_group else None
        base_by_round = {s["round"]: s["result"]["ns_per_op"] for s in base_group}
        for config in configs:
            group = by_key.get((loop, config), [])
            if not group:
                continue
            used = usable(group)
            values = [s["result"]["ns_per_op"] for s in used]
            median = statistics.median(values)
            row = {
                "loop": loop,
                "config": config,
                "iterations": used[0]["result"]["iterations"],
                "samples": len(used),
                "samples_left_out": len(group) - len(used),
                "median_ns_per_op": median,
                "min_ns_per_op": min(values),
                "max_ns_per_op": max(values),
                "ns_per_op_by_round": {str(s["round"]): s["result"]["ns_per_op"] for s in used},
            }
            if config != baseline and base_median:
                paired = [s["result"]["ns_per_op"] / base_by_round[s["round"]]
                          for s in used if s["round"] in base_by_round]
                row.update({
                    "baseline": baseline,
                    "baseline_median_ns_per_op": base_median,
                    "added_ns": median - base_median,
                    "ratio": median / base_median,
                    "added_pct_of_baseline": 100.0 * (median - base_median) / base_median,
                    "paired_ratio_median": statistics.median(paired) if paired else None,
                    "paired_ratio_min": min(paired) if paired else None,
                    "paired_ratio_max": max(paired) if paired else None,
                })
            rows.append(row)
    return configs, rows


def expected_events(loops):
    """Hooked calls one configuration's loops make (warm-up included), per event type."""
    out = {}
    for name, it in loops.items():
        if it["event"] == "none":  # a loop of calls smithd does not hook
            continue
        out[it["event"]] = out.get(it["event"], 0) + it["iterations"] + it["warmup"]
    return out


def markdown(doc):
    m = doc["machine"]
    lines = [
        "# Hook overhead: latency added to hooked syscalls",
        "",
        f"{doc['date']} · {m['nproc']} CPUs, {m['cpu_model']} · kernel {m['kernel']} · "
        f"source {doc['source_rev']} ({doc['build_type']}) · {doc['rounds']} interleaved rounds, medians",
        "",
        f"Command: `{doc['command']}`",
        "",
        f"| loop | iterations | {doc['baseline']} ns/op | config | ns/op | added ns | added / floor added | added / floor-emit added | ratio | added % of {doc['baseline']} | per-round ratios (min–max) |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in doc["results"]:
        if r["config"] == doc["baseline"]:
            continue
        spread = "–"
        if r.get("paired_ratio_min") is not None:
            spread = f"{r['paired_ratio_min']:.2f}–{r['paired_ratio_max']:.2f}"
        lines.append(
            f"| {r['loop']} | {r['iterations']} | {fmt_ns(r.get('baseline_median_ns_per_op'))} | {r['config']} | "
            f"{fmt_ns(r['median_ns_per_op'])} | {fmt_ns(r.get('added_ns'))} | "
            f"{fmt_ratio(r.get('added_over_floor_added'))} | {fmt_ratio(r.get('added_over_emit_added'))} | "
            f"{r['ratio']:.2f} | {r['added_pct_of_baseline']:.1f} % | {spread} |")
    if doc.get("configs_described"):
        lines += ["", "Configurations:", ""] + [f"- `{k}`: {v}" for k, v in doc["configs_described"].items()]
    runs = [r for r in doc["smithd_runs"] if "sent" in r]
    peers = [r for r in doc["smithd_runs"] if "sent" not in r]
    if runs:
        exp = doc["checks"]["expected_events_per_run"]
        lines += [
            "",
            "smithd runs: status taken before SIGTERM, once smithd had sent at least the expected events "
            "and its queue was empty; expected = calls the loops made, warm-up included (other processes "
            "add events):",
            "",
            "| round | config | kernel drops | connect sent / expected | execve sent / expected | lines written | decode errors | sink failures |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for run in runs:
            lines.append(
                f"| {run['round']} | {run.get('config', 'smithd-ebpf-file')} | {run['kernel_drops']} | "
                f"{run['sent'].get('connect', 0)} / {exp.get('connect', 0)} | "
                f"{run['sent'].get('execve', 0)} / {exp.get('execve', 0)} | {run['lines_written']} | "
                f"{run['decode_errors']} | {run['sink_failed']} |")
    if peers:
        lines += ["", "Peers: event lines they wrote and the events they reported lost, per round:", "",
                  "| round | config | lines written | lost |", "|---:|---|---:|---:|"]
        for p in peers:
            lines.append(f"| {p['round']} | {p['config']} | {p['lines_written']} | {p['lost']} |")
    notes = doc["checks"]["notes"]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--floor", default="floor")
    ap.add_argument("--before-rev", default="")
    ap.add_argument("--skipped", default="", help="configurations left out, one 'config: reason' per line")
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--loop", action="append", default=[], type=parse_loop_arg,
                    help="name=iterations:warmup:event, once per loop, in run order")
    ap.add_argument("--source-rev", default="unknown")
    ap.add_argument("--build-type", default="unknown")
    ap.add_argument("--command", default="")
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-md", required=True)
    args = ap.parse_args()

    samples = read_jsonl(args.samples)
    runs = read_jsonl(args.runs)
    loops = dict(args.loop)
    configs, rows = summarise(samples, args.baseline, list(loops))
    add_floor_ratios(rows, args.floor)

    expected = expected_events(loops)
    notes = []
    for line in args.skipped.splitlines():
        if line.strip():
            notes.append(f"Not measured: {line.strip()}.")
    drops = sum(r.get("kernel_drops", 0) for r in runs)
    if drops:
        notes.append(f"WARNING: {drops} kernel drops across smithd runs; the smithd timings did less work than "
                     "a loss-free collector would.")
    for run in runs:
        if "sent" not in run:
            continue
        for event, n in expected.items():
            if run["sent"].get(event, 0) < n:
                notes.append(f"WARNING: round {run['round']}: {run['sent'].get(event, 0)} {event} events sent, "
                             f"fewer than the {n} calls made.")
    left_out = sum(r["samples_left_out"] for r in rows)
    contaminated = sum(1 for s in samples if s.get("others"))
    if contaminated:
        note = (f"{contaminated} sample(s) ran while another collector (smithd, bpftrace) was running; "
                f"{left_out} left out of the medians")
        if contaminated > left_out:
            note += f", {contaminated - left_out} kept because their loop and configuration had no clean sample"
        notes.append(note + ".")
    if len(samples) and args.rounds < 3:
        notes.append(f"Only {args.rounds} round(s): a smoke run, not a figure to quote.")

    doc = {
        "benchmark": "hook_overhead",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source_rev": args.source_rev,
        "build_type": args.build_type,
        "command": args.command,
        "rounds": args.rounds,
        "configs": configs,
        "configs_described": {c: DESCRIPTIONS.get(c, "").replace("REV", args.before_rev or "?") for c in configs},
        "floor": args.floor,
        "before_rev": args.before_rev or None,
        "baseline": args.baseline,
        "loops": loops,
        "results": rows,
        "smithd_runs": runs,
        "checks": {
            "kernel_drops_total": drops,
            "expected_events_per_run": expected,
            "notes": notes,
        },
        "samples": samples,
    }
    with open(args.out_json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(args.out_md, "w") as f:
        f.write(markdown(doc))
    for n in notes:
        print(f"hook_overhead: {n}", file=sys.stderr)


if __name__ == "__main__":
    main()
