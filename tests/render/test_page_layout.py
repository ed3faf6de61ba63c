"""The report and monitor pages at a glance: verdict and blind-spot cards above the fold, exemplars, no errors.

Run in headless Chromium at 1400 x 900 (:data:`helpers.browser.VIEWPORT`):
the verdicts and every blind spot's card heading and error rate must be
visible without scrolling, each card must show its exemplar thumbnails
beside typical images of the rest, the detail sections start collapsed, and
the pages load offline without console errors. The notebook fragment of the
same report is checked for the same cards.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from helpers.browser import ALLOWED_SCHEMES, CHROMIUM, LAYOUT_JS, VIEWPORT, load_page
from helpers.report_cases import make_case

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)"),
]


def _write_images(root, ids, seed=0):
    """A small PNG for every id; blurred-slice images are smoother, so the thumbnails differ like the profiles."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for image_id in ids:
        path = root / image_id
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    import spectral_fast as sf

    tmp = tmp_path_factory.mktemp("layout")
    prof, preds, _ = make_case(None, n=150, seed=3)
    _write_images(tmp / "imgs", prof["id"].to_list())
    rep = sf.analyze(prof, preds, [sf.Finding("y", score_col="p")], id_col="image", n_clusters=5, n_boot=50,
                     n_perm=99)  # fmt: skip
    assert rep.blind_spots.height >= 1, "the planted slice must give a blind spot for this test to mean anything"
    report_html = sf.write_report(rep, tmp / "report", image_root=tmp / "imgs")["html"]
    batch = prof.filter(pl.col("band_25") < pl.col("band_25").median())  # a shifted batch: one half of the spectra
    result = sf.monitor(tmp / "report", batch)
    monitor_html = sf.write_monitor(result, tmp / "monitor", image_root=tmp / "imgs", model_dir=tmp / "report")["html"]
    return rep, result, report_html, monitor_html


def _clean(page):
    external = [u for u in page["requests"] if not u.startswith(ALLOWED_SCHEMES)]
    assert external == [], f"the page requested the network: {external}"
    assert page["errors"] == [], page["errors"]
    assert page["failed"] == [], page["failed"]
    broken = [i for i, (complete, w, h) in enumerate(page["images"]) if not (complete and w > 0 and h > 0)]
    assert broken == [], f"images that did not render: {broken}"


def test_report_verdict_and_cards_above_the_fold(pages):
    rep, _, report_html, _ = pages
    page = load_page(report_html, LAYOUT_JS)
    _clean(page)
    layout = page["value"]
    assert layout["verdicts"], "no verdict on the page"
    assert layout["verdicts"][0]["top"] < 200
    assert all(v["bottom"] <= VIEWPORT[1] for v in layout["verdicts"])
    assert len(layout["cards"]) == rep.blind_spots.height
    for card in layout["cards"]:
        assert card["head"]["top"] >= 0 and card["rates"]["bottom"] <= VIEWPORT[1], card
        assert card["box"]["right"] <= VIEWPORT[0]
        assert card["spot_images"] >= 6, card  # exemplars of the blind spot ...
        assert card["rest_images"] >= 3, card  # ... beside typical images of the rest
    assert layout["details"] and not any(layout["details"]), "the per-cluster detail must start collapsed"


def test_report_leads_with_the_label_and_the_plain_verdict(pages):
    _, _, report_html, _ = pages
    text = report_html.read_text()
    verdict = text.index('class="verdict')
    assert text.index('<div class="title">y</div>') > verdict
    assert "The model errs" in text and "more often on 1 group of images" in text
    assert text.index('class="card"') < text.index("<details")  # cards first, detail below


def test_monitor_verdict_above_the_fold_with_thumbnails(pages):
    _, result, _, monitor_html = pages
    page = load_page(monitor_html, LAYOUT_JS)
    _clean(page)
    layout = page["value"]
    assert layout["verdicts"] and layout["verdicts"][0]["bottom"] <= VIEWPORT[1]
    text = monitor_html.read_text()
    assert f"{result.summary['verdict'].upper()}:" in text
    assert "cycles/px" in text  # bands carry their frequency range
    assert text.count("<img") >= 8  # the farthest batch images and reference exemplars


def test_notebook_fragment_shows_the_same_cards(pages):
    rep, result, _, _ = pages
    html = rep._repr_html_()
    assert html.startswith("<style>") and 'class="sf"' in html
    assert html.count('class="card"') == rep.blind_spots.height
    assert "<html" not in html and "<body" not in html
    assert 'class="verdict' in result._repr_html_()
    assert 'class="verdict' in result.prediction._repr_html_()
