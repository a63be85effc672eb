#include "channels/smtp.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "channels/curl_util.h"

namespace tp::channels {
namespace {

using internal::CurlEasy;
using internal::CurlSlist;

// Per-slot state the libcurl callbacks see.
struct Transfer {
  std::string_view upload;  // the message being sent
  size_t offset = 0;
  std::string reply;        // the server's last reply line ("250 2.0.0 Ok: queued")
  std::string error_reply;  // its last 4xx/5xx reply line ("550 5.1.1 No such user")
};

size_t read_message(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = std::min(size * count, t->upload.size() - t->offset);
  std::memcpy(buffer, t->upload.data() + t->offset, n);
  t->offset += n;
  return n;
}

// With CURLOPT_VERBOSE, libcurl hands every server reply line here (CURLINFO_HEADER_IN).
int trace(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  std::string_view line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > 200) line = line.substr(0, 200);
  auto* t = static_cast<Transfer*>(user);
  // After a refusal libcurl says QUIT; keep the refusal, not the "221 Bye".
  (!line.empty() && (line[0] == '4' || line[0] == '5') ? t->error_reply : t->reply).assign(line);
  return 0;
}

std::string bracket_host(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

bool local_error(CURLcode code) {
  return code == CURLE_URL_MALFORMAT || code == CURLE_BAD_FUNCTION_ARGUMENT || code == CURLE_UNSUPPORTED_PROTOCOL ||
         code == CURLE_NOT_BUILT_IN || code == CURLE_OUT_OF_MEMORY || code == CURLE_UNKNOWN_OPTION;
}

}  // namespace

struct SmtpPool::Slot {
  CurlEasy easy;
  char error[CURL_ERROR_SIZE] = {};
  Transfer transfer;
};

SmtpPool::SmtpPool(const SmtpConfig& config) : config_(config) {}

Result<std::unique_ptr<SmtpPool>> SmtpPool::create(const SmtpConfig& config) {
  if (config.host.empty()) return invalid_argument("smtp.host: required");
  if (config.port <= 0 || config.port > 65535)
    return invalid_argument(fmt::format("smtp.port: {} is not a TCP port", config.port));
  if (config.pool_size == 0 || config.pool_size > 256)
    return invalid_argument(fmt::format("smtp.pool_size: {} is not within 1..256", config.pool_size));
  if (config.helo_name.empty() || config.helo_name.find_first_of(" /?#\r\n") != std::string::npos)
    return invalid_argument(fmt::format("smtp.helo_name: '{}' is not a host name", config.helo_name));
  internal::ensure_curl_initialized();

  std::unique_ptr<SmtpPool> pool(new SmtpPool(config));
  pool->url_ = fmt::format("{}://{}:{}/{}", config.tls == SmtpTls::kImplicit ? "smtps" : "smtp",
                           bracket_host(config.host), config.port, config.helo_name);
  for (size_t i = 0; i < config.pool_size; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->easy.reset(curl_easy_init());
    if (!slot->easy) return internal_error("smtp: curl_easy_init failed");
    CURL* h = slot->easy.get();
    long use_ssl = CURLUSESSL_NONE;
    if (config.tls == SmtpTls::kOpportunistic) use_ssl = CURLUSESSL_TRY;
    if (config.tls == SmtpTls::kRequired || config.tls == SmtpTls::kImplicit) use_ssl = CURLUSESSL_ALL;
    // Options that stay for the life of the slot; the per-message ones are set in send().
    curl_easy_setopt(h, CURLOPT_URL, pool->url_.c_str());
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    if (!config.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config.ca_file.c_str());
    if (!config.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, config.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, config.password.c_str());
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // never through an environment proxy
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout.count()));
    curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, std::max(1L, static_cast<long>(config.max_idle.count() / 1000)));
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);  // one connection per slot
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(h, CURLOPT_READDATA, &slot->transfer);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, slot->error);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // only to see reply lines: trace() keeps the last
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, trace);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &slot->transfer);
    pool->free_.push_back(slot.get());
    pool->slots_.push_back(std::move(slot));
  }
  return pool;
}

SmtpPool::~SmtpPool() = default;  // curl_easy_cleanup sends QUIT on open connections

SmtpPool::Slot* SmtpPool::acquire() {
  std::unique_lock lock(mu_);
  freed_.wait(lock, [&] { return !free_.empty(); });
  Slot* slot = free_.back();
  free_.pop_back();
  return slot;
}

void SmtpPool::release(Slot* slot) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }
  freed_.notify_one();
}

SmtpStats SmtpPool::stats() const { return {attempts_.load(), delivered_.load(), connections_.load()}; }

DeliveryResult SmtpPool::send(const std::string& envelope_from, const std::vector<std::string>& recipients,
                              std::string_view data, const std::string& provider_id) {
  if (recipients.empty()) return DeliveryResult::permanent_error("smtp: no recipients");
  CurlSlist rcpt;
  for (const auto& r : recipients) {
    if (r.find_first_of("<>\r\n ") != std::string::npos || r.empty())
      return DeliveryResult::permanent_error(fmt::format("smtp: '{}' is not a recipient address", r));
    if (!internal::slist_append(rcpt, "<" + r + ">")) return DeliveryResult::temporary_error("smtp: out of memory");
  }
  if (envelope_from.find_first_of("<>\r\n ") != std::string::npos)
    return DeliveryResult::permanent_error("smtp: the envelope sender is not an address");
  std::string mail_from = "<" + envelope_from + ">";

  Slot* slot = acquire();
  CURL* h = slot->easy.get();
  slot->error[0] = '\0';
  slot->transfer = Transfer{data, 0, {}, {}};
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
  CURLcode rc = curl_easy_perform(h);
  long code = 0, connects = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  std::string reply = std::move(slot->transfer.reply);
  std::string error_reply = std::move(slot->transfer.error_reply);
  std::string error = internal::curl_error_text(rc, slot->error);
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, nullptr);  // `rcpt` dies with this call
  release(slot);

  attempts_.fetch_add(1, std::memory_order_relaxed);
  connections_.fetch_add(static_cast<uint64_t>(connects), std::memory_order_relaxed);
  int status = static_cast<int>(code);
  if (rc == CURLE_OK) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    return DeliveryResult::success(provider_id, reply.empty() ? "accepted" : reply, status);
  }
  std::string reason = error_reply.empty() ? fmt::format("smtp: {}", error)
                                           : fmt::format("smtp: {} (server said: {})", error, error_reply);
  if (status >= 500 && status < 600) return DeliveryResult::permanent_error(reason, status);
  if (status >= 400 && status < 500) return DeliveryResult::temporary_error(reason, status);
  if (local_error(rc)) return DeliveryResult::permanent_error(reason, status);
  return DeliveryResult::temporary_error(reason, status);  // no reply: connection, TLS or timeout
}

Result<std::unique_ptr<EmailSender>> EmailSender::create(const SmtpConfig& config, const Clock& clock) {
  std::unique_ptr<EmailSender> sender(new EmailSender(config, clock));
  if (!config.dkim.key_path.empty()) {
    TP_ASSIGN(auto signer, DkimSigner::load(config.dkim.domain, config.dkim.selector, config.dkim.key_path));
    sender->signer_.emplace(std::move(signer));
  }
  TP_ASSIGN(sender->pool_, SmtpPool::create(config));
  return sender;
}

Result<ComposedEmail> EmailSender::compose(const EmailMessage& message) const {
  const EmailMessage* m = &message;
  EmailMessage with_defaults;
  if (message.from.email.empty() || (message.message_id_domain.empty() && !config_.message_id_domain.empty())) {
    with_defaults = message;
    if (with_defaults.from.email.empty()) with_defaults.from = config_.from;
    if (with_defaults.message_id_domain.empty()) with_defaults.message_id_domain = config_.message_id_domain;
    m = &with_defaults;
  }
  TP_ASSIGN(ComposedEmail email, compose_email(*m, clock_));
  if (signer_) TP_TRY(signer_->sign(email.data, clock_.now()));
  return email;
}

DeliveryResult EmailSender::send(const EmailMessage& message) {
  auto email = compose(message);
  if (!email.is_ok()) {
    if (email.status().code() == StatusCode::kInvalidArgument)
      return DeliveryResult::permanent_error("email: " + email.status().message());
    return DeliveryResult::temporary_error("email: " + email.status().message());
  }
  return pool_->send(*email);
}

}  // namespace tp::channels
