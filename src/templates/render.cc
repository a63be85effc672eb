#include "templates/render.h"

#include <fmt/format.h>

#include <cmath>

#include "templates/text.h"

namespace tp::templates {
namespace {

// JavaScript's ToIntegerOrInfinity, as Array.prototype.slice applies it to its arguments.
double to_integer(const Value& v) {
  double d = js::to_number(v);
  if (std::isnan(d)) return 0;
  return std::trunc(d);
}

// Array.prototype.slice(begin, end) bounds on a length.
void slice_bounds(double length, double begin, double end, size_t& from, size_t& to) {
  auto clamp = [&](double x) {
    if (x < 0) x = std::max(length + x, 0.0);
    return std::min(x, length);
  };
  double b = clamp(begin), e = clamp(end);
  from = static_cast<size_t>(b);
  to = static_cast<size_t>(std::max(b, e));
}

}  // namespace

Renderer::Renderer(const Program& program, const nlohmann::json& context, const RenderOptions& options,
                   std::string& out)
    : program_(program), context_(context), options_(options), out_(&out) {
  size_t n = program.slot_names.size();
  bound_.resize(n);
  assigned_.resize(n);
  if (program.uses_counters) counters_.resize(n);
}

Status Renderer::run() {
  render_block(program_.root);
  return error_;
}

void Renderer::fail(StatusCode code, const std::string& message) {
  if (error_.is_ok()) error_ = Status(code, program_.where(at_) + ": " + message);
}

bool Renderer::charge(std::uint64_t work) {
  work_ += work;
  if (work_ <= options_.max_work) return true;
  fail(StatusCode::kTooLarge, fmt::format("rendering takes more than the work limit ({} steps)", options_.max_work));
  return false;
}

Value Renderer::keep(std::string&& s) {
  std::string_view v = arena_.store(std::move(s));
  if (arena_.bytes() > options_.max_memory_bytes)
    fail(StatusCode::kTooLarge, fmt::format("rendering needs more than {} bytes of memory", options_.max_memory_bytes));
  return Value::string(v);
}

Timestamp Renderer::now() {
  if (!have_now_) {
    static const SystemClock system_clock;
    now_ = (options_.clock ? *options_.clock : static_cast<const Clock&>(system_clock)).now();
    have_now_ = true;
  }
  return now_;
}

const date::time_zone* Renderer::zone(std::string_view name) {
  auto it = zones_.find(std::string(name));
  if (it != zones_.end()) return it->second;
  const date::time_zone* z = nullptr;
  try {
    z = date::locate_zone(name);
  } catch (const std::exception&) {
    z = nullptr;
  }
  zones_.emplace(std::string(name), z);
  return z;
}

const date::time_zone* Renderer::default_zone() { return zone(options_.timezone); }

bool Renderer::check_output() {
  if (out_->size() <= options_.max_output_bytes) return true;
  fail(StatusCode::kTooLarge,
       fmt::format("the output is larger than the limit of {} bytes", options_.max_output_bytes));
  return false;
}

void Renderer::render_block(const Block& block) {
  for (const auto& node : block) {
    render_node(*node);
    if (!error_.is_ok() || interrupt_ != Interrupt::kNone) return;
  }
}

void Renderer::write_output(const Value& raw, const FilteredValue& fv) {
  Value v = js::to_value(raw, arena_);
  Escape escape = options_.escape;
  if (escape == Escape::kText || fv.raw || (escape == Escape::kJson && fv.json_last)) {
    js::append_stringified(*out_, v);
  } else if (v.kind() == Kind::kString) {
    if (escape == Escape::kHtml)
      text::append_html_escaped(*out_, v.as_string());
    else
      text::append_json_escaped(*out_, v.as_string());
  } else if (v.kind() == Kind::kNumber) {
    text::append_js_number(*out_, v.as_number());  // nothing to escape
  } else {
    std::string s = js::stringify(v);
    if (escape == Escape::kHtml)
      text::append_html_escaped(*out_, s);
    else
      text::append_json_escaped(*out_, s);
  }
  check_output();
}

void Renderer::render_node(const Node& node) {
  at_ = node.offset;
  if (!charge(1)) return;
  switch (node.kind) {
    case NodeKind::kText:
      out_->append(static_cast<const TextNode&>(node).text);
      check_output();
      return;
    case NodeKind::kOutput: {
      const auto& n = static_cast<const OutputNode&>(node);
      Value v = eval_filtered(n.value);
      if (failed()) return;
      at_ = node.offset;
      write_output(v, n.value);
      return;
    }
    case NodeKind::kIf: {
      const auto& n = static_cast<const IfNode&>(node);
      for (const auto& branch : n.branches) {
        Value v = js::to_value(eval_filtered(branch.condition), arena_);
        if (failed()) return;
        if (js::liquid_truthy(v) != branch.negate) {
          render_block(branch.body);
          return;
        }
      }
      render_block(n.otherwise);
      return;
    }
    case NodeKind::kCase: {
      const auto& n = static_cast<const CaseNode&>(node);
      Value target = js::to_value(eval_filtered(n.subject), arena_);
      if (failed()) return;
      bool hit = false;
      for (const auto& when : n.whens) {
        for (const auto& value : when.values) {
          Value v = eval(*value);
          if (failed()) return;
          if (js::equals(target, v)) {
            render_block(when.body);
            if (failed() || interrupt_ != Interrupt::kNone) return;
            hit = true;
            break;
          }
        }
      }
      if (!hit) render_block(n.otherwise);
      return;
    }
    case NodeKind::kFor:
      render_for(static_cast<const ForNode&>(node));
      return;
    case NodeKind::kTablerow:
      render_tablerow(static_cast<const ForNode&>(node));
      return;
    case NodeKind::kAssign: {
      const auto& n = static_cast<const AssignNode&>(node);
      Value v = eval_filtered(n.value);
      if (failed()) return;
      assigned_[static_cast<size_t>(n.slot)] = {v, true};
      return;
    }
    case NodeKind::kCapture: {
      const auto& n = static_cast<const CaptureNode&>(node);
      std::string captured;
      std::string* saved = out_;
      out_ = &captured;
      render_block(n.body);
      out_ = saved;
      if (failed()) return;
      assigned_[static_cast<size_t>(n.slot)] = {keep(std::move(captured)), true};
      return;
    }
    case NodeKind::kBreak:
      interrupt_ = Interrupt::kBreak;
      return;
    case NodeKind::kContinue:
      interrupt_ = Interrupt::kContinue;
      return;
    case NodeKind::kCounter: {
      const auto& n = static_cast<const CounterNode&>(node);
      Slot& c = counters_[static_cast<size_t>(n.slot)];
      if (!c.set) {
        Value initial = context_root(program_.slot_names[static_cast<size_t>(n.slot)]);
        c = {Value::number(initial.is_number() ? initial.as_number() : 0), true};
      }
      double before = c.value.as_number();
      c.value = Value::number(before + n.delta);
      text::append_js_number(*out_, n.delta > 0 ? before : before + n.delta);
      check_output();
      return;
    }
    case NodeKind::kCycle: {
      const auto& n = static_cast<const CycleNode&>(node);
      std::string key = "cycle:";
      if (n.group) {
        Value g = eval(*n.group);
        if (failed()) return;
        js::append_js_string(key, js::to_value(g, arena_));
      } else {
        key += "undefined";
      }
      key += ':';
      key += n.fingerprint;
      size_t& index = cycles_[key];
      const FilteredValue& candidate = n.candidates[index];
      index = (index + 1) % n.candidates.size();
      Value v = eval_filtered(candidate);
      if (failed()) return;
      at_ = node.offset;
      write_output(v, candidate);
      return;
    }
  }
}

Value Renderer::enumerable(const Value& raw) {
  Value v = js::to_value(raw, arena_);
  switch (v.kind()) {
    case Kind::kJsonArray:
    case Kind::kArray:
      return v;
    case Kind::kString: {
      if (v.as_string().empty()) break;
      ArrayData* a = arena_.new_array();
      a->push_back(v);
      return Value::array(a);
    }
    case Kind::kJsonObject:
    case Kind::kObject: {
      ArrayData* pairs = arena_.new_array();
      auto add = [&](std::string_view k, const Value& e) {
        ArrayData* pair = arena_.new_array();
        pair->push_back(Value::string(k));
        pair->push_back(e);
        pairs->push_back(Value::array(pair));
      };
      if (v.kind() == Kind::kJsonObject) {
        for (const auto& [k, e] : v.as_json().items()) add(k, Value::json(e));
      } else {
        for (const auto& [k, e] : v.as_object_data()) add(k, e);
      }
      arena_.charge(pairs->size() * 3 * sizeof(Value));
      return Value::array(pairs);
    }
    default:
      break;
  }
  return Value::array(arena_.new_array());
}

void Renderer::render_for(const ForNode& node) {
  Value collection = enumerable(eval(*node.collection));
  if (failed()) return;
  size_t total = collection.array_size();
  if (total == 0) {
    render_block(node.otherwise);
    return;
  }
  double length = static_cast<double>(total);
  size_t from = 0, to = total;
  double offset_value = 0;
  if (node.offset_continue) {
    auto it = continue_offsets_.find(node.name);
    offset_value = it == continue_offsets_.end() ? 0 : it->second;
    slice_bounds(length, offset_value, length, from, to);
  } else if (node.offset_param) {
    Value o = eval(*node.offset_param);
    if (failed()) return;
    if (o.kind() != Kind::kUndefined) {
      offset_value = to_integer(js::to_value(o, arena_));
      slice_bounds(length, offset_value, length, from, to);
    }
  }
  if (node.limit) {
    Value l = eval(*node.limit);
    if (failed()) return;
    if (l.kind() != Kind::kUndefined) {
      size_t f, t;
      slice_bounds(static_cast<double>(to - from), 0, to_integer(js::to_value(l, arena_)), f, t);
      to = from + t;
    }
  }
  size_t count = to - from;
  continue_offsets_[node.name] = offset_value + static_cast<double>(count);

  LoopData* loop = arena_.new_loop();
  loop->length = static_cast<std::int64_t>(count);
  loop->name = node.name;
  Slot& item_slot = bound_[static_cast<size_t>(node.slot)];
  Slot& loop_slot = bound_[static_cast<size_t>(node.loop_slot)];
  Slot saved_item = item_slot, saved_loop = loop_slot;
  loop_slot = {Value::loop(loop), true};
  for (size_t k = 0; k < count; ++k) {
    if (++iterations_ > options_.max_loop_iterations) {
      at_ = node.offset;
      fail(StatusCode::kTooLarge,
           fmt::format("loops ran more than the limit of {} iterations", options_.max_loop_iterations));
      break;
    }
    size_t index = node.reversed ? to - 1 - k : from + k;
    // Loop variables live in their own scope: an assign to the same name inside the body does
    // not replace them (liquidjs' scopes), and the binding is re-set every iteration.
    bound_[static_cast<size_t>(node.slot)] = {collection.array_at(index), true};
    loop->index = static_cast<std::int64_t>(k);
    render_block(node.body);
    if (failed()) break;
    if (interrupt_ == Interrupt::kBreak) {
      interrupt_ = Interrupt::kNone;
      break;
    }
    interrupt_ = Interrupt::kNone;
  }
  bound_[static_cast<size_t>(node.slot)] = saved_item;
  bound_[static_cast<size_t>(node.loop_slot)] = saved_loop;
}

void Renderer::render_tablerow(const ForNode& node) {
  Value collection = enumerable(eval(*node.collection));
  if (failed()) return;
  double length = static_cast<double>(collection.array_size());
  double offset = 0, limit = length;
  if (node.offset_param) {
    Value o = js::to_value(eval(*node.offset_param), arena_);
    offset = js::to_liquid_number(o);
  }
  if (node.limit) {
    Value l = eval(*node.limit);
    if (l.kind() != Kind::kUndefined) limit = js::to_number(js::to_value(l, arena_));
  }
  if (failed()) return;
  size_t from, to;
  slice_bounds(length, std::trunc(offset), std::isnan(offset + limit) ? 0 : std::trunc(offset + limit), from, to);
  size_t count = to - from;
  double cols = 0;
  if (node.cols) {
    cols = js::to_liquid_number(js::to_value(eval(*node.cols), arena_));
    if (failed()) return;
  }
  if (!(cols >= 1)) cols = static_cast<double>(count);
  auto columns = static_cast<std::int64_t>(cols);

  LoopData* loop = arena_.new_loop();
  loop->length = static_cast<std::int64_t>(count);
  loop->cols = columns;
  loop->tablerow = true;
  loop->name = node.name;
  Slot saved_item = bound_[static_cast<size_t>(node.slot)];
  Slot saved_loop = bound_[static_cast<size_t>(node.loop_slot)];
  bound_[static_cast<size_t>(node.loop_slot)] = {Value::loop(loop), true};
  for (size_t k = 0; k < count; ++k) {
    if (++iterations_ > options_.max_loop_iterations) {
      at_ = node.offset;
      fail(StatusCode::kTooLarge,
           fmt::format("loops ran more than the limit of {} iterations", options_.max_loop_iterations));
      break;
    }
    loop->index = static_cast<std::int64_t>(k);
    bound_[static_cast<size_t>(node.slot)] = {collection.array_at(from + k), true};
    std::int64_t i = loop->index;
    if (columns > 0 && i % columns == 0) {
      if (i / columns != 0) *out_ += "</tr>";
      fmt::format_to(std::back_inserter(*out_), "<tr class=\"row{}\">", i / columns + 1);
    }
    fmt::format_to(std::back_inserter(*out_), "<td class=\"col{}\">", columns > 0 ? i % columns + 1 : i + 1);
    render_block(node.body);
    if (failed()) break;
    *out_ += "</td>";
    if (interrupt_ == Interrupt::kBreak) {
      interrupt_ = Interrupt::kNone;
      break;
    }
    interrupt_ = Interrupt::kNone;
  }
  if (count && !failed()) *out_ += "</tr>";
  check_output();
  bound_[static_cast<size_t>(node.slot)] = saved_item;
  bound_[static_cast<size_t>(node.loop_slot)] = saved_loop;
}

Value Renderer::context_root(std::string_view name) {
  if (context_.is_object()) {
    auto it = context_.find(name);
    if (it != context_.end()) return Value::json(*it);
  }
  // liquidjs falls back to its (empty) globals object, whose "size" is 0.
  if (name == "size") return Value::number(0);
  return Value::undefined();
}

Value Renderer::lookup(int slot) {
  auto s = static_cast<size_t>(slot);
  if (bound_[s].set) return bound_[s].value;
  if (assigned_[s].set) return assigned_[s].value;
  if (!counters_.empty() && counters_[s].set) return counters_[s].value;
  return context_root(program_.slot_names[s]);
}

Value Renderer::lookup_name(std::string_view name) {
  int slot = program_.slot_of(name);
  if (slot >= 0) return lookup(slot);
  return context_root(name);
}

Value Renderer::call_lambda(const FilterCall& call, const Value& item) {
  Slot& s = bound_[static_cast<size_t>(call.lambda_slot)];
  Slot saved = s;
  s = {item, true};
  Value v = eval_filtered(*call.lambda);
  bound_[static_cast<size_t>(call.lambda_slot)] = saved;
  return v;
}

Value Renderer::eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kVariable: {
      Value v;
      if (e.base) {
        v = eval(*e.base);
      } else if (e.root_dynamic) {
        Value key = js::to_value(eval(*e.root_dynamic), arena_);
        std::string name;
        js::append_js_string(name, key);
        v = lookup_name(name);
      } else {
        v = lookup(e.root_id);
      }
      for (const auto& seg : e.path) {
        switch (seg.type) {
          case PathSegment::Type::kName:
            v = js::read_property(v, seg.name, arena_);
            break;
          case PathSegment::Type::kIndex:
            v = js::read_property(v, Value::number(seg.index), arena_);
            break;
          case PathSegment::Type::kDynamic:
            v = js::read_property(v, eval(*seg.dynamic), arena_);
            break;
        }
      }
      return v;
    }
    case ExprKind::kRange: {
      double low = js::to_number(js::to_value(eval(*e.lhs), arena_));
      double high = js::to_number(js::to_value(eval(*e.rhs), arena_));
      ArrayData* a = arena_.new_array();
      double count = std::ceil(high + 1 - low);
      if (count > 0) {
        if (count > static_cast<double>(options_.max_loop_iterations)) {
          at_ = e.offset;
          fail(StatusCode::kTooLarge, fmt::format("range ({}..{}) has more than {} elements", text::js_number(low),
                                                  text::js_number(high), options_.max_loop_iterations));
          return Value::undefined();
        }
        if (!charge(static_cast<std::uint64_t>(count))) return Value::undefined();
        a->reserve(static_cast<size_t>(count));
        for (double x = low; x < high + 1; x += 1) a->push_back(Value::number(x));
        arena_.charge(a->size() * sizeof(Value));
      }
      return Value::array(a);
    }
    case ExprKind::kNot:
      return Value::boolean(!js::liquid_truthy(js::to_value(eval(*e.lhs), arena_)));
    case ExprKind::kBinary: {
      if (e.op == Op::kAnd || e.op == Op::kOr) {
        bool l = js::liquid_truthy(js::to_value(eval(*e.lhs), arena_));
        if (e.op == Op::kAnd && !l) return Value::boolean(false);
        if (e.op == Op::kOr && l) return Value::boolean(true);
        return Value::boolean(js::liquid_truthy(js::to_value(eval(*e.rhs), arena_)));
      }
      Value l = eval(*e.lhs);
      Value r = eval(*e.rhs);
      // Comparing long strings or arrays costs in proportion (memcmp is fast: a 64th per byte).
      auto cost = [](const Value& v) -> std::uint64_t {
        if (v.kind() == Kind::kString) return v.as_string().size() / 64;
        if (v.is_array()) return v.array_size();
        return 0;
      };
      if (e.op != Op::kContains && !charge(cost(l) + cost(r))) return Value::undefined();
      switch (e.op) {
        case Op::kEq:
          return Value::boolean(js::equals(l, r));
        case Op::kNe:
          return Value::boolean(!js::equals(l, r));
        case Op::kLt:
          return Value::boolean(js::compare(l, r, js::Relation::kLess));
        case Op::kGt:
          return Value::boolean(js::compare(l, r, js::Relation::kGreater));
        case Op::kLe:
          return Value::boolean(js::compare(l, r, js::Relation::kLessEqual));
        case Op::kGe:
          return Value::boolean(js::compare(l, r, js::Relation::kGreaterEqual));
        case Op::kContains: {
          Value lv = js::to_value(l, arena_);
          if (lv.is_array()) {
            size_t n = lv.array_size();
            if (!charge(n)) return Value::undefined();
            for (size_t i = 0; i < n; ++i)
              if (js::equals(lv.array_at(i), r)) return Value::boolean(true);
            return Value::boolean(false);
          }
          if (lv.kind() == Kind::kString) {
            if (!charge(lv.as_string().size())) return Value::undefined();
            std::string needle = js::js_string(js::to_value(r, arena_));
            return Value::boolean(lv.as_string().find(needle) != std::string_view::npos);
          }
          return Value::boolean(false);
        }
        default:
          return Value::undefined();
      }
    }
  }
  return Value::undefined();
}

Value Renderer::eval_filtered(const FilteredValue& fv) {
  Value v = eval(*fv.expr);
  for (const auto& call : fv.filters) {
    if (failed()) return Value::undefined();
    at_ = call.offset;
    if (!charge(1)) return Value::undefined();
    Value args[4];
    size_t n = call.args.size();
    for (size_t i = 0; i < n; ++i) args[i] = eval(*call.args[i]);
    if (!call.def->keeps_literals) {
      v = js::to_value(v, arena_);
      for (size_t i = 0; i < n; ++i) args[i] = js::to_value(args[i], arena_);
    }
    v = call.def->fn(*this, v, std::span<const Value>(args, n), call);
    if (arena_.bytes() > options_.max_memory_bytes && !failed())
      fail(StatusCode::kTooLarge,
           fmt::format("rendering needs more than {} bytes of memory", options_.max_memory_bytes));
  }
  return v;
}

}  // namespace tp::templates
