#!/usr/bin/env bash
# Sets up, builds (release) and starts `touchpoint serve` on the embedded store, after printing
# a fresh write key and admin key. Data lives in $TOUCHPOINT_DATA (default ./touchpoint-data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target touchpoint
bin=build/release/src/cli/touchpoint
data="${TOUCHPOINT_DATA:-./touchpoint-data}"
write_key=$("$bin" key create write quickstart --data "$data")
admin_key=$("$bin" key create admin quickstart --data "$data")
echo "write key: $write_key   (ingestion: HTTP Basic user name)"
echo "admin key: $admin_key   (management API: Authorization: Bearer)"
echo "try: curl -u $write_key: -d '{\"userId\":\"u1\",\"event\":\"Signed Up\"}' http://127.0.0.1:8710/v1/track"
exec "$bin" serve --data "$data" "$@"
