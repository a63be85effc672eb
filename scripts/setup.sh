#!/usr/bin/env bash
# Installs everything the build, the tests and the benchmarks need on Debian 12, then the npm
# packages of the end-to-end tests. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev curl ca-certificates
  libsqlite3-dev sqlite3 libxxhash-dev libsimdjson-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  libboost1.81-dev libssl-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev libhowardhinnant-date-dev tzdata libxlsxwriter-dev graphviz libpq-dev postgresql-15 redis-server
  libcurl4-openssl-dev python3-aiosmtpd python3-dkim libicu-dev chromium chromium-driver
)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# End-to-end tests drive the server with real clients from npm (e.g. @segment/analytics-node).
if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
# The templates' differential test and benchmark render with liquidjs (src/templates/testdata/liquidjs);
# smtp_bench sends side by side with nodemailer (bench/nodemailer).
for dir in src/templates/testdata/liquidjs bench/nodemailer; do
  if [ ! -d $dir/node_modules ] || [ $dir/package-lock.json -nt $dir/node_modules ]; then
    (cd $dir && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
