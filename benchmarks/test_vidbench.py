"""The benchmark suite: one test per model × variant × metric.

Run with `pytest benchmarks/ --vidbench`. Models and metrics come from [tool.vidbench] in
pyproject.toml (default: every built-in tiny pipeline and the default metric set).
Verdicts against baselines/ are given at the end of the session.
"""


def test_benchmark(vidbench_result):
    vidbench_result.check()
