"""What people read: the self-contained report and monitor pages, and the output folders that hold them."""

from spectral_fast.render.folders import write_monitor, write_report

__all__ = ["write_monitor", "write_report"]
