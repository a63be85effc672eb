// Liquid templates: parse once, render many times against a JSON context.
//
// The dialect is liquidjs' (10.30, default options plus strictFilters): same tags, filters,
// whitespace control and output, byte for byte, on the corpus in testdata/corpus (docs/templates.md
// lists what is supported and the few deliberate differences).
//
//   TP_ASSIGN(auto t, Template::compile("Hi {{ user.traits.first_name | default: 'there' }}", "x.liquid"));
//   TP_ASSIGN(std::string s, t.render(context, {.escape = Escape::kHtml}));
//
// Ownership and threads: a Template is an immutable, reference-counted program; copies are cheap
// and any number of threads may render the same Template at once. A render reads the context
// without copying it and keeps nothing after it returns.
//
// Errors: compile() fails with kInvalidArgument and "file:line:col: what was wrong" (unknown
// tag, unclosed block, unknown filter, bad expression, bad arguments). render() fails with
// kInvalidArgument for a filter that cannot work on its input (url_decode of a malformed escape,
// an unknown time zone), kTooLarge when a limit of RenderOptions is reached; both name file:line:col
// of the tag or output. Unknown variables are not errors: they render as empty.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace tp::templates {

struct Program;

// How every {{ }} output (and echo, cycle) is escaped. An output whose last filter is `raw` is
// never escaped. kJson also leaves outputs ending in `json`/`jsonify` alone.
enum class Escape {
  kText,  // as is (subjects, SMS, plain-text email)
  kHtml,  // & < > " ' as entities (liquidjs' outputEscape: "escape")
  kJson,  // as the inside of a JSON string literal: \" \\ \n \u0001 (webhook bodies)
};

struct RenderOptions {
  Escape escape = Escape::kText;
  // The zone of the `date` filter when it is given none: an IANA name such as
  // "Europe/Stockholm", or "UTC".
  std::string timezone = "UTC";
  // The time of "now" / "today" in `date`; the system clock when null.
  const Clock* clock = nullptr;
  // Bounds against hostile or runaway templates; reaching one fails the render with kTooLarge.
  std::size_t max_output_bytes = 1 << 20;       // the rendered text
  std::size_t max_memory_bytes = 16 << 20;      // strings and arrays built while rendering
  std::uint64_t max_loop_iterations = 100'000;  // all for/tablerow iterations together
  std::uint64_t max_work = 50'000'000;          // roughly: characters and elements processed
};

// Where a template's text starts in its file, so errors inside a part of a larger file (a
// template file's front matter or {% part %}) point at the right line and column.
struct SourceOrigin {
  int line = 1;
  int column = 1;
};

// Templates larger than this are refused by compile().
inline constexpr std::size_t kMaxTemplateBytes = 1 << 20;

class Template {
 public:
  static Result<Template> compile(std::string_view text, std::string_view file = "template", SourceOrigin origin = {});

  // Appends the output to `out`. On error `out` holds whatever was rendered before it.
  Status render_to(std::string& out, const nlohmann::json& context, const RenderOptions& options = {}) const;
  Result<std::string> render(const nlohmann::json& context, const RenderOptions& options = {}) const;

  const std::string& file() const;

 private:
  explicit Template(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const Program> program_;
};

}  // namespace tp::templates
