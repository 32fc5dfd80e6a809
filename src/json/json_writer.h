// Appends JSON to a caller-owned, reused std::string: no allocation once the
// buffer has grown to its working size. Strings are made safe on the way in:
// invalid UTF-8 becomes U+FFFD, control characters, quotes and backslashes are
// escaped, so every line written parses as JSON whatever bytes the kernel saw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smith::json {

class JsonWriter {
public:
	explicit JsonWriter(std::string &out) : out_(out) {}

	void begin_object() { open('{'); }
	void end_object() { close('}'); }
	void begin_array() { open('['); }
	void end_array() { close(']'); }

	// Writes `"key":` inside an object; the next value call supplies the value.
	void key(std::string_view k);

	void value(std::string_view s); // string, sanitised
	void value(const char *s) { value(std::string_view(s)); }
	void value(bool b);
	void value(int64_t v);
	void value(uint64_t v);
	void value(int32_t v) { value(static_cast<int64_t>(v)); }
	void value(uint32_t v) { value(static_cast<uint64_t>(v)); }
	void value(double v);
	void null();
	// Appends already-serialised JSON as one value (for nesting documents).
	void raw(std::string_view json);

	// key + value in one call.
	template <typename T> void field(std::string_view k, T v)
	{
		key(k);
		value(v);
	}

	std::string &buffer() { return out_; }

private:
	template <typename T> void number(T v); // any arithmetic value, shortest form
	void open(char c);
	void close(char c);
	void separate();

	std::string &out_;
	bool need_comma_ = false; // a value was written at the current nesting level
	bool after_key_ = false;  // the next value completes a key
};

// Appends `s` as JSON string content (without quotes), sanitised as above.
void append_json_string_content(std::string &out, std::string_view s);

} // namespace smith::json
