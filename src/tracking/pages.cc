#include "tracking/pages.h"

#include "base/text.h"

namespace tp::tracking {
namespace {

// Colours meet WCAG AA contrast on their backgrounds; focus is always visible.
constexpr std::string_view kStyle = R"(
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:#f4f4f5;color:#18181b}
main{max-width:34rem;margin:2.5rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.15)}
.company{margin:0 0 .25rem;font-size:.875rem;font-weight:600;color:#52525b}
h1{margin:0 0 1rem;font-size:1.5rem;line-height:1.25}
p{margin:0 0 1rem}
a{color:#1d4ed8}
button{font:inherit;padding:.6rem 1.2rem;border:2px solid #1d4ed8;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1d4ed8}
button:hover{background:#1e40af;border-color:#1e40af;color:#fff}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #b45309;outline-offset:2px}
fieldset{margin:0 0 1.5rem;padding:0;border:0}
legend{margin-bottom:.5rem;padding:0;font-weight:600}
.purpose{display:flex;gap:.75rem;align-items:flex-start;padding:.75rem 0;border-top:1px solid #e4e4e7}
.purpose input{flex:none;width:1.25rem;height:1.25rem;margin:.15rem 0 0}
.purpose label{font-weight:600}
.purpose p{margin:.125rem 0 0;font-size:.9375rem;color:#52525b}
.status{padding:.75rem 1rem;border-radius:6px;background:#ecfdf5;color:#065f46}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center}
@media (max-width:36rem){main{margin:0;border-radius:0;box-shadow:none;padding:1.25rem}}
)";

std::string layout(std::string_view company, std::string_view title, std::string_view content) {
  std::string out;
  out.reserve(2048 + content.size());
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"robots\" content=\"noindex, nofollow\">\n";
  out += "<title>" + escape_html(title) + " – " + escape_html(company) + "</title>\n";
  out += "<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<main>\n";
  out += "<p class=\"company\">" + escape_html(company) + "</p>\n";
  out += "<h1>" + escape_html(title) + "</h1>\n";
  out += content;
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace

std::string unsubscribe_confirm_page(std::string_view company, std::string_view preferences_href) {
  std::string content;
  content += "<p>You will stop receiving marketing emails from " + escape_html(company) + ".</p>\n";
  content += "<form method=\"post\">\n";
  content += "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n";
  content += "<div class=\"actions\">\n<button type=\"submit\">Unsubscribe</button>\n";
  content += "<a href=\"" + escape_html(preferences_href) + "\">Choose what you receive instead</a>\n</div>\n";
  content += "</form>\n";
  return layout(company, "Unsubscribe?", content);
}

std::string unsubscribed_page(std::string_view company, std::string_view preferences_href) {
  std::string content;
  content += "<p class=\"status\" role=\"status\">You will no longer receive marketing emails from " +
             escape_html(company) + ".</p>\n";
  content +=
      "<p><a href=\"" + escape_html(preferences_href) + "\">Changed your mind? Choose what you receive</a></p>\n";
  return layout(company, "You are unsubscribed", content);
}

std::string preferences_page(std::string_view company, const std::vector<Purpose>& purposes,
                             const std::map<std::string, bool>& state, PreferencesNotice notice) {
  std::string content;
  if (notice == PreferencesNotice::kSaved)
    content += "<p class=\"status\" role=\"status\">Your preferences are saved.</p>\n";
  else if (notice == PreferencesNotice::kUnsubscribedAll)
    content += "<p class=\"status\" role=\"status\">You are unsubscribed from all marketing emails.</p>\n";
  content += "<form method=\"post\">\n<input type=\"hidden\" name=\"form\" value=\"preferences\">\n";
  if (!purposes.empty()) {
    content += "<fieldset>\n<legend>Send me emails about</legend>\n";
    for (const Purpose& p : purposes) {
      std::string id = "purpose-" + escape_html(p.id);
      auto it = state.find(p.id);
      bool checked = it == state.end() || it->second;
      content += "<div class=\"purpose\">\n<input type=\"checkbox\" id=\"" + id + "\" name=\"purpose\" value=\"" +
                 escape_html(p.id) + "\"";
      if (checked) content += " checked";
      if (!p.description.empty()) content += " aria-describedby=\"" + id + "-description\"";
      content += ">\n<div>\n<label for=\"" + id + "\">" + escape_html(p.label) + "</label>\n";
      if (!p.description.empty())
        content += "<p id=\"" + id + "-description\">" + escape_html(p.description) + "</p>\n";
      content += "</div>\n</div>\n";
    }
    content += "</fieldset>\n";
  } else {
    content += "<p>Choose whether " + escape_html(company) + " may send you marketing emails.</p>\n";
  }
  content += "<div class=\"actions\">\n";
  content += "<button type=\"submit\" name=\"action\" value=\"save\">Save preferences</button>\n";
  content +=
      "<button type=\"submit\" class=\"secondary\" name=\"action\" value=\"unsubscribe-all\">Unsubscribe from "
      "all</button>\n";
  content += "</div>\n</form>\n";
  return layout(company, "Email preferences", content);
}

std::string message_page(std::string_view company, std::string_view title, std::string_view text) {
  return layout(company, title, "<p>" + escape_html(text) + "</p>\n");
}

}  // namespace tp::tracking
