// Template text -> Program. Tokenizing and whitespace control follow liquidjs' tokenizer (so the
// same text splits the same way); the grammar is stricter: what liquidjs silently ignores or
// misreads (an unknown filter, a dangling operator, trailing words in a tag) is an error here,
// with file:line:col.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/text.h"
#include "templates/program.h"
#include "templates/text.h"

namespace tp::templates {
namespace {

constexpr int kMaxDepth = 64;

struct Token {
  enum class Type : std::uint8_t { kText, kOutput, kTag } type = Type::kText;
  std::uint32_t begin = 0, end = 0;  // the whole token
  std::uint32_t lo = 0, hi = 0;      // text: after whitespace control; output/tag: the markup
  bool trim_left = false, trim_right = false;
  std::string_view name;   // tag
  std::uint32_t args = 0;  // tag: where its arguments start
};

std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  // One typo in a short word, two in a longer one.
  size_t best_distance = word.size() <= 4 ? 2 : 3;
  for (auto c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", best);
}

const std::vector<std::string_view>& tag_names() {
  static const std::vector<std::string_view> names = {
      "if",      "elsif",      "else",  "endif",    "unless",    "endunless",   "case",   "when",    "endcase",
      "for",     "endfor",     "break", "continue", "tablerow",  "endtablerow", "assign", "capture", "endcapture",
      "comment", "endcomment", "raw",   "endraw",   "increment", "decrement",   "cycle",  "echo",    "liquid"};
  return names;
}

// A short quote of the source for messages: `"abc…"`.
std::string quote(std::string_view s) {
  size_t end = text::advance_code_points(s, 0, 24);
  std::string q(s.substr(0, end));
  if (end < s.size()) q += "…";
  for (char& c : q)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return "\"" + q + "\"";
}

class Parser {
 public:
  Parser(Program& program) : p_(program), s_(program.source) {}

  Status run() {
    if (!lex()) return error_;
    tokens_ = &top_tokens_;
    i_ = 0;
    Block root;
    const Token* stop = nullptr;
    if (!parse_block(root, {}, stop, 0)) return error_;
    p_.root = std::move(root);
    return Status::ok();
  }

 private:
  // ---- errors ----
  bool fail(std::uint32_t offset, std::string message) {
    if (error_.is_ok()) error_ = invalid_argument(p_.where(offset) + ": " + message);
    return false;
  }
  bool failed() const { return !error_.is_ok(); }

  // ---- tokens ----
  bool starts_with(size_t at, std::string_view what) const { return s_.compare(at, what.size(), what) == 0; }

  Token delimited(Token::Type type, size_t begin, size_t end) {
    Token t;
    t.type = type;
    t.begin = static_cast<std::uint32_t>(begin);
    t.end = static_cast<std::uint32_t>(end);
    size_t cb = begin + 2, ce = end - 2;
    if (ce < cb) ce = cb;
    t.trim_left = cb < ce && s_[cb] == '-';
    t.trim_right = cb < ce && s_[ce - 1] == '-';
    size_t l = t.trim_left ? cb + 1 : cb;
    size_t r = t.trim_right ? ce - 1 : ce;
    if (r < l) r = l;
    while (l < r) {
      size_t n = text::markup_blank_at(s_, l);
      if (!n) break;
      l += n;
    }
    while (r > l) {
      size_t n = text::markup_blank_before(s_, r);
      if (!n) break;
      r -= n;
    }
    t.lo = static_cast<std::uint32_t>(l);
    t.hi = static_cast<std::uint32_t>(r);
    return t;
  }

  // Reads the tag name of a tag token (or a line of {% liquid %}); false when there is none.
  bool name_tag(Token& t) {
    size_t at = t.lo;
    if (at < t.hi && s_[at] == '#') {
      t.name = s_.substr(at, 1);
      ++at;
    } else {
      size_t e = word_end(at, t.hi);
      t.name = s_.substr(at, e - at);
      at = e;
      if (t.name.empty()) return fail(t.begin, "expected a tag name after {%");
    }
    while (at < t.hi) {
      size_t n = text::markup_blank_at(s_, at);
      if (!n) break;
      at += n;
    }
    t.args = static_cast<std::uint32_t>(at);
    return true;
  }

  size_t word_end(size_t at, size_t limit) const {
    while (at < limit) {
      size_t j = at;
      char32_t cp = text::next_code_point(s_, j);
      if (!text::is_word(cp) || j > limit) break;
      at = j;
    }
    return at;
  }

  bool lex() {
    if (!text::valid_utf8(s_)) {
      size_t i = 0;
      while (i < s_.size()) {
        size_t before = i;
        char32_t cp = text::next_code_point(s_, i);
        if (cp == 0xFFFD && i == before + 1 && static_cast<unsigned char>(s_[before]) >= 0x80)
          return fail(static_cast<std::uint32_t>(before), "the template is not valid UTF-8");
      }
    }
    auto& out = top_tokens_;
    size_t n = s_.size();
    size_t p = 0;
    bool in_raw = false;
    std::uint32_t raw_at = 0;
    while (p < n) {
      if (in_raw) {
        size_t q = p;
        size_t tag_start = std::string_view::npos, close = 0;
        while (true) {
          q = s_.find("{%", q);
          if (q == std::string_view::npos) return fail(raw_at, "unclosed {% raw %}: expected {% endraw %}");
          size_t k = q + 2;
          while (size_t b = text::markup_blank_at(s_, k)) k += b;
          size_t e = word_end(k, n);
          if (s_.substr(k, e - k) == "endraw") {
            close = s_.find("%}", e);
            if (close == std::string_view::npos)
              return fail(static_cast<std::uint32_t>(q), "unclosed {% endraw: expected %}");
            tag_start = q;
            break;
          }
          q += 2;
        }
        if (tag_start > p) {
          Token t;
          t.type = Token::Type::kText;
          t.begin = t.lo = static_cast<std::uint32_t>(p);
          t.end = t.hi = static_cast<std::uint32_t>(tag_start);
          out.push_back(t);
        }
        Token t = delimited(Token::Type::kTag, tag_start, close + 2);
        if (!name_tag(t)) return false;
        out.push_back(t);
        in_raw = false;
        p = close + 2;
        continue;
      }
      if (starts_with(p, "{%")) {
        size_t close = s_.find("%}", p + 2);
        if (close == std::string_view::npos)
          return fail(static_cast<std::uint32_t>(p), "unclosed tag " + quote(s_.substr(p)) + ": expected %}");
        Token t = delimited(Token::Type::kTag, p, close + 2);
        if (!name_tag(t)) return false;
        if (t.name == "raw") {
          in_raw = true;
          raw_at = t.begin;
        }
        out.push_back(t);
        p = close + 2;
      } else if (starts_with(p, "{{")) {
        size_t i = p + 2;
        size_t end = std::string_view::npos;
        size_t open_quote = std::string_view::npos;
        while (i < n) {
          char c = s_[i];
          if (c == '"' || c == '\'') {
            size_t j = i + 1;
            bool escaped = false, closed = false;
            while (j < n) {
              char d = s_[j++];
              if (d == c && !escaped) {
                closed = true;
                break;
              }
              escaped = !escaped && d == '\\';
            }
            if (!closed) open_quote = i;
            i = j;
            continue;
          }
          if (c == '}' && i + 1 < n && s_[i + 1] == '}') {
            end = i + 2;
            break;
          }
          ++i;
        }
        if (end == std::string_view::npos && open_quote != std::string_view::npos)
          return fail(static_cast<std::uint32_t>(open_quote), "unterminated string " + quote(s_.substr(open_quote)));
        if (end == std::string_view::npos)
          return fail(static_cast<std::uint32_t>(p), "unclosed output " + quote(s_.substr(p)) + ": expected }}");
        out.push_back(delimited(Token::Type::kOutput, p, end));
        p = end;
      } else {
        size_t q = p;
        while (true) {
          q = s_.find('{', q);
          if (q == std::string_view::npos || q + 1 >= n) {
            q = n;
            break;
          }
          if (s_[q + 1] == '%' || s_[q + 1] == '{') break;
          ++q;
        }
        Token t;
        t.type = Token::Type::kText;
        t.begin = t.lo = static_cast<std::uint32_t>(p);
        t.end = t.hi = static_cast<std::uint32_t>(q);
        out.push_back(t);
        p = q;
      }
    }
    // Whitespace control, as liquidjs: {%- / {{- trim the text before, -%} / -}} the text
    // after; the raw tag's own -%} and the inside of raw are left alone.
    in_raw = false;
    for (size_t i = 0; i < out.size(); ++i) {
      Token& t = out[i];
      if (t.type == Token::Type::kText) continue;
      if (!in_raw && t.trim_left && i > 0 && out[i - 1].type == Token::Type::kText) {
        Token& prev = out[i - 1];
        while (prev.hi > prev.lo) {
          size_t b = text::markup_blank_before(s_, prev.hi);
          if (!b) break;
          prev.hi -= static_cast<std::uint32_t>(b);
        }
      }
      if (t.type == Token::Type::kTag) {
        if (t.name == "raw")
          in_raw = true;
        else if (t.name == "endraw")
          in_raw = false;
      }
      if (!in_raw && t.trim_right && i + 1 < out.size() && out[i + 1].type == Token::Type::kText) {
        Token& next = out[i + 1];
        while (next.lo < next.hi) {
          size_t b = text::markup_blank_at(s_, next.lo);
          if (!b) break;
          next.lo += static_cast<std::uint32_t>(b);
        }
      }
    }
    return true;
  }

  // ---- markup (the inside of a tag or output) ----
  size_t pos_ = 0, end_ = 0;
  int expr_depth_ = 0;

  void set_markup(size_t from, size_t to) {
    pos_ = from;
    end_ = to;
  }
  void skip_blank() {
    while (pos_ < end_) {
      size_t n = text::markup_blank_at(s_, pos_);
      if (!n) break;
      pos_ += n;
    }
  }
  char peek(size_t k = 0) const { return pos_ + k < end_ ? s_[pos_ + k] : '\0'; }
  bool at_end() {
    skip_blank();
    return pos_ >= end_;
  }
  bool next_is_word(size_t at) const {
    if (at >= end_) return false;
    size_t j = at;
    return text::is_word(text::next_code_point(s_, j));
  }
  std::string_view read_identifier() {
    skip_blank();
    size_t b = pos_;
    pos_ = word_end(pos_, end_);
    return s_.substr(b, pos_ - b);
  }
  bool expect_end(std::string_view what) {
    if (at_end()) return true;
    std::string hint = peek() == '=' && peek(1) != '=' ? " (compare with ==)" : "";
    return fail(static_cast<std::uint32_t>(pos_),
                fmt::format("unexpected {} in {}{}", quote(s_.substr(pos_, end_ - pos_)), what, hint));
  }

  std::string_view store(std::string s) { return p_.strings.emplace_back(std::move(s)); }

  int slot(std::string_view name) {
    auto it = p_.slots.find(name);
    if (it != p_.slots.end()) return it->second;
    int id = static_cast<int>(p_.slot_names.size());
    p_.slot_names.emplace_back(name);
    // The key must outlive the map: it views the program's own copy.
    std::string_view key = store(std::string(name));
    p_.slots.emplace(key, id);
    return id;
  }

  // Operators: longest match; word operators need a word boundary.
  bool read_operator(Op& op, bool& unary) {
    skip_blank();
    struct Entry {
      std::string_view text;
      Op op;
      bool unary;
    };
    static constexpr std::array<Entry, 10> kOps = {{{"==", Op::kEq, false},
                                                    {"!=", Op::kNe, false},
                                                    {">=", Op::kGe, false},
                                                    {"<=", Op::kLe, false},
                                                    {">", Op::kGt, false},
                                                    {"<", Op::kLt, false},
                                                    {"contains", Op::kContains, false},
                                                    {"and", Op::kAnd, false},
                                                    {"or", Op::kOr, false},
                                                    {"not", Op::kEq, true}}};
    for (const auto& e : kOps) {
      if (pos_ + e.text.size() > end_ || s_.compare(pos_, e.text.size(), e.text) != 0) continue;
      bool word = e.text[0] >= 'a' && e.text[0] <= 'z';
      if (word && next_is_word(pos_ + e.text.size())) continue;
      pos_ += e.text.size();
      op = e.op;
      unary = e.unary;
      return true;
    }
    return false;
  }

  ExprPtr literal(std::uint32_t at, Value v) {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kLiteral;
    e->offset = at;
    e->literal = v;
    return e;
  }

  // liquidjs' string literal escapes: \n \t \r \b \f \v, \uXXXX, octal, else the character.
  std::string_view unescape(size_t from, size_t to) {
    std::string_view raw = s_.substr(from, to - from);
    if (raw.find('\\') == std::string_view::npos) return raw;
    std::string out;
    for (size_t i = 0; i < raw.size();) {
      if (raw[i] != '\\' || i + 1 >= raw.size()) {
        out.push_back(raw[i++]);
        continue;
      }
      char c = raw[i + 1];
      auto hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'); };
      auto hex_value = [](char h) { return h >= 'a' ? h - 'a' + 10 : h >= 'A' ? h - 'A' + 10 : h - '0'; };
      switch (c) {
        case 'b':
          out.push_back('\b'), i += 2;
          continue;
        case 'f':
          out.push_back('\f'), i += 2;
          continue;
        case 'n':
          out.push_back('\n'), i += 2;
          continue;
        case 'r':
          out.push_back('\r'), i += 2;
          continue;
        case 't':
          out.push_back('\t'), i += 2;
          continue;
        case 'v':
          out.push_back('\v'), i += 2;
          continue;
        default:
          break;
      }
      if (c == 'u') {
        char32_t v = 0;
        size_t j = i + 2;
        while (j < raw.size() && j <= i + 5 && hex(raw[j])) v = v * 16 + static_cast<char32_t>(hex_value(raw[j++]));
        tp::append_utf8(out, (v >= 0xD800 && v <= 0xDFFF) ? 0xFFFD : v);
        i = j;
      } else if (c >= '0' && c <= '7') {
        char32_t v = 0;
        size_t j = i + 1;
        while (j < raw.size() && j <= i + 3 && raw[j] >= '0' && raw[j] <= '7')
          v = v * 8 + static_cast<char32_t>(raw[j++] - '0');
        tp::append_utf8(out, v);
        i = j;
      } else {
        size_t j = i + 1;
        text::next_code_point(raw, j);
        out.append(raw.substr(i + 1, j - i - 1));
        i = j;
      }
    }
    return store(std::move(out));
  }

  ExprPtr read_literal_word() {
    static constexpr std::array<std::pair<std::string_view, int>, 6> kWords = {
        {{"true", 0}, {"false", 1}, {"nil", 2}, {"null", 2}, {"empty", 3}, {"blank", 4}}};
    for (const auto& [w, code] : kWords) {
      if (pos_ + w.size() > end_ || s_.compare(pos_, w.size(), w) != 0 || next_is_word(pos_ + w.size())) continue;
      auto at = static_cast<std::uint32_t>(pos_);
      pos_ += w.size();
      switch (code) {
        case 0:
          return literal(at, Value::boolean(true));
        case 1:
          return literal(at, Value::boolean(false));
        case 2:
          return literal(at, Value::literal(Kind::kNil));
        case 3:
          return literal(at, Value::literal(Kind::kEmpty));
        default:
          return literal(at, Value::literal(Kind::kBlank));
      }
    }
    return nullptr;
  }

  ExprPtr read_quoted() {
    char q = peek();
    if (q != '"' && q != '\'') return nullptr;
    size_t begin = pos_;
    size_t j = pos_ + 1;
    bool escaped = false, closed = false;
    while (j < end_) {
      char d = s_[j++];
      if (d == q && !escaped) {
        closed = true;
        break;
      }
      escaped = !escaped && d == '\\';
    }
    if (!closed) {
      fail(static_cast<std::uint32_t>(begin), "unterminated string " + quote(s_.substr(begin, end_ - begin)));
      return nullptr;
    }
    pos_ = j;
    return literal(static_cast<std::uint32_t>(begin), Value::string(unescape(begin + 1, j - 1)));
  }

  ExprPtr read_number() {
    size_t n = 0;
    if (peek() == '-' || peek() == '+') ++n;
    bool digits = false, dot = false;
    while (pos_ + n < end_) {
      char c = s_[pos_ + n];
      if (c >= '0' && c <= '9') {
        digits = true;
        ++n;
      } else if (c == '.' && peek(n + 1) != '.') {
        if (dot || !digits) return nullptr;
        dot = true;
        ++n;
      } else {
        break;
      }
    }
    if (!digits || next_is_word(pos_ + n)) return nullptr;
    auto at = static_cast<std::uint32_t>(pos_);
    double value = text::js_string_to_number(s_.substr(pos_, n));
    pos_ += n;
    return literal(at, Value::number(value));
  }

  ExprPtr read_range() {
    auto at = static_cast<std::uint32_t>(pos_);
    ++pos_;  // (
    ExprPtr lhs = read_value();
    if (failed()) return nullptr;
    skip_blank();
    if (!lhs || peek() != '.' || peek(1) != '.') {
      fail(at, "bad range: expected (first..last)");
      return nullptr;
    }
    pos_ += 2;
    ExprPtr rhs = read_value();
    if (failed()) return nullptr;
    skip_blank();
    if (!rhs || peek() != ')') {
      fail(at, "bad range: expected (first..last)");
      return nullptr;
    }
    ++pos_;
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kRange;
    e->offset = at;
    e->lhs = std::move(lhs);
    e->rhs = std::move(rhs);
    return e;
  }

  // A value: literal, string, number or range, then any .name / [key] steps; or a variable.
  // Returns null without an error when there is no value here.
  ExprPtr read_value() {
    skip_blank();
    if (pos_ >= end_) return nullptr;
    if (++expr_depth_ > kMaxDepth) {
      fail(static_cast<std::uint32_t>(pos_), "expression nested too deeply");
      return nullptr;
    }
    struct DepthGuard {
      int& d;
      ~DepthGuard() { --d; }
    } guard{expr_depth_};
    auto at = static_cast<std::uint32_t>(pos_);
    ExprPtr base = read_literal_word();
    if (!base) base = read_quoted();
    if (failed()) return nullptr;
    if (!base) base = read_number();
    if (!base && peek() == '(') base = read_range();
    if (failed()) return nullptr;
    std::vector<PathSegment> path;
    bool root_is_name = !base;
    while (true) {
      if (peek() == '[') {
        auto bracket = static_cast<std::uint32_t>(pos_);
        ++pos_;
        ExprPtr key = read_value();
        if (failed()) return nullptr;
        skip_blank();
        if (peek() != ']') {
          fail(bracket, "unclosed [: expected ]");
          return nullptr;
        }
        ++pos_;
        PathSegment seg;
        if (!key) {
          seg.type = PathSegment::Type::kName;
        } else if (key->kind == ExprKind::kLiteral && key->literal.kind() == Kind::kString) {
          seg.type = PathSegment::Type::kName;
          seg.name = key->literal.as_string();
        } else if (key->kind == ExprKind::kLiteral && key->literal.kind() == Kind::kNumber) {
          seg.type = PathSegment::Type::kIndex;
          seg.index = key->literal.as_number();
        } else {
          seg.type = PathSegment::Type::kDynamic;
          seg.dynamic = std::move(key);
        }
        path.push_back(std::move(seg));
        continue;
      }
      if (root_is_name && path.empty()) {
        std::string_view id = read_identifier();
        if (id.empty()) break;
        PathSegment seg;
        seg.name = id;
        path.push_back(std::move(seg));
        continue;
      }
      if (peek() == '.' && peek(1) != '.') {
        auto dot = static_cast<std::uint32_t>(pos_);
        ++pos_;
        std::string_view id = read_identifier();
        if (id.empty()) {
          fail(dot, "expected a property name after \".\"");
          return nullptr;
        }
        PathSegment seg;
        seg.name = id;
        path.push_back(std::move(seg));
        continue;
      }
      break;
    }
    if (path.empty()) return base;
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kVariable;
    e->offset = at;
    if (base) {
      e->base = std::move(base);
    } else {
      PathSegment& root = path.front();
      if (root.type == PathSegment::Type::kDynamic) {
        e->root_dynamic = std::move(root.dynamic);
      } else {
        e->root_id = slot(root.type == PathSegment::Type::kIndex ? std::string_view(store(text::js_number(root.index)))
                                                                 : root.name);
      }
      path.erase(path.begin());
    }
    e->path = std::move(path);
    return e;
  }

  // An expression: values joined by operators, as liquidjs evaluates them: comparisons bind
  // tighter than not, which binds tighter than and/or; and/or group from the right.
  ExprPtr read_expression() {
    struct Item {
      bool is_op;
      Op op;
      bool unary;
      ExprPtr value;
      std::uint32_t offset;
    };
    auto precedence = [](const Item& i) {
      if (i.unary) return 1;
      return (i.op == Op::kAnd || i.op == Op::kOr) ? 0 : 2;
    };
    std::vector<Item> postfix, ops;
    while (true) {
      skip_blank();
      auto at = static_cast<std::uint32_t>(pos_);
      Op op;
      bool unary;
      if (read_operator(op, unary)) {
        Item it{true, op, unary, nullptr, at};
        while (!ops.empty() && precedence(ops.back()) > precedence(it)) {
          postfix.push_back(std::move(ops.back()));
          ops.pop_back();
        }
        ops.push_back(std::move(it));
        continue;
      }
      ExprPtr v = read_value();
      if (failed()) return nullptr;
      if (!v) break;
      postfix.push_back(Item{false, Op::kEq, false, std::move(v), at});
    }
    while (!ops.empty()) {
      postfix.push_back(std::move(ops.back()));
      ops.pop_back();
    }
    if (postfix.empty()) return nullptr;
    // Operators of one precedence nest to the right, so the tree is as deep as the chain is
    // long: bound it (evaluation and destruction recurse through it).
    constexpr int kMaxOperatorDepth = 256;
    std::vector<ExprPtr> stack;
    std::vector<int> depths;
    static constexpr std::array<std::string_view, 9> kNames = {
        "==", "!=", "<", ">", "<=", ">=", "contains", "and", "or"};
    for (auto& it : postfix) {
      if (!it.is_op) {
        stack.push_back(std::move(it.value));
        depths.push_back(1);
        continue;
      }
      auto e = std::make_unique<Expr>();
      e->offset = it.offset;
      int depth;
      if (it.unary) {
        if (stack.empty()) {
          fail(it.offset, "bad expression: \"not\" needs a value after it");
          return nullptr;
        }
        e->kind = ExprKind::kNot;
        e->lhs = std::move(stack.back());
        stack.pop_back();
        depth = depths.back() + 1;
        depths.pop_back();
      } else {
        if (stack.size() < 2) {
          fail(it.offset,
               fmt::format("bad expression: \"{}\" needs a value on each side", kNames[static_cast<int>(it.op)]));
          return nullptr;
        }
        e->kind = ExprKind::kBinary;
        e->op = it.op;
        e->rhs = std::move(stack.back());
        stack.pop_back();
        e->lhs = std::move(stack.back());
        stack.pop_back();
        depth = std::max(depths[depths.size() - 1], depths[depths.size() - 2]) + 1;
        depths.resize(depths.size() - 2);
      }
      if (depth > kMaxOperatorDepth) {
        fail(it.offset, fmt::format("expression too long: more than {} operators in a chain", kMaxOperatorDepth));
        return nullptr;
      }
      stack.push_back(std::move(e));
      depths.push_back(depth);
    }
    if (stack.size() != 1) {
      fail(stack[1]->offset, "bad expression: two values without an operator between them");
      return nullptr;
    }
    return std::move(stack.front());
  }

  // `expression | filter: args | ...`; the whole markup range must be used up by the caller.
  bool read_filtered_value(FilteredValue& fv, std::string_view what) {
    skip_blank();
    auto at = static_cast<std::uint32_t>(pos_);
    fv.expr = read_expression();
    if (failed()) return false;
    if (!fv.expr) {
      if (pos_ < end_)
        return fail(
            at, fmt::format("bad expression in {}: expected a value at {}", what, quote(s_.substr(pos_, end_ - pos_))));
      return fail(at, fmt::format("expected a value in {}", what));
    }
    while (!at_end() && peek() == '|') {
      auto bar = static_cast<std::uint32_t>(pos_);
      ++pos_;
      skip_blank();
      auto name_at = static_cast<std::uint32_t>(pos_);
      std::string_view name = read_identifier();
      if (name.empty()) return fail(bar, "expected a filter name after |");
      FilterCall call;
      call.offset = name_at;
      call.def = find_filter(name);
      if (!call.def)
        return fail(name_at, fmt::format("unknown filter \"{}\"{}", name, suggestion(name, filter_names())));
      skip_blank();
      std::vector<std::uint32_t> arg_offsets;
      std::vector<ExprPtr> named;  // only default's allow_false: passed after the positional ones
      if (peek() == ':') {
        do {
          ++pos_;
          skip_blank();
          auto arg_at = static_cast<std::uint32_t>(pos_);
          ExprPtr v = read_value();
          if (failed()) return false;
          if (!v) return fail(arg_at, fmt::format("filter \"{}\": expected an argument", name));
          skip_blank();
          if (peek() == ':') {
            // A named argument; its name is the text of the value just read.
            if (v->kind != ExprKind::kVariable || v->root_id < 0 || !v->path.empty())
              return fail(arg_at, fmt::format("filter \"{}\": bad argument name", name));
            std::string_view key = p_.slot_names[static_cast<size_t>(v->root_id)];
            ++pos_;
            skip_blank();
            auto value_at = static_cast<std::uint32_t>(pos_);
            ExprPtr value = read_value();
            if (failed()) return false;
            if (!value) return fail(value_at, fmt::format("filter \"{}\": expected a value for {}", name, key));
            if (!(call.def->name == "default" && key == "allow_false"))
              return fail(arg_at, fmt::format("filter \"{}\" has no argument named \"{}\"", name, key));
            named.push_back(std::move(value));
          } else {
            if (!named.empty()) return fail(arg_at, fmt::format("filter \"{}\": an argument after a named one", name));
            arg_offsets.push_back(arg_at);
            call.args.push_back(std::move(v));
          }
          skip_blank();
        } while (peek() == ',');
      }
      if (pos_ < end_ && peek() != '|')
        return fail(static_cast<std::uint32_t>(pos_),
                    fmt::format("filter \"{}\": unexpected {}", name, quote(s_.substr(pos_, end_ - pos_))));
      const FilterDef& def = *call.def;
      if (call.args.size() < def.min_args || call.args.size() > def.max_args) {
        std::string wanted = def.min_args == def.max_args ? std::to_string(def.min_args)
                                                          : fmt::format("{} to {}", def.min_args, def.max_args);
        return fail(name_at, fmt::format("filter \"{}\" takes {} argument{}, not {}", name, wanted,
                                         def.max_args == 1 ? "" : "s", call.args.size()));
      }
      if (def.shape == FilterShape::kLambda && !compile_lambda(call, name, arg_offsets)) return false;
      for (auto& v : named) call.args.push_back(std::move(v));
      fv.filters.push_back(std::move(call));
    }
    if (!fv.filters.empty()) {
      std::string_view last = fv.filters.back().def->name;
      fv.raw = last == "raw";
      fv.json_last = last == "json" || last == "jsonify";
    }
    return true;
  }

  // where_exp: "item", "item.price > 10": both string literals; the expression is compiled
  // here, in place in the source, with the item name as a variable.
  bool compile_lambda(FilterCall& call, std::string_view name, const std::vector<std::uint32_t>& offsets) {
    const Expr& item = *call.args[0];
    const Expr& exp = *call.args[1];
    auto is_string = [](const Expr& e) { return e.kind == ExprKind::kLiteral && e.literal.kind() == Kind::kString; };
    if (!is_string(item) || !is_string(exp))
      return fail(offsets[0], fmt::format("filter \"{}\" takes a quoted variable name and a quoted expression", name));
    std::string_view item_name = item.literal.as_string();
    if (item_name.empty()) return fail(offsets[0], fmt::format("filter \"{}\": empty variable name", name));
    std::string_view body = exp.literal.as_string();
    size_t body_at = offsets[1] + 1;
    if (body.data() != s_.data() + body_at)
      return fail(offsets[1], fmt::format("filter \"{}\": the expression may not contain backslash escapes", name));
    call.lambda_slot = slot(item_name);
    size_t saved_pos = pos_, saved_end = end_;
    set_markup(body_at, body_at + body.size());
    auto fv = std::make_unique<FilteredValue>();
    bool ok = read_filtered_value(*fv, fmt::format("the expression of {}", name)) &&
              expect_end(fmt::format("the expression of {}", name));
    set_markup(saved_pos, saved_end);
    if (!ok) return false;
    call.lambda = std::move(fv);
    return true;
  }

  // ---- blocks ----
  std::vector<Token>* tokens_ = nullptr;
  std::vector<Token> top_tokens_;
  size_t i_ = 0;
  struct Open {
    std::string_view name;
    std::uint32_t offset;
  };
  std::vector<Open> open_;

  // Parses nodes until one of `stops` (returned in `stop`), or the end of the tokens when
  // `stops` is empty.
  bool parse_block(Block& block, std::initializer_list<std::string_view> stops, const Token*& stop, int depth) {
    if (depth > kMaxDepth) {
      std::uint32_t at = open_.empty() ? 0 : open_.back().offset;
      return fail(at, fmt::format("blocks nested more than {} deep", kMaxDepth));
    }
    while (i_ < tokens_->size()) {
      const Token& t = (*tokens_)[i_++];
      switch (t.type) {
        case Token::Type::kText:
          if (t.lo < t.hi) block.push_back(std::make_unique<TextNode>(t.begin, s_.substr(t.lo, t.hi - t.lo)));
          break;
        case Token::Type::kOutput: {
          auto node = std::make_unique<OutputNode>(t.begin);
          set_markup(t.lo, t.hi);
          if (!read_filtered_value(node->value, "{{ }}") || !expect_end("{{ }}")) return false;
          block.push_back(std::move(node));
          break;
        }
        case Token::Type::kTag:
          if (std::find(stops.begin(), stops.end(), t.name) != stops.end()) {
            stop = &t;
            return true;
          }
          if (!parse_tag(t, block, depth)) return false;
          break;
      }
    }
    if (stops.size() == 0) return true;
    const Open& o = open_.back();
    return fail(o.offset, fmt::format("unclosed {{% {} %}}: expected {{% {} %}}", o.name, *(stops.end() - 1)));
  }

  bool no_arguments(const Token& t) {
    set_markup(t.args, t.hi);
    return expect_end(fmt::format("{{% {} %}}", t.name));
  }

  // Parses the body of a block tag up to its end tag, handling the given middle tags.
  template <typename OnMiddle>
  bool parse_body(const Token& open, Block& first, std::initializer_list<std::string_view> stops, int depth,
                  OnMiddle on_middle) {
    open_.push_back({open.name, open.begin});
    Block* current = &first;
    std::string_view end = *(stops.end() - 1);
    while (true) {
      const Token* stop = nullptr;
      if (!parse_block(*current, stops, stop, depth + 1)) return false;
      if (stop->name == end) {
        if (!no_arguments(*stop)) return false;
        open_.pop_back();
        return true;
      }
      current = on_middle(*stop);
      if (!current) return false;
    }
  }

  bool parse_tag(const Token& t, Block& block, int depth) {
    std::string_view n = t.name;
    std::uint32_t at = t.begin;
    set_markup(t.args, t.hi);
    std::string tag = fmt::format("{{% {} %}}", n);

    if (n == "if" || n == "unless") {
      bool unless = n == "unless";
      auto node = std::make_unique<IfNode>(at);
      node->branches.emplace_back();
      node->branches.back().negate = unless;
      if (!read_filtered_value(node->branches.back().condition, tag) || !expect_end(tag)) return false;
      bool seen_else = false;
      std::string_view end = unless ? "endunless" : "endif";
      bool ok =
          parse_body(t, node->branches.back().body, {"elsif", "else", end}, depth, [&](const Token& mid) -> Block* {
            if (seen_else) {
              fail(mid.begin, fmt::format("unexpected {{% {} %}} after {{% else %}}", mid.name));
              return nullptr;
            }
            if (mid.name == "else") {
              seen_else = true;
              if (!no_arguments(mid)) return nullptr;
              return &node->otherwise;
            }
            node->branches.emplace_back();
            set_markup(mid.args, mid.hi);
            if (!read_filtered_value(node->branches.back().condition, "{% elsif %}") || !expect_end("{% elsif %}"))
              return nullptr;
            return &node->branches.back().body;
          });
      if (!ok) return false;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "case") {
      auto node = std::make_unique<CaseNode>(at);
      if (!read_filtered_value(node->subject, tag) || !expect_end(tag)) return false;
      Block before_first_when;  // liquidjs drops whatever stands before the first when
      bool seen_else = false;
      bool ok = parse_body(t, before_first_when, {"when", "else", "endcase"}, depth, [&](const Token& mid) -> Block* {
        if (seen_else) {
          fail(mid.begin, fmt::format("unexpected {{% {} %}} after {{% else %}}", mid.name));
          return nullptr;
        }
        if (mid.name == "else") {
          seen_else = true;
          if (!no_arguments(mid)) return nullptr;
          return &node->otherwise;
        }
        CaseNode::When when;
        set_markup(mid.args, mid.hi);
        while (true) {
          auto v_at = static_cast<std::uint32_t>(pos_);
          ExprPtr v = read_value();
          if (failed()) return nullptr;
          if (!v) {
            fail(v_at, "expected a value in {% when %}");
            return nullptr;
          }
          when.values.push_back(std::move(v));
          if (at_end()) break;
          if (peek() == ',') {
            ++pos_;
            continue;
          }
          if (peek() == 'o' && peek(1) == 'r' && !next_is_word(pos_ + 2)) {
            pos_ += 2;
            continue;
          }
          if (!expect_end("{% when %}")) return nullptr;
        }
        node->whens.push_back(std::move(when));
        return &node->whens.back().body;
      });
      if (!ok) return false;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "for" || n == "tablerow") {
      bool tablerow = n == "tablerow";
      auto node = std::make_unique<ForNode>(tablerow ? NodeKind::kTablerow : NodeKind::kFor, at);
      std::string_view var = read_identifier();
      if (var.empty()) return fail(at, fmt::format("expected a variable name in {}", tag));
      auto in_at = static_cast<std::uint32_t>(pos_);
      if (read_identifier() != "in") return fail(in_at, fmt::format("expected \"in\" after {} {}", n, var));
      skip_blank();
      size_t collection_at = pos_;
      node->collection = read_value();
      if (failed()) return false;
      if (!node->collection)
        return fail(static_cast<std::uint32_t>(collection_at), fmt::format("expected a collection in {}", tag));
      std::string_view collection_text = s_.substr(collection_at, pos_ - collection_at);
      node->name = store(fmt::format("{}-{}", var, collection_text));
      node->slot = slot(var);
      node->loop_slot = slot(tablerow ? "tablerowloop" : "forloop");
      while (true) {
        skip_blank();
        if (peek() == ',') ++pos_;
        auto param_at = static_cast<std::uint32_t>(pos_);
        std::string_view param = read_identifier();
        if (param.empty()) break;
        if (param == "reversed" && !tablerow) {
          node->reversed = true;
          continue;
        }
        bool known = param == "limit" || param == "offset" || (tablerow && param == "cols");
        if (!known)
          return fail(param_at, fmt::format("unknown parameter \"{}\" of {} (expected {})", param, tag,
                                            tablerow ? "cols, limit, offset" : "limit, offset, reversed"));
        skip_blank();
        if (peek() != ':') return fail(param_at, fmt::format("expected \"{}: value\"", param));
        ++pos_;
        auto value_at = static_cast<std::uint32_t>(pos_);
        ExprPtr v = read_value();
        if (failed()) return false;
        if (!v) return fail(value_at, fmt::format("expected a value for {}", param));
        if (param == "limit")
          node->limit = std::move(v);
        else if (param == "cols")
          node->cols = std::move(v);
        else {
          node->offset_continue = !tablerow && v->kind == ExprKind::kVariable && v->path.empty() && v->root_id >= 0 &&
                                  p_.slot_names[static_cast<size_t>(v->root_id)] == "continue";
          node->offset_param = std::move(v);
        }
      }
      if (!expect_end(tag)) return false;
      bool ok;
      if (tablerow) {
        ok = parse_body(t, node->body, {"endtablerow"}, depth, [](const Token&) -> Block* { return nullptr; });
      } else {
        bool seen_else = false;
        ok = parse_body(t, node->body, {"else", "endfor"}, depth, [&](const Token& mid) -> Block* {
          if (seen_else) {
            fail(mid.begin, "unexpected {% else %} after {% else %}");
            return nullptr;
          }
          seen_else = true;
          if (!no_arguments(mid)) return nullptr;
          return &node->otherwise;
        });
      }
      if (!ok) return false;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "assign") {
      auto node = std::make_unique<AssignNode>(at);
      std::string_view var = read_identifier();
      if (var.empty()) return fail(at, "expected a variable name in {% assign %}");
      skip_blank();
      if (peek() != '=')
        return fail(static_cast<std::uint32_t>(pos_), fmt::format("expected \"=\" after assign {}", var));
      ++pos_;
      node->slot = slot(var);
      if (!read_filtered_value(node->value, tag) || !expect_end(tag)) return false;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "capture") {
      auto node = std::make_unique<CaptureNode>(at);
      skip_blank();
      std::string_view var;
      if (peek() == '"' || peek() == '\'') {
        ExprPtr q = read_quoted();
        if (!q) return false;
        var = q->literal.as_string();
      } else {
        var = read_identifier();
      }
      if (var.empty()) return fail(at, "expected a variable name in {% capture %}");
      if (!expect_end(tag)) return false;
      node->slot = slot(var);
      if (!parse_body(t, node->body, {"endcapture"}, depth, [](const Token&) -> Block* { return nullptr; }))
        return false;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "comment") {
      // Skips every token (still tokenized, as liquidjs does) up to the first endcomment.
      while (i_ < tokens_->size()) {
        const Token& c = (*tokens_)[i_++];
        if (c.type == Token::Type::kTag && c.name == "endcomment") return true;
      }
      return fail(at, "unclosed {% comment %}: expected {% endcomment %}");
    }

    if (n == "raw") {
      if (tokens_ != &top_tokens_) return fail(at, "{% raw %} cannot be used inside {% liquid %}");
      std::string_view content;
      if (i_ < tokens_->size() && (*tokens_)[i_].type == Token::Type::kText) {
        const Token& c = (*tokens_)[i_++];
        content = s_.substr(c.begin, c.end - c.begin);
      }
      ++i_;  // endraw: the tokenizer put it here
      if (!content.empty()) block.push_back(std::make_unique<TextNode>(at, content));
      return true;
    }

    if (n == "break" || n == "continue") {
      if (!no_arguments(t)) return false;
      block.push_back(std::make_unique<Node>(n == "break" ? NodeKind::kBreak : NodeKind::kContinue, at));
      return true;
    }

    if (n == "increment" || n == "decrement") {
      std::string_view var = read_identifier();
      if (var.empty()) return fail(at, fmt::format("expected a variable name in {}", tag));
      if (!expect_end(tag)) return false;
      p_.uses_counters = true;
      block.push_back(std::make_unique<CounterNode>(at, slot(var), n == "increment" ? 1 : -1));
      return true;
    }

    if (n == "cycle") {
      auto node = std::make_unique<CycleNode>(at);
      size_t before = pos_;
      ExprPtr group = read_value();
      if (failed()) return false;
      skip_blank();
      if (group && peek() == ':') {
        ++pos_;
        node->group = std::move(group);
      } else {
        pos_ = before;
      }
      skip_blank();
      size_t candidates_at = pos_;
      while (true) {
        FilteredValue fv;
        if (!read_filtered_value(fv, tag)) return false;
        node->candidates.push_back(std::move(fv));
        if (at_end()) break;
        if (peek() != ',') return expect_end(tag);
        ++pos_;
      }
      node->fingerprint = s_.substr(candidates_at, end_ - candidates_at);
      p_.uses_cycle = true;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "echo") {
      if (at_end()) return true;
      auto node = std::make_unique<OutputNode>(at);
      if (!read_filtered_value(node->value, tag) || !expect_end(tag)) return false;
      block.push_back(std::move(node));
      return true;
    }

    if (n == "liquid") {
      // Every line is a tag without delimiters.
      std::vector<Token> lines;
      size_t p = t.args;
      while (p < t.hi) {
        while (size_t b = text::markup_blank_at(s_, p)) {
          if (p >= t.hi) break;
          p += b;
        }
        if (p >= t.hi) break;
        size_t e = s_.find('\n', p);
        if (e == std::string_view::npos || e > t.hi) e = t.hi;
        Token line;
        line.type = Token::Type::kTag;
        line.begin = static_cast<std::uint32_t>(p);
        line.end = static_cast<std::uint32_t>(e);
        size_t l = p, r = e;
        while (r > l) {
          size_t b = text::markup_blank_before(s_, r);
          if (!b) break;
          r -= b;
        }
        line.lo = static_cast<std::uint32_t>(l);
        line.hi = static_cast<std::uint32_t>(r);
        if (!name_tag(line)) return false;
        lines.push_back(line);
        p = e;
      }
      std::vector<Token>* saved = tokens_;
      size_t saved_i = i_;
      tokens_ = &lines;
      i_ = 0;
      const Token* stop = nullptr;
      bool ok = parse_block(block, {}, stop, depth + 1);
      tokens_ = saved;
      i_ = saved_i;
      return ok;
    }

    if (n == "#") {
      // Every line of an inline comment starts with #.
      std::string_view body = s_.substr(t.args, t.hi - t.args);
      for (size_t nl = body.find('\n'); nl != std::string_view::npos; nl = body.find('\n', nl + 1)) {
        size_t k = nl + 1;
        while (k < body.size() && text::markup_blank_at(body, k)) k += text::markup_blank_at(body, k);
        if (k < body.size() && body[k] != '#')
          return fail(static_cast<std::uint32_t>(t.args + k), "every line of an inline comment must start with #");
      }
      return true;
    }

    if (n == "include" || n == "render" || n == "layout" || n == "block")
      return fail(at, fmt::format("{} is not supported: a template is one file (use assign and capture instead)", tag));

    static const std::vector<std::string_view> kMiddle = {"elsif",      "else",       "when",   "endif",
                                                          "endunless",  "endcase",    "endfor", "endtablerow",
                                                          "endcapture", "endcomment", "endraw"};
    if (std::find(kMiddle.begin(), kMiddle.end(), n) != kMiddle.end()) {
      if (open_.empty()) return fail(at, fmt::format("unexpected {}: no block is open", tag));
      const Open& o = open_.back();
      return fail(at, fmt::format("unexpected {} inside {{% {} %}} opened at {}", tag, o.name, p_.where(o.offset)));
    }
    return fail(at, fmt::format("unknown tag \"{}\"{}", n, suggestion(n, tag_names())));
  }

  Program& p_;
  std::string_view s_;
  Status error_;
};

}  // namespace

std::string Program::where(std::uint32_t offset) const {
  auto it = std::upper_bound(line_starts.begin(), line_starts.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts.begin());  // 1-based
  std::uint32_t start = line_starts[line - 1];
  size_t column = text::code_point_count(std::string_view(source).substr(start, offset - start)) + 1;
  if (line == 1) column += static_cast<size_t>(origin.column - 1);
  line += static_cast<size_t>(origin.line - 1);
  return fmt::format("{}:{}:{}", file, line, column);
}

Result<std::shared_ptr<const Program>> parse_program(std::string_view text, std::string_view file,
                                                     SourceOrigin origin) {
  auto program = std::make_shared<Program>();
  program->file = std::string(file);
  program->origin = origin;
  if (text.size() > kMaxTemplateBytes)
    return Status(StatusCode::kTooLarge, fmt::format("{}: template is {} bytes, more than the limit of {}", file,
                                                     text.size(), kMaxTemplateBytes));
  program->source = std::string(text);
  program->line_starts.push_back(0);
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') program->line_starts.push_back(static_cast<std::uint32_t>(i + 1));
  Parser parser(*program);
  TP_TRY(parser.run());
  return std::shared_ptr<const Program>(std::move(program));
}

bool parse_property_path(std::string_view path, std::vector<std::string>& keys, std::vector<bool>& is_index) {
  keys.clear();
  is_index.clear();
  size_t i = 0;
  auto word_end = [&](size_t at) {
    while (at < path.size()) {
      size_t j = at;
      if (!text::is_word(text::next_code_point(path, j))) break;
      at = j;
    }
    return at;
  };
  while (i < path.size() && text::markup_blank_at(path, i)) i += text::markup_blank_at(path, i);
  bool first = true;
  while (i < path.size()) {
    if (path[i] == '[') {
      ++i;
      if (i < path.size() && (path[i] == '"' || path[i] == '\'')) {
        char q = path[i];
        size_t e = path.find(q, i + 1);
        if (e == std::string_view::npos) return false;
        keys.emplace_back(path.substr(i + 1, e - i - 1));
        is_index.push_back(false);
        i = e + 1;
      } else {
        size_t e = i;
        if (e < path.size() && path[e] == '-') ++e;
        while (e < path.size() && path[e] >= '0' && path[e] <= '9') ++e;
        if (e == i) return false;
        keys.emplace_back(path.substr(i, e - i));
        is_index.push_back(true);
        i = e;
      }
      if (i >= path.size() || path[i] != ']') return false;
      ++i;
    } else if (first || path[i] == '.') {
      if (!first) ++i;
      size_t e = word_end(i);
      if (e == i) return false;
      keys.emplace_back(path.substr(i, e - i));
      is_index.push_back(false);
      i = e;
    } else {
      break;
    }
    first = false;
  }
  while (i < path.size() && text::markup_blank_at(path, i)) i += text::markup_blank_at(path, i);
  return i == path.size() && !keys.empty();
}

}  // namespace tp::templates
