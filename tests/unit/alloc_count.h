// Heap allocations made by the program, counted by the replacement of the global operator new
// in alloc_count.cpp. A test binary or benchmark that links alloc_count.cpp can check that a
// piece of code allocates nothing: compare heap_allocations() before and after it.
#pragma once

#include <cstdint>

namespace smith::test {

// Every operator new (plain, array, nothrow) since the program started.
uint64_t heap_allocations();

// The allocations made while it lives (single-threaded code under test).
class AllocationCounter {
public:
	AllocationCounter() : start_(heap_allocations()) {}
	uint64_t count() const { return heap_allocations() - start_; }

private:
	uint64_t start_;
};

} // namespace smith::test
