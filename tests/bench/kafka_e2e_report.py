#!/usr/bin/env python3
"""Helpers of kafka_e2e.sh: process samples, smithd status checks, counting what reached the
topic, and the final report (kafka_e2e.json and kafka_e2e.md).

Subcommands:
  sample NAME=PID...         one JSON line: CPU ticks (per process and per thread name), VmHWM
                             and VmRSS of each process, and the whole machine's busy/total ticks
  drained STATUS [OFFERED]   exit 0 when smithd's status (a file, or - for stdin) shows nothing
                             left to deliver: no message in librdkafka's queue, an empty spool,
                             every event acknowledged, and (given OFFERED) at least OFFERED
                             connect events received or dropped by the kernel
  count [--expect RUN=N]... [--pid PID]...
                             reads the topic's messages (one JSON event a line) on stdin and
                             prints, per run_id: messages, distinct seq, duplicates, highest
                             seq, missing seq in 1..max(highest, N) with the first ranges, events
                             per type and per given pid
  step ...                   one rate step's record (a JSON line) from the files of that step
  outage ...                 the SIGKILL-during-outage record (a JSON object)
  report ...                 kafka_e2e.json and kafka_e2e.md from the records

The event lines are not parsed as JSON (millions of them): seq and run_id are the second and
third fields of every event (schema v1), and `,"pid":` and `,"type":"` cannot occur inside a
JSON string value, so a regular expression finds them.
"""
import argparse
import json
import os
import re
import sys
import time

# ---- sample -----------------------------------------------------------------------------------


def proc_sample(pid):
    """CPU ticks of a process, per thread name, and its memory high-water mark."""
    out = {"pid": pid, "ticks": 0, "threads": {}, "vmhwm_kb": None, "vmrss_kb": None}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    raw = f.read()
            except OSError:
                continue  # the thread ended meanwhile
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
            out["threads"][comm] = out["threads"].get(comm, 0) + ticks
        # Threads that ended earlier are counted in the process's own utime+stime.
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
        fields = raw[raw.rindex(")") + 2 :].split()
        out["ticks"] = int(fields[11]) + int(fields[12])
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    out["vmhwm_kb"] = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    out["vmrss_kb"] = int(line.split()[1])
    except (OSError, ValueError):
        out["gone"] = True
    return out


def cmd_sample(args):
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)  # idle + iowait
    sample = {
        "mono": time.monotonic(),
        "clk_tck": os.sysconf("SC_CLK_TCK"),
        "system": {"total": sum(cpu[:8]), "busy": sum(cpu[:8]) - idle},
        "procs": {},
    }
    for spec in args.procs:
        name, _, pid = spec.partition("=")
        if pid.isdigit():
            sample["procs"][name] = proc_sample(int(pid))
    print(json.dumps(sample))


# ---- drained ----------------------------------------------------------------------------------


def load_json(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path) as f:
        return json.load(f)


def kernel_drops(status):
    return sum(h.get("kernel_drops", 0) for h in status.get("hooks", []))


def cmd_drained(args):
    try:
        s = load_json(args.status)
    except (OSError, ValueError):
        return 1
    sink = s.get("sink", {})
    done = (
        sink.get("in_flight", 1) == 0
        and sink.get("spool_records", 1) == 0
        and sink.get("written", 0) + sink.get("spool_dropped", 0) >= s.get("last_seq", 0)
    )
    if args.offered is not None:
        received = s.get("events", {}).get("received", {}).get("connect", 0)
        done = done and received + kernel_drops(s) >= args.offered
    return 0 if done else 1


# ---- count ------------------------------------------------------------------------------------

SEQ_RE = re.compile(rb'"seq":(\d+),"run_id":"([^"]*)"')
PID_RE = re.compile(rb',"pid":(-?\d+),')
TYPE_RE = re.compile(rb',"type":"([a-z_]+)"')


def missing_ranges(seen, top, limit=20):
    """(count, first ranges) of the seq values in 1..top with no message."""
    count, ranges, pos = 0, [], 1
    while pos <= top:
        i = seen.find(0, pos, top + 1)
        if i < 0:
            break
        j = i
        while j <= top and seen[j] == 0:
            j += 1
        count += j - i
        if len(ranges) < limit:
            ranges.append([i, j - 1])
        pos = j
    return count, ranges


def cmd_count(args):
    expect = {}
    for e in args.expect:
        run, _, n = e.partition("=")
        expect[run] = int(n)
    pids = {int(p) for p in args.pid}
    runs = {}  # run_id -> state
    unparsed = 0
    for line in sys.stdin.buffer:
        m = SEQ_RE.search(line, 0, 120)
        if not m:
            unparsed += 1
            continue
        seq, run_id = int(m.group(1)), m.group(2).decode()
        r = runs.get(run_id)
        if r is None:
            r = runs[run_id] = {"seen": bytearray(1 << 16), "messages": 0, "dups": 0, "max": 0,
                                "min": None, "types": {}, "pids": {}}
        seen = r["seen"]
        if seq >= len(seen):
            seen.extend(bytes(max(seq + 1 - len(seen), len(seen))))
        if seen[seq]:
            r["dups"] += 1
        else:
            seen[seq] = 1
        r["messages"] += 1
        r["max"] = max(r["max"], seq)
        r["min"] = seq if r["min"] is None else min(r["min"], seq)
        t = TYPE_RE.search(line, m.end(), m.end() + 120)
        tname = t.group(1).decode() if t else "?"
        r["types"][tname] = r["types"].get(tname, 0) + 1
        if pids:
            p = PID_RE.search(line, m.end(), m.end() + 600)
            if p and int(p.group(1)) in pids:
                key = f"{p.group(1).decode()}:{tname}"
                r["pids"][key] = r["pids"].get(key, 0) + 1
    out = {"unparsed_lines": unparsed, "runs": {}}
    for run_id in set(runs) | set(expect):
        r = runs.get(run_id)
        top = max(expect.get(run_id, 0), r["max"] if r else 0)
        seen = r["seen"] if r else bytearray(1)
        if len(seen) <= top:
            seen.extend(bytes(top + 1 - len(seen)))
        miss, ranges = missing_ranges(seen, top)
        out["runs"][run_id] = {
            "messages": r["messages"] if r else 0,
            "distinct_seq": (r["messages"] - r["dups"]) if r else 0,
            "duplicates": r["dups"] if r else 0,
            "min_seq": r["min"] if r else None,
            "max_seq": r["max"] if r else 0,
            "expected_seq": expect.get(run_id),
            "missing_seq": miss,
            "missing_ranges": ranges,
            "by_type": r["types"] if r else {},
            "by_pid": r["pids"] if r else {},
        }
    json.dump(out, sys.stdout)
    print()


# ---- step -------------------------------------------------------------------------------------


def cpu_percent(a, b, name):
    """CPU% (of one core) of process NAME between samples a and b."""
    pa, pb = a["procs"].get(name), b["procs"].get(name)
    dt = b["mono"] - a["mono"]
    if not pa or not pb or dt <= 0:
        return None
    return round(100.0 * (pb["ticks"] - pa["ticks"]) / a["clk_tck"] / dt, 1)


def thread_percent(a, b, name):
    pa, pb = a["procs"].get(name), b["procs"].get(name)
    dt = b["mono"] - a["mono"]
    if not pa or not pb or dt <= 0:
        return {}
    out = {}
    for comm, ticks in pb["threads"].items():
        d = ticks - pa["threads"].get(comm, 0)
        if d > 0:
            out[comm] = round(100.0 * d / a["clk_tck"] / dt, 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def system_busy_percent(a, b):
    dt = b["system"]["total"] - a["system"]["total"]
    return round(100.0 * (b["system"]["busy"] - a["system"]["busy"]) / dt, 1) if dt > 0 else None


LOG_STOPPED = re.compile(r"smithd stopped after (\d+) events")
LOG_CLOSED = re.compile(r"kafka: closed; (\d+) delivered, (\d+) in the spool")


def read_log(path):
    """(events assigned a seq, delivered at close, left in the spool at close) from smithd's log."""
    stopped = closed = None
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = LOG_STOPPED.search(line)
                if m:
                    stopped = int(m.group(1))
                m = LOG_CLOSED.search(line)
                if m:
                    closed = (int(m.group(1)), int(m.group(2)))
    except OSError:
        pass
    return stopped, closed


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def cmd_step(args):
    load = load_json(args.load)
    before, after, drained = (load_json(p) for p in (args.sample_before, args.sample_after, args.sample_drained))
    status = load_json(args.status)
    counted = load_json(args.count)
    assigned, closed = read_log(args.log)
    run_id = status["run_id"]
    run = counted["runs"].get(run_id, {})
    gen_pid = str(load["pid"])
    from_load = sum(n for k, n in run.get("by_pid", {}).items() if k.startswith(gen_pid + ":"))
    sink = status.get("sink", {})
    hwm = drained["procs"].get("smithd", {}).get("vmhwm_kb") or after["procs"].get("smithd", {}).get("vmhwm_kb")
    load_s = load["elapsed_s"]
    record = {
        "step": args.name,
        "target_rate": load["target_rate"],
        "load_seconds": load_s,
        "offered": load["calls"],
        "offered_rate": load["achieved_rate"],
        "run_id": run_id,
        "topic": args.topic,
        "assigned_seq": assigned,
        "received": status.get("events", {}).get("received", {}),
        "kernel_drops": kernel_drops(status),
        "kernel_drops_by_hook": {h["name"]: h.get("kernel_drops", 0) for h in status.get("hooks", [])},
        "decode_errors": status.get("decode_errors", 0),
        "delivered_run": run.get("distinct_seq", 0),
        "delivered_from_load": from_load,
        "messages": run.get("messages", 0),
        "duplicates": run.get("duplicates", 0),
        "max_seq": run.get("max_seq", 0),
        "missing_seq": run.get("missing_seq"),
        "missing_ranges": run.get("missing_ranges", []),
        "other_runs_in_topic": sorted(k for k in counted["runs"] if k != run_id),
        "sink_written": sink.get("written"),
        "sink_failed": sink.get("failed"),
        "spooled": sink.get("spooled"),
        "spool_dropped": sink.get("spool_dropped"),
        "spool_corrupt": sink.get("spool_corrupt"),
        "drained": args.drained == 1,
        "drain_after_load_s": round(args.drain_seconds, 2),
        "closed": {"delivered": closed[0], "left_in_spool": closed[1]} if closed else None,
        "sigkilled_after_sigterm": args.sigkilled == 1,
        "smithd_cpu_percent_load": cpu_percent(before, after, "smithd"),
        "smithd_cpu_percent_load_and_drain": cpu_percent(before, drained, "smithd"),
        "smithd_threads_cpu_percent_load": thread_percent(before, after, "smithd"),
        "smithd_peak_rss_mib": round(hwm / 1024, 1) if hwm else None,
        "broker_cpu_percent_load": cpu_percent(before, after, "broker"),
        "system_busy_percent_load": system_busy_percent(before, after),
        "delivered_rate_to_drain": round(run.get("distinct_seq", 0) / (load_s + args.drain_seconds), 1)
        if args.drained == 1
        else None,
        "others": args.others,
    }
    record["zero_loss"] = (
        record["drained"]
        and record["missing_seq"] == 0
        and record["duplicates"] == 0
        and record["kernel_drops"] == 0
        and (record["spool_dropped"] or 0) == 0
        and record["assigned_seq"] is not None
        and record["max_seq"] == record["assigned_seq"]
    )
    print(json.dumps(record))


# ---- outage -----------------------------------------------------------------------------------


def cmd_outage(args):
    pre = load_json(args.status_pre)
    down = load_json(args.status_down)
    kill = load_json(args.status_kill)
    b = load_json(args.status_b)
    load = load_json(args.load)
    counted = load_json(args.count)
    assigned_b, closed_b = read_log(args.log_b)
    ra = counted["runs"].get(kill["run_id"], {})
    rb = counted["runs"].get(b["run_id"], {})
    ksink, bsink = kill.get("sink", {}), b.get("sink", {})
    highest_a = max(kill.get("last_seq", 0), ra.get("max_seq", 0))
    record = {
        "load_rate": load["target_rate"],
        "load_calls": load["calls"],
        "broker_stop_seconds": round(args.broker_stop_seconds, 1),
        "outage_seconds_before_kill": round(args.outage_seconds, 1),
        "run_a": {
            "run_id": kill["run_id"],
            "written_before_outage": pre.get("sink", {}).get("written"),
            "last_seq_before_outage": pre.get("last_seq"),
            "written_at_broker_stop": down.get("sink", {}).get("written"),
            "at_kill": {
                "last_seq": kill.get("last_seq"),
                "written": ksink.get("written"),
                "in_flight": ksink.get("in_flight"),
                "spool_records": ksink.get("spool_records"),
                "spooled": ksink.get("spooled"),
                "spool_dropped": ksink.get("spool_dropped"),
                "kernel_drops": kernel_drops(kill),
            },
            "assigned_seq": highest_a,
            "max_seq_in_topic": ra.get("max_seq", 0),
            "delivered": ra.get("distinct_seq", 0),
            "duplicates": ra.get("duplicates", 0),
            "lost": highest_a - ra.get("distinct_seq", 0),
            "missing_ranges": ra.get("missing_ranges", []),
        },
        "run_b": {
            "run_id": b["run_id"],
            "replayed_from_spool": bsink.get("replayed"),
            "spool_corrupt": bsink.get("spool_corrupt"),
            "drained": args.drained == 1,
            "drain_seconds": round(args.drain_seconds, 1),
            "assigned_seq": assigned_b,
            "delivered": rb.get("distinct_seq", 0),
            "duplicates": rb.get("duplicates", 0),
            "missing_seq": rb.get("missing_seq"),
            "closed": {"delivered": closed_b[0], "left_in_spool": closed_b[1]} if closed_b else None,
            "sigkilled_after_sigterm": args.sigkilled == 1,
        },
        "other_runs_in_topic": sorted(k for k in counted["runs"] if k not in (kill["run_id"], b["run_id"])),
    }
    rbr = record["run_b"]
    rbr["complete"] = (
        rbr["assigned_seq"] is not None
        and rbr["missing_seq"] == 0
        and rbr["duplicates"] == 0
        and rb.get("max_seq", 0) == rbr["assigned_seq"]
    )
    print(json.dumps(record))


# ---- report -----------------------------------------------------------------------------------


def fmt_int(v):
    return "–" if v is None else f"{v:,}".replace(",", " ")


def fmt(v, suffix=""):
    return "–" if v is None else f"{v}{suffix}"


def cmd_report(args):
    steps = read_jsonl(args.steps) if os.path.exists(args.steps) else []
    outage = load_json(args.outage) if args.outage and os.path.exists(args.outage) else None
    machine = load_json(args.machine)
    best = None
    for s in steps:
        if s["zero_loss"] and (best is None or s["offered_rate"] > best["offered_rate"]):
            best = s
    result = {
        "benchmark": "kafka_e2e",
        "date": machine.get("date"),
        "commit": args.source_rev,
        "command": args.command,
        "machine": machine,
        "config": json.loads(args.config),
        "steps": steps,
        "zero_loss": None
        if best is None
        else {
            "step": best["step"],
            "offered_rate": best["offered_rate"],
            "target_rate": best["target_rate"],
            "smithd_cpu_percent": best["smithd_cpu_percent_load"],
            "smithd_peak_rss_mib": best["smithd_peak_rss_mib"],
            "drain_after_load_s": best["drain_after_load_s"],
        },
        "sigkill_during_outage": outage,
    }
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    cfg = result["config"]
    md = []
    md.append("# Kafka end to end: smithd → local broker")
    md.append("")
    md.append(
        f"{machine.get('date')}, commit {args.source_rev}, {machine.get('cpu_model')} × {machine.get('cpus')}, "
        f"{machine.get('mem_gib')} GiB, kernel {machine.get('kernel')}, Kafka {machine.get('kafka')} "
        f"(single node, loopback), librdkafka {machine.get('librdkafka')}, smithd build {machine.get('build_type')}."
    )
    md.append("")
    md.append(f"Command: `{args.command}`")
    md.append("")
    md.append(
        f"Each step: a fresh smithd (eBPF backend, Kafka sink, ring buffer {cfg.get('ringbuf')}, new topic) fed "
        f"UDP `connect()` calls by `smith_paced_load` for {cfg.get('step_seconds')} s; then wait (at most "
        f"{cfg.get('drain_timeout')} s) until smithd has every event acknowledged, SIGTERM it, read the topic "
        "back and check `seq` of the run. CPU % is of one core, over the load window."
    )
    md.append("")
    md.append(
        "| target/s | offered/s | offered | delivered (run) | of them from load | missing seq | dup | "
        "kernel drops | spooled | spool dropped | drain after load | delivered/s to drain | smithd CPU | "
        "peak RSS | broker CPU | machine busy | zero loss |"
    )
    md.append("|" + "---|" * 17)
    for s in steps:
        md.append(
            "| {t} | {o} | {n} | {d} | {dl} | {m} | {dup} | {kd} | {sp} | {sd} | {dr} | {dps} | {c} | {r} | {b} | {sb} | {z} |".format(
                t="max" if not s["target_rate"] else fmt_int(int(s["target_rate"])),
                o=fmt_int(round(s["offered_rate"])),
                n=fmt_int(s["offered"]),
                d=fmt_int(s["delivered_run"]),
                dl=fmt_int(s["delivered_from_load"]),
                m=fmt_int(s["missing_seq"]),
                dup=fmt_int(s["duplicates"]),
                kd=fmt_int(s["kernel_drops"]),
                sp=fmt_int(s["spooled"]),
                sd=fmt_int(s["spool_dropped"]),
                dr=f"{s['drain_after_load_s']} s" if s["drained"] else f"not drained (> {cfg.get('drain_timeout')} s)",
                dps=fmt_int(round(s["delivered_rate_to_drain"])) if s["delivered_rate_to_drain"] else "–",
                c=fmt(s["smithd_cpu_percent_load"], " %"),
                r=fmt(s["smithd_peak_rss_mib"], " MiB"),
                b=fmt(s["broker_cpu_percent_load"], " %"),
                sb=fmt(s["system_busy_percent_load"], " %"),
                z="yes" if s["zero_loss"] else "**no**",
            )
        )
    md.append("")
    if best:
        md.append(
            f"**Highest rate with zero loss** (no missing or duplicate seq, no kernel drop, nothing dropped "
            f"by the spool): **{fmt_int(round(best['offered_rate']))} events/s** offered "
            f"(step {best['step']}), smithd at {fmt(best['smithd_cpu_percent_load'], ' %')} of a core, "
            f"peak RSS {fmt(best['smithd_peak_rss_mib'], ' MiB')}."
        )
    else:
        md.append("**No step was free of loss.**")
    md.append("")
    md.append("smithd threads, CPU % of one core during the load (top 4):")
    md.append("")
    md.append("| target/s | threads |")
    md.append("|---|---|")
    for s in steps:
        th = ", ".join(f"{k} {v} %" for k, v in list(s["smithd_threads_cpu_percent_load"].items())[:4])
        md.append(f"| {'max' if not s['target_rate'] else fmt_int(int(s['target_rate']))} | {th or '–'} |")
    md.append("")
    lossy = [s for s in steps if not s["zero_loss"]]
    for s in lossy:
        why = []
        if s["kernel_drops"]:
            why.append(f"{fmt_int(s['kernel_drops'])} kernel drops ({s['kernel_drops_by_hook']})")
        if s["missing_seq"]:
            why.append(f"{fmt_int(s['missing_seq'])} seq missing, first ranges {s['missing_ranges'][:5]}")
        if s["duplicates"]:
            why.append(f"{fmt_int(s['duplicates'])} duplicates")
        if s["spool_dropped"]:
            why.append(f"{fmt_int(s['spool_dropped'])} dropped by the spool")
        if not s["drained"]:
            why.append(f"not drained within {cfg.get('drain_timeout')} s")
        if s.get("sigkilled_after_sigterm"):
            why.append("smithd did not exit within 20 s of SIGTERM and got SIGKILL (seq assigned unknown)")
        elif s["closed"] and s["closed"]["left_in_spool"]:
            why.append(f"{fmt_int(s['closed']['left_in_spool'])} events left in the spool at exit")
        if s["assigned_seq"] is not None and s["max_seq"] != s["assigned_seq"]:
            why.append(f"highest seq in the topic {fmt_int(s['max_seq'])}, smithd assigned {fmt_int(s['assigned_seq'])}")
        md.append(f"- step {s['step']}: " + ("; ".join(why) or "see JSON"))
    if lossy:
        md.append("")
    others = {s["step"]: s["others"] for s in steps if s.get("others")}
    if others:
        md.append(f"Other collectors running during steps: {others}.")
        md.append("")

    if outage:
        a, b = outage["run_a"], outage["run_b"]
        k = a["at_kill"]
        md.append("## SIGKILL during a broker outage")
        md.append("")
        md.append(
            f"smithd fed {fmt_int(int(outage['load_rate']))} events/s; broker stopped (took "
            f"{outage['broker_stop_seconds']} s); {outage['outage_seconds_before_kill']} s later smithd got "
            "SIGKILL; broker started; a new smithd on the same spool directory drained it; topic read back."
        )
        md.append("")
        md.append("| | value |")
        md.append("|---|---|")
        rows = [
            ("killed run: acknowledged before the broker stopped", fmt_int(a["written_before_outage"])),
            ("killed run at SIGKILL (last status): last seq", fmt_int(k["last_seq"])),
            ("… acknowledged", fmt_int(k["written"])),
            ("… in librdkafka's queue (memory)", fmt_int(k["in_flight"])),
            ("… in the spool (disk)", fmt_int(k["spool_records"])),
            ("… kernel drops / spool dropped", f"{fmt_int(k['kernel_drops'])} / {fmt_int(k['spool_dropped'])}"),
            ("killed run: seq assigned (highest known)", fmt_int(a["assigned_seq"])),
            ("killed run: distinct seq in the topic", fmt_int(a["delivered"])),
            ("killed run: **lost**", f"**{fmt_int(a['lost'])}**"
             + (f" ({100.0 * a['lost'] / a['assigned_seq']:.1f} %)" if a["assigned_seq"] else "")),
            ("killed run: duplicates", fmt_int(a["duplicates"])),
            ("killed run: first missing ranges", str(a["missing_ranges"][:4])),
            ("second run: replayed from the spool", fmt_int(b["replayed_from_spool"])),
            ("second run: spool records skipped as corrupt", fmt_int(b["spool_corrupt"])),
            ("second run: drained", f"{'yes' if b['drained'] else 'no'} ({b['drain_seconds']} s)"),
            ("second run: seq assigned / delivered / missing / dup",
             f"{fmt_int(b['assigned_seq'])} / {fmt_int(b['delivered'])} / {fmt_int(b['missing_seq'])} / {fmt_int(b['duplicates'])}"),
            ("second run: exit on SIGTERM", "needed SIGKILL after 20 s" if b.get("sigkilled_after_sigterm")
             else f"clean, {fmt_int((b['closed'] or {}).get('left_in_spool'))} left in the spool"),
            ("second run complete", "yes" if b["complete"] else "**no**"),
        ]
        for name, v in rows:
            md.append(f"| {name} | {v} |")
        md.append("")
    with open(args.out_md, "w") as f:
        f.write("\n".join(md))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("procs", nargs="*")
    s = sub.add_parser("drained")
    s.add_argument("status")
    s.add_argument("offered", nargs="?", type=int)
    s = sub.add_parser("count")
    s.add_argument("--expect", action="append", default=[])
    s.add_argument("--pid", action="append", default=[])
    s = sub.add_parser("step")
    for a in ("name", "topic", "load", "sample-before", "sample-after", "sample-drained", "status", "count", "log"):
        s.add_argument("--" + a, required=True)
    s.add_argument("--drained", type=int, required=True)
    s.add_argument("--drain-seconds", type=float, required=True)
    s.add_argument("--others", default="")
    s.add_argument("--sigkilled", type=int, default=0)
    s = sub.add_parser("outage")
    for a in ("status-pre", "status-down", "status-kill", "status-b", "load", "count", "log-b"):
        s.add_argument("--" + a, required=True)
    for a in ("broker-stop-seconds", "outage-seconds", "drain-seconds"):
        s.add_argument("--" + a, type=float, required=True)
    s.add_argument("--drained", type=int, required=True)
    s.add_argument("--sigkilled", type=int, default=0)
    s = sub.add_parser("report")
    for a in ("steps", "machine", "source-rev", "command", "config", "out-json", "out-md"):
        s.add_argument("--" + a, required=True)
    s.add_argument("--outage")
    args = p.parse_args()
    handler = {"sample": cmd_sample, "drained": cmd_drained, "count": cmd_count, "step": cmd_step,
               "outage": cmd_outage, "report": cmd_report}[args.cmd]
    sys.exit(handler(args) or 0)


if __name__ == "__main__":
    main()
