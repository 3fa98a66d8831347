"""Turns criterion's estimates and the bench's recorded facts into BENCHMARKS.md."""
import json
import os
import platform
import subprocess
import sys

target = sys.argv[1]
crit = os.path.join(target, "criterion")

# (case, measured, baseline, description, target kind, target value)
#   "max": ratio measured/baseline must be <= value
#   "faster": baseline/measured must be >= value
CASES = [
    ("a", "a_create_cleanup/guard", "a_create_cleanup/direct",
     "create + cleanup of a trivial resource: guard vs calling its async close directly", "max", 1.1),
    ("b", "b_vs_async_trait/guard", "b_vs_async_trait/async_trait_option_guard",
     "the same vs `#[async_trait]` trait + `Option`-based guard", "faster", 3.0),
    ("c", "c_composite/guard", "c_composite/direct",
     "composite of three guarded members (combined into the parent) cleaned up through the parent vs direct", "max", 1.2),
    ("c2", "c_composite/guard_fields", "c_composite/direct",
     "the same composite keeping the members' guards as fields", "info", None),
    ("d1", "d_many/collection", "d_many/join_all",
     "10^5 guards whose cleanup yields once: crate collection vs `join_all` of the raw cleanups", "max", 0.7),
    ("d2", "d_many/collection", "d_many/tokio_spawn_each",
     "the same vs spawning one tokio task per element", "faster", 3.0),
    ("d3", "d_many/collection", "d_many/futures_unordered",
     "the same vs a `FuturesUnordered` of the raw cleanups", "max", 0.7),
    ("d4", "d_many/collection", "d_many/futures_concurrency_join",
     "the same vs `futures-concurrency`'s `Vec` join of the raw cleanups", "max", 0.7),
    ("e", "e_arc/async_drop_arc", "e_arc/std_arc",
     "`AsyncDropArc` clone + cleanup vs `Arc` clone + `Arc::into_inner` (closing the value if it was the last)", "max", 1.05),
    ("f", "f_blocking/block_on_drop", "f_blocking/async_dropper_simple",
     "blocking drop, per drop, on a tokio multi-thread worker: `rt::tokio::BlockOnDrop` vs `async-dropper` 0.3 simple wrapper", "faster", 100.0),
    ("f2", "f_blocking/block_on_drop_waiting", "f_blocking/async_dropper_simple_waiting",
     "the same with a cleanup that waits once", "info", None),
    ("f3", "f_blocking/blocking_drop", "f_blocking/async_dropper_simple",
     "runtime-neutral `BlockingDrop` (every poll on its cleanup thread) vs `async-dropper`", "info", None),
    ("f4", "f_blocking/blocking_drop_waiting", "f_blocking/async_dropper_simple_waiting",
     "the same with a cleanup that waits once", "info", None),
    ("i1", "i_block_in_place/block_on_async_drop", "i_block_in_place/by_hand",
     "`rt::tokio::block_on_async_drop` of a cleanup that waits once, on a multi-thread worker, vs `block_in_place` + `Handle::block_on` by hand", "max", 1.5),
    ("i2", "i_block_in_place/block_on_drop", "i_block_in_place/by_hand",
     "the same through a dropped `rt::tokio::BlockOnDrop`", "max", 1.5),
    ("j", "j_derive/sequential", "j_derive/by_hand_sequential",
     "`#[derive(AsyncDrop)]` with `sequential`: three guard fields cleaned up through the parent's guard vs the hand-written plain-field close awaiting each member (both return whether it succeeded)", "max", 1.05),
    ("j2", "j_derive/joined", "j_derive/by_hand_joined",
     "the same, concurrent (the default) vs the hand-written close joining the members (`join3`)", "max", 1.05),
    ("l", "l_array/array", "l_array/join_all",
     "an array of three guards cleaned up concurrently (`async_drop_all`: the array join, pinned in place) vs `join_all` of their cleanups", "max", 1.0),
    ("l2", "l_array/array", "j_derive/by_hand_joined",
     "the same vs the hand-written close joining the members (`join3`)", "info", None),
    ("g", "g_scope_ok/macro", "g_scope_ok/by_hand",
     "scope macro vs hand-written cleanup on every path: success path", "max", 1.05),
    ("g'", "g_scope_err/macro", "g_scope_err/by_hand",
     "the same, error path", "max", 1.05),
    ("g''", "g_scope_mixed/macro", "g_scope_mixed/by_hand",
     "the same, success and error alternating", "max", 1.05),
]


def median_ns(bench_id):
    """Median time per operation: per iteration, divided by the operations in one
    iteration when the case declares them (criterion's `Throughput::Elements`)."""
    new = os.path.join(crit, *bench_id.split("/"), "new")
    try:
        with open(os.path.join(new, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        with open(os.path.join(new, "benchmark.json")) as f:
            throughput = json.load(f).get("throughput") or {}
    except FileNotFoundError:
        return None
    return median / throughput.get("Elements", 1)


facts = {}
try:
    with open(os.path.join(target, "tmp", "bench-facts.tsv")) as f:
        for line in f:
            bench_id, allocs, size, *peak = line.rstrip("\n").split("\t")
            facts[bench_id] = (float(allocs), None if size == "-" else int(size),
                               int(peak[0]) if peak else None)
except FileNotFoundError:
    pass


def allocs(bench_id):
    a = facts.get(bench_id)
    return "—" if a is None else f"{a[0]:g}"


def fmt_ns(ns):
    if ns is None:
        return "not run"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.2f} ns"


rows = []
for case, measured, baseline, desc, kind, value in CASES:
    m, b = median_ns(measured), median_ns(baseline)
    if m is None or b is None:
        ratio = "not run"
        verdict = "—"
    else:
        r = m / b
        if kind == "info":
            ratio = f"{r:.3f}× ({b / m:.1f}× faster)" if r < 1 else f"{r:.3f}×"
            verdict = "no target"
        elif kind == "max":
            ratio = f"{r:.3f}×"
            verdict = f"≤ {value}× " + ("✅" if r <= value else "❌")
        else:
            ratio = f"{r:.3f}× ({b / m:.1f}× faster)"
            verdict = f"≥ {value}× faster " + ("✅" if b / m >= value else "❌")
    rows.append(f"| {case} | {desc} | {fmt_ns(m)} | {fmt_ns(b)} | {ratio} | {verdict} | {allocs(measured)} | {allocs(baseline)} |")

try:
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
except OSError:
    rustc = "rustc (unknown)"

print("# Benchmarks\n")
print("Generated by `ci/bench.sh` (criterion, median time per operation; each case and its")
print("baseline measured in the same run). Ratio = case / baseline: below 1 is faster.")
print("The nanosecond cases (a, b, c, e, g, j) run 64 operations per measured iteration, on")
print("inputs read from memory; the benches are built with functions and loops aligned to")
print("64 bytes (see `ci/bench.sh` for why). Where both sides compile to the same machine")
print("code (\"identical code\" in the instruction counts below), the difference between their")
print("times is the noise of measuring at this scale.\n")
print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; {rustc}.\n")
print("| case | what | median | baseline median | ratio | target | allocs/op | baseline allocs/op |")
print("|---|---|---|---|---|---|---|---|")
for row in rows:
    print(row)

peaks = [(k, v[2]) for k, v in facts.items() if v[2] is not None]
if peaks:
    print("\n## Peak heap\n")
    print("The most heap a case's one run held at once beyond its input, in the same run")
    print("(allocations/op above are per element for case d).\n")
    print("| case | peak heap |")
    print("|---|---|")
    for k, v in peaks:
        print(f"| `{k}` | {v / 1e6:.2f} MB |")

sizes = [(k, v[1]) for k, v in facts.items() if v[1] is not None]
if sizes:
    print("\n## h. Future sizes (bytes, release build)\n")
    print("| future | size |")
    print("|---|---|")
    for k, v in sorted(dict(sizes).items()):
        print(f"| `{k}` | {v} |")
