#!/usr/bin/env bash
# Runs benches/locks.rs, channels.rs, pool.rs and detector.rs in their two builds, RUNS times over (default
# 3, builds alternating),
# and prints the results as markdown tables (benches/table.py).
#
#   bash benches/run.sh               # everything: 7 to 9 minutes on 2 cores, plus the builds
#   RUNS=1 bash benches/run.sh        # one run of each build
#   bash benches/run.sh one_held      # arguments go to criterion, e.g. a benchmark filter
#
# Build 1: default features: impasse with `detect`, deloxide as it ships.
# Build 2: impasse without `detect` ("impasse-off"), deloxide with its `lock-order-graph`
#          cargo feature, which cannot share a build with plain deloxide.
# Every build measures parking_lot too; each ratio is to the parking_lot of its own build.
# Each table cell is the lowest median over the runs: other work on the machine only ever
# adds time, and on a small shared machine it comes and goes within a run.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
criterion_dir=${CRITERION_HOME:-$target_dir/criterion}
results=$target_dir/impasse-benches.jsonl
builds=("" "--no-default-features --features deloxide-lock-order")

# Build both first, so that the runs measure and do nothing else.
for build in "${builds[@]}"; do
    # shellcheck disable=SC2086 # a build's flags are words
    cargo bench -p impasse-benches --bench locks --bench channels --bench pool --bench detector $build --no-run
done

started=$(mktemp)
trap 'rm -f "$started"' EXIT
: >"$results"
for run in $(seq "$runs"); do
    for build in "${builds[@]}"; do
        touch "$started"
        # shellcheck disable=SC2086
        cargo bench -p impasse-benches --bench locks --bench channels --bench pool --bench detector $build -- "$@"
        python3 benches/table.py collect "$criterion_dir" --since "$started" --run "$run" >>"$results"
    done
done

echo "results: $results ($runs run(s) of each build)"
echo
python3 benches/table.py print "$results"
