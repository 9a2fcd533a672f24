#pragma once
// Whole-file reads and crash-safe writes for the CA directory. Failures here are fatal start-up
// errors, so both throw std::runtime_error with a message that names the path.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace pt::ca {

std::string read_whole_file(const std::filesystem::path& path);

// Replaces `path` so that a reader (or the next start after a crash) sees either the old file or
// the complete new one: the bytes go to a temporary file in the same directory, which is fsynced
// and renamed over `path`, and then the directory is fsynced. The temporary file is born with mode
// 0600 and only then set to `mode`, so a private key is never readable by others, not even briefly.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents, mode_t mode);

}  // namespace pt::ca
