#include "backend/replay_backend.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "smith/abi.h"
#include "util/fd.h"

namespace smith::backend {

ReplayBackend::ReplayBackend(std::string path, std::string event_backend)
    : path_(std::move(path)), event_backend_(std::move(event_backend))
{}

void ReplayBackend::start()
{
	std::ifstream in(path_, std::ios::binary);
	if (!in)
		throw BackendError(
			fmt::format("cannot open replay file {}: {}", path_, std::strerror(errno)));
	std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	data_.resize(bytes.size());
	std::memcpy(data_.data(), bytes.data(), bytes.size());

	smith_replay_file_hdr hdr{};
	if (data_.size() < sizeof(hdr))
		throw BackendError(fmt::format("{} is not a smith replay file (too short)", path_));
	std::memcpy(&hdr, data_.data(), sizeof(hdr));
	if (std::memcmp(hdr.magic, SMITH_REPLAY_MAGIC, sizeof(hdr.magic)) != 0)
		throw BackendError(fmt::format("{} is not a smith replay file (bad magic)", path_));
	if (hdr.abi != SMITH_ABI_VERSION)
		throw BackendError(
			fmt::format("{} holds ABI version {} records; this smithd reads version {}", path_,
				    hdr.abi, SMITH_ABI_VERSION));
	boot_to_epoch_ns_ = hdr.boot_to_epoch_ns;
	pos_ = sizeof(hdr);
}

long ReplayBackend::poll(std::chrono::milliseconds, RecordHandler &handler)
{
	if (pos_ >= data_.size())
		return PollEnd;
	long n = 0;
	while (pos_ + sizeof(smith_rec_hdr) <= data_.size()) {
		smith_rec_hdr hdr;
		std::memcpy(&hdr, data_.data() + pos_, sizeof(hdr));
		if (hdr.size < sizeof(hdr) || pos_ + hdr.size > data_.size())
			throw BackendError(fmt::format(
				"{}: record at offset {} runs past the end of the file", path_, pos_));
		handler.on_record({data_.data() + pos_, hdr.size});
		pos_ += hdr.size;
		n++;
	}
	if (pos_ != data_.size())
		throw BackendError(fmt::format("{}: {} trailing bytes after the last record", path_,
					       data_.size() - pos_));
	return n;
}

std::vector<control::HookStatus> ReplayBackend::hooks() const
{
	return {{"replay", "attached", "", "file", 0}};
}

ReplayWriter::ReplayWriter(const std::string &path, int64_t boot_to_epoch_ns)
{
	fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd_ < 0)
		throw BackendError(
			fmt::format("cannot create record file {}: {}", path, std::strerror(errno)));
	smith_replay_file_hdr hdr{};
	std::memcpy(hdr.magic, SMITH_REPLAY_MAGIC, sizeof(hdr.magic));
	hdr.abi = SMITH_ABI_VERSION;
	hdr.boot_to_epoch_ns = boot_to_epoch_ns;
	buffer_.reserve(1 << 20);
	write({reinterpret_cast<const std::byte *>(&hdr), sizeof(hdr)});
}

ReplayWriter::~ReplayWriter()
{
	flush();
	if (fd_ >= 0)
		::close(fd_);
}

void ReplayWriter::write(std::span<const std::byte> record)
{
	if (buffer_.size() + record.size() > buffer_.capacity())
		flush();
	buffer_.insert(buffer_.end(), record.begin(), record.end());
}

void ReplayWriter::flush()
{
	util::write_full(fd_, buffer_.data(), buffer_.size()); // a full disk loses the recording, not events
	buffer_.clear();
}

} // namespace smith::backend
