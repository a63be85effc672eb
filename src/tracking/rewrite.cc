#include "tracking/rewrite.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/text.h"

namespace tp::tracking {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether s[at…] starts with `prefix`, ignoring ASCII case on both sides.
bool starts_with_ci(std::string_view s, size_t at, std::string_view prefix) {
  if (at > s.size() || s.size() - at < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[at + i]) != lower(prefix[i])) return false;
  return true;
}

// An invalid or NUL code point becomes U+FFFD, as browsers decode character references.
void append_code_point(std::string& out, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  tp::append_utf8(out, cp);
}

struct NamedReference {
  std::string_view name;
  std::uint32_t code_point;
  bool legacy;  // also recognised without the ';'
};
// The references that occur in URLs in practice (the full HTML table has 2,231).
constexpr std::array<NamedReference, 16> kNamedReferences{{
    {"amp", '&', true},
    {"lt", '<', true},
    {"gt", '>', true},
    {"quot", '"', true},
    {"apos", '\'', false},
    {"nbsp", 0xA0, true},
    {"sol", '/', false},
    {"colon", ':', false},
    {"quest", '?', false},
    {"equals", '=', false},
    {"num", '#', false},
    {"percnt", '%', false},
    {"plus", '+', false},
    {"period", '.', false},
    {"lowbar", '_', false},
    {"commat", '@', false},
}};

// Elements whose content is text up to their end tag, never markup.
constexpr std::array<std::string_view, 9> kRawTextElements{"script", "style",   "textarea", "title",    "xmp",
                                                           "iframe", "noembed", "noframes", "plaintext"};

struct Attribute {
  std::string_view name;     // as written
  size_t replace_begin = 0;  // the value with its quotes, or the unquoted value
  size_t replace_end = 0;
  std::string_view raw_value;
  bool has_value = false;
};

struct Tag {
  std::string name;  // lower-case
  std::vector<Attribute> attributes;
  size_t end = 0;  // one past '>'
};

// Parses the start tag at `at` ('<' followed by a letter). nullopt when it runs off the end.
std::optional<Tag> parse_start_tag(std::string_view in, size_t at) {
  Tag tag;
  size_t i = at + 1;
  while (i < in.size() && !is_space(in[i]) && in[i] != '/' && in[i] != '>') tag.name.push_back(lower(in[i++]));
  while (true) {
    while (i < in.size() && (is_space(in[i]) || in[i] == '/')) ++i;
    if (i >= in.size()) return std::nullopt;
    if (in[i] == '>') {
      tag.end = i + 1;
      return tag;
    }
    Attribute a;
    size_t name_begin = i;
    ++i;  // the first character belongs to the name, even '=' or a quote
    while (i < in.size() && !is_space(in[i]) && in[i] != '/' && in[i] != '>' && in[i] != '=') ++i;
    a.name = in.substr(name_begin, i - name_begin);
    size_t j = i;
    while (j < in.size() && is_space(in[j])) ++j;
    if (j < in.size() && in[j] == '=') {
      ++j;
      while (j < in.size() && is_space(in[j])) ++j;
      if (j >= in.size()) return std::nullopt;
      a.has_value = true;
      if (in[j] == '"' || in[j] == '\'') {
        size_t close = in.find(in[j], j + 1);
        if (close == std::string_view::npos) return std::nullopt;
        a.raw_value = in.substr(j + 1, close - j - 1);
        a.replace_begin = j;
        a.replace_end = close + 1;
        i = close + 1;
      } else if (in[j] == '>') {
        i = j;  // `href=>`: an empty value
        a.replace_begin = a.replace_end = j;
      } else {
        size_t k = j;
        while (k < in.size() && !is_space(in[k]) && in[k] != '>') ++k;
        a.raw_value = in.substr(j, k - j);
        a.replace_begin = j;
        a.replace_end = k;
        i = k;
      }
    }
    tag.attributes.push_back(a);
  }
}

bool name_is(std::string_view name, std::string_view lower_name) {
  if (name.size() != lower_name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (lower(name[i]) != lower_name[i]) return false;
  return true;
}

// Where the raw text of element `name` ends: the '<' of its end tag, or the end of input.
size_t raw_text_end(std::string_view in, size_t from, std::string_view name) {
  if (name == "plaintext") return in.size();
  for (size_t i = in.find("</", from); i != std::string_view::npos; i = in.find("</", i + 2)) {
    size_t after = i + 2 + name.size();
    if (starts_with_ci(in, i + 2, name) &&
        (after >= in.size() || is_space(in[after]) || in[after] == '/' || in[after] == '>'))
      return i;
  }
  return in.size();
}

bool tracked_element(std::string_view name) {
  return name == "a" || name == "area" || (name.size() > 2 && name.substr(0, 2) == "v:");
}

}  // namespace

std::string decode_attribute_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c != '&') {
      out.push_back(c);
      ++i;
      continue;
    }
    // Numeric: &#123; &#x7B; (the ';' may be missing).
    if (i + 1 < raw.size() && raw[i + 1] == '#') {
      size_t j = i + 2;
      bool hex = j < raw.size() && (raw[j] == 'x' || raw[j] == 'X');
      if (hex) ++j;
      size_t digits_begin = j;
      std::uint64_t cp = 0;
      while (j < raw.size() && (hex ? std::isxdigit(static_cast<unsigned char>(raw[j])) != 0 : is_digit(raw[j]))) {
        int d = is_digit(raw[j]) ? raw[j] - '0' : lower(raw[j]) - 'a' + 10;
        if (cp <= 0x10FFFF) cp = cp * (hex ? 16 : 10) + static_cast<std::uint64_t>(d);
        ++j;
      }
      if (j == digits_begin) {  // "&#" without digits: literal
        out.push_back('&');
        ++i;
        continue;
      }
      if (j < raw.size() && raw[j] == ';') ++j;
      append_code_point(out, cp > 0x10FFFF ? 0xFFFD : static_cast<std::uint32_t>(cp));
      i = j;
      continue;
    }
    size_t j = i + 1;
    while (j < raw.size() && is_alnum(raw[j])) ++j;
    std::string_view name = raw.substr(i + 1, j - i - 1);
    bool decoded = false;
    for (const auto& ref : kNamedReferences) {
      if (j < raw.size() && raw[j] == ';' && name == ref.name) {
        append_code_point(out, ref.code_point);
        i = j + 1;
        decoded = true;
        break;
      }
      // Legacy form without ';' ("&amp" then a non-alphanumeric). In attributes a following
      // '=' keeps it literal, so "?a=1&copy=2" stays as written.
      if (ref.legacy && name.substr(0, ref.name.size()) == ref.name && name.size() == ref.name.size() &&
          (j >= raw.size() || raw[j] != '=')) {
        append_code_point(out, ref.code_point);
        i = j;
        decoded = true;
        break;
      }
    }
    if (!decoded) {
      out.push_back('&');
      ++i;
    }
  }
  return out;
}

std::string open_pixel_tag(std::string_view open_url) {
  return "<img src=\"" + escape_html(open_url) +
         "\" width=\"1\" height=\"1\" alt=\"\" "
         "style=\"display:block;width:1px;height:1px;border:0;margin:0;padding:0\">";
}

Result<RewrittenHtml> rewrite_html(std::string_view in, const LinkSigner& signer, const LinkContext& context,
                                   const RewriteOptions& options) {
  RewrittenHtml result;
  // One issue time for every link of the message; also checks the context once, up front.
  const Timestamp issued = signer.now();
  TP_ASSIGN(result.links.open_url, signer.url_for({LinkKind::kOpen, context, {}, issued}));
  TP_ASSIGN(result.links.unsubscribe_url, signer.url_for({LinkKind::kUnsubscribe, context, {}, issued}));
  TP_ASSIGN(result.links.preferences_url, signer.url_for({LinkKind::kPreferences, context, {}, issued}));
  const std::string prefix = signer.tracking_prefix();

  std::string& out = result.html;
  out.reserve(in.size() + in.size() / 4);
  size_t copied = 0;  // input up to here is in `out`
  // Where the last </body> will be in `out`: edits after it never move it, edits are only ever
  // made after it, so its output position is fixed once seen.
  size_t body_close_out = std::string::npos;
  size_t i = 0;
  while (true) {
    size_t lt = in.find('<', i);
    if (lt == std::string_view::npos || lt + 1 >= in.size()) break;
    i = lt;
    if (in.compare(i, 4, "<!--") == 0) {
      // Downlevel-hidden conditional comment: "<!--[if mso]>" … "<![endif]-->". Outlook renders
      // its content, so scan it; "<!--[if !mso]><!-->" is an ordinary (complete) comment.
      if (starts_with_ci(in, i + 4, "[if")) {
        size_t opener_end = in.find("]>", i + 4);
        size_t comment_end = in.find("-->", i + 4);
        if (opener_end != std::string_view::npos &&
            (comment_end == std::string_view::npos || opener_end < comment_end) &&
            in.compare(opener_end, 5, "]><!-") != 0) {
          i = opener_end + 2;
          continue;
        }
      }
      // "<!-->" and "<!--->" end at once (HTML's abrupt comment ends).
      if (in.compare(i + 4, 1, ">") == 0) {
        i += 5;
        continue;
      }
      if (in.compare(i + 4, 2, "->") == 0) {
        i += 6;
        continue;
      }
      size_t end = in.find("-->", i + 4);
      if (end == std::string_view::npos) break;
      i = end + 3;
      continue;
    }
    if (in.compare(i, 9, "<![CDATA[") == 0) {
      size_t end = in.find("]]>", i + 9);
      if (end == std::string_view::npos) break;
      i = end + 3;
      continue;
    }
    char next = in[i + 1];
    if (next == '!' || next == '?') {  // doctype, <![endif]-->, processing instructions
      size_t end = in.find('>', i + 2);
      if (end == std::string_view::npos) break;
      i = end + 1;
      continue;
    }
    if (next == '/') {
      if (starts_with_ci(in, i + 2, "body") &&
          (i + 6 >= in.size() || is_space(in[i + 6]) || in[i + 6] == '>' || in[i + 6] == '/'))
        body_close_out = out.size() + (i - copied);
      size_t end = in.find('>', i + 2);
      if (end == std::string_view::npos) break;
      i = end + 1;
      continue;
    }
    if (!is_alpha(next)) {  // "a < b": text
      i = lt + 1;
      continue;
    }
    auto tag = parse_start_tag(in, i);
    if (!tag) break;  // runs off the end: leave the rest as it is
    i = tag->end;
    if (options.track_clicks && tracked_element(tag->name)) {
      const Attribute* href = nullptr;
      bool opted_out = false;
      for (const auto& a : tag->attributes) {
        if (!href && name_is(a.name, "href")) href = &a;  // the first one counts, as in browsers
        if (name_is(a.name, "data-tp-no-track")) opted_out = true;
      }
      if (href && href->has_value) {
        std::string value = decode_attribute_value(href->raw_value);
        std::string_view trimmed = value;
        while (!trimmed.empty() && static_cast<unsigned char>(trimmed.front()) <= 0x20) trimmed.remove_prefix(1);
        bool web = starts_with_ci(trimmed, 0, "http://") || starts_with_ci(trimmed, 0, "https://");
        if (web) {
          auto url = normalize_link_url(value);
          if (!url || opted_out || starts_with_ci(*url, 0, prefix)) {
            ++result.links_kept;
          } else {
            TP_ASSIGN(std::string click, signer.url_for({LinkKind::kClick, context, *url, issued}));
            out.append(in.substr(copied, href->replace_begin - copied));
            out += '"';
            out += escape_html(click);
            out += '"';
            copied = href->replace_end;
            ++result.links_tracked;
          }
        }
      }
    }
    for (std::string_view raw : kRawTextElements) {
      if (tag->name == raw) {
        i = raw_text_end(in, i, raw);
        break;
      }
    }
  }
  out.append(in.substr(copied));
  if (options.add_open_pixel) {
    std::string pixel = open_pixel_tag(result.links.open_url);
    if (body_close_out == std::string::npos)
      out += pixel;
    else
      out.insert(body_close_out, pixel);
    result.pixel_added = true;
  }
  return result;
}

}  // namespace tp::tracking
