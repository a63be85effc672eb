// touchpoint: one binary, subcommands (docs/operations.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Touchpoint: customer-journey automation engine", "touchpoint"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "touchpoint 0.1.0");
  int exit_status = 0;
  tp::cli::add_serve(app, exit_status);
  tp::cli::add_key(app, exit_status);
  tp::cli::add_import(app, exit_status);
  tp::cli::add_journey(app, exit_status);
  tp::cli::add_simulate(app, exit_status);
  tp::cli::add_outbox(app, exit_status);
  tp::cli::add_template(app, exit_status);
  // An unknown command is named (CLI11 would only say that a subcommand is required).
  CLI::App* at = &app;
  std::string path = "touchpoint";
  for (int i = 1; i < argc && argv[i][0] != '-'; ++i) {
    auto subs = at->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) break;  // a command's own arguments follow
    auto found = std::find_if(subs.begin(), subs.end(), [&](CLI::App* sub) { return sub->check_name(argv[i]); });
    if (found == subs.end()) {
      std::cerr << "touchpoint: unknown command '" << argv[i] << "' (see " << path << " --help)\n";
      return 1;
    }
    at = *found;
    path += " " + at->get_name();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    // A subcommand's --help is raised from inside it: print that subcommand's help.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "touchpoint: " << e.what() << " (see touchpoint --help)\n";
    return 1;
  }
  return exit_status;
}
