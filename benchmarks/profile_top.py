"""Top functions of a py-spy ``--format raw`` profile (as ``run.py --profile-dir`` writes).

py-spy samples wall-clock stacks (with ``--idle``, waiting included): a function's *self*
share is where the process was, its *inclusive* share what it was inside of. Waiting in
the event loop (epoll/select) or sleeping is split out first, so the rest reads as CPU.

    python -m benchmarks.profile_top /tmp/prof/rt_2000-service.txt [--top 15]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
#: Leaves that mean the process was waiting for the socket or the clock, not computing.
WAIT_LEAVES = ("poll", "select", "sleep", "_wait", "wait")
WAIT_FILES = ("selectors.py", "select_connection.py", "threading.py")


def short(frame: str, with_line: bool) -> str:
    """``func (a/b/c.py:12)`` as ``func (b/c.py:12)``, or without the line."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    parts = match["file"].split("/")
    path = "/".join(parts[-2:])
    return f"{match['func']} ({path}:{match['line']})" if with_line else f"{match['func']} ({path})"


def is_wait(leaf: str) -> bool:
    match = _FRAME.match(leaf)
    if not match:
        return False
    func = match["func"].split(".")[-1].lower()
    return match["file"].endswith(WAIT_FILES) and any(w in func for w in WAIT_LEAVES)


def _waiting_in(stack: tuple[str, ...]) -> str:
    """Where a waiting sample waits, as the project's innermost frame and what it called."""
    for i in range(len(stack) - 1, -1, -1):
        if "pv_simulator/" in stack[i]:
            callee = short(stack[i + 1], False).split(" (")[0] if i + 1 < len(stack) else "-"
            return f"{short(stack[i], True)} -> {callee}"
    return short(stack[-1], True)


def _children(stacks: Counter[tuple[str, ...]], parent: str) -> Counter[str]:
    """Samples under the first frame whose function is ``parent``, by the frame it called."""
    children: Counter[str] = Counter()
    for stack, n in stacks.items():
        for i, frame in enumerate(stack):
            if short(frame, False).split(" (")[0] == parent:
                child = short(stack[i + 1], False) if i + 1 < len(stack) else "(self)"
                if is_wait(stack[-1]):
                    child += " [waiting]"
                children[child] += n
                break
    return children


def summarize(path: Path, top: int, under: list[str] | None = None) -> str:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks[tuple(stack.split(";"))] += int(count)
    total = sum(stacks.values())
    if not total:
        return f"{path}: no samples"
    waiting = sum(n for s, n in stacks.items() if is_wait(s[-1]))
    self_lines: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for s, n in stacks.items():
        if is_wait(s[-1]):
            continue
        self_lines[short(s[-1], True)] += n
        for func in {short(f, False) for f in s}:
            inclusive[func] += n
    busy = total - waiting
    out = [f"{path.name}: {total} samples ({total / 100:.1f} s at 100 Hz), "
           f"waiting in poll/select/sleep {100 * waiting / total:.1f} %, busy {100 * busy / total:.1f} %",
           "  self (leaf line), % of all samples:"]
    out += [f"    {100 * n / total:5.1f} %  {name}" for name, n in self_lines.most_common(top)]
    out.append("  inclusive (function anywhere on the stack), % of all samples:")
    out += [f"    {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]
    waits: Counter[str] = Counter()
    for s, n in stacks.items():
        if is_wait(s[-1]):
            waits[_waiting_in(s)] += n
    out.append("  waiting, by the project frame that waits, % of all samples:")
    out += [f"    {100 * n / total:5.1f} %  {name}" for name, n in waits.most_common(5)]
    for parent in under or []:
        children = _children(stacks, parent)
        out.append(f"  under {parent} ({100 * sum(children.values()) / total:.1f} %), "
                   "by callee, % of all samples:")
        out += [f"    {100 * n / total:5.1f} %  {name}" for name, n in children.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--under", action="append", metavar="FUNCTION",
                        help="also break down the samples under this function by callee, "
                             "e.g. PvService._handle (repeatable)")
    args = parser.parse_args()
    for path in args.profiles:
        print(summarize(path, args.top, args.under))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
