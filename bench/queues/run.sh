#!/usr/bin/env bash
# Runs the two job-queue baselines of the live-timers benchmark on throwaway servers: BullMQ on a
# Redis started here, and pg-boss on a PostgreSQL 15 cluster created here (which also holds the
# outbox table of both). Prints each script's JSON line; everything is removed afterwards.
#
#   JOBS=20000 bench/queues/run.sh [--appendfsync everysec|always] [--concurrency C] [--only bullmq|pg-boss]
#
# JOBS defaults to 20000 (a quick run); the benchmark proper uses 1000000.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jobs=${JOBS:-20000}
appendfsync=everysec
concurrency=64
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --appendfsync) appendfsync=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$appendfsync" in
  everysec|always) ;;
  *) echo "run.sh: --appendfsync must be everysec or always" >&2; exit 2 ;;
esac

pg_bin=/usr/lib/postgresql/15/bin
for tool in redis-server redis-cli node "$pg_bin/initdb" "$pg_bin/pg_ctl"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

# PostgreSQL refuses to run as root: as root, its tools run as nobody, who owns the cluster.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# A free loopback port, as the kernel hands it out.
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port);
    s.close();
  });'
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/touchpoint-queues.XXXXXX")
chmod 755 "$tmp"
redis_pid=""
pg_started=""
cleanup() {
  if [ -n "$pg_started" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1 ||
      as_postgres "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    # Wait for Redis to exit before its directory goes away.
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Redis with the append-only file on (fsync every second by default, as BullMQ's docs advise, or
# on every write with --appendfsync always), RDB snapshots off, and no eviction (BullMQ needs it).
redis_port=$(free_port)
mkdir "$tmp/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --appendonly yes \
  --appendfsync "$appendfsync" --save "" --maxmemory-policy noeviction \
  --logfile "$tmp/redis/redis.log" --daemonize yes --pidfile "$tmp/redis/redis.pid"
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { cat "$tmp/redis/redis.log" >&2; exit 1; }
redis_pid=$(cat "$tmp/redis/redis.pid")

# PostgreSQL 15 with its defaults, fsync=on and synchronous_commit=on stated explicitly.
pg_port=$(free_port)
if [ "$(id -u)" -eq 0 ]; then chown nobody: "$tmp"; fi
as_postgres "$pg_bin/initdb" -D "$tmp/pg" -U bench -A trust -E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; exit 1; }
pg_started=yes
as_postgres "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $tmp -c fsync=on -c synchronous_commit=on" start >/dev/null ||
  { cat "$tmp/pg.log" >&2; exit 1; }
pg="postgresql://bench@127.0.0.1:$pg_port/postgres"

echo "run.sh: $jobs jobs, concurrency $concurrency; Redis appendfsync $appendfsync on port $redis_port," \
  "PostgreSQL 15 on port $pg_port" >&2
status=0
if [ -z "$only" ] || [ "$only" = bullmq ]; then
  node "$here/bullmq.mjs" --jobs "$jobs" --redis-port "$redis_port" --pg "$pg" --concurrency "$concurrency" || status=1
fi
if [ -z "$only" ] || [ "$only" = pg-boss ]; then
  node "$here/pgboss.mjs" --jobs "$jobs" --pg "$pg" --concurrency "$concurrency" || status=1
fi
exit $status
