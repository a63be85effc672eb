#include <unistd.h>

#include <iostream>

#include "base/clock.h"
#include "base/file.h"
#include "base/metrics.h"
#include "cli/commands.h"
#include "ingest/import.h"
#include "profiles/writer.h"
#include "storage/sqlite_store.h"

namespace tp::cli {
namespace {

struct ImportArgs {
  std::string data = default_data_dir();
  std::string file;
  std::string format = "auto";
  std::string id_column = "userId";
  std::string types;
  bool strict = false;
};

constexpr size_t kChunk = 2000;  // messages per atomic write
constexpr size_t kMaxListedErrors = 50;

int run_import(const ImportArgs& args) {
  auto contents = read_file(args.file);
  if (!contents.is_ok()) return fail(contents.status().message());
  std::string text = std::move(contents).value();

  ingest::ImportOptions options;
  options.format = args.format == "csv" ? ingest::ImportFormat::kCsv
                   : args.format == "jsonl" ? ingest::ImportFormat::kJsonl
                                            : ingest::ImportFormat::kAuto;
  options.id_column = args.id_column;
  if (!args.types.empty()) {
    auto types = ingest::parse_type_list(args.types);
    if (!types.is_ok()) return fail(types.status().message());
    options.types = std::move(types).value();
  }

  SystemClock clock;
  std::vector<ingest::Message> rows;
  std::vector<std::string> errors;
  ingest::ImportSink sink{[&](ingest::Message&& m) { rows.push_back(std::move(m)); },
                          [&](const ingest::RowError& e) {
                            errors.push_back(args.file + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) +
                                             ": " + e.reason);
                          }};
  Status read = ingest::read_import(args.file, text, options, clock.now(), sink);
  if (!read.is_ok()) return fail(read.message());

  auto print_errors = [&] {
    for (size_t i = 0; i < errors.size() && i < kMaxListedErrors; ++i) std::cerr << errors[i] << "\n";
    if (errors.size() > kMaxListedErrors) std::cerr << "... and " << errors.size() - kMaxListedErrors << " more\n";
  };
  if (args.strict && !errors.empty()) {
    print_errors();
    return fail(std::to_string(errors.size()) + " bad rows in " + args.file + "; nothing imported (--strict)");
  }

  if (!prepare_data_dir(args.data)) return 1;
  auto store = storage::open_sqlite_store(args.data);
  if (!store.is_ok()) return fail(store.status().message());
  MetricsRegistry metrics;
  auto writer = profiles::ProfileWriter::create(**store, clock, metrics);
  if (!writer.is_ok()) return fail(writer.status().message());
  (*writer)->start();

  bool tty = ::isatty(STDERR_FILENO) != 0;
  auto last_progress = std::chrono::steady_clock::now();
  profiles::WriteOutcome total;
  for (size_t start = 0; start < rows.size(); start += kChunk) {
    size_t end = std::min(rows.size(), start + kChunk);
    std::vector<ingest::Message> chunk(std::make_move_iterator(rows.begin() + static_cast<long>(start)),
                                       std::make_move_iterator(rows.begin() + static_cast<long>(end)));
    auto outcome = (*writer)->submit_and_wait(std::move(chunk));
    if (!outcome.status.is_ok()) return fail("import stopped after " + std::to_string(start) + " rows: " + outcome.status.message());
    total.stored += outcome.stored;
    total.duplicates += outcome.duplicates;
    total.erased += outcome.erased;
    auto now = std::chrono::steady_clock::now();
    if (now - last_progress > std::chrono::seconds(1)) {
      last_progress = now;
      std::cerr << "imported " << end << "/" << rows.size() << " rows" << (tty ? "\r" : "\n") << std::flush;
    }
  }
  (*writer)->stop();

  print_errors();
  std::cerr << "imported " << rows.size() << " rows from " << args.file << ": " << total.stored << " new, "
            << total.duplicates << " already imported, " << total.erased << " of erased people dropped; "
            << errors.size() << " bad rows\n";
  return errors.empty() ? 0 : 1;
}

}  // namespace

void add_import(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand("import", "Import people from CSV or Segment messages from JSONL");
  cmd->add_option("file", args->file, "CSV (header row, one person per row) or JSONL (one Segment message per line)")
      ->required();
  cmd->add_option("--data", args->data, "Data directory (env TOUCHPOINT_DATA)");
  cmd->add_option("--format", args->format, "csv, jsonl or auto (by file extension)")
      ->check(CLI::IsMember({"auto", "csv", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--id-column", args->id_column, "CSV column holding the userId")->capture_default_str();
  cmd->add_option("--types", args->types, "CSV column types, e.g. age:number,vip:boolean,zip:string (others inferred)");
  cmd->add_flag("--strict", args->strict, "Import nothing if any row is bad");
  cmd->callback([args, &exit_status] { exit_status = run_import(*args); });
}

}  // namespace tp::cli
