#include "postgres_baseline.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace tp::bench {
namespace {

// The last lines of a log, to put in an error message.
std::string log_tail(const std::string& path, size_t max_chars = 1500) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > max_chars ? "..." + s.substr(s.size() - max_chars) : s;
}

// Runs a PostgreSQL tool with stdout and stderr appended to `log_path`. initdb and postgres
// refuse to run as root, so as root the command runs as user nobody (runuser).
Status run_tool(std::vector<std::string> argv, const std::string& log_path) {
  if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "nobody", "--"});
  pid_t pid = ::fork();
  if (pid < 0) return internal_error("fork failed");
  if (pid == 0) {
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::ok();
  return internal_error(fmt::format("{} failed (status {}); {}:\n{}", argv[argv[0] == "runuser" ? 4 : 0],
                                    status, log_path, log_tail(log_path)));
}

Result<int> free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return internal_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return internal_error("cannot find a free loopback port");
  return static_cast<int>(ntohs(addr.sin_port));
}

Status give_to_nobody(const std::string& path) {
  if (::geteuid() != 0) return Status::ok();
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) return internal_error("no user nobody to run PostgreSQL as");
  if (::chown(path.c_str(), nobody->pw_uid, nobody->pw_gid) != 0)
    return internal_error(fmt::format("cannot chown {} to nobody", path));
  return Status::ok();
}

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Connection = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

Result<Connection> connect(const std::string& conninfo) {
  Connection c(PQconnectdb(conninfo.c_str()));
  if (PQstatus(c.get()) != CONNECTION_OK)
    return unavailable(fmt::format("cannot connect to PostgreSQL ({}): {}", conninfo, PQerrorMessage(c.get())));
  // NOTICEs ("table does not exist, skipping") would land in the middle of the progress lines.
  PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);
  return c;
}

Status check(PGconn* c, const PgResult& r, std::string_view what) {
  auto status = PQresultStatus(r.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::ok();
  return internal_error(fmt::format("PostgreSQL {}: {}", what, PQerrorMessage(c)));
}

Status exec(PGconn* c, const char* sql) { return check(c, PgResult(PQexec(c, sql)), sql); }

// The table the brief of the baseline asks for: the events table of docs/storage.md in
// PostgreSQL types (timestamptz, jsonb), with the same indexes.
Status create_events_table(const std::string& conninfo) {
  TP_ASSIGN(Connection c, connect(conninfo));
  TP_TRY(exec(c.get(), "DROP TABLE IF EXISTS events"));
  TP_TRY(exec(c.get(),
              "CREATE TABLE events(seq bigserial PRIMARY KEY, profile_id bigint, message_id text UNIQUE, "
              "type text, event text, ts timestamptz, received_at timestamptz, body jsonb)"));
  TP_TRY(exec(c.get(), "CREATE INDEX events_by_profile_time ON events(profile_id, ts)"));
  return exec(c.get(), "CHECKPOINT");  // every run starts with a clean WAL position
}

std::string insert_sql(int rows) {
  std::string sql = "INSERT INTO events(profile_id, message_id, type, event, ts, received_at, body) VALUES ";
  for (int r = 0; r < rows; ++r) {
    int p = r * 7;
    fmt::format_to(std::back_inserter(sql), "{}(${},${},${},${},${},${},${})", r ? "," : "", p + 1, p + 2, p + 3,
                   p + 4, p + 5, p + 6, p + 7);
  }
  return sql;
}

struct WorkerWindow {
  SteadyClock::time_point start, measure_from, end;
};

// One connection inserting multi-row statements back to back (autocommit: each is a
// transaction with a durable commit).
Status insert_worker(const PostgresBaselineSpec& spec, const RowPool& pool, int worker, WorkerWindow window,
                     InsertResult& out) {
  TP_ASSIGN(Connection c, connect(spec.conninfo));
  const int rows = spec.rows_per_statement;
  TP_TRY(check(c.get(), PgResult(PQprepare(c.get(), "ins", insert_sql(rows).c_str(), rows * 7, nullptr)), "prepare"));
  std::vector<std::string> profiles(static_cast<size_t>(rows)), ids(static_cast<size_t>(rows));
  std::vector<const char*> values(static_cast<size_t>(rows) * 7);
  std::uint64_t n = 0;
  // Workers start at different places in the pool, so they do not write the same users in step.
  const std::uint64_t offset = static_cast<std::uint64_t>(worker) * (pool.size() / static_cast<size_t>(spec.connections));
  while (!interrupted() && SteadyClock::now() < window.end) {
    for (int r = 0; r < rows; ++r, ++n) {
      const Row& row = pool.at(offset + n);
      profiles[r] = std::to_string(row.profile);
      pool.unique_message_id(ids[r], row, worker + 1, n);
      const char** v = &values[static_cast<size_t>(r) * 7];
      v[0] = profiles[r].c_str();
      v[1] = ids[r].c_str();
      v[2] = row.type.c_str();
      v[3] = row.event.c_str();
      v[4] = row.ts_iso.c_str();
      v[5] = row.received_iso.c_str();
      v[6] = row.body.c_str();
    }
    auto began = SteadyClock::now();
    PgResult r(PQexecPrepared(c.get(), "ins", rows * 7, values.data(), nullptr, nullptr, 0));
    TP_TRY(check(c.get(), r, "insert"));
    out.total_rows += rows;
    auto done = SteadyClock::now();
    if (done >= window.measure_from && done <= window.end) {
      out.commit_latencies_us.push_back(std::chrono::duration<double, std::micro>(done - began).count());
      out.rows += rows;
      ++out.commits;
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<PostgresCluster>> PostgresCluster::start(const std::string& bin_dir) {
  auto cluster = std::unique_ptr<PostgresCluster>(new PostgresCluster(bin_dir));
  TP_TRY(cluster->init_and_start());
  return cluster;
}

Status PostgresCluster::init_and_start() {
  const std::string& dir = dir_.path();
  TP_TRY(give_to_nobody(dir));
  std::string data = dir + "/data";
  TP_TRY(run_tool({bin_dir_ + "/initdb", "-D", data, "-U", "bench", "-A", "trust", "-E", "UTF8", "--locale=C",
                   "--no-sync"},
                  dir + "/initdb.log"));
  TP_ASSIGN(int port, free_loopback_port());
  // fsync and synchronous_commit are the defaults; stated so that nobody has to wonder.
  std::string options = fmt::format(
      "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=on -c synchronous_commit=on", port, dir);
  running_ = true;  // from here on, the destructor tries to stop it
  TP_TRY(run_tool({bin_dir_ + "/pg_ctl", "-D", data, "-l", dir + "/server.log", "-w", "-t", "60", "-o", options,
                   "start"},
                  dir + "/pg_ctl.log"));
  conninfo_ = fmt::format("host=127.0.0.1 port={} dbname=postgres user=bench", port);
  TP_ASSIGN(Connection c, connect(conninfo_));
  version_ = PQparameterStatus(c.get(), "server_version");
  return Status::ok();
}

PostgresCluster::~PostgresCluster() {
  if (!running_) return;
  Status s = run_tool({bin_dir_ + "/pg_ctl", "-D", dir_.path() + "/data", "-m", "fast", "-w", "stop"},
                      dir_.path() + "/pg_ctl.log");
  if (!s.is_ok()) {
    // Last resort, so that no postgres outlives the benchmark: immediate shutdown.
    (void)run_tool({bin_dir_ + "/pg_ctl", "-D", dir_.path() + "/data", "-m", "immediate", "-w", "stop"},
                   dir_.path() + "/pg_ctl.log");
  }
}

Result<InsertResult> run_postgres_baseline(const PostgresBaselineSpec& spec, const RowPool& pool) {
  TP_TRY(create_events_table(spec.conninfo));
  WorkerWindow window;
  window.start = SteadyClock::now();
  window.measure_from = window.start + std::chrono::duration_cast<SteadyClock::duration>(
                                           std::chrono::duration<double>(spec.warmup_seconds));
  window.end = window.measure_from +
               std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(spec.seconds));

  std::vector<InsertResult> parts(static_cast<size_t>(spec.connections));
  std::vector<Status> statuses(static_cast<size_t>(spec.connections));
  std::vector<std::thread> workers;
  for (int w = 0; w < spec.connections; ++w)
    workers.emplace_back([&, w] { statuses[w] = insert_worker(spec, pool, w, window, parts[w]); });
  for (auto& t : workers) t.join();
  for (const auto& s : statuses) TP_TRY(s);

  InsertResult total;
  total.seconds = std::max(0.0, std::chrono::duration<double>(std::min(SteadyClock::now(), window.end) -
                                                              window.measure_from).count());
  for (auto& p : parts) {
    total.rows += p.rows;
    total.commits += p.commits;
    total.total_rows += p.total_rows;
    total.commit_latencies_us.insert(total.commit_latencies_us.end(), p.commit_latencies_us.begin(),
                                     p.commit_latencies_us.end());
  }
  return total;
}

}  // namespace tp::bench
