#include "channels/config.h"

#include <fmt/format.h>
#include "base/config_reader.h"
#include "base/file.h"

namespace tp::channels {
namespace {

using Reader = ConfigReader;

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
  TP_ASSIGN(YAML::Node channels, config_section(file, text, "channels"));
  ChannelsConfig config;
  if (!channels) return config;
  Reader r(file, env);
  if (r.mapping(channels, "channels", {"smtp", "sms", "webhooks"})) {
    if (YAML::Node n = channels["smtp"]) config.smtp = read_smtp(r, n);
    if (YAML::Node n = channels["sms"]) config.sms = read_sms(r, n);
    if (YAML::Node n = channels["webhooks"]) config.webhooks = read_webhooks(r, n);
  }
  TP_TRY(r.status());
  return config;
}

Result<ChannelsConfig> load_channels_config(const std::string& path, const EnvironmentLookup& env) {
  TP_ASSIGN(std::string text, read_file(path));
  return parse_channels_config(path, text, env);
}

}  // namespace tp::channels
