#include "channels/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "base/file.h"

namespace tp::channels {
namespace {

class Reader {
 public:
  Reader(std::string file, const EnvironmentLookup& env) : file_(std::move(file)), env_(env) {
    base_dir_ = std::filesystem::path(file_).parent_path();
  }

  void problem(const YAML::Mark& m, const std::string& path, const std::string& message) {
    problems_.push_back(
        fmt::format("{}:{}:{}: {}: {}", file_, std::max(m.line, 0) + 1, std::max(m.column, 0) + 1, path, message));
  }
  const std::vector<std::string>& problems() const { return problems_; }

  // A mapping whose keys must all be in `known`.
  bool mapping(const YAML::Node& n, const std::string& path, std::initializer_list<const char*> known) {
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

  std::optional<std::string> scalar(const YAML::Node& parent, const std::string& path, const char* key) {
    YAML::Node n = parent[key];
    if (!n) return std::nullopt;
    if (!n.IsScalar()) {
      problem(n.Mark(), path + "." + key, "must be a single value");
      return std::nullopt;
    }
    return n.Scalar();
  }

  void string(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
    if (auto v = scalar(parent, path, key)) out = *v;
  }

  void path_value(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
    if (auto v = scalar(parent, path, key)) {
      std::filesystem::path p(*v);
      out = p.is_relative() && !base_dir_.empty() ? (base_dir_ / p).string() : p.string();
    }
  }

  // `key` or `key_env` (the name of an environment variable), not both.
  void secret(const YAML::Node& parent, const std::string& path, const char* key, std::string& out) {
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
        problem(parent[env_key].Mark(), path + "." + env_key,
                fmt::format("environment variable {} is not set", *variable));
      else
        out = *value;
    }
  }

  template <typename T>
  void integer(const YAML::Node& parent, const std::string& path, const char* key, T& out, long long min,
               long long max) {
    auto v = scalar(parent, path, key);
    if (!v) return;
    long long x = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
    if (ec != std::errc() || end != v->data() + v->size() || x < min || x > max) {
      problem(parent[key].Mark(), path + "." + key,
              fmt::format("'{}' is not a whole number from {} to {}", *v, min, max));
      return;
    }
    out = static_cast<T>(x);
  }

  void duration(const YAML::Node& parent, const std::string& path, const char* key, Millis& out) {
    auto v = scalar(parent, path, key);
    if (!v) return;
    long long x = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
    std::string_view unit(end, static_cast<size_t>(v->data() + v->size() - end));
    long long scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : 0;
    if (ec != std::errc() || scale == 0 || x <= 0 || x > 3'600'000) {
      problem(parent[key].Mark(), path + "." + key, fmt::format("'{}' is not a duration like 500ms, 10s or 2m", *v));
      return;
    }
    out = Millis(x * scale);
  }

  std::optional<std::string> env(const std::string& name) const { return env_(name); }

 private:
  std::string file_;
  std::filesystem::path base_dir_;
  const EnvironmentLookup& env_;
  std::vector<std::string> problems_;
};

SmtpConfig read_smtp(Reader& r, const YAML::Node& n) {
  const std::string p = "channels.smtp";
  SmtpConfig c;
  if (!r.mapping(n, p,
                 {"host", "port", "tls", "ca_file", "username", "password", "password_env", "helo_name", "pool_size",
                  "connect_timeout", "timeout", "max_idle", "from", "message_id_domain", "dkim"}))
    return c;
  if (!n["host"]) r.problem(n.Mark(), p + ".host", "required");
  r.string(n, p, "host", c.host);
  r.integer(n, p, "port", c.port, 1, 65535);
  if (auto tls = r.scalar(n, p, "tls")) {
    if (*tls == "none")
      c.tls = SmtpTls::kNone;
    else if (*tls == "opportunistic")
      c.tls = SmtpTls::kOpportunistic;
    else if (*tls == "required")
      c.tls = SmtpTls::kRequired;
    else if (*tls == "implicit")
      c.tls = SmtpTls::kImplicit;
    else
      r.problem(n["tls"].Mark(), p + ".tls",
                fmt::format("'{}' is not one of none, opportunistic, required, implicit", *tls));
  }
  r.path_value(n, p, "ca_file", c.ca_file);
  r.string(n, p, "username", c.username);
  r.secret(n, p, "password", c.password);
  if (!c.username.empty() && c.password.empty() && !n["password"] && !n["password_env"])
    r.problem(n["username"].Mark(), p + ".password", "a username needs a password (password or password_env)");
  r.string(n, p, "helo_name", c.helo_name);
  r.integer(n, p, "pool_size", c.pool_size, 1, 256);
  r.duration(n, p, "connect_timeout", c.connect_timeout);
  r.duration(n, p, "timeout", c.timeout);
  r.duration(n, p, "max_idle", c.max_idle);
  if (auto from = r.scalar(n, p, "from")) {
    auto mailbox = parse_mailbox(*from);
    if (!mailbox)
      r.problem(n["from"].Mark(), p + ".from",
                fmt::format("'{}' is not an address like \"Shop <news@shop.example>\"", *from));
    else
      c.from = *mailbox;
  }
  r.string(n, p, "message_id_domain", c.message_id_domain);
  if (YAML::Node d = n["dkim"]) {
    const std::string dp = p + ".dkim";
    if (r.mapping(d, dp, {"key_path", "selector", "domain"})) {
      for (const char* key : {"key_path", "selector", "domain"})
        if (!d[key]) r.problem(d.Mark(), dp + "." + key, "required when dkim is given");
      r.path_value(d, dp, "key_path", c.dkim.key_path);
      r.string(d, dp, "selector", c.dkim.selector);
      r.string(d, dp, "domain", c.dkim.domain);
    }
  }
  return c;
}

SmsConfig read_sms(Reader& r, const YAML::Node& n) {
  const std::string p = "channels.sms";
  SmsConfig c;
  if (!r.mapping(n, p,
                 {"base_url", "account", "token", "token_env", "sender_id", "status_callback_url", "connect_timeout",
                  "timeout", "pool_size", "ca_file"}))
    return c;
  for (const char* key : {"base_url", "account", "sender_id"})
    if (!n[key]) r.problem(n.Mark(), p + "." + key, "required");
  if (!n["token"] && !n["token_env"]) r.problem(n.Mark(), p + ".token", "required (token or token_env)");
  r.string(n, p, "base_url", c.base_url);
  if (n["base_url"] && c.base_url.rfind("https://", 0) != 0 && c.base_url.rfind("http://", 0) != 0)
    r.problem(n["base_url"].Mark(), p + ".base_url", fmt::format("'{}' is not an http(s) URL", c.base_url));
  r.string(n, p, "account", c.account);
  r.secret(n, p, "token", c.token);
  r.string(n, p, "sender_id", c.sender_id);
  r.string(n, p, "status_callback_url", c.status_callback_url);
  r.duration(n, p, "connect_timeout", c.connect_timeout);
  r.duration(n, p, "timeout", c.timeout);
  r.integer(n, p, "pool_size", c.pool_size, 1, 256);
  r.path_value(n, p, "ca_file", c.ca_file);
  return c;
}

WebhookConfig read_webhooks(Reader& r, const YAML::Node& n) {
  const std::string p = "channels.webhooks";
  WebhookConfig c;
  if (!r.mapping(n, p,
                 {"secret", "secret_env", "connect_timeout", "timeout", "allow", "pool_size", "user_agent", "ca_file"}))
    return c;
  r.secret(n, p, "secret", c.secret);
  if (!c.secret.empty()) {
    auto key = decode_webhook_secret(c.secret);
    YAML::Node at = n["secret"] ? n["secret"] : n["secret_env"];
    if (!key.is_ok())
      r.problem(at.Mark(), p + ".secret", key.status().message().substr(std::string_view("secret: ").size()));
  }
  r.duration(n, p, "connect_timeout", c.connect_timeout);
  r.duration(n, p, "timeout", c.timeout);
  r.integer(n, p, "pool_size", c.pool_size, 1, 256);
  r.string(n, p, "user_agent", c.user_agent);
  r.path_value(n, p, "ca_file", c.ca_file);
  if (YAML::Node allow = n["allow"]) {
    if (!allow.IsSequence()) {
      r.problem(allow.Mark(), p + ".allow", "must be a list of networks, like [10.1.0.0/16]");
    } else {
      for (size_t i = 0; i < allow.size(); ++i) {
        std::string path = fmt::format("{}.allow[{}]", p, i);
        if (!allow[i].IsScalar() || !IpNetwork::parse(allow[i].Scalar()))
          r.problem(allow[i].Mark(), path,
                    fmt::format("'{}' is not an IP network like 10.0.0.0/8 or ::1",
                                allow[i].IsScalar() ? allow[i].Scalar() : "…"));
        else
          c.allow.push_back(allow[i].Scalar());
      }
    }
  }
  return c;
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::optional<EmailAddress> parse_mailbox(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  text = trim(text);
  EmailAddress a;
  size_t open = text.rfind('<');
  if (open != std::string_view::npos && !text.empty() && text.back() == '>') {
    a.email = std::string(text.substr(open + 1, text.size() - open - 2));
    std::string_view name = trim(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    a.display_name = std::string(name);
  } else {
    a.email = std::string(text);
  }
  if (!valid_email_address(a.email)) return std::nullopt;
  return a;
}

Result<ChannelsConfig> parse_channels_config(const std::string& file, const std::string& text,
                                             const EnvironmentLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return invalid_argument(fmt::format("{}:{}:{}: YAML syntax: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  ChannelsConfig config;
  Reader r(file, env);
  if (!root || root.IsNull()) return config;
  if (!root.IsMap())
    return invalid_argument(fmt::format("{}:1:1: the file must be a mapping (key: value lines)", file));
  YAML::Node channels = root["channels"];
  if (!channels || channels.IsNull()) return config;
  if (r.mapping(channels, "channels", {"smtp", "sms", "webhooks"})) {
    if (YAML::Node n = channels["smtp"]) config.smtp = read_smtp(r, n);
    if (YAML::Node n = channels["sms"]) config.sms = read_sms(r, n);
    if (YAML::Node n = channels["webhooks"]) config.webhooks = read_webhooks(r, n);
  }
  if (!r.problems().empty()) {
    std::string all;
    for (const auto& p : r.problems()) all += (all.empty() ? "" : "\n") + p;
    return invalid_argument(all);
  }
  return config;
}

Result<ChannelsConfig> load_channels_config(const std::string& path, const EnvironmentLookup& env) {
  TP_ASSIGN(std::string text, read_file(path));
  return parse_channels_config(path, text, env);
}

}  // namespace tp::channels
