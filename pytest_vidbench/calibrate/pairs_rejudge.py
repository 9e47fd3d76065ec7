"""Judge the pairs that real side-by-side runs recorded again, under another policy.

    python -m pytest_vidbench.calibrate.pairs_rejudge \\
        'docs/traces/side-by-side-2026-12-07/series/*.json' --view peers+control

Each results file keeps its analysed pairs in order (`run.side_by_side.pairs`), so a policy
can be replayed on the very processes the run measured, through the real judge
(`judge_pairs`). A policy that would have wanted more pairs than the run took cannot be
replayed past them: its open tests are counted as "beyond the recording".
"""

from __future__ import annotations

import argparse
import glob
import json
from collections import Counter
from pathlib import Path

from pytest_vidbench.gate.pair_views import POLICY_VIEWS
from pytest_vidbench.gate.paired import OBF, SPENDING
from pytest_vidbench.gate.side_by_side import (
    PairedFamily,
    PairedTest,
    PairingFailed,
    PairPolicy,
    judge_pairs,
)
from pytest_vidbench.records.pairs import Pair, SideBySide

BEYOND = "the recording ends here"


class Replay:
    """A MeasurePairs that hands out a run's recorded pairs in their order."""

    def __init__(self, pairs: list[Pair]) -> None:
        self.pairs, self.used = pairs, 0

    def __call__(self, keys: list[str], count: int) -> list[Pair]:
        if self.used + count > len(self.pairs):
            raise PairingFailed(BEYOND)
        out = self.pairs[self.used:self.used + count]
        self.used += count
        return out


def rejudge(path: Path, policy: PairPolicy, min_effect: float) -> tuple[dict[str, str], int]:
    """Per latency test of one results file: its status under `policy` ('regression at 12'),
    or 'beyond' where the policy wanted more pairs than were recorded; and the pairs recorded."""
    run = json.loads(path.read_text())["run"]
    recorded = SideBySide.from_json(run["side_by_side"])
    keys = sorted({k for p in recorded.pairs for k in p.base.values if k.endswith("::latency")})
    family = PairedFamily([PairedTest(k, min_effect) for k in keys])
    judge_pairs(family, Replay(recorded.pairs), policy)
    out = {}
    for t in family.tests:
        status = t.verdict.status if t.verdict else "none"
        if t.verdict and BEYOND in t.verdict.reason:
            status = "beyond"
        elif status == "regression" and t.estimate is not None:
            status += f" at {t.estimate.n}"  # the pairs it was decided on
        out[t.key.split("[")[0]] = status
    return out, len(recorded.pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="results files (globs)")
    parser.add_argument("--view", choices=POLICY_VIEWS, default="control")
    parser.add_argument("--looks", default="8,16,24")
    parser.add_argument("--spending", choices=SPENDING, default=OBF)
    parser.add_argument("--min-effect", type=float, default=0.10)
    args = parser.parse_args(argv)
    policy = PairPolicy(view=args.view, looks=tuple(int(x) for x in args.looks.split(",")),
                        spending=args.spending)
    print(f"view {args.view}, looks {args.looks}, spending {args.spending}")
    print("| run | pairs recorded | per model |\n|---|---:|---|")
    totals: Counter[str] = Counter()
    for path in sorted(Path(p) for pattern in args.files for p in glob.glob(pattern)):
        statuses, pairs = rejudge(path, policy, args.min_effect)
        totals.update(s.split(" at ")[0] for s in statuses.values())
        cells = ", ".join(f"{m} {s}" for m, s in sorted(statuses.items()))
        print(f"| {path.stem} | {pairs} | {cells} |")
    print("totals: " + ", ".join(f"{s} {n}" for s, n in sorted(totals.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
