"""`vidbench history`: every baseline file's run history as one pandas DataFrame."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_vidbench.cli._common import CliError, project_config
from pytest_vidbench.store.baselines import BaselineFile, BaselineStore

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("environment_key", "key", "model", "variant", "metric", "kind", "unit", "direction",
           "run", "date", "commit", "value", "normalized", "regressed")
PARQUET_HINT = "pip install 'pytest-vidbench[dev]' (or pip install pyarrow)"


def load_baselines(directory: Path) -> list[BaselineFile]:
    """Every `<environment key>.json` in `directory`, validated. Raises BaselineError."""
    if not directory.is_dir():
        raise CliError(f"no baseline directory {directory} (set [tool.vidbench] baselines or "
                       "pass --baselines DIR)")
    files = []
    for path in sorted(directory.glob("*.json")):
        # The store checks that the file's environment_key matches its name, as a run does.
        baseline = BaselineStore(directory, path.stem).load()
        if baseline is not None:
            files.append(baseline)
    return files


def history_rows(baselines: list[BaselineFile]) -> list[dict[str, Any]]:
    rows = []
    for baseline in baselines:
        for key, test in sorted(baseline.tests.items()):
            for run, summary in enumerate(test.history):  # oldest first: run 0 is the oldest
                rows.append({
                    "environment_key": baseline.environment_key, "key": key,
                    "model": test.model, "variant": test.variant, "metric": test.metric,
                    "kind": test.kind, "unit": test.unit, "direction": test.direction,
                    "run": run, "date": summary.date, "commit": summary.commit,
                    "value": summary.value, "normalized": summary.normalized,
                    "regressed": summary.regressed,
                })
    return rows


def history_frame(baselines: list[BaselineFile]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(history_rows(baselines), columns=list(COLUMNS))
    # Fixed dtypes, so an empty or all-null column still round-trips through CSV and Parquet.
    return frame.astype({"run": "int64", "value": "float64", "normalized": "float64"})


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    try:
        import pyarrow  # noqa: F401  (pandas' Parquet engine)
    except ImportError:
        raise CliError(f"--parquet needs pyarrow, which is not installed: {PARQUET_HINT}"
                       ) from None
    frame.to_parquet(path, index=False)


def run_history(args: argparse.Namespace) -> int:
    directory = Path(args.baselines) if args.baselines else Path(project_config().baselines)
    frame = history_frame(load_baselines(directory))
    try:
        if args.csv:
            frame.to_csv(args.csv, index=False)
        elif args.parquet:
            _write_parquet(frame, Path(args.parquet))
    except OSError as error:
        raise CliError(f"cannot write {error.filename or 'the output'}: "
                       f"{error.strerror or error}") from None
    if args.csv or args.parquet:
        print(f"vidbench history: {len(frame)} run(s) of {frame['key'].nunique()} test(s) in "
              f"{frame['environment_key'].nunique()} environment(s) -> "
              f"{args.csv or args.parquet}")
    elif frame.empty:
        print(f"vidbench history: no baseline runs in {directory}")
    else:
        # 6 significant digits: bytes and seconds side by side stay readable.
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    return 0
