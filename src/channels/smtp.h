// SMTP delivery over libcurl, with a pool of kept-open connections.
//
// SmtpPool holds `pool_size` slots; each slot is one libcurl easy handle and keeps its SMTP
// connection open between messages (MAIL FROM / RCPT TO / DATA again on the same session), so
// a busy sender pays for TCP, TLS and AUTH once per slot instead of once per message. send()
// takes a free slot (waiting for one when all are busy), makes one attempt and classifies it:
//
//   250 after DATA                      -> kDelivered, provider_id = the Message-ID
//   a 4xx reply (at any stage)          -> kTemporary
//   a 5xx reply (at any stage)          -> kPermanent
//   no reply: connect/TLS/timeout/reset -> kTemporary
//   bad configuration (URL, arguments)  -> kPermanent
//
// All recipients of one send() are accepted or the message is not sent (one RCPT refused
// fails the whole attempt). SMTP has no idempotency: a retry after a lost final reply can
// deliver twice; the Message-ID stays the same so receivers can tell (docs/channels.md).
//
// EmailSender = compose_email + DKIM (when configured) + SmtpPool: the adapter the outbox uses.
//
// Thread-safe: send() may be called from many threads; at most pool_size run at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "channels/delivery.h"
#include "channels/dkim.h"
#include "channels/email.h"

namespace tp::channels {

enum class SmtpTls {
  kNone,           // plain text, never STARTTLS
  kOpportunistic,  // STARTTLS when the server offers it, else plain text
  kRequired,       // STARTTLS, or fail (temporary error) when the server does not offer it
  kImplicit,       // TLS from the first byte (SMTPS, usually port 465)
};

struct DkimConfig {
  std::string key_path;  // PEM RSA private key; empty: do not sign
  std::string selector;
  std::string domain;
};

struct SmtpConfig {
  std::string host;
  int port = 587;
  SmtpTls tls = SmtpTls::kRequired;
  std::string ca_file;   // PEM bundle to trust instead of the system's; empty: system CAs
  std::string username;  // AUTH when not empty
  std::string password;
  std::string helo_name = "localhost";  // the EHLO argument
  size_t pool_size = 4;                 // connections kept open
  Millis connect_timeout{10'000};
  Millis timeout{60'000};         // one whole message, connecting included
  Millis max_idle{60'000};        // a connection idle longer is replaced, not reused
  EmailAddress from;              // default sender when a message has none
  std::string message_id_domain;  // default: the sender's domain
  DkimConfig dkim;
};

struct SmtpStats {
  uint64_t attempts = 0;
  uint64_t delivered = 0;
  uint64_t connections_opened = 0;  // new TCP connections; attempts - this = reuses
};

class SmtpPool {
 public:
  static Result<std::unique_ptr<SmtpPool>> create(const SmtpConfig& config);
  ~SmtpPool();  // says QUIT on every open connection
  SmtpPool(const SmtpPool&) = delete;
  SmtpPool& operator=(const SmtpPool&) = delete;

  // One attempt to hand `data` (a whole message, CRLF line ends) to the server.
  // `provider_id` is echoed into the result on success (the Message-ID).
  DeliveryResult send(const std::string& envelope_from, const std::vector<std::string>& recipients,
                      std::string_view data, const std::string& provider_id);
  DeliveryResult send(const ComposedEmail& email) {
    return send(email.envelope_from, email.recipients, email.data, email.message_id);
  }

  SmtpStats stats() const;

 private:
  struct Slot;
  explicit SmtpPool(const SmtpConfig& config);
  Slot* acquire();
  void release(Slot* slot);

  SmtpConfig config_;
  std::string url_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<Slot*> free_;  // GUARDED_BY(mu_); LIFO so that warm connections are reused first
  std::atomic<uint64_t> attempts_{0}, delivered_{0}, connections_{0};
};

class EmailSender {
 public:
  // Loads the DKIM key when configured; errors name the key file.
  static Result<std::unique_ptr<EmailSender>> create(const SmtpConfig& config, const Clock& clock);

  // Composes (config.from when the message has no sender), signs, sends. A message that cannot
  // be composed is a kPermanent result naming the field.
  DeliveryResult send(const EmailMessage& message);
  // Compose and sign only: what send() would put on the wire.
  Result<ComposedEmail> compose(const EmailMessage& message) const;

  SmtpPool& pool() { return *pool_; }

 private:
  EmailSender(const SmtpConfig& config, const Clock& clock) : config_(config), clock_(clock) {}
  SmtpConfig config_;
  const Clock& clock_;
  std::optional<DkimSigner> signer_;
  std::unique_ptr<SmtpPool> pool_;
};

}  // namespace tp::channels
