#include "event/process_cache.h"

#include <algorithm>
#include <utility>

namespace smith::event {

void ProcessInfo::set_container_id(std::string_view id)
{
	container_id_len = static_cast<uint8_t>(std::min(id.size(), container_id_buf.size()));
	std::copy_n(id.data(), container_id_len, container_id_buf.data());
}

ProcessCache::ProcessCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1))
{
	entries_.reserve(capacity_);
	size_t table_size = 2;
	while (table_size < 2 * capacity_)
		table_size *= 2;
	table_.assign(table_size, 0);
	mask_ = table_size - 1;
}

uint64_t ProcessCache::hash(uint32_t pid, uint64_t start_time)
{
	// splitmix64 finaliser over both key parts.
	uint64_t x = start_time ^ (static_cast<uint64_t>(pid) * 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

size_t ProcessCache::slot_of(uint32_t pid, uint64_t start_time) const
{
	size_t i = hash(pid, start_time) & mask_;
	for (;;) {
		const uint32_t v = table_[i];
		if (v == 0)
			return i;
		const Entry &e = entries_[v - 1];
		if (e.pid == pid && e.start_time == start_time)
			return i;
		i = (i + 1) & mask_;
	}
}

const ProcessInfo *ProcessCache::find(uint32_t pid, uint64_t start_time) const
{
	const uint32_t v = table_[slot_of(pid, start_time)];
	return v == 0 ? nullptr : &entries_[v - 1].info;
}

void ProcessCache::drop_oldest_half()
{
	const size_t keep = capacity_ / 2;
	const size_t drop = used_ - keep;
	// Swap rather than move so the dropped entries' string buffers stay for reuse.
	for (size_t i = 0; i < keep; ++i)
		std::swap(entries_[i], entries_[drop + i]);
	used_ = keep;
	std::fill(table_.begin(), table_.end(), 0);
	for (size_t i = 0; i < used_; ++i)
		table_[slot_of(entries_[i].pid, entries_[i].start_time)] = static_cast<uint32_t>(i + 1);
}

ProcessInfo &ProcessCache::upsert(uint32_t pid, uint64_t start_time, bool *created)
{
	size_t slot = slot_of(pid, start_time);
	if (table_[slot] != 0) {
		if (created)
			*created = false;
		ProcessInfo &info = entries_[table_[slot] - 1].info;
		info.generation = ++generation_;
		return info;
	}
	if (used_ == capacity_) {
		drop_oldest_half();
		slot = slot_of(pid, start_time);
	}
	if (used_ == entries_.size())
		entries_.emplace_back(); // within the reserved capacity: no reallocation
	Entry &e = entries_[used_];
	e.pid = pid;
	e.start_time = start_time;
	e.info.exe.clear();
	e.info.cwd.clear();
	e.info.tty.clear();
	e.info.container_id_len = 0;
	e.info.generation = ++generation_;
	table_[slot] = static_cast<uint32_t>(++used_);
	if (created)
		*created = true;
	return e.info;
}

} // namespace smith::event
