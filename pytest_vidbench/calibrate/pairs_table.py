"""The side-by-side calibration table: simulated sessions through the real judge.

    python -m pytest_vidbench.calibrate.pairs_table \\
        --traces 'docs/traces/side-by-side-2026-12-07/*.json' \\
        --traces 'docs/traces/side-by-side-2026-12-07/series/unchanged-*.json' --sessions 3000

The pair noise is fitted to the A/A runs given (calibrate/pairs_fit.py), the history
screen's to this repository's history-mode traces (`history_model`); the sessions are
calibrate/pairs_sim.py's.
"""

from __future__ import annotations

import argparse
import glob
from dataclasses import replace
from pathlib import Path

import numpy as np

from pytest_vidbench.calibrate.pairs_fit import PairNoise, fit_pairs, read_pairs, view_sds
from pytest_vidbench.calibrate.pairs_sim import Scenario, detectable_power, tally
from pytest_vidbench.calibrate.synthetic import NoiseModel
from pytest_vidbench.gate.pair_views import CONTROL, PEERS, POLICY_VIEWS, RAW
from pytest_vidbench.gate.paired import OBF, SPENDING
from pytest_vidbench.gate.side_by_side import PairPolicy


def _key(noise: PairNoise, model: str) -> str:
    return next(k for k in noise.models if k.startswith(f"{model}["))


def scenarios(noise: PairNoise, history: NoiseModel | None) -> list[Scenario]:
    """The issue's settings: A/A, one model at +25% and +15%, and the shared kernel the real
    `sdpa:2` series measured (animatediff +45%, ltx +37%, t2vsd +32%; docs/calibration.md)."""
    ltx = _key(noise, "ltx-tiny")
    shared = {_key(noise, m): e for m, e in (("animatediff-tiny", 0.45), ("ltx-tiny", 0.37),
                                             ("t2vsd-tiny", 0.32))}
    out = [Scenario("every model +25%, no history", dict.fromkeys(noise.models, 0.25))]
    for where, s in (("no history", None), ("history screen", history)):
        if where == "history screen" and s is None:
            continue
        out += [Scenario(f"A/A, {where}", {}, s), Scenario(f"ltx-tiny +25%, {where}",
                                                           {ltx: 0.25}, s),
                Scenario(f"ltx-tiny +15%, {where}", {ltx: 0.15}, s),
                Scenario(f"shared kernel, {where}", shared, s)]
    return out


def _upper(events: int, n: int) -> float:
    """One-sided 95% upper bound of a rate (Clopper–Pearson)."""
    from scipy.stats import beta

    return 1.0 if events >= n else float(beta.ppf(0.95, events + 1, n - events))


def table(noise: PairNoise, history: NoiseModel | None, policy: PairPolicy, sessions: int
          ) -> str:
    lines = ["| setting | sessions | false alarms (95% upper) | caught | untouched or < 10% "
             "named | pairs (median / p90) | minutes (median / p90) |",
             "|---|---:|---|---|---:|---|---|"]
    for i, scenario in enumerate(scenarios(noise, history)):
        t = tally(noise, scenario, policy, sessions, seed=i + 1)
        alarms = f"{t.false_alarms / t.sessions:.2%} ({_upper(t.false_alarms, t.sessions):.2%})"
        caught = f"{t.caught / t.slowed:.1%} of {t.slowed}" if t.slowed else "—"
        pairs = np.percentile(t.pairs, [50, 90])
        minutes = np.percentile(t.minutes, [50, 90])
        lines.append(f"| {t.scenario} | {t.sessions} | {alarms} | {caught} | "
                     f"{t.wrongly_named} | {pairs[0]:.0f} / {pairs[1]:.0f} | "
                     f"{minutes[0]:.1f} / {minutes[1]:.1f} |")
    return "\n".join(lines)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def history_model() -> NoiseModel:
    """The history-mode noise model as `python -m pytest_vidbench.calibrate` fits it to this
    repository's traces (calibrate/__main__.py TRACES and SERIES), drift included."""
    from pytest_vidbench.calibrate.__main__ import SERIES, TRACES
    from pytest_vidbench.calibrate.noise import (
        documents,
        fit_documents,
        fit_drift,
        series_pairs,
    )

    docs = documents(sorted(Path().glob(TRACES)))
    drift = fit_drift([p for p in series_pairs([Path(d) for d in SERIES]) if p[0] and p[1]])
    return replace(fit_documents(docs), session_drift=drift, fresh_samples=6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", action="append", required=True,
                        help="side-by-side A/A results files (a glob; repeat as needed)")
    parser.add_argument("--no-history", action="store_true",
                        help="leave out the settings with a history screen")
    parser.add_argument("--sessions", type=_positive, default=3000)
    parser.add_argument("--view", choices=POLICY_VIEWS, default=CONTROL,
                        help="the pairs' view (the plugin's --vidbench-pair-view)")
    parser.add_argument("--looks", default="8,16,24",
                        help="analysed pairs at each look (the plugin's --vidbench-pair-looks)")
    parser.add_argument("--spending", choices=SPENDING, default=OBF,
                        help="how the looks share α (the plugin's --vidbench-pair-spending)")
    parser.add_argument("--detectable", type=int, default=0,
                        help="also check the printed detectable effect on N sessions")
    args = parser.parse_args(argv)
    paths = sorted(Path(p) for pattern in args.traces for p in glob.glob(pattern))
    runs = read_pairs(paths)
    noise = fit_pairs(runs)
    history = None if args.no_history else history_model()
    print(f"fitted to {noise.pairs} A/A pairs of {len(paths)} run(s): σ_U {noise.machine:.2%}, "
          f"σ_control {noise.control:.2%}, period {noise.period:+.2%}, t df {noise.df:.1f}, "
          f"failure {noise.failure:.2%}, {noise.process_seconds:.1f} s per process")
    print(f"σ_M (the models' shared code) {noise.shared:.2%}")
    print("| test | σ_m | pair SD raw | ÷ control | ÷ peers |\n|---|---:|---:|---:|---:|")
    for k, views in view_sds(runs).items():
        print(f"| {k} | {noise.models[k]:.1%} | {views[RAW]:.1%} | {views[CONTROL]:.1%} | "
              f"{views[PEERS]:.1%} |")
    if history:
        print(f"history screen: process_sd {history.process_sd:.2%}, session drift "
              f"{history.session_drift:.2%} (calibrate/synthetic.py NoiseModel)")
    policy = PairPolicy(view=args.view, looks=tuple(int(x) for x in args.looks.split(",")),
                        spending=args.spending)
    print(f"view: {args.view}, looks {args.looks}, spending {args.spending}")
    print(table(noise, history, policy, args.sessions))
    if args.detectable:
        power, median = detectable_power(noise, policy, args.detectable)
        print(f"at the printed detectable effect (median {median:.0f}%): caught in "
              f"{power:.1%} of {args.detectable} sessions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
