#!/usr/bin/env bash
# Sets up, builds (debug: ASan+UBSan), runs each fuzzer briefly, then the whole test suite.
# This is the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
scripts/fuzz.sh "${TOUCHPOINT_FUZZ_SECONDS:-20}"
# Last, so its summary ("100% tests passed, 0 tests failed out of N") closes the output.
ctest --preset debug --parallel 2
