"""The results of benches/locks.rs and benches/channels.rs, collected run by run and printed
as markdown tables.

  python3 benches/table.py collect CRITERION_DIR --since FILE --run N >> RESULTS
      One JSON line per benchmark whose `new/estimates.json` was written after FILE:
      run, build, scenario, contender and criterion's median in ns per iteration.
  python3 benches/table.py print RESULTS
      For each build, the median time per operation of every scenario and contender (the
      lowest over the runs: another process on the machine only ever adds time) and its
      ratio to the scenario's baseline (parking_lot for locks, std for channels) of the same
      build; then impasse's ratios against the targets of DESIGN.md §3 and the issues, with the
      range of the ratios run by run.

A benchmark id is `<scenario>/<contender>/<build>`, as benches/locks.rs names them.
"""

import json
import os
import sys
from pathlib import Path

SCENARIOS = [
    "uncontended",
    "one_held",
    "two_threads_one_lock",
    "two_threads_two_locks",
    "create_lock_drop",
    "nested_1",
    "nested_2",
    "nested_3",
    "nested_4",
    "edge_churn",
]
CHANNEL_SCENARIOS = ["send_recv", "sync_send_recv", "two_threads"]
POOL_SCENARIOS = ["tiny_tasks", "coarse_map"]
# benches/detector.rs: costs that grow with a program's history.
DETECTOR_SCENARIOS = [
    "ordered_transfers_100",
    "ordered_transfers_1000",
    "spawn_join_after_1000",
    "spawn_join_after_20000",
    "idle_waiters_1000",
    "idle_waiters_3000",
]
CONTENDERS = [
    "std",
    "parking_lot",
    "impasse-detect",
    "impasse-detect-strict",
    "impasse-off",
    "impasse-off-strict",
    "tracing-mutex",
    "deloxide",
    "deloxide-lock-order",
    "no_deadlocks",
]
def baseline(scenario):
    """What a scenario's ratios are to: std's channels for channels, rayon for tiny pool
    tasks, one thread for the coarse map (a ratio below 1 is a speedup), impasse's strict
    mode for ordered transfers (the same work without a lock-order graph), std's threads and
    channels for spawns and idle waiters, parking_lot for locks."""
    if scenario in CHANNEL_SCENARIOS:
        return "std"
    if scenario.startswith("ordered_transfers"):
        return "impasse-detect-strict"
    if scenario.startswith(("spawn_join", "idle_waiters")):
        return "std"
    return {"tiny_tasks": "rayon-scope", "coarse_map": "sequential"}.get(scenario, "parking_lot")

# The ratio to parking_lot impasse promises with `detect`: (DESIGN.md §3, the issue).
DETECT_TARGETS = {
    "uncontended": (1.3, 1.5),
    "one_held": (2.0, 2.5),
    "two_threads_one_lock": (1.5, None),
    "two_threads_two_locks": (1.1, None),
    "create_lock_drop": (2.0, None),
    "nested_1": (None, None),
    "nested_2": (None, None),
    "nested_3": (None, None),
    "nested_4": (None, 4.0),
    "edge_churn": (None, None),
    "send_recv": (None, 1.5),
    "sync_send_recv": (None, 1.5),
    "two_threads": (None, None),
    "tiny_tasks": (None, 2.0),
    "coarse_map": (None, 1 / 1.8),
}
OFF_TARGET = 1.05  # the issue: impasse without `detect` within 5% of parking_lot


def collect(criterion_dir, since, run):
    """Prints one JSON line per benchmark criterion wrote after `since`."""
    for bench in sorted(Path(criterion_dir).glob("*/*/*/new/benchmark.json")):
        estimates = bench.with_name("estimates.json")
        if not estimates.exists() or os.path.getmtime(estimates) < since:
            continue
        meta = json.loads(bench.read_text())
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        record = {
            "run": run,
            "build": meta["value_str"],
            "scenario": meta["group_id"],
            "contender": meta["function_id"],
            "median_ns": median,
        }
        print(json.dumps(record))


def load(path):
    """{build: {(scenario, contender): {run: median ns}}}, builds in the order first run."""
    results = {}
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        runs = results.setdefault(r["build"], {}).setdefault((r["scenario"], r["contender"]), {})
        runs[r["run"]] = r["median_ns"]
    return results


def ordered(names, preferred):
    return [n for n in preferred if n in names] + sorted(set(names) - set(preferred))


def ns(value):
    """A time in ns, to three significant figures or to the ns."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def times(r):
    """A ratio, to three significant figures or to the unit."""
    if r >= 100:
        return f"{r:,.0f}×"
    return f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def best_ratio(build, scenario, contender):
    """The ratio of the lowest medians of `contender` and of the baseline over the runs."""
    mine, base = build.get((scenario, contender)), build.get((scenario, baseline(scenario)))
    if not mine or not base:
        return None
    return min(mine.values()) / min(base.values())


def ratio_range(build, scenario, contender):
    """The lowest and highest ratio over the runs, each run against its own baseline."""
    mine, base = build.get((scenario, contender), {}), build.get((scenario, baseline(scenario)), {})
    ratios = [mine[run] / base[run] for run in mine if run in base]
    return (min(ratios), max(ratios)) if ratios else None


def build_table(name, build):
    scenarios = ordered(
        {s for s, _ in build}, SCENARIOS + CHANNEL_SCENARIOS + POOL_SCENARIOS + DETECTOR_SCENARIOS
    )
    contenders = ordered({c for _, c in build}, CONTENDERS)
    runs = max(len(r) for r in build.values())
    lines = [
        f"Build `{name}`: median ns per operation (a lock/unlock pair, a sent and received"
        f" value; a set of ordered transfers, a spawn and join, the CPU per 100 ms of idle"
        f" waiting), lowest of {runs} run(s) (ratio to each scenario's baseline, of this build:"
        " see `baseline` in benches/table.py)",
        "",
        "| scenario | " + " | ".join(contenders) + " |",
        "|---|" + "---:|" * len(contenders),
    ]
    for scenario in scenarios:
        cells = []
        for contender in contenders:
            runs = build.get((scenario, contender))
            ratio = best_ratio(build, scenario, contender)
            if not runs:
                cells.append("–")
            elif ratio is None:
                cells.append(ns(min(runs.values())))
            else:
                cells.append(f"{ns(min(runs.values()))} ({times(ratio)})")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(ratio, target):
    if ratio is None or target is None:
        return "–"
    return f"≤ {times(target)}: {'met' if ratio <= target else 'MISSED'}"


def measured(build, scenario, contender):
    """`best (low–high over runs)`, or a dash."""
    ratio = best_ratio(build, scenario, contender)
    if ratio is None:
        return "–"
    low, high = ratio_range(build, scenario, contender)
    return f"{times(ratio)} ({times(low)}–{times(high)})"


def targets_table(results):
    def build_with(contender):
        return next((b for b in results.values() if any(c == contender for _, c in b)), {})


    detect, off = build_with("impasse-detect"), build_with("impasse-off")
    lines = [
        "impasse against its targets: ratio to parking_lot (std for channels) of the same"
        " build, from the lowest medians (in brackets: the lowest and highest ratio of a"
        " single run)",
        "",
        "| scenario | impasse-detect | DESIGN §3 | issue | impasse-off | issue (≤ 5%) |",
        "|---|---:|---|---|---:|---|",
    ]
    for scenario in SCENARIOS + CHANNEL_SCENARIOS + POOL_SCENARIOS:
        design, issue = DETECT_TARGETS[scenario]
        # The pool's tiny-task contender is its `submit` flavour.
        suffix = "-submit" if scenario == "tiny_tasks" else ""
        on_name, off_name = "impasse-detect" + suffix, "impasse-off" + suffix
        on, plain = best_ratio(detect, scenario, on_name), best_ratio(off, scenario, off_name)
        lines.append(
            f"| {scenario} | {measured(detect, scenario, on_name)}"
            f" | {verdict(on, design)} | {verdict(on, issue)}"
            f" | {measured(off, scenario, off_name)} | {verdict(plain, OFF_TARGET)} |"
        )
    return "\n".join(lines)


def main(argv):
    if len(argv) == 7 and argv[1] == "collect" and argv[3] == "--since" and argv[5] == "--run":
        collect(argv[2], os.path.getmtime(argv[4]), int(argv[6]))
    elif len(argv) == 3 and argv[1] == "print":
        results = load(argv[2])
        if not results:
            sys.exit(f"no results in {argv[2]}")
        for name, build in results.items():
            print(build_table(name, build), end="\n\n")
        print(targets_table(results))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
