// Test support: the aiosmtpd sink (smtp_sink.py) as a child process on loopback.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "channels/testing/subprocess.h"

namespace tp::channels::testing {

struct SmtpSinkOptions {
  std::string host = "127.0.0.1";
  std::string tls_cert, tls_key;  // offer STARTTLS with these
  bool require_starttls = false;
  std::string auth;  // "user:password": AUTH required
};

struct ReceivedMessage {
  std::string data;         // the bytes received after DATA, as the server stored them
  nlohmann::json envelope;  // mail_from, rcpt_tos, connection, tls, auth
  std::filesystem::path file;
};

class SmtpSinkProcess {
 public:
  // Starts the sink writing into `dir` and waits until it listens.
  static Result<std::unique_ptr<SmtpSinkProcess>> start(const std::filesystem::path& dir,
                                                        const SmtpSinkOptions& options = {});
  int port() const { return port_; }
  // Everything received so far, in order.
  std::vector<ReceivedMessage> messages() const;

 private:
  SmtpSinkProcess(ChildProcess child, std::filesystem::path dir, int port)
      : child_(std::move(child)), dir_(std::move(dir)), port_(port) {}
  ChildProcess child_;
  std::filesystem::path dir_;
  int port_;
};

}  // namespace tp::channels::testing
