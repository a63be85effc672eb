#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for the given number of seconds
# (default 20) from the checked-in seed corpus. A crash fails the script and leaves the input
# in build/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzz_segment_parser fuzz_csv_reader fuzz_journey_parser fuzz_template_parser fuzz_tracking_token fuzz_intake_entry
mkdir -p build/fuzz/crashes
for target in segment_parser:segment csv_reader:csv journey_parser:journey template_parser:template tracking_token:tracking intake_entry:intake; do
  name="${target%%:*}"
  corpus="build/fuzz/corpus/${target##*:}"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"${target##*:}"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  status=0
  "build/fuzz/fuzz/fuzz_$name" -max_total_time="$seconds" -print_final_stats=0 \
    -artifact_prefix=build/fuzz/crashes/ "$corpus" > "build/fuzz/$name.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+\s+DONE|==[0-9]+==ERROR|SUMMARY)" "build/fuzz/$name.log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "build/fuzz/$name.log"
    echo "fuzz: $name failed; the input is in build/fuzz/crashes/"
    exit 1
  fi
done
