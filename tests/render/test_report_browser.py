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

import pytest

from helpers.browser import ALLOWED_SCHEMES, CHROMIUM, load_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
]


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
