#include "http/auth.h"

#include <mutex>

#include "base/crypto.h"

namespace tp::http {
namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

}  // namespace

std::string generate_key(storage::KeyKind kind) {
  return (kind == storage::KeyKind::kAdmin ? "tp_a_" : "tp_w_") + hex_encode(random_bytes(32));
}

std::string key_hash(std::string_view key) { return sha256(key); }

Result<std::optional<storage::KeyKind>> KeyCache::lookup(std::string_view key) {
  std::string hash = key_hash(key);
  {
    std::shared_lock lock(mu_);
    auto it = known_.find(hash);
    if (it != known_.end()) return std::optional<storage::KeyKind>(it->second);
  }
  std::optional<storage::ApiKey> found;
  TP_TRY(readers_.with_reader([&](storage::Reader& r) -> Status {
    TP_ASSIGN(found, r.find_key(hash));
    return Status::ok();
  }));
  if (!found) return std::optional<storage::KeyKind>();
  std::unique_lock lock(mu_);
  known_[hash] = found->kind;
  return std::optional<storage::KeyKind>(found->kind);
}

std::optional<std::string> basic_user(std::string_view authorization) {
  if (!starts_with_ci(authorization, "basic ")) return std::nullopt;
  std::string_view encoded = authorization.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = base64_decode(encoded);
  if (!decoded) return std::nullopt;
  return decoded->substr(0, decoded->find(':'));
}

std::optional<std::string> bearer_token(std::string_view authorization) {
  if (!starts_with_ci(authorization, "bearer ")) return std::nullopt;
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return std::string(token);
}

}  // namespace tp::http
