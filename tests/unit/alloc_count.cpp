// The global operator new and delete, replaced to count allocations (see alloc_count.h).
#include "alloc_count.h"

#include <atomic>
#include <cstdlib>
#include <new>

// free() is the right partner of the malloc() below; GCC cannot see that.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

std::atomic<uint64_t> g_allocations{0};

void *counted_alloc(size_t n)
{
	g_allocations.fetch_add(1, std::memory_order_relaxed);
	return std::malloc(n == 0 ? 1 : n);
}

} // namespace

uint64_t smith::test::heap_allocations()
{
	return g_allocations.load(std::memory_order_relaxed);
}

void *operator new(size_t n)
{
	if (void *p = counted_alloc(n))
		return p;
	throw std::bad_alloc();
}
void *operator new[](size_t n)
{
	if (void *p = counted_alloc(n))
		return p;
	throw std::bad_alloc();
}
void *operator new(size_t n, const std::nothrow_t &) noexcept
{
	return counted_alloc(n);
}
void *operator new[](size_t n, const std::nothrow_t &) noexcept
{
	return counted_alloc(n);
}
void operator delete(void *p) noexcept
{
	std::free(p);
}
void operator delete[](void *p) noexcept
{
	std::free(p);
}
void operator delete(void *p, size_t) noexcept
{
	std::free(p);
}
void operator delete[](void *p, size_t) noexcept
{
	std::free(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
	std::free(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept
{
	std::free(p);
}
