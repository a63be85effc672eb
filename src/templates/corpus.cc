#include "templates/corpus.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "base/time_format.h"

namespace tp::templates::corpus {

namespace fs = std::filesystem;

Result<std::vector<Case>> load(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  if (ec) return invalid_argument(fmt::format("cannot read {}: {}", dir, ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<Case> cases;
  for (const auto& path : files) {
    TP_ASSIGN(std::string text, read_file(path.string()));
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.contains("cases")) return invalid_argument(path.string() + ": not a corpus file");
    std::string stem = path.stem().string();
    for (const auto& c : doc["cases"]) {
      Case k;
      k.file = stem;
      k.name = c.at("name").get<std::string>();
      k.id = stem + "/" + k.name;
      const auto& t = c.at("template");
      if (t.is_array()) {
        for (size_t i = 0; i < t.size(); ++i) k.text += (i ? "\n" : "") + t[i].get<std::string>();
      } else {
        k.text = t.get<std::string>();
      }
      k.context = c.contains("context") ? c["context"] : doc.value("context", nlohmann::json::object());
      std::string escape = c.value("escape", doc.value("escape", std::string("text")));
      k.escape = escape == "html" ? Escape::kHtml : escape == "json" ? Escape::kJson : Escape::kText;
      k.timezone = c.value("timezone", doc.value("timezone", std::string("UTC")));
      std::string now = c.value("now", doc.value("now", std::string("2026-01-15T12:00:00Z")));
      auto parsed = parse_iso8601(now);
      if (!parsed) return invalid_argument(fmt::format("{}: case {}: bad now {}", path.string(), k.name, now));
      k.now = *parsed;
      k.error = c.value("error", false);
      cases.push_back(std::move(k));
    }
  }
  return cases;
}

Outcome run(const Case& c) {
  auto t = Template::compile(c.text, c.id);
  if (!t.is_ok()) return {false, t.status().message()};
  ManualClock clock(c.now);
  RenderOptions options;
  options.escape = c.escape;
  options.timezone = c.timezone;
  options.clock = &clock;
  auto r = t->render(c.context, options);
  if (!r.is_ok()) return {false, r.status().message()};
  return {true, *r};
}

nlohmann::json run_all(const std::vector<Case>& cases) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& c : cases) {
    Outcome o = run(c);
    if (o.ok)
      out[c.id] = o.text;
    else
      out[c.id] = {{"error", o.text}};
  }
  return out;
}

}  // namespace tp::templates::corpus
