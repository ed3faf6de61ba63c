"""Headless Chromium over the DevTools protocol, for the page tests of tests/render.

Chromium is driven through ``--remote-debugging-pipe`` (JSON messages on file
descriptors 3 and 4, NUL-separated), so no Python CDP package is needed. Any
network traffic is both blocked (proxy and resolver pointed at nothing) and
recorded (``Network.requestWillBeSent``); console errors, uncaught exceptions
and log errors are collected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
)

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


#: What a reader sees without scrolling on a laptop-size window.
VIEWPORT = (1400, 900)

#: Bounding boxes (viewport coordinates) of the page's verdicts and blind-spot cards, and each card's images.
LAYOUT_JS = """JSON.stringify({
  verdicts: Array.from(document.querySelectorAll('.verdict')).map(e => e.getBoundingClientRect().toJSON()),
  cards: Array.from(document.querySelectorAll('.card')).map(c => ({
    box: c.getBoundingClientRect().toJSON(),
    head: c.querySelector('h3').getBoundingClientRect().toJSON(),
    rates: c.querySelector('.rates').getBoundingClientRect().toJSON(),
    spot_images: c.querySelectorAll('.strip .imgs:not(.rest) img').length,
    rest_images: c.querySelectorAll('.strip .imgs.rest img').length})),
  details: Array.from(document.querySelectorAll('details')).map(d => d.open)
})"""


def load_page(path: Path, expression: str | None = None) -> dict:
    """Load a file in Chromium at :data:`VIEWPORT`; return requests, console errors, image states and ``expression``."""
    browser = Browser()
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
                     session=session)  # fmt: skip
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
        extra = None
        if expression:
            extra = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                 session=session)["result"].get("value")  # fmt: skip
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
            "title": title["result"]["value"], "value": json.loads(extra) if extra else None}  # fmt: skip
