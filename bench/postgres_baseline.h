// PostgreSQL 15 as a baseline: a throwaway cluster (initdb + pg_ctl in a temporary directory,
// on a free loopback port, durable defaults: fsync=on, synchronous_commit=on) and batched
// multi-row INSERTs of the rows Touchpoint stores, from several connections at once.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "rows.h"
#include "support.h"

namespace tp::bench {

class PostgresCluster {
 public:
  // `bin_dir` holds initdb, pg_ctl and postgres. When run as root, the cluster runs as user
  // nobody (PostgreSQL refuses root) through runuser.
  static Result<std::unique_ptr<PostgresCluster>> start(const std::string& bin_dir);
  // Stops the server (fast shutdown) and deletes the directory, whatever happened before.
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  const std::string& server_version() const { return version_; }

 private:
  PostgresCluster(std::string bin_dir) : bin_dir_(std::move(bin_dir)), dir_("tp-bench-pg") {}
  Status init_and_start();

  std::string bin_dir_;
  TempDir dir_;  // data/, the socket, the logs
  bool running_ = false;
  std::string conninfo_;
  std::string version_;
};

struct PostgresBaselineSpec {
  std::string conninfo;
  int connections = 8;
  int rows_per_statement = 100;  // one multi-row INSERT = one transaction = one commit
  double warmup_seconds = 1;
  double seconds = 10;
};

// (Re)creates the events table, then inserts until the time is up.
Result<InsertResult> run_postgres_baseline(const PostgresBaselineSpec& spec, const RowPool& pool);

}  // namespace tp::bench
