// Fuzzes the Liquid engine and the template-file loader: any bytes give a template or an error
// with a position, never a crash; a template that compiles renders within the limits in every
// escape mode, to valid UTF-8, or fails with a Status that names the place.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/time_format.h"
#include "templates/liquid.h"
#include "templates/template_set.h"
#include "templates/text.h"

namespace {

using namespace tp::templates;

const nlohmann::json& context() {
  static const nlohmann::json c = nlohmann::json::parse(R"({
    "user": {"userId": "u-1", "traits": {"first_name": "Zoë", "segment": "student", "tier": "gold", "age": 36,
             "score": 7.5, "tags": ["a", "b", "c"], "nothing": null, "vip": true, "html": "<b>&\"'</b>",
             "address": {"city": "Malmö", "zip": "211 20"}, "timezone": "America/New_York"}},
    "event": {"event": "Order Completed", "timestamp": "2026-03-05T07:08:09Z",
              "properties": {"total": 1234.5, "items": [{"name": "A", "price": 2.5, "qty": 2}, {"name": "B", "price": 10, "qty": 1}]}},
    "journey": {"id": "onboarding"},
    "numbers": [3, 1, 2, 1e21, -0.5], "matrix": [[1, 2], [3, 4]], "text": "a,b,,c ☕ 😀"
  })");
  return c;
}

bool valid_position(const std::string& message, const std::string& file) {
  if (message.rfind(file + ":", 0) != 0) return false;
  const char* p = message.c_str() + file.size() + 1;
  char* end = nullptr;
  long line = std::strtol(p, &end, 10);
  if (end == p || *end != ':' || line < 1) return false;
  p = end + 1;
  long column = std::strtol(p, &end, 10);
  return end != p && *end == ':' && column >= 1 && end[1] == ' ' && end[2] != '\0';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  static const tp::ManualClock clock(*tp::parse_iso8601("2026-06-01T12:00:00Z"));
  RenderOptions limits;
  limits.timezone = "Europe/Stockholm";
  limits.clock = &clock;
  limits.max_output_bytes = 16 << 10;
  limits.max_memory_bytes = 256 << 10;
  limits.max_loop_iterations = 300;
  limits.max_work = 20000;

  auto t = Template::compile(text, "fuzz.liquid");
  if (!t.is_ok()) {
    if (!valid_position(t.status().message(), "fuzz.liquid")) std::abort();
  } else {
    for (Escape escape : {Escape::kText, Escape::kHtml, Escape::kJson}) {
      RenderOptions options = limits;
      options.escape = escape;
      std::string out;
      tp::Status s = t->render_to(out, context(), options);
      if (!s.is_ok() && !valid_position(s.message(), "fuzz.liquid")) std::abort();
      if (s.is_ok() && (out.size() > options.max_output_bytes || !text::valid_utf8(out))) std::abort();
    }
  }

  // The same bytes as a template file.
  TemplateSet set;
  std::vector<Problem> problems;
  bool added = set.add("fuzz.email.liquid", text, problems);
  if (added != problems.empty()) std::abort();
  for (const auto& p : problems)
    if (p.line < 1 || p.column < 1 || p.message.empty()) std::abort();
  if (added) (void)set.render("fuzz", Channel::kEmail, context(), limits);
  return 0;
}
