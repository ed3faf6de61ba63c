"""What people read: the self-contained report and monitor pages, their notebook view, and the output folders."""

from spectral_fast.render.folders import write_monitor, write_report
from spectral_fast.render.notebook import show, to_html
from spectral_fast.render.stress_html import write_stress

__all__ = ["show", "to_html", "write_monitor", "write_report", "write_stress"]
