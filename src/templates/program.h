// The compiled form of a Liquid template: a tree of nodes over the template's own source text,
// with every variable name interned to a slot number. Built once by parse_program() (parser.cc),
// immutable afterwards, shared by every render (render.cc). Internal to src/templates.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "templates/liquid.h"
#include "templates/value.h"

namespace tp::templates {

class Renderer;
struct FilterCall;
struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind : std::uint8_t { kLiteral, kVariable, kRange, kBinary, kNot };
enum class Op : std::uint8_t { kEq, kNe, kLt, kGt, kLe, kGe, kContains, kAnd, kOr };

// One step of a property path: .name, [0], ["name"] or [expression].
struct PathSegment {
  enum class Type : std::uint8_t { kName, kIndex, kDynamic } type = Type::kName;
  std::string_view name;
  double index = 0;
  ExprPtr dynamic;
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  std::uint32_t offset = 0;  // in the source, for errors
  Value literal;             // kLiteral
  // kVariable: the root is a name (root_id >= 0), a computed name (root_dynamic: ["x"]) or
  // another value (base: "abc".size, (1..3).first); then the path.
  int root_id = -1;
  ExprPtr root_dynamic;
  ExprPtr base;
  std::vector<PathSegment> path;
  Op op = Op::kEq;   // kBinary
  ExprPtr lhs, rhs;  // kBinary, kRange (lhs..rhs), kNot (lhs)
};

// A value with filters: `expr | f: a, b | g`.
struct FilteredValue {
  ExprPtr expr;
  std::vector<FilterCall> filters;
  bool raw = false;        // the last filter is `raw`: never escaped
  bool json_last = false;  // the last filter is json/jsonify: not escaped in Escape::kJson
};

using FilterFn = Value (*)(Renderer& r, const Value& input, std::span<const Value> args, const FilterCall& call);

// How a filter's arguments are compiled.
enum class FilterShape : std::uint8_t {
  kPlain,
  kLambda,  // where_exp & co: ("item", "expression") string literals, compiled here
};

struct FilterDef {
  std::string_view name;
  FilterFn fn;
  std::uint8_t min_args;
  std::uint8_t max_args;
  FilterShape shape = FilterShape::kPlain;
  bool keeps_literals = false;  // gets nil/empty/blank unconverted (default, json, where...)
};

const FilterDef* find_filter(std::string_view name);
std::vector<std::string_view> filter_names();

struct FilterCall {
  const FilterDef* def = nullptr;
  std::uint32_t offset = 0;
  std::vector<ExprPtr> args;              // positional, then default's allow_false
  int lambda_slot = -1;                   // kLambda: the item variable
  std::unique_ptr<FilteredValue> lambda;  // kLambda: the expression
};

enum class NodeKind : std::uint8_t {
  kText,
  kOutput,
  kIf,
  kCase,
  kFor,
  kTablerow,
  kAssign,
  kCapture,
  kBreak,
  kContinue,
  kCounter,
  kCycle,
};

struct Node {
  explicit Node(NodeKind k, std::uint32_t o) : kind(k), offset(o) {}
  virtual ~Node() = default;
  NodeKind kind;
  std::uint32_t offset;
};
using Block = std::vector<std::unique_ptr<Node>>;

struct TextNode : Node {
  TextNode(std::uint32_t o, std::string_view t) : Node(NodeKind::kText, o), text(t) {}
  std::string_view text;
};

struct OutputNode : Node {  // {{ }} and {% echo %}
  explicit OutputNode(std::uint32_t o) : Node(NodeKind::kOutput, o) {}
  FilteredValue value;
};

struct IfNode : Node {  // if and unless
  explicit IfNode(std::uint32_t o) : Node(NodeKind::kIf, o) {}
  struct Branch {
    FilteredValue condition;
    bool negate = false;  // the first branch of unless
    Block body;
  };
  std::vector<Branch> branches;
  Block otherwise;
};

struct CaseNode : Node {
  explicit CaseNode(std::uint32_t o) : Node(NodeKind::kCase, o) {}
  FilteredValue subject;
  struct When {
    std::vector<ExprPtr> values;
    Block body;
  };
  std::vector<When> whens;
  Block otherwise;
};

struct ForNode : Node {  // for and tablerow
  ForNode(NodeKind k, std::uint32_t o) : Node(k, o) {}
  int slot = -1;       // the item variable
  int loop_slot = -1;  // forloop / tablerowloop
  ExprPtr collection;
  std::string_view name;              // "item-collection text": forloop.name and the offset:continue key
  ExprPtr limit, offset_param, cols;  // offset_param: offset (Node::offset is the position)
  bool offset_continue = false;
  bool reversed = false;
  Block body, otherwise;
};

struct AssignNode : Node {
  explicit AssignNode(std::uint32_t o) : Node(NodeKind::kAssign, o) {}
  int slot = -1;
  FilteredValue value;
};

struct CaptureNode : Node {
  explicit CaptureNode(std::uint32_t o) : Node(NodeKind::kCapture, o) {}
  int slot = -1;
  Block body;
};

struct CounterNode : Node {  // increment / decrement
  CounterNode(std::uint32_t o, int s, int d) : Node(NodeKind::kCounter, o), slot(s), delta(d) {}
  int slot;
  int delta;
};

struct CycleNode : Node {
  explicit CycleNode(std::uint32_t o) : Node(NodeKind::kCycle, o) {}
  ExprPtr group;
  std::vector<FilteredValue> candidates;
  std::string_view fingerprint;
};

struct Program {
  std::string file;
  SourceOrigin origin;
  std::string source;
  std::vector<std::uint32_t> line_starts;
  std::deque<std::string> strings;     // literals with escapes, loop names
  std::deque<std::string> slot_names;  // a deque: views of its strings stay valid as names are added
  std::unordered_map<std::string_view, int> slots;
  Block root;
  bool uses_cycle = false;
  bool uses_counters = false;

  // "file:line:col" of a source offset (line and column 1-based, column in characters).
  std::string where(std::uint32_t offset) const;
  int slot_of(std::string_view name) const {
    auto it = slots.find(name);
    return it == slots.end() ? -1 : it->second;
  }
};

Result<std::shared_ptr<const Program>> parse_program(std::string_view text, std::string_view file, SourceOrigin origin);

// A property path given to where/group_by/has/find as a string ("a.b", "a[0]", "a['b']").
// Returns false when it is not one.
bool parse_property_path(std::string_view path, std::vector<std::string>& keys, std::vector<bool>& is_index);

}  // namespace tp::templates
