// Signed, encrypted link tokens for email engagement tracking and consent pages.
//
// A token names one link of one delivered message: its kind (open pixel, click redirect,
// unsubscribe, preferences), the delivery's idempotency key, the user id, the journey and step,
// for a click the destination URL, and when it was issued. URLs, served by TrackingHandler:
//
//   {base_url}/t/o/{token}.gif   open pixel          {base_url}/t/u/{token}   unsubscribe
//   {base_url}/t/c/{token}       click redirect      {base_url}/t/p/{token}   preferences
//
// Token = base64url(version ‖ ciphertext) "." base64url(tag), no padding, where
//   tag        = HMAC-SHA256(mac_key, version ‖ claims)[0..16)     (128 bits)
//   ciphertext = AES-256-CTR(enc_key, iv = tag, claims)
// and mac_key / enc_key are HMAC-SHA256(secret, label) for two fixed labels. This is the SIV
// construction (deterministic authenticated encryption): the claims are signed *and* hidden, so
// no user id, message key or destination shows in the URL; the same claims give the same token.
// Verification decrypts, recomputes the tag and compares in constant time; every failure is
// the same kNotFound to the caller. Docs: docs/tracking.md.
//
// Thread-safety: a LinkSigner is immutable after create(); all const methods may be called
// from any number of threads. It keeps a reference to the Clock, which must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace tp::tracking {

enum class LinkKind : std::uint8_t { kOpen = 1, kClick = 2, kUnsubscribe = 3, kPreferences = 4 };

// "open", "click", "unsubscribe", "preferences".
std::string_view link_kind_name(LinkKind kind);

// Which message a link belongs to.
struct LinkContext {
  std::string message_key;  // the delivery's idempotency key; required
  std::string user_id;      // required
  std::string journey;      // may be empty (a message outside journeys)
  std::string step;         // may be empty
};

// What a verified token says.
struct LinkClaims {
  LinkKind kind = LinkKind::kOpen;
  LinkContext context;
  std::string url;      // kClick: the http(s) destination; empty otherwise
  Timestamp issued_at;  // whole seconds
};

// The links an email needs besides its click links.
struct EmailLinks {
  std::string open_url;         // the pixel's src
  std::string unsubscribe_url;  // List-Unsubscribe (RFC 8058 one-click POST target) and body link
  std::string preferences_url;  // "manage preferences" body link
};

// Limits (bytes) checked when issuing and when verifying.
inline constexpr size_t kMaxTokenFieldBytes = 512;  // message key, user id, journey, step
inline constexpr size_t kMaxLinkUrlBytes = 4096;    // a click destination
inline constexpr size_t kMaxTokenChars = 8192;      // a token in a URL
inline constexpr size_t kMinSecretBytes = 32;

class LinkSigner {
 public:
  // `secret`: at least kMinSecretBytes bytes (any bytes). `base_url`: "https://t.example.com"
  // or "http://127.0.0.1:8710" — scheme, host, optional port; a trailing "/" is dropped; no path,
  // query or fragment. `previous_secrets` still verify (rotation) but never sign.
  // Errors: kInvalidArgument naming `secret`, `base_url` or `previous_secrets[i]`.
  static Result<LinkSigner> create(std::string_view secret, std::string_view base_url, const Clock& clock,
                                   const std::vector<std::string>& previous_secrets = {});

  // A link of `kind` for `context`, issued now. `destination` only for kClick: an absolute
  // http(s) URL (see normalize_link_url); empty otherwise.
  // Errors: kInvalidArgument naming the field (`message_key`, `user_id`, `url`, …).
  Result<std::string> url(LinkKind kind, const LinkContext& context, std::string_view destination = {}) const;
  // Open, unsubscribe and preferences links, all issued at the same second.
  Result<EmailLinks> email_links(const LinkContext& context) const;

  // The token alone (what follows /t/x/ in the URL, without ".gif").
  Result<std::string> issue(const LinkClaims& claims) const;
  // The URL for already-checked claims: base_url + path + token.
  Result<std::string> url_for(const LinkClaims& claims) const;
  // Checks a token: kNotFound for anything malformed, forged, tampered or out of limits.
  Result<LinkClaims> verify(std::string_view token) const;

  const std::string& base_url() const { return base_url_; }
  // "{base_url}/t/": every tracking URL starts with it.
  std::string tracking_prefix() const { return base_url_ + "/t/"; }
  Timestamp now() const;

 private:
  struct Keys {
    std::string enc;  // AES-256 key
    std::string mac;  // HMAC-SHA256 key
  };
  LinkSigner(std::vector<Keys> keys, std::string base_url, const Clock& clock)
      : keys_(std::move(keys)), base_url_(std::move(base_url)), clock_(&clock) {}

  std::vector<Keys> keys_;  // [0] signs; all verify
  std::string base_url_;
  const Clock* clock_;
};

// The canonical form of a base URL ("https://t.example.com", a trailing '/' dropped), or
// kInvalidArgument naming `base_url` when it is not an http(s) origin without path or userinfo.
Result<std::string> normalize_base_url(std::string_view base_url);

// Path shapes, as the handler matches them: "/t/o/" + token + ".gif", "/t/c/" + token, …
std::string link_path(LinkKind kind, std::string_view token);

// A 32-byte secret derived from a longer-lived one (e.g. the data directory's secret) for
// deployments that do not configure tracking.secret: HMAC-SHA256(master, fixed label).
std::string derive_tracking_secret(std::string_view master_secret);

// Building blocks, exposed for tests and the fuzzer.
//
// RFC 4648 §5 without padding. Decoding is strict: only the URL-safe alphabet, no padding, and
// the unused low bits of the last character must be zero, so every byte string has exactly one
// encoding (a changed character never decodes to the same bytes).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);
// The claims as bytes (before encryption): kind, issue time (varint seconds), then each field
// as varint length + bytes; the URL only for kClick. decode_claims refuses anything that
// encode_claims would not produce (unknown kind, over-long fields, trailing bytes, bad URL,
// invalid UTF-8).
Result<std::string> encode_claims(const LinkClaims& claims);
Result<LinkClaims> decode_claims(std::string_view bytes);
// A click destination as it will be signed and redirected to: ASCII whitespace trimmed, tabs
// and line breaks removed (as browsers do), then it must be an absolute http:// or https:// URL
// with a host, at most kMaxLinkUrlBytes. nullopt otherwise.
std::optional<std::string> normalize_link_url(std::string_view url);
// Whether `s` is valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace tp::tracking
