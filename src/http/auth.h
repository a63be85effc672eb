// API keys: write keys for ingestion (HTTP Basic user name), admin keys for the management API
// (Bearer). Only the SHA-256 of a key is stored.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/store.h"

namespace tp::http {

// A new random key: "tp_w_..." (write) or "tp_a_..." (admin), 32 random bytes hex-encoded.
std::string generate_key(storage::KeyKind kind);
std::string key_hash(std::string_view key);

// Looks keys up in the store and remembers the ones it found. Thread-safe.
// Keys created while the server runs (touchpoint key create) are found on first use.
class KeyCache {
 public:
  explicit KeyCache(storage::ReaderPool& readers) : readers_(readers) {}
  // nullopt when the key is unknown.
  Result<std::optional<storage::KeyKind>> lookup(std::string_view key);

 private:
  storage::ReaderPool& readers_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, storage::KeyKind> known_;  // GUARDED_BY(mu_); by hash
};

// The user name of an HTTP Basic "Authorization" header value; nullopt when not Basic.
std::optional<std::string> basic_user(std::string_view authorization);
// The token of a "Bearer" header value; nullopt when not Bearer.
std::optional<std::string> bearer_token(std::string_view authorization);

}  // namespace tp::http
