// smith_bench_floor: attaches floor.bpf.c's empty programs and waits for SIGTERM or
// SIGINT, so that hook_overhead.sh can time the syscall loops with nothing but the
// cost of the hooks themselves.
//
//   smith_bench_floor --set smith|smith-sys_exit|smith-emit|classic [--ready FILE]
//
// smith-emit's connect programs put a record in a ring buffer (floor.bpf.c); a reader takes
// them out as smithd's does, woken as smithd wakes it, and throws them away.
//
// --ready FILE is created once every program is attached. Exits 1 with the reason
// when a program cannot be loaded or attached (classic tracepoints need tracefs;
// module_load is skipped on kernels without module support, as smithd skips it).
#include <CLI/CLI.hpp>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "backend/ebpf_backend.h"
#include "floor_bpf.skel.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int)
{
	g_stop = 1;
}

bool kernel_has_btf_type(const char *name, int kind)
{
	btf *vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false;
	bool found = btf__find_by_name_kind(vmlinux, name, kind) >= 0;
	btf__free(vmlinux);
	return found;
}

} // namespace

int main(int argc, char **argv)
{
	CLI::App app{"smith_bench_floor: empty BPF programs on a collector's hooks, until SIGTERM"};
	std::string set = "smith", ready;
	app.add_option("--set", set,
		       "smith (smithd's hooks, in the mode smithd picks), smith-sys_exit, smith-emit "
		       "(smith, with connect emitting an empty record), or classic (syscall tracepoints)")
		->check(CLI::IsMember({"smith", "smith-sys_exit", "smith-emit", "classic"}));
	app.add_option("--ready", ready, "file created once the programs are attached");
	CLI11_PARSE(app, argc, argv);

	floor_bpf *skel = floor_bpf__open();
	if (!skel) {
		std::fprintf(stderr, "smith_bench_floor: cannot open the BPF object: %s\n",
			     std::strerror(errno));
		return 1;
	}
	const bool smith = set != "classic";
	// As smithd --bpf-attach=auto: fexit where the kernel allows trampolines.
	const bool fexit =
		(set == "smith" || set == "smith-emit") && smith::backend::trampoline_refusal().empty();
	const bool emit = set == "smith-emit";
	std::fprintf(stderr, "smith_bench_floor: set %s, syscalls by %s\n", set.c_str(),
		     !smith  ? "classic tracepoints"
		     : fexit ? "fexit"
			     : "sys_exit");
	std::vector<bpf_program *> wanted;
	bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const std::string name = bpf_program__name(prog);
		bool on = smith ? name.rfind("floor_", 0) == 0 : name.rfind("classic_", 0) == 0;
		const std::string fexit_prefix = "floor_fexit_";
		if (on && name.rfind(fexit_prefix, 0) == 0)
			on = fexit &&
			     kernel_has_btf_type(name.substr(fexit_prefix.size()).c_str(), BTF_KIND_FUNC);
		if (on && name == "floor_sys_exit")
			on = !fexit && !emit;
		// smith-emit: connect's program emits (emit_*), in place of the empty one.
		if (on && emit && name == fexit_prefix + "__x64_sys_connect")
			on = false;
		if (name == "emit_sys_exit")
			on = emit && !fexit;
		if (name == "emit_fexit_connect")
			on = emit && fexit && kernel_has_btf_type("__x64_sys_connect", BTF_KIND_FUNC);
		// smithd attaches module_load only where the kernel has it.
		if (on && name == "floor_module_load" &&
		    !kernel_has_btf_type("btf_trace_module_load", BTF_KIND_TYPEDEF))
			on = false;
		bpf_program__set_autoload(prog, on);
		if (on)
			wanted.push_back(prog);
	}
	constexpr uint32_t kRingBytes = 8u << 20; // smithd's default ringbuf_bytes
	bpf_map__set_max_entries(skel->maps.events, kRingBytes);
	skel->rodata->wakeup_bytes = kRingBytes / 64; // as smithd sets it
	if (int err = floor_bpf__load(skel)) {
		std::fprintf(stderr, "smith_bench_floor: load failed: %s\n", std::strerror(-err));
		return 1;
	}
	std::vector<bpf_link *> links;
	for (bpf_program *p : wanted) {
		bpf_link *link = bpf_program__attach(p);
		if (!link) {
			std::fprintf(stderr, "smith_bench_floor: attaching %s failed: %s%s\n",
				     bpf_program__name(p), std::strerror(errno),
				     smith ? ""
					   : " (classic tracepoints need tracefs at /sys/kernel/tracing)");
			return 1;
		}
		links.push_back(link);
	}
	std::signal(SIGTERM, on_signal);
	std::signal(SIGINT, on_signal);
	ring_buffer *reader = nullptr;
	if (emit) {
		reader = ring_buffer__new(
			bpf_map__fd(skel->maps.events), [](void *, void *, size_t) { return 0; }, nullptr,
			nullptr);
		if (!reader) {
			std::fprintf(stderr, "smith_bench_floor: cannot read the ring: %s\n",
				     std::strerror(errno));
			return 1;
		}
	}
	if (!ready.empty())
		std::ofstream(ready) << getpid() << "\n";
	// smithd's reader: woken by the ring, or after its 10 ms poll interval at the latest.
	while (!g_stop) {
		if (reader)
			ring_buffer__poll(reader, 10);
		else
			pause();
	}
	if (reader) {
		ring_buffer__consume(reader);
		ring_buffer__free(reader);
		if (skel->bss->emit_drops)
			std::fprintf(stderr, "smith_bench_floor: %llu records did not fit in the ring\n",
				     static_cast<unsigned long long>(skel->bss->emit_drops));
	}
	for (bpf_link *l : links)
		bpf_link__destroy(l);
	floor_bpf__destroy(skel);
	return 0;
}
