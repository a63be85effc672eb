#include "templates/value.h"

#include <cmath>

#include "templates/text.h"

namespace tp::templates {

Value Value::json(const nlohmann::json& j) {
  using T = nlohmann::json::value_t;
  switch (j.type()) {
    case T::null:
      return null();
    case T::boolean:
      return boolean(j.get<bool>());
    case T::number_integer:
      return number(static_cast<double>(j.get<std::int64_t>()));
    case T::number_unsigned:
      return number(static_cast<double>(j.get<std::uint64_t>()));
    case T::number_float:
      return number(j.get<double>());
    case T::string:
      return string(j.get_ref<const std::string&>());
    case T::array: {
      Value v(Kind::kJsonArray);
      v.json_ = &j;
      return v;
    }
    case T::object: {
      Value v(Kind::kJsonObject);
      v.json_ = &j;
      return v;
    }
    default:
      return undefined();
  }
}

size_t Value::array_size() const {
  if (kind_ == Kind::kJsonArray) return json_->size();
  if (kind_ == Kind::kArray) return array_->size();
  return 0;
}

Value Value::array_at(size_t i) const {
  if (kind_ == Kind::kJsonArray) return json((*json_)[i]);
  return (*array_)[i];
}

namespace js {
namespace {

void append_loop_json(std::string& out, const LoopData& l) {
  out += "{\"i\":";
  text::append_js_number(out, static_cast<double>(l.index));
  out += ",\"length\":";
  text::append_js_number(out, static_cast<double>(l.length));
  out += ",\"name\":";
  text::append_json_escaped(out.append("\""), l.name);
  out += "\"";
  if (l.tablerow) {
    out += ",\"cols\":";
    text::append_js_number(out, static_cast<double>(l.cols));
  }
  out += "}";
}

bool is_comparable_drop(const Value& v) {
  return v.kind() == Kind::kNil || v.kind() == Kind::kEmpty || v.kind() == Kind::kBlank;
}

// The primitive of a value for the relational operators (ToPrimitive, hint number).
struct Primitive {
  bool is_string = false;
  std::string text;
  double number = 0;
};

Primitive to_primitive(const Value& v) {
  Primitive p;
  switch (v.kind()) {
    case Kind::kString:
      p.is_string = true;
      p.text = v.as_string();
      return p;
    case Kind::kEmpty:
    case Kind::kBlank:
      p.is_string = true;
      return p;
    case Kind::kLoop:
      p.is_string = true;
      append_loop_json(p.text, v.as_loop());
      return p;
    case Kind::kJsonArray:
    case Kind::kArray:
    case Kind::kJsonObject:
    case Kind::kObject:
      p.is_string = true;
      append_js_string(p.text, v);
      return p;
    case Kind::kNil:
      p.number = 0;
      return p;
    default:
      p.number = to_number(v);
      return p;
  }
}

bool empty_drop_equals(const Value& other) {
  if (other.kind() == Kind::kEmpty || other.kind() == Kind::kBlank) return false;
  switch (other.kind()) {
    case Kind::kString:
      return other.as_string().empty();
    case Kind::kJsonArray:
    case Kind::kArray:
      return other.array_size() == 0;
    case Kind::kJsonObject:
      return other.as_json().empty();
    case Kind::kObject:
      return other.as_object_data().empty();
    case Kind::kLoop:
      return false;  // its value is a non-empty JSON text
    default:
      return false;
  }
}

bool all_js_space(std::string_view s) { return text::js_trim_start(s).empty(); }

std::string property_key(const Value& key) {
  std::string k;
  append_js_string(k, key);
  return k;
}

// A canonical array index ("0", "17"; not "01", "-1", "1.0").
bool array_index(std::string_view key, size_t& index) {
  if (key.empty() || key.size() > 15) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  size_t n = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  index = n;
  return true;
}

Value string_char_at(std::string_view s, size_t index, Arena& arena) {
  size_t at = text::advance_code_points(s, 0, index);
  if (at >= s.size()) return Value::undefined();
  size_t end = text::advance_code_points(s, at, 1);
  return Value::string(s.substr(at, end - at));
}

Value loop_property(const LoopData& l, std::string_view key) {
  auto num = [](std::int64_t n) { return Value::number(static_cast<double>(n)); };
  if (key == "index") return num(l.index + 1);
  if (key == "index0" || key == "i") return num(l.index);
  if (key == "rindex") return num(l.length - l.index);
  if (key == "rindex0") return num(l.length - l.index - 1);
  if (key == "first") return Value::boolean(l.index == 0);
  if (key == "last") return Value::boolean(l.index == l.length - 1);
  if (key == "length") return num(l.length);
  if (key == "name") return Value::string(l.name);
  if (l.tablerow && l.cols > 0) {
    std::int64_t col0 = l.index % l.cols;
    if (key == "cols") return num(l.cols);
    if (key == "row") return num(l.index / l.cols + 1);
    if (key == "col0") return num(col0);
    if (key == "col") return num(col0 + 1);
    if (key == "col_first") return Value::boolean(col0 == 0);
    if (key == "col_last") return Value::boolean(col0 + 1 == l.cols);
  }
  return Value::undefined();
}

Value own_property(const Value& obj, std::string_view key, Arena& arena) {
  switch (obj.kind()) {
    case Kind::kJsonObject: {
      const auto& j = obj.as_json();
      auto it = j.find(key);
      return it == j.end() ? Value::undefined() : Value::json(*it);
    }
    case Kind::kObject:
      for (const auto& [k, v] : obj.as_object_data())
        if (k == key) return v;
      return Value::undefined();
    case Kind::kJsonArray:
    case Kind::kArray: {
      size_t index;
      if (array_index(key, index)) return index < obj.array_size() ? obj.array_at(index) : Value::undefined();
      if (key == "length") return Value::number(static_cast<double>(obj.array_size()));
      return Value::undefined();
    }
    case Kind::kString: {
      size_t index;
      if (array_index(key, index)) return string_char_at(obj.as_string(), index, arena);
      if (key == "length") return Value::number(static_cast<double>(text::utf16_length(obj.as_string())));
      return Value::undefined();
    }
    default:
      return Value::undefined();
  }
}

Value read_size(const Value& obj, const Value& own_size) {
  if (own_size.kind() != Kind::kUndefined) return own_size;
  switch (obj.kind()) {
    case Kind::kJsonArray:
    case Kind::kArray:
      return Value::number(static_cast<double>(obj.array_size()));
    case Kind::kString:
      return Value::number(static_cast<double>(text::utf16_length(obj.as_string())));
    case Kind::kJsonObject:
      return Value::number(static_cast<double>(obj.as_json().size()));
    case Kind::kObject:
      return Value::number(static_cast<double>(obj.as_object_data().size()));
    default:
      return Value::undefined();
  }
}

Value read_named(const Value& obj, std::string_view key, Arena& arena) {
  if (obj.is_nil()) return obj;
  if (obj.kind() == Kind::kLoop) return loop_property(obj.as_loop(), key);
  if (obj.is_drop()) return Value::undefined();
  Value value = own_property(obj, key, arena);
  if (key.size() == 4 && key == "size") return read_size(obj, value);
  if (obj.is_array() && key == "first") return obj.array_size() ? obj.array_at(0) : Value::undefined();
  if (obj.is_array() && key == "last") {
    size_t n = obj.array_size();
    return n ? obj.array_at(n - 1) : Value::undefined();
  }
  return value;
}

void append_json_value(std::string& out, const Value& v, std::string_view indent, std::string& gap, int depth);

bool json_serializable(const Value& v) { return v.kind() != Kind::kUndefined; }

template <typename Each>
void append_json_container(std::string& out, char open, char close, std::string_view indent, std::string& gap,
                           Each each) {
  out.push_back(open);
  size_t before = out.size();
  std::string inner = gap;
  inner += indent;
  bool first = true;
  each([&](auto write_item) {
    out += first ? "" : ",";
    first = false;
    if (!indent.empty()) {
      out.push_back('\n');
      out += inner;
    }
    write_item(inner);
  });
  if (out.size() != before && !indent.empty()) {
    out.push_back('\n');
    out += gap;
  }
  out.push_back(close);
}

void append_json_value(std::string& out, const Value& v, std::string_view indent, std::string& gap, int depth) {
  if (depth > kMaxValueDepth && (v.is_array() || v.is_object())) {
    out += v.is_array() ? "[]" : "{}";
    return;
  }
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Kind::kNumber:
      if (std::isfinite(v.as_number()))
        text::append_js_number(out, v.as_number());
      else
        out += "null";
      return;
    case Kind::kString:
      out.push_back('"');
      text::append_json_escaped(out, v.as_string());
      out.push_back('"');
      return;
    case Kind::kNil:
    case Kind::kEmpty:
    case Kind::kBlank:
      out += "{}";
      return;
    case Kind::kLoop: {
      const LoopData& l = v.as_loop();
      append_json_container(out, '{', '}', indent, gap, [&](auto item) {
        auto field = [&](std::string_view name, const Value& value) {
          item([&](std::string& inner) {
            out.push_back('"');
            out += name;
            out += indent.empty() ? "\":" : "\": ";
            append_json_value(out, value, indent, inner, depth + 1);
          });
        };
        field("i", Value::number(static_cast<double>(l.index)));
        field("length", Value::number(static_cast<double>(l.length)));
        field("name", Value::string(l.name));
        if (l.tablerow) field("cols", Value::number(static_cast<double>(l.cols)));
      });
      return;
    }
    case Kind::kJsonArray:
    case Kind::kArray:
      append_json_container(out, '[', ']', indent, gap, [&](auto item) {
        for (size_t i = 0, n = v.array_size(); i < n; ++i) {
          Value e = v.array_at(i);
          item([&](std::string& inner) { append_json_value(out, e, indent, inner, depth + 1); });
        }
      });
      return;
    case Kind::kJsonObject:
    case Kind::kObject:
      append_json_container(out, '{', '}', indent, gap, [&](auto item) {
        auto field = [&](std::string_view name, const Value& value) {
          if (!json_serializable(value)) return;
          item([&](std::string& inner) {
            out.push_back('"');
            text::append_json_escaped(out, name);
            out += indent.empty() ? "\":" : "\": ";
            append_json_value(out, value, indent, inner, depth + 1);
          });
        };
        if (v.kind() == Kind::kJsonObject) {
          for (const auto& [k, e] : v.as_json().items()) field(k, Value::json(e));
        } else {
          for (const auto& [k, e] : v.as_object_data()) field(k, e);
        }
      });
      return;
  }
}

}  // namespace

Value to_value(const Value& v, Arena& arena) {
  switch (v.kind()) {
    case Kind::kNil:
      return Value::null();
    case Kind::kEmpty:
    case Kind::kBlank:
      return Value::string("");
    case Kind::kLoop: {
      std::string s;
      append_loop_json(s, v.as_loop());
      return Value::string(arena.store(std::move(s)));
    }
    default:
      return v;
  }
}

void append_stringified(std::string& out, const Value& v, int depth) {
  if (depth > kMaxValueDepth) return;
  switch (v.kind()) {
    case Kind::kString:
      out += v.as_string();
      return;
    case Kind::kUndefined:
    case Kind::kNull:
    case Kind::kNil:
    case Kind::kEmpty:
    case Kind::kBlank:
      return;
    case Kind::kLoop:
      append_loop_json(out, v.as_loop());
      return;
    case Kind::kJsonArray:
    case Kind::kArray:
      for (size_t i = 0, n = v.array_size(); i < n; ++i) append_stringified(out, v.array_at(i), depth + 1);
      return;
    default:
      append_js_string(out, v, depth);
      return;
  }
}

std::string stringify(const Value& v) {
  std::string s;
  append_stringified(s, v);
  return s;
}

void append_js_string(std::string& out, const Value& v, int depth) {
  if (depth > kMaxValueDepth) return;
  switch (v.kind()) {
    case Kind::kUndefined:
      out += "undefined";
      return;
    case Kind::kNull:
      out += "null";
      return;
    case Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Kind::kNumber:
      text::append_js_number(out, v.as_number());
      return;
    case Kind::kString:
      out += v.as_string();
      return;
    case Kind::kJsonArray:
    case Kind::kArray:
      for (size_t i = 0, n = v.array_size(); i < n; ++i) {
        if (i) out.push_back(',');
        Value e = v.array_at(i);
        if (!e.is_nil()) append_js_string(out, e, depth + 1);
      }
      return;
    default:
      out += "[object Object]";
      return;
  }
}

std::string js_string(const Value& v) {
  std::string s;
  append_js_string(s, v);
  return s;
}

std::string_view string_view_of(const Value& v, std::string& scratch) {
  if (v.kind() == Kind::kString) return v.as_string();
  scratch.clear();
  append_stringified(scratch, v);
  return scratch;
}

double to_number(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
      return std::numeric_limits<double>::quiet_NaN();
    case Kind::kNull:
    case Kind::kNil:
    case Kind::kEmpty:
    case Kind::kBlank:
      return 0;
    case Kind::kBool:
      return v.as_bool() ? 1 : 0;
    case Kind::kNumber:
      return v.as_number();
    case Kind::kString:
      return text::js_string_to_number(v.as_string());
    case Kind::kJsonArray:
    case Kind::kArray:
      return text::js_string_to_number(js_string(v));
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

double to_liquid_number(const Value& v) {
  double d = to_number(v);
  return (std::isnan(d) || d == 0) ? 0.0 : d;
}

bool js_truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNull:
      return false;
    case Kind::kBool:
      return v.as_bool();
    case Kind::kNumber:
      return v.as_number() != 0 && !std::isnan(v.as_number());
    case Kind::kString:
      return !v.as_string().empty();
    default:
      return true;
  }
}

bool liquid_truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::kUndefined:
    case Kind::kNull:
    case Kind::kNil:
      return false;
    case Kind::kBool:
      return v.as_bool();
    default:
      return true;
  }
}

bool equals(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) return false;
  const Value* drop = is_comparable_drop(a) ? &a : is_comparable_drop(b) ? &b : nullptr;
  if (drop) {
    const Value& other = drop == &a ? b : a;
    switch (drop->kind()) {
      case Kind::kNil:
        return other.is_nil() || other.kind() == Kind::kNil;
      case Kind::kEmpty:
        return empty_drop_equals(other);
      default:  // blank
        if (other.kind() == Kind::kBool && !other.as_bool()) return true;
        if (other.is_nil() || other.kind() == Kind::kNil) return true;
        if (other.kind() == Kind::kString) return all_js_space(other.as_string());
        return empty_drop_equals(other);
    }
  }
  if (a.is_array()) {
    if (!b.is_array()) return false;
    size_t n = a.array_size();
    if (n != b.array_size()) return false;
    for (size_t i = 0; i < n; ++i)
      if (!equals(a.array_at(i), b.array_at(i), depth + 1)) return false;
    return true;
  }
  if (a.kind() == Kind::kLoop || b.kind() == Kind::kLoop) {
    // Both sides are compared by their values; a loop's is its JSON text.
    std::string sa, sb;
    if (a.kind() == Kind::kLoop) append_loop_json(sa, a.as_loop());
    if (b.kind() == Kind::kLoop) append_loop_json(sb, b.as_loop());
    if (a.kind() == Kind::kLoop && b.kind() == Kind::kLoop) return sa == sb;
    const Value& other = a.kind() == Kind::kLoop ? b : a;
    return other.kind() == Kind::kString && other.as_string() == (a.kind() == Kind::kLoop ? sa : sb);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Kind::kNumber:
      return a.as_number() == b.as_number();
    case Kind::kString:
      return a.as_string() == b.as_string();
    default:
      return a.identity() == b.identity();
  }
}

bool compare(const Value& a, const Value& b, Relation relation) {
  if (is_comparable_drop(a) || is_comparable_drop(b)) return false;
  Primitive pa = to_primitive(a), pb = to_primitive(b);
  if (pa.is_string && pb.is_string) {
    int c = text::js_compare(pa.text, pb.text);
    switch (relation) {
      case Relation::kLess:
        return c < 0;
      case Relation::kGreater:
        return c > 0;
      case Relation::kLessEqual:
        return c <= 0;
      case Relation::kGreaterEqual:
        return c >= 0;
    }
  }
  double x = pa.is_string ? text::js_string_to_number(pa.text) : pa.number;
  double y = pb.is_string ? text::js_string_to_number(pb.text) : pb.number;
  switch (relation) {
    case Relation::kLess:
      return x < y;
    case Relation::kGreater:
      return x > y;
    case Relation::kLessEqual:
      return x <= y;
    case Relation::kGreaterEqual:
      return x >= y;
  }
  return false;
}

int ordered_compare(const Value& a, const Value& b) {
  bool na = a.is_nil(), nb = b.is_nil();
  if (na && nb) return 0;
  if (na) return 1;
  if (nb) return -1;
  // The literals compare false both ways in liquidjs' drops, but sort sees plain JavaScript
  // objects here; their primitive values decide.
  Primitive pa = to_primitive(a), pb = to_primitive(b);
  if (pa.is_string && pb.is_string) return text::js_compare(pa.text, pb.text);
  double x = pa.is_string ? text::js_string_to_number(pa.text) : pa.number;
  double y = pb.is_string ? text::js_string_to_number(pb.text) : pb.number;
  if (x < y) return -1;
  if (x > y) return 1;
  return 0;
}

Value read_property(const Value& obj, std::string_view key, Arena& arena) { return read_named(obj, key, arena); }

Value read_property(const Value& obj, const Value& raw_key, Arena& arena) {
  if (obj.is_nil()) return obj;
  Value key = to_value(raw_key, arena);
  if (key.kind() == Kind::kString) return read_named(obj, key.as_string(), arena);
  if (obj.is_array() && key.kind() == Kind::kNumber) {
    double d = key.as_number();
    double n = static_cast<double>(obj.array_size());
    if (d < 0) d += n;
    if (d >= 0 && d < n && d == std::floor(d)) return obj.array_at(static_cast<size_t>(d));
    return Value::undefined();
  }
  std::string k = property_key(key);
  return read_named(obj, k, arena);
}

void append_json(std::string& out, const Value& v, std::string_view indent) {
  if (v.kind() == Kind::kUndefined) return;
  std::string gap;
  append_json_value(out, v, indent, gap, 0);
}

bool same_value_zero(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNull:
    case Kind::kNil:
    case Kind::kEmpty:
    case Kind::kBlank:
      return true;
    case Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Kind::kNumber:
      return a.as_number() == b.as_number() || (std::isnan(a.as_number()) && std::isnan(b.as_number()));
    case Kind::kString:
      return a.as_string() == b.as_string();
    default:
      return a.identity() == b.identity();
  }
}

}  // namespace js
}  // namespace tp::templates
