#include "event/record_decoder.h"
#include "record_builder.h"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>

using namespace smith::event;
using namespace smith::test;

namespace {

std::span<const std::byte> as_span(const std::vector<std::byte> &v)
{
	return {v.data(), v.size()};
}

template <typename T> void poke(std::vector<std::byte> &rec, size_t offset, T value)
{
	std::memcpy(rec.data() + offset, &value, sizeof(value));
}

} // namespace

TEST_CASE("builder lays records out as abi.h says", "[unit]")
{
	ExecSpec s;
	s.filename = "/bin/ls";
	s.argv = {"ls", "-l"};
	s.exe = "/usr/bin/ls";
	s.cwd = "/";
	s.tty = "pts3";
	const auto rec = build_execve(s);
	const std::string tail = bytes_to_string(rec).substr(sizeof(smith_execve));
	CHECK(tail == std::string("/bin/ls") + std::string("ls\0-l\0", 6) +
			      std::string("ls\0bin\0usr\0", 11) + std::string("\0", 1) + "pts3" +
			      "session-1.scope");
	smith_execve e;
	std::memcpy(&e, rec.data(), sizeof(e));
	CHECK(e.hdr.size == rec.size());
	CHECK(e.hdr.fixed == sizeof(smith_execve));
	CHECK(e.hdr.type == SMITH_REC_EXECVE);
	CHECK(e.len[SMITH_EXEC_ARGV] == 6);
	CHECK(e.len[SMITH_EXEC_CWD] == 1);
	CHECK(e.argc == 2);
	CHECK(offsetof(smith_execve, len) == 312);
	CHECK(offsetof(smith_rec_hdr, fixed) == 8);
	CHECK(offsetof(smith_rec_hdr, task) == 32);
}

TEST_CASE("decode_record gives the fixed part and tail views of each type", "[unit]")
{
	DecodedRecord d;

	SECTION("execve")
	{
		ExecSpec s;
		s.ld_preload = "/tmp/x.so";
		s.stdout_path = "/dev/null";
		const auto rec = build_execve(s);
		REQUIRE(decode_record(as_span(rec), d).ok);
		CHECK(d.type == SMITH_REC_EXECVE);
		CHECK(d.hdr.task.pid == 4242);
		CHECK(d.as<smith_execve>().argc == 2);
		CHECK(d.tail[SMITH_EXEC_FILENAME] == "/usr/bin/echo");
		CHECK(d.tail[SMITH_EXEC_ARGV] == std::string_view("echo\0hello\0", 11));
		CHECK(d.tail[SMITH_EXEC_EXE] == std::string_view("echo\0bin\0usr\0", 13));
		CHECK(d.tail[SMITH_EXEC_TTY] == "pts0");
		CHECK(d.tail[SMITH_EXEC_LD_PRELOAD] == "/tmp/x.so");
		CHECK(d.tail[SMITH_EXEC_CGROUP] == "session-1.scope");
		CHECK(d.tail[SMITH_EXEC_STDIN_PATH].empty());
		CHECK(d.tail[SMITH_EXEC_STDOUT_PATH] == std::string_view("null\0dev\0", 9));
		// Views point into the record itself.
		const char *base = reinterpret_cast<const char *>(rec.data());
		CHECK(d.tail[SMITH_EXEC_FILENAME].data() == base + sizeof(smith_execve));
	}
	SECTION("connect")
	{
		ConnectSpec s;
		s.inet = inet4(6, {10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 443);
		const auto rec = build_connect(s);
		REQUIRE(rec.size() == sizeof(smith_connect));
		REQUIRE(decode_record(as_span(rec), d).ok);
		CHECK(d.type == SMITH_REC_CONNECT);
		CHECK(d.as<smith_connect>().inet.dport == 443);
		CHECK(d.as<smith_connect>().inet.daddr[3] == 2);
	}
	SECTION("init_module and finit_module")
	{
		ModuleSpec s;
		s.hdr.type = SMITH_REC_FINIT_MODULE;
		s.path = "/lib/modules/x/dummy.ko";
		const auto rec = build_module(s);
		REQUIRE(decode_record(as_span(rec), d).ok);
		CHECK(d.type == SMITH_REC_FINIT_MODULE);
		CHECK(d.tail[SMITH_MODULE_NAME] == "dummy");
		CHECK(d.tail[SMITH_MODULE_PARAMS] == "numdummies=2");
		CHECK(d.tail[SMITH_MODULE_PATH] == std::string_view("dummy.ko\0x\0modules\0lib\0", 23));
		CHECK(d.tail[3].empty());
	}
	SECTION("trailing padding after the tails is accepted")
	{
		auto rec = build_module(ModuleSpec{});
		rec.resize(rec.size() + 4);
		poke<__u32>(rec, offsetof(smith_rec_hdr, size), static_cast<__u32>(rec.size()));
		REQUIRE(decode_record(as_span(rec), d).ok);
		CHECK(d.tail[SMITH_MODULE_PARAMS] == "numdummies=2");
	}
}

TEST_CASE("a record leaves no tail view of the record decoded before it", "[unit]")
{
	DecodedRecord d;
	ExecSpec e;
	e.ld_preload = "/tmp/x.so";
	e.stdout_path = "/dev/null";
	const auto exec = build_execve(e);
	const auto module = build_module(ModuleSpec{});
	const auto connect = build_connect(ConnectSpec{});

	REQUIRE(decode_record(as_span(exec), d).ok);
	REQUIRE(decode_record(as_span(module), d).ok);
	CHECK(d.tail[SMITH_MODULE_NAME] == "dummy");
	for (size_t i = tail_string_count<smith_module>(); i < d.tail.size(); ++i)
		CHECK(d.tail[i].empty());

	REQUIRE(decode_record(as_span(exec), d).ok);
	REQUIRE(decode_record(as_span(connect), d).ok);
	for (const std::string_view t : d.tail)
		CHECK(t.empty());
}

TEST_CASE("malformed records are rejected with a reason", "[unit]")
{
	DecodedRecord d;
	auto exec = build_execve(ExecSpec{});

	SECTION("shorter than a header")
	{
		const std::vector<std::byte> shortrec(exec.begin(), exec.begin() + sizeof(smith_rec_hdr) - 1);
		const auto r = decode_record(as_span(shortrec), d);
		CHECK_FALSE(r.ok);
		CHECK(r.error == "record shorter than its header");
		CHECK_FALSE(decode_record({}, d).ok);
	}
	SECTION("truncated: hdr.size larger than the bytes")
	{
		exec.pop_back();
		const auto r = decode_record(as_span(exec), d);
		CHECK_FALSE(r.ok);
		CHECK(r.error == "record size differs from hdr.size");
	}
	SECTION("hdr.size smaller than the bytes")
	{
		poke<__u32>(exec, offsetof(smith_rec_hdr, size), static_cast<__u32>(exec.size() - 1));
		CHECK(decode_record(as_span(exec), d).error == "record size differs from hdr.size");
	}
	SECTION("wrong ABI version")
	{
		ExecSpec s;
		s.hdr.abi = SMITH_ABI_VERSION + 1;
		const auto rec = build_execve(s);
		const auto r = decode_record(as_span(rec), d);
		CHECK_FALSE(r.ok);
		CHECK(r.error == "record ABI version is not SMITH_ABI_VERSION");
	}
	SECTION("unknown type")
	{
		for (const uint16_t t : {0, 7, 0xffff}) {
			poke<__u16>(exec, offsetof(smith_rec_hdr, type), t);
			const auto r = decode_record(as_span(exec), d);
			CHECK_FALSE(r.ok);
			CHECK(r.error == "unknown record type");
		}
	}
	SECTION("hdr.fixed past the record's end, short of the header, or not 8-byte aligned")
	{
		for (const uint16_t t :
		     {SMITH_REC_EXECVE, SMITH_REC_CONNECT, SMITH_REC_INIT_MODULE, SMITH_REC_FINIT_MODULE}) {
			std::vector<std::byte> rec(exec.begin(), exec.begin() + sizeof(smith_rec_hdr));
			poke<__u16>(rec, offsetof(smith_rec_hdr, type), t);
			poke<__u32>(rec, offsetof(smith_rec_hdr, size), static_cast<__u32>(rec.size()));
			CHECK(decode_record(as_span(rec), d).error ==
			      "hdr.fixed does not describe a fixed part within the record");
		}
		for (const uint16_t fixed : {0, 8, static_cast<int>(sizeof(smith_rec_hdr)) - 8,
					     static_cast<int>(sizeof(smith_execve)) + 4}) {
			poke<__u16>(exec, offsetof(smith_rec_hdr, fixed), fixed);
			CHECK(decode_record(as_span(exec), d).error ==
			      "hdr.fixed does not describe a fixed part within the record");
		}
	}
	SECTION("tail lengths past the end")
	{
		const size_t len0 = offsetof(smith_execve, len);
		__u16 filename_len;
		std::memcpy(&filename_len, exec.data() + len0, sizeof(filename_len));
		poke<__u16>(exec, len0, static_cast<__u16>(filename_len + 1));
		CHECK(decode_record(as_span(exec), d).error == "tail lengths run past the record's end");
		// Every length at its maximum: the sum must not wrap or be trusted.
		for (size_t i = 0; i < SMITH_EXEC_STR_COUNT; ++i)
			poke<__u16>(exec, len0 + 2 * i, 0xffff);
		CHECK_FALSE(decode_record(as_span(exec), d).ok);

		auto mod = build_module(ModuleSpec{});
		poke<__u16>(mod, offsetof(smith_module, len) + 2 * SMITH_MODULE_PARAMS, 0x1000);
		CHECK(decode_record(as_span(mod), d).error == "tail lengths run past the record's end");
	}
}

// abi.h's compatibility rule: fields are appended to a fixed part, and readers find the tail at
// hdr.fixed, whatever their own sizeof says.
TEST_CASE("a record whose fixed part has a field this daemon does not know decodes by hdr.fixed", "[unit]")
{
	ExecSpec s;
	s.ld_preload = "/tmp/x.so";
	const auto plain = build_execve(s);
	// A newer producer: a u64 appended after the fixed part, then the same tail.
	std::vector<std::byte> rec(plain.begin(), plain.begin() + sizeof(smith_execve));
	const uint64_t appended = 0x1122334455667788ull;
	rec.resize(rec.size() + sizeof(appended));
	std::memcpy(rec.data() + sizeof(smith_execve), &appended, sizeof(appended));
	rec.insert(rec.end(), plain.begin() + sizeof(smith_execve), plain.end());
	poke<__u16>(rec, offsetof(smith_rec_hdr, fixed), static_cast<__u16>(sizeof(smith_execve) + 8));
	poke<__u32>(rec, offsetof(smith_rec_hdr, size), static_cast<__u32>(rec.size()));

	DecodedRecord d;
	const auto r = decode_record(as_span(rec), d);
	INFO(r.error);
	REQUIRE(r.ok);
	CHECK(d.as<smith_execve>().argc == 2);
	CHECK(d.tail[SMITH_EXEC_FILENAME] == "/usr/bin/echo");
	CHECK(d.tail[SMITH_EXEC_ARGV] == std::string_view("echo\0hello\0", 11));
	CHECK(d.tail[SMITH_EXEC_LD_PRELOAD] == "/tmp/x.so");
	CHECK(d.tail[SMITH_EXEC_CGROUP] == "session-1.scope");
	CHECK(d.tail[SMITH_EXEC_FILENAME].data() ==
	      reinterpret_cast<const char *>(rec.data()) + sizeof(smith_execve) + 8);

	// Decoding by sizeof instead would have taken the appended field for the filename.
	CHECK(d.tail[SMITH_EXEC_FILENAME].find('\x88') == std::string_view::npos);
}

TEST_CASE("a record from a producer that lacks fields this daemon knows reads them as zero", "[unit]")
{
	ConnectSpec s;
	s.inet = inet4(6, {10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 443);
	auto rec = build_connect(s);
	rec.resize(sizeof(smith_rec_hdr)); // the header only: an (imagined) producer before smith_inet
	poke<__u16>(rec, offsetof(smith_rec_hdr, fixed), static_cast<__u16>(sizeof(smith_rec_hdr)));
	poke<__u32>(rec, offsetof(smith_rec_hdr, size), static_cast<__u32>(rec.size()));

	DecodedRecord d;
	d.fixed.fill(std::byte{0xaa}); // what an earlier record left behind
	REQUIRE(decode_record(as_span(rec), d).ok);
	CHECK(d.hdr.task.pid == 4242);
	CHECK(d.as<smith_connect>().hdr.task.pid == 4242);
	CHECK(d.as<smith_connect>().inet.dport == 0);
	CHECK(d.as<smith_connect>().inet.family == 0);
}
