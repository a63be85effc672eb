// DKIM signing (RFC 6376): rsa-sha256, relaxed/relaxed canonicalization.
//
// A DkimSigner holds one RSA private key (at least 1024 bits, RFC 8301) for one signing domain
// (d=) and selector (s=). sign() prepends a DKIM-Signature header field to a composed message
// (compose_email's output: CRLF line ends). Signed fields: those of kSignedHeaders present in
// the message, plus From once more ("over-signing", so that nobody can add a second From
// without breaking the signature). RFC 8058 requires List-Unsubscribe and
// List-Unsubscribe-Post to be signed: they are in the list.
//
// Thread-safe: sign() may run on many threads at once (each uses its own OpenSSL context).
// Errors: kInvalidArgument for a bad key, selector or domain; kInternal when OpenSSL fails.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace tp::channels {

class DkimSigner {
 public:
  // `private_key_pem`: "-----BEGIN PRIVATE KEY-----" (PKCS#8) or "BEGIN RSA PRIVATE KEY".
  static Result<DkimSigner> create(std::string domain, std::string selector, std::string_view private_key_pem);
  // Reads the PEM file at `key_path`; errors name the path.
  static Result<DkimSigner> load(std::string domain, std::string selector, const std::string& key_path);

  // Prepends "DKIM-Signature: …" to `message`. `now` gives t=.
  Status sign(std::string& message, Timestamp now) const;
  // The header field alone (ending in CRLF), for a message with CRLF line ends.
  Result<std::string> signature_field(std::string_view message, Timestamp now) const;

  const std::string& domain() const { return domain_; }
  const std::string& selector() const { return selector_; }
  // The DNS TXT record to publish at <selector>._domainkey.<domain>: "v=DKIM1; k=rsa; p=…".
  std::string dns_record() const;

 private:
  DkimSigner(std::string domain, std::string selector, std::shared_ptr<EVP_PKEY> key)
      : domain_(std::move(domain)), selector_(std::move(selector)), key_(std::move(key)) {}
  std::string domain_;
  std::string selector_;
  std::shared_ptr<EVP_PKEY> key_;  // read-only after creation
};

// Header field names signed when present, in h= order.
inline constexpr std::string_view kSignedHeaders[] = {"from",
                                                      "to",
                                                      "cc",
                                                      "reply-to",
                                                      "subject",
                                                      "date",
                                                      "message-id",
                                                      "mime-version",
                                                      "content-type",
                                                      "content-transfer-encoding",
                                                      "list-unsubscribe",
                                                      "list-unsubscribe-post",
                                                      "list-id",
                                                      "feedback-id"};

// Canonicalization, exposed for tests. Relaxed body: WSP runs become one SP, WSP at line ends
// and empty lines at the end go, a non-empty body ends in one CRLF. Relaxed header: lower-case
// name, unfolded value with WSP runs reduced and trimmed: "name:value" (no CRLF).
std::string dkim_relaxed_body(std::string_view body);
std::string dkim_relaxed_header(std::string_view name, std::string_view value);

}  // namespace tp::channels
