#include "templates/template_set.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "base/file.h"
#include "base/text.h"
#include "templates/text.h"

namespace tp::templates {

struct TemplateFile {
  std::string path;
  std::string name;
  Channel channel = Channel::kEmail;
  std::optional<Template> variant_by;
  std::string method = "POST";
  std::map<std::string, Template> fields;                            // subject, preheader, from, ...
  std::map<std::string, Template> headers;                           // webhook
  std::map<std::string, std::map<std::string, Template>> overrides;  // variant -> field -> template
  std::map<std::pair<std::string, std::string>, Template> parts;     // (part, variant or "")
  std::set<std::string> variants;
};

namespace {

namespace fs = std::filesystem;

struct ChannelSpec {
  std::vector<std::string_view> fields;  // text fields of the front matter (Liquid)
  std::vector<std::string_view> required_fields;
  std::vector<std::string_view> parts;
  std::string_view primary_part;  // the part a file without {% part %} tags holds
  std::vector<std::string_view> required_parts;
  std::string_view article;  // "an email template"
};

const ChannelSpec& spec(Channel c) {
  static const ChannelSpec kEmail{{"subject", "preheader", "from", "reply_to"},
                                  {"subject"},
                                  {"html", "text"},
                                  "html",
                                  {"html"},
                                  "an email template"};
  static const ChannelSpec kSms{{"from"}, {}, {"text"}, "text", {"text"}, "an SMS template"};
  static const ChannelSpec kWebhook{{"url"}, {}, {"body"}, "body", {"body"}, "a webhook template"};
  switch (c) {
    case Channel::kEmail:
      return kEmail;
    case Channel::kSms:
      return kSms;
    case Channel::kWebhook:
      return kWebhook;
  }
  return kEmail;
}

// Fields whose rendered value goes into a header line: no line breaks allowed.
bool single_line(std::string_view field) {
  return field == "subject" || field == "from" || field == "reply_to" || field == "url";
}

std::string list(const std::vector<std::string_view>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) out += (i ? ", " : "") + std::string(words[i]);
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = word.size() <= 4 ? 2 : 3;
  for (auto c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", best);
}

// Line and column (1-based, columns in characters) of byte offsets in a file's text.
class Positions {
 public:
  explicit Positions(std::string_view text) : text_(text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') starts_.push_back(i + 1);
  }
  std::pair<int, int> at(size_t offset) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    size_t line = static_cast<size_t>(it - starts_.begin());
    size_t start = starts_[line - 1];
    int col = static_cast<int>(text::code_point_count(text_.substr(start, offset - start))) + 1;
    return {static_cast<int>(line), col};
  }
  size_t line_start(int line) const {
    return line >= 1 && static_cast<size_t>(line) <= starts_.size() ? starts_[static_cast<size_t>(line - 1)]
                                                                    : text_.size();
  }

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
};

class FileLoader {
 public:
  FileLoader(const std::string& path, std::string_view text, std::vector<Problem>& problems)
      : path_(path), text_(text), pos_(text), problems_(problems) {}

  std::unique_ptr<TemplateFile> load() {
    size_t before = problems_.size();
    auto f = std::make_unique<TemplateFile>();
    f_ = f.get();
    f->path = path_;
    if (!parse_name()) return nullptr;
    const ChannelSpec& s = spec(f->channel);
    size_t body = split_front_matter();
    if (problems_.size() != before) return nullptr;
    if (fm_) load_front_matter(s);
    load_parts(s, body);
    check(s);
    if (problems_.size() != before) return nullptr;
    return f;
  }

 private:
  void problem(int line, int column, std::string message) {
    problems_.push_back({path_, line, column, std::move(message)});
  }
  void problem_at(size_t offset, std::string message) {
    auto [l, c] = pos_.at(offset);
    problem(l, c, std::move(message));
  }
  // A Liquid compile error "path:L:C: message" as a Problem.
  void liquid_problem(const Status& s) {
    std::string_view m = s.message();
    std::string prefix = path_ + ":";
    int line = 1, column = 1;
    if (m.substr(0, prefix.size()) == prefix) {
      std::string_view rest = m.substr(prefix.size());
      size_t a = rest.find(':'), b = rest.find(':', a + 1);
      if (a != std::string_view::npos && b != std::string_view::npos) {
        line = std::atoi(std::string(rest.substr(0, a)).c_str());
        column = std::atoi(std::string(rest.substr(a + 1, b - a - 1)).c_str());
        m = rest.substr(b + 1);
        if (!m.empty() && m[0] == ' ') m.remove_prefix(1);
      }
    }
    problem(line, column, std::string(m));
  }

  std::optional<Template> compile(std::string_view text, SourceOrigin origin) {
    auto t = Template::compile(text, path_, origin);
    if (!t.is_ok()) {
      liquid_problem(t.status());
      return std::nullopt;
    }
    return std::move(t).value();
  }

  bool parse_name() {
    std::string base = fs::path(path_).filename().string();
    static const std::string kExt = ".liquid";
    size_t dot = base.size() > kExt.size() ? base.rfind('.', base.size() - kExt.size() - 1) : std::string::npos;
    std::optional<Channel> channel;
    if (dot != std::string::npos && base.compare(base.size() - kExt.size(), kExt.size(), kExt) == 0)
      channel = parse_channel(std::string_view(base).substr(dot + 1, base.size() - kExt.size() - dot - 1));
    std::string name = dot == std::string::npos ? "" : base.substr(0, dot);
    bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!channel || !name_ok) {
      problem(1, 1,
              "a template file is named NAME.email.liquid, NAME.sms.liquid or NAME.webhook.liquid, with NAME of a-z, "
              "0-9, - and _");
      return false;
    }
    f_->name = name;
    f_->channel = *channel;
    return true;
  }

  // Finds the front matter: a first line "---", then YAML up to a line "---". Returns where the
  // body starts.
  size_t split_front_matter() {
    auto line_end = [&](size_t from) {
      size_t e = text_.find('\n', from);
      return e == std::string_view::npos ? text_.size() : e;
    };
    auto is_fence = [&](size_t from, size_t to) {
      std::string_view l = text_.substr(from, to - from);
      while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
      return l == "---";
    };
    size_t first_end = line_end(0);
    if (!is_fence(0, first_end)) return 0;
    size_t start = first_end + 1;
    for (size_t at = start; at <= text_.size();) {
      size_t e = line_end(at);
      if (at < text_.size() && is_fence(at, e)) {
        fm_ = text_.substr(std::min(start, text_.size()), at - std::min(start, text_.size()));
        fm_offset_ = std::min(start, text_.size());
        return std::min(e + 1, text_.size());
      }
      if (e >= text_.size()) break;
      at = e + 1;
    }
    problem(1, 1, "the front matter is not closed: expected a line --- after it");
    return text_.size();
  }

  // Where a scalar's text starts in the file, for positions inside its Liquid.
  SourceOrigin origin_of(const YAML::Node& node) {
    YAML::Mark m = node.Mark();
    size_t offset = fm_offset_ + static_cast<size_t>(std::max(m.pos, 0));
    auto [line, col] = pos_.at(offset);
    char c = offset < text_.size() ? text_[offset] : ' ';
    if (c == '"' || c == '\'') return {line, col + 1};
    if (c == '|' || c == '>') {
      size_t next = text_.find('\n', offset);
      if (next == std::string_view::npos) return {line, col};
      size_t k = next + 1;
      while (k < text_.size() && (text_[k] == ' ' || text_[k] == '\t')) ++k;
      auto [l2, c2] = pos_.at(k);
      return {l2, c2};
    }
    return {line, col};
  }

  void yaml_problem(const YAML::Node& node, std::string message) {
    auto [line, col] = pos_.at(fm_offset_ + static_cast<size_t>(std::max(node.Mark().pos, 0)));
    problem(line, col, std::move(message));
  }

  std::optional<Template> text_field(const YAML::Node& value, std::string_view key) {
    if (!value.IsScalar()) {
      yaml_problem(value, fmt::format("{} must be text", key));
      return std::nullopt;
    }
    return compile(value.Scalar(), origin_of(value));
  }

  void load_front_matter(const ChannelSpec& s) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(*fm_));
    } catch (const YAML::Exception& e) {
      fm_failed_ = true;
      auto [line, col] = pos_.at(fm_offset_ + static_cast<size_t>(std::max(e.mark.pos, 0)));
      problem(line, col, "front matter: " + e.msg);
      return;
    }
    if (root.IsNull()) return;
    if (!root.IsMap()) {
      yaml_problem(root, "the front matter must be a mapping of keys (subject: …)");
      return;
    }
    std::vector<std::string_view> known(s.fields.begin(), s.fields.end());
    known.insert(known.end(), {"description", "variant_by", "variants"});
    if (f_->channel == Channel::kWebhook) known.insert(known.end(), {"method", "headers"});
    for (const auto& kv : root) {
      std::string key = kv.first.Scalar();
      keys_.insert(key);
      const YAML::Node& value = kv.second;
      if (std::find(s.fields.begin(), s.fields.end(), key) != s.fields.end()) {
        if (auto t = text_field(value, key)) f_->fields.emplace(key, std::move(*t));
      } else if (key == "description") {
        // For people; not rendered.
      } else if (key == "variant_by") {
        if (!value.IsScalar() || value.Scalar().empty()) {
          yaml_problem(value, "variant_by must be a variable path such as user.traits.segment");
          continue;
        }
        SourceOrigin o = origin_of(value);
        o.column -= 3;  // the expression is compiled as "{{ expression }}"
        variant_by_at_ = {o.line, o.column + 3};
        if (auto t = compile("{{ " + value.Scalar() + " }}", o)) f_->variant_by = std::move(*t);
      } else if (key == "variants") {
        load_variants(value, s);
      } else if (key == "method" && f_->channel == Channel::kWebhook) {
        std::string m = value.IsScalar() ? value.Scalar() : "";
        std::transform(m.begin(), m.end(), m.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
        if (!kMethods.count(m))
          yaml_problem(value, "method must be GET, POST, PUT, PATCH or DELETE");
        else
          f_->method = m;
      } else if (key == "headers" && f_->channel == Channel::kWebhook) {
        if (!value.IsMap()) {
          yaml_problem(value, "headers must be a mapping of header names to values");
          continue;
        }
        for (const auto& h : value) {
          std::string name = h.first.Scalar();
          bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '_';
          });
          if (!ok) {
            yaml_problem(h.first, fmt::format("\"{}\" is not a header name (letters, digits, - and _)", name));
            continue;
          }
          if (auto t = text_field(h.second, "a header value")) f_->headers.emplace(name, std::move(*t));
        }
      } else {
        yaml_problem(kv.first, fmt::format("unknown key \"{}\" for {} (expected {}){}", key, s.article, list(known),
                                           did_you_mean(key, known)));
      }
    }
  }

  void load_variants(const YAML::Node& value, const ChannelSpec& s) {
    if (!value.IsMap()) {
      yaml_problem(value, "variants must map each variant to its fields (student: {subject: …})");
      return;
    }
    for (const auto& v : value) {
      std::string variant = v.first.Scalar();
      if (variant.empty()) {
        yaml_problem(v.first, "a variant needs a name");
        continue;
      }
      f_->variants.insert(variant);
      variant_at_.emplace(variant, pos_.at(fm_offset_ + static_cast<size_t>(std::max(v.first.Mark().pos, 0))));
      if (v.second.IsNull()) continue;
      if (!v.second.IsMap()) {
        yaml_problem(v.second, fmt::format("variant \"{}\" must be a mapping of fields ({})", variant, list(s.fields)));
        continue;
      }
      for (const auto& field : v.second) {
        std::string key = field.first.Scalar();
        if (std::find(s.fields.begin(), s.fields.end(), key) == s.fields.end()) {
          yaml_problem(field.first, fmt::format("unknown field \"{}\" in variant \"{}\" (expected {}){}", key, variant,
                                                list(s.fields), did_you_mean(key, s.fields)));
          continue;
        }
        if (auto t = text_field(field.second, key)) f_->overrides[variant].emplace(key, std::move(*t));
      }
    }
  }

  struct Part {
    std::string name, variant;
    size_t tag;  // offset of {% part
    size_t begin, end;
  };

  size_t skip_blanks(size_t i, size_t limit) const {
    while (i < limit) {
      size_t n = text::markup_blank_at(text_, i);
      if (!n) break;
      i += n;
    }
    return i;
  }
  size_t word_end(size_t i, size_t limit) const {
    while (i < limit) {
      size_t j = i;
      if (!text::is_word(text::next_code_point(text_, j)) || j > limit) break;
      i = j;
    }
    return i;
  }

  // {% part NAME %} or {% part NAME variant: VALUE %}: markup between lo and hi.
  bool parse_part_tag(size_t lo, size_t hi, Part& part) {
    size_t i = skip_blanks(lo, hi);
    size_t e = word_end(i, hi);
    part.name = std::string(text_.substr(i, e - i));
    if (part.name.empty()) {
      problem_at(i, "expected a part name: {% part html %}");
      return false;
    }
    i = skip_blanks(e, hi);
    if (i >= hi) return true;
    e = word_end(i, hi);
    if (text_.substr(i, e - i) != "variant") {
      problem_at(i, fmt::format("unexpected \"{}\" in {{% part %}}: expected variant: NAME", text_.substr(i, hi - i)));
      return false;
    }
    i = skip_blanks(e, hi);
    if (i >= hi || text_[i] != ':') {
      problem_at(i, "expected \":\" after variant");
      return false;
    }
    i = skip_blanks(i + 1, hi);
    if (i < hi && (text_[i] == '"' || text_[i] == '\'')) {
      size_t close = text_.find(text_[i], i + 1);
      if (close == std::string_view::npos || close >= hi) {
        problem_at(i, "unterminated variant name");
        return false;
      }
      part.variant = std::string(text_.substr(i + 1, close - i - 1));
      e = close + 1;
    } else {
      e = word_end(i, hi);
      part.variant = std::string(text_.substr(i, e - i));
    }
    if (part.variant.empty()) {
      problem_at(i, "expected a variant name after variant:");
      return false;
    }
    i = skip_blanks(e, hi);
    if (i < hi) {
      problem_at(i, fmt::format("unexpected \"{}\" in {{% part %}}", text_.substr(i, hi - i)));
      return false;
    }
    return true;
  }

  // Finds the end of a block tag (endraw, endcomment) from `from`; npos when there is none.
  size_t skip_block(size_t from, std::string_view end_name) const {
    size_t q = from;
    while ((q = text_.find("{%", q)) != std::string_view::npos) {
      size_t k = q + 2;
      if (k < text_.size() && text_[k] == '-') ++k;
      k = skip_blanks(k, text_.size());
      size_t e = word_end(k, text_.size());
      if (text_.substr(k, e - k) == end_name) {
        size_t close = text_.find("%}", e);
        return close == std::string_view::npos ? close : close + 2;
      }
      q += 2;
    }
    return std::string_view::npos;
  }

  void load_parts(const ChannelSpec& s, size_t body) {
    std::vector<Part> parts;
    std::vector<Problem> outside;  // text outside parts: a problem only if the file has parts
    std::optional<Part> open;
    size_t n = text_.size();
    size_t i = body;
    bool saw_part_tag = false;
    size_t before = problems_.size();
    while (i < n) {
      size_t j = i;
      while (true) {
        j = text_.find('{', j);
        if (j == std::string_view::npos || j + 1 >= n) {
          j = n;
          break;
        }
        if (text_[j + 1] == '%' || text_[j + 1] == '{') break;
        ++j;
      }
      if (!open) {
        size_t k = skip_blanks(i, j);
        if (k < j) {
          auto [l, c] = pos_.at(k);
          outside.push_back({path_, l, c, "text outside {% part %} … {% endpart %}"});
        }
      }
      if (j >= n) break;
      if (text_[j + 1] == '{') {
        if (!open) {
          auto [l, c] = pos_.at(j);
          outside.push_back({path_, l, c, "output outside {% part %} … {% endpart %}"});
        }
        size_t close = text_.find("}}", j + 2);
        i = close == std::string_view::npos ? n : close + 2;
        continue;
      }
      size_t close = text_.find("%}", j + 2);
      if (close == std::string_view::npos) {
        if (!open) problem_at(j, "unclosed tag: expected %}");
        i = n;
        break;
      }
      size_t lo = j + 2;
      bool trim_left = lo < close && text_[lo] == '-';
      if (trim_left) ++lo;
      size_t hi = close;
      bool trim_right = hi > lo && text_[hi - 1] == '-';
      if (trim_right) --hi;
      size_t name_at = skip_blanks(lo, hi);
      std::string_view name = text_.substr(name_at, word_end(name_at, hi) - name_at);
      if (name_at < hi && text_[name_at] == '#') name = "#";
      if (name == "part") {
        saw_part_tag = true;
        if (open) {
          auto [l, c] = pos_.at(open->tag);
          problem_at(j,
                     fmt::format("{{% part %}} inside {{% part {} %}} opened at {}:{}: expected {{% endpart %}} first",
                                 open->name, l, c));
          parts_failed_ = true;
          return;
        }
        Part p;
        p.tag = j;
        if (!parse_part_tag(name_at + 4, hi, p)) p.name.clear();  // reported; the part is left out
        // The content starts on the line after the tag (or right after it, with -%}).
        size_t b = close + 2;
        if (trim_right) {
          b = skip_blanks(b, n);
        } else {
          size_t k = b;
          while (k < n && (text_[k] == ' ' || text_[k] == '\t')) ++k;
          if (k < n && text_[k] == '\r' && k + 1 < n && text_[k + 1] == '\n')
            b = k + 2;
          else if (k < n && text_[k] == '\n')
            b = k + 1;
        }
        p.begin = b;
        open = p;
        i = b;
        continue;
      }
      if (name == "endpart") {
        saw_part_tag = true;
        if (!open) {
          problem_at(j, "{% endpart %} without {% part %}");
          parts_failed_ = true;
          return;
        }
        if (skip_blanks(name_at + 7, hi) < hi) {
          problem_at(skip_blanks(name_at + 7, hi), "unexpected text in {% endpart %}");
          parts_failed_ = true;
          return;
        }
        // The content ends with the line before the tag (or right before it, with {%-).
        size_t e = j;
        if (trim_left) {
          while (size_t b = text::markup_blank_before(text_, e)) {
            if (e - b < open->begin) break;
            e -= b;
          }
        } else {
          size_t k = e;
          while (k > open->begin && (text_[k - 1] == ' ' || text_[k - 1] == '\t')) --k;
          if (k > open->begin && text_[k - 1] == '\n') {
            e = k - 1;
            if (e > open->begin && text_[e - 1] == '\r') --e;
          }
        }
        open->end = std::max(e, open->begin);
        parts.push_back(*open);
        open.reset();
        i = close + 2;
        continue;
      }
      if (name == "raw" || name == "comment") {
        size_t after = skip_block(close + 2, name == "raw" ? "endraw" : "endcomment");
        if (after == std::string_view::npos) after = n;  // the Liquid compiler reports it
        if (!open && name == "raw") {
          auto [l, c] = pos_.at(j);
          outside.push_back({path_, l, c, "{% raw %} outside {% part %} … {% endpart %}"});
        }
        i = after;
        continue;
      }
      if (!open && name != "#") {
        auto [l, c] = pos_.at(j);
        outside.push_back({path_, l, c, fmt::format("{{% {} %}} outside {{% part %}} … {{% endpart %}}", name)});
      }
      i = close + 2;
    }
    if (open) {
      problem_at(open->tag, fmt::format("unclosed {{% part {} %}}: expected {{% endpart %}}", open->name));
      parts_failed_ = true;
      return;
    }
    if (!saw_part_tag) {
      // No parts: the whole body is the channel's main part (less one final line break).
      size_t e = n;
      if (e > body && text_[e - 1] == '\n') --e;
      if (e > body && text_[e - 1] == '\r') --e;
      parts.push_back({std::string(s.primary_part), "", body, body, e});
    } else {
      problems_.insert(problems_.end(), outside.begin(), outside.end());
    }
    std::map<std::pair<std::string, std::string>, size_t> seen;
    for (const auto& p : parts) {
      if (p.name.empty()) continue;
      if (std::find(s.parts.begin(), s.parts.end(), p.name) == s.parts.end()) {
        problem_at(p.tag, fmt::format("unknown part \"{}\" for {} (expected {}){}", p.name, s.article, list(s.parts),
                                      did_you_mean(p.name, s.parts)));
        continue;
      }
      auto key = std::make_pair(p.name, p.variant);
      if (auto it = seen.find(key); it != seen.end()) {
        auto [l, c] = pos_.at(it->second);
        problem_at(p.tag, fmt::format("a second {{% part {}{} %}} (the first is at {}:{})", p.name,
                                      p.variant.empty() ? "" : " variant: " + p.variant, l, c));
        continue;
      }
      seen.emplace(key, p.tag);
      if (!p.variant.empty()) {
        f_->variants.insert(p.variant);
        variant_at_.emplace(p.variant, pos_.at(p.tag));
      }
      auto [line, col] = pos_.at(p.begin);
      if (auto t = compile(text_.substr(p.begin, p.end - p.begin), {line, col})) f_->parts.emplace(key, std::move(*t));
    }
    body_at_ = pos_.at(std::min(body, n));
    parts_failed_ = problems_.size() != before;
  }

  void check(const ChannelSpec& s) {
    for (auto field : s.required_fields) {
      if (!fm_failed_ && !keys_.count(std::string(field)))
        problem(1, 1, fmt::format("{} needs a {} in its front matter", s.article, field));
    }
    for (auto part : s.required_parts) {
      if (parts_failed_) break;
      bool any = false;
      for (const auto& [key, t] : f_->parts) any |= key.first == part;
      if (!any && !f_->parts.count({std::string(part), ""}))
        problem(body_at_.first, body_at_.second, fmt::format("{} needs a {{% part {} %}}", s.article, part));
    }
    for (const auto& [key, t] : f_->parts) {
      if (!key.second.empty() && !f_->parts.count({key.first, ""})) {
        auto [l, c] = variant_at_.count(key.second) ? variant_at_[key.second] : body_at_;
        problem(l, c,
                fmt::format("{{% part {} variant: {} %}} has no default {{% part {} %}} for the other values",
                            key.first, key.second, key.first));
      }
    }
    if (!f_->variants.empty() && !f_->variant_by) {
      auto [l, c] = variant_at_[*f_->variants.begin()];
      problem(l, c, "variants need variant_by in the front matter (e.g. variant_by: user.traits.segment)");
    }
    if (f_->variant_by && f_->variants.empty())
      problem(variant_by_at_.first, variant_by_at_.second,
              "variant_by is set but no part or variants entry names a variant");
  }

  std::string path_;
  std::string_view text_;
  Positions pos_;
  std::vector<Problem>& problems_;
  TemplateFile* f_ = nullptr;
  std::optional<std::string_view> fm_;
  size_t fm_offset_ = 0;
  std::pair<int, int> body_at_{1, 1};
  bool parts_failed_ = false;
  bool fm_failed_ = false;
  std::set<std::string> keys_;  // front matter keys present
  std::pair<int, int> variant_by_at_{1, 1};
  std::map<std::string, std::pair<int, int>> variant_at_;
};

Status no_line_breaks(const TemplateFile& f, std::string_view what, const std::string& value) {
  if (value.find_first_of("\r\n") == std::string::npos) return Status::ok();
  return invalid_argument(fmt::format("{}: the rendered {} contains a line break", f.path, what));
}

}  // namespace

std::string_view channel_name(Channel c) {
  switch (c) {
    case Channel::kEmail:
      return "email";
    case Channel::kSms:
      return "sms";
    case Channel::kWebhook:
      return "webhook";
  }
  return "email";
}

std::optional<Channel> parse_channel(std::string_view name) {
  if (name == "email") return Channel::kEmail;
  if (name == "sms") return Channel::kSms;
  if (name == "webhook") return Channel::kWebhook;
  return std::nullopt;
}

std::string Problem::to_string() const { return fmt::format("{}:{}:{}: {}", file, line, column, message); }

bool Problem::operator<(const Problem& o) const {
  return std::tie(file, line, column, message) < std::tie(o.file, o.line, o.column, o.message);
}

nlohmann::json RenderedMessage::to_json() const {
  nlohmann::json j = {{"name", name}, {"channel", channel_name(channel)}, {"variant", variant}};
  switch (channel) {
    case Channel::kEmail:
      j["subject"] = subject;
      j["preheader"] = preheader;
      j["from"] = from;
      j["reply_to"] = reply_to;
      j["html"] = html;
      j["text"] = text;
      break;
    case Channel::kSms:
      j["from"] = from;
      j["text"] = text;
      break;
    case Channel::kWebhook: {
      j["method"] = method;
      j["url"] = url;
      nlohmann::json h = nlohmann::json::object();
      for (const auto& [k, v] : headers) h[k] = v;
      j["headers"] = h;
      j["body"] = body;
      break;
    }
  }
  return j;
}

TemplateSet::TemplateSet() = default;
TemplateSet::~TemplateSet() = default;
TemplateSet::TemplateSet(TemplateSet&&) noexcept = default;
TemplateSet& TemplateSet::operator=(TemplateSet&&) noexcept = default;

bool TemplateSet::add(const std::string& file, std::string_view text, std::vector<Problem>& problems) {
  FileLoader loader(file, text, problems);
  std::unique_ptr<TemplateFile> f = loader.load();
  if (!f) return false;
  auto key = std::make_pair(f->name, f->channel);
  if (files_.count(key)) {
    problems.push_back({file, 1, 1,
                        fmt::format("a second {}.{} template (the first is {})", f->name, channel_name(f->channel),
                                    files_[key]->path)});
    return false;
  }
  files_.emplace(key, std::move(f));
  return true;
}

bool TemplateSet::contains(std::string_view name, Channel channel) const {
  return files_.count({std::string(name), channel}) > 0;
}

std::vector<std::pair<std::string, Channel>> TemplateSet::keys() const {
  std::vector<std::pair<std::string, Channel>> out;
  for (const auto& [key, f] : files_) out.push_back(key);
  return out;
}

std::optional<std::vector<std::string>> TemplateSet::variants(std::string_view name, Channel channel) const {
  auto it = files_.find({std::string(name), channel});
  if (it == files_.end()) return std::nullopt;
  return std::vector<std::string>(it->second->variants.begin(), it->second->variants.end());
}

size_t TemplateSet::size() const { return files_.size(); }

Result<RenderedMessage> TemplateSet::render(std::string_view name, Channel channel, const nlohmann::json& context,
                                            const RenderOptions& options) const {
  auto it = files_.find({std::string(name), channel});
  if (it == files_.end())
    return not_found(
        fmt::format("no {} template \"{}\" ({}.{}.liquid)", channel_name(channel), name, name, channel_name(channel)));
  const TemplateFile& f = *it->second;
  RenderedMessage m;
  m.name = f.name;
  m.channel = f.channel;
  RenderOptions text = options;
  text.escape = Escape::kText;
  if (f.variant_by) {
    TP_ASSIGN(std::string value, f.variant_by->render(context, text));
    if (f.variants.count(value)) m.variant = value;
  }
  auto field = [&](const std::string& key) -> Result<std::string> {
    const Template* t = nullptr;
    if (!m.variant.empty()) {
      auto o = f.overrides.find(m.variant);
      if (o != f.overrides.end()) {
        auto k = o->second.find(key);
        if (k != o->second.end()) t = &k->second;
      }
    }
    if (!t) {
      auto k = f.fields.find(key);
      if (k == f.fields.end()) return std::string();
      t = &k->second;
    }
    TP_ASSIGN(std::string value, t->render(context, text));
    if (single_line(key)) TP_TRY(no_line_breaks(f, key, value));
    return value;
  };
  auto part = [&](const std::string& key, Escape escape) -> Result<std::string> {
    auto k = f.parts.find({key, m.variant});
    if (k == f.parts.end()) k = f.parts.find({key, ""});
    if (k == f.parts.end()) return std::string();
    RenderOptions o = options;
    o.escape = escape;
    return k->second.render(context, o);
  };
  switch (f.channel) {
    case Channel::kEmail: {
      TP_ASSIGN(m.subject, field("subject"));
      TP_ASSIGN(m.preheader, field("preheader"));
      TP_ASSIGN(m.from, field("from"));
      TP_ASSIGN(m.reply_to, field("reply_to"));
      TP_ASSIGN(m.html, part("html", Escape::kHtml));
      TP_ASSIGN(m.text, part("text", Escape::kText));
      break;
    }
    case Channel::kSms: {
      TP_ASSIGN(m.from, field("from"));
      TP_ASSIGN(m.text, part("text", Escape::kText));
      break;
    }
    case Channel::kWebhook: {
      m.method = f.method;
      TP_ASSIGN(m.url, field("url"));
      for (const auto& [header, t] : f.headers) {
        TP_ASSIGN(std::string value, t.render(context, text));
        TP_TRY(no_line_breaks(f, "header " + header, value));
        m.headers.emplace_back(header, std::move(value));
      }
      TP_ASSIGN(m.body, part("body", Escape::kJson));
      try {
        nlohmann::json parsed = nlohmann::json::parse(m.body);
        (void)parsed;
      } catch (const nlohmann::json::parse_error& e) {
        Positions p(m.body);
        size_t at = e.byte > 0 ? std::min(static_cast<size_t>(e.byte - 1), m.body.size()) : 0;
        auto [line, col] = p.at(at);
        std::string what = e.what();
        size_t colon = what.find(": ", what.find("column"));
        std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
        return invalid_argument(fmt::format("{}: the rendered body{} is not valid JSON at line {}, column {}: {}",
                                            f.path, m.variant.empty() ? "" : " (variant " + m.variant + ")", line, col,
                                            detail));
      }
      break;
    }
  }
  return m;
}

Result<TemplateSet> load_template_dir(const std::string& dir, std::vector<Problem>& problems) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".liquid") files.push_back(e.path());
  }
  if (ec) return invalid_argument(fmt::format("cannot read the template directory {}: {}", dir, ec.message()));
  std::sort(files.begin(), files.end());
  TemplateSet set;
  for (const auto& path : files) {
    auto text = read_file(path.string());
    if (!text.is_ok()) {
      problems.push_back({path.string(), 1, 1, text.status().message()});
      continue;
    }
    set.add(path.string(), *text, problems);
  }
  return set;
}

Result<TemplateSet> load_template_dir(const std::string& dir) {
  std::vector<Problem> problems;
  TP_ASSIGN(TemplateSet set, load_template_dir(dir, problems));
  if (problems.empty()) return set;
  std::string message;
  for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p.to_string();
  return invalid_argument(message);
}

}  // namespace tp::templates
