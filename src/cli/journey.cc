#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include "cli/commands.h"
#include <unistd.h>

#include "journeys/catalog.h"
#include "journeys/loader.h"
#include "journeys/simulator.h"
#include "templates/template_set.h"

namespace tp::cli {
namespace {

// With a templates/ folder beside a journey file: every template its sends name must exist and
// parse (problems of the template files themselves are reported once per folder).
void check_templates(const journeys::Journey& j, std::map<std::string, std::optional<templates::TemplateSet>>& sets,
                     std::vector<journeys::Problem>& problems) {
  namespace fs = std::filesystem;
  std::string dir = (fs::path(j.file).parent_path() / "templates").string();
  if (!fs::is_directory(dir)) return;
  auto [it, fresh] = sets.try_emplace(dir);
  if (fresh) {
    std::vector<templates::Problem> template_problems;
    auto set = templates::load_template_dir(dir, template_problems);
    for (const auto& p : template_problems) problems.push_back({p.file, p.line, p.column, p.message});
    if (set.is_ok()) it->second = std::move(set).value();
  }
  if (!it->second) return;
  for (const auto& step : j.steps) {
    if (step.kind != journeys::StepKind::kSend && step.kind != journeys::StepKind::kWebhook) continue;
    auto channel = step.kind == journeys::StepKind::kWebhook ? templates::Channel::kWebhook
                   : step.channel == journeys::Channel::kSms ? templates::Channel::kSms
                   : step.channel == journeys::Channel::kWebhook ? templates::Channel::kWebhook
                                                                 : templates::Channel::kEmail;
    if (it->second->contains(step.template_name, channel)) continue;
    std::string file = fmt::format("{}/{}.{}.liquid", dir, step.template_name, templates::channel_name(channel));
    if (fs::exists(file)) continue;  // it exists but has problems: reported above
    problems.push_back({j.file, step.line, step.column, fmt::format("step \"{}\": no template {}", step.id, file)});
  }
}

int validate(const std::vector<std::string>& files) {
  std::vector<journeys::Problem> problems;
  std::map<std::string, std::optional<templates::TemplateSet>> template_sets;
  for (const auto& f : files) {
    if (std::filesystem::path(f).stem().string().rfind("policies", 0) == 0) {
      (void)journeys::load_policies_file(f, problems);
    } else if (auto j = journeys::load_journey_file(f, problems)) {
      check_templates(*j, template_sets, problems);
    }
  }
  std::stable_sort(problems.begin(), problems.end());
  for (const auto& p : problems) std::cerr << p.to_string() << "\n";
  if (!problems.empty()) {
    std::cerr << "touchpoint: " << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " in "
              << files.size() << (files.size() == 1 ? " file" : " files") << "\n";
    return 1;
  }
  std::cout << files.size() << (files.size() == 1 ? " file" : " files") << " valid\n";
  return 0;
}

std::optional<std::vector<journeys::Journey>> load_dir(const std::string& dir) {
  std::vector<journeys::Problem> problems;
  auto ws = journeys::load_workspace(dir, problems);
  std::stable_sort(problems.begin(), problems.end());
  for (const auto& p : problems) std::cerr << p.to_string() << "\n";
  if (!ws.is_ok()) {
    fail(ws.status().message());
    return std::nullopt;
  }
  if (!problems.empty()) {
    fail(std::to_string(problems.size()) + " problems in " + dir + "; run touchpoint journey validate");
    return std::nullopt;
  }
  return std::move(ws->journeys);
}

int write_output(const std::string& out_file, const std::string& text) {
  if (out_file.empty() || out_file == "-") {
    std::cout << text;
    return 0;
  }
  std::ofstream out(out_file, std::ios::binary);
  if (!(out << text)) return fail("cannot write " + out_file);
  return 0;
}

int catalog(const std::string& dir, const std::string& format, const std::string& out_file) {
  auto loaded = load_dir(dir);
  if (!loaded) return 1;
  if (format != "xlsx")
    return write_output(out_file, journeys::render_catalog_text(*loaded, format == "csv" ? journeys::CatalogFormat::kCsv
                                                                                         : journeys::CatalogFormat::kMarkdown));
  // libxlsxwriter writes files; for standard output, write a temporary file and copy it.
  std::string path = out_file;
  if (out_file.empty() || out_file == "-") path = (std::filesystem::temp_directory_path() / ("touchpoint-catalog-" + std::to_string(::getpid()) + ".xlsx")).string();
  Status s = journeys::write_catalog_xlsx(*loaded, path);
  if (!s.is_ok()) return fail(s.message());
  if (path != out_file) {
    std::ifstream in(path, std::ios::binary);
    std::cout << in.rdbuf();
    std::filesystem::remove(path);
  }
  return 0;
}

int graph(const std::string& file, const std::string& format, const std::string& out_file) {
  std::vector<journeys::Problem> problems;
  auto j = journeys::load_journey_file(file, problems);
  std::stable_sort(problems.begin(), problems.end());
  for (const auto& p : problems) std::cerr << p.to_string() << "\n";
  if (!j) return fail(file + " is not a valid journey; run touchpoint journey validate");
  return write_output(out_file, journeys::render_graph(*j, format == "dot" ? journeys::GraphFormat::kDot
                                                                          : journeys::GraphFormat::kMermaid));
}

}  // namespace

void add_journey(CLI::App& app, int& exit_status) {
  auto* journey = app.add_subcommand("journey", "Work with journey files");
  journey->require_subcommand(1);
  auto files = std::make_shared<std::vector<std::string>>();
  auto* cmd = journey->add_subcommand("validate", "Check journey (and policies.yaml) files; problems as file:line:col");
  cmd->add_option("files", *files, "Journey YAML files")->required();
  cmd->callback([files, &exit_status] { exit_status = validate(*files); });

  struct Args {
    std::string target, format, out;
  };
  auto catalog_args = std::make_shared<Args>();
  auto* cat = journey->add_subcommand("catalog", "The journey specification sheet: one row per journey");
  cat->add_option("dir", catalog_args->target, "Folder of journey files")->required();
  cat->add_option("--format", catalog_args->format, "xlsx, csv or md")->required()->check(CLI::IsMember({"xlsx", "csv", "md"}));
  cat->add_option("--out", catalog_args->out, "Write here (default: standard output)");
  cat->callback([catalog_args, &exit_status] {
    exit_status = catalog(catalog_args->target, catalog_args->format, catalog_args->out);
  });

  auto graph_args = std::make_shared<Args>();
  auto* g = journey->add_subcommand("graph", "The flow as a picture (Graphviz dot or Mermaid)");
  g->add_option("file", graph_args->target, "A journey file")->required();
  g->add_option("--format", graph_args->format, "dot or mermaid")->required()->check(CLI::IsMember({"dot", "mermaid"}));
  g->add_option("--out", graph_args->out, "Write here (default: standard output)");
  g->callback([graph_args, &exit_status] { exit_status = graph(graph_args->target, graph_args->format, graph_args->out); });
}

void add_simulate(CLI::App& app, int& exit_status) {
  auto options = std::make_shared<journeys::SimulationOptions>();
  auto out_file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("simulate", "Run journeys on a virtual clock over recorded or synthetic events");
  cmd->add_option("--journeys", options->journeys_dir, "Folder of journey YAML files (and policies.yaml)")->required();
  cmd->add_option("--events", options->events_file, "JSONL of Segment messages, each with type and timestamp")->required();
  cmd->add_option("--profiles", options->profiles_file, "JSONL of {\"userId\", \"traits\"} to start from");
  cmd->add_option("--until", options->until, "Stop at this duration after the first event (e.g. 30d) or timestamp");
  cmd->add_option("--out", *out_file, "Write effects here instead of standard output");
  cmd->callback([options, out_file, &exit_status] {
    std::ofstream file;
    if (!out_file->empty()) {
      file.open(*out_file);
      if (!file) {
        exit_status = fail("cannot write " + *out_file);
        return;
      }
    }
    std::vector<journeys::Problem> problems;
    Status s = journeys::simulate(*options, out_file->empty() ? std::cout : file, problems);
    for (const auto& p : problems) std::cerr << p.to_string() << "\n";
    exit_status = s.is_ok() ? 0 : fail(s.message());
  });
}

}  // namespace tp::cli
