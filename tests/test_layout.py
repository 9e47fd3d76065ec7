"""The package shows its pipeline: stages import only from the stages before them, the
building blocks import no stage, and no two modules import each other, even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "pytest_vidbench"
STAGES = ["measure", "gate", "store", "report"]  # in the order data flows
# What every stage builds on; none of it may reach into a stage or the pytest glue.
BLOCKS = ["records", "hookspec", "config", "models", "quality"]
GLUE = ["plugin", "scale", "cli", "calibrate"]
# The loaders' shared input checks: the one part of a stage that building blocks may use.
SHARED = {"pytest_vidbench.store.schema"}
TOP_LEVEL = {"__init__.py", "hookspec.py", "py.typed"}  # records/ is a package


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The `modules` that `path` imports: at the top, in functions, or for types.
    `from pkg import name` is the module pkg.name when that is one, else pkg itself."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out & modules


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the modules of the package it imports."""
    paths = {module_name(p, package): p for p in package.rglob("*.py")}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def part_of(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_no_two_modules_import_each_other() -> None:
    assert cycles(import_graph(PACKAGE)) == []


def test_the_cycle_check_finds_a_lazy_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pytest_vidbench"
    (package / "store").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "store" / "__init__.py").write_text("")
    (package / "store" / "a.py").write_text("from pytest_vidbench.store.b import x\n")
    (package / "store" / "b.py").write_text(
        "def f():\n    from pytest_vidbench.store import a\n")
    assert cycles(import_graph(package)) == [["pytest_vidbench.store.a",
                                              "pytest_vidbench.store.b"]]


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_later_stage_and_no_glue(stage: str) -> None:
    # Storage and analysis stay apart both ways (the store speaks records/, not gate/).
    banned = STAGES[STAGES.index(stage) + 1:] + GLUE + (["gate"] if stage == "store" else [])
    graph = import_graph(PACKAGE)
    wrong = [(m, dep) for m, deps in graph.items() if part_of(m) == stage
             for dep in deps if part_of(dep) in banned]
    assert wrong == []


@pytest.mark.parametrize("block", BLOCKS)
def test_a_building_block_imports_no_stage(block: str) -> None:
    graph = import_graph(PACKAGE)
    wrong = [(m, dep) for m, deps in graph.items() if part_of(m) == block
             for dep in deps if part_of(dep) in STAGES + GLUE and dep not in SHARED]
    assert wrong == []


def test_the_top_level_holds_only_packages_and_the_shared_vocabulary() -> None:
    loose = {p.name for p in PACKAGE.iterdir() if p.is_file()} - TOP_LEVEL
    assert loose == set()
    assert all((p / "__init__.py").is_file() for p in PACKAGE.iterdir()
               if p.is_dir() and p.name != "__pycache__")


def test_the_session_only_orchestrates() -> None:
    lines = (PACKAGE / "plugin" / "session.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 180


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
