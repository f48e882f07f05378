// Shared pieces of the libFuzzer harnesses (one harness per reader of
// outside data). A harness feeds the fuzzer's bytes to a reader the way the
// CLI does and lets only the reader's documented errors pass: a
// std::runtime_error (ConfigInvalid included) or std::invalid_argument with
// a message. Any other exception (std::bad_alloc, std::length_error, a
// nlohmann::json exception that escaped, std::out_of_range, ...) means the
// reader reached a state its checks did not catch, so the harness aborts and
// libFuzzer records the input as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace zimt::fuzz {

// A private directory for the files a reader opens by path, made once per
// process under $TMPDIR and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "zimt-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("zimt fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

// Writes `bytes` to scratch_dir()/name (replacing it) and returns the path.
inline std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "zimt fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Splits the input at NUL bytes into at most `max_parts` parts (the last
// part keeps any further NULs), so one input can hold several files.
inline std::vector<std::string_view> split_parts(const uint8_t* data, size_t size, size_t max_parts) {
  std::vector<std::string_view> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < max_parts) {
    const size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(rest.substr(0, nul));
    rest.remove_prefix(nul + 1);
  }
  parts.push_back(rest);
  return parts;
}

// Runs `read`; a documented error returns normally, anything else aborts.
template <class Read>
void expect_clean_errors(Read&& read) {
  try {
    read();
  } catch (const std::runtime_error&) {
  } catch (const std::invalid_argument&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zimt fuzz: undocumented exception escaped the reader: %s\n", e.what());
    std::abort();
  }
}

}  // namespace zimt::fuzz
