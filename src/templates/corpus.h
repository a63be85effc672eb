// The differential corpus (testdata/corpus/*.json): templates with contexts and options, each
// rendered here and by liquidjs (testdata/liquidjs/liquidjs.mjs) to the same bytes. Used by
// corpus_test (against the checked-in outputs in testdata/expected/) and by the template_corpus
// program that the templates_differential test runs next to liquidjs. Format: docs/templates.md.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "templates/liquid.h"

namespace tp::templates::corpus {

struct Case {
  std::string file;  // corpus file name without .json
  std::string id;    // "file/name"
  std::string name;
  std::string text;  // the template
  nlohmann::json context;
  Escape escape = Escape::kText;
  std::string timezone = "UTC";
  Timestamp now{};
  bool error = false;  // the case expects both renderers to fail
};

// Every case of every *.json in `dir`, in file and case order.
Result<std::vector<Case>> load(const std::string& dir);

struct Outcome {
  bool ok = false;
  std::string text;  // the output, or the error message
};
Outcome run(const Case& c);

// {"file/name": output | {"error": message}} for every case, as the liquidjs script prints.
nlohmann::json run_all(const std::vector<Case>& cases);

}  // namespace tp::templates::corpus
