#include "tracking/config.h"

#include <fmt/format.h>
#include <set>

#include "base/config_reader.h"
#include "base/file.h"
#include "tracking/links.h"

namespace tp::tracking {
namespace {

constexpr size_t kMaxPurposeIdBytes = 64;
constexpr size_t kMaxLabelBytes = 200;
constexpr size_t kMaxDescriptionBytes = 1000;
constexpr size_t kMaxCompanyNameBytes = 200;

// Why `id` is not a purpose id, or "" when it is one.
std::string purpose_id_problem(const std::string& id) {
  if (id.empty()) return "required";
  if (id.size() > kMaxPurposeIdBytes) return fmt::format("longer than {} characters", kMaxPurposeIdBytes);
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_'));
    if (!ok)
      return fmt::format(
          "'{}' is not an id of lower-case letters, digits, '-' and '_' (starting with a letter or digit)",
          id.substr(0, 80));
  }
  return "";
}

std::string text_problem(const std::string& text, size_t max, bool required) {
  if (required && text.empty()) return "required";
  if (text.size() > max) return fmt::format("longer than {} bytes", max);
  if (!valid_utf8(text)) return "not valid UTF-8";
  return "";
}

using Reader = ConfigReader;

std::string secret_problem(const std::string& secret) {
  if (secret.size() < kMinSecretBytes)
    return fmt::format("at least {} bytes are needed, got {} (make one with: openssl rand -base64 48)", kMinSecretBytes,
                       secret.size());
  return "";
}

TrackingConfig read_tracking(Reader& r, const YAML::Node& n) {
  const std::string p = "tracking";
  TrackingConfig c;
  if (!r.mapping(n, p,
                 {"base_url", "secret", "secret_env", "previous_secrets", "previous_secrets_env", "company_name",
                  "record_client", "purposes"}))
    return c;
  for (const char* key : {"base_url", "company_name"})
    if (!n[key]) r.problem(n.Mark(), p + "." + key, "required");

  if (auto v = r.scalar(n, p, "base_url")) {
    auto base = normalize_base_url(*v);
    if (!base.is_ok())
      r.problem(n["base_url"].Mark(), p + ".base_url",
                base.status().message().substr(std::string_view("base_url: ").size()));
    else
      c.base_url = *base;
  }

  auto direct = r.scalar(n, p, "secret");
  auto variable = r.scalar(n, p, "secret_env");
  if (direct && variable) {
    r.problem(n["secret_env"].Mark(), p + ".secret_env", "give secret or secret_env, not both");
  } else if (direct) {
    c.secret = *direct;
    if (auto why = secret_problem(c.secret); !why.empty()) r.problem(n["secret"].Mark(), p + ".secret", why);
  } else if (variable) {
    auto value = r.env(*variable);
    if (!value || value->empty()) {
      r.problem(n["secret_env"].Mark(), p + ".secret_env",
                fmt::format("environment variable {} is not set", *variable));
    } else {
      c.secret = *value;
      if (auto why = secret_problem(c.secret); !why.empty())
        r.problem(n["secret_env"].Mark(), p + ".secret_env", fmt::format("{}: {}", *variable, why));
    }
  }
  auto previous = r.list(n, p, "previous_secrets");
  for (size_t i = 0; i < previous.size(); ++i) {
    if (auto why = secret_problem(previous[i].first); !why.empty())
      r.problem(previous[i].second, fmt::format("{}.previous_secrets[{}]", p, i), why);
    else
      c.previous_secrets.push_back(previous[i].first);
  }
  auto previous_env = r.list(n, p, "previous_secrets_env");
  for (size_t i = 0; i < previous_env.size(); ++i) {
    std::string path = fmt::format("{}.previous_secrets_env[{}]", p, i);
    auto value = r.env(previous_env[i].first);
    if (!value || value->empty()) {
      r.problem(previous_env[i].second, path, fmt::format("environment variable {} is not set", previous_env[i].first));
    } else if (auto why = secret_problem(*value); !why.empty()) {
      r.problem(previous_env[i].second, path, fmt::format("{}: {}", previous_env[i].first, why));
    } else {
      c.previous_secrets.push_back(*value);
    }
  }

  if (auto v = r.scalar(n, p, "company_name")) {
    c.company_name = *v;
    if (auto why = text_problem(c.company_name, kMaxCompanyNameBytes, true); !why.empty())
      r.problem(n["company_name"].Mark(), p + ".company_name", why);
  }
  r.boolean(n, p, "record_client", c.record_client);

  if (YAML::Node purposes = n["purposes"]) {
    if (!purposes.IsSequence()) {
      r.problem(purposes.Mark(), p + ".purposes", "must be a list of {id, label, description}");
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < purposes.size(); ++i) {
        const YAML::Node item = purposes[i];
        const std::string ip = fmt::format("{}.purposes[{}]", p, i);
        if (!r.mapping(item, ip, {"id", "label", "description"})) continue;
        Purpose purpose;
        if (!item["id"]) r.problem(item.Mark(), ip + ".id", "required");
        if (!item["label"]) r.problem(item.Mark(), ip + ".label", "required");
        if (auto v = r.scalar(item, ip, "id")) {
          purpose.id = *v;
          if (auto why = purpose_id_problem(purpose.id); !why.empty())
            r.problem(item["id"].Mark(), ip + ".id", why);
          else if (!seen.insert(purpose.id).second)
            r.problem(item["id"].Mark(), ip + ".id", fmt::format("'{}' is listed twice", purpose.id));
        }
        if (auto v = r.scalar(item, ip, "label")) {
          purpose.label = *v;
          if (auto why = text_problem(purpose.label, kMaxLabelBytes, true); !why.empty())
            r.problem(item["label"].Mark(), ip + ".label", why);
        }
        if (auto v = r.scalar(item, ip, "description")) {
          purpose.description = *v;
          if (auto why = text_problem(purpose.description, kMaxDescriptionBytes, false); !why.empty())
            r.problem(item["description"].Mark(), ip + ".description", why);
        }
        c.purposes.push_back(std::move(purpose));
      }
    }
  }
  return c;
}

}  // namespace

Status validate_tracking_config(const TrackingConfig& c) {
  const std::string p = "tracking";
  auto base = normalize_base_url(c.base_url);
  if (!base.is_ok()) return invalid_argument(p + "." + base.status().message());
  if (!c.secret.empty())
    if (auto why = secret_problem(c.secret); !why.empty()) return invalid_argument(p + ".secret: " + why);
  for (size_t i = 0; i < c.previous_secrets.size(); ++i)
    if (auto why = secret_problem(c.previous_secrets[i]); !why.empty())
      return invalid_argument(fmt::format("{}.previous_secrets[{}]: {}", p, i, why));
  if (auto why = text_problem(c.company_name, kMaxCompanyNameBytes, true); !why.empty())
    return invalid_argument(p + ".company_name: " + why);
  std::set<std::string> seen;
  for (size_t i = 0; i < c.purposes.size(); ++i) {
    const Purpose& purpose = c.purposes[i];
    const std::string ip = fmt::format("{}.purposes[{}]", p, i);
    if (auto why = purpose_id_problem(purpose.id); !why.empty()) return invalid_argument(ip + ".id: " + why);
    if (!seen.insert(purpose.id).second)
      return invalid_argument(fmt::format("{}.id: '{}' is listed twice", ip, purpose.id));
    if (auto why = text_problem(purpose.label, kMaxLabelBytes, true); !why.empty())
      return invalid_argument(ip + ".label: " + why);
    if (auto why = text_problem(purpose.description, kMaxDescriptionBytes, false); !why.empty())
      return invalid_argument(ip + ".description: " + why);
  }
  return Status::ok();
}

Result<std::optional<TrackingConfig>> parse_tracking_config(const std::string& file, const std::string& text,
                                                            const EnvironmentLookup& env) {
  TP_ASSIGN(YAML::Node section, config_section(file, text, "tracking"));
  if (!section) return std::optional<TrackingConfig>();
  Reader r(file, env);
  TrackingConfig config = read_tracking(r, section);
  TP_TRY(r.status());
  return std::optional<TrackingConfig>(std::move(config));
}

Result<std::optional<TrackingConfig>> load_tracking_config(const std::string& path, const EnvironmentLookup& env) {
  TP_ASSIGN(std::string text, read_file(path));
  return parse_tracking_config(path, text, env);
}

}  // namespace tp::tracking
