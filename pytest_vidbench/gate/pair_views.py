"""The views of one side-by-side pair, each a log(head / base), and the control's own change.

- `raw`: the test's time itself;
- `control`: ÷ each process's control workload (measure/control.py), which removes the
  process's own speed;
- `peers`: ÷ the median of the other tests or fixed references of the same process, a
  double difference that also removes what the models share and the control does not, but
  is blind to a change that slows most models;
- `peers+control` (a policy, not a view of its own): both, each hypothesis in the Holm family
  (gate/side_by_side.py).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pytest_vidbench.gate.paired import PairedEstimate, crossover
from pytest_vidbench.records.pairs import Pair

CONTROL, RAW, PEERS = "control", "raw", "peers"
VIEWS = (CONTROL, RAW, PEERS)  # the views a pair's difference is taken in
BOTH = "peers+control"
POLICY_VIEWS = (*VIEWS, BOTH)  # what --vidbench-pair-view accepts


def log_ratio(pair: Pair, key: str, view: str, others: Sequence[str]) -> float | None:
    h, b = pair.head.values.get(key), pair.base.values.get(key)
    if not h or not b or h <= 0 or b <= 0:
        return None
    d = math.log(h) - math.log(b)
    if view == CONTROL:
        hc, bc = pair.head.control, pair.base.control
        if not hc or not bc:
            return None
        return d - (math.log(hc) - math.log(bc))
    if view == PEERS:  # double difference: minus the median of the references' own d
        refs = [r for k in others if k != key and (r := log_ratio(pair, k, RAW, ())) is not None]
        return d - statistics.median(refs) if len(refs) >= 2 else None
    return d


def differences(pairs: Sequence[Pair], key: str, view: str,
                others: Sequence[str] = ()) -> tuple[list[float], list[bool]]:
    """Each usable pair's log(head / base) in `view`, and whether base ran first."""
    diffs: list[float] = []
    orders: list[bool] = []
    for pair in pairs:
        d = log_ratio(pair, key, view, others)
        if d is not None:
            diffs.append(d)
            orders.append(pair.base_first)
    return diffs, orders


def control_shift(pairs: Sequence[Pair]) -> PairedEstimate | None:
    """The control workload's own log(head / base) over the pairs. Both arms run it on the
    same machine, alternating, so it moves only when head changes what it runs (torch, a
    global setting such as TF32), and then every ÷ control change moves the other way."""
    diffs, orders = [], []
    for pair in pairs:
        hc, bc = pair.head.control, pair.base.control
        if hc and bc and hc > 0 and bc > 0:
            diffs.append(math.log(hc) - math.log(bc))
            orders.append(pair.base_first)
    return crossover(diffs, orders)
