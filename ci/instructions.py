#!/usr/bin/env python3
"""Instructions per operation of the nanosecond cases, counted with callgrind.

Usage: ci/instructions.py BENCH_BINARY [CASE...]   (ci/bench.sh runs it when valgrind exists)

Runs each case's benchmark under callgrind for a second (criterion's --profile-time)
and divides the inclusive instruction count of its `op_` function by the number of
calls. Unlike times, these counts repeat exactly from run to run. Prints a markdown
section for BENCHMARKS.md.
"""
import os
import re
import subprocess
import sys
import tempfile

# (case, bench id, op function, baseline bench id, baseline op function)
CASES = [
    ("a", "a_create_cleanup/guard", "op_guard", "a_create_cleanup/direct", "op_direct"),
    ("b", "b_vs_async_trait/guard", "op_guard",
     "b_vs_async_trait/async_trait_option_guard", "op_classic"),
    ("c", "c_composite/guard", "op_composite_guard", "c_composite/direct", "op_composite_direct"),
    ("c2", "c_composite/guard_fields", "op_composite_guard_fields",
     "c_composite/direct", "op_composite_direct"),
    ("e", "e_arc/async_drop_arc", "op_async_drop_arc", "e_arc/std_arc", "op_std_arc"),
    ("g", "g_scope_ok/macro", "op_scoped", "g_scope_ok/by_hand", "op_by_hand"),
    ("j", "j_derive/sequential", "op_derived_sequential",
     "j_derive/by_hand_sequential", "op_by_hand_sequential"),
    ("j2", "j_derive/joined", "op_derived_joined", "j_derive/by_hand_joined",
     "op_by_hand_joined"),
    ("l", "l_array/array", "op_array", "l_array/join_all", "op_array_join_all"),
    ("l2", "l_array/array", "op_array", "j_derive/by_hand_joined", "op_by_hand_joined"),
    ("g'", "g_scope_err/macro", "op_scoped", "g_scope_err/by_hand", "op_by_hand"),
    ("i1", "i_block_in_place/block_on_async_drop", "op_block_on_async_drop_waiting",
     "i_block_in_place/by_hand", "op_block_in_place_by_hand_waiting"),
    ("i2", "i_block_in_place/block_on_drop", "op_block_on_drop_waiting",
     "i_block_in_place/by_hand", "op_block_in_place_by_hand_waiting"),
]

binary = sys.argv[1]


_counted = {}


def per_call(bench_id, function):
    """Memoised: a baseline shared by several cases is counted once."""
    if (bench_id, function) not in _counted:
        _counted[bench_id, function] = _per_call(bench_id, function)
    return _counted[bench_id, function]


def _per_call(bench_id, function):
    """Inclusive instructions per call of `cleanup::function` while `bench_id` runs,
    and the name it was found under: when the linker folded the function into an
    identical one, the calls from the benchmark loop land on that one instead."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             binary, "--bench", "--profile-time", "1", f"^{re.escape(bench_id)}$"],
            check=True, capture_output=True)
        tree = subprocess.run(
            ["callgrind_annotate", "--inclusive=yes", "--tree=caller", "--threshold=100", out],
            check=True, capture_output=True, text=True).stdout
    # A function's block lists its callers ("<", with call counts) and then the
    # function itself ("*", with its inclusive count).
    found = {}
    calls, from_loop = 0, False
    for line in tree.splitlines():
        if "  < " in line:
            m = re.search(r"\(([\d,]+)x\)", line)
            calls += int(m.group(1).replace(",", "")) if m else 0
            from_loop |= "Bencher<M>::iter" in line
        elif "  *  " in line:
            name = line.rstrip().split()[-2].split("cleanup::")[-1]
            if calls and name.startswith("op_"):
                found[name] = (int(line.split()[0].replace(",", "")) / calls, from_loop)
            calls, from_loop = 0, False
        else:
            calls, from_loop = 0, False
    if function in found:
        return found[function][0], function
    looped = [name for name, (_, loop) in found.items() if loop]
    if len(looped) == 1:
        return found[looped[0]][0], looped[0]
    return None, None


def fmt(result, function):
    count, name = result
    if count is None:
        return "not found"
    if name != function:
        return f"{count:.1f} (identical code: folded into `{name}`)"
    return f"{count:.1f}"


print("## Instructions per operation (callgrind)\n")
print("Counted by `ci/instructions.py` on the same bench binary: inclusive instructions of")
print("the case's function per call. Unlike times, these repeat exactly between runs.\n")
print("| case | instructions/op | baseline instructions/op | ratio |")
print("|---|---|---|---|")
only = sys.argv[2:]
for case, bench_id, function, base_id, base_function in CASES:
    if only and case not in only:
        continue
    m, b = per_call(bench_id, function), per_call(base_id, base_function)
    ratio = f"{m[0] / b[0]:.2f}×" if m[0] and b[0] else "—"
    print(f"| {case} | {fmt(m, function)} | {fmt(b, base_function)} | {ratio} |")
