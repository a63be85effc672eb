#include "tracking/links.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "base/crypto.h"

namespace tp::tracking {
namespace {

constexpr unsigned char kTokenVersion = 1;
constexpr size_t kTagBytes = 16;
// Labels that separate the two keys derived from one secret, and the derived secret.
constexpr std::string_view kEncryptionLabel = "touchpoint tracking v1 encryption key";
constexpr std::string_view kMacLabel = "touchpoint tracking v1 mac key";
constexpr std::string_view kDerivedSecretLabel = "touchpoint tracking v1 link secret";
// 9999-12-31T23:59:59Z: issue times beyond it are refused (and the varint stays short).
constexpr long long kMaxIssueSeconds = 253402300799LL;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a canonical LEB128 varint (no redundant trailing zero groups).
std::optional<std::uint64_t> read_varint(std::string_view& in) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return std::nullopt;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && byte > 1) return std::nullopt;
    v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift != 0) return std::nullopt;  // overlong
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> read_field(std::string_view& in, size_t max) {
  auto length = read_varint(in);
  if (!length || *length > max || *length > in.size()) return std::nullopt;
  std::string_view field = in.substr(0, static_cast<size_t>(*length));
  in.remove_prefix(static_cast<size_t>(*length));
  return field;
}

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// AES-256-CTR; encryption and decryption are the same operation.
Result<std::string> aes_ctr(std::string_view key, std::string_view iv, std::string_view in) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) return internal_error("tracking: EVP_CIPHER_CTX_new failed");
  std::string out(in.size(), '\0');
  int written = 0;
  int final_written = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(iv.data())) != 1 ||
      (!in.empty() &&
       EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                         reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + written, &final_written) != 1)
    return internal_error("tracking: AES-256-CTR failed");
  return out;
}

std::string tag_for(std::string_view mac_key, std::string_view claims) {
  std::string data;
  data.reserve(claims.size() + 1);
  data.push_back(static_cast<char>(kTokenVersion));
  data.append(claims);
  return hmac_sha256(mac_key, data).substr(0, kTagBytes);
}

Status check_field(std::string_view name, std::string_view value, bool required) {
  if (required && value.empty()) return invalid_argument(fmt::format("{}: required", name));
  if (value.size() > kMaxTokenFieldBytes)
    return invalid_argument(fmt::format("{}: longer than {} bytes", name, kMaxTokenFieldBytes));
  if (!valid_utf8(value)) return invalid_argument(fmt::format("{}: not valid UTF-8", name));
  return Status::ok();
}

Status check_claims(const LinkClaims& c) {
  if (c.kind < LinkKind::kOpen || c.kind > LinkKind::kPreferences) return invalid_argument("kind: unknown link kind");
  TP_TRY(check_field("message_key", c.context.message_key, true));
  TP_TRY(check_field("user_id", c.context.user_id, true));
  TP_TRY(check_field("journey", c.context.journey, false));
  TP_TRY(check_field("step", c.context.step, false));
  if (c.kind == LinkKind::kClick) {
    auto normalized = normalize_link_url(c.url);
    if (!normalized || *normalized != c.url)
      return invalid_argument(
          "url: not an absolute http(s) URL with a host (at most 4096 bytes, no control characters)");
  } else if (!c.url.empty()) {
    return invalid_argument("url: only click links carry a URL");
  }
  long long seconds = std::chrono::floor<std::chrono::seconds>(c.issued_at).time_since_epoch().count();
  if (seconds < 0 || seconds > kMaxIssueSeconds) return invalid_argument("issued_at: out of range");
  return Status::ok();
}

}  // namespace

std::string_view link_kind_name(LinkKind kind) {
  switch (kind) {
    case LinkKind::kOpen:
      return "open";
    case LinkKind::kClick:
      return "click";
    case LinkKind::kUnsubscribe:
      return "unsubscribe";
    case LinkKind::kPreferences:
      return "preferences";
  }
  return "unknown";
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                      static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Left-over bits (2 or 4) must be zero: otherwise two texts would decode to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::optional<std::string> normalize_link_url(std::string_view url) {
  auto is_trimmed = [](unsigned char c) { return c <= 0x20; };  // C0 controls and space
  while (!url.empty() && is_trimmed(static_cast<unsigned char>(url.front()))) url.remove_prefix(1);
  while (!url.empty() && is_trimmed(static_cast<unsigned char>(url.back()))) url.remove_suffix(1);
  std::string out;
  out.reserve(url.size());
  for (char ch : url) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\t' || c == '\n' || c == '\r') continue;  // browsers drop these anywhere in a URL
    if (c < 0x20 || c == 0x7F) return std::nullopt;
    out.push_back(ch);
  }
  if (out.size() > kMaxLinkUrlBytes || !valid_utf8(out)) return std::nullopt;
  size_t authority = 0;
  if (starts_with_ignoring_case(out, "http://"))
    authority = 7;
  else if (starts_with_ignoring_case(out, "https://"))
    authority = 8;
  else
    return std::nullopt;
  size_t end = out.find_first_of("/?#\\", authority);
  std::string_view host =
      std::string_view(out).substr(authority, end == std::string::npos ? std::string::npos : end - authority);
  if (size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  if (host.empty() || host.front() == ':') return std::nullopt;
  return out;
}

Result<std::string> encode_claims(const LinkClaims& claims) {
  TP_TRY(check_claims(claims));
  std::string out;
  out.push_back(static_cast<char>(claims.kind));
  append_varint(out, static_cast<std::uint64_t>(
                         std::chrono::floor<std::chrono::seconds>(claims.issued_at).time_since_epoch().count()));
  for (std::string_view field : {std::string_view(claims.context.message_key), std::string_view(claims.context.user_id),
                                 std::string_view(claims.context.journey), std::string_view(claims.context.step)}) {
    append_varint(out, field.size());
    out.append(field);
  }
  if (claims.kind == LinkKind::kClick) {
    append_varint(out, claims.url.size());
    out.append(claims.url);
  }
  return out;
}

Result<LinkClaims> decode_claims(std::string_view in) {
  auto bad = [](std::string_view what) { return invalid_argument(fmt::format("tracking token: {}", what)); };
  if (in.empty()) return bad("empty");
  LinkClaims c;
  auto kind = static_cast<unsigned char>(in.front());
  in.remove_prefix(1);
  if (kind < 1 || kind > 4) return bad("unknown link kind");
  c.kind = static_cast<LinkKind>(kind);
  auto seconds = read_varint(in);
  if (!seconds || *seconds > static_cast<std::uint64_t>(kMaxIssueSeconds)) return bad("bad issue time");
  c.issued_at = Timestamp(std::chrono::seconds(static_cast<long long>(*seconds)));
  std::string* fields[] = {&c.context.message_key, &c.context.user_id, &c.context.journey, &c.context.step};
  for (std::string* field : fields) {
    auto value = read_field(in, kMaxTokenFieldBytes);
    if (!value) return bad("truncated or over-long field");
    *field = std::string(*value);
  }
  if (c.kind == LinkKind::kClick) {
    auto value = read_field(in, kMaxLinkUrlBytes);
    if (!value) return bad("truncated or over-long URL");
    c.url = std::string(*value);
  }
  if (!in.empty()) return bad("trailing bytes");
  if (Status s = check_claims(c); !s.is_ok()) return bad(s.message());
  return c;
}

Result<LinkSigner> LinkSigner::create(std::string_view secret, std::string_view base_url, const Clock& clock,
                                      const std::vector<std::string>& previous_secrets) {
  auto keys_for = [](std::string_view s) { return Keys{hmac_sha256(s, kEncryptionLabel), hmac_sha256(s, kMacLabel)}; };
  if (secret.size() < kMinSecretBytes)
    return invalid_argument(
        fmt::format("secret: at least {} bytes are needed, got {}", kMinSecretBytes, secret.size()));
  std::vector<Keys> keys{keys_for(secret)};
  for (size_t i = 0; i < previous_secrets.size(); ++i) {
    if (previous_secrets[i].size() < kMinSecretBytes)
      return invalid_argument(fmt::format("previous_secrets[{}]: at least {} bytes are needed", i, kMinSecretBytes));
    keys.push_back(keys_for(previous_secrets[i]));
  }
  TP_ASSIGN(std::string base, normalize_base_url(base_url));
  return LinkSigner(std::move(keys), std::move(base), clock);
}

Result<std::string> normalize_base_url(std::string_view base_url) {
  std::string base(base_url);
  if (!base.empty() && base.back() == '/') base.pop_back();
  auto normalized = normalize_link_url(base);
  size_t authority = starts_with_ignoring_case(base, "https://") ? 8 : 7;
  if (!normalized || *normalized != base || base.find_first_of("/?#\\@ ", authority) != std::string::npos)
    return invalid_argument(
        fmt::format("base_url: '{}' is not an origin like https://t.example.com or http://127.0.0.1:8710 (no path)",
                    base_url.substr(0, 200)));
  return base;
}

Timestamp LinkSigner::now() const { return std::chrono::floor<std::chrono::seconds>(clock_->now()); }

Result<std::string> LinkSigner::issue(const LinkClaims& claims) const {
  TP_ASSIGN(std::string plain, encode_claims(claims));
  const Keys& k = keys_.front();
  std::string tag = tag_for(k.mac, plain);
  TP_ASSIGN(std::string cipher, aes_ctr(k.enc, tag, plain));
  std::string body;
  body.reserve(cipher.size() + 1);
  body.push_back(static_cast<char>(kTokenVersion));
  body += cipher;
  return base64url_encode(body) + "." + base64url_encode(tag);
}

Result<LinkClaims> LinkSigner::verify(std::string_view token) const {
  auto refuse = [](std::string_view why) { return not_found(fmt::format("tracking token: {}", why)); };
  if (token.size() > kMaxTokenChars) return refuse("too long");
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return refuse("malformed");
  auto body = base64url_decode(token.substr(0, dot));
  auto tag = base64url_decode(token.substr(dot + 1));
  if (!body || !tag || body->size() < 2 || tag->size() != kTagBytes) return refuse("malformed");
  if (static_cast<unsigned char>(body->front()) != kTokenVersion) return refuse("unknown version");
  std::string_view cipher = std::string_view(*body).substr(1);
  for (const Keys& k : keys_) {
    TP_ASSIGN(std::string plain, aes_ctr(k.enc, *tag, cipher));
    std::string expected = tag_for(k.mac, plain);
    if (CRYPTO_memcmp(expected.data(), tag->data(), kTagBytes) != 0) continue;
    auto claims = decode_claims(plain);
    // A correctly tagged token we cannot read was issued by a different version: refuse it.
    if (!claims.is_ok()) return refuse(claims.status().message());
    return claims;
  }
  return refuse("signature does not match");
}

Result<std::string> LinkSigner::url_for(const LinkClaims& claims) const {
  TP_ASSIGN(std::string token, issue(claims));
  return base_url_ + link_path(claims.kind, token);
}

Result<std::string> LinkSigner::url(LinkKind kind, const LinkContext& context, std::string_view destination) const {
  LinkClaims claims{kind, context, {}, now()};
  if (kind == LinkKind::kClick) {
    auto normalized = normalize_link_url(destination);
    if (!normalized)
      return invalid_argument(
          fmt::format("url: '{}' is not an absolute http(s) URL with a host", destination.substr(0, 80)));
    claims.url = std::move(*normalized);
  } else if (!destination.empty()) {
    return invalid_argument("url: only click links take a destination");
  }
  return url_for(claims);
}

Result<EmailLinks> LinkSigner::email_links(const LinkContext& context) const {
  Timestamp issued = now();
  EmailLinks links;
  TP_ASSIGN(links.open_url, url_for({LinkKind::kOpen, context, {}, issued}));
  TP_ASSIGN(links.unsubscribe_url, url_for({LinkKind::kUnsubscribe, context, {}, issued}));
  TP_ASSIGN(links.preferences_url, url_for({LinkKind::kPreferences, context, {}, issued}));
  return links;
}

std::string link_path(LinkKind kind, std::string_view token) {
  switch (kind) {
    case LinkKind::kOpen:
      return fmt::format("/t/o/{}.gif", token);
    case LinkKind::kClick:
      return fmt::format("/t/c/{}", token);
    case LinkKind::kUnsubscribe:
      return fmt::format("/t/u/{}", token);
    case LinkKind::kPreferences:
      return fmt::format("/t/p/{}", token);
  }
  return {};
}

std::string derive_tracking_secret(std::string_view master_secret) {
  return hmac_sha256(master_secret, kDerivedSecretLabel);
}

}  // namespace tp::tracking
