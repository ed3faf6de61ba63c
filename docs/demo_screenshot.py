"""Regenerate docs/demo-report.png: the top of the default demo's report, in headless Chromium.

Run from the repository root after the default demo::

    python -m spectral_fast demo -o spectral-fast-demo
    python docs/demo_screenshot.py spectral-fast-demo/report/report.html
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "demo-report.png"
#: Wide enough for the blind-spot table, tall enough for the verdict and the three blind spots of the default run.
WINDOW = (1000, 1320)


def main() -> None:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_file():
        sys.exit("usage: python docs/demo_screenshot.py PATH/TO/report.html")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found (apt-get install -y chromium)")
    page = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory(prefix="sf-chromium-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--proxy-server=127.0.0.1:9", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
             f"--screenshot={OUT}", page.as_uri()],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
    print(OUT)


if __name__ == "__main__":
    main()
