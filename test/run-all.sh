#!/usr/bin/env bash
# The whole suite: C++ unit tests (ctest), a short fuzz run of the ustack parsers, then TypeScript
# unit and integration tests (node:test).
# Integration tests build network namespaces, so they run one file at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build/ctest -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ctest -j"$(nproc)" >/dev/null
ctest --test-dir build/ctest --output-on-failure
# A short fuzz run of every ustack wire parser (5 s each); a crash fails the suite.
bash scripts/fuzz.sh 5

shopt -s nullglob
files=(dist/test/unit/*.test.js dist/test/integration/*.test.js)
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
