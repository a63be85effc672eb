// Test and benchmark support: a minimal, fast SMTP sink (Boost.Asio) on loopback, in this
// process, on its own thread. It speaks just enough ESMTP for real clients (EHLO/HELO, MAIL,
// RCPT, DATA, RSET, NOOP, QUIT), accepts every message, counts messages, bytes and
// connections, and throws the data away. For throughput measurements, where aiosmtpd would be
// the bottleneck; the correctness tests use aiosmtpd (smtp_sink.py).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "base/status.h"

namespace tp::channels::testing {

class FastSmtpSink {
 public:
  static Result<std::unique_ptr<FastSmtpSink>> start();
  ~FastSmtpSink();

  int port() const { return port_; }
  uint64_t messages() const;
  uint64_t bytes() const;
  uint64_t connections() const;

  struct Impl;

 private:
  FastSmtpSink(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace tp::channels::testing
