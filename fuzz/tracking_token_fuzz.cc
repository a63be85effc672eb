// Fuzzes the tracking component's parsers. The first byte picks what the rest is fed to:
//   0  LinkSigner::verify (token text): never crashes; a token that verifies is exactly the one
//      issue() gives for its claims (one spelling per token)
//   1  decode_claims (decrypted token bytes): what decodes re-encodes to the same bytes, and
//      signs and verifies back to the same claims
//   2  rewrite_html: every click link it writes verifies to an http(s) URL; the pixel is added
//   3  parse_form: first line is the Content-Type, the rest the body
//   4  TrackingHandler::handle: first line "METHOD PATH", the rest the body; answers exactly once
//      with a known status; a redirect only ever goes to an http(s) URL
//   5  parse_bounce_report
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tracking/bounces.h"
#include "tracking/form.h"
#include "tracking/rewrite.h"
#include "tracking/tracking_handler.h"

namespace {

using namespace tp::tracking;

const tp::ManualClock& fuzz_clock() {
  static const tp::ManualClock c(tp::Timestamp(std::chrono::seconds(1795510800)));
  return c;
}

const LinkSigner& signer() {
  static const LinkSigner s =
      std::move(LinkSigner::create("fuzz secret, 32 bytes or more, fixed", "https://t.example", fuzz_clock())).value();
  return s;
}

const TrackingHandler& handler() {
  static const std::unique_ptr<TrackingHandler> h = [] {
    TrackingConfig c;
    c.base_url = "https://t.example";
    c.secret = "fuzz secret, 32 bytes or more, fixed";
    c.company_name = "Fuzz & <Co>";
    c.purposes = {{"newsletter", "Newsletter", "n"}, {"offers", "Offers", ""}};
    return std::move(TrackingHandler::create(
                         c, [](std::vector<std::string>, std::function<void(bool)> done) { done(true); }, fuzz_clock()))
        .value();
  }();
  return *h;
}

void check(bool condition) {
  if (!condition) std::abort();
}

bool same(const LinkClaims& a, const LinkClaims& b) {
  return a.kind == b.kind && a.context.message_key == b.context.message_key && a.context.user_id == b.context.user_id &&
         a.context.journey == b.context.journey && a.context.step == b.context.step && a.url == b.url &&
         a.issued_at == b.issued_at;
}

std::pair<std::string, std::string> first_line(const std::string& text) {
  size_t eol = text.find('\n');
  if (eol == std::string::npos) return {text, ""};
  return {text.substr(0, eol), text.substr(eol + 1)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 6;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 0: {
      auto claims = signer().verify(text);
      if (claims.is_ok()) check(signer().issue(*claims).value() == text);
      break;
    }
    case 1: {
      auto claims = decode_claims(text);
      if (!claims.is_ok()) break;
      check(encode_claims(*claims).value() == text);
      auto token = signer().issue(*claims);
      check(token.is_ok());
      auto back = signer().verify(*token);
      check(back.is_ok() && same(*back, *claims));
      if (claims->kind == LinkKind::kClick) check(normalize_link_url(claims->url) == claims->url);
      break;
    }
    case 2: {
      auto result = rewrite_html(text, signer(), {"k:1:0", "u1", "j", "s"});
      check(result.is_ok() && result->pixel_added);
      const std::string& html = result->html;
      int links = 0;
      const std::string prefix = "\"https://t.example/t/c/";
      for (size_t at = html.find(prefix); at != std::string::npos; at = html.find(prefix, at + 1)) {
        size_t begin = at + prefix.size();
        size_t end = html.find('"', begin);
        if (end == std::string::npos) break;  // input text, not a link of ours
        auto claims = signer().verify(std::string_view(html).substr(begin, end - begin));
        // The input may contain such links itself; those need not verify. Ours must.
        if (claims.is_ok()) {
          check(claims->kind == LinkKind::kClick && normalize_link_url(claims->url).has_value());
          ++links;
        }
      }
      check(links >= result->links_tracked);
      break;
    }
    case 3: {
      auto [content_type, body] = first_line(text);
      auto fields = parse_form(content_type, body);
      (void)fields;
      break;
    }
    case 4: {
      auto [line, body] = first_line(text);
      size_t space = line.find(' ');
      TrackingRequest request;
      request.method = line.substr(0, space);
      request.path = space == std::string::npos ? "" : line.substr(space + 1);
      request.body = body;
      request.content_type = body.rfind("--", 0) == 0 ? "multipart/form-data; boundary=b" : "";
      int answers = 0;
      handler().handle(request, [&](TrackingResponse r) {
        ++answers;
        check(r.status == 200 || r.status == 302 || r.status == 400 || r.status == 404 || r.status == 405 ||
              r.status == 413 || r.status == 415);
        for (const auto& [name, value] : r.headers) {
          if (name == "Location") check(normalize_link_url(value) == value);
          check(value.find('\r') == std::string::npos && value.find('\n') == std::string::npos);
        }
      });
      check(answers == 1);
      break;
    }
    case 5: {
      auto report = parse_bounce_report(text);
      if (report.is_ok()) check(bounce_messages(*report, "u1", fuzz_clock().now()).is_ok());
      break;
    }
  }
  return 0;
}
