#!/usr/bin/env bash
# Sets up, builds (debug: ASan+UBSan) and runs the whole test suite, then each fuzzer briefly.
# This is the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug --parallel 2
scripts/fuzz.sh "${TOUCHPOINT_FUZZ_SECONDS:-20}"
