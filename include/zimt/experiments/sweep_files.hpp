#pragma once
// Small file helpers shared by the sweep runner and the report writer.
#include <filesystem>
#include <string>

namespace zimt::experiments::sweep_files {

// Writes `text` to `path` atomically: a temporary file in the same directory,
// flushed, then renamed over `path`. Throws std::runtime_error naming the file.
void write_atomic(const std::filesystem::path& path, const std::string& text);

// The whole file, or "" when it cannot be read.
std::string read_all(const std::filesystem::path& path);

// The last non-empty line of a file (trimmed), or "" when there is none.
std::string last_line(const std::filesystem::path& path);

}  // namespace zimt::experiments::sweep_files
