// smith_tp_pin: holds a perf probe on each tracepoint named, for as long as the guest runs, so that
// smith's own probes are never a tracepoint's first or second one.
//
//   smith_tp_pin TRACEFS GROUP/EVENT...
//
// Why (tests/vm/guest-init.sh says more): on 5.10 and later a tracepoint with one probe calls it
// through a static call patched into every call site, and with two or more it calls an iterator.
// Going from one probe to two rewrites live kernel text, and multi-threaded TCG now and then leaves
// a vCPU running the int3 of a patch that has finished. The guest pins each tracepoint smith uses
// with its trace event (one probe); this adds perf's (a second), so that smith.ko's probe, and
// smithd's raw tracepoint programs, change no instruction when they come and go.
//
// Opens, disabled, one perf tracepoint event per name on CPU 0: perf registers its probe when the
// event is created, and a disabled event records nothing. Then forks: the child keeps the events
// open and sleeps, its standard streams on /dev/null; the parent exits 0 once every name is pinned,
// or 1 naming the one that failed (a name this kernel lacks is reported and skipped).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_tracepoint(const char *tracefs, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/events/%s/id", tracefs, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("smith_tp_pin: %s: no such tracepoint here (%s)\n", name, strerror(errno));
		return 0;
	}
	unsigned long long id = 0;
	const int n = fscanf(f, "%llu", &id);
	fclose(f);
	if (n != 1) {
		fprintf(stderr, "smith_tp_pin: %s: cannot read its id from %s\n", name, path);
		return -1;
	}
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	attr.disabled = 1;
	attr.sample_period = 1;
	const long fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "smith_tp_pin: %s: perf_event_open: %s\n", name, strerror(errno));
		return -1;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: smith_tp_pin TRACEFS GROUP/EVENT...\n");
		return 2;
	}
	int pinned = 0;
	for (int i = 2; i < argc; ++i) {
		const int r = open_tracepoint(argv[1], argv[i]);
		if (r < 0)
			return 1;
		pinned += r;
	}
	fflush(stdout);
	const pid_t child = fork();
	if (child < 0) {
		perror("smith_tp_pin: fork");
		return 1;
	}
	if (child == 0) {
		// Off the caller's output, which may be a pipe it reads to its end.
		const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; fd <= 2 && null >= 0; ++fd)
			dup2(null, fd);
		setsid();
		for (;;)
			pause();
	}
	printf("smith_tp_pin: %d tracepoints hold a perf probe (pid %d keeps them)\n", pinned, (int)child);
	return 0;
}
