// Test support: a real HTTP/1.1 server (Boost.Beast) on loopback, in this process, on its own
// thread. Each request is recorded and answered by a handler; an answer may "hang" (no reply,
// connection kept open) to test timeouts. Stopped and joined on destruction.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"

namespace tp::channels::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct CannedResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;  // never answer
};

class LoopbackHttpServer {
 public:
  using Handler = std::function<CannedResponse(const RecordedRequest&)>;
  // `address`: "127.0.0.1" or "::1". The handler runs on the server's thread.
  static Result<std::unique_ptr<LoopbackHttpServer>> start(const std::string& address, Handler handler);
  ~LoopbackHttpServer();

  int port() const { return port_; }
  std::vector<RecordedRequest> requests() const;

  struct Impl;

 private:
  LoopbackHttpServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace tp::channels::testing
