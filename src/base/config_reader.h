// Reading a section of touchpoint.yaml (channels:, tracking:, delivery:) with every problem
// reported as "file:line:col: section.key: message", all of them at once.
//
// Not thread-safe; one reader per file being read.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace tp {

// Looks up an environment variable (secrets: `password_env: VARIABLE`); nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> process_environment(const std::string& name);

// The top-level `section` of the YAML `text` (an undefined node when the file has none).
// kInvalidArgument "file:line:col: …" for a syntax error or a file that is not a mapping.
Result<YAML::Node> config_section(const std::string& file, const std::string& text, const char* section);

class ConfigReader {
 public:
  // Relative paths (path_value) are taken relative to `file`'s directory.
  ConfigReader(std::string file, const EnvironmentLookup& env);

  void problem(const YAML::Mark& m, const std::string& path, const std::string& message);
  const std::vector<std::string>& problems() const { return problems_; }
  // OK, or kInvalidArgument with one problem per line.
  Status status() const;

  // A mapping whose keys must all be in `known`.
  bool mapping(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known);
  std::optional<std::string> scalar(const YAML::Node& parent, const std::string& path, const char* key);
  void string(const YAML::Node& parent, const std::string& path, const char* key, std::string& out);
  // A file path, made absolute against the file's directory.
  void path_value(const YAML::Node& parent, const std::string& path, const char* key, std::string& out);
  // `key` or `key_env` (the name of an environment variable), not both.
  void secret(const YAML::Node& parent, const std::string& path, const char* key, std::string& out);
  void boolean(const YAML::Node& parent, const std::string& path, const char* key, bool& out);
  // A whole number in [min, max].
  template <typename T>
  void integer(const YAML::Node& parent, const std::string& path, const char* key, T& out, long long min,
               long long max) {
    if (auto v = whole_number(parent, path, key, min, max)) out = static_cast<T>(*v);
  }
  // A number (decimals allowed) in (0, max].
  void positive_number(const YAML::Node& parent, const std::string& path, const char* key, double& out, double max);
  // A duration with a unit: 500ms, 10s, 2m, 6h; in [1 ms, max].
  void duration(const YAML::Node& parent, const std::string& path, const char* key, Millis& out,
                Millis max = std::chrono::hours(1));
  // A list of single values, `key: [a, b]`, each with where it is.
  std::vector<std::pair<std::string, YAML::Mark>> list(const YAML::Node& parent, const std::string& path,
                                                       const char* key);

  std::optional<std::string> env(const std::string& name) const { return env_(name); }

 private:
  std::optional<long long> whole_number(const YAML::Node& parent, const std::string& path, const char* key,
                                        long long min, long long max);

  std::string file_;
  std::string base_dir_;
  const EnvironmentLookup& env_;
  std::vector<std::string> problems_;
};

}  // namespace tp
