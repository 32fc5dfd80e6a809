#include "event/record_decoder.h"

#include <algorithm>
#include <cstring>

namespace smith::event {
namespace {

DecodeResult fail(std::string_view why)
{
	return {false, why};
}

// Copies the fixed part (as much of `Record` as the producer sent) and splits the tail after hdr.fixed.
template <class Record> DecodeResult decode_as(std::span<const std::byte> record, DecodedRecord &out)
{
	const size_t fixed = out.hdr.fixed;
	// Only the bytes of `Record` are ever read (as<Record>()): what the producer sent, zeros after.
	const size_t sent = std::min(fixed, sizeof(Record));
	std::memcpy(out.fixed.data(), record.data(), sent);
	if (sent < sizeof(Record))
		std::memset(out.fixed.data() + sent, 0, sizeof(Record) - sent);
	// The slots this type does not use are emptied; its own are all set below, unless it fails.
	if constexpr (tail_string_count<Record>() == 0)
		out.tail = {};
	else
		std::fill(out.tail.begin() + tail_string_count<Record>(), out.tail.end(), std::string_view());
	if constexpr (tail_string_count<Record>() > 0) {
		const Record &r = out.as<Record>();
		size_t total = 0;
		for (size_t i = 0; i < tail_string_count<Record>(); ++i)
			total += r.len[i];
		if (total > record.size() - fixed)
			return fail("tail lengths run past the record's end");
		const char *p = reinterpret_cast<const char *>(record.data()) + fixed;
		for (size_t i = 0; i < tail_string_count<Record>(); ++i) {
			out.tail[i] = std::string_view(p, r.len[i]);
			p += r.len[i];
		}
	}
	return {true, {}};
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
	const size_t fixed = out.hdr.fixed;
	if (fixed < sizeof(smith_rec_hdr) || fixed % 8 != 0 || fixed > record.size())
		return fail("hdr.fixed does not describe a fixed part within the record");

	DecodeResult result;
	switch (out.hdr.type) {
#define SMITH_X(ID, value, name, data_type, record_struct)                                                   \
	case SMITH_REC_##ID: result = decode_as<record_struct>(record, out); break;
		SMITH_RECORD_TYPES(SMITH_X)
#undef SMITH_X
#define SMITH_X(ID, value, record_struct)                                                                    \
	case SMITH_REC_##ID: result = decode_as<record_struct>(record, out); break;
		SMITH_PROCESS_RECORD_TYPES(SMITH_X)
#undef SMITH_X
	default: return fail("unknown record type");
	}
	out.type = static_cast<smith_rec_type>(out.hdr.type);
	return result;
}

} // namespace smith::event
