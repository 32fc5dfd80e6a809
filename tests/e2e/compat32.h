// The 32-bit syscall entry from this 64-bit test program, as an attacker uses it to slip past monitors
// that watch only the 64-bit table: `int $0x80` with i386 syscall numbers, and arguments (pointers
// included) in 32-bit registers, so everything they point to lives below 4 GiB.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace smith::e2e {

// i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl).
inline constexpr long kNr32Execve = 11;
inline constexpr long kNr32Socketcall = 102;
inline constexpr long kNr32InitModule = 128;
inline constexpr long kNr32FinitModule = 350;
inline constexpr long kNr32Execveat = 358;
inline constexpr long kNr32Connect = 362; // Linux 4.3+; before, socketcall only
inline constexpr uint32_t kSocketcallConnect = 3;

// The i386 syscall `nr` through int $0x80; returns what the kernel put in eax (-errno on failure).
inline long int80(long nr, uint32_t bx = 0, uint32_t cx = 0, uint32_t dx = 0, uint32_t si = 0,
		  uint32_t di = 0)
{
	long ret;
	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "a"(nr), "b"(bx), "c"(cx), "d"(dx), "S"(si), "D"(di)
		     : "memory", "cc", "r8", "r9", "r10", "r11");
	return static_cast<int>(ret); // eax, sign-extended
}

// Memory below 4 GiB (MAP_32BIT) for the arguments of 32-bit calls; addresses as 32-bit values.
class LowMem {
public:
	explicit LowMem(size_t bytes = 1 << 20) : size_(bytes)
	{
		base_ = static_cast<char *>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
		if (base_ == MAP_FAILED)
			throw std::runtime_error("mmap(MAP_32BIT) failed");
	}
	~LowMem() { munmap(base_, size_); }
	LowMem(const LowMem &) = delete;
	LowMem &operator=(const LowMem &) = delete;

	// Copies `n` bytes in (8-byte aligned); returns their 32-bit address.
	uint32_t put(const void *data, size_t n)
	{
		used_ = (used_ + 7) & ~size_t{7};
		if (used_ + n > size_)
			throw std::runtime_error("LowMem is full");
		std::memcpy(base_ + used_, data, n);
		const uint32_t at = addr(base_ + used_);
		used_ += n;
		return at;
	}
	template <class T> uint32_t put(const T &value) { return put(&value, sizeof(T)); }
	uint32_t str(const std::string &s) { return put(s.c_str(), s.size() + 1); }
	// A NULL-terminated array of 32-bit pointers to copies of `strings` (argv, envp).
	uint32_t strings(const std::vector<std::string> &strings)
	{
		std::vector<uint32_t> ptrs;
		for (const auto &s : strings)
			ptrs.push_back(str(s));
		ptrs.push_back(0);
		return put(ptrs.data(), ptrs.size() * sizeof(uint32_t));
	}
	static uint32_t addr(const void *p) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)); }

private:
	char *base_ = nullptr;
	size_t size_ = 0;
	size_t used_ = 0;
};

// A minimal i386 ELF executable (one PT_LOAD, no libc) that exits 0: a 32-bit program for exec tests
// on a host without 32-bit libraries.
inline std::vector<unsigned char> i386_exit0_elf()
{
	const uint32_t base = 0x08048000, entry_off = 52 + 32;
	const unsigned char code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (exit)
				      0x31, 0xdb,		    // xor ebx, ebx
				      0xcd, 0x80};		    // int 0x80
	const uint32_t size = entry_off + sizeof(code);
	std::vector<unsigned char> f(size, 0);
	auto u16 = [&f](size_t at, uint16_t v) { std::memcpy(&f[at], &v, 2); };
	auto u32 = [&f](size_t at, uint32_t v) { std::memcpy(&f[at], &v, 4); };
	const unsigned char ident[] = {0x7f, 'E', 'L', 'F', 1 /* 32-bit */, 1 /* LE */, 1 /* version */};
	std::memcpy(&f[0], ident, sizeof(ident));
	u16(16, 2);		   // e_type: ET_EXEC
	u16(18, 3);		   // e_machine: EM_386
	u32(20, 1);		   // e_version
	u32(24, base + entry_off); // e_entry
	u32(28, 52);		   // e_phoff
	u16(40, 52);		   // e_ehsize
	u16(42, 32);		   // e_phentsize
	u16(44, 1);		   // e_phnum
	u32(52 + 0, 1);		   // p_type: PT_LOAD
	u32(52 + 4, 0);		   // p_offset
	u32(52 + 8, base);	   // p_vaddr
	u32(52 + 12, base);	   // p_paddr
	u32(52 + 16, size);	   // p_filesz
	u32(52 + 20, size);	   // p_memsz
	u32(52 + 24, 5);	   // p_flags: R | X
	u32(52 + 28, 0x1000);	   // p_align
	std::memcpy(&f[entry_off], code, sizeof(code));
	return f;
}

} // namespace smith::e2e
