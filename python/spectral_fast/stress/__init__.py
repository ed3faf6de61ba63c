"""Stress tests of a model: its sensitivity spectrum and a counterfactual check of each blind spot.

A blind spot is a correlation between a spectral difference and errors. Because an
acquisition difference can be imposed on other images (multiply their Fourier
magnitudes, keep their phase, anatomy and labels), the correlation can be tested:
does the model start failing when clean images are given the blind spot's spectrum?
See docs/method.md#stress-tests.
"""

from spectral_fast.stress.run import StressResult, run_stress

__all__ = ["StressResult", "run_stress"]
