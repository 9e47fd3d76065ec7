"""The side-by-side records (records/pairs.py) survive the results file, and a malformed
`run.side_by_side` never stops a results file from loading."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_vidbench.records import RunContext
from pytest_vidbench.records.pairs import ArmRun, Pair, SideBySide

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                           | st.floats(allow_nan=False),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=10)


def test_a_side_by_side_record_round_trips_through_json() -> None:
    pair = Pair(ArmRun("base", {"a": 1.0}, 0.5), ArmRun("head", {"a": 1.2}, 0.5,
                                                        errors={"b": "boom"}), False, 3)
    record = SideBySide("HEAD~1", "b" * 40, "h" * 40, "t1", "t2", True, 42, [pair], [pair])
    context = RunContext.from_json(RunContext(side_by_side=record).to_json())
    assert context.side_by_side == record


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["ref", "seed", "pairs", "warmup", "base_commit",
                                        "head_commit", "x"]), json_values, max_size=6))
def test_a_malformed_side_by_side_section_is_dropped_not_raised(data: dict) -> None:
    context = RunContext.from_json({"side_by_side": data})
    assert context.side_by_side is None or isinstance(context.side_by_side, SideBySide)
