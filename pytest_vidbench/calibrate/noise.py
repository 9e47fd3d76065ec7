"""`python -m pytest_vidbench.calibrate.noise RESULTS.json…`: the noise of a machine.

Each results file is one process of the latency suite (record them with
`pytest benchmarks/ --vidbench -k latency --vidbench-report-only --vidbench-json F`, once
per process). Prints, per model, the run-to-run SD in log space of its raw time, of its
ratio to the other models of the same process, and of its ratio to the control workload;
and the SD of the process factor (the mean log time over models). The ratios' SD is the
per-model, per-process offset that more rounds inside one process cannot shrink; the
last column, the ratio to the closest other model, shows how much of that offset models
share (picked on the same runs, so it flatters: a lower bound).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import replace
from pathlib import Path

from pytest_vidbench.calibrate.design import table as design_table
from pytest_vidbench.calibrate.synthetic import NoiseModel

TAIL = 1.2  # a call this much slower than its run's median counts as a heavy-tail one


def _run(document: dict) -> tuple[dict[str, float], float | None]:
    """One process: log latency per model, and the log median of its control samples."""
    logs = {r["model"]: math.log(r["value"]) for r in document["results"]
            if r["kind"] == "latency" and r["status"] == "ok" and r.get("value")}
    control = document.get("run", {}).get("control_samples") or []
    return logs, math.log(statistics.median(control)) if control else None


def documents(paths: list[Path]) -> list[dict]:
    """The results files that trace a whole process: a run that Ctrl-C or SIGTERM cut short
    (or that measured nothing) is left out."""
    loaded = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    return [d for d in loaded if d.get("results") and not d.get("run", {}).get("interrupted")]


def runs_of(docs: list[dict]) -> list[tuple[dict[str, float], float | None]]:
    return [_run(d) for d in docs]


def load(paths: list[Path]) -> list[tuple[dict[str, float], float | None]]:
    return runs_of(documents(paths))


def _ratios(runs: list[tuple[dict[str, float], float | None]], models: list[str]
            ) -> dict[str, list[float]]:
    """Per model, its log time less the mean of the others' in each process."""
    return {m: [v[m] - statistics.mean(v[j] for j in models if j != m) for v, _ in runs]
            for m in models}


def components(runs: list[tuple[dict[str, float], float | None]]) -> dict[str, dict[str, float]]:
    models = sorted(set.intersection(*(set(r[0]) for r in runs)))
    out: dict[str, dict[str, float]] = {}
    ratios = _ratios(runs, models)
    for m in models:
        row = {"raw": statistics.stdev(v[m] for v, _ in runs),
               "peers": statistics.stdev(ratios[m])}
        # The offsets are not independent per model: models that share kernels move
        # together, so the ratio to the closest one can be far tighter than to the mean.
        if len(models) > 2:
            row["nearest"], row["nearest_model"] = min(  # type: ignore[assignment]
                (statistics.stdev(v[m] - v[j] for v, _ in runs), j)
                for j in models if j != m)
        if all(c is not None for _, c in runs):
            row["control"] = statistics.stdev(v[m] - c for v, c in runs)  # type: ignore[operator]
        out[m] = row
    return out


def fit(paths: list[Path]) -> NoiseModel:
    return fit_documents(documents(paths))


def fit_documents(docs: list[dict]) -> NoiseModel:
    """The synthetic calibration's noise model, fitted to recorded processes (one results
    file each): within-run spread and heavy tail from the samples, the process factor's
    spread and slow processes from the mean log time over models, and the per-model offset
    from each model's ratio to the mean of the others, less the others' own share."""
    scales, tails, factors, ratios = [], [], [], []
    for document in docs:
        latency = [r for r in document["results"] if r["kind"] == "latency"
                   and r["status"] == "ok" and len(r.get("samples") or []) >= 3]
        for record in latency:
            logs = [math.log(x) for x in record["samples"] if x > 0]
            centre = statistics.median(logs)
            scales.append(1.4826 * statistics.median(abs(x - centre) for x in logs))
            tails.append(sum(x - centre > math.log(TAIL) for x in logs) / len(logs))
            ratios += [math.exp(x - centre) for x in logs if x - centre > math.log(TAIL)]
        factors.append(statistics.fmean(math.log(r["value"]) for r in latency))
    cv = statistics.median(scales)
    normal_tail = 0.5 * math.erfc(math.log(TAIL) / cv / math.sqrt(2))
    centre = statistics.median(factors)
    drift = 1.4826 * statistics.median(abs(f - centre) for f in factors)
    slow = [f for f in factors if f - centre > 3 * drift]
    table = components(runs_of(docs))
    models = len(table)
    peers = statistics.median(r["peers"] for r in table.values())
    return NoiseModel(
        cv=cv, outliers=max(statistics.fmean(tails) - normal_tail, 0.0), drift=drift,
        # uniform from TAIL up: the top that gives the recorded median slow call
        outlier_max=2 * statistics.median(ratios) - TAIL if ratios else 3.0,
        slow_probability=len(slow) / len(factors),
        slow_factor=math.exp(statistics.median(slow) - centre) if slow else 1.0,
        process_sd=peers / math.sqrt(1 + 1 / max(models - 1, 1)),
        samples=int(statistics.median(len(r["samples"]) for d in docs for r in d["results"]
                                      if r["kind"] == "latency" and r.get("samples"))))


def fit_drift(pairs: list[tuple[list[Path], list[Path]]]) -> float:
    """The per-model drift between a history and the unchanged runs recorded after it: the
    SD of the shift of each model's ratio to the others, less what the processes' own
    offsets explain (method of moments: E[d²] = δ²·M/(M−1) + s²(1/n₁ + 1/n₂), s² pooled
    within the two groups, M models: a ratio to the mean of the others also moves with
    their drifts, the correction `fit_documents` makes for the offset). Pooled over every
    model of every pair; 0 when the shifts are no larger than chance."""
    excess: list[float] = []
    for before_paths, after_paths in pairs:
        before, after = load(before_paths), load(after_paths)
        if len(before) < 2 or len(after) < 2:
            continue
        models = sorted(set.intersection(*(set(r[0]) for r in before + after)))
        if len(models) < 3:
            continue
        a, b = _ratios(before, models), _ratios(after, models)
        for m in models:
            pooled = ((len(a[m]) - 1) * statistics.variance(a[m]) + (len(b[m]) - 1)
                      * statistics.variance(b[m])) / (len(a[m]) + len(b[m]) - 2)
            shift = statistics.mean(b[m]) - statistics.mean(a[m])
            chance = pooled * (1 / len(a[m]) + 1 / len(b[m]))
            excess.append((shift**2 - chance) * (len(models) - 1) / len(models))
    return math.sqrt(max(statistics.fmean(excess), 0.0)) if excess else 0.0


def series_pairs(directories: list[Path]) -> list[tuple[list[Path], list[Path]]]:
    """(history, unchanged runs) per directory that `calibrate.real --keep` wrote."""
    return [(sorted(d.glob("history-*.json")), sorted(d.rglob("unchanged-*.json")))
            for d in directories]


def calmest_offset(docs: list[dict]) -> float:
    """The smallest per-model offset among the recorded models (results documents, as
    `documents` reads them), in whichever normalised view is calmer for it (÷ the others,
    corrected as `fit` does; or ÷ the control): the gate judges each test in the view
    where it has the stronger evidence."""
    table = components(runs_of(docs))
    share = math.sqrt(1 + 1 / max(len(table) - 1, 1))
    return min(min(r["peers"] / share, r.get("control", math.inf)) for r in table.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--drift", type=Path, nargs="*", default=[],
                        help="directories of `calibrate.real --keep` series: also fit the "
                             "per-model drift between a history and the runs after it")
    args = parser.parse_args(argv)
    docs = documents(args.results)
    runs = runs_of(docs)
    table = components(runs)
    print(f"{len(runs)} processes; run-to-run SD of log time (≈ relative SD)\n")
    print("| model | raw | ÷ other models | ÷ control | ÷ the closest model (which) |")
    print("|---|---|---|---|---|")
    for model, row in table.items():
        control = f"{row['control']:.1%}" if "control" in row else "—"
        nearest = f"{row['nearest']:.1%} ({row['nearest_model']})" if "nearest" in row else "—"
        print(f"| {model} | {row['raw']:.1%} | {row['peers']:.1%} | {control} | {nearest} |")
    median = statistics.median(r["peers"] for r in table.values())
    process = statistics.stdev(statistics.mean(v.values()) for v, _ in runs)
    print(f"\nmedian ÷ other models: {median:.1%}; process factor SD: {process:.1%}")
    model = replace(fit_documents(docs), session_drift=fit_drift(series_pairs(args.drift)))
    print(f"\nfitted noise model: {model}")
    print("\nConfirmation designs (calibrate/design.py), for the median model:\n")
    print(design_table(model.process_sd, model.cv, model.session_drift))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
