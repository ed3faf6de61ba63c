"""The shape of a report's summary (``Report.summary``, ``summary.json``): a TypedDict, a plain dict at run time."""

from __future__ import annotations

from typing import Any, TypedDict


class ReportSummary(TypedDict):
    """``Report.summary``; per-finding entries come from :func:`spectral_fast.analysis.blind_spots.analyze_finding`."""

    package_version: str
    profile_options: dict[str, Any] | None
    n_profiles: int
    excluded: dict[str, Any]
    n_analysed: int
    k: int
    k_selection: dict[str, Any]
    features: list[str]
    findings: dict[str, dict[str, Any]]
    options: dict[str, Any]
