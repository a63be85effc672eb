// The `touchpoint` subcommands. Each returns the process exit status: 0 on success, 1 on a
// usage or input error (after printing one line "touchpoint: ..." on stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace tp::cli {

// Registers each subcommand on `app`; the callback runs it and stores its exit status.
void add_serve(CLI::App& app, int& exit_status);
void add_key(CLI::App& app, int& exit_status);
void add_import(CLI::App& app, int& exit_status);
void add_journey(CLI::App& app, int& exit_status);
void add_simulate(CLI::App& app, int& exit_status);
void add_outbox(CLI::App& app, int& exit_status);
void add_template(CLI::App& app, int& exit_status);

// --data default: $TOUCHPOINT_DATA, else ./touchpoint-data.
std::string default_data_dir();
// Creates the directory if needed and checks that it is writable; one-line error otherwise.
bool prepare_data_dir(const std::string& dir);
// Prints "touchpoint: <message>" on stderr and returns 1.
int fail(const std::string& message);

}  // namespace tp::cli
