#!/usr/bin/env bash
# Builds the ustack wire and MPTCP option fuzz targets (libFuzzer + ASan + UBSan, Debian clang 14)
# and runs each for the given seconds (default 5). Seeds come from native/ustack/fuzz/corpus/<parser>/ and are never
# written to; what a run finds goes to build/fuzz/corpus/<parser>/ and is kept between runs.
# Exits non-zero when any target crashes or breaks its round-trip invariant; the reproducer is in
# build/fuzz/artifacts/. Longer runs: see native/ustack/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
build=build/fuzz
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DBRAID_USTACK_FUZZ=ON >/dev/null
cmake --build "$build" -j2 --target ustack_fuzz >/dev/null

mkdir -p "$build/artifacts"
failed=()
for src in native/ustack/fuzz/*_fuzz.cc; do
  name=$(basename "$src" .cc)
  parser=${name%_fuzz}
  work="$build/corpus/$parser"
  mkdir -p "$work"
  log="$build/$name.log"
  if "$build/native/ustack/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
      -artifact_prefix="$build/artifacts/$name-" -print_final_stats=1 \
      "$work" "native/ustack/fuzz/corpus/$parser" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz: $name ok (${runs:-?} runs in ${seconds}s)"
  else
    echo "fuzz: $name FAILED, see $log and $build/artifacts/" >&2
    tail -n 30 "$log" >&2
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
