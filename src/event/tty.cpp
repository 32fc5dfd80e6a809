#include "event/tty.h"

#include <charconv>

namespace smith::event {
namespace {

void append_uint(std::string &out, uint32_t v)
{
	char buf[16];
	const auto r = std::to_chars(buf, buf + sizeof(buf), v);
	out.append(buf, r.ptr);
}

} // namespace

void tty_from_kernel_name(std::string_view name, std::string &out)
{
	out.clear();
	name = name.substr(0, name.find('\0'));
	constexpr std::string_view kPts = "pts";
	if (name.size() > kPts.size() && name.starts_with(kPts) &&
	    name.find_first_not_of("0123456789", kPts.size()) == std::string_view::npos) {
		out.append(kPts);
		out.push_back('/');
		out.append(name.substr(kPts.size()));
		return;
	}
	out.append(name);
}

void tty_from_dev(uint32_t tty_nr, std::string &out)
{
	out.clear();
	// Linux dev_t encoding as the kernel's new_encode_dev() writes it.
	const uint32_t major = (tty_nr >> 8) & 0xfff;
	const uint32_t minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
	if (major >= 136 && major <= 143) {
		out.append("pts/");
		append_uint(out, (major - 136) * 256 + minor);
	} else if (major == 4) {
		if (minor < 64) {
			out.append("tty");
			append_uint(out, minor);
		} else {
			out.append("ttyS");
			append_uint(out, minor - 64);
		}
	}
}

} // namespace smith::event
