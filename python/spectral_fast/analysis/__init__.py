"""Blind spots from data: predictions joined to profiles, clustering, the cluster tree, failure statistics, descriptions.

Data only: nothing here renders or writes a report folder (see :mod:`spectral_fast.render`).
"""

from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.analysis.pipeline import Finding, Report, analyze

__all__ = ["Finding", "Report", "SpectralClusters", "analyze"]
