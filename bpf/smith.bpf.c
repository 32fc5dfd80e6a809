// SPDX-License-Identifier: GPL-2.0-only
/*
 * smith's CO-RE programs: execve/execveat, connect, init_module and
 * finit_module, each turned into one raw record (include/smith/abi.h) in the
 * `events` ring buffer, or in the running CPU's ring of `cpu_rings` when the
 * loader chose per-CPU rings.
 *
 * Attach points are BTF-typed tracepoints (tp_btf): no tracefs, no
 * trampolines, the cheapest attach the kernel offers for these events.
 *   - successful execs: sched_process_exec, in the new image, so argv, exe and
 *     LD_PRELOAD are the ones the kernel installed;
 *   - everything else: the raw sys_exit tracepoint, one program that looks at
 *     the syscall number first and leaves at once for any other call. At exit
 *     the saved user registers still hold the arguments, and the return value
 *     is known, so one program sees the whole call: failed execve/execveat
 *     attempts (the caller's memory still holds the arguments), connect (the
 *     socket has its source address by then), init_module and finit_module;
 *   - modules: module_load notes the module's name for the syscall's exit.
 *
 * Fixed-size records (connect) are reserved in the ring and submitted. Records
 * with a variable tail (execve, modules) are built in a per-CPU scratch buffer
 * and copied with bpf_ringbuf_output, so the ring holds only the bytes used.
 * Every failure to get ring space is counted per hook in `drops`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "smith/abi.h"
#include "smith/budget.h"
#include "core_fixes.bpf.h"
#include "task.bpf.h"
#include "build.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24); /* the loader sets the configured size */
} events SEC(".maps");

/*
 * Per-CPU rings (the loader's percpu_rings): each CPU reserves in its own ring,
 * so no CPU waits on another's reservation lock. The loader sizes the template,
 * creates one ring per possible CPU and puts it at that CPU's index; the reader
 * merges them by time stamp.
 */
struct cpu_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096); /* the loader gives the array CPU 0's ring as the template */
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* the loader sets the number of possible CPUs */
	__type(key, __u32);
	__array(values, struct cpu_ring);
} cpu_rings SEC(".maps");

/* One scratch record per CPU; a plain array because per-CPU values are capped at 32 KiB. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the loader sets the number of possible CPUs */
	__type(key, __u32);
	__type(value, struct smith_scratch);
} scratch_map SEC(".maps");

/* Ring-buffer reserve/output failures, per hook (enum smith_hook). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMITH_HOOK_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Hook timing (abi.h, struct smith_timing), per hook, while the loader's hook_timing is set. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SMITH_HOOK_MAX);
	__type(key, __u32);
	__type(value, struct smith_timing);
} timings SEC(".maps");

/* Module name seen by module_load, per thread, until its syscall returns. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, char[SMITH_MODNAME_LEN]);
} module_names SEC(".maps");

/*
 * The socket that entered SYN_SENT inside a thread's connect call (any of its
 * forms), kept for the call's return: the socket the kernel is connecting,
 * even when another thread has meanwhile pointed the fd at another socket
 * (dup2) or unmapped socketcall's argument block. By thread id, with the
 * thread's start time against a reused id. An LRU map: past its size (blocked
 * connects in as many threads at once) the oldest entries go, and their calls
 * find the socket by the fd, as a UDP connect always does.
 */
struct smith_connecting {
	__u64 sk;
	__u64 start;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct smith_connecting);
} connecting SEC(".maps");

/* Each process's budget of connect events (include/smith/budget.h), by pid. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SMITH_BUDGET_PROCESSES);
	__type(key, __u32);
	__type(value, struct smith_budget);
} budgets SEC(".maps");

/* The budget, set by the loader: SMITH_BUDGET_INTERVAL_NS/TOLERANCE_NS of rate and burst; 0: none. */
const volatile __u64 budget_interval_ns = 0;
const volatile __u64 budget_tolerance_ns = 0;
const volatile __u32 budget_rate = 0;
const volatile __u32 budget_burst = 0;

/*
 * The extents [start, end) of the kernel's 32-bit syscall entry functions
 * (event_table.h's SMITH_COMPAT_ENTRY_FUNCTIONS), set by the loader from
 * /proc/kallsyms; {0, 0} for one this kernel lacks or when addresses are hidden.
 */
const volatile __u64 compat_entry[SMITH_COMPAT_ENTRIES][2] = {};

/* Set by the loader before load: hooks this kernel lacks are compiled out by the verifier. */
const volatile bool hook_enabled[SMITH_HOOK_MAX] = {};

/* Each hook's work is timed into `timings`; otherwise the verifier drops the timing code. */
const volatile bool hook_timing = false;

/* Unread bytes in the ring at which a record wakes the reader (ring.bpf.h); 0: every record. */
const volatile __u64 wakeup_bytes = 0;
/* Records go to this CPU's ring in cpu_rings, not to the shared `events` (ring.bpf.h). */
const volatile bool percpu_rings = false;
#include "ring.bpf.h"

/*
 * The ring this CPU writes to; NULL (the record is dropped and counted) if the
 * loader left none. One shared ring takes a spinlock for every reservation,
 * from every CPU; a per-CPU ring only its own CPU's. The verifier drops the
 * branch the loader did not choose.
 */
static __always_inline void *ring__get(void)
{
	__u32 cpu;

	if (!percpu_rings)
		return &events;
	cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&cpu_rings, &cpu);
}

/* thread_info.status: the task is in a syscall made through the 32-bit entry. */
#define TS_COMPAT 0x0002
/* An ELF image's class (e_ident[EI_CLASS]): 32-bit. */
#define EI_CLASS   4
#define ELFCLASS32 1

/* When a hook's work starts: 0 while hooks are not timed. */
static __always_inline __u64 timing__start(void)
{
	return hook_timing ? bpf_ktime_get_ns() : 0;
}

/* Counts one run of `hook` that started at `start` (timing__start()); SMITH_HOOK_MAX: none ran. */
static __always_inline void timing__add(__u32 hook, __u64 start)
{
	struct smith_timing *t;
	__u64 ns;
	__u32 b;

	if (!hook_timing || hook >= SMITH_HOOK_MAX)
		return;
	ns = bpf_ktime_get_ns() - start;
	t = bpf_map_lookup_elem(&timings, &hook);
	if (!t)
		return;
	t->calls++;
	t->sum_ns += ns;
	b = smith_timing_bucket(ns);
	barrier_var(b); /* the verifier sees the bound checked, not only the compiler */
	if (b < SMITH_TIMING_BUCKETS)
		t->buckets[b]++;
}

static __always_inline void drop__count(__u32 hook)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &hook);

	if (n)
		(*n)++;
}

static __always_inline struct smith_scratch *scratch__get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

static __always_inline struct file *task__fd(struct task_struct *task, unsigned int fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	/* a variable index into the array needs the helper */
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* The socket a file is, or NULL. */
static __always_inline struct sock *file__sock(struct file *file)
{
	__u32 at_private = bpf_core_field_offset(struct file, private_data);
	struct inode *inode;
	struct socket *sock;

	if (bpf_core_field_offset(struct file, f_inode) == at_private + 8) {
		/* Side by side in newer kernels (6.18): one read. */
		__u64 pair[2];

		if (bpf_probe_read_kernel(pair, sizeof(pair), (void *)file + at_private))
			return NULL;
		sock = (struct socket *)pair[0];
		inode = (struct inode *)pair[1];
	} else {
		sock = BPF_CORE_READ(file, private_data);
		inode = BPF_CORE_READ(file, f_inode);
	}
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/*
 * What the events report of a socket, in as few reads as its layout allows:
 * the head of sock_common holds both IPv4 addresses, both ports and the
 * family (one read); sk_protocol lies apart (one read), and so do the IPv6
 * addresses (read only for IPv6).
 */
#define SOCK_HEAD_BYTES 24

struct sock_view {
	struct sock *sk;
	__u64 head[SOCK_HEAD_BYTES / 8]; /* each field at its own alignment, as in the kernel */
	__u16 family;
	__u16 protocol;
};

/* Field `f` of sock_common: from the head, or by a read of its own where this kernel puts it further. */
#define sock_view__get(v, f)                                                                                 \
	({                                                                                                   \
		typeof(((struct sock_common *)0)->f) val_ = 0;                                               \
		struct sock *sk_ = (v)->sk;                                                                  \
		__u32 off_ = bpf_core_field_offset(struct sock_common, f);                                   \
		if (off_ + sizeof(val_) <= SOCK_HEAD_BYTES)                                                  \
			val_ = *(typeof(val_) *)((__u8 *)(v)->head + off_);                                  \
		else                                                                                         \
			bpf_core_read(&val_, sizeof(val_), &sk_->__sk_common.f);                             \
		val_;                                                                                        \
	})

/* Reads the head and the protocol of `sk`; false when it cannot be read. */
static __always_inline bool sock__view(struct sock *sk, struct sock_view *v)
{
	v->sk = sk;
	if (bpf_probe_read_kernel(v->head, sizeof(v->head), &sk->__sk_common))
		return false;
	v->family = sock_view__get(v, skc_family);
	v->protocol = BPF_CORE_READ(sk, sk_protocol);
	return true;
}

/* A TCP or UDP socket of IPv4 or IPv6: one an event describes. */
static __always_inline bool sock_view__inet(const struct sock_view *v)
{
	return (v->protocol == IPPROTO_TCP || v->protocol == IPPROTO_UDP) &&
	       (v->family == AF_INET || v->family == AF_INET6);
}

/* The source address and port (as bound after connect), and with `dest` the peer's, for `family`. */
static __always_inline void sock__ends(struct sock_view *v, __u16 family, struct smith_inet *inet, bool dest)
{
	struct sock *sk = v->sk;
	__be32 a;

	inet->sport = sock_view__get(v, skc_num);
	if (dest)
		inet->dport = bpf_ntohs(sock_view__get(v, skc_dport));
	if (family == AF_INET) {
		a = sock_view__get(v, skc_rcv_saddr);
		__builtin_memcpy(inet->saddr, &a, 4);
		if (dest) {
			a = sock_view__get(v, skc_daddr);
			__builtin_memcpy(inet->daddr, &a, 4);
		}
		return;
	}
	bpf_core_read(inet->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	if (dest)
		bpf_core_read(inet->daddr, 16, &sk->__sk_common.skc_v6_daddr);
}

/* Describes what `fd` of `task` refers to; a path goes to the tail. Returns bytes appended. */
static __noinline __u32 fd__describe(struct task_struct *task, unsigned int fd, struct smith_fd *out,
				     __u8 *tail, struct smith_walk *w)
{
	struct file *file = task__fd(task, fd);
	struct vfsmount *vfsmnt;
	unsigned short mode;
	struct sock *sk;

	if (!file)
		return 0;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	out->ino = BPF_CORE_READ(file, f_inode, i_ino);
	vfsmnt = BPF_CORE_READ(file, f_path.mnt);
	if (!(BPF_CORE_READ(vfsmnt, mnt_flags) & MNT_INTERNAL)) {
		out->kind = SMITH_FD_PATH;
		return path__append(tail, w, __builtin_preserve_access_index(&file->f_path));
	}
	if ((mode & S_IFMT) == S_IFIFO) {
		out->kind = SMITH_FD_PIPE;
		return 0;
	}
	sk = file__sock(file);
	if (sk) {
		struct sock_view v;

		if (sock__view(sk, &v) && sock_view__inet(&v)) {
			out->kind = SMITH_FD_INET;
			out->inet.family = v.family;
			out->inet.protocol = v.protocol;
			sock__ends(&v, v.family, &out->inet, true);
			return 0;
		}
		out->kind = SMITH_FD_SOCKET;
		return 0;
	}
	out->kind = SMITH_FD_OTHER;
	return 0;
}

/* Appends the strings every execve record ends with, from exe on. */
static __always_inline __u32 exec__append_context(struct smith_scratch *s, struct task_struct *task,
						  const struct path *exe, __u32 off)
{
	struct smith_execve *e = &s->exec.rec;
	__u8 *tail = s->exec.tail;
	struct tty_struct *tty;
	struct fs_struct *fs;

	s->walk.off = off;
	e->len[SMITH_EXEC_EXE] = path__append(tail, &s->walk, exe);
	if (s->walk.truncated)
		e->flags |= SMITH_EXEC_PATH_TRUNCATED;
	off += e->len[SMITH_EXEC_EXE];

	fs = BPF_CORE_READ(task, fs);
	s->walk.off = off;
	e->len[SMITH_EXEC_CWD] =
		fs ? path__append(tail, &s->walk, __builtin_preserve_access_index(&fs->pwd)) : 0;
	if (fs && s->walk.truncated)
		e->flags |= SMITH_EXEC_PATH_TRUNCATED;
	off += e->len[SMITH_EXEC_CWD];

	tty = BPF_CORE_READ(task, signal, tty);
	if (tty) {
		e->len[SMITH_EXEC_TTY] =
			tail__kstr(tail, off, __builtin_preserve_access_index(&tty->name), SMITH_TTY_LEN);
		off += e->len[SMITH_EXEC_TTY];
	}
	return off;
}

static __always_inline __u32 exec__append_cgroup_and_fds(struct smith_scratch *s, struct task_struct *task,
							 __u32 off)
{
	struct smith_execve *e = &s->exec.rec;
	__u8 *tail = s->exec.tail;
	struct cgroup *cg = task__container_cgroup(task);

	if (cg) {
		e->len[SMITH_EXEC_CGROUP] =
			tail__kstr(tail, off, BPF_CORE_READ(cg, kn, name), SMITH_CGROUP_LEN);
		off += e->len[SMITH_EXEC_CGROUP];
	}
	s->walk.off = off;
	e->len[SMITH_EXEC_STDIN_PATH] = fd__describe(task, 0, &e->stdin_fd, tail, &s->walk);
	off += e->len[SMITH_EXEC_STDIN_PATH];
	s->walk.off = off;
	e->len[SMITH_EXEC_STDOUT_PATH] = fd__describe(task, 1, &e->stdout_fd, tail, &s->walk);
	off += e->len[SMITH_EXEC_STDOUT_PATH];
	return off;
}

static __always_inline void exec__submit(struct smith_scratch *s, struct task_struct *task, __s64 retval,
					 __u32 off, __u32 hook)
{
	void *ring;
	__u64 size = sizeof(struct smith_execve) + (__u64)off;

	hdr__fill(&s->exec.rec.hdr, SMITH_REC_EXECVE, sizeof(struct smith_execve), size, retval, task);
	pid_tree__fill(&s->exec.rec.pid_tree);
	barrier_var(size);
	if (size > sizeof(struct smith_execve) + SMITH_TAIL_LIMIT) /* cannot happen: appends are bounded */
		return;
	ring = ring__get();
	if (!ring || bpf_ringbuf_output(ring, &s->exec.rec, size, ring__output_flags(ring, size)))
		drop__count(hook);
}

/*
 * A successful exec came through a 32-bit syscall entry: a return address on
 * the kernel stack lies inside one of the entry functions. (The exec itself has
 * erased the entry's marks in the task; the stack of the call still has them.)
 */
static __always_inline bool exec__via_compat_entry(void *ctx, struct smith_scratch *s)
{
	long n;
	int i, j;

	if (!compat_entry[0][1] && !compat_entry[1][1] && !compat_entry[2][1] && !compat_entry[3][1])
		return false;
	n = bpf_get_stack(ctx, s->stack, sizeof(s->stack), 0);
	for (i = 0; i < SMITH_EXEC_STACK_DEPTH; i++) {
		if ((long)(i * sizeof(__u64)) >= n)
			break;
		for (j = 0; j < SMITH_COMPAT_ENTRIES; j++)
			if (s->stack[i] >= compat_entry[j][0] && s->stack[i] < compat_entry[j][1])
				return true;
	}
	return false;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_success, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct smith_scratch *s = scratch__get();
	struct smith_execve *e;
	struct mm_struct *mm;
	struct file *exe;
	__u64 arg_start, arg_len;
	__u8 *tail;
	__u32 off = 0;
	__u64 start = timing__start();

	if (!s)
		return 0;
	e = &s->exec.rec;
	tail = s->exec.tail;
	__builtin_memset(e, 0, sizeof(*e));

	e->len[SMITH_EXEC_FILENAME] = tail__kstr(tail, off, BPF_CORE_READ(bprm, filename), SMITH_STR_MAX);
	off += e->len[SMITH_EXEC_FILENAME];

	mm = BPF_CORE_READ(task, mm);
	arg_start = BPF_CORE_READ(mm, arg_start);
	arg_len = BPF_CORE_READ(mm, arg_end) - arg_start;
	if (arg_len > SMITH_ARGV_MAX) {
		arg_len = SMITH_ARGV_MAX;
		e->flags |= SMITH_EXEC_ARGV_TRUNCATED;
	}
	if (off <= SMITH_TAIL_LIMIT - SMITH_ARGV_MAX &&
	    !bpf_probe_read_user(tail__at(tail, off), arg_len, (void *)arg_start)) {
		e->len[SMITH_EXEC_ARGV] = arg_len;
		off += arg_len;
	}
	e->argc = BPF_CORE_READ(bprm, argc);
	/*
	 * compat: the call came through the 32-bit entry, or what it loaded is a
	 * 32-bit ELF image (bprm->buf holds the loaded image's first bytes, the
	 * interpreter's for a script).
	 */
	if (BPF_CORE_READ(bprm, buf[EI_CLASS]) == ELFCLASS32 || exec__via_compat_entry(ctx, s))
		e->flags |= SMITH_EXEC_COMPAT;

	exe = BPF_CORE_READ(bprm, file);
	off = exec__append_context(s, task, __builtin_preserve_access_index(&exe->f_path), off);
	e->len[SMITH_EXEC_LD_PRELOAD] = env__ld_preload_block(s, off, BPF_CORE_READ(mm, env_start),
							      BPF_CORE_READ(mm, env_end), &e->flags);
	off += e->len[SMITH_EXEC_LD_PRELOAD];
	off = exec__append_cgroup_and_fds(s, task, off);
	exec__submit(s, task, 0, off, SMITH_HOOK_EXECVE);
	timing__add(SMITH_HOOK_EXECVE, start);
	return 0;
}

/* The hook of exec__failed()'s `how`, and its bit for a call made through the 32-bit entry. */
#define EXEC_HOW_HOOK	0xff
#define EXEC_HOW_COMPAT (1u << 31)

/*
 * A failed execve/execveat: the caller's image, arguments read from its memory
 * (arrays of 32-bit pointers for a compat call). `how`: the hook, and
 * EXEC_HOW_COMPAT. A global function, so that the verifier checks it once
 * rather than at each of the syscall program's four calls (see pid_tree__fill).
 */
__noinline int exec__failed(long ret, __u64 filename, __u64 argv, __u64 envp, __u32 how)
{
	__u32 compat = (how & EXEC_HOW_COMPAT) != 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct smith_scratch *s;
	struct smith_execve *e;
	struct mm_struct *mm;
	struct file *exe;
	__u8 *tail;
	__u32 off = 0;

	if (ret >= 0)
		return 0;
	s = scratch__get();
	if (!s)
		return 0;
	e = &s->exec.rec;
	tail = s->exec.tail;
	__builtin_memset(e, 0, sizeof(*e));

	if (compat)
		e->flags |= SMITH_EXEC_COMPAT;
	e->len[SMITH_EXEC_FILENAME] = tail__ustr(tail, off, (const void *)filename, SMITH_STR_MAX);
	off += e->len[SMITH_EXEC_FILENAME];
	s->walk.off = off;
	e->len[SMITH_EXEC_ARGV] = argv__append_array(s, argv, compat);
	off += e->len[SMITH_EXEC_ARGV];

	mm = BPF_CORE_READ(task, mm);
	exe = BPF_CORE_READ(mm, exe_file);
	off = exec__append_context(s, task, __builtin_preserve_access_index(&exe->f_path), off);
	e->len[SMITH_EXEC_LD_PRELOAD] = env__ld_preload_array(s, off, envp, compat, &e->flags);
	off += e->len[SMITH_EXEC_LD_PRELOAD];
	off = exec__append_cgroup_and_fds(s, task, off);
	exec__submit(s, task, ret, off, how & EXEC_HOW_HOOK);
	return 0;
}

#define EINPROGRESS 115

/*
 * Sends the count of `b`'s held-back connects as a connect_suppressed record
 * in `task`'s context. A record that does not fit the ring leaves the count
 * for the next report (and counts a drop).
 */
static __noinline void budget__report(struct task_struct *task, struct smith_budget *b)
{
	void *ring;
	struct smith_connect_suppressed *rec;
	__u64 first = b->first_ts, last = b->last_ts;
	__u64 n = __sync_lock_test_and_set(&b->suppressed, 0);

	if (!n)
		return; /* another CPU reported it */
	ring = ring__get();
	rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec) {
		__sync_fetch_and_add(&b->suppressed, n);
		drop__count(SMITH_HOOK_CONNECT);
		return;
	}
	hdr__fill(&rec->hdr, SMITH_REC_CONNECT_SUPPRESSED, sizeof(*rec), sizeof(*rec), 0, task);
	pid_tree__fill(&rec->pid_tree);
	rec->suppressed = n;
	rec->first_ts = first;
	rec->last_ts = last;
	rec->rate = budget_rate;
	rec->burst = budget_burst;
	bpf_ringbuf_submit(rec, ring__submit_flags(ring, sizeof(*rec)));
}

/* Whether `task`'s process may have one more connect event now; if not, the call is counted. */
static __always_inline bool budget__take(struct task_struct *task)
{
	struct smith_budget fresh = {}, *b;
	__u32 pid = task->tgid;
	__u64 now, start;
	int ok;

	if (!budget_interval_ns)
		return true;
	now = bpf_ktime_get_boot_ns();
	start = task__start_boottime(task->group_leader);
	b = bpf_map_lookup_elem(&budgets, &pid);
	if (!b || b->start_time != start) {
		/* The first call, or the pid's earlier process (whose count went out when it exited). */
		fresh.start_time = start;
		bpf_map_update_elem(&budgets, &pid, &fresh, BPF_ANY);
		b = bpf_map_lookup_elem(&budgets, &pid);
		if (!b)
			return true;
	}
	ok = smith_budget_take(b, now, budget_interval_ns, budget_tolerance_ns);
	if (smith_budget_report_due(b, now, ok))
		budget__report(task, b);
	if (!ok) {
		if (__sync_fetch_and_add(&b->suppressed, 1) == 0)
			b->first_ts = now;
		b->last_ts = now;
	}
	return ok;
}

static __always_inline void connecting__remember(struct task_struct *task, struct sock *sk)
{
	struct smith_connecting c = {.sk = (__u64)sk, .start = task->start_time};
	__u32 tid = task->pid;

	bpf_map_update_elem(&connecting, &tid, &c, BPF_ANY);
}

/* The socket the current thread's connect call put in SYN_SENT, or NULL; forgotten either way. */
static __always_inline struct sock *connecting__take(struct task_struct *task)
{
	__u32 tid = task->pid;
	struct smith_connecting *c = bpf_map_lookup_elem(&connecting, &tid);
	struct sock *sk;

	if (!c)
		return NULL;
	sk = c->start == task->start_time ? (struct sock *)c->sk : NULL;
	bpf_map_delete_elem(&connecting, &tid);
	return sk;
}

/*
 * A connect on `fd` that returned `ret`: on the socket the call put in
 * SYN_SENT (TCP), else on the one the fd names now. When it worked (0) or is under way
 * (-EINPROGRESS), the destination is the one the socket holds: what the
 * kernel connected, whatever the caller's memory says by now (another thread
 * may have rewritten it since the kernel copied it). After a failure it is
 * read from the caller's memory and flagged so; when even that cannot be
 * read, the event still goes out, saying so.
 */
static __always_inline int connect__emit(struct task_struct *task, int fd, const void *uaddr, __u32 addrlen,
					 long ret, __u32 flags, __u16 via)
{
	void *ring;
	struct sockaddr_in6 sa = {};
	struct smith_connect *rec;
	struct sock_view v;
	struct file *file;
	struct sock *sk;
	bool from_socket = ret == 0 || ret == -EINPROGRESS;

	sk = connecting__take(task);
	if (!sk) {
		if (fd < 0)
			return 0;
		file = task__fd(task, fd);
		if (!file)
			return 0;
		sk = file__sock(file);
		if (!sk)
			return 0;
	}
	if (!sock__view(sk, &v) || !sock_view__inet(&v))
		return 0;
	if (from_socket) {
		/* A UDP "connect" to AF_UNSPEC dissolves the association: no destination, no event. */
		if (!sock_view__get(&v, skc_dport))
			return 0;
	} else {
		flags |= SMITH_CONNECT_DADDR_UNKNOWN;
		if (addrlen > sizeof(sa))
			addrlen = sizeof(sa);
		barrier_var(addrlen);
		addrlen &= 0x1f;
		if (addrlen >= sizeof(sa.sin6_family) && addrlen <= sizeof(sa) &&
		    !bpf_probe_read_user(&sa, addrlen, uaddr)) {
			if (sa.sin6_family != AF_INET && sa.sin6_family != AF_INET6)
				return 0; /* not a connection it could have made */
			flags &= ~SMITH_CONNECT_DADDR_UNKNOWN;
		}
	}

	if (!budget__take(task))
		return 0;
	ring = ring__get();
	rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec) {
		drop__count(SMITH_HOOK_CONNECT);
		return 0;
	}
	hdr__fill(&rec->hdr, SMITH_REC_CONNECT, sizeof(*rec), sizeof(*rec), ret, task);
	pid_tree__fill(&rec->pid_tree);
	__builtin_memset(&rec->inet, 0, sizeof(rec->inet));
	rec->inet.protocol = v.protocol;
	if (from_socket) {
		flags |= SMITH_CONNECT_DADDR_SOCKET;
		rec->inet.family = v.family;
		sock__ends(&v, v.family, &rec->inet, true);
	} else if (!(flags & SMITH_CONNECT_DADDR_UNKNOWN)) {
		rec->inet.family = sa.sin6_family;
		rec->inet.dport = bpf_ntohs(sa.sin6_port);
		if (sa.sin6_family == AF_INET)
			__builtin_memcpy(rec->inet.daddr, &((struct sockaddr_in *)&sa)->sin_addr, 4);
		else
			__builtin_memcpy(rec->inet.daddr, &sa.sin6_addr, 16);
		sock__ends(&v, sa.sin6_family, &rec->inet, false);
	} else {
		rec->inet.family = v.family;
		sock__ends(&v, v.family, &rec->inet, false);
	}
	rec->flags = flags;
	rec->via = via;
	rec->pad0 = 0;
	bpf_ringbuf_submit(rec, ring__submit_flags(ring, sizeof(*rec)));
	return 0;
}

#define SMITH_TCP_SYN_SENT 2	/* TCP_SYN_SENT */
#define PF_IO_WORKER	   0x10 /* an io_uring worker thread (of the submitting process) */
#define PF_KTHREAD	   0x00200000

/*
 * How a task that is opening a TCP connection got there, from the syscall it
 * is in: -1 for connect(2) and its 32-bit forms, which sys_exit reports.
 */
static __always_inline int tcp__via(struct task_struct *task, bool compat)
{
	struct pt_regs *regs;
	long nr;

	if (task->flags & PF_KTHREAD)
		return SMITH_VIA_OTHER;
	if (task->flags & PF_IO_WORKER)
		return SMITH_VIA_IO_URING;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return SMITH_VIA_OTHER;
	nr = BPF_CORE_READ(regs, orig_ax);
	if (nr == SMITH_NR_IO_URING_ENTER)
		return SMITH_VIA_IO_URING;
	if (!compat) {
		if (nr == SMITH_NR_CONNECT)
			return -1;
		if (nr == SMITH_NR_SENDTO || nr == SMITH_NR_SENDMSG || nr == SMITH_NR_SENDMMSG)
			return SMITH_VIA_SENDTO;
		return SMITH_VIA_OTHER;
	}
	if (nr == SMITH_NR32_CONNECT)
		return -1;
	if (nr == SMITH_NR32_SOCKETCALL) {
		__u32 call = BPF_CORE_READ(regs, bx);

		if (call == SMITH_SOCKETCALL_CONNECT)
			return -1;
		if (call == SMITH_SOCKETCALL_SENDTO || call == SMITH_SOCKETCALL_SENDMSG ||
		    call == SMITH_SOCKETCALL_SENDMMSG)
			return SMITH_VIA_SENDTO;
		return SMITH_VIA_OTHER;
	}
	if (nr == SMITH_NR32_SENDTO || nr == SMITH_NR32_SENDMSG || nr == SMITH_NR32_SENDMMSG)
		return SMITH_VIA_SENDTO;
	return SMITH_VIA_OTHER;
}

/*
 * A TCP socket entering SYN_SENT, in the context of the task opening the
 * connection: every TCP connect, whatever way in. Those made by connect(2)
 * are reported at its exit (with its return value); this reports the others
 * (io_uring, sendto(MSG_FASTOPEN), ...) with the socket's addresses at this
 * moment: the source port may still be 0, the kernel picks it just after.
 */
/* The connect event of a TCP connection another way in than connect(2) opened (tcp_syn_sent). */
static __always_inline void syn_sent__emit(struct task_struct *task, struct sock_view *v, bool compat,
					   int via)
{
	void *ring;
	struct smith_connect *rec;

	if (!budget__take(task))
		return;
	ring = ring__get();
	rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec) {
		drop__count(SMITH_HOOK_CONNECT);
		return;
	}
	hdr__fill(&rec->hdr, SMITH_REC_CONNECT, sizeof(*rec), sizeof(*rec), 0, task);
	pid_tree__fill(&rec->pid_tree);
	__builtin_memset(&rec->inet, 0, sizeof(rec->inet));
	rec->inet.protocol = IPPROTO_TCP;
	rec->inet.family = v->family;
	sock__ends(v, v->family, &rec->inet, true);
	rec->flags = SMITH_CONNECT_DADDR_SOCKET | (compat ? SMITH_CONNECT_COMPAT : 0);
	rec->via = via;
	rec->pad0 = 0;
	bpf_ringbuf_submit(rec, ring__submit_flags(ring, sizeof(*rec)));
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_syn_sent, struct sock *sk, int oldstate, int newstate)
{
	struct task_struct *task;
	struct sock_view v;
	__u64 start;
	bool compat;
	int via;

	if (newstate != SMITH_TCP_SYN_SENT || !sock__view(sk, &v) || v.protocol != IPPROTO_TCP ||
	    (v.family != AF_INET && v.family != AF_INET6))
		return 0;
	task = bpf_get_current_task_btf();
	compat = (task->thread_info.status & TS_COMPAT) != 0;
	via = tcp__via(task, compat);
	if (via < 0) {
		connecting__remember(task, sk); /* for the connect call's return, which reports it */
		return 0;
	}
	start = timing__start();
	syn_sent__emit(task, &v, compat, via);
	timing__add(SMITH_HOOK_CONNECT, start);
	return 0;
}

/* A task's exit: a count its process's budget still holds goes out now. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *p)
{
	struct smith_budget *b;
	__u32 pid = p->tgid;

	if (!budget_interval_ns)
		return 0;
	b = bpf_map_lookup_elem(&budgets, &pid);
	if (!b || b->start_time != task__start_boottime(p->group_leader))
		return 0;
	if (b->suppressed)
		budget__report(p, b);
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		bpf_map_delete_elem(&budgets, &pid); /* the last thread of the process */
	return 0;
}

/* A new process (clone without CLONE_THREAD): its parent gives it its image, cwd, tty and container. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	void *ring;
	struct task_struct *task = bpf_get_current_task_btf();
	struct smith_fork *rec;
	__u64 start;

	if (child->pid != child->tgid)
		return 0; /* a thread: it shares its process's entry */
	start = timing__start();
	ring = ring__get();
	rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec) {
		drop__count(SMITH_HOOK_FORK);
		return 0;
	}
	hdr__fill(&rec->hdr, SMITH_REC_FORK, sizeof(*rec), sizeof(*rec), 0, task);
	rec->child_start_time = task__start_boottime(child);
	rec->child_pid = child->tgid;
	rec->pad0 = 0;
	bpf_ringbuf_submit(rec, ring__submit_flags(ring, sizeof(*rec)));
	timing__add(SMITH_HOOK_FORK, start);
	return 0;
}

SEC("tp_btf/module_load")
int BPF_PROG(module_load, struct module *mod)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	char name[SMITH_MODNAME_LEN] = {};

	bpf_probe_read_kernel_str(name, sizeof(name), __builtin_preserve_access_index(&mod->name));
	bpf_map_update_elem(&module_names, &tid, name, BPF_ANY);
	return 0;
}

/*
 * An init_module or finit_module call: `fd` is finit_module's (negative for
 * init_module), `uargs` the parameters in the caller's memory. `how`: the hook,
 * and EXEC_HOW_COMPAT for a call made through the 32-bit entry. The record type
 * follows the hook. A global function, checked once (see exec__failed).
 */
__noinline int module__emit(long ret, int fd, __u64 uargs, __u32 how)
{
	void *ring;
	__u32 hook = how & EXEC_HOW_HOOK;
	__u16 type = hook == SMITH_HOOK_INIT_MODULE ? SMITH_REC_INIT_MODULE : SMITH_REC_FINIT_MODULE;
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file *file = fd >= 0 ? task__fd(task, fd) : NULL;
	struct smith_module *m;
	struct smith_scratch *s;
	char *name;
	__u8 *tail;
	__u32 off = 0;
	__u64 size;

	s = scratch__get();
	if (!s)
		return 0;
	m = &s->module.rec;
	tail = s->module.tail;
	__builtin_memset(m, 0, sizeof(*m));
	if (how & EXEC_HOW_COMPAT)
		m->flags |= SMITH_MODULE_COMPAT;

	name = bpf_map_lookup_elem(&module_names, &tid);
	if (name) {
		m->len[SMITH_MODULE_NAME] = tail__kstr(tail, off, name, SMITH_MODNAME_LEN);
		off += m->len[SMITH_MODULE_NAME];
		bpf_map_delete_elem(&module_names, &tid);
	}
	if (file) {
		s->walk.off = off;
		m->len[SMITH_MODULE_PATH] =
			path__append(tail, &s->walk, __builtin_preserve_access_index(&file->f_path));
		if (s->walk.truncated)
			m->flags |= SMITH_MODULE_PATH_TRUNCATED;
		off += m->len[SMITH_MODULE_PATH];
	}
	m->len[SMITH_MODULE_PARAMS] = tail__ustr(tail, off, (const void *)uargs, SMITH_STR_MAX);
	if (m->len[SMITH_MODULE_PARAMS] == SMITH_STR_MAX - 1)
		m->flags |= SMITH_MODULE_PARAMS_TRUNCATED;
	off += m->len[SMITH_MODULE_PARAMS];

	size = sizeof(*m) + (__u64)off;
	hdr__fill(&m->hdr, type, sizeof(*m), size, ret, task);
	pid_tree__fill(&m->pid_tree);
	barrier_var(size);
	if (size > sizeof(*m) + SMITH_TAIL_LIMIT) /* cannot happen: appends are bounded */
		return 0;
	ring = ring__get();
	if (!ring || bpf_ringbuf_output(ring, m, size, ring__output_flags(ring, size)))
		drop__count(hook);
	return 0;
}

/* connect's args from socketcall(2)'s block of three 32-bit words: fd, address, length. */
static __always_inline int connect__socketcall(struct task_struct *task, __u64 args, long ret)
{
	__u32 a[3] = {};

	/*
	 * Read from the caller's memory after the call: the fd it names is the one
	 * used, unless another thread rewrote the block meanwhile (README: what is
	 * out of reach). A block unmapped by then leaves no fd, but a TCP socket
	 * the call put in SYN_SENT is still known.
	 */
	if (bpf_probe_read_user(a, sizeof(a), (const void *)args)) {
		a[0] = (__u32)-1;
		a[1] = a[2] = 0;
	}
	return connect__emit(task, (int)a[0], (const void *)(__u64)a[1], a[2], ret, SMITH_CONNECT_COMPAT,
			     SMITH_VIA_SOCKETCALL);
}

/*
 * A syscall made through the 32-bit entry (int $0x80, or a 32-bit process): i386 numbers and registers.
 * Returns the hook whose work it did, SMITH_HOOK_MAX for none (syscall__handle alike).
 */
static __always_inline __u32 sys_exit__compat(struct task_struct *task, const struct pt_regs *regs, long id,
					      long ret)
{
	__u32 bx = regs->bx, cx = regs->cx, dx = regs->dx, si = regs->si;

	switch (id) {
	case SMITH_NR32_CONNECT: /* connect(fd, addr, addrlen) */
		if (!hook_enabled[SMITH_HOOK_CONNECT])
			break;
		connect__emit(task, (int)bx, (const void *)(__u64)cx, dx, ret, SMITH_CONNECT_COMPAT,
			      SMITH_VIA_CONNECT);
		return SMITH_HOOK_CONNECT;
	case SMITH_NR32_SOCKETCALL: /* socketcall(call, args) */
		if (!hook_enabled[SMITH_HOOK_CONNECT] || bx != SMITH_SOCKETCALL_CONNECT)
			break;
		connect__socketcall(task, cx, ret);
		return SMITH_HOOK_CONNECT;
	case SMITH_NR32_EXECVE: /* execve(filename, argv, envp) */
		if (!hook_enabled[SMITH_HOOK_EXECVE] || ret >= 0)
			break;
		exec__failed(ret, bx, cx, dx, SMITH_HOOK_EXECVE | EXEC_HOW_COMPAT);
		return SMITH_HOOK_EXECVE;
	case SMITH_NR32_EXECVEAT: /* execveat(dirfd, filename, argv, envp, flags) */
		if (!hook_enabled[SMITH_HOOK_EXECVEAT] || ret >= 0)
			break;
		exec__failed(ret, cx, dx, si, SMITH_HOOK_EXECVEAT | EXEC_HOW_COMPAT);
		return SMITH_HOOK_EXECVEAT;
	case SMITH_NR32_INIT_MODULE: /* init_module(umod, len, uargs) */
		if (!hook_enabled[SMITH_HOOK_INIT_MODULE])
			break;
		module__emit(ret, -1, dx, SMITH_HOOK_INIT_MODULE | EXEC_HOW_COMPAT);
		return SMITH_HOOK_INIT_MODULE;
	case SMITH_NR32_FINIT_MODULE: /* finit_module(fd, uargs, flags) */
		if (!hook_enabled[SMITH_HOOK_FINIT_MODULE])
			break;
		module__emit(ret, (int)bx, cx, SMITH_HOOK_FINIT_MODULE | EXEC_HOW_COMPAT);
		return SMITH_HOOK_FINIT_MODULE;
	}
	return SMITH_HOOK_MAX;
}

/* The 64-bit calls (syscall__exit); the hook whose work it did, SMITH_HOOK_MAX for none. */
static __always_inline __u32 syscall__handle(struct task_struct *task, struct pt_regs *regs, long id,
					     bool compat, long ret)
{
	if (compat)
		return sys_exit__compat(task, regs, id, ret);
	switch (id) {
	case SMITH_NR_CONNECT:
		if (!hook_enabled[SMITH_HOOK_CONNECT])
			break;
		connect__emit(task, regs->di, (const void *)regs->si, regs->dx, ret, 0, SMITH_VIA_CONNECT);
		return SMITH_HOOK_CONNECT;
	case SMITH_NR_EXECVE:
		if (!hook_enabled[SMITH_HOOK_EXECVE] || ret >= 0)
			break;
		exec__failed(ret, regs->di, regs->si, regs->dx, SMITH_HOOK_EXECVE);
		return SMITH_HOOK_EXECVE;
	case SMITH_NR_EXECVEAT:
		if (!hook_enabled[SMITH_HOOK_EXECVEAT] || ret >= 0)
			break;
		exec__failed(ret, regs->si, regs->dx, regs->r10, SMITH_HOOK_EXECVEAT);
		return SMITH_HOOK_EXECVEAT;
	case SMITH_NR_INIT_MODULE:
		if (!hook_enabled[SMITH_HOOK_INIT_MODULE])
			break;
		module__emit(ret, -1, regs->dx, SMITH_HOOK_INIT_MODULE);
		return SMITH_HOOK_INIT_MODULE;
	case SMITH_NR_FINIT_MODULE:
		if (!hook_enabled[SMITH_HOOK_FINIT_MODULE])
			break;
		module__emit(ret, (int)regs->di, regs->si, SMITH_HOOK_FINIT_MODULE);
		return SMITH_HOOK_FINIT_MODULE;
	}
	return SMITH_HOOK_MAX;
}

/*
 * The end of syscall `id` (`compat`: of the 32-bit table), with the caller's
 * saved registers and the result: the one handler of both modes. Constant
 * `id` and `compat` (the FEXIT programs) leave only their own case.
 */
static __always_inline int syscall__exit(struct pt_regs *regs, long id, bool compat, long ret)
{
	__u64 start = timing__start();

	timing__add(syscall__handle(bpf_get_current_task_btf(), regs, id, compat, ret), start);
	return 0;
}

/*
 * SYS_EXIT mode (event_table.h): the raw tracepoint every syscall in the
 * system returns through. It leaves at once unless the call is ours, in
 * either numbering.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	struct task_struct *task;

	switch (id) {
		SMITH_HOOKED_NR_CASES break;
	default: return 0;
	}
	task = bpf_get_current_task_btf();
	return syscall__exit(regs, id, (task->thread_info.status & TS_COMPAT) != 0, ret);
}

/*
 * FEXIT mode: one program on the return of each syscall entry function
 * (event_table.h), so that only the hooked syscalls pay. The entry gets the
 * caller's saved registers, as sys_exit does.
 */
#define SMITH_FEXIT(function, hook, compat, nr, unused)                                                      \
	SEC("fexit/" #function)                                                                              \
	int BPF_PROG(fexit_##function, struct pt_regs *regs, long ret)                                       \
	{                                                                                                    \
		return syscall__exit(regs, nr, compat, ret);                                                 \
	}
SMITH_SYSCALL_FEXITS(SMITH_FEXIT, 0)
#undef SMITH_FEXIT
