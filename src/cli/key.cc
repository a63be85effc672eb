#include <iostream>

#include "base/clock.h"
#include "cli/commands.h"
#include "http/auth.h"
#include "storage/sqlite_store.h"

namespace tp::cli {

void add_key(CLI::App& app, int& exit_status) {
  auto* key = app.add_subcommand("key", "Manage API keys");
  key->require_subcommand(1);
  auto* create = key->add_subcommand("create", "Create a key and print it (only the key) on stdout");
  struct Args {
    std::string kind, name, data = default_data_dir();
  };
  auto args = std::make_shared<Args>();
  create->add_option("kind", args->kind, "write (ingestion, HTTP Basic user) or admin (management API, Bearer)")
      ->required()
      ->check(CLI::IsMember({"write", "admin"}));
  create->add_option("name", args->name, "A name to tell keys apart, e.g. website")->required();
  create->add_option("--data", args->data, "Data directory (env TOUCHPOINT_DATA)");
  create->callback([args, &exit_status] {
    if (!prepare_data_dir(args->data)) {
      exit_status = 1;
      return;
    }
    auto store = storage::open_sqlite_store(args->data);
    if (!store.is_ok()) {
      exit_status = fail(store.status().message());
      return;
    }
    auto kind = args->kind == "admin" ? storage::KeyKind::kAdmin : storage::KeyKind::kWrite;
    std::string key = http::generate_key(kind);
    Status s = (*store)->create_key(http::key_hash(key), kind, args->name, SystemClock().now());
    if (!s.is_ok()) {
      exit_status = fail(s.message());
      return;
    }
    std::cout << key << "\n";
  });
}

}  // namespace tp::cli
