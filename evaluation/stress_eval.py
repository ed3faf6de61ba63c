"""Stress tests, measured: does the counterfactual tell acquisition blind spots from population ones?

Three targets (issue 20; protocol in docs/method.md#stress-tests):

(a) **Demo, planted shifts.** Per seed, the demo (:func:`spectral_fast.demo.run_demo`,
    small n) plants blur, noise and sharpening slices in the test set and trains
    its classifier on clean images. For each planted shift, the counterfactual is
    run on the report's blind spot holding most of it, and on the slice itself
    (the images recorded with that setting): target, "acquisition explains" in
    every seed, the random-ratio control not.
(b) **Population spot.** On the same seed's clean test images, a random 15 %
    subset gets half its labels flipped (errors raised by label mix, no
    spectral cause): target, "not the spectra" in at least 4 of 5 seeds.
(c) **Real images, real model.** The real-world evaluation's ``site_shortcut``
    texture classifier (logistic regression on thumbnail and texture
    statistics; trained on MHH covid vs NIH normal patients), refitted on the
    images as the stress run reads them (256 px), as a ScoreModel; its
    sensitivity spectrum on held-out patients is published.

Run from the repository root::

    python evaluation/stress_eval.py                     # seeds 0-4, n = 600, and the real model
    python evaluation/stress_eval.py --seeds 0 --no-real --no-docs   # smoke

Seeds can run in separate processes (``--seeds 0 1 --no-real --no-docs`` and
``--seeds 2 3 4 --no-real --no-docs``); a last ``--seeds`` call (no seed)
assembles every part found in ``--work``.

Results: ``evaluation/results/stress.{json,md}``, figures in
``evaluation/results/stress_*.png``, a dated section of docs/evaluations.md.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from spectral_fast.stress.counterfactual import MAX_IMAGES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

DATE = "2026-12-06"
RESULTS = ROOT / "evaluation" / "results"
#: Share of the clean test images made the population spot of target (b), and share of its labels flipped.
POPULATION_SHARE, FLIP_SHARE = 0.15, 0.5
#: Band gains of the real model's sensitivity spectrum (the strongest of the default four, to keep the run short).
REAL_GAINS = (0.25, 4.0)


class DemoModel:
    """The demo's classifier as a ScoreModel: (N, H, W) float32 grey levels -> calibrated probability."""

    def __init__(self, clf):
        self.clf = clf

    def __call__(self, images: np.ndarray) -> np.ndarray:
        from spectral_fast.demo.classifier import candidate_features

        u8 = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        return self.clf.predict_proba([candidate_features(im)[0] for im in u8])


class TextureModel:
    """The real-world evaluation's texture logistic regression as a ScoreModel (8-bit grey levels in)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def __call__(self, images: np.ndarray) -> np.ndarray:
        from real_world import texture_features

        u8 = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        return self.pipeline.predict_proba(np.stack([texture_features(im) for im in u8]))[:, 1]


def _demo_with_classifier(out: Path, n: int, seed: int):
    """Run the demo and keep its trained classifier (``run_demo`` returns only what it found).

    A demo folder already complete (a previous call's) is reused with the
    classifier it saved (retrained from the same plan and seed, which gives the
    same model, when an older folder has none), without making the test images
    and the report again.
    """
    import spectral_fast.demo.run as demo_run

    if (out / "report" / "blind_spots.csv").is_file() and (out / "truth.csv").is_file():
        return _reused_demo(out, n, seed)
    kept = {}
    train = demo_run.train_classifier

    def keep(*args, **kwargs):
        kept["clf"] = train(*args, **kwargs)
        return kept["clf"]

    demo_run.train_classifier = keep
    try:
        result = demo_run.run_demo(out, n=n, seed=seed, quiet=True, workers=2)
    finally:
        demo_run.train_classifier = train
    return result, DemoModel(kept["clf"])


def _reused_demo(out: Path, n: int, seed: int):
    """What :func:`_demo_with_classifier` returns, from a finished demo folder (classifier retrained)."""
    from types import SimpleNamespace

    import polars as pl

    from spectral_fast.demo.classifier import train_classifier
    from spectral_fast.demo.images import prepare_images
    from spectral_fast.demo.model import CLASSIFIER_FILE, load_classifier
    from spectral_fast.demo.plan import plan_dataset
    from spectral_fast.demo.records import read_report
    from spectral_fast.demo.truth import match_blind_spots, setting_errors

    specs = plan_dataset(n, seed)
    if (out / CLASSIFIER_FILE).is_file():  # the very model the demo saved
        clf = load_classifier(out / CLASSIFIER_FILE).classifier
    else:
        prepared = prepare_images([s for s in specs if s.split != "test"], out / "images", 2)
        fit = [(prepared[s.index][0], prepared[s.index][1]) for s in specs if s.split == "fit"]
        cal = [(prepared[s.index][0], int(s.finding is not None)) for s in specs if s.split == "calibrate"]
        clf = train_classifier(fit, cal, seed)
    test = [s for s in specs if s.split == "test"]
    pred = pl.read_csv(out / "predictions.csv")
    score = dict(zip(pred["image"], pred["score"]))
    labels = np.array([int(s.finding is not None) for s in test])
    settings = setting_errors(test, labels, np.array([score[s.name] for s in test]))
    spots, cluster_of = read_report(out / "report")
    _, planted, _ = match_blind_spots(spots, cluster_of, {s.name: s.setting for s in test})
    return SimpleNamespace(planted=planted, settings=settings), DemoModel(clf)


def _verdicts(res: dict) -> dict:
    return {
        "verdict": res["verdict"], "control_verdict": res["control"]["verdict"], "gap": round(res["gap"], 4),
        "n_inside": res["n_inside"], "inverse_ill_posed": res["inverse_ill_posed"],
        "rise_outside": [round(v, 4) for v in res["spot"]["rise_outside"]],
        "fall_inside": [round(v, 4) for v in res["spot"]["fall_inside"]],
        "excess_outside": [round(v, 4) for v in res["spot"]["excess_outside"]],
        "null_rise_outside": [round(v, 4) for v in res["null"]["rise_outside"]],
        "control_rise_outside": [round(v, 4) for v in res["control"]["rise_outside"]],
        "control_excess_outside": [round(v, 4) for v in res["control"]["excess_outside"]],
        "control_fall_inside": [round(v, 4) for v in res["control"]["fall_inside"]],
    }  # fmt: skip


def demo_seed(seed: int, n: int, work: Path, max_images: int) -> dict:
    """Targets (a) and (b) on one demo seed."""
    from spectral_fast.demo.plan import SHIFTS
    from spectral_fast.stress.counterfactual import counterfactual, spot_log_gain
    from spectral_fast.stress.inputs import labels_for, load_images, read_table
    from spectral_fast.stress.metrics import score_images
    from spectral_fast.stress.run import _spot_bands, run_stress

    t0 = time.perf_counter()
    out = work / f"demo{seed}"
    result, model = _demo_with_classifier(out, n, seed)
    data = load_images(out / "images")
    labels = labels_for(read_table(out / "predictions.csv"), data.ids, "image", "finding")
    with open(out / "truth.csv", newline="") as fh:
        setting = {r["image"]: r["setting"] for r in csv.DictReader(fh)}
    settings = np.array([setting[i] for i in data.ids])
    base = score_images(model, data.images)
    common = {"threshold": 0.5, "base_scores": base, "max_images": max_images, "seed": seed}
    # (a) the report's blind spots, through the public API (labels from the predictions file)
    stress = run_stress(
        model, data, labels, report=out / "report", run_sensitivity=False, max_images=max_images, seed=seed
    )
    by_rank = {s["rank"]: s for s in stress.spots}
    planted = {}
    bands, edges = _spot_bands(data.images, {}, None)
    for shift in SHIFTS:
        held = next((p for p in result.planted if p["setting"] == shift), None)
        spot = by_rank.get(held["rank"]) if held and held["rank"] is not None else None
        inside, clean = settings == shift, settings == "clean"
        centres, gain, weights = spot_log_gain(bands, inside, edges, clean)
        sl = counterfactual(model, data.images, labels, inside, centres, gain, weights, reference=clean, **common)
        planted[shift] = {
            "report_spot": None if spot is None else {"rank": spot["rank"], "precision": round(held["precision"], 3),
                                                      "recall": round(held["recall"], 3), **_verdicts(spot)},
            "slice": _verdicts(sl),
        }  # fmt: skip
    # (b) a population spot: clean images, a random subset with half its labels flipped
    rng = np.random.default_rng(1000 + seed)
    clean = np.flatnonzero(settings == "clean")
    chosen = rng.choice(clean, size=int(round(POPULATION_SHARE * len(clean))), replace=False)
    flipped = labels.copy()
    flip = rng.choice(chosen, size=int(round(FLIP_SHARE * len(chosen))), replace=False)
    flipped[flip] = 1 - flipped[flip]
    inside = np.isin(clean, chosen)
    centres, gain, weights = spot_log_gain(bands[clean], inside, edges)
    pop = counterfactual(model, data.images[clean], flipped[clean], inside, centres, gain, weights,
                         **{**common, "base_scores": base[clean]})  # fmt: skip
    return {"seed": seed, "n": n, "max_images": max_images, "seconds": round(time.perf_counter() - t0, 1),
            "error_by_setting": {r["setting"]: round(r["error_rate"], 4) for r in result.settings},
            "planted": planted, "population": _verdicts(pop),
            "report_spots": [{"rank": s["rank"], **_verdicts(s)} for s in stress.spots]}  # fmt: skip


def real_model(work: Path, n_test: int) -> dict:
    """Target (c): the site_shortcut texture classifier's sensitivity spectrum on held-out patients."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from real_world import DATA, load_metadata, scenario_masks, texture_features
    from spectral_fast.render.stress_plots import plot_sensitivity_spectrum, plot_strength
    from spectral_fast.stress.inputs import ImageSet, load_images
    from spectral_fast.stress.run import run_stress
    from spectral_fast.stress.sensitivity import plan_changes, spectrum_summary

    t0 = time.perf_counter()
    meta = load_metadata()
    train, test = scenario_masks(meta, "site_shortcut", 0)
    stacks = []
    for folder in sorted(set(meta["folder"].to_list())):
        ids = meta.filter(meta["folder"] == folder)["file"].to_list()
        stacks.append((ids, load_images(DATA / folder, size=256, ids=ids).images))
    where = {(f, i): k for k, (f, i) in enumerate(zip(meta["folder"], meta["file"]))}
    images = np.empty((meta.height, 256, 256), dtype=np.float32)
    for folder, (ids, stack) in zip(sorted(set(meta["folder"].to_list())), stacks):
        for i, im in zip(ids, stack):
            images[where[(folder, i)]] = im
    label = meta["label"].to_numpy()
    x = np.stack([texture_features(np.clip(np.rint(im), 0, 255).astype(np.uint8)) for im in images[train]])
    model = TextureModel(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=5000)).fit(x, label[train])
    )
    rng = np.random.default_rng(0)
    test_idx = np.sort(rng.choice(np.flatnonzero(test), size=min(n_test, int(test.sum())), replace=False))
    data = ImageSet(images[test_idx], [meta["id"][int(i)] for i in test_idx], np.dtype(np.uint8))
    changes = plan_changes(256, 256, band_gains=REAL_GAINS)
    stress = run_stress(model, data, label[test_idx], changes=changes, seed=0, out=work / "real")
    table = stress.sensitivity
    base = stress.meta["base_accuracy"]
    for name, uri in (("spectrum", plot_sensitivity_spectrum(table, base, "site_shortcut texture classifier, 256 px")),
                      ("strength", plot_strength(table, base))):  # fmt: skip
        (RESULTS / f"stress_real_{name}.png").write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    return {
        "scenario": "site_shortcut", "n_train": int(train.sum()), "n_test": len(test_idx), "size": 256,
        "base_accuracy": round(base, 4), "seconds": round(time.perf_counter() - t0, 1),
        "spectrum": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                     for r in spectrum_summary(table)],
        "acquisition": acquisition_rows(table),
    }  # fmt: skip


def acquisition_rows(table) -> list[dict]:
    """The simulator rungs of a sensitivity table: accuracy, its paired change with interval, flips, score shift."""
    acq = table.filter(table["family"] == "acquisition")
    keys = ("accuracy", "accuracy_change", "accuracy_change_low", "accuracy_change_high", "flip_rate", "score_shift")
    return [{"change": r["change"], "strength": r["strength"], **{k: round(r[k], 4) for k in keys}}
            for r in acq.iter_rows(named=True)]  # fmt: skip


def reading(real: dict) -> str:
    """What the real model's sensitivity spectrum says, in sentences computed from its numbers."""
    bands, acq = real["spectrum"], real["acquisition"]
    sig = [b for b in bands if b["significant"]]
    top = max(bands, key=lambda b: b["flip_rate"])
    acq_sig = [a for a in acq if a["accuracy_change_high"] < 0 or a["accuracy_change_low"] > 0]
    acq_top = max(acq, key=lambda a: a["flip_rate"])
    out = [f"{len(sig)} of {len(bands)} band changes move the accuracy significantly"
           + (": " + ", ".join(f"{b['strength']:g}x at {b['centre']:.3g} cycles/px ({b['accuracy_change']:+.2f})"
                               for b in sig) if sig else "") + ".",
           f"The band change that flips most decisions is {top['strength']:g}x at {top['centre']:.3g} cycles/px: "
           f"{top['flip_rate']:.0%} flipped, mean score {top['score_shift']:+.3f}.",
           f"Of the simulator's changes, {len(acq_sig)} of {len(acq)} rungs move the accuracy significantly"
           + (": " + ", ".join(f"{a['change']} {a['strength']:g} ({a['accuracy_change']:+.2f})" for a in acq_sig)
              if acq_sig else "") + "; "
           f"the most decisions flip under {acq_top['change']} {acq_top['strength']:g} ({acq_top['flip_rate']:.0%}, "
           f"mean score {acq_top['score_shift']:+.3f})."]  # fmt: skip
    return " ".join(out)


EXPLAINS = "acquisition explains this blind spot"
NOT_SPECTRA = "not the spectra: look at the population"


def targets(demo: list[dict]) -> dict:
    """Pass/fail of targets (a) and (b) over the seeds."""
    shifts = list(demo[0]["planted"])
    per_shift = {}
    for s in shifts:
        sl = [d["planted"][s]["slice"] for d in demo]
        rep = [d["planted"][s]["report_spot"] for d in demo]
        per_shift[s] = {
            "slice_explains": sum(v["verdict"] == EXPLAINS for v in sl),
            "slice_control_explains": sum(v["control_verdict"] == EXPLAINS for v in sl),
            "report_spot_found": sum(r is not None for r in rep),
            "report_spot_explains": sum(r is not None and r["verdict"] == EXPLAINS for r in rep),
            "report_spot_control_explains": sum(r is not None and r["control_verdict"] == EXPLAINS for r in rep),
        }
    n = len(demo)
    pop = sum(d["population"]["verdict"] == NOT_SPECTRA for d in demo)
    return {
        "seeds": n,
        "per_shift": per_shift,
        "a_met": all(v["slice_explains"] == n and v["slice_control_explains"] == 0 for v in per_shift.values()),
        "population_not_spectra": pop,
        "b_met": pop >= min(4, n) if n >= 5 else pop == n,
    }


def _iv(v: list[float]) -> str:
    return f"{v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]"


def markdown(result: dict) -> str:
    t = result["targets"]
    lines = [f"Seeds {', '.join(str(d['seed']) for d in result['demo'])}; demo n = {result['n']}; at most "
             f"{result['demo'][0].get('max_images', 100)} images per side of a counterfactual; "
             f"{result['seconds']:.0f} s in all.", "",
             "**(a) Planted shifts** (verdict on the recorded slice; on the report's blind spot holding most of it):", "",
             "| shift | slice: explains | slice control: explains | report spot found | spot: explains | spot control: explains |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    n = t["seeds"]
    if n < 5:
        lines[1:1] = ["", f"**Partial run: {n} of the 5 seeds the targets are stated over** (the rest: "
                      "`python evaluation/stress_eval.py --seeds ... --no-real --no-docs`, then assemble). "
                      "\"Met\" below is over these seeds only.", ""]  # fmt: skip
    for s, v in t["per_shift"].items():
        lines.append(f"| {s} | {v['slice_explains']}/{n} | {v['slice_control_explains']}/{n} | "
                     f"{v['report_spot_found']}/{n} | {v['report_spot_explains']}/{v['report_spot_found']} | "
                     f"{v['report_spot_control_explains']}/{v['report_spot_found']} |")  # fmt: skip
    lines += ["", f"Target (a) {'met' if t['a_met'] else 'NOT met'}. Per seed (error rise outside, fall inside, "
              "with 95 % intervals; gap = the slice's excess error):", "",
              "Excess = rise minus the null's (the mean of random changes of the same pixel size), paired per "
              "image; fall inside in brackets when ill-posed (not used).", "",
              "| seed | shift | gap | rise outside | excess over null | fall inside | verdict | control rise outside "
              "| control excess | control verdict |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for d in result["demo"]:
        for s, v in d["planted"].items():
            sl = v["slice"]
            fall = f"({_iv(sl['fall_inside'])})" if sl.get("inverse_ill_posed") else _iv(sl["fall_inside"])
            lines.append(f"| {d['seed']} | {s} | {sl['gap']:.3f} | {_iv(sl['rise_outside'])} "
                         f"| {_iv(sl['excess_outside'])} | {fall} | {sl['verdict']} "
                         f"| {_iv(sl['control_rise_outside'])} | {_iv(sl['control_excess_outside'])} "
                         f"| {sl['control_verdict']} |")  # fmt: skip
    lines += ["", f"**(b) Population spot** (random {POPULATION_SHARE:.0%} of clean test images, {FLIP_SHARE:.0%} of "
              f"their labels flipped): \"not the spectra\" in {t['population_not_spectra']}/{n} seeds; target "
              f"{'met' if t['b_met'] else 'NOT met'}.", "",
              "| seed | gap | rise outside | fall inside | verdict |", "|---|---|---|---|---|"]  # fmt: skip
    for d in result["demo"]:
        p = d["population"]
        lines.append(
            f"| {d['seed']} | {p['gap']:.3f} | {_iv(p['rise_outside'])} | {_iv(p['fall_inside'])} | {p['verdict']} |"
        )
    real = result.get("real")
    if real:
        lines += ["", f"**(c) Real images, real model**: {real['scenario']} texture classifier, trained on "
                  f"{real['n_train']} images, stressed on {real['n_test']} held-out patients' images at "
                  f"{real['size']} px; unchanged accuracy {real['base_accuracy']:.3f}.", "",
                  "![sensitivity spectrum](../evaluation/results/stress_real_spectrum.png)", "",
                  "| octave centre (cycles/px) | gain | accuracy change [95 % CI] | flip rate | mean score shift |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for r in real["spectrum"]:
            mark = " *" if r["significant"] else ""
            lines.append(f"| {r['centre']:.4f} | {r['strength']:g}× | {r['accuracy_change']:+.3f} "
                         f"[{r['low']:+.3f}, {r['high']:+.3f}]{mark} | {r['flip_rate']:.3f} | {r['score_shift']:+.3f} |")  # fmt: skip
        lines += ["", "| acquisition change | strength | accuracy | accuracy change [95 % CI] | flip rate | "
                  "mean score shift |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in real["acquisition"]:
            mark = " *" if r["accuracy_change_high"] < 0 or r["accuracy_change_low"] > 0 else ""
            lines.append(f"| {r['change']} | {r['strength']:g} | {r['accuracy']:.3f} | {r['accuracy_change']:+.3f} "
                         f"[{r['accuracy_change_low']:+.3f}, {r['accuracy_change_high']:+.3f}]{mark} "
                         f"| {r['flip_rate']:.3f} | {r['score_shift']:+.3f} |")  # fmt: skip
        lines += [
            "",
            "![accuracy against strength](../evaluation/results/stress_real_strength.png)",
            "",
            f"What it says: {reading(real)}",
            "",
            "(* = paired 95 % interval of the change excludes 0.)",
        ]
    return "\n".join(lines) + "\n"


def publish(md: str, docs: Path) -> None:
    """Write (or replace) the ``## Stress tests`` section of docs/evaluations.md (before Known misses)."""
    text = docs.read_text()
    head = "## Stress tests"
    block = (f"{head}\n\n{DATE}. Command: `python evaluation/stress_eval.py`; protocol in its docstring, "
             f"method in [method.md](method.md#stress-tests).\n\n{md}")  # fmt: skip
    pattern = re.compile(re.escape(head) + r"\n.*?(?=\n## |\Z)", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block.rstrip("\n") + "\n", text, count=1)
    else:
        marker = "\n## Known misses"
        text = text.replace(marker, "\n" + block + marker, 1) if marker in text else text.rstrip("\n") + "\n\n" + block
    docs.write_text(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n", type=int, default=600, help="demo images per seed (training + test)")
    parser.add_argument(
        "--max-images",
        type=int,
        default=MAX_IMAGES,
        help=f"images per side of a counterfactual at most (default: the product's, {MAX_IMAGES}: all of a demo "
        "seed's 273 clean references; fewer keeps the run short and costs power)",
    )
    parser.add_argument("--real-images", type=int, default=100, help="held-out real images stressed in target (c)")
    parser.add_argument("--no-real", action="store_true", help="skip target (c)")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/evaluations.md")
    parser.add_argument("--work", default="/tmp/sf-stress-eval",
                        help="folder for the demo runs and each part's JSON (parts already there are reused, so "
                             "seeds can run in separate processes and a last call with --seeds and --no-real "
                             "assembles them)")  # fmt: skip
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    work = Path(args.work)
    parts = work / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        part = demo_seed(seed, args.n, work, args.max_images)
        (parts / f"seed{seed}.json").write_text(json.dumps(part, indent=2) + "\n")
        print(f"seed {seed}: {json.dumps({k: v['slice']['verdict'] for k, v in part['planted'].items()})}; "
              f"population: {part['population']['verdict']} ({part['seconds']} s)", file=sys.stderr)  # fmt: skip
    if not args.no_real:
        (parts / "real.json").write_text(json.dumps(real_model(work, args.real_images), indent=2) + "\n")
    demo = [json.loads(p.read_text()) for p in sorted(parts.glob("seed*.json"))]
    real = json.loads((parts / "real.json").read_text()) if (parts / "real.json").is_file() else None
    if not demo:
        print("no demo seed has run yet", file=sys.stderr)
        return 1
    result = {"date": DATE, "n": demo[0]["n"], "demo": demo, "targets": targets(demo), "real": real,
              "seconds": round(sum(d["seconds"] for d in demo) + (real["seconds"] if real else 0), 1),
              "this_call_seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stress.json").write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    (RESULTS / "stress.md").write_text(f"# Stress tests ({DATE})\n\n{md}")
    if not args.no_docs:
        publish(md, ROOT / "docs" / "evaluations.md")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
