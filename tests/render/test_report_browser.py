"""The HTML report in a real browser: headless Chromium over the DevTools protocol.

Chromium is driven through ``--remote-debugging-pipe`` (JSON messages on file
descriptors 3 and 4, NUL-separated), so no Python CDP package is needed. Any
network traffic is both blocked (proxy and resolver pointed at nothing) and
recorded (``Network.requestWillBeSent``); console errors, uncaught exceptions
and log errors are collected; after load, every ``<img>`` must have decoded.
A negative control checks that the harness does catch a page that loads from
the network.

CI installs the browser with ``apt-get install -y chromium``; without it these
tests skip with that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
]

ALLOWED_SCHEMES = ("file:", "data:", "about:")


class Browser:
    """Minimal DevTools-protocol client over Chromium's pipe transport."""

    def __init__(self) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self._profile = tempfile.mkdtemp(prefix="sf-chromium-")

        def fds() -> None:  # the pipe transport reads fd 3 and writes fd 4
            # via high numbers, in case the pipe ends are themselves 3 or 4
            os.dup2(to_child_r, 100)
            os.dup2(from_child_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={self._profile}", "about:blank"],
            # close_fds=False: the fds made in preexec_fn must survive until exec
            # (Python's own fds are non-inheritable, so nothing else leaks).
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self._read(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev
        raise TimeoutError(method)

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("no message from chromium")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)


def load_page(path: Path) -> dict:
    """Load a file in Chromium; return requests, console errors and image states."""
    browser = Browser()
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", timeout=60)
        time.sleep(0.5)  # let late console messages and failed loads arrive
        images = browser.send(
            "Runtime.evaluate",
            {"expression": "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]))",
             "returnByValue": True},
            session=session,
        )["result"]["value"]  # fmt: skip
        title = browser.send(
            "Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session=session
        )
        # drain what is pending
        try:
            while True:
                browser.events.append(browser._read(time.monotonic() + 0.3))
        except TimeoutError:
            pass
    finally:
        browser.close()
    ev = browser.events
    requests = [e["params"]["request"]["url"] for e in ev if e.get("method") == "Network.requestWillBeSent"]
    errors = [e["params"] for e in ev if e.get("method") == "Runtime.exceptionThrown"]
    errors += [
        e["params"] for e in ev if e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] == "error"
    ]
    errors += [
        e["params"]["entry"]
        for e in ev
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"
    ]
    failed = [e["params"] for e in ev if e.get("method") == "Network.loadingFailed"]
    return {"requests": requests, "errors": errors, "failed": failed, "images": json.loads(images),
            "title": title["result"]["value"]}  # fmt: skip


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    from helpers.report_cases import NASTY, make_case
    from spectral_fast.analysis.pipeline import Finding, analyze
    from spectral_fast.render.folders import write_report

    tmp = tmp_path_factory.mktemp("browser")
    prof, preds, _ = make_case(tmp, n=120)
    rep = analyze(prof, preds, [Finding("y", score_col="p"), Finding("y2", pred_col="hat2")], id_col="image",
                  n_clusters=5, n_boot=50, n_perm=99)  # fmt: skip
    saved = [NASTY] + [i for i in prof["id"].head(2).to_list() if i != NASTY]  # the files make_case wrote
    rep.descriptions[0]["exemplars"] = saved
    return write_report(rep, tmp / "out", image_root=tmp / "imgs")["html"]


def test_report_loads_offline_without_errors_and_images_render(report_page):
    page = load_page(report_page)
    assert page["title"] == "spectral_fast blind-spot report"
    external = [u for u in page["requests"] if not u.startswith(ALLOWED_SCHEMES)]
    assert external == [], f"the report requested the network: {external}"
    assert page["errors"] == [], page["errors"]
    assert page["failed"] == [], page["failed"]
    assert len(page["images"]) >= 7  # 2 findings x (rates + map) + spectra + 2-3 thumbnails
    broken = [i for i, (complete, w, h) in enumerate(page["images"]) if not (complete and w > 0 and h > 0)]
    assert broken == [], f"images that did not render: {broken}"


def test_escaped_id_is_text_not_markup(report_page):
    html = report_page.read_text()
    assert "site&lt;1&gt;/a&amp;b &quot;q&quot; &#x27;x&#x27;.png" in html
    page = load_page(report_page)
    assert page["errors"] == []


def test_harness_catches_network_use(tmp_path):
    """Negative control: a page that fetches from the network and throws must be caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<img src="http://example.invalid/x.png"><script>throw new Error("boom")</script></body></html>'
    )
    page = load_page(bad)
    assert any(u.startswith("http://example.invalid") for u in page["requests"])
    assert page["errors"], "the uncaught exception must be reported"
    assert any(not (c and w > 0) for c, w, _ in page["images"])
