/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * smith raw record ABI: the one definition of what the kernel side (BPF
 * programs in bpf/, the kernel module in lkm/) hands to the daemon.
 *
 * Which record types and hooks exist, and their names and numbers, is
 * event_table.h; this file generates its enums from that table.
 *
 * Record layout: the fixed part (the type's struct below, which starts with
 * struct smith_rec_hdr), then, for variable records, the tail: the strings
 * whose lengths are in the type's `len[]` array, back to back, in the order
 * of that type's enum. Each tail string's length counts its bytes without a
 * terminating NUL; strings are not NUL-terminated in the tail. hdr.size is
 * the size of the whole record, hdr.fixed the size of its fixed part: the
 * tail starts at hdr.fixed, whatever the reader's own sizeof says.
 *
 * Rules for changing this file:
 *   - Fixed-width types only; every struct is 8-byte aligned with explicit
 *     padding, so the layout is identical for BPF, the kernel and userspace.
 *   - Fields may only be appended at the end of a record's fixed part (the
 *     producer's hdr.fixed grows with them). A reader finds the tail at
 *     hdr.fixed, ignores fields past what it knows, and reads fields that a
 *     record lacks as zero.
 *   - Tail strings may only be appended at the end of a tail; the length of
 *     a new one is a field appended to the fixed part. A reader ignores tail
 *     bytes past the strings it knows.
 *   - Anything else (reordering, resizing, changing a meaning) bumps
 *     SMITH_ABI_VERSION. The daemon checks SMITH_ABI_VERSION in every
 *     record header and when it opens a backend; a mismatch is an error,
 *     never a guess.
 *
 * Paths (SMITH_STR_*_PATH fields marked "path") are encoded leaf first: the
 * path's components, each followed by one NUL byte, starting at the final
 * component and ending at the component under "/". The daemon joins them in
 * reverse. An empty path string means the path could not be read.
 */
#ifndef SMITH_ABI_H
#define SMITH_ABI_H

#if defined(__KERNEL__)
#include <linux/types.h>
#elif defined(__bpf__) || defined(__TARGET_ARCH_x86) || defined(SMITH_BPF)
/* BPF programs include vmlinux.h before this header; it defines __u8 etc. */
#else
#include <linux/types.h>
#endif

#include "event_table.h"

#define SMITH_ABI_VERSION 2

/* Bounds of the variable parts of a record. */
#define SMITH_ARGV_MAX	   8192	 /* bytes of argv kept; more sets SMITH_EXEC_ARGV_TRUNCATED */
#define SMITH_ARGC_MAX	   128	 /* argv entries read from a pointer array (failed execs) */
#define SMITH_STR_MAX	   4096	 /* bytes kept of filename, LD_PRELOAD, params */
#define SMITH_NAME_MAX	   256	 /* one path component (NAME_MAX + NUL) */
#define SMITH_PATH_DEPTH   32	 /* components walked; deeper sets the truncated flag */
#define SMITH_PATH_MAX	   4096	 /* bytes of one encoded path */
#define SMITH_COMM_LEN	   16	 /* TASK_COMM_LEN */
#define SMITH_NODENAME_LEN 72	 /* __NEW_UTS_LEN + 1, padded to 8 bytes */
#define SMITH_TTY_LEN	   64	 /* tty_struct.name */
#define SMITH_MODNAME_LEN  64	 /* MODULE_NAME_LEN (56), padded */
#define SMITH_CGROUP_LEN   256	 /* leaf name of the task's cgroup */
#define SMITH_REC_MAX	   65536 /* upper bound of any record's size */
#define SMITH_PID_TREE_MAX 12	 /* processes in a pid_tree, the caller's own first */

/*
 * How both producers build variable records (bpf/ and lkm/ cut a long record
 * alike): the fixed part, then a tail of at most SMITH_TAIL_LIMIT bytes.
 * Every append checks its offset against the limit before it writes, so the
 * builders' tail buffers are SMITH_TAIL_LIMIT plus the largest single write
 * (an argv block of SMITH_ARGV_MAX).
 */
#define SMITH_TAIL_LIMIT	32768
#define SMITH_TAIL_SIZE		(SMITH_TAIL_LIMIT + SMITH_ARGV_MAX)
#define SMITH_LD_PRELOAD	"LD_PRELOAD=" /* the environment entry execve records report */
#define SMITH_LD_PRELOAD_PREFIX 11	      /* its length */

/* Record types (event_table.h). Values are stable. */
enum smith_rec_type {
#define SMITH_X(ID, value, name, data_type, record) SMITH_REC_##ID = value,
	SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
#define SMITH_X(ID, value, record) SMITH_REC_##ID = value,
		SMITH_PROCESS_RECORD_TYPES(SMITH_X)
#undef SMITH_X
};
/* The record types that become events (the first ones). */
#define SMITH_REC_TYPE_COUNT (0 SMITH_RECORD_TYPES(SMITH_COUNT_ONE))

/* Hooks (event_table.h), for per-hook drop counters and status. Values index counter arrays. */
enum smith_hook {
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports) SMITH_HOOK_##ID,
	SMITH_HOOKS(SMITH_X)
#undef SMITH_X
		SMITH_HOOK_MAX
};
#define SMITH_HOOKS_ALL ((1u << SMITH_HOOK_MAX) - 1)

/* i386's socketcall(2), the other way in to connect for 32-bit callers: call 3, SYS_CONNECT. */
#define SMITH_NR32_SOCKETCALL	 102
#define SMITH_SOCKETCALL_CONNECT 3

/*
 * The calls besides connect that can open a TCP connection (MSG_FASTOPEN, and
 * io_uring's IORING_OP_CONNECT), x86_64 and i386: what a connect's `via` is
 * told from. The module checks them against its kernel's numbers at build time.
 */
#define SMITH_NR_SENDTO		  44
#define SMITH_NR_SENDMSG	  46
#define SMITH_NR_SENDMMSG	  307
#define SMITH_NR32_SENDTO	  369
#define SMITH_NR32_SENDMSG	  370
#define SMITH_NR32_SENDMMSG	  345
#define SMITH_NR_IO_URING_ENTER	  426 /* the same in both numberings */
#define SMITH_SOCKETCALL_SENDTO	  11  /* socketcall(2)'s calls that send */
#define SMITH_SOCKETCALL_SENDMSG  16
#define SMITH_SOCKETCALL_SENDMMSG 20

/* Syscall numbers of each hook: SMITH_NR_<ID> (x86_64) and SMITH_NR32_<ID> (i386). */
enum smith_hook_nr {
#define SMITH_X(ID, syscall, record, nr_x86_64, nr_i386, reports)                                            \
	SMITH_NR_##ID = nr_x86_64, SMITH_NR32_##ID = nr_i386,
	SMITH_HOOKS(SMITH_X)
#undef SMITH_X
};

/*
 * The case labels of every syscall number a syscall hook serves, in both
 * numberings, for the filter at the top of a sys_exit probe:
 * switch (nr) { SMITH_HOOKED_NR_CASES break; default: return; }
 */
#define SMITH_HOOKED_NR_CASE(ID, syscall, record, nr_x86_64, nr_i386, reports)                               \
	case SMITH_NR_##ID:                                                                                  \
	case SMITH_NR32_##ID:
#define SMITH_HOOKED_NR_CASES SMITH_SYSCALL_HOOKS(SMITH_HOOKED_NR_CASE) case SMITH_NR32_SOCKETCALL:

/* Task identity and context, filled from the calling task at the hook. */
struct smith_task {
	__u64 start_time; /* thread group leader's start, ns since boot (CLOCK_BOOTTIME, as /proc/PID/stat
			     counts it): (pid, start_time) names a process */
	__u64 cgroup_id;  /* cgroup v2 id (kernfs node id) */
	__u32 pid;	  /* thread group id, in the initial pid namespace */
	__u32 tid;	  /* thread id, in the initial pid namespace */
	__u32 ppid;	  /* real parent's thread group id */
	__u32 pgid;	  /* process group id */
	__u32 sid;	  /* session id */
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 sessionid; /* audit session id; 0xffffffff when unset */
	__u32 pidns;	 /* inode of the task's active pid namespace */
	__u32 mntns;	 /* inode of the mount namespace */
	__u32 netns;	 /* inode of the network namespace */
	__u32 pad0;
	char comm[SMITH_COMM_LEN];	   /* NUL-terminated unless 16 bytes long */
	char nodename[SMITH_NODENAME_LEN]; /* UTS nodename, NUL-terminated */
};

/*
 * The caller's process and its ancestors, walked through real parents in the
 * kernel at the hook: entry 0 is the calling process, entry 1 its parent, and
 * so on. The walk ends at the host's init (pid 1), before the idle task (pid 0,
 * the parent of kthreadd), or at SMITH_PID_TREE_MAX entries, where
 * SMITH_PID_TREE_TRUNCATED says that ancestors were left out. It goes on past
 * the init of a pid namespace (a container's), since any user can make one
 * (unshare -Urpf) to end the chain above what it started. The fixed part of
 * every event record carries one (fork records do not), before any tail.
 */
#define SMITH_PID_TREE_TRUNCATED (1u << 0)
struct smith_pid_tree {
	__u32 pid[SMITH_PID_TREE_MAX]; /* thread group ids, in the initial pid namespace */
	char comm[SMITH_PID_TREE_MAX]
		 [SMITH_COMM_LEN]; /* each process's comm (its leader's), as smith_task.comm */
	__u8 depth;		   /* entries filled; the rest are undefined */
	__u8 flags;		   /* SMITH_PID_TREE_* */
	__u8 pad0[6];
};

/*
 * Hook timing (smithd's hook_timing; off by default): what each hook's own
 * work cost, counted per CPU by the producer (the BPF programs' `timings` map,
 * the module's ring control pages), per hook (enum smith_hook): each run
 * that handled a call, its duration in ns, and a log-linear histogram of the
 * durations. Bucket b < 4 holds b ns; above, each power of two is cut in four:
 * bucket 4 + 4 * (m - 2) + q holds [(4 + q) << (m - 2), (5 + q) << (m - 2)),
 * m being the duration's highest set bit. The last bucket also holds
 * everything longer (from 1.75 * 2^20 ns, about 1.8 ms).
 */
#define SMITH_TIMING_BUCKETS 80
struct smith_timing {
	__u64 calls;
	__u64 sum_ns;
	__u64 buckets[SMITH_TIMING_BUCKETS];
};

static inline __u32 smith_timing_bucket(__u64 ns)
{
	__u64 v = ns;
	__u32 m = 0, b;

	if (ns < 4)
		return (__u32)ns;
	if (v >> 32) {
		v >>= 32;
		m += 32;
	}
	if (v >> 16) {
		v >>= 16;
		m += 16;
	}
	if (v >> 8) {
		v >>= 8;
		m += 8;
	}
	if (v >> 4) {
		v >>= 4;
		m += 4;
	}
	if (v >> 2) {
		v >>= 2;
		m += 2;
	}
	if (v >> 1)
		m += 1;
	b = 4 + 4 * (m - 2) + (__u32)((ns >> (m - 2)) & 3);
	return b < SMITH_TIMING_BUCKETS ? b : SMITH_TIMING_BUCKETS - 1;
}

/* Header of every record. */
struct smith_rec_hdr {
	__u16 type;  /* enum smith_rec_type */
	__u16 abi;   /* SMITH_ABI_VERSION of the producer */
	__u32 size;  /* bytes of the whole record, header and tail included */
	__u16 fixed; /* bytes of the fixed part, header included: where the tail starts */
	__u16 pad0[3];
	__u64 ts;     /* event time, ns since boot (CLOCK_BOOTTIME) */
	__s64 retval; /* the syscall's return value: 0 or -errno */
	struct smith_task task;
};

/* What a file descriptor refers to (execve's fd 0 and fd 1). */
enum smith_fd_kind {
	SMITH_FD_NONE = 0,   /* not open */
	SMITH_FD_PATH = 1,   /* a file with a path: the path is a tail string */
	SMITH_FD_PIPE = 2,   /* a pipe: ino is set */
	SMITH_FD_INET = 3,   /* an AF_INET/AF_INET6 socket: the 5-tuple is set */
	SMITH_FD_SOCKET = 4, /* another socket (unix, netlink, ...): ino is set */
	SMITH_FD_OTHER = 5,  /* anon inode or other file without a path: ino is set */
};

/* An IP endpoint pair. Addresses are in network byte order, ports in host order. */
struct smith_inet {
	__u16 family;  /* AF_INET (2) or AF_INET6 (10) */
	__u8 protocol; /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 pad0;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16]; /* IPv4 uses the first 4 bytes */
	__u8 daddr[16];
};

struct smith_fd {
	__u32 kind; /* enum smith_fd_kind */
	__u32 pad0;
	__u64 ino;		/* inode number, for pipes, sockets and other files */
	struct smith_inet inet; /* for SMITH_FD_INET */
};

/* Flags of an execve record. */
#define SMITH_EXEC_ARGV_TRUNCATED (1u << 0) /* argv was longer than SMITH_ARGV_MAX or SMITH_ARGC_MAX */
#define SMITH_EXEC_PATH_TRUNCATED (1u << 1) /* a path was deeper than SMITH_PATH_DEPTH */
#define SMITH_EXEC_ENV_TRUNCATED  (1u << 2) /* the environment was not fully scanned for LD_PRELOAD */
#define SMITH_EXEC_COMPAT                                                                                    \
	(1u << 3) /* made through the 32-bit syscall entry; after a successful exec,                         \
		    also a 32-bit program */

/* Tail strings of an execve record, in tail order (event_table.h). */
enum smith_exec_str {
#define SMITH_X(ID, what) SMITH_EXEC_##ID,
	SMITH_EXEC_STRINGS(SMITH_X)
#undef SMITH_X
		SMITH_EXEC_STR_COUNT
};

struct smith_execve {
	struct smith_rec_hdr hdr; /* hdr.retval: 0, or -errno of a failed attempt */
	__u32 flags;		  /* SMITH_EXEC_* flags */
	__u32 argc;		  /* arguments in the tail (after truncation) */
	struct smith_fd stdin_fd;
	struct smith_fd stdout_fd;
	__u16 len[SMITH_EXEC_STR_COUNT]; /* byte length of each tail string */
	__u16 pad0[3];
	struct smith_pid_tree pid_tree; /* after the exec: entry 0 has the new comm */
					/* tail follows */
};

/*
 * Flags of a connect record: where the destination came from, and how the call
 * was made. With neither DADDR flag, the destination is the caller's, read from
 * its memory (after a call that failed; and always, in producers from before
 * these flags).
 */
#define SMITH_CONNECT_DADDR_SOCKET  (1u << 0) /* from the socket the kernel connected (the call worked) */
#define SMITH_CONNECT_DADDR_UNKNOWN (1u << 1) /* not known: the caller's memory could not be read */
#define SMITH_CONNECT_COMPAT	    (1u << 2) /* made through the 32-bit syscall entry */

/* The way into the kernel's connect (smith_connect.via). */
enum smith_connect_via {
	SMITH_VIA_CONNECT = 0,	  /* connect(2) */
	SMITH_VIA_SOCKETCALL = 1, /* socketcall(2) SYS_CONNECT, the i386 multiplexer */
	SMITH_VIA_IO_URING = 2,	  /* an io_uring IORING_OP_CONNECT */
	SMITH_VIA_SENDTO = 3,	  /* sendto/sendmsg with MSG_FASTOPEN: data and SYN at once */
	SMITH_VIA_OTHER = 4,	  /* another caller of TCP's connect inside the kernel */
};

struct smith_connect {
	struct smith_rec_hdr hdr; /* hdr.retval: 0 or -errno (-115 EINPROGRESS) */
	struct smith_inet inet;	  /* daddr/dport: see flags; saddr/sport from the socket after the call */
	__u32 flags;		  /* SMITH_CONNECT_* */
	__u16 via;		  /* enum smith_connect_via */
	__u16 pad0;
	struct smith_pid_tree pid_tree;
};

/*
 * Connect events a process's budget held back (include/smith/budget.h), in the
 * context of that process: hdr.task names it, hdr.retval is 0. Sent before
 * the first connect event the process is allowed again, at most once per
 * SMITH_BUDGET_REPORT_NS while it keeps being held back, and when it exits.
 * Each connect call is either a connect event or counted in exactly one of
 * these records.
 */
struct smith_connect_suppressed {
	struct smith_rec_hdr hdr;
	__u64 suppressed; /* connect calls not reported since the last such record */
	__u64 first_ts;	  /* the first of them, ns since boot (as hdr.ts) */
	__u64 last_ts;	  /* the last of them */
	__u32 rate;	  /* the budget: connect events per second, sustained */
	__u32 burst;	  /* and at once */
	struct smith_pid_tree pid_tree;
};

/* A new process (not a thread): hdr.task is its parent, the task that forked it. */
struct smith_fork {
	struct smith_rec_hdr hdr;
	__u64 child_start_time; /* the new process's start, as smith_task.start_time */
	__u32 child_pid;	/* its pid (its thread group id), in the initial pid namespace */
	__u32 pad0;
};

/* Tail strings of a module record, in tail order (event_table.h). */
enum smith_module_str {
#define SMITH_X(ID, what) SMITH_MODULE_##ID,
	SMITH_MODULE_STRINGS(SMITH_X)
#undef SMITH_X
		SMITH_MODULE_STR_COUNT
};

#define SMITH_MODULE_PATH_TRUNCATED   (1u << 0) /* the module's path was deeper than SMITH_PATH_DEPTH */
#define SMITH_MODULE_PARAMS_TRUNCATED (1u << 1) /* the parameters were longer than SMITH_STR_MAX - 1 */
#define SMITH_MODULE_COMPAT	      (1u << 2) /* made through the 32-bit syscall entry */

struct smith_module {
	struct smith_rec_hdr hdr; /* type SMITH_REC_INIT_MODULE or SMITH_REC_FINIT_MODULE */
	__u32 flags;		  /* SMITH_MODULE_* flags */
	__u16 len[SMITH_MODULE_STR_COUNT];
	__u16 pad0;
	__u32 pad1;
	struct smith_pid_tree pid_tree;
	/* tail follows */
};

/*
 * Replay files (the daemon's --record output, the replay backend's input):
 * struct smith_replay_file_hdr, then records back to back, each as the
 * kernel produced it (hdr.size bytes), with ts kept as ns since boot.
 */
#define SMITH_REPLAY_MAGIC "SMITHRAW"
struct smith_replay_file_hdr {
	char magic[8]; /* SMITH_REPLAY_MAGIC, no NUL */
	__u32 abi;     /* SMITH_ABI_VERSION of the records */
	__u32 pad0;
	__s64 boot_to_epoch_ns; /* add to hdr.ts to get ns since the Unix epoch */
};

#endif /* SMITH_ABI_H */
