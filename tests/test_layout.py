"""The package shows its pipeline: stages import only from the stages before them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "pytest_vidbench"
STAGES = ["measure", "gate", "store", "report"]  # in the order data flows


def imports_of(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_later_stage(stage: str) -> None:
    later = STAGES[STAGES.index(stage) + 1:]
    wrong = [(path.name, module) for path in (PACKAGE / stage).rglob("*.py")
             for module in imports_of(path)
             if any(module.startswith(f"pytest_vidbench.{s}") for s in later)]
    assert wrong == []


def test_no_module_is_over_300_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}


def test_records_carry_no_run_level_facts_in_details() -> None:
    # The control workload and the fresh processes live in RunContext, once.
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name in ("control_median", "peer_value", '"remeasured"'):
            assert f"details[{name}" not in text and f'details.get("{name.strip(chr(34))}"' \
                not in text, (path, name)
