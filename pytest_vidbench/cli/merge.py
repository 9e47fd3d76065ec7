"""`vidbench merge A.json B.json ... -o ALL.json`: one results file from the shards of a run.

Shards of one run (e.g. `-k` slices on identical machines) must share the environment that
baselines are keyed by and the commit: otherwise their numbers do not belong in one table.
A result key may appear in one shard only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_vidbench.cli._common import CliError
from pytest_vidbench.store.baselines import baseline_environment
from pytest_vidbench.store.results import load_results, results_document, write_results

_SUMMED = ("wall_seconds", "timed_seconds")


def _identity(environment: dict[str, Any]) -> dict[str, Any]:
    return {**baseline_environment(environment), "git_commit": environment.get("git_commit"),
            "git_dirty": environment.get("git_dirty")}


def _differences(a: dict[str, Any], b: dict[str, Any]) -> str:
    return ", ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in a if a.get(k) != b.get(k))


def merge_results(paths: list[Path]) -> dict[str, Any]:
    """The merged results document. Raises CliError naming both shards on a conflict."""
    if len(paths) < 2:
        raise CliError("give at least two results files to merge (the shards of one run)")
    first_path, records, environment, runs = paths[0], [], {}, []
    owner: dict[str, Path] = {}
    for path in paths:
        shard, env, run = load_results(path)
        if not environment:
            environment, first_path = env, path
        elif _identity(env) != _identity(environment):
            raise CliError(
                f"{first_path} and {path} come from different environments or commits "
                f"({_differences(_identity(environment), _identity(env))}); merge only the "
                "shards of one run")
        for record in shard:
            if record.key in owner:
                where = "twice in" if owner[record.key] == path else "in both"
                shown = path if owner[record.key] == path else f"{owner[record.key]} and {path}"
                raise CliError(f"result {record.key} appears {where} {shown}; each result "
                               "must come from one shard (split the run with -k, not repeat it)")
            owner[record.key] = path
        records += shard
        runs.append(run)
    return results_document(records, environment, _merged_run(runs, paths))


def _merged_run(runs: list[dict[str, Any]], paths: list[Path]) -> dict[str, Any]:
    run = dict(runs[0])
    for name in _SUMMED:
        values = [r.get(name) for r in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            run[name] = float(sum(values))
    control = [r.get("control_samples") for r in runs]
    if all(isinstance(c, list) for c in control):
        run["control_samples"] = [v for c in control for v in c]
    run["merged_from"] = [str(p) for p in paths]
    paired = _merged_side_by_side(runs, paths)
    if paired is not None:
        run["side_by_side"] = paired
    if any(r.get("interrupted") is True for r in runs):  # one cancelled shard: not complete
        run["interrupted"] = True
    return run


def _merged_side_by_side(runs: list[dict[str, Any]], paths: list[Path]
                         ) -> dict[str, Any] | None:
    """Shards of one side-by-side run: one record of both trees, every shard's pairs and
    every shard's order seed. Shards that compared different trees are refused."""
    found = [(p, r.get("side_by_side"), r.get("interrupted") is True)
             for p, r in zip(paths, runs, strict=True)]
    if all(record is None for _, record, _ in found):
        return None
    # An interrupted shard (a cancelled job) stops before its pairs: it has none to add.
    plain = [str(p) for p, record, cut in found if not isinstance(record, dict) and not cut]
    if plain:
        raise CliError(f"{', '.join(plain)} did not run side by side (--vidbench-against) "
                       "while the other shards did; merge the shards of one run")
    records = [record for _, record, _ in found if isinstance(record, dict)]
    paths = [p for p, record, _ in found if isinstance(record, dict)]
    same = ("ref", "base_commit", "head_commit", "base_tree", "head_tree")
    first = records[0]
    for path, record in zip(paths[1:], records[1:], strict=True):
        if any(record.get(k) != first.get(k) for k in same):
            raise CliError(f"{paths[0]} and {path} compared different trees ("
                           f"{_differences({k: first.get(k) for k in same}, record)}); merge "
                           "the shards of one run")
    merged = dict(first)
    for name in ("pairs", "warmup"):
        merged[name] = [p for r in records for p in r.get(name) or []]
    merged["shard_seeds"] = [r.get("seed") for r in records]
    merged["error"] = next((r["error"] for r in records if r.get("error")), None)
    return merged


def run_merge(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.files]
    document = merge_results(paths)
    try:
        write_results(Path(args.output), document)
    except OSError as error:
        raise CliError(f"cannot write {args.output}: {error.strerror or error}") from None
    print(f"vidbench merge: {len(document['results'])} results from {len(paths)} shards -> "
          f"{args.output}")
    return 0
