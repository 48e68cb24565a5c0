"""Where a call's time goes, from a `tsrun --profile` trace: each operator's
self time (its own, less the operators it called) per call and its share of
the calls' time, and the share no operator covers (a .pt2's compiled code;
a TorchScript method's own row, `forward`, is its interpreter). The figures
of docs/performance.md "Where the time goes".

    tsrun model.pt --bench --profile trace.json
    .venv/bin/python -m benchmarks.profile_summary trace.json [--top 8]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def summary(trace: dict) -> dict:
    """{"calls", "call_us" (mean per call), "operators": [(name, self µs per call, share)], "uncovered"}."""
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    calls = [e for e in events if e.get("cat") == "user_annotation" and e["name"].startswith("tsrun call")]
    if not calls:
        raise SystemExit("no 'tsrun call' marks in the trace: was it written by tsrun --profile?")
    self_us: dict[str, float] = defaultdict(float)
    covered = 0.0
    for call in calls:
        inside = sorted(
            (e for e in events if e.get("cat") == "cpu_op" and e["tid"] == call["tid"] and _within(e, call)),
            key=lambda e: (e["ts"], -e["dur"]),
        )
        stack: list[dict] = []
        for event in inside:
            while stack and not _within(event, stack[-1]):
                stack.pop()
            if stack:
                self_us[stack[-1]["name"]] -= event["dur"]  # the parent's time less its children's
            else:
                covered += event["dur"]  # a top-level operator of the call
            self_us[event["name"]] += event["dur"]
            stack.append(event)
    total = sum(c["dur"] for c in calls)
    operators = sorted(((n, t / len(calls), t / total) for n, t in self_us.items()), key=lambda o: -o[1])
    return {
        "calls": len(calls),
        "call_us": total / len(calls),
        "operators": operators,
        "uncovered": 1 - covered / total,
    }


def _within(event: dict, outer: dict) -> bool:
    return outer["ts"] <= event["ts"] and event["ts"] + event["dur"] <= outer["ts"] + outer["dur"] + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    with open(args.trace) as f:
        result = summary(json.load(f))
    print(f"{result['calls']} calls, {result['call_us']:.1f} us each (under the profiler)")
    for name, us, share in result["operators"][: args.top]:
        print(f"  {share:6.1%}  {us:10.1f} us  {name}")
    print(f"  {result['uncovered']:6.1%}  in no operator (a .pt2's compiled code)")


if __name__ == "__main__":
    main()
