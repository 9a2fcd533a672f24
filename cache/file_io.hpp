#pragma once
// Thin, EINTR-safe wrappers over the POSIX calls the blob files need, reporting failures as
// std::error_code (ENOSPC, EIO, ...) instead of throwing: a full disk is an expected condition.
#include <cstdint>
#include <filesystem>
#include <span>
#include <system_error>

namespace pt::cache {

// Writes every byte (retrying partial writes and EINTR).
std::error_code write_all(int fd, std::span<const char> data);

// Reads up to out.size() bytes at `offset`; returns fewer only at end of file.
std::size_t read_at(int fd, std::uint64_t offset, std::span<char> out, std::error_code& ec);

std::error_code sync_file(int fd);

// Makes a rename or unlink inside `dir` durable.
std::error_code sync_directory(const std::filesystem::path& dir);

}  // namespace pt::cache
