#pragma once
// Validation problems found in a JSON document, each naming the JSON pointer
// at fault ("/optimizer/n: must be > 0, got -5"). Validators collect every
// problem instead of stopping at the first, so a user fixes a config in one go.
#include <stdexcept>
#include <string>
#include <vector>

namespace zimt::runs {

struct ConfigError {
  std::string pointer;  // RFC 6901 JSON pointer, "" for the document itself
  std::string message;  // "must be > 0, got -5"
  std::string str() const { return (pointer.empty() ? std::string("/") : pointer) + ": " + message; }
};

using ConfigErrors = std::vector<ConfigError>;

// Thrown when a document failed validation; what() lists every problem, one per line.
class ConfigInvalid : public std::runtime_error {
 public:
  ConfigInvalid(const std::string& source, ConfigErrors errors)
      : std::runtime_error(format(source, errors)), errors_(std::move(errors)) {}
  const ConfigErrors& errors() const { return errors_; }

 private:
  static std::string format(const std::string& source, const ConfigErrors& errors) {
    std::string s = source + ": " + std::to_string(errors.size()) + (errors.size() == 1 ? " problem" : " problems");
    for (const auto& e : errors) s += "\n  " + e.str();
    return s;
  }
  ConfigErrors errors_;
};

}  // namespace zimt::runs
