"""Benchmarks the generator registered in this folder's conftest.py (and nothing else)."""

import pytest


@pytest.mark.vidbench(models=["toy-convnet"])
def test_benchmark(vidbench_result):
    vidbench_result.check()
