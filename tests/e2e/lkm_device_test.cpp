// smith.ko's device, read the way smithd reads it but by a reader that never consumes: the module stays
// loaded while /dev/smith is open, and the rings fill and count their drops. Needs smith.ko ([lkm]: the
// guests), and runs before the shared daemons take the device.
#include "backends.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "smith/lkm_ring.h"

using namespace smith::e2e;

namespace {

// /dev/smith opened and mapped the way the daemon does it, by a reader that never consumes.
class StalledReader {
public:
	StalledReader()
	{
		fd_.reset(open(SMITH_LKM_DEVICE, O_RDWR | O_CLOEXEC));
		if (!fd_.valid()) {
			error_ = std::string("open " SMITH_LKM_DEVICE ": ") + strerror(errno);
			return;
		}
		void *first = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd_.get(), 0);
		if (first == MAP_FAILED) {
			error_ = std::string("mmap of the info page: ") + strerror(errno);
			return;
		}
		map_bytes_ = static_cast<const smith_lkm_info *>(first)->map_bytes;
		munmap(first, 4096);
		void *all = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
		if (all == MAP_FAILED) {
			error_ = "mmap of " + std::to_string(map_bytes_) + " bytes: " + strerror(errno);
			return;
		}
		base_ = static_cast<char *>(all);
	}
	~StalledReader() { close_device(); }
	StalledReader(const StalledReader &) = delete;
	StalledReader &operator=(const StalledReader &) = delete;

	const std::string &error() const { return error_; }
	const smith_lkm_info &info() const { return *reinterpret_cast<const smith_lkm_info *>(base_); }
	const volatile smith_lkm_ring_ctl &ring(uint32_t i) const
	{
		return *reinterpret_cast<const volatile smith_lkm_ring_ctl *>(base_ + info().ring_offset +
									      i * info().ring_stride);
	}
	uint64_t drops(unsigned hook) const
	{
		uint64_t n = 0;
		for (uint32_t i = 0; i < info().nr_rings; ++i)
			n += ring(i).drops[hook];
		return n;
	}
	void close_device()
	{
		if (base_)
			munmap(base_, map_bytes_);
		base_ = nullptr;
		fd_.reset();
	}

private:
	Fd fd_;
	char *base_ = nullptr;
	uint64_t map_bytes_ = 0;
	std::string error_;
};

} // namespace

TEST_CASE("lkm: smith.ko stays loaded while /dev/smith is open, and a reader that never reads gets counted "
	  "drops",
	  "[e2e][lkm]")
{
	require_root();
	REQUIRE(access(smith_ko().c_str(), R_OK) == 0);
	if (module_loaded("smith"))
		REQUIRE(unload_module("smith") == 0);
	REQUIRE(load_module_from_file(smith_ko(), "ring_kb=64") == 0);
	{
		StalledReader reader;
		REQUIRE(reader.error().empty());
		const smith_lkm_info &info = reader.info();
		CHECK(info.magic == SMITH_LKM_MAGIC);
		CHECK(info.transport_version == SMITH_LKM_TRANSPORT_VERSION);
		CHECK(info.record_abi == SMITH_ABI_VERSION);
		CHECK(info.ring_bytes == 64 * 1024);
		CHECK(info.nr_rings >= 2);
		CHECK((info.hooks_armed & (1u << SMITH_HOOK_CONNECT)) != 0);

		const int refused = unload_module("smith");
		INFO("delete_module(smith) with /dev/smith open returned " << refused);
		CHECK((refused == -EAGAIN || refused == -EBUSY));
		REQUIRE(module_loaded("smith"));

		constexpr int kCalls = 4000;
		for (int i = 0; i < kCalls; ++i) {
			Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
			REQUIRE(sock.get() >= 0);
			REQUIRE(connect_to(sock.get(), AF_INET, "127.0.0.1", 9) == 0);
		}
		uint64_t used = 0;
		for (uint32_t i = 0; i < info.nr_rings; ++i) {
			INFO("ring " << i);
			CHECK(reader.ring(i).tail == 0);
			CHECK(reader.ring(i).head <= info.ring_bytes);
			used += reader.ring(i).head;
		}
		const uint64_t drops = reader.drops(SMITH_HOOK_CONNECT);
		std::cout << "e2e: stalled /dev/smith reader: " << drops << " connect drops of " << kCalls
			  << " calls, " << used << " bytes queued" << std::endl;
		CHECK(drops > 0);
		CHECK(drops < static_cast<uint64_t>(kCalls));
		reader.close_device();
	}
	CHECK(unload_module("smith") == 0);
	CHECK(!module_loaded("smith"));
}
