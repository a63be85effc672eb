// Runtime values of the Liquid engine and the JavaScript semantics liquidjs gives them.
//
// A Value is a small trivially-copyable handle: numbers and booleans inline, strings as views,
// arrays and objects of the render context as pointers into the caller's nlohmann::json, and
// values the template builds (filter results, assigned arrays, loop state) as pointers into the
// render's Arena. Nothing is copied out of the context. A Value is valid while the context and
// the Arena of its render live. Internal to src/templates.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tp::templates {

enum class Kind : std::uint8_t {
  kUndefined,  // a missing variable or property
  kNull,       // JSON null
  kBool,
  kNumber,  // every number is a double, as in JavaScript
  kString,
  kJsonArray,   // an array of the context
  kJsonObject,  // an object of the context
  kArray,       // an array built by the template (split, map, concat, ranges, for over an object)
  kObject,      // an object built by the template (group_by)
  kNil,         // the literals nil / null (liquidjs' NullDrop: compares equal to undefined and null)
  kEmpty,       // the literal empty
  kBlank,       // the literal blank
  kLoop,        // forloop / tablerowloop
};

class Value;
using ArrayData = std::vector<Value>;
using ObjectData = std::vector<std::pair<std::string_view, Value>>;

struct LoopData {
  std::int64_t index = 0;  // 0-based
  std::int64_t length = 0;
  std::int64_t cols = 0;  // tablerow only
  bool tablerow = false;
  std::string_view name;  // "item-collection"
};

class Value {
 public:
  Value() : kind_(Kind::kUndefined), number_(0) {}

  static Value undefined() { return {}; }
  static Value null() { return Value(Kind::kNull); }
  static Value boolean(bool b) {
    Value v(Kind::kBool);
    v.bool_ = b;
    return v;
  }
  static Value number(double d) {
    Value v(Kind::kNumber);
    v.number_ = d;
    return v;
  }
  static Value string(std::string_view s) {
    Value v(Kind::kString);
    v.str_.data = s.data();
    v.str_.size = s.size();
    return v;
  }
  static Value json(const nlohmann::json& j);  // primitives by value, arrays/objects by reference
  static Value array(const ArrayData* a) {
    Value v(Kind::kArray);
    v.array_ = a;
    return v;
  }
  static Value object(const ObjectData* o) {
    Value v(Kind::kObject);
    v.object_ = o;
    return v;
  }
  static Value literal(Kind k) { return Value(k); }  // kNil, kEmpty, kBlank
  static Value loop(const LoopData* l) {
    Value v(Kind::kLoop);
    v.loop_ = l;
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_nil() const { return kind_ == Kind::kUndefined || kind_ == Kind::kNull; }
  bool is_array() const { return kind_ == Kind::kJsonArray || kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kJsonObject || kind_ == Kind::kObject; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_drop() const { return kind_ >= Kind::kNil; }

  bool as_bool() const { return bool_; }
  double as_number() const { return number_; }
  std::string_view as_string() const { return {str_.data, str_.size}; }
  const nlohmann::json& as_json() const { return *json_; }
  const ArrayData& as_array_data() const { return *array_; }
  const ObjectData& as_object_data() const { return *object_; }
  const LoopData& as_loop() const { return *loop_; }

  // Arrays of either origin.
  size_t array_size() const;
  Value array_at(size_t i) const;

  // Identity of an object or array (JavaScript ===), for uniq and ==.
  const void* identity() const { return json_; }

 private:
  explicit Value(Kind k) : kind_(k), number_(0) {}
  Kind kind_;
  union {
    bool bool_;
    double number_;
    struct {
      const char* data;
      size_t size;
    } str_;
    const nlohmann::json* json_;
    const ArrayData* array_;
    const ObjectData* object_;
    const LoopData* loop_;
  };
};

// Storage for everything a render builds. Addresses stay valid until the Arena is destroyed.
// Counts the bytes it holds so a render can be bounded (see RenderOptions::max_memory_bytes).
class Arena {
 public:
  std::string_view store(std::string&& s) {
    bytes_ += s.size() + sizeof(std::string);
    return strings_.emplace_back(std::move(s));
  }
  ArrayData* new_array() {
    bytes_ += sizeof(ArrayData);
    return &arrays_.emplace_back();
  }
  ObjectData* new_object() {
    bytes_ += sizeof(ObjectData);
    return &objects_.emplace_back();
  }
  LoopData* new_loop() {
    bytes_ += sizeof(LoopData);
    return &loops_.emplace_back();
  }
  void charge(size_t bytes) { bytes_ += bytes; }
  size_t bytes() const { return bytes_; }

 private:
  std::deque<std::string> strings_;
  std::deque<ArrayData> arrays_;
  std::deque<ObjectData> objects_;
  std::deque<LoopData> loops_;
  size_t bytes_ = 0;
};

namespace js {

// Arrays and objects nested deeper than this print, compare and serialize as if empty, so that
// hostile context data cannot exhaust the stack.
inline constexpr int kMaxValueDepth = 1000;

// liquidjs' toValue: the literals become their plain values (nil -> null, empty/blank -> "",
// a loop -> its JSON text, which needs the arena).
Value to_value(const Value& v, Arena& arena);
// liquidjs' stringify: what {{ }} prints. nil -> "", arrays concatenated, objects
// "[object Object]", numbers as JavaScript prints them.
void append_stringified(std::string& out, const Value& v, int depth = 0);
std::string stringify(const Value& v);
// JavaScript's String(x): arrays joined with ",", null/undefined elements empty.
void append_js_string(std::string& out, const Value& v, int depth = 0);
std::string js_string(const Value& v);
// Returns the string itself when v is a string, else stringifies into `scratch`.
std::string_view string_view_of(const Value& v, std::string& scratch);
// JavaScript's Number(x); liquidjs' toNumber is Number(x) with NaN (and -0) as 0.
double to_number(const Value& v);
double to_liquid_number(const Value& v);
// JavaScript truthiness (for allow_false) and Liquid's: only false, nil and undefined are false.
bool js_truthy(const Value& v);
bool liquid_truthy(const Value& v);
// liquidjs' == (with the asymmetric rules of nil/empty/blank) and the ordering operators.
bool equals(const Value& a, const Value& b, int depth = 0);
enum class Relation { kLess, kGreater, kLessEqual, kGreaterEqual };
bool compare(const Value& a, const Value& b, Relation relation);
// liquidjs' orderedCompare for sort: nil last, then JavaScript < and >.
int ordered_compare(const Value& a, const Value& b);
// Property lookup: obj.key / obj[key], with size, first and last, and array/string indexes.
Value read_property(const Value& obj, const Value& key, Arena& arena);
Value read_property(const Value& obj, std::string_view key, Arena& arena);
// JSON.stringify(value, null, indent), as the json filter prints. `undefined` stays empty.
void append_json(std::string& out, const Value& v, std::string_view indent);
// SameValueZero, for uniq and group_by keys.
bool same_value_zero(const Value& a, const Value& b);

}  // namespace js
}  // namespace tp::templates
