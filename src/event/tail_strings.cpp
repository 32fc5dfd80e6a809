#include "event/tail_strings.h"

#include <cstdint>
#include <cstring>

namespace smith::event {

namespace {

// Copies n bytes from s to d without a call for the short lengths of path components.
inline void copy_component(char *d, const char *s, size_t n)
{
	if (n > 16) {
		std::memcpy(d, s, n);
	} else if (n >= 8) { // two 8-byte pieces that overlap
		uint64_t a, b;
		std::memcpy(&a, s, 8);
		std::memcpy(&b, s + n - 8, 8);
		std::memcpy(d, &a, 8);
		std::memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;
		std::memcpy(&a, s, 4);
		std::memcpy(&b, s + n - 4, 4);
		std::memcpy(d, &a, 4);
		std::memcpy(d + n - 4, &b, 4);
	} else {
		for (size_t i = 0; i < n; ++i)
			d[i] = s[i];
	}
}

// Where the component ending at base[stop] starts: after the last NUL in base[0, stop), or 0.
// Eight bytes at a time while eight are left (a component such as "x86_64-linux-gnu" takes two
// steps instead of sixteen), the last few by a byte loop.
inline size_t component_start(const char *base, size_t stop)
{
	static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
	constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full;
	size_t start = stop;
	while (start >= 8) {
		uint64_t w;
		std::memcpy(&w, base + start - 8, 8);
		// The high bit of each zero byte, exactly (no borrow from one byte into the next).
		const uint64_t zero = ~(((w & kLow7) + kLow7) | w | kLow7);
		if (zero != 0) // the highest zero byte is the last NUL (little-endian)
			return start - 8 + static_cast<size_t>(63 - __builtin_clzll(zero)) / 8 + 1;
		start -= 8;
	}
	while (start > 0 && base[start - 1] != '\0')
		--start;
	return start;
}

} // namespace

void join_leaf_first_path(std::string_view encoded, std::string &out)
{
	out.clear();
	if (encoded.empty())
		return;
	size_t end = encoded.size();
	if (encoded[end - 1] == '\0')
		--end; // the last component's terminator, not an empty component after it
	// The path has one '/' per non-empty component and the components' bytes, which together are
	// at most end + 1 bytes (the NULs between components are as many as the components but one).
	out.resize(end + 1);
	char *const begin = out.data();
	char *d = begin;
	// Components are encoded[0, end) split at NULs; walk them last (root side) to first. They are
	// short: an inline scan finds each one's start sooner than a call to memrchr.
	const char *const base = encoded.data();
	size_t stop = end;
	for (;;) {
		const size_t start = component_start(base, stop);
		if (start < stop) {
			*d++ = '/';
			copy_component(d, base + start, stop - start);
			d += stop - start;
		}
		if (start == 0)
			break;
		stop = start - 1;
	}
	if (d == begin)
		*d++ = '/';
	out.resize(static_cast<size_t>(d - begin));
}

std::string_view path_basename(std::string_view path)
{
	while (!path.empty() && path.back() == '/')
		path.remove_suffix(1);
	const size_t slash = path.rfind('/');
	return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

} // namespace smith::event
