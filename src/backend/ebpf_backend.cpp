#include "backend/ebpf_backend.h"
#include "backend/hook_timing.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <bit>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "backend/bpf_ring.h"
#include "backend/kallsyms.h"
#include "backend/libbpf_error.h"
#include "backend/time_order.h"
#include "util/fd.h"
#include "smith_bpf.skel.h"
#include "smith/abi.h"

namespace smith::backend {
namespace {

constexpr const char *kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

struct SkeletonDeleter {
	void operator()(smith_bpf *skel) const { smith_bpf__destroy(skel); }
};
struct LinkDeleter {
	void operator()(bpf_link *link) const { bpf_link__destroy(link); }
};
struct BtfDeleter {
	void operator()(btf *b) const { btf__free(b); }
};

// The BPF programs of the event table (include/smith/event_table.h), each with the hooks that
// need it and the mode it serves. A program the table names but the skeleton lacks does not
// compile.
struct ProgramSpec {
	const char *name;
	bpf_program *(*get)(smith_bpf *);
	uint32_t hooks; // mask of 1 << enum smith_hook
	int mode;	// SMITH_BPF_MODE_*
};
constexpr ProgramSpec kPrograms[] = {
#define SMITH_X(program, hooks, mode)                                                                        \
	{#program, [](smith_bpf *s) { return s->progs.program; }, hooks, SMITH_BPF_MODE_##mode},
	SMITH_BPF_PROGRAMS(SMITH_X)
#undef SMITH_X
};

// The function an empty fexit program is tried on: connect's, which every kernel that can run
// this backend has.
constexpr const char *kProbeFunction = "__x64_sys_connect";

const char *mode_name(int mode)
{
	return mode == SMITH_BPF_MODE_FEXIT ? "fexit" : "sys_exit";
}

// The table's entry for `prog`; throws when the object has a program the table does not name.
const ProgramSpec &program_spec(smith_bpf *skel, bpf_program *prog)
{
	for (const ProgramSpec &p : kPrograms)
		if (p.get(skel) == prog)
			return p;
	throw BackendError(fmt::format("BPF program {} is not in the event table (event_table.h)",
				       bpf_program__name(prog)));
}

// Why the kernel cannot host `prog` ("" if it can): its BTF attach target must exist.
std::string missing_attach_target(const btf *vmlinux, bpf_program *prog)
{
	std::string_view section = bpf_program__section_name(prog);
	auto slash = section.find('/');
	if (slash == std::string_view::npos)
		return {};
	std::string_view kind = section.substr(0, slash);
	std::string target(section.substr(slash + 1));
	if (kind == "tp_btf") {
		if (btf__find_by_name_kind(vmlinux, ("btf_trace_" + target).c_str(), BTF_KIND_TYPEDEF) < 0) {
			if (target == "module_load")
				return "kernel built without module support (no module_load tracepoint)";
			return fmt::format("kernel has no {} tracepoint", target);
		}
		return {};
	}
	if (btf__find_by_name_kind(vmlinux, target.c_str(), BTF_KIND_FUNC) < 0)
		return fmt::format("kernel has no function {} to attach to", target);
	return {};
}

} // namespace

std::string ebpf_unsupported_reason()
{
	std::error_code ec;
	if (!std::filesystem::exists(kVmlinuxBtf, ec))
		return fmt::format("kernel has no BTF ({} missing; needs CONFIG_DEBUG_INFO_BTF)",
				   kVmlinuxBtf);
	int ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
	if (ringbuf == 0)
		return "kernel has no BPF ring buffer map type (needs Linux 5.8 or later)";
	if (ringbuf < 0)
		return fmt::format("cannot probe BPF map types: {}", libbpf_error_text(ringbuf));
	// The environment scan for LD_PRELOAD runs to the end of the environment with bpf_loop.
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_loop, nullptr) <= 0)
		return "kernel has no bpf_loop helper (needs Linux 5.17 or later)";
	return {};
}

std::string trampoline_refusal()
{
	std::unique_ptr<btf, BtfDeleter> vmlinux(btf__load_vmlinux_btf());
	if (!vmlinux)
		return fmt::format("cannot read kernel BTF: {}", libbpf_error_text(errno));
	const int target = btf__find_by_name_kind(vmlinux.get(), kProbeFunction, BTF_KIND_FUNC);
	if (target < 0)
		return fmt::format("kernel has no function {} to attach to", kProbeFunction);
	const bpf_insn insns[] = {
		{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0}, // r0 = 0
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},		   // exit
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = static_cast<uint32_t>(target));
	const util::UniqueFd prog(
		bpf_prog_load(BPF_PROG_TYPE_TRACING, "smith_probe", "GPL", insns, std::size(insns), &opts));
	if (!prog.valid())
		return fmt::format("the kernel refuses to load an fexit program: {}",
				   libbpf_error_text(errno));
	const util::UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
	if (!link.valid())
		return fmt::format("the kernel refuses to attach an fexit program to {}: {}", kProbeFunction,
				   libbpf_error_text(errno));
	return {};
}

struct EbpfBackend::State {
	std::unique_ptr<smith_bpf, SkeletonDeleter> skel;
	std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links;
	std::vector<BpfRing> rings;		     // the shared ring, or one per possible CPU
	std::vector<std::vector<BpfRing>> leftovers; // rings killed smithds left, read first (bpf_ring.h)
	std::vector<control::HookStatus> hooks;	     // by enum smith_hook
	std::vector<std::string> points; // by enum smith_hook: the programs' sections, for the log
	std::vector<pollfd> pollfds;	 // one per ring
	int ncpus = 1;
	// hook_timing: the kernel's run-time statistics stay on while this is open
	util::UniqueFd stats;
	// and each loaded program's counts when they came on: status shows what this run added
	std::vector<std::pair<bpf_program *, bpf_prog_info>> stats_at_start;
};

EbpfBackend::EbpfBackend(EbpfOptions options) : options_(options) {}

EbpfBackend::~EbpfBackend()
{
	stop();
}

void EbpfBackend::start()
{
	if (state_)
		return;
	if (std::string why = ebpf_unsupported_reason(); !why.empty())
		throw BackendError(why);
	route_libbpf_logs_to_spdlog();

	int mode = SMITH_BPF_MODE_SYS_EXIT;
	if (options_.attach != "sys_exit") {
		const std::string refusal = trampoline_refusal();
		if (refusal.empty())
			mode = SMITH_BPF_MODE_FEXIT;
		else if (options_.attach == "fexit")
			throw BackendError(fmt::format("bpf_attach is fexit, but {}", refusal));
		else
			spdlog::info("BPF trampolines unavailable ({}): the syscall hooks use the sys_exit "
				     "tracepoint, which every syscall on the host passes through",
				     refusal);
	}
	std::vector<std::vector<BpfRing>> leftovers;
	if (!options_.pin_dir.empty()) {
		try {
			RingPins pins(options_.pin_dir);
			leftovers = pins.adopt_leftovers();
			pin_path_ = pins.own_path();
		} catch (const BackendError &e) {
			spdlog::warn("the ring is not pinned, so a smithd killed with records in it loses "
				     "them: {}",
				     e.what());
		}
	}
	std::unique_ptr<State> st;
	try {
		if (options_.ring == "percpu")
			create_cpu_rings();
		if (mode == SMITH_BPF_MODE_FEXIT && options_.attach == "auto") {
			try {
				st = load(mode);
			} catch (const BackendError &e) {
				spdlog::warn("fexit mode failed ({}); the syscall hooks use the sys_exit "
					     "tracepoint instead",
					     e.what());
				st = load(SMITH_BPF_MODE_SYS_EXIT);
			}
		} else {
			st = load(mode);
		}
	} catch (...) {
		release_pins();
		cpu_rings_.clear();
		throw;
	}
	st->leftovers = std::move(leftovers);
	if (cpu_rings_.empty())
		spdlog::info("ring: one ring buffer of {} bytes shared by all CPUs",
			     st->rings[0].ring_bytes());
	else
		spdlog::info("ring: one ring buffer of {} bytes per CPU, {} CPUs possible", cpu_ring_bytes_,
			     cpu_rings_.size());
	if (!pin_path_.empty())
		spdlog::info("ring pinned at {}{}: records a killed smithd had not made safe wait there for "
			     "the next start",
			     pin_path_, cpu_rings_.empty() ? "" : "-cpu<N>");
	for (size_t h = 0; h < st->hooks.size(); h++)
		if (st->hooks[h].state == "attached")
			spdlog::info("hook {} attached ({}): {}", st->hooks[h].name, st->hooks[h].attach,
				     st->points[h]);
	if (options_.hook_timing) {
		const int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (fd < 0)
			spdlog::warn("hook timing: the kernel's BPF run-time statistics cannot be turned on "
				     "({}); the hooks' own timings are shown without them",
				     libbpf_error_text(-errno));
		st->stats = util::UniqueFd(fd);
		bpf_program *prog;
		bpf_object__for_each_program(prog, st->skel->obj)
		{
			bpf_prog_info info{};
			uint32_t len = sizeof(info);
			if (bpf_program__fd(prog) >= 0 &&
			    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0)
				st->stats_at_start.emplace_back(prog, info);
		}
		spdlog::info("hook timing on: each hook's work is timed, and the kernel counts the run time "
			     "of every BPF program on this host");
	}
	state_ = std::move(st);
}

std::unique_ptr<EbpfBackend::State> EbpfBackend::load(int mode) const
{
	auto st = std::make_unique<State>();
	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0)
		throw BackendError(fmt::format("cannot count CPUs: {}", libbpf_error_text(st->ncpus)));

	// open -> configure -> load -> attach -> poll
	st->skel.reset(smith_bpf__open());
	if (!st->skel)
		throw BackendError(fmt::format("cannot open the BPF object: {}", libbpf_error_text(errno)));
	smith_bpf *skel = st->skel.get();

	uint32_t rb = options_.ringbuf_bytes;
	if (rb < 4096 || (rb & (rb - 1)) != 0)
		throw BackendError(fmt::format("ring buffer size {} is not a power of two >= 4096", rb));
	const bool percpu = !cpu_rings_.empty();
	const uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
	if (percpu) {
		// The shared ring stays one page; start() made the CPUs' rings.
		skel->rodata->percpu_rings = true;
		bpf_map__set_max_entries(skel->maps.events, page);
		bpf_map__set_max_entries(skel->maps.cpu_rings, static_cast<uint32_t>(cpu_rings_.size()));
		// The template of the array's rings: CPU 0's (libbpf cannot resize the object's).
		if (int err = bpf_map__set_inner_map_fd(skel->maps.cpu_rings, cpu_rings_[0].get()); err)
			throw BackendError(fmt::format("cannot give cpu_rings its template: {}",
						       libbpf_error_text(err)));
		rb = cpu_ring_bytes_;
	} else {
		bpf_map__set_max_entries(skel->maps.events, rb);
		// libbpf creates the ring and pins it, or takes the one already pinned there (this
		// start's fexit attempt, when it fell back).
		if (!pin_path_.empty())
			if (int err = bpf_map__set_pin_path(skel->maps.events, pin_path_.c_str()); err)
				throw BackendError(fmt::format("cannot pin the ring at {}: {}", pin_path_,
							       libbpf_error_text(err)));
	}
	bpf_map__set_max_entries(skel->maps.scratch_map, st->ncpus);
	skel->rodata->wakeup_bytes = options_.wakeup_bytes ? options_.wakeup_bytes : rb / 64;
	skel->rodata->hook_timing = options_.hook_timing;
	if (options_.connect_budget_rate > 0) {
		const uint32_t rate = options_.connect_budget_rate;
		const uint32_t burst = std::max<uint32_t>(options_.connect_budget_burst, 1);
		skel->rodata->budget_interval_ns = SMITH_BUDGET_INTERVAL_NS(rate);
		skel->rodata->budget_tolerance_ns = SMITH_BUDGET_TOLERANCE_NS(rate, burst);
		skel->rodata->budget_rate = rate;
		skel->rodata->budget_burst = burst;
	}

	// Where the 32-bit syscall entry lies, for compat on a successful exec (bpf/smith.bpf.c).
	static_assert(sizeof(smith_bpf::smith_bpf__rodata::compat_entry) ==
		      SMITH_COMPAT_ENTRIES * 2 * sizeof(uint64_t));
	{
		static const std::vector<std::string_view> kCompatEntries = {
#define SMITH_X(function) #function,
			SMITH_COMPAT_ENTRY_FUNCTIONS(SMITH_X)
#undef SMITH_X
		};
		std::ifstream kallsyms("/proc/kallsyms");
		const auto extents = function_extents(kallsyms, kCompatEntries);
		bool any = false;
		for (size_t i = 0; i < extents.size(); i++) {
			skel->rodata->compat_entry[i][0] = extents[i].start;
			skel->rodata->compat_entry[i][1] = extents[i].end;
			any = any || extents[i].start != 0;
		}
		if (!any)
			spdlog::warn(
				"ebpf: /proc/kallsyms names none of the kernel's 32-bit syscall entry "
				"functions (hidden addresses?): a successful exec through the 32-bit entry "
				"is marked compat only when the new program is 32-bit");
	}

	std::unique_ptr<btf, BtfDeleter> vmlinux(btf__load_vmlinux_btf());
	if (!vmlinux)
		throw BackendError(fmt::format("cannot read kernel BTF: {}", libbpf_error_text(errno)));

	// Which programs this mode loads: those of both modes and its own; an FEXIT program only
	// where the kernel has its function.
	auto serves_mode = [mode](const ProgramSpec &p) {
		return p.mode == SMITH_BPF_MODE_ALWAYS || p.mode == mode;
	};
	uint32_t syscall_hooks = 0; // hooks on a syscall: what the mode changes
	for (const ProgramSpec &p : kPrograms)
		if (p.mode != SMITH_BPF_MODE_ALWAYS)
			syscall_hooks |= p.hooks;

	// A hook whose attach point this kernel lacks is skipped; the others run.
	st->hooks.resize(SMITH_HOOK_MAX);
	st->points.resize(SMITH_HOOK_MAX);
	uint32_t available = 0; // mask of hooks that can run
	for (unsigned h = 0; h < SMITH_HOOK_MAX; h++) {
		control::HookStatus &hook = st->hooks[h];
		hook.name = control::kHookNames[h];
		hook.attach = (syscall_hooks & (1u << h)) ? mode_name(mode) : "tp_btf";
		bool fexit_needed = false, fexit_found = false;
		std::string fexit_missing;
		for (const ProgramSpec &p : kPrograms) {
			if (!(p.hooks & (1u << h)) || !serves_mode(p))
				continue;
			std::string why = missing_attach_target(vmlinux.get(), p.get(skel));
			if (p.mode == SMITH_BPF_MODE_FEXIT) {
				// One entry function is enough: a kernel without the 32-bit
				// entries has no 32-bit calls to miss.
				fexit_needed = true;
				fexit_found = fexit_found || why.empty();
				if (!why.empty() && fexit_missing.empty())
					fexit_missing = why;
			} else if (!why.empty() && hook.reason.empty()) {
				hook.reason = why;
			}
		}
		if (fexit_needed && !fexit_found && hook.reason.empty())
			hook.reason = fexit_missing;
		const bool ok = hook.reason.empty();
		available |= ok ? 1u << h : 0;
		hook.state = ok ? "attached" : "unavailable";
		skel->rodata->hook_enabled[h] = ok;
	}
	// A program stays loaded if any available hook needs it.
	bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const ProgramSpec &p = program_spec(skel, prog);
		bool load = serves_mode(p) && (p.hooks & available) != 0;
		if (load && p.mode == SMITH_BPF_MODE_FEXIT)
			load = missing_attach_target(vmlinux.get(), prog).empty();
		bpf_program__set_autoload(prog, load);
	}
	for (const auto &h : st->hooks)
		if (h.state == "unavailable")
			spdlog::warn("hook {} unavailable: {}", h.name, h.reason);

	const auto load_start = std::chrono::steady_clock::now();
	if (int err = smith_bpf__load(skel); err)
		throw BackendError(fmt::format("the kernel rejected smith's BPF programs ({} mode): {} (the "
					       "verifier's log is above)",
					       mode_name(mode), libbpf_error_text(err)));
	for (uint32_t cpu = 0; cpu < cpu_rings_.size(); cpu++) {
		const int fd = cpu_rings_[cpu].get();
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.cpu_rings), &cpu, &fd, BPF_ANY) != 0)
			throw BackendError(fmt::format("cannot give CPU {} its ring: {}", cpu,
						       libbpf_error_text(-errno)));
	}

	const auto attach_start = std::chrono::steady_clock::now();

	// Attach each program once; a failure marks its hooks failed and the others run. In
	// fexit mode a trampoline that will not attach fails the mode (auto falls back).
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		const ProgramSpec &p = program_spec(skel, prog);
		bpf_link *link = bpf_program__attach(prog);
		if (!link) {
			std::string why = fmt::format("attach {} failed: {}", bpf_program__section_name(prog),
						      libbpf_error_text(errno));
			if (p.mode == SMITH_BPF_MODE_FEXIT)
				throw BackendError(why);
			spdlog::error("{}", why);
			for (unsigned h = 0; h < SMITH_HOOK_MAX; h++)
				if ((p.hooks & (1u << h)) && st->hooks[h].state == "attached") {
					st->hooks[h].state = "failed";
					st->hooks[h].reason = why;
				}
			continue;
		}
		st->links.emplace_back(link);
		for (unsigned h = 0; h < SMITH_HOOK_MAX; h++)
			if (p.hooks & (1u << h))
				st->points[h] += fmt::format("{}{}", st->points[h].empty() ? "" : " ",
							     bpf_program__section_name(prog));
	}
	// The verifier's work is most of a start, and on a slow or busy CPU it is seconds: say so.
	const auto attach_end = std::chrono::steady_clock::now();
	spdlog::info("BPF: {} programs loaded and verified in {:.2f} s, attached in {:.2f} s",
		     st->links.size(), std::chrono::duration<double>(attach_start - load_start).count(),
		     std::chrono::duration<double>(attach_end - attach_start).count());
	bool any = false;
	for (const auto &h : st->hooks)
		any = any || h.state == "attached";
	if (!any)
		throw BackendError("no hook could be attached");

	auto reader = [](int map_fd, std::string name) {
		util::UniqueFd fd(fcntl(map_fd, F_DUPFD_CLOEXEC, 3));
		if (!fd.valid())
			throw BackendError(fmt::format("cannot map the ring buffer {}: {}", name,
						       libbpf_error_text(-errno)));
		return BpfRing(std::move(fd), std::move(name));
	};
	if (!percpu)
		st->rings.push_back(reader(bpf_map__fd(skel->maps.events), "events"));
	for (size_t cpu = 0; cpu < cpu_rings_.size(); cpu++)
		st->rings.push_back(reader(cpu_rings_[cpu].get(), fmt::format("the ring of CPU {}", cpu)));
	return st;
}

long EbpfBackend::poll(std::chrono::milliseconds timeout, RecordHandler &handler)
{
	if (!state_)
		throw BackendError("ebpf backend polled before start");
	State &st = *state_;
	// What killed smithds left comes first: it is older than anything in this run's rings. Their
	// hooks are gone, so every record in them is complete or never will be.
	long delivered = 0;
	for (std::vector<BpfRing> &group : st.leftovers) {
		long n = 0;
		try {
			n = drain_in_time_order(std::span<BpfRing>(group), handler, UINT64_MAX);
		} catch (const BackendError &e) { // a damaged ring: what was read before it is kept
			spdlog::error("{}; the rest of it is dropped", e.what());
		}
		delivered += n;
		for (const BpfRing &old : group) {
			if (old.unread_bytes() != 0)
				spdlog::warn("{} bytes of {} could not be read (a record never completed, or "
					     "the ring is damaged)",
					     old.unread_bytes(), old.name());
			RingPins::release(old.name());
		}
		spdlog::info("read {} records a smithd that did not stop cleanly left in {}{}", n,
			     group.front().name(), group.size() > 1 ? " and its other CPUs' rings" : "");
	}
	st.leftovers.clear();
	if (delivered > 0)
		return delivered;
	// Wakeups come in batches (see wakeup_bytes in bpf/smith.bpf.c), so a wait longer than
	// poll_interval would hold records back. The kernel wakes the reader only for a record
	// that lands where the reader stands; after an overflow or a stop (SIGSTOP, a slow sink)
	// a ring can hold records with no wakeup pending. A wait that times out therefore ends
	// with a read all the same, so nothing waits longer than one poll_interval.
	const auto wait = std::min(timeout, options_.poll_interval);
	if (st.rings.size() == 1) {
		pollfd p{st.rings[0].fd(), POLLIN, 0};
		if (::poll(&p, 1, static_cast<int>(wait.count())) < 0 && errno != EINTR)
			throw BackendError(fmt::format("waiting on the ring buffer failed: {}",
						       libbpf_error_text(-errno)));
		return st.rings[0].consume(handler);
	}
	st.pollfds.resize(st.rings.size());
	for (size_t i = 0; i < st.rings.size(); i++)
		st.pollfds[i] = {st.rings[i].fd(), POLLIN, 0};
	if (::poll(st.pollfds.data(), st.pollfds.size(), static_cast<int>(wait.count())) < 0 &&
	    errno != EINTR)
		throw BackendError(
			fmt::format("waiting on the ring buffers failed: {}", libbpf_error_text(-errno)));
	// Every ring, woken or not, merged by time: a record's cause (a fork) may be in another's.
	return drain_in_time_order(std::span<BpfRing>(st.rings), handler,
				   detached_ ? UINT64_MAX : boottime_ns());
}

std::vector<control::HookStatus> EbpfBackend::hooks() const
{
	if (!state_)
		return {};
	std::vector<control::HookStatus> out = state_->hooks;
	int fd = bpf_map__fd(state_->skel->maps.drops);
	std::vector<uint64_t> per_cpu(state_->ncpus);
	for (uint32_t key = 0; key < SMITH_HOOK_MAX; key++) {
		if (bpf_map_lookup_elem(fd, &key, per_cpu.data()) != 0)
			continue;
		uint64_t sum = 0;
		for (uint64_t v : per_cpu)
			sum += v;
		out[key].kernel_drops = sum;
	}
	if (!options_.hook_timing)
		return out;
	fd = bpf_map__fd(state_->skel->maps.timings);
	std::vector<smith_timing> timing_per_cpu(state_->ncpus);
	for (uint32_t key = 0; key < SMITH_HOOK_MAX; key++) {
		if (bpf_map_lookup_elem(fd, &key, timing_per_cpu.data()) != 0)
			continue;
		smith_timing sum{};
		for (const smith_timing &t : timing_per_cpu)
			timing_add(sum, t);
		const TimingSummary t = summarize(sum);
		out[key].calls = t.calls;
		out[key].avg_ns = t.avg_ns;
		out[key].p99_ns = t.p99_ns;
	}
	return out;
}

std::vector<control::ProgramStatus> EbpfBackend::programs() const
{
	std::vector<control::ProgramStatus> out;
	if (!state_ || state_->stats.get() < 0)
		return out;
	for (const auto &[prog, before] : state_->stats_at_start) {
		bpf_prog_info info{};
		uint32_t len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) != 0)
			continue;
		out.push_back({bpf_program__name(prog), info.run_cnt - before.run_cnt,
			       info.run_time_ns - before.run_time_ns});
	}
	return out;
}

control::RingStatus EbpfBackend::rings() const
{
	if (!state_ || state_->rings.empty())
		return {};
	return {cpu_rings_.empty() ? "shared" : "percpu", state_->rings.size(),
		state_->rings.front().ring_bytes()};
}

void EbpfBackend::detach()
{
	if (!state_)
		return;
	state_->links.clear();
	detached_ = true; // nothing more comes: the rings are read to their ends
	for (auto &h : state_->hooks)
		if (h.state == "attached") {
			h.state = "detached";
			h.reason = "smithd is stopping";
		}
}

void EbpfBackend::stop()
{
	if (!state_)
		return;
	state_->links.clear(); // detach before the programs go
	unpin_if_empty();
	state_.reset();
	cpu_rings_.clear();
	detached_ = false;
}

uint32_t cpu_ring_bytes(uint32_t total_bytes, int ncpus)
{
	const uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
	const uint32_t share = total_bytes / static_cast<uint32_t>(std::max(ncpus, 1));
	const uint32_t floor_pow2 = share == 0 ? 0 : std::bit_floor(share);
	return std::max({floor_pow2, page, uint32_t{SMITH_REC_MAX} * 4});
}

void EbpfBackend::create_cpu_rings()
{
	const int ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		throw BackendError(fmt::format("cannot count CPUs: {}", libbpf_error_text(ncpus)));
	cpu_ring_bytes_ = cpu_ring_bytes(options_.ringbuf_bytes, ncpus);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		const std::string name = fmt::format("smith_cpu{}", cpu);
		util::UniqueFd fd(
			bpf_map_create(BPF_MAP_TYPE_RINGBUF, name.c_str(), 0, 0, cpu_ring_bytes_, nullptr));
		if (!fd.valid())
			throw BackendError(
				fmt::format("cannot create the ring buffer of CPU {} ({} bytes): {}", cpu,
					    cpu_ring_bytes_, libbpf_error_text(-errno)));
		if (!pin_path_.empty()) {
			const std::string pin = cpu_pin(static_cast<size_t>(cpu));
			if (bpf_obj_pin(fd.get(), pin.c_str()) != 0)
				throw BackendError(fmt::format("cannot pin the ring of CPU {} at {}: {}", cpu,
							       pin, libbpf_error_text(-errno)));
		}
		cpu_rings_.push_back(std::move(fd));
	}
}

std::string EbpfBackend::cpu_pin(size_t cpu) const
{
	return fmt::format("{}-cpu{}", pin_path_, cpu);
}

void EbpfBackend::release_pins()
{
	if (pin_path_.empty())
		return;
	RingPins::release(pin_path_);
	for (size_t cpu = 0; cpu < cpu_rings_.size(); cpu++)
		RingPins::release(cpu_pin(cpu));
	pin_path_.clear();
}

// A stop that read the rings out leaves no pin; one that did not (an error on the way) leaves the
// records for the next start.
void EbpfBackend::unpin_if_empty()
{
	if (pin_path_.empty())
		return;
	uint64_t left = 0;
	for (const BpfRing &ring : state_->rings)
		left += ring.unread_bytes();
	if (left == 0)
		release_pins();
	else
		spdlog::warn("{} bytes of records stay in {}{} for the next start", left, pin_path_,
			     cpu_rings_.empty() ? "" : "-cpu<N>");
	pin_path_.clear();
}

} // namespace smith::backend
