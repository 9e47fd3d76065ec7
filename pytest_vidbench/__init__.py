"""pytest-vidbench: benchmark text-to-video diffusion pipelines with pytest.

`pytest benchmarks/ --vidbench` measures latency, memory, energy and quality per model ×
metric and gates on statistically sound regressions against baselines/.
"""

from pytest_vidbench.models.spec import GenerationSpec
from pytest_vidbench.records import ResultRecord, RunReport, Verdict

__all__ = ["GenerationSpec", "ResultRecord", "RunReport", "Verdict"]
__version__ = "0.1.0"
