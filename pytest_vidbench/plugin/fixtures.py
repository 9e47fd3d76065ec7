"""The fixtures, each with one job. A benchmark test is just:

    def test_benchmark(vidbench_result):
        vidbench_result.check()

`vidbench_result` asks for the fixture of the case's kind (`vidbench_latency`,
`vidbench_memory`, `vidbench_energy`, `vidbench_quality`), which turns the session's shared
measurements into this test's `ResultRecord`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from pytest_vidbench.models.spec import case_label
from pytest_vidbench.records import ResultRecord

if TYPE_CHECKING:  # runtime imports stay lazy: loading the plugin must not load torch
    from pytest_vidbench.measure.device import DeviceSetup
    from pytest_vidbench.measure.measurements import Measurements
    from pytest_vidbench.plugin.cases import BenchmarkCase
    from pytest_vidbench.plugin.session import VidbenchSession


@dataclass
class BenchmarkResult:
    """What a benchmark test checks: the record, failing on a measurement error."""

    record: ResultRecord

    def check(self) -> None:
        if self.record.status == "error":
            pytest.fail(self.record.error or "measurement failed", pytrace=False)
        if self.record.status == "skipped":
            pytest.skip(self.record.error or "not measurable here")


class ModelBuildFailed(RuntimeError):
    """The case's model could not be built or loaded; its tests error with the cause."""


def _unit(case: BenchmarkCase) -> str:
    if case.quality is not None:
        return case.quality.unit
    return {"latency": "s", "memory": "B", "energy": "J"}[case.kind]


def _record(request: pytest.FixtureRequest, case: BenchmarkCase, unit: str, **fields: object
            ) -> ResultRecord:
    return ResultRecord(
        test_id=request.node.nodeid, model=case.model.name, variant=case.variant_name,
        metric=case.metric, kind=case.kind, unit=unit, **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def vidbench_session(request: pytest.FixtureRequest) -> VidbenchSession:
    from pytest_vidbench.plugin.session import SESSION_KEY

    return request.config.stash[SESSION_KEY]


@pytest.fixture(scope="session")
def vidbench_device(vidbench_session: VidbenchSession) -> DeviceSetup:
    """Device, threads, seeds and numerics flags, applied once and recorded."""
    return vidbench_session.device_setup()


@pytest.fixture
def vidbench_measurements(request: pytest.FixtureRequest, vidbench_session: VidbenchSession,
                          vidbench_device: DeviceSetup,
                          vidbench_case: BenchmarkCase) -> Measurements:
    """This case's model measurements; the first call runs the campaign for all models.

    A model that failed to build or load errors here, so its tests error with the cause.
    """
    measurements = vidbench_session.measurements(vidbench_case.measurement_key)
    if measurements.build_failed:
        vidbench_session.add_record(_record(
            request, vidbench_case, _unit(vidbench_case), status="error",
            error=measurements.error))
        raise ModelBuildFailed(measurements.error)
    return measurements


@pytest.fixture
def vidbench_latency(request: pytest.FixtureRequest, vidbench_case: BenchmarkCase,
                     vidbench_measurements: Measurements,
                     vidbench_session: VidbenchSession) -> ResultRecord:
    m = vidbench_measurements
    if m.error:
        return _record(request, vidbench_case, "s", status="error", error=m.error)
    value = statistics.median(m.latency)
    # Per-test facts only: the control workload is the run's (RunContext), not the test's.
    details: dict[str, object] = {
        "rounds": list(m.latency_rounds),
        "timer": "cuda-events" if vidbench_session.device_setup().is_cuda else "perf_counter_ns",
    }
    return _record(request, vidbench_case, "s", value=value, samples=list(m.latency),
                   stages={k: list(v) for k, v in m.stages.items()}, details=details)


@pytest.fixture
def vidbench_memory(request: pytest.FixtureRequest, vidbench_case: BenchmarkCase,
                    vidbench_measurements: Measurements) -> ResultRecord:
    m = vidbench_measurements
    if m.error:
        return _record(request, vidbench_case, "B", status="error", error=m.error)
    if m.memory_unavailable or not m.memory:
        return _record(request, vidbench_case, "B", status="skipped",
                       error=m.memory_unavailable or "no memory samples")
    return _record(request, vidbench_case, "B", value=max(m.memory), samples=list(m.memory),
                   details=dict(m.memory_details))


@pytest.fixture
def vidbench_energy(request: pytest.FixtureRequest, vidbench_case: BenchmarkCase,
                    vidbench_measurements: Measurements) -> ResultRecord:
    m = vidbench_measurements
    if m.error:
        return _record(request, vidbench_case, "J", status="error", error=m.error)
    if not m.energy:
        # Never a made-up number: the record says why there is none.
        return _record(request, vidbench_case, "J", status="skipped",
                       error=m.energy_unavailable or "energy: no samples")
    return _record(request, vidbench_case, "J", value=statistics.median(m.energy),
                   samples=list(m.energy),
                   details={"per": "video (one pipeline call)", **m.energy_details})


@pytest.fixture
def vidbench_quality(request: pytest.FixtureRequest, vidbench_case: BenchmarkCase,
                     vidbench_measurements: Measurements,
                     vidbench_session: VidbenchSession) -> ResultRecord:
    from pytest_vidbench.quality.errors import MetricUnavailable, ReferenceFileError

    metric = vidbench_case.quality
    assert metric is not None
    m = vidbench_measurements
    direction = metric.direction
    unit = metric.unit
    if m.error:
        return _record(request, vidbench_case, unit, direction=direction, status="error",
                       error=m.error)
    references = None
    if metric.needs_reference:
        try:
            references = vidbench_session.references(vidbench_case.measurement_key)
        except ReferenceFileError as error:  # a corrupt reference: this test errors, clearly
            return _record(request, vidbench_case, unit, direction=direction, status="error",
                           error=str(error))
        if references is None:
            return _record(request, vidbench_case, unit, direction=direction, details={
                "no_value_reason": "no reference clip yet: run once with "
                                   "--vidbench-update-baselines to store one"})
    labels, values = [], []
    try:
        with vidbench_session.cost.phase("quality"):
            for index, prompt, seed in m.entry.spec.cases:
                label = case_label(index, seed)
                frames = m.frames.get(label)
                if frames is None:
                    continue
                reference = references.get(label) if references is not None else None
                if metric.needs_reference and reference is None:
                    continue
                values.append(metric.compute(frames, reference=reference, prompt=prompt))
                labels.append(label)
    except MetricUnavailable as error:
        return _record(request, vidbench_case, unit, direction=direction, status="skipped",
                       error=str(error))
    except ValueError as error:  # bad frames, a changed workload, a broken metric
        return _record(request, vidbench_case, unit, direction=direction, status="error",
                       error=f"{metric.name}: {error}")
    if not values:
        return _record(request, vidbench_case, unit, direction=direction, details={
            "no_value_reason": "no (prompt, seed) pair of this run has a reference clip"})
    return _record(request, vidbench_case, unit, direction=direction,
                   value=sum(values) / len(values), samples=values, sample_labels=labels,
                   details={"range": list(metric.value_range)})


@pytest.fixture
def vidbench_result(request: pytest.FixtureRequest, vidbench_case: BenchmarkCase,
                    vidbench_session: VidbenchSession) -> BenchmarkResult:
    record = request.getfixturevalue(f"vidbench_{vidbench_case.kind}")
    vidbench_session.add_record(record)
    return BenchmarkResult(record)
