// The `channels:` section of touchpoint.yaml: SMTP (email), SMS and webhook settings.
//
//   channels:
//     smtp: { host, port, tls, ca_file, username, password | password_env, helo_name,
//             pool_size, connect_timeout, timeout, max_idle, from, message_id_domain,
//             dkim: { key_path, selector, domain } }
//     sms: { base_url, account, token | token_env, sender_id, status_callback_url,
//            connect_timeout, timeout, pool_size, ca_file }
//     webhooks: { secret | secret_env, connect_timeout, timeout, allow: [CIDR…], pool_size,
//                 user_agent, ca_file }
//
// Reference: docs/channels.md. A missing section leaves that channel unconfigured; keys
// outside `channels:` belong to other components and are ignored. Durations take a unit
// ("500ms", "10s", "2m"). Relative file paths are relative to the YAML file's directory.
// Secrets may come from the environment (`*_env: VARIABLE`) instead of the file.
//
// Errors: kInvalidArgument, one "file:line:col: channels.smtp.port: …" line per problem.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/config_reader.h"
#include "base/status.h"
#include "channels/sms.h"
#include "channels/smtp.h"
#include "channels/webhook.h"

namespace tp::channels {

struct ChannelsConfig {
  std::optional<SmtpConfig> smtp;
  std::optional<SmsConfig> sms;
  std::optional<WebhookConfig> webhooks;
};

// `file` names the text in messages and anchors relative paths.
Result<ChannelsConfig> parse_channels_config(const std::string& file, const std::string& text,
                                             const EnvironmentLookup& env = process_environment);
Result<ChannelsConfig> load_channels_config(const std::string& path,
                                            const EnvironmentLookup& env = process_environment);

// "Name <email>" or "email" (the name may be quoted). nullopt when no valid address is found.
std::optional<EmailAddress> parse_mailbox(std::string_view text);

}  // namespace tp::channels
