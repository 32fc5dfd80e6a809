// Appends JSON to a caller-owned, reused std::string: no allocation once the
// buffer has grown to its working size. Small pieces (punctuation, keys,
// numbers, short strings) gather in a buffer inside the writer and reach the
// string in a few large appends: the string holds the complete text once the
// outermost object or array is closed (or a top-level scalar written), and at
// the latest when the writer is destroyed. Strings are made safe on the way in:
// invalid UTF-8 becomes U+FFFD, control characters, quotes and backslashes are
// escaped, so every line written parses as JSON whatever bytes the kernel saw.
#pragma once

#include "json/decimal.h"

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace smith::json {

class JsonWriter {
public:
	explicit JsonWriter(std::string &out) : out_(out) {}
	// A writer of members only ("k":v,...), of an object whose braces are written elsewhere (a
	// fragment rendered once, later copied in with members()). Its text reaches `out` when it
	// is destroyed (or flush() is called).
	struct MembersOnly {};
	JsonWriter(std::string &out, MembersOnly) : out_(out), depth_(1) {}
	~JsonWriter() { flush(); }
	JsonWriter(const JsonWriter &) = delete;
	JsonWriter &operator=(const JsonWriter &) = delete;

	void begin_object() { open('{'); }
	void end_object() { close('}'); }
	void begin_array() { open('['); }
	void end_array() { close(']'); }

	// Writes `"key":` inside an object; the next value call supplies the value.
	// Keys are the schema's own names, written as they are: they must need no
	// escaping (no '"', '\\', control or non-ASCII bytes).
	void key(std::string_view k);

	void value(std::string_view s); // string, sanitised
	// A string that needs no escaping, written as it is: text the daemon makes itself from a
	// closed set (names of enum values, IP addresses in inet_ntop form), never bytes from a
	// process. It must hold no '"', '\\', control or non-ASCII bytes (checked in debug builds).
	void plain_value(std::string_view s);
	void value(const char *s) { value(std::string_view(s)); }
	void value(bool b);
	void value(int64_t v) { integer(v); }
	void value(uint64_t v) { integer(v); }
	void value(int32_t v) { value(static_cast<int64_t>(v)); }
	void value(uint32_t v) { value(static_cast<uint64_t>(v)); }
	void value(double v);
	void null();
	// Appends already-serialised JSON as one value (for nesting documents).
	void raw(std::string_view json);
	// Appends already-serialised members of the object being written, `"k":v` or several
	// separated by ',' (none leading or trailing), as if each had been written with field():
	// a fragment rendered once and copied into many objects. Not after key().
	void members(std::string_view json)
	{
		if (json.empty())
			return;
		if (need_comma_)
			put(',');
		put(json);
		need_comma_ = true;
	}

	// Members written from here on can be copied out with copy_since(mark), for later members():
	// writes now the ',' due before the next member, so that the copy starts at that member, and
	// returns the mark. At least one member must follow. Not after key().
	size_t begin_members()
	{
		separate();
		need_comma_ = false;
		return position();
	}
	// Appends to `to` the text written since `mark` (from begin_members()).
	void copy_since(size_t mark, std::string &to) const
	{
		const size_t flushed = out_.size(); // where stage_ starts
		if (mark < flushed)
			to.append(out_, mark, flushed - mark);
		const size_t from = mark > flushed ? mark - flushed : 0;
		to.append(stage_ + from, staged_ - from);
	}

	// The same for a string literal: its length is known at compile time, so
	// the key is copied without a length-driven loop or call. This is the form
	// the normalizer uses for every field.
	template <size_t N> void key(const char (&k)[N])
	{
		staged_ = static_cast<size_t>(member(k, 0) - stage_);
		after_key_ = true;
	}

	// key + value in one call.
	template <typename T> void field(std::string_view k, T v)
	{
		key(k);
		value(v);
	}
	template <size_t N, typename T> void field(const char (&k)[N], T v)
	{
		key(k);
		value(v);
	}
	// Integers and booleans, the most common fields, with one check for room and no state for the
	// value to pick up after the key.
	template <size_t N, std::integral T> void field(const char (&k)[N], T v)
	{
		char *const d = member(k, kDecimalRoom);
		if constexpr (std::is_same_v<T, bool>) {
			__builtin_memcpy(d, v ? "true" : "false", 5);
			staged_ = static_cast<size_t>(d + (v ? 4 : 5) - stage_);
		} else if constexpr (std::is_signed_v<T>) {
			staged_ = static_cast<size_t>(write_decimal(d, static_cast<int64_t>(v)) - stage_);
		} else {
			staged_ = static_cast<size_t>(write_decimal(d, static_cast<uint64_t>(v)) - stage_);
		}
	}
	template <size_t N> void plain_field(const char (&k)[N], std::string_view v)
	{
		key(k);
		plain_value(v);
	}

	// Moves what is gathered into the string (done by itself, see above). Out of line: it is rare
	// (once a kStage of text), and the inline append would cost every caller registers.
	void flush();

private:
	static constexpr size_t kStage = 1024;

	// Writes `"k":` at the end of the stage, after a ',' if one is due (not after key()), and
	// returns where its value goes, with at least `room` bytes free there. Does not move staged_.
	template <size_t N> char *member(const char (&k)[N], size_t room)
	{
		static_assert(N > 1 && N + 3 + kDecimalRoom < kStage / 2, "a key is a short literal");
		if (kStage - staged_ < N + 3 + room)
			flush();
		char *d = stage_ + staged_;
		*d = ',';
		d += need_comma_;
		d[0] = '"';
		__builtin_memcpy(d + 1, k, N - 1);
		d[N] = '"';
		d[N + 1] = ':';
		need_comma_ = true;
		return d + N + 2;
	}
	template <typename T> void number(T v); // any arithmetic value, shortest form
	template <typename T> void integer(T v)
	{
		separate();
		if (kStage - staged_ < kDecimalRoom + 1)
			flush();
		staged_ = static_cast<size_t>(write_decimal(stage_ + staged_, v) - stage_);
		end_value();
	}
	size_t position() const { return out_.size() + staged_; } // bytes written, flushed or not
	// value(s) past its fast path (s is long, needs escaping, or the stage is nearly full); out of
	// line, so that the fast path saves no registers.
	[[gnu::noinline]] void escaped_value(std::string_view s);
	void open(char c);
	void close(char c);
	void separate()
	{
		if (after_key_)
			after_key_ = false;
		else if (need_comma_)
			put(',');
	}
	void end_value()
	{
		need_comma_ = true;
		if (depth_ == 0)
			flush();
	}
	void put(char c)
	{
		if (staged_ == kStage)
			flush();
		stage_[staged_++] = c;
	}
	void put(const char *p, size_t n)
	{
		if (n + 16 > kStage - staged_) {
			flush();
			if (n > kStage / 2) {
				out_.append(p, n);
				return;
			}
		}
		char *d = stage_ + staged_;
		staged_ += n;
		// Most pieces are short: copy them inline rather than through memcpy().
		if (n >= 8 && n <= 16) {
			uint64_t a, b;
			__builtin_memcpy(&a, p, 8);
			__builtin_memcpy(&b, p + n - 8, 8);
			__builtin_memcpy(d, &a, 8);
			__builtin_memcpy(d + n - 8, &b, 8);
		} else if (n < 8) {
			for (size_t i = 0; i < n; i++)
				d[i] = p[i];
		} else {
			__builtin_memcpy(d, p, n);
		}
	}
	void put(std::string_view s) { put(s.data(), s.size()); }

	std::string &out_;
	size_t staged_ = 0;	  // bytes in stage_ not yet in out_
	unsigned depth_ = 0;	  // open objects and arrays
	bool need_comma_ = false; // a value was written at the current nesting level
	bool after_key_ = false;  // the next value completes a key
	char stage_[kStage];
};

// Appends `s` as JSON string content (without quotes), sanitised as above.
void append_json_string_content(std::string &out, std::string_view s);

} // namespace smith::json
