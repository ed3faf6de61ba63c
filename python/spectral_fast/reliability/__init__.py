"""Reliability without labels: shrunk cluster error rates, the reference set, ``predict`` and ``monitor``."""

from spectral_fast.reliability.monitoring import MonitorResult, monitor
from spectral_fast.reliability.reference_set import Reference, build_reference, write_reference
from spectral_fast.reliability.risk import Prediction, load_model_dir, predict

__all__ = [
    "MonitorResult",
    "Prediction",
    "Reference",
    "build_reference",
    "load_model_dir",
    "monitor",
    "predict",
    "write_reference",
]
