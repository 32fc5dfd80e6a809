// Heap allocations on the hot path, counted by the test binary's replacement of
// the global operator new (alloc_count.cpp).
#include "alloc_count.h"
#include "event/normalizer.h"
#include "hostile_strings.h"
#include "record_builder.h"

#include <catch2/catch.hpp>

using namespace smith::event;
using namespace smith::test;

TEST_CASE("the allocation counter counts", "[unit]")
{
	size_t n = 0;
	{
		AllocationCounter counter;
		auto *s = new std::string(100, 'x');
		delete s;
		n = counter.count();
	}
	CHECK(n == 2); // the string object and its buffer
}

TEST_CASE("append_json allocates nothing once warm", "[unit]")
{
	HostInfo h;
	h.hostname = "host-a";
	h.host_id = "id";
	h.run_id = "run";
	h.backend = "lkm";
	Normalizer n(std::move(h));

	ExecSpec e;
	e.hdr.task.pid = 0x7ffffff0;
	e.hdr.task.uid = 0;
	e.argv = {"sh", "-c", hostile_cases()[3].first + "\xC0\xAF \xF0\x9F\x98\x80", std::string(4000, 'a')};
	e.exe = "/usr/lib/very/long/path/to/some/binary/with/many/components/and/a/long/name/at/the/end";
	e.cwd = "/home/someone/projects/with a space/and/\"quotes\"";
	e.cgroup = "docker-4f5ab7c34d0fc1e6b0a5a1d7bdf4c1e1a3ef22a3cb38c4e6df0bcd9a4c7ed6a1.scope";
	e.stdin_fd.kind = SMITH_FD_INET;
	e.stdin_fd.inet = inet6(6, ip6_loopback(), 40000, ip6_mapped(1, 2, 3, 4), 8080);
	e.stdout_fd.kind = SMITH_FD_PATH;
	e.stdout_path = "/var/log/some/file.log";
	const auto exec_rec = build_execve(e);

	ConnectSpec c_hit;
	c_hit.hdr.task = e.hdr.task; // cache hit: seen exec'ing
	c_hit.inet = inet4(6, {10, 0, 0, 1}, 1234, {10, 0, 0, 2}, 443);
	const auto connect_hit = build_connect(c_hit);

	ConnectSpec c_gone;
	c_gone.hdr.task.pid = 0x7ffffff1;  // miss, filled from procfs (gone: "") once
	c_gone.hdr.task.uid = 3999999999u; // unknown user, cached as ""
	c_gone.inet = inet6(17, ip6_loopback(), 1, ip6_loopback(), 2);
	const auto connect_gone = build_connect(c_gone);

	ModuleSpec m;
	m.hdr.type = SMITH_REC_FINIT_MODULE;
	m.hdr.task = e.hdr.task;
	m.name = "";
	m.path = "/lib/modules/6.1.0/kernel/drivers/net/dummy.ko.xz";
	const auto module_rec = build_module(m);

	const std::vector<std::span<const std::byte>> records = {
		{exec_rec.data(), exec_rec.size()},
		{connect_hit.data(), connect_hit.size()},
		{connect_gone.data(), connect_gone.size()},
		{module_rec.data(), module_rec.size()},
	};

	std::string out;
	uint64_t seq = 0;
	for (int warm = 0; warm < 3; ++warm)
		for (const auto &r : records) {
			out.clear();
			REQUIRE(n.append_json(r, ++seq, out).ok);
		}

	size_t allocations = 0;
	size_t ok = 0;
	{
		AllocationCounter counter;
		for (int i = 0; i < 1000; ++i)
			for (const auto &r : records) {
				out.clear();
				ok += n.append_json(r, ++seq, out).ok;
			}
		allocations = counter.count();
	}
	CHECK(ok == 4000);
	CHECK(allocations == 0);
}
