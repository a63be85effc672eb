// One render of a Program: the interpreter, and what filters may use of it (the arena, the
// options, errors, the work budget, the lambdas of where_exp & co). A Renderer lives for one
// render on one thread. Internal to src/templates.
#pragma once

#include <date/tz.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "templates/program.h"

namespace tp::templates {

class Renderer {
 public:
  Renderer(const Program& program, const nlohmann::json& context, const RenderOptions& options, std::string& out);
  Status run();

  // ---- for filters ----
  Arena& arena() { return arena_; }
  const RenderOptions& options() const { return options_; }
  // Records the first error, at the position of the tag, output or filter being rendered.
  void fail(StatusCode code, const std::string& message);
  bool failed() const { return !error_.is_ok(); }
  // Counts work (characters, elements); false once the budget is spent (the render has failed).
  bool charge(std::uint64_t work);
  // A string kept for the rest of the render.
  Value keep(std::string&& s);
  // Evaluates the expression of where_exp & co with its variable bound to `item`.
  Value call_lambda(const FilterCall& call, const Value& item);
  Timestamp now();
  // The zone for a name, or null (and a failed render) when there is no such zone.
  const date::time_zone* zone(std::string_view name);
  const date::time_zone* default_zone();
  const std::string& default_zone_name() const { return options_.timezone; }

 private:
  struct Slot {
    Value value;
    bool set = false;
  };
  enum class Interrupt { kNone, kBreak, kContinue };

  void render_block(const Block& block);
  void render_node(const Node& node);
  void render_for(const ForNode& node);
  void render_tablerow(const ForNode& node);
  void write_output(const Value& v, const FilteredValue& fv);
  bool check_output();
  Value eval(const Expr& e);
  Value eval_filtered(const FilteredValue& fv);
  Value lookup(int slot);
  Value lookup_name(std::string_view name);
  Value context_root(std::string_view name);
  // liquidjs' toEnumerable: arrays as they are, a non-empty string as [string], an object as
  // [key, value] pairs, anything else empty.
  Value enumerable(const Value& v);

  const Program& program_;
  const nlohmann::json& context_;
  const RenderOptions& options_;
  std::string* out_;
  Arena arena_;
  Status error_;
  std::uint32_t at_ = 0;
  std::uint64_t work_ = 0;
  std::uint64_t iterations_ = 0;
  Interrupt interrupt_ = Interrupt::kNone;
  std::vector<Slot> bound_;     // loop variables and lambda items (innermost binding)
  std::vector<Slot> assigned_;  // assign / capture
  std::vector<Slot> counters_;  // increment / decrement
  std::unordered_map<std::string, std::size_t> cycles_;
  std::unordered_map<std::string_view, double> continue_offsets_;
  bool have_now_ = false;
  Timestamp now_{};
  std::unordered_map<std::string, const date::time_zone*> zones_;
};

}  // namespace tp::templates
