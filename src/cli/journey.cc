#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include "cli/commands.h"
#include "journeys/loader.h"
#include "journeys/simulator.h"

namespace tp::cli {
namespace {

int validate(const std::vector<std::string>& files) {
  std::vector<journeys::Problem> problems;
  for (const auto& f : files) {
    if (std::filesystem::path(f).stem().string().rfind("policies", 0) == 0) {
      std::ifstream in(f);
      if (!in) {
        problems.push_back({f, 1, 1, "cannot read the file"});
        continue;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      (void)journeys::load_policies(f, buffer.str(), problems);
    } else {
      (void)journeys::load_journey_file(f, problems);
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

}  // namespace

void add_journey(CLI::App& app, int& exit_status) {
  auto* journey = app.add_subcommand("journey", "Work with journey files");
  journey->require_subcommand(1);
  auto files = std::make_shared<std::vector<std::string>>();
  auto* cmd = journey->add_subcommand("validate", "Check journey (and policies.yaml) files; problems as file:line:col");
  cmd->add_option("files", *files, "Journey YAML files")->required();
  cmd->callback([files, &exit_status] { exit_status = validate(*files); });
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
