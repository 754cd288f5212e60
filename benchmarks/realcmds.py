"""What the shipped presets decide for commands real models sent to their shell.

Reads `../shared/realcmds/sample.jsonl` (or --sample FILE): one object a line with `command` and
`category`. Each command is decided as a `run_command` script under each preset, exactly as a run
would (agentic.policy.decide, with the worktree at /repo), and the figures are printed:

- allowed / asked / denied per category, and overall, for each preset;
- the most common shapes refused (the first words of the refused part, and the rule);
- decisions per second (the whole decision: parse, every command, every write), in process and
  through `agentic contract explain --batch` (interpreter start and imports included).

Target for `default`: at least 90 % of the commands allowed as written; every refusal names a rule
and gives a reason.

    python benchmarks/realcmds.py [--sample FILE] [--presets default,strict,readonly] [--top 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from agentic.policy.contract import load_contract
from agentic.policy.engine import decide

DEFAULT_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "realcmds" / "sample.jsonl"
ROOT = "/repo"


def shape(text: str) -> str:
    words = text.split()
    return " ".join(words[:2]) if words else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=Path, default=DEFAULT_SAMPLE)
    parser.add_argument("--presets", default="default,strict,readonly")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.sample.read_text().splitlines() if line.strip()]
    print(f"{len(rows)} commands from {args.sample}")
    for name in args.presets.split(","):
        contract = load_contract(name, None)
        by_category: dict[str, Counter[str]] = defaultdict(Counter)
        refused_shapes: Counter[tuple[str, str, str]] = Counter()
        missing_reason = 0
        started = time.perf_counter()
        decisions = [decide(contract, "run_command", "command", {"command": r["command"]}, root=ROOT) for r in rows]
        elapsed = time.perf_counter() - started
        for row, d in zip(rows, decisions, strict=True):
            by_category[row["category"]][d.verdict] += 1
            by_category["ALL"][d.verdict] += 1
            if d.verdict != "allow":
                part = next((p for p in d.parts if p.verdict == d.verdict), None)
                refused_shapes[(d.verdict, shape(part.text if part else row["command"]), d.rule)] += 1
                missing_reason += not d.reason
        print(f"\n== preset {name}: {len(rows) / elapsed:,.0f} decisions/s ({elapsed * 1e6 / len(rows):.0f} µs each)")
        print(f"{'category':<16}{'n':>6}{'allow':>9}{'ask':>9}{'deny':>9}")
        for category in sorted(by_category, key=lambda c: (c == "ALL", -sum(by_category[c].values()))):
            counts = by_category[category]
            n = sum(counts.values())
            print(f"{category:<16}{n:>6}" + "".join(f"{100 * counts[v] / n:>8.1f}%" for v in ("allow", "ask", "deny")))
        print(f"refusals without a reason: {missing_reason}")
        print(f"top refused shapes ({args.top}):")
        for (verdict, text, rule), count in refused_shapes.most_common(args.top):
            print(f"  {count:>5}  {verdict:<5} {text[:40]:<40} {rule[:70]}")
        batch_rate(rows, name)


def batch_rate(rows: list[dict[str, str]], preset: str) -> None:
    """The same decisions through the CLI's --batch mode, start-up included."""
    lines = "".join(json.dumps({"tool": "run_command", "args": {"command": r["command"]}}) + "\n" for r in rows)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "agentic", "contract", "explain", "run_command", "--batch",
                           "--contract", preset], input=lines, capture_output=True, text=True, check=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    count = len(done.stdout.splitlines())
    print(f"agentic contract explain --batch: {count} decisions in {elapsed:.2f} s = {count / elapsed:,.0f}/s")


if __name__ == "__main__":
    main()
