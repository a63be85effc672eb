#include "channels/dkim.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <vector>

#include "base/crypto.h"
#include "base/file.h"

namespace tp::channels {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

struct Field {
  std::string_view name;
  std::string_view value;  // everything after the colon, folding included, without the final CRLF
};

// Splits the header block (up to the empty line) into fields; `body` gets the rest.
std::vector<Field> parse_header(std::string_view message, std::string_view& body) {
  std::vector<Field> fields;
  size_t pos = 0;
  while (pos < message.size()) {
    if (message.compare(pos, 2, "\r\n") == 0) {  // the empty line
      body = message.substr(pos + 2);
      return fields;
    }
    // A field runs until a CRLF not followed by WSP.
    size_t end = pos;
    while (true) {
      end = message.find("\r\n", end);
      if (end == std::string_view::npos) {
        end = message.size();
        break;
      }
      if (end + 2 < message.size() && is_wsp(message[end + 2])) {
        end += 2;
        continue;
      }
      break;
    }
    std::string_view field = message.substr(pos, end - pos);
    size_t colon = field.find(':');
    if (colon != std::string_view::npos) fields.push_back({field.substr(0, colon), field.substr(colon + 1)});
    pos = end + 2;
  }
  body = {};
  return fields;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_label_text(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-' || c == '_'; });
}

}  // namespace

std::string dkim_relaxed_body(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  size_t pending_empty = 0;  // empty lines held back: dropped if nothing follows them
  size_t i = 0;
  while (i < body.size()) {
    size_t eol = body.find("\r\n", i);
    bool terminated = eol != std::string_view::npos;
    std::string_view line = body.substr(i, (terminated ? eol : body.size()) - i);
    std::string canon;
    bool in_wsp = false;
    for (char c : line) {
      if (is_wsp(c)) {
        in_wsp = true;
      } else {
        if (in_wsp) canon += ' ';
        in_wsp = false;
        canon += c;
      }
    }
    if (canon.empty()) {
      ++pending_empty;
    } else {
      for (; pending_empty > 0; --pending_empty) out += "\r\n";
      out += canon;
      out += "\r\n";
    }
    i = terminated ? eol + 2 : body.size();
  }
  return out;
}

std::string dkim_relaxed_header(std::string_view name, std::string_view value) {
  std::string out;
  for (char c : trim_wsp(name)) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out += ':';
  std::string v;
  bool in_wsp = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold
    if (is_wsp(c)) {
      in_wsp = true;
    } else {
      if (in_wsp && !v.empty()) v += ' ';
      in_wsp = false;
      v += c;
    }
  }
  out += v;  // leading WSP dropped above (v empty), trailing WSP never appended
  return out;
}

Result<DkimSigner> DkimSigner::create(std::string domain, std::string selector, std::string_view pem) {
  if (!valid_label_text(domain) || domain.find('.') == std::string::npos)
    return invalid_argument(fmt::format("dkim.domain: '{}' is not a domain name", domain));
  if (!valid_label_text(selector))
    return invalid_argument(fmt::format("dkim.selector: '{}' is not a DNS label", selector));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) return invalid_argument("dkim key: not a PEM private key");
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  if (EVP_PKEY_base_id(raw) != EVP_PKEY_RSA) return invalid_argument("dkim key: not an RSA key (rsa-sha256 needs one)");
  if (EVP_PKEY_bits(raw) < 1024)
    return invalid_argument(
        fmt::format("dkim key: {} bits is too short (RFC 8301: at least 1024, 2048 recommended)", EVP_PKEY_bits(raw)));
  return DkimSigner(std::move(domain), std::move(selector), std::move(key));
}

Result<DkimSigner> DkimSigner::load(std::string domain, std::string selector, const std::string& key_path) {
  TP_ASSIGN(std::string pem, read_file(key_path));
  auto signer = create(std::move(domain), std::move(selector), pem);
  if (!signer.is_ok()) return invalid_argument(fmt::format("{}: {}", key_path, signer.status().message()));
  return signer;
}

std::string DkimSigner::dns_record() const {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key_.get(), &der);
  std::string p = n > 0 ? base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n))) : "";
  OPENSSL_free(der);
  return "v=DKIM1; k=rsa; p=" + p;
}

Result<std::string> DkimSigner::signature_field(std::string_view message, Timestamp now) const {
  std::string_view body;
  std::vector<Field> fields = parse_header(message, body);

  // h=: each signed name present, then "from" once more. Instances are taken from the bottom
  // up (RFC 6376 5.4.2); an h= entry with no instance left signs the empty string.
  std::vector<std::string_view> names;
  for (std::string_view name : kSignedHeaders) {
    size_t count =
        std::count_if(fields.begin(), fields.end(), [&](const Field& f) { return iequals(trim_wsp(f.name), name); });
    for (size_t k = 0; k < count; ++k) names.push_back(name);
  }
  if (std::find(names.begin(), names.end(), "from") == names.end())
    return invalid_argument("dkim: the message has no From header field");
  names.push_back("from");

  std::string hashed;
  std::vector<bool> used(fields.size(), false);
  std::string h;
  for (std::string_view name : names) {
    if (!h.empty()) h += ':';
    h += name;
    for (size_t k = fields.size(); k-- > 0;) {
      if (!used[k] && iequals(trim_wsp(fields[k].name), name)) {
        used[k] = true;
        hashed += dkim_relaxed_header(fields[k].name, fields[k].value);
        hashed += "\r\n";
        break;
      }
    }
  }

  std::string bh = base64_encode(sha256(dkim_relaxed_body(body)));
  long long t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // Folded at tag boundaries; relaxed canonicalization makes the folds irrelevant to the hash.
  std::string field = fmt::format(
      "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={}; s={};\r\n\tt={};\r\n\th={};\r\n\tbh={};\r\n\tb=",
      domain_, selector_, t, h, bh);
  std::string_view unsigned_field(field);
  unsigned_field.remove_prefix(std::string_view("DKIM-Signature:").size());
  hashed += dkim_relaxed_header("DKIM-Signature", unsigned_field);  // no CRLF after this one

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSignUpdate(ctx.get(), hashed.data(), hashed.size()) != 1 ||
      EVP_DigestSignFinal(ctx.get(), nullptr, &length) != 1)
    return internal_error("dkim: OpenSSL could not start signing");
  std::string signature(length, '\0');
  if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length) != 1)
    return internal_error("dkim: OpenSSL signing failed");
  signature.resize(length);

  std::string b = base64_encode(signature);
  for (size_t i = 0; i < b.size(); i += 72) {
    if (i > 0) field += "\r\n\t ";
    field.append(b, i, 72);
  }
  field += "\r\n";
  return field;
}

Status DkimSigner::sign(std::string& message, Timestamp now) const {
  TP_ASSIGN(std::string field, signature_field(message, now));
  message.insert(0, field);
  return Status::ok();
}

}  // namespace tp::channels
