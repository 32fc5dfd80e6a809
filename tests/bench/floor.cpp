// smith_bench_floor: attaches floor.bpf.c's empty programs and waits for SIGTERM or
// SIGINT, so that hook_overhead.sh can time the syscall loops with nothing but the
// cost of the hooks themselves.
//
//   smith_bench_floor --set smith|classic [--ready FILE]
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
		       "smith (smithd's hooks, in the mode smithd picks), smith-sys_exit, or classic "
		       "(syscall tracepoints)")
		->check(CLI::IsMember({"smith", "smith-sys_exit", "classic"}));
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
	const bool fexit = set == "smith" && smith::backend::trampoline_refusal().empty();
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
			on = !fexit;
		// smithd attaches module_load only where the kernel has it.
		if (on && name == "floor_module_load" &&
		    !kernel_has_btf_type("btf_trace_module_load", BTF_KIND_TYPEDEF))
			on = false;
		bpf_program__set_autoload(prog, on);
		if (on)
			wanted.push_back(prog);
	}
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
	if (!ready.empty())
		std::ofstream(ready) << getpid() << "\n";
	while (!g_stop)
		pause();
	for (bpf_link *l : links)
		bpf_link__destroy(l);
	floor_bpf__destroy(skel);
	return 0;
}
