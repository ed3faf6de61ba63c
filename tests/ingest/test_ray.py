"""Ray Data engine on a local 2-CPU Ray instance: the same table as the local
profiler (real CXRs, error rows included), shards that combine to it, a worker
killed mid-run, threads sized to the task's CPUs, and clear errors.

One Ray session serves the whole module (start-up costs seconds). Skipped
when Ray is not installed (``pip install ".[ray]"``), except the test that the
missing extra gives a clear message.
"""

from __future__ import annotations

import os
import subprocess
import sys

# Keep Ray's sockets on 127.0.0.1: with this unset Ray binds the machine's
# network address, and test traffic must stay on the loopback interface.
# Must be set before Ray is imported (read into a module constant).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import archive_samples as S
from spectral_fast.cli import main
from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest.local import profile_archive, run_options
from spectral_fast.ingest.merge import combine_profiles

try:
    import ray
    import ray.data

    RAY_MISSING = None
except ImportError as exc:  # pragma: no cover - CI installs the extra
    ray = None
    RAY_MISSING = f"Ray Data is not installed ({exc}); install the extra: pip install '.[ray]'"

needs_ray = pytest.mark.skipif(RAY_MISSING is not None, reason=RAY_MISSING or "")
_skip_without_data = pytest.mark.skipif(not S.REAL.is_dir(), reason=f"real CXRs not found at {S.REAL}")


def needs_data(test):
    return pytest.mark.real_data(_skip_without_data(test))


pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_session():
    if RAY_MISSING:
        pytest.skip(RAY_MISSING)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_real(tmp_path_factory):
    """The local profiler's table of the whole real-CXR folder (200 images + README and CSV: 2 error rows)."""
    out = tmp_path_factory.mktemp("local") / "local.parquet"
    profile_archive(S.REAL, out, threads=2)
    return out


def _read(path) -> pl.DataFrame:
    return pl.read_parquet(path)


@needs_ray
@needs_data
def test_cli_engine_ray_writes_the_local_file(ray_session, local_real, tmp_path, capsys):
    out = tmp_path / "ray.parquet"
    assert main(["profile", str(S.REAL), "-o", str(out), "--engine", "ray", "--quiet"]) == 0
    local, remote = _read(local_real), _read(out)
    assert remote.height == 202
    assert remote.equals(local)  # same rows, ids, values, errors and order
    assert pq.read_schema(out).equals(pq.read_schema(local_real), check_metadata=True)
    assert run_options(out) == run_options(local_real)
    errors = remote.filter(pl.col("status") == "error")
    assert sorted(errors["id"].to_list()) == ["README.md", "metadata.csv"]
    assert set(errors["error_kind"]) == {"not_an_image"}
    assert not (tmp_path / "ray.parquet.parts").exists()
    assert "Starting execution" not in capsys.readouterr().err  # Ray Data's chatter stays in its logs


@needs_ray
@needs_data
def test_read_binary_files_shards_combine_to_the_local_table(ray_session, local_real, tmp_path):
    import spectral_fast.ingest.ray as sfr

    ds = ray.data.read_binary_files(str(S.REAL), include_paths=True)
    files = sfr.write_profiles(ds, tmp_path / "shards", root=S.REAL, batch_size=32)
    assert len(files) > 1
    local = _read(local_real)
    for f in files:  # every shard says how it was made
        assert run_options(f) == run_options(local_real)
    assert combine_profiles(tmp_path / "shards").equals(local.sort("id"))
    with pytest.raises(InvalidInputError, match="already holds"):
        sfr.write_profiles(ds, tmp_path / "shards", root=S.REAL)


@needs_ray
@needs_data
def test_paths_are_planned_like_the_local_cli(ray_session, tmp_path):
    """A list of files and a glob, as the CLI takes them: the local run's ids and rows."""
    import spectral_fast.ingest.ray as sfr

    files = [str(p) for p in sorted(S.REAL_IMAGES.glob("mhh__*.png"))[:6]]
    inputs = [*files, str(S.REAL_IMAGES / "siim__*.dcm")]
    profile_archive(inputs, tmp_path / "local.parquet", threads=2)
    local = _read(tmp_path / "local.parquet")
    assert local.height == 8 and local["id"].to_list()[0] == "mhh__" + files[0].split("mhh__")[1]
    shards = sfr.write_profiles(inputs, tmp_path / "shards", batch_size=3)
    assert len(shards) > 1
    assert combine_profiles(shards).equals(local.sort("id"))
    with pytest.raises(InvalidInputError, match="root applies to Ray Dataset inputs"):
        sfr.profile_dataset(inputs, root=S.REAL_IMAGES)


@needs_ray
@needs_data
def test_parquet_inputs_by_dataset_and_by_path(ray_session, tmp_path):
    import spectral_fast.ingest.ray as sfr

    names = sorted(p.name for p in S.REAL_IMAGES.iterdir())[::5]
    table = pa.table(
        {
            "key": [f"img-{n}" for n in names] + ["broken"],
            "data": [(S.REAL_IMAGES / n).read_bytes() for n in names] + [b"\x89PNG\r\n\x1a\n garbage"],
        }
    )
    src = tmp_path / "images.parquet"
    pq.write_table(table, src, row_group_size=7)
    local_out = tmp_path / "local.parquet"
    cols = dict(id_column="key", bytes_column="data", exclude=["img-mhh__1*"])
    profile_archive(src, local_out, threads=2, **cols)
    local = _read(local_out)
    assert local.height < table.num_rows and local.filter(pl.col("id") == "broken")["status"][0] == "error"

    # The path, planned as the local CLI plans it (include/exclude on the driver).
    ray_out = tmp_path / "ray.parquet"
    profile_archive(src, ray_out, engine="ray", batch_size=8, **cols)
    assert _read(ray_out).equals(local)

    # A Dataset from read_parquet, columns named explicitly.
    ds = ray.data.read_parquet(str(src))
    rows = sfr.profile_dataset(ds, **cols).take_all()
    got = pl.DataFrame(rows).select(local.columns).sort("id")
    assert got.equals(local.sort("id"))


@needs_ray
def test_error_rows_are_carried_through(ray_session, tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    good = S.png(S.phantom(40, 48, seed=1))
    files = {
        "good.png": good,
        "truncated.png": good[: len(good) // 2],
        "empty.png": b"",
        "notes.txt": b"not an image",
        "big.png": S.png_header(60_000, 60_000),
        "scan.dcm": S.dicom(S.phantom(32, 32, maximum=4095, dtype="uint16", seed=3), bits_stored=12),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "folder.png").mkdir()
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([*(str(root / n) for n in files), str(root / "folder.png"), str(root / "gone.png")]))

    local_out, ray_out = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    local_summary = profile_archive(listing, local_out, threads=2, max_pixels=10_000_000)
    ray_summary = profile_archive(listing, ray_out, engine="ray", batch_size=3, max_pixels=10_000_000)
    local, remote = _read(local_out), _read(ray_out)
    assert remote.equals(local)
    assert ray_summary.error_kinds == local_summary.error_kinds
    kinds = dict(zip(remote["id"].to_list(), remote["error_kind"].to_list()))
    assert kinds["archive/good.png"] is None and kinds["archive/scan.dcm"] is None
    assert kinds["archive/gone.png"] == kinds["archive/folder.png"] == "unreadable"
    assert kinds["archive/notes.txt"] == "not_an_image"
    assert kinds["archive/big.png"] == "too_large"
    assert kinds["archive/truncated.png"] is not None and kinds["archive/empty.png"] is not None


def _kill_first_time(table: pa.Table, *, marker: str, victim: str) -> pa.Table:
    """Kill this Ray worker process the first time it holds ``victim``'s row."""
    if victim in table.column("id").to_pylist() and not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
        os._exit(1)  # no cleanup, no exception: as if the OOM killer struck
    return table


@needs_ray
@needs_data
def test_worker_killed_mid_run_still_gives_the_complete_table(ray_session, local_real, tmp_path):
    import spectral_fast.ingest.ray as sfr

    marker = tmp_path / "killed"
    local = _read(local_real).filter(pl.col("id").str.starts_with("images/"))
    victim = local["id"].sort()[100]  # mid-run

    # Workers cannot import this test module: ship the killer by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ds = ray.data.read_binary_files(str(S.REAL_IMAGES), include_paths=True)
    # The kill comes after the batch was profiled, in the same task when Ray
    # fuses the two maps: that work is lost and must be redone by the retry.
    profiled = sfr.profile_dataset(ds, root=S.REAL, batch_size=16).map_batches(
        _kill_first_time, batch_format="pyarrow", fn_kwargs={"marker": str(marker), "victim": victim}
    )
    profiled.write_parquet(str(tmp_path / "shards"))
    assert marker.exists(), "the worker was never killed: the test did not test anything"
    assert combine_profiles(tmp_path / "shards").equals(local.sort("id"))


@needs_ray
def test_core_threads_follow_the_cpus_ray_assigned(ray_session):
    from spectral_fast.ingest.ray import worker_threads

    def threads_with(num_cpus: float) -> int:
        return ray.get(ray.remote(num_cpus=num_cpus)(worker_threads).remote())

    # The machine has 2 cores: a 1-CPU task must still run 1 thread, not 2.
    assert threads_with(1) == 1
    assert threads_with(2) == 2
    assert threads_with(0.5) == 1
    assert worker_threads() == 1  # the driver is not a Ray worker


@needs_ray
@needs_data
def test_resume_a_local_run_on_ray(ray_session, local_real, tmp_path):
    out = tmp_path / "p.parquet"
    profile_archive(S.REAL, out, threads=2, include=["images/nih__*"])
    summary = profile_archive(S.REAL, out, engine="ray", resume=True)
    local = _read(local_real)
    first = local.filter(pl.col("id").str.starts_with("images/nih__")).height
    assert 0 < first < local.height
    assert (summary.skipped, summary.processed) == (first, local.height - first)
    assert _read(out).sort("id").equals(local.sort("id"))


@needs_ray
def test_invalid_calls_fail_before_any_work(ray_session, tmp_path):
    import spectral_fast.ingest.ray as sfr

    ds = ray.data.from_items([{"id": "a", "bytes": b"x"}])
    with pytest.raises(InvalidInputError, match="bands"):
        sfr.profile_dataset(ds, bands=0)
    with pytest.raises(InvalidInputError, match="num_cpus"):
        sfr.profile_dataset(ds, num_cpus=0)
    with pytest.raises(InvalidInputError, match="encoded images"):
        sfr.profile_dataset(ray.data.from_items([{"id": "a", "x": 1}]))
    with pytest.raises(InvalidInputError, match="engine must be 'local' or 'ray'"):
        profile_archive(tmp_path, tmp_path / "o.parquet", engine="spark")
    with pytest.raises(InvalidInputError, match="address applies to engine='ray'"):
        profile_archive(tmp_path, tmp_path / "o.parquet", address="auto")
    assert not (tmp_path / "o.parquet").exists()


def test_missing_extra_gives_the_install_command(tmp_path):
    """Without Ray, engine='ray' is a one-line user error naming the extra (run where Ray is hidden)."""
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from spectral_fast.cli import main\n"
        f"sys.exit(main(['profile', {str(tmp_path)!r}, '-o', {str(tmp_path / 'o.parquet')!r}, '--engine', 'ray']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'spectral-fast[ray]'" in proc.stderr
    assert not (tmp_path / "o.parquet").exists()


@needs_ray
@pytest.mark.slow
def test_benchmark_quick_run(tmp_path):
    """benches/bench_ray.py --quick runs, checks identity and writes its files (no timing asserted)."""
    import json
    from pathlib import Path

    bench = Path(__file__).resolve().parents[2] / "benches" / "bench_ray.py"
    cmd = [sys.executable, str(bench), "--quick", "--out-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((tmp_path / "ray.json").read_text())
    (result,) = doc["results"].values()
    assert result["identical"] == {"ray_cli_1cpu": True, "ray_cli_2cpu": True, "ray_shards": True}
    assert result["overhead"]["local_t2"] == 1.0 and all(v > 0 for v in result["overhead"].values())
    assert doc["cold_start"]["ray_init_s"] > 0
    assert "overhead vs local" in (tmp_path / "ray.md").read_text()


@needs_ray
@needs_data
def test_no_artefacts_and_retry_errors_on_ray(ray_session, tmp_path):
    """A --no-artefacts run with a truncated file, resumed on Ray with --retry-errors after the file is repaired."""
    import spectral_fast.ingest.ray as sfr

    root = tmp_path / "images"
    root.mkdir()
    for f in sorted(S.REAL_IMAGES.glob("nih__*.png"))[:5]:
        (root / f.name).symlink_to(f)
    whole = sorted(S.REAL_IMAGES.glob("mhh__*.png"))[0].read_bytes()
    (root / "repaired.png").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "p.parquet"
    profile_archive(root, out, threads=2, artefacts=False)
    assert _read(out).filter(pl.col("status") == "error")["id"].to_list() == ["repaired.png"]
    (root / "repaired.png").write_bytes(whole)
    summary = profile_archive(root, out, engine="ray", resume=True, retry_errors=True, artefacts=False)
    assert (summary.retried, summary.skipped, summary.ok, summary.errors) == (1, 5, 1, 0)
    fresh = tmp_path / "fresh.parquet"
    profile_archive(root, fresh, threads=2, artefacts=False)
    assert _read(out).sort("id").equals(_read(fresh).sort("id"))
    assert run_options(out) == run_options(fresh) and run_options(out)["options"]["artefacts"] is False
    files = sfr.write_profiles(root, tmp_path / "shards", artefacts=False)
    assert all(run_options(f) == run_options(fresh) for f in files)
    assert combine_profiles(tmp_path / "shards").equals(_read(fresh).sort("id"))
