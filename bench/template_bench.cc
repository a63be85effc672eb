// template_bench: renders/s of a typical personalised email with src/templates, side by side
// with liquidjs on Node in the same run. One render is the subject and ~3 KB of HTML
// (bench/template/: a loop over 5 order lines and 3 recommendations, conditionals, default, date
// in the customer's zone, money, escape, url_encode, truncate) against the same JSON context.
// Both sides check that they produce the same bytes (SHA-256 of subject + "\n" + body). Each
// side runs --runs times for --seconds; the median counts. liquidjs runs in its own node process
// (src/templates/testdata/liquidjs/liquidjs.mjs bench) after a JIT warm-up.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/crypto.h"
#include "base/file.h"
#include "templates/liquid.h"

#ifndef TP_SOURCE_DIR
#define TP_SOURCE_DIR "."
#endif

namespace tp::bench {
namespace {

using templates::Escape;
using templates::RenderOptions;
using templates::Template;

constexpr double kTargetRatio = 20;

struct Options {
  std::string dir = std::string(TP_SOURCE_DIR) + "/bench/template";
  std::string node_script = std::string(TP_SOURCE_DIR) + "/src/templates/testdata/liquidjs/liquidjs.mjs";
  double seconds = 3;
  int runs = 3;
  bool skip_node = false;
  bool quick = false;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Result<nlohmann::json> run_node(const std::string& command) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return internal_error("cannot run node");
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  size_t line = out.rfind('{');
  if (status != 0 || line == std::string::npos) return internal_error("node failed: " + out);
  nlohmann::json j = nlohmann::json::parse(out.substr(line), nullptr, false);
  if (j.is_discarded()) return internal_error("node printed no result: " + out);
  return j;
}

struct Scenario {
  std::string name;
  bool utc;  // no time zone: the context without user.traits.timezone, liquidjs without timezoneOffset
};

struct Figures {
  std::vector<double> ours, theirs;
  bool same_output = true;
  std::string node_error;
  size_t html_bytes = 0, rendered_bytes = 0;
};

Result<Figures> measure(const Options& o, const Scenario& sc, const Template& subject, const Template& body,
                        nlohmann::json context) {
  if (sc.utc) context["user"]["traits"].erase("timezone");
  RenderOptions options;
  options.escape = Escape::kText;  // the template escapes with the escape filter, as liquidjs' default does
  std::string s, b;
  auto render_once = [&] {
    s.clear();
    b.clear();
    Status st = subject.render_to(s, context, options);
    if (st.is_ok()) st = body.render_to(b, context, options);
    return st;
  };
  TP_TRY(render_once());
  Figures f;
  std::string rendered = s + "\n" + b;
  f.html_bytes = b.size();
  f.rendered_bytes = rendered.size();
  std::string sha = hex_encode(sha256(rendered));
  for (int r = 0; r < o.runs; ++r) {
    std::cerr << fmt::format("{}: touchpoint run {}/{} ({} s)\n", sc.name, r + 1, o.runs, o.seconds);
    for (int i = 0; i < 1000; ++i) (void)render_once();  // warm caches
    long long n = 0;
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::duration<double>(o.seconds);
    auto now = start;
    while (now < deadline) {
      for (int i = 0; i < 100; ++i) (void)render_once();
      n += 100;
      now = std::chrono::steady_clock::now();
    }
    f.ours.push_back(static_cast<double>(n) / std::chrono::duration<double>(now - start).count());
  }
  if (o.skip_node) return f;
  for (int r = 0; r < o.runs; ++r) {
    std::cerr << fmt::format("{}: liquidjs run {}/{} ({} s)\n", sc.name, r + 1, o.runs, o.seconds);
    auto j = run_node(fmt::format("node {} bench {}/subject.liquid {}/body.liquid {}/context.json {}{}", o.node_script,
                                  o.dir, o.dir, o.dir, o.seconds, sc.utc ? " --utc" : ""));
    if (!j.is_ok()) {
      f.node_error = j.status().message();
      break;
    }
    f.theirs.push_back((*j)["renders_per_second"].get<double>());
    f.same_output = f.same_output && (*j)["sha256"].get<std::string>() == sha;
  }
  return f;
}

int run(const Options& o) {
  auto subject_text = read_file(o.dir + "/subject.liquid");
  auto body_text = read_file(o.dir + "/body.liquid");
  auto context_text = read_file(o.dir + "/context.json");
  if (!subject_text.is_ok() || !body_text.is_ok() || !context_text.is_ok()) {
    std::cerr << "template_bench: cannot read " << o.dir << "\n";
    return 1;
  }
  nlohmann::json context = nlohmann::json::parse(*context_text);

  auto t0 = std::chrono::steady_clock::now();
  auto subject = Template::compile(*subject_text, "subject.liquid");
  auto body = Template::compile(*body_text, "body.liquid");
  double compile_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  if (!subject.is_ok() || !body.is_ok()) {
    std::cerr << "template_bench: " << (subject.is_ok() ? body.status() : subject.status()).message() << "\n";
    return 1;
  }

  const Scenario scenarios[] = {{"customer zone", false}, {"UTC", true}};
  auto runs_text = [](const std::vector<double>& v) {
    std::string t;
    for (double x : v) t += fmt::format("{}{:.0f}", t.empty() ? "" : ", ", x);
    return t;
  };
  std::vector<std::string> lines;
  nlohmann::json summary = {{"compile_microseconds", compile_us}};
  bool ok = true;
  double headline_ratio = 0;
  for (const auto& sc : scenarios) {
    auto f = measure(o, sc, *subject, *body, context);
    if (!f.is_ok()) {
      std::cerr << "template_bench: " << f.status().message() << "\n";
      return 1;
    }
    double ours = median(f->ours), theirs = median(f->theirs);
    double ratio = theirs > 0 ? ours / theirs : 0;
    if (&sc == &scenarios[0]) {
      headline_ratio = ratio;
      lines.push_back(fmt::format("Message: subject + {} bytes of HTML ({} bytes rendered); compiling both: {:.0f} µs",
                                  f->html_bytes, f->rendered_bytes, compile_us));
      lines.push_back(fmt::format("{:<15} {:<12} {:>12}   {}", "dates in", "engine", "renders/s", "runs"));
    }
    lines.push_back(fmt::format("{:<15} {:<12} {:>12.0f}   {}", sc.name, "touchpoint", ours, runs_text(f->ours)));
    if (!f->theirs.empty()) {
      lines.push_back(fmt::format("{:<15} {:<12} {:>12.0f}   {}", "", "liquidjs", theirs, runs_text(f->theirs)));
      lines.push_back(fmt::format("{:<15} {:<12} {:>12}   same output: {}", "", "ratio", fmt::format("{:.1f}x", ratio),
                                  f->same_output ? "yes" : "NO"));
    } else if (!o.skip_node) {
      lines.push_back("liquidjs not run: " + f->node_error);
    }
    ok = ok && f->same_output && f->node_error.empty();
    std::string key = sc.utc ? "utc" : "customer_zone";
    summary[key] = {{"touchpoint_renders_per_second", ours},
                    {"touchpoint_runs", f->ours},
                    {"liquidjs_renders_per_second", theirs},
                    {"liquidjs_runs", f->theirs},
                    {"ratio", ratio},
                    {"same_output", f->same_output}};
  }
  for (const auto& l : lines) std::cout << l << "\n";
  if (!o.skip_node)
    std::cout << fmt::format("target: touchpoint >= {:.0f}x liquidjs on the message in the customer's zone: {}\n",
                             kTargetRatio, headline_ratio >= kTargetRatio ? "met" : "NOT met");
  std::cout << summary.dump() << "\n";
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace tp::bench

int main(int argc, char** argv) {
  tp::bench::Options o;
  CLI::App app{"template_bench: renders/s of a personalised email, src/templates vs liquidjs"};
  app.add_option("--dir", o.dir, "template, context: subject.liquid, body.liquid, context.json");
  app.add_option("--seconds", o.seconds, "length of each run");
  app.add_option("--runs", o.runs, "runs per engine (the median counts)");
  app.add_flag("--skip-node", o.skip_node, "measure src/templates only");
  app.add_flag("--quick", o.quick, "a short smoke run");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) o.seconds = 0.3;
  return tp::bench::run(o);
}
