"""The report page's metadata blind spots: value groups of the acquisition metadata where errors concentrate.

A table of its own, apart from the spectral blind spots (the scan is
:mod:`spectral_fast.analysis.metadata_scan`; the clusters alone feed
``predict`` and ``monitor``).
"""

from __future__ import annotations

from spectral_fast.render.primitives import esc, fmt, table

#: Direction names as the page says them.
_DIRECTION = {"misses": "misses", "false_alarms": "false alarms", "both": "all errors", "errors": "errors"}


def metadata_section(report) -> str:
    """``<h2>`` and table of ``report.metadata_spots``, or a sentence when the scan declared none ('' without a scan)."""
    spots = getattr(report, "metadata_spots", None)
    if spots is None:
        return ""
    head = "<h2>Metadata blind spots</h2>"
    if spots.height == 0:
        return (
            f'{head}<p class="small">No value of an acquisition variable (file format, mode, bit depth, size, pixel '
            "spacing, DICOM tags or your metadata columns) holds significantly more errors than its label mix "
            "predicts.</p>"
        )
    several = spots["finding"].n_unique() > 1
    rows = [
        [fmt(r["rank"]), *([esc(r["finding"])] if several else []), esc(r["variable"]), esc(r["value"]),
         esc(_DIRECTION.get(r["direction"], r["direction"])), fmt(r["population"]), fmt(r["errors"]),
         f"{fmt(r['error_rate'])} vs {fmt(r['rest_rate'])}", fmt(r["lift"]), fmt(r["p_adjusted"]),
         fmt(r["stability"]) + ("" if r["stable"] is not False else " (unstable)"), esc(r["description"])]
        for r in spots.iter_rows(named=True)
    ]  # fmt: skip
    headers = ["rank", *(["finding"] if several else []), "variable", "value", "direction", "images", "errors",
               "error rate vs rest", "lift", "q (BH)", "stability", "what"]  # fmt: skip
    text = (1, 2, 3, len(headers) - 1) if several else (1, 2, len(headers) - 1)
    return (
        f'{head}<p class="small">Groups of images sharing a value of an acquisition variable whose error rate '
        "(among the direction's label) exceeds the rest's: exact test, Benjamini-Hochberg over every group, "
        "stability over bootstrap resamples. A separate scan: these groups are not clusters and do not enter "
        "predict or monitor.</p>" + table(headers, rows, text_cols=text)
    )
