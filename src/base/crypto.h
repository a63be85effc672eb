// Hashes, random tokens and base64, on OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tp {

// Raw 32-byte digests.
std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
// 20 bytes. Only for protocols that still use it (Twilio's callback signature).
std::string hmac_sha1(std::string_view key, std::string_view data);
// Whether a == b, in time that depends only on the sizes (comparing signatures).
bool equal_in_constant_time(std::string_view a, std::string_view b);
// `bytes` cryptographically random bytes.
std::string random_bytes(size_t bytes);

std::string hex_encode(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; nullopt when the text is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tp
