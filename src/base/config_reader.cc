#include "base/config_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace tp {

std::optional<std::string> process_environment(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<YAML::Node> config_section(const std::string& file, const std::string& text, const char* section) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid_argument(fmt::format("{}:{}:{}: YAML syntax: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (!root || root.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  if (!root.IsMap()) return invalid_argument(fmt::format("{}:1:1: the file must be a mapping (key: value lines)", file));
  YAML::Node n = root[section];
  if (!n || n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return n;
}

ConfigReader::ConfigReader(std::string file, const EnvironmentLookup& env)
    : file_(std::move(file)), base_dir_(std::filesystem::path(file_).parent_path().string()), env_(env) {}

void ConfigReader::problem(const YAML::Mark& m, const std::string& path, const std::string& message) {
  problems_.push_back(
      fmt::format("{}:{}:{}: {}: {}", file_, std::max(m.line, 0) + 1, std::max(m.column, 0) + 1, path, message));
}

Status ConfigReader::status() const {
  if (problems_.empty()) return Status::ok();
  std::string all;
  for (const auto& p : problems_) all += (all.empty() ? "" : "\n") + p;
  return invalid_argument(all);
}

bool ConfigReader::mapping(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known) {
  if (!n.IsMap()) {
    problem(n.Mark(), path, "must be a mapping (key: value lines)");
    return false;
  }
  std::set<std::string> names(known.begin(), known.end());
  for (const auto& kv : n) {
    std::string key = kv.first.Scalar();
    if (!names.count(key)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      problem(kv.first.Mark(), path + "." + key, "unknown key (known: " + list + ")");
    }
  }
  return true;
}

std::optional<std::string> ConfigReader::scalar(const YAML::Node& parent, const std::string& path, const char* key) {
  YAML::Node n = parent[key];
  if (!n) return std::nullopt;
  if (!n.IsScalar()) {
    problem(n.Mark(), path + "." + key, "must be a single value");
    return std::nullopt;
  }
  return n.Scalar();
}

void ConfigReader::string(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
  if (auto v = scalar(parent, path, key)) out = *v;
}

void ConfigReader::path_value(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
  if (auto v = scalar(parent, path, key)) {
    std::filesystem::path p(*v);
    out = p.is_relative() && !base_dir_.empty() ? (std::filesystem::path(base_dir_) / p).string() : p.string();
  }
}

void ConfigReader::secret(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
  std::string env_key = std::string(key) + "_env";
  auto direct = scalar(parent, path, key);
  auto variable = scalar(parent, path, env_key.c_str());
  if (direct && variable) {
    problem(parent[env_key].Mark(), path + "." + env_key, fmt::format("give {} or {}, not both", key, env_key));
  } else if (direct) {
    out = *direct;
  } else if (variable) {
    auto value = env_(*variable);
    if (!value || value->empty())
      problem(parent[env_key].Mark(), path + "." + env_key, fmt::format("environment variable {} is not set", *variable));
    else
      out = *value;
  }
}

void ConfigReader::boolean(const YAML::Node& parent, const std::string& path, const char* key, bool& out) {
  auto v = scalar(parent, path, key);
  if (!v) return;
  if (*v == "true") out = true;
  else if (*v == "false") out = false;
  else problem(parent[key].Mark(), path + "." + key, fmt::format("'{}' is not true or false", v->substr(0, 40)));
}

std::optional<long long> ConfigReader::whole_number(const YAML::Node& parent, const std::string& path,
                                                    const char* key, long long min, long long max) {
  auto v = scalar(parent, path, key);
  if (!v) return std::nullopt;
  long long x = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || end != v->data() + v->size() || x < min || x > max) {
    problem(parent[key].Mark(), path + "." + key, fmt::format("'{}' is not a whole number from {} to {}", *v, min, max));
    return std::nullopt;
  }
  return x;
}

void ConfigReader::positive_number(const YAML::Node& parent, const std::string& path, const char* key, double& out,
                                   double max) {
  auto v = scalar(parent, path, key);
  if (!v) return;
  double x = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || end != v->data() + v->size() || !(x > 0) || x > max) {
    problem(parent[key].Mark(), path + "." + key, fmt::format("'{}' is not a number above 0 and at most {}", *v, max));
    return;
  }
  out = x;
}

void ConfigReader::duration(const YAML::Node& parent, const std::string& path, const char* key, Millis& out,
                            Millis max) {
  auto v = scalar(parent, path, key);
  if (!v) return;
  long long x = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  std::string_view unit(end, static_cast<size_t>(v->data() + v->size() - end));
  long long scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000 : 0;
  if (ec != std::errc() || scale == 0 || x <= 0) {
    problem(parent[key].Mark(), path + "." + key, fmt::format("'{}' is not a duration like 500ms, 10s or 2m", *v));
    return;
  }
  if (x > max.count() / scale) {
    problem(parent[key].Mark(), path + "." + key, fmt::format("'{}' is longer than {} s", *v, max.count() / 1000));
    return;
  }
  out = Millis(x * scale);
}

std::vector<std::pair<std::string, YAML::Mark>> ConfigReader::list(const YAML::Node& parent, const std::string& path,
                                                                   const char* key) {
  std::vector<std::pair<std::string, YAML::Mark>> out;
  YAML::Node n = parent[key];
  if (!n) return out;
  if (!n.IsSequence()) {
    problem(n.Mark(), path + "." + key, "must be a list, like [A, B]");
    return out;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar())
      problem(n[i].Mark(), fmt::format("{}.{}[{}]", path, key, i), "must be a single value");
    else
      out.emplace_back(n[i].Scalar(), n[i].Mark());
  }
  return out;
}

}  // namespace tp
