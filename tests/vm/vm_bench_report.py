#!/usr/bin/env python3
"""Summarises the VM benchmark's samples (tests/vm/guest-bench.sh) into JSON and a markdown table.

Input, one JSON object per line:
  {"round", "config", "result": {"loop", "iterations", "ns_per_op"}}   one loop run
  {"round", "config", "status": <smithctl status --json>}               one smithd run, before SIGTERM
For each loop and configuration: the median ns/op over the rounds; against "bare": the added ns,
the ratio of the medians and the median of the per-round ratios (each round's pair measured side
by side). Kernel drops and events sent of each smithd run are listed too. Standard library only.
"""
import argparse
import datetime
import json
import statistics


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--source-rev", default="unknown")
    ap.add_argument("--command", default="")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-md", required=True)
    a = ap.parse_args()

    results, runs = [], []
    with open(a.samples) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            (results if "result" in obj else runs).append(obj)

    configs = []
    for r in results:
        if r["config"] not in configs:
            configs.append(r["config"])
    loops = []
    for r in results:
        if r["result"]["loop"] not in loops:
            loops.append(r["result"]["loop"])

    def samples(loop, config):
        return {r["round"]: r["result"]["ns_per_op"] for r in results
                if r["config"] == config and r["result"]["loop"] == loop}

    table = []
    for loop in loops:
        bare = samples(loop, "bare")
        bare_median = statistics.median(bare.values()) if bare else None
        for config in configs:
            s = samples(loop, config)
            if not s:
                continue
            median = statistics.median(s.values())
            row = {"loop": loop, "config": config, "rounds": len(s), "median_ns_per_op": median,
                   "samples_ns_per_op": [s[k] for k in sorted(s)]}
            if config != "bare" and bare_median:
                paired = [s[k] / bare[k] for k in s if k in bare and bare[k] > 0]
                row["added_ns"] = median - bare_median
                row["ratio_of_medians"] = median / bare_median
                row["median_per_round_ratio"] = statistics.median(paired) if paired else None
                # smithd against the floor of its own attach points: ebpf (the mode it picks)
                # against floor, ebpf-sys_exit against floor-sys_exit.
                # floor-emit against floor too, and ebpf against floor-emit (the least a record costs).
                floor = {"ebpf": "floor", "ebpf-sys_exit": "floor-sys_exit", "floor-emit": "floor"}.get(config)
                fs = samples(loop, floor) if floor else {}
                if fs:
                    floor_added = statistics.median(fs.values()) - bare_median
                    row["floor_added_ns"] = floor_added
                    row["added_over_floor_added"] = (row["added_ns"] / floor_added
                                                     if floor_added > 0 else None)
                es = samples(loop, "floor-emit") if config == "ebpf" else {}
                if es:
                    emit_added = statistics.median(es.values()) - bare_median
                    row["emit_added_ns"] = emit_added
                    row["added_over_emit_added"] = row["added_ns"] / emit_added if emit_added > 0 else None
            table.append(row)

    smithd_runs = []
    for r in runs:
        st = r.get("status") or {}
        smithd_runs.append({
            "round": r["round"], "config": r["config"], "backend": st.get("backend"),
            "kernel_drops": sum(h.get("kernel_drops", 0) for h in st.get("hooks", [])),
            "sent": (st.get("events") or {}).get("sent"),
            "decode_errors": st.get("decode_errors"),
        })

    report = {
        "benchmark": "vm_hook_overhead",
        "kernel": a.kernel,
        "machine": f"QEMU TCG guest, {a.cpus} vCPUs, 1536 MiB (emulated CPU: absolute times are not comparable to a host's)",
        "command": a.command,
        "rounds": a.rounds,
        "source_rev": a.source_rev,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "results": table,
        "smithd_runs": smithd_runs,
    }
    with open(a.out_json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    def fmt(x, spec):
        return "–" if x is None else format(x, spec)

    lines = [
        f"# Hook overhead in a VM: kernel {a.kernel}",
        "",
        f"smith_hook_load inside a QEMU TCG guest ({a.cpus} vCPUs), bare and under smithd per backend, "
        f"{a.rounds} interleaved rounds, medians; source {a.source_rev}, {report['date']}. "
        "The CPU is emulated, so only the ratios mean something. "
        "smith.ko is loaded afresh for each lkm run with ring_kb=8192 (8 MiB per CPU, as much as the "
        "BPF ring buffer's 16 MiB on 2 CPUs); a run with kernel drops times fewer recorded events than calls.",
        "",
        f"Command: `{a.command}`",
        "",
        "floor: empty programs on smithd's attach points in the mode it picks here (fexit where the "
        "kernel allows BPF trampolines); floor-sys_exit: on the sys_exit tracepoint, against which "
        "ebpf-sys_exit (smithd --bpf-attach=sys_exit) is read; floor-emit: the floor, with connect's "
        "program sending a record of smithd's size (zeros and a time stamp) through a BPF ring buffer, the least "
        "a record per connect costs. added/floor: added ns over the floor's (a floor that adds nothing "
        "measurable gives –); added/emit: ebpf's added ns over floor-emit's.",
        "",
        "| loop | config | median ns/op | added ns | ratio of medians | median per-round ratio | added/floor | added/emit |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            row["loop"], row["config"], fmt(row["median_ns_per_op"], ",.0f"),
            fmt(row.get("added_ns"), "+,.0f"), fmt(row.get("ratio_of_medians"), ".2f"),
            fmt(row.get("median_per_round_ratio"), ".2f"), fmt(row.get("added_over_floor_added"), ".1f"),
            fmt(row.get("added_over_emit_added"), ".1f")))
    lines += ["", "| round | config | backend | kernel drops | events sent |", "|---|---|---|---:|---|"]
    for r in smithd_runs:
        lines.append(f"| {r['round']} | {r['config']} | {r['backend']} | {r['kernel_drops']} | "
                     f"{json.dumps(r['sent'], sort_keys=True)} |")
    with open(a.out_md, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
