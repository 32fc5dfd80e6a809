// Raw record -> schema v1 JSON line (DESIGN.md, "Event schema v1").
// Fields are written in the schema's order; every field is always written.
// What stays the same from event to event is rendered once and copied: the host's fields when
// the normalizer is made, a process's fields (but tid) per process (ProcessFragment).
#include "event/normalizer.h"

#include "event/container_id.h"
#include "event/inet_format.h"
#include "json/json_writer.h"
#include "event/proc_reader.h"
#include "event/process_cache.h"
#include "event/record_decoder.h"
#include "event/tail_strings.h"
#include "event/tty.h"
#include "event/user_cache.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <vector>

namespace smith::event {
namespace {

using json::JsonWriter;

struct TypeInfo {
	std::string_view name; // schema "type"
	int data_type;	       // schema "data_type": the x86_64 syscall number
};

// By record type value - 1 (the event table's order).
constexpr TypeInfo kTypes[] = {
#define SMITH_X(ID, value, name, data_type, record) {name, data_type},
	SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
};

// A NUL-terminated string in a fixed array, or the whole array if it has no NUL.
template <size_t N> std::string_view fixed_string(const char (&a)[N])
{
	return {a, strnlen(a, N)};
}

// Module name from a module file's path: basename without .ko[.xz|.zst|.gz].
std::string_view module_name_from_path(std::string_view path)
{
	std::string_view name = path_basename(path);
	for (const std::string_view suffix : {".ko.xz", ".ko.zst", ".ko.gz", ".ko"}) {
		if (name.size() > suffix.size() && name.ends_with(suffix)) {
			name.remove_suffix(suffix.size());
			break;
		}
	}
	return name;
}

// A connect record's way in (enum smith_connect_via), as the event names it.
std::string_view via_name(uint16_t via)
{
	switch (via) {
	case SMITH_VIA_CONNECT: return "connect";
	case SMITH_VIA_SOCKETCALL: return "socketcall";
	case SMITH_VIA_IO_URING: return "io_uring";
	case SMITH_VIA_SENDTO: return "sendto";
	case SMITH_VIA_OTHER: return "other";
	}
	return "other";
}

// An execve's stdin or stdout as the event names it (format_fd()). A path is joined straight
// into `out`: format_fd() would only copy it there. Other kinds have no path to join.
void fd_text(const smith_fd &fd, std::string_view encoded_path, std::string &out)
{
	if (fd.kind == SMITH_FD_PATH)
		join_leaf_first_path(encoded_path, out);
	else
		format_fd(fd, {}, out);
}

// The common fields from "nodename" to "container_id" but "tid", rendered once for a process and
// copied into each of its events while what they were rendered from stays the same: the task's
// fields (but tid), the process cache entry (by its generation) and the user name (by the user
// cache's generation). Anything else gives other bytes, and the fragment is rendered again.
struct ProcessFragment {
	smith_task task{};		 // rendered from these, tid and pad0 zeroed
	smith_pid_tree pid_tree{};	 // and this, past its depth zeroed
	smith_pid_tree raw_tree{};	 // the last tree received whose key is pid_tree, as it came
	uint64_t process_generation = 0; // ProcessInfo::generation of the entry rendered from
	uint64_t user_generation = 0;	 // UserCache::generation() when rendered
	bool valid = false;		 // rendered at least once
	std::string text;		 // "nodename":..,"pid":N then "ppid":..,"pid_tree_truncated":..
	size_t split = 0;		 // where the part after "tid" starts in text

	std::string_view before_tid() const { return {text.data(), split}; }
	std::string_view after_tid() const { return std::string_view(text).substr(split); }
};

// Fragments are kept direct-mapped by (pid, start_time): a process that gets its slot taken
// renders once more. 1024 slots hold the processes that make events at any one time on most hosts.
constexpr size_t kFragmentSlots = 1024;

size_t fragment_slot(uint32_t pid, uint64_t start_time)
{
	const uint64_t x =
		(start_time ^ (static_cast<uint64_t>(pid) * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
	return static_cast<size_t>(x >> 54) & (kFragmentSlots - 1);
}

// `t` with what lies past its depth zeroed: equal trees compare equal bytewise. A depth past
// SMITH_PID_TREE_MAX (no producer writes one) is cut to it.
smith_pid_tree pid_tree_key(const smith_pid_tree &t)
{
	smith_pid_tree key{};
	key.depth = std::min<uint8_t>(t.depth, SMITH_PID_TREE_MAX);
	key.flags = t.flags;
	std::memcpy(key.pid, t.pid, key.depth * sizeof(t.pid[0]));
	for (size_t i = 0; i < key.depth; ++i)
		std::memcpy(key.comm[i], t.comm[i], strnlen(t.comm[i], SMITH_COMM_LEN));
	return key;
}

// `members` rendered as JSON members ("k":v,...) by a writer outside any object.
template <class F> std::string render_members(F &&members)
{
	std::string out;
	{
		JsonWriter w(out, JsonWriter::MembersOnly{});
		members(w);
	}
	return out;
}

} // namespace

struct Normalizer::Impl {
	explicit Impl(HostInfo h) : host(std::move(h)), fragments(kFragmentSlots)
	{
		for (std::string *s : {&exe, &cwd, &tty, &stdin_text, &stdout_text, &module_path})
			s->reserve(SMITH_PATH_MAX + 64);
		// The host's fields are fixed for the run: rendered once here.
		run_id_member = render_members(
			[&](JsonWriter &w) { w.field("run_id", std::string_view(host.run_id)); });
		for (size_t i = 0; i < std::size(kTypes); ++i)
			type_members[i] = render_members([&](JsonWriter &w) {
				w.field("type", kTypes[i].name);
				w.field("data_type", int64_t{kTypes[i].data_type});
				w.field("backend", std::string_view(host.backend));
				w.field("hostname", std::string_view(host.hostname));
				w.field("host_id", std::string_view(host.host_id));
			});
	}

	// One event of the record type whose struct is Record: the common fields, then its own.
	template <class Record> void write_event(JsonWriter &w, const DecodedRecord &rec, uint64_t seq);
	void write_common(JsonWriter &w, const DecodedRecord &rec, uint64_t seq, const ProcessInfo &proc,
			  const smith_pid_tree &tree);
	// The common fields from "nodename" to "pid_tree_truncated": the process's fragment copied in
	// if it is current, else rendered (and kept as the fragment).
	void write_process(JsonWriter &w, const smith_task &task, const ProcessInfo &proc,
			   const smith_pid_tree &tree);
	// The fields of each record struct (the event table's `record` column).
	void write_fields(JsonWriter &w, const DecodedRecord &rec, const smith_execve &e);
	void write_fields(JsonWriter &w, const DecodedRecord &rec, const smith_connect &c);
	void write_fields(JsonWriter &w, const DecodedRecord &rec, const smith_module &m);
	void write_fields(JsonWriter &w, const DecodedRecord &rec, const smith_connect_suppressed &s);
	// The process an event's common fields describe: an execve record carries it; for the
	// others it comes from what earlier execs (or procfs) said about the process.
	// The reference is valid until the next upsert into `processes`.
	const ProcessInfo &process_of(const DecodedRecord &rec, const smith_execve &e);
	template <class Record> const ProcessInfo &process_of(const DecodedRecord &rec, const Record &)
	{
		return process_from_cache(rec.hdr.task);
	}
	const ProcessInfo &process_from_cache(const smith_task &task);
	// A new process starts with its parent's image, cwd, tty and container.
	void note_fork(const DecodedRecord &rec, const smith_fork &f);

	HostInfo host;			 // fixed for the run
	ProcessCache processes;		 // (pid, start_time) -> exe, cwd, tty, container id
	UserCache users;		 // uid -> name
	std::string proc_root = "/proc"; // where cache misses are read from
	DecodedRecord rec;		 // the record being normalised
	std::string run_id_member;	 // "run_id":"..."
	std::array<std::string, std::size(kTypes)> type_members; // "type" to "host_id", per type
	std::vector<ProcessFragment> fragments;			 // kFragmentSlots, see fragment_slot()
	// Scratch text, reused record after record (capacity kept).
	std::string exe;
	std::string cwd;
	std::string tty;
	std::string stdin_text;
	std::string stdout_text;
	std::string module_path;
};

Normalizer::Normalizer(HostInfo host) : impl_(std::make_unique<Impl>(std::move(host))) {}

Normalizer::~Normalizer() = default;

const HostInfo &Normalizer::host() const
{
	return impl_->host;
}

void Normalizer::set_boot_to_epoch_ns(int64_t offset)
{
	impl_->host.boot_to_epoch_ns = offset;
}

const ProcessInfo &Normalizer::Impl::process_of(const DecodedRecord &r, const smith_execve &)
{
	// Success: the new image of this process; failure: the caller, still this
	// process. Either way it is what later connect/module records will need.
	ProcessInfo &p = processes.upsert(r.hdr.task.pid, r.hdr.task.start_time);
	join_leaf_first_path(r.tail[SMITH_EXEC_EXE], p.exe);
	join_leaf_first_path(r.tail[SMITH_EXEC_CWD], p.cwd);
	tty_from_kernel_name(r.tail[SMITH_EXEC_TTY], p.tty);
	p.set_container_id(container_id_from_cgroup_name(r.tail[SMITH_EXEC_CGROUP]));
	return p;
}

const ProcessInfo &Normalizer::Impl::process_from_cache(const smith_task &task)
{
	const ProcessInfo *p = processes.find(task.pid, task.start_time);
	if (p == nullptr) {
		// Neither seen exec'ing nor forked from a process known here (it started
		// before this run): ask procfs once, if the pid there still is this
		// process. One that has already exited yields "", and that is kept too.
		ProcessInfo &fresh = processes.upsert(task.pid, task.start_time);
		read_process_info(proc_root, task.pid, task.start_time, fresh);
		p = &fresh;
	}
	return *p;
}

void Normalizer::Impl::note_fork(const DecodedRecord &r, const smith_fork &f)
{
	// Copied out first: making the child's entry may move the parent's.
	const ProcessInfo &parent = process_from_cache(r.hdr.task);
	exe.assign(parent.exe);
	cwd.assign(parent.cwd);
	tty.assign(parent.tty);
	const std::string_view cid = parent.container_id(); // a view into the parent's entry
	std::array<char, 64> cid_copy{};
	const size_t cid_len = std::min(cid.size(), cid_copy.size());
	std::memcpy(cid_copy.data(), cid.data(), cid_len);

	ProcessInfo &child = processes.upsert(f.child_pid, f.child_start_time);
	child.exe.assign(exe);
	child.cwd.assign(cwd);
	child.tty.assign(tty);
	child.set_container_id({cid_copy.data(), cid_len});
}

void Normalizer::Impl::write_common(JsonWriter &w, const DecodedRecord &r, uint64_t seq,
				    const ProcessInfo &proc, const smith_pid_tree &tree)
{
	w.members("\"schema\":1");
	w.field("seq", seq);
	w.members(run_id_member);
	w.field("ts", static_cast<uint64_t>(r.hdr.ts + static_cast<uint64_t>(host.boot_to_epoch_ns)));
	w.members(type_members[r.type - 1]); // "type", "data_type", "backend", "hostname", "host_id"
	write_process(w, r.hdr.task, proc, tree);
}

void Normalizer::Impl::write_process(JsonWriter &w, const smith_task &t, const ProcessInfo &proc,
				     const smith_pid_tree &tree)
{
	smith_task key = t;
	key.tid = 0;
	key.pad0 = 0;
	ProcessFragment &f = fragments[fragment_slot(t.pid, t.start_time)];
	const bool same_process = f.valid && f.process_generation == proc.generation &&
				  f.user_generation == users.generation() &&
				  std::memcmp(&f.task, &key, sizeof(key)) == 0;
	auto copy_fragment = [&] {
		w.members(f.before_tid()); // "nodename", "pid"
		w.field("tid", int64_t{t.tid});
		w.members(f.after_tid()); // "ppid" to "pid_tree_truncated"
	};
	// A process's records usually carry the very same tree bytes: then the key need not be made.
	if (same_process && std::memcmp(&f.raw_tree, &tree, sizeof(tree)) == 0) {
		copy_fragment();
		return;
	}
	const smith_pid_tree tree_key = pid_tree_key(tree);
	f.raw_tree = tree;
	if (same_process && std::memcmp(&f.pid_tree, &tree_key, sizeof(tree_key)) == 0) {
		copy_fragment();
		return;
	}

	// Rendered into the event, and copied from there for the process's next events (an exec
	// always comes here: it gives its process a new generation).
	const std::string_view user = users.name(t.uid); // may start the user cache over: first
	f.task = key;
	f.pid_tree = tree_key;
	f.process_generation = proc.generation;
	f.user_generation = users.generation();
	f.valid = true;
	f.text.clear();
	size_t mark = w.begin_members();
	w.field("nodename", fixed_string(t.nodename));
	w.field("pid", int64_t{t.pid});
	w.copy_since(mark, f.text);
	f.split = f.text.size();
	w.field("tid", int64_t{t.tid});
	mark = w.begin_members();
	w.field("ppid", int64_t{t.ppid});
	w.field("pgid", int64_t{t.pgid});
	w.field("sid", int64_t{t.sid});
	w.field("uid", int64_t{t.uid});
	w.field("gid", int64_t{t.gid});
	w.field("euid", int64_t{t.euid});
	w.field("egid", int64_t{t.egid});
	w.field("user", user);
	w.field("comm", fixed_string(t.comm));
	w.field("exe", std::string_view(proc.exe));
	w.field("cwd", std::string_view(proc.cwd));
	w.field("tty", std::string_view(proc.tty));
	w.field("sessionid", t.sessionid == 0xffffffffu ? int64_t{-1} : int64_t{t.sessionid});
	w.field("pidns", uint64_t{t.pidns});
	w.field("mntns", uint64_t{t.mntns});
	w.field("netns", uint64_t{t.netns});
	w.field("cgroup_id", uint64_t{t.cgroup_id});
	w.field("container_id", proc.container_id());
	w.key("pid_tree");
	w.begin_array();
	for (size_t i = 0; i < tree_key.depth; ++i) {
		w.begin_object();
		w.field("pid", int64_t{tree_key.pid[i]});
		w.field("comm", fixed_string(tree_key.comm[i]));
		w.end_object();
	}
	w.end_array();
	w.field("pid_tree_truncated", (tree_key.flags & SMITH_PID_TREE_TRUNCATED) != 0);
	w.copy_since(mark, f.text);
}

void Normalizer::Impl::write_fields(JsonWriter &w, const DecodedRecord &r, const smith_execve &e)
{
	w.field("filename", r.tail[SMITH_EXEC_FILENAME]);
	w.key("argv");
	w.begin_array();
	for_each_arg(r.tail[SMITH_EXEC_ARGV], [&w](std::string_view arg) { w.value(arg); });
	w.end_array();
	w.field("argv_truncated", (e.flags & SMITH_EXEC_ARGV_TRUNCATED) != 0);

	fd_text(e.stdin_fd, r.tail[SMITH_EXEC_STDIN_PATH], stdin_text);
	fd_text(e.stdout_fd, r.tail[SMITH_EXEC_STDOUT_PATH], stdout_text);
	w.field("stdin", std::string_view(stdin_text));
	w.field("stdout", std::string_view(stdout_text));
	w.field("ld_preload", r.tail[SMITH_EXEC_LD_PRELOAD]);
	w.field("retval", int64_t{r.hdr.retval});
	w.field("env_truncated", (e.flags & SMITH_EXEC_ENV_TRUNCATED) != 0);
	w.field("path_truncated", (e.flags & SMITH_EXEC_PATH_TRUNCATED) != 0);
	w.field("compat", (e.flags & SMITH_EXEC_COMPAT) != 0);
}

void Normalizer::Impl::write_fields(JsonWriter &w, const DecodedRecord &r, const smith_connect &c)
{
	const smith_inet &in = c.inet;
	const bool daddr_known = (c.flags & SMITH_CONNECT_DADDR_UNKNOWN) == 0;
	char saddr[kIpTextMax];
	char daddr[kIpTextMax];
	// The strings of a connect event are made here, from a closed set: nothing to escape.
	w.plain_field("family", family_name(in.family));
	w.plain_field("protocol", protocol_name(in.protocol));
	w.plain_field("saddr", format_ip(in.family, in.saddr, saddr));
	w.field("sport", int64_t{in.sport});
	w.plain_field("daddr", daddr_known ? format_ip(in.family, in.daddr, daddr) : std::string_view());
	w.field("dport", daddr_known ? int64_t{in.dport} : int64_t{-1});
	w.field("retval", int64_t{r.hdr.retval});
	w.plain_field("daddr_source", (c.flags & SMITH_CONNECT_DADDR_SOCKET)	? std::string_view("socket")
				      : (c.flags & SMITH_CONNECT_DADDR_UNKNOWN) ? std::string_view("none")
										: std::string_view("user"));
	w.plain_field("via", via_name(c.via));
	w.field("compat", (c.flags & SMITH_CONNECT_COMPAT) != 0);
}

void Normalizer::Impl::write_fields(JsonWriter &w, const DecodedRecord &r, const smith_module &m)
{
	join_leaf_first_path(r.tail[SMITH_MODULE_PATH], module_path);
	std::string_view name = r.tail[SMITH_MODULE_NAME];
	if (name.empty() && !module_path.empty())
		name = module_name_from_path(module_path);
	w.field("module", name);
	w.field("module_path", std::string_view(module_path));
	w.field("params", r.tail[SMITH_MODULE_PARAMS]);
	w.field("retval", int64_t{r.hdr.retval});
	w.field("module_path_truncated", (m.flags & SMITH_MODULE_PATH_TRUNCATED) != 0);
	w.field("params_truncated", (m.flags & SMITH_MODULE_PARAMS_TRUNCATED) != 0);
	w.field("compat", (m.flags & SMITH_MODULE_COMPAT) != 0);
}

void Normalizer::Impl::write_fields(JsonWriter &w, const DecodedRecord &r, const smith_connect_suppressed &s)
{
	const auto epoch = [this](uint64_t boot_ns) {
		return boot_ns == 0 ? uint64_t{0} : boot_ns + static_cast<uint64_t>(host.boot_to_epoch_ns);
	};
	w.field("suppressed", uint64_t{s.suppressed});
	w.field("first_ts", epoch(s.first_ts));
	w.field("last_ts", epoch(s.last_ts));
	w.field("budget_rate", uint64_t{s.rate});
	w.field("budget_burst", uint64_t{s.burst});
	w.field("retval", int64_t{r.hdr.retval});
}

NormalizeResult Normalizer::append_json(std::span<const std::byte> record, uint64_t seq, std::string &out)
{
	Impl &im = *impl_;
	DecodedRecord &r = im.rec;
	if (const DecodeResult d = decode_record(record, r); !d.ok)
		return {false, SMITH_REC_EXECVE, d.error};

	if (r.type == SMITH_REC_FORK) {
		im.note_fork(r, r.as<smith_fork>());
		return {true, r.type, {}, false};
	}
	JsonWriter w(out);
	switch (r.type) {
#define SMITH_X(ID, value, name, data_type, record)                                                          \
	case SMITH_REC_##ID: im.write_event<record>(w, r, seq); break;
		SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
	default: break;
	}
	out.push_back('\n');
	NormalizeResult result{true, r.type, {}};
	if (r.type == SMITH_REC_CONNECT_SUPPRESSED)
		result.suppressed = r.as<smith_connect_suppressed>().suppressed;
	return result;
}

template <class Record>
void Normalizer::Impl::write_event(JsonWriter &w, const DecodedRecord &r, uint64_t seq)
{
	const Record &fields = r.as<Record>();
	const ProcessInfo &proc = process_of(r, fields);
	// A producer from before pid_tree (a smith.ko loaded earlier) sent none: no ancestors known, and
	// the flag says the chain is not whole.
	smith_pid_tree tree = fields.pid_tree;
	if (r.hdr.fixed < offsetof(Record, pid_tree) + sizeof(smith_pid_tree)) {
		tree.depth = 0;
		tree.flags = SMITH_PID_TREE_TRUNCATED;
	}
	w.begin_object();
	write_common(w, r, seq, proc, tree);
	write_fields(w, r, fields);
	w.end_object();
}

} // namespace smith::event
