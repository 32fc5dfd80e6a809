#include "event/record_decoder.h"

#include <cstring>

namespace smith::event {
namespace {

// Fills `tail` from the bytes after the fixed part, given each string's length.
template <size_t N>
bool split_tail(std::span<const std::byte> record, size_t fixed_size, const __u16 (&len)[N],
		std::array<std::string_view, SMITH_EXEC_STR_COUNT> &tail)
{
	static_assert(N <= SMITH_EXEC_STR_COUNT);
	size_t total = 0;
	for (size_t i = 0; i < N; ++i)
		total += len[i];
	if (total > record.size() - fixed_size)
		return false;
	const char *p = reinterpret_cast<const char *>(record.data()) + fixed_size;
	for (size_t i = 0; i < N; ++i) {
		tail[i] = std::string_view(p, len[i]);
		p += len[i];
	}
	for (size_t i = N; i < tail.size(); ++i)
		tail[i] = {};
	return true;
}

DecodeResult fail(std::string_view why)
{
	return {false, why};
}

} // namespace

DecodeResult decode_record(std::span<const std::byte> record, DecodedRecord &out)
{
	if (record.size() < sizeof(smith_rec_hdr))
		return fail("record shorter than its header");
	std::memcpy(&out.hdr, record.data(), sizeof(out.hdr));
	if (out.hdr.size != record.size())
		return fail("record size differs from hdr.size");
	if (out.hdr.abi != SMITH_ABI_VERSION)
		return fail("record ABI version is not SMITH_ABI_VERSION");

	switch (out.hdr.type) {
	case SMITH_REC_EXECVE:
		if (record.size() < sizeof(smith_execve))
			return fail("record shorter than its fixed part");
		std::memcpy(&out.execve, record.data(), sizeof(out.execve));
		if (!split_tail(record, sizeof(smith_execve), out.execve.len, out.tail))
			return fail("tail lengths run past the record's end");
		break;
	case SMITH_REC_CONNECT:
		if (record.size() < sizeof(smith_connect))
			return fail("record shorter than its fixed part");
		std::memcpy(&out.connect, record.data(), sizeof(out.connect));
		out.tail = {};
		break;
	case SMITH_REC_INIT_MODULE:
	case SMITH_REC_FINIT_MODULE:
		if (record.size() < sizeof(smith_module))
			return fail("record shorter than its fixed part");
		std::memcpy(&out.module, record.data(), sizeof(out.module));
		if (!split_tail(record, sizeof(smith_module), out.module.len, out.tail))
			return fail("tail lengths run past the record's end");
		break;
	default: return fail("unknown record type");
	}
	out.type = static_cast<smith_rec_type>(out.hdr.type);
	return {true, {}};
}

} // namespace smith::event
