"""Pure parts of the GPU-truth check: latency traces, variance components, the summary.

No torch and no GPU here, so tests/test_gpu_check.py runs all of it on the CPU.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any


def trace_line(results: dict[str, Any], process: int) -> dict[str, Any]:
    """One JSON line of the noise trace from a `--vidbench-json` results document: every
    latency sample of the process as {model, round, i, seconds}."""
    samples = []
    for record in results.get("results", []):
        if record.get("kind") != "latency" or record.get("status", "ok") != "ok":
            continue
        rounds = record.get("details", {}).get("rounds") or []
        for i, seconds in enumerate(record.get("samples", [])):
            samples.append({"model": f"{record['model']} [{record['variant']}]",
                            "round": rounds[i] if i < len(rounds) else None,
                            "i": i, "seconds": seconds})
    return {"process": process, "samples": samples}


@dataclass(frozen=True)
class VarianceComponents:
    """Log-seconds variance split three ways; sqrt(component) ≈ a relative SD."""

    within_run: float  # between calls of one model in one process
    between_process: float  # a shift shared by every model of a process
    model_by_process: float | None  # a shift of one model in one process (None: 1 model)
    models: int
    processes: int
    calls_per_cell: float

    def relative_sd(self) -> dict[str, float | None]:
        return {name: None if value is None else math.sqrt(value)
                for name, value in (("within_run", self.within_run),
                                    ("between_process", self.between_process),
                                    ("model_by_process", self.model_by_process))}


def variance_components(lines: list[dict[str, Any]]) -> VarianceComponents:
    """Method-of-moments components of log latency, y = model + process + model×process +
    call, from the trace. Only models with ≥ 2 samples in every process are used."""
    cells: dict[tuple[str, int], list[float]] = defaultdict(list)
    for line in lines:
        for s in line["samples"]:
            if s["seconds"] and s["seconds"] > 0:
                cells[(s["model"], line["process"])].append(math.log(s["seconds"]))
    processes = sorted({line["process"] for line in lines})
    models = sorted({m for m, _ in cells
                     if all(len(cells.get((m, p), [])) >= 2 for p in processes)})
    if len(processes) < 2 or not models:
        raise ValueError(f"need ≥ 2 processes sharing a model with ≥ 2 samples each "
                         f"(got {len(processes)} processes, models {models})")
    used = [cells[(m, p)] for m in models for p in processes]
    dof = sum(len(c) - 1 for c in used)
    within = sum(sum((y - statistics.fmean(c)) ** 2 for y in c) for c in used) / dof
    n_bar = statistics.fmean(len(c) for c in used)
    z = {(m, p): statistics.fmean(cells[(m, p)]) for m in models for p in processes}
    grand = statistics.fmean(z.values())
    by_model = {m: statistics.fmean(z[(m, p)] for p in processes) for m in models}
    by_proc = {p: statistics.fmean(z[(m, p)] for m in models) for p in processes}
    n_m, n_p = len(models), len(processes)
    ms_proc = n_m * sum((by_proc[p] - grand) ** 2 for p in processes) / (n_p - 1)
    if n_m == 1:  # the interaction cannot be told apart from the process shift
        between = max(ms_proc - within / n_bar, 0.0)
        return VarianceComponents(within, between, None, n_m, n_p, n_bar)
    ms_inter = sum((z[(m, p)] - by_model[m] - by_proc[p] + grand) ** 2
                   for m in models for p in processes) / ((n_m - 1) * (n_p - 1))
    inter = max(ms_inter - within / n_bar, 0.0)
    between = max((ms_proc - ms_inter) / n_m, 0.0)
    return VarianceComponents(within, between, inter, n_m, n_p, n_bar)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def components_json(components: VarianceComponents) -> dict[str, Any]:
    return {**asdict(components), "relative_sd": components.relative_sd()}


# -- the Markdown summary ------------------------------------------------------------------

def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "–"
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["(no rows)"]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return out


def render_markdown(summary: dict[str, Any]) -> str:
    """The human summary: one section per step, its status, seconds, tables and figures."""
    meta = summary.get("meta", {})
    lines = [f"# vidbench GPU check ({meta.get('mode', '?')} mode)", "",
             f"device: {_cell(meta.get('device'))}, torch {_cell(meta.get('torch'))} "
             f"(CUDA {_cell(meta.get('cuda'))}), total {_cell(meta.get('seconds'))} s", ""]
    for name, step in summary.get("steps", {}).items():
        lines += [f"## {name}: {step.get('status')}", "",
                  f"{_cell(step.get('seconds'))} s of a {_cell(step.get('budget_s'))} s "
                  "budget", ""]
        if step.get("error"):
            lines += ["```", str(step["error"]).strip()[-2000:], "```", ""]
        lines += _items(step.get("result") or {})
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _items(result: dict[str, Any], depth: int = 0) -> list[str]:
    """Scalars as bullets, lists of rows as tables, sub-results (a fault check) nested."""
    lines: list[str] = []
    for key, value in result.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines += ["", f"**{key}**", "", *_table(value), ""]
        elif isinstance(value, dict) and depth == 0 and key not in ("components",):
            lines += ["", f"### {key}", "", *_items(value, depth + 1)]
        else:
            lines.append(f"- {key}: {_cell(value)}")
    return lines
