"""Unsupervised clustering of spectral profiles (``docs/method.md#clustering``).

:class:`SpectralClusters` is a scikit-learn estimator: ``__init__`` stores
parameters only, ``fit`` returns ``self``, fitted attributes end in ``_``,
``random_state`` makes it deterministic. A fitted model is saved as a plain,
versioned JSON file plus an ``.npz`` of arrays (never pickle) and loaded back
with :meth:`SpectralClusters.load`, which refuses other format versions,
other package versions and tampered files.

Besides the flat partition it keeps a tree over the clusters (weighted Ward
agglomeration of the cluster centres). The failure analysis uses the tree to
report a blind spot as one cluster or as the union of sibling clusters, which
is what makes over-segmenting safe.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from spectral_fast._shared.frames import ACCEPTED, is_frame, to_polars
from spectral_fast._shared.progress import counted
from spectral_fast._shared.serialize import check_arrays, check_number, read_checksummed, write_checksummed
from spectral_fast._shared.stats import ARCHIVE_SCALE_N
from spectral_fast._version import __version__
from spectral_fast.analysis.cluster_tree import ward_tree
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.profiling.artefacts_oracle import FEATURE_NAMES as ARTEFACT_FEATURES
from spectral_fast.profiling.field_bands import FIELD_COLUMNS, FINE_COLUMNS, with_field_bands

FORMAT = "spectral_fast.clusters"
FORMAT_VERSION = 3  # 2: anatomy adjustment of the upper bands; 3: lower bands summarised (lower_bands)
#: Largest k the automatic choices consider.
MAX_K = 30
K_CHOICES = ("auto", "bic", "silhouette")
#: Elements of the (rows, clusters, features) difference :meth:`SpectralClusters.transform` holds at once.
TRANSFORM_BLOCK = 1 << 20
FREQUENCY_AXES = ("field", "pixel")


def fit_rows_of(n: int, max_fit_samples: int | None, random_state: int | None) -> np.ndarray | None:
    """Rows (sorted) a fit on ``n`` images uses: None for all of them, or a seeded sample of
    ``max_fit_samples`` when there are more (``docs/method.md#archive-scale``)."""
    if max_fit_samples is None or n <= max_fit_samples:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n, max_fit_samples, replace=False))


def auto_k(n: int) -> int:
    """Default number of clusters for ``n`` images: ``clip(round(sqrt(n / 2)), 2, 30)``.

    Deliberately over-segments (8 clusters for 122 images, 30 from 1800 on):
    the tree over clusters merges siblings back into one blind spot
    (``docs/method.md#clustering``; evidence in ``docs/evaluations.md``).
    """
    return int(min(MAX_K, max(2, round(math.sqrt(n / 2.0)))))


def feature_columns(columns: list[str], features: str | list[str] = "auto", frequency_axis: str = "pixel") -> list[str]:
    """The clustering features among ``columns``.

    ``"auto"``: the band columns plus the artefact features of
    :mod:`spectral_fast.profiling.artefacts_oracle` that are present. ``"bands"``:
    band columns only. A list: exactly those columns. The band columns are
    the size-invariant ``field_*`` and ``fine_*`` columns
    (:mod:`spectral_fast.profiling.field_bands`) when ``frequency_axis="field"``
    and the table has them, else every ``band_*`` column (cycles per pixel),
    in name order (``docs/method.md#clustering``).
    """
    bands = sorted(c for c in columns if c.startswith("band_"))
    if frequency_axis == "field" and all(c in columns for c in FIELD_COLUMNS + FINE_COLUMNS):
        bands = FIELD_COLUMNS + FINE_COLUMNS
    if isinstance(features, str):
        if features not in ("auto", "bands"):
            raise InvalidInputError(f"features must be 'auto', 'bands' or a list of columns, got {features!r}")
        if not bands:
            raise InvalidInputError(
                "the profile table has no band_* columns; pass features=[...] to name the columns to cluster on"
            )
        extra = [c for c in ARTEFACT_FEATURES if c in columns] if features == "auto" else []
        return bands + extra
    chosen = list(features)
    missing = [c for c in chosen if c not in columns]
    if not chosen or missing:
        raise InvalidInputError(f"features: columns {missing or chosen} not in the profile table")
    return chosen


def _is_band(name: str) -> bool:
    """A frequency-band feature (pixel-axis ``band_*`` or size-invariant ``field_*`` / ``fine_*``)."""
    return name.startswith(("band_", "field_", "fine_"))


class SpectralClusters(ClusterMixin, TransformerMixin, BaseEstimator):
    """Cluster spectral profiles; scikit-learn estimator.

    Parameters
    ----------
    n_clusters : int or {"auto", "bic", "silhouette"}, default "auto"
        Number of clusters. ``"auto"`` uses :func:`auto_k` (over-segment).
        ``"bic"`` (mixtures) and ``"silhouette"`` search k = 2 .. 12 and are
        kept for comparison.
    method : {"gmm", "kmeans"}, default "gmm"
        Gaussian mixture with ``covariance_type`` (adds :meth:`predict_proba`),
        or k-means. Per-cluster variances let a slice that is tight in a few
        features form its own component (``docs/method.md#clustering``).
    features : "auto", "bands" or list of str, default "auto"
        Columns to cluster on when ``X`` is a table (see :func:`feature_columns`);
        ignored for arrays, whose columns are all used.
    scaling : {"robust", "standard"}, default "robust"
        Per-feature centring and scaling, statistics from the fitting set.
        ``"robust"`` uses the median and IQR / 1.349, so a slice does not
        inflate the scale of the very feature that singles it out.
    covariance_type : {"diag", "full", "spherical", "tied"}, default "diag"
        Mixture covariance (``method="gmm"`` only).
    anatomy_components : int, default 2
        Adjust the upper half of the band profile for anatomy before
        clustering (0 turns it off). The lower half of the log-spaced bands
        (below about 0.02 cycles/px at 1024 px: lungs, heart, ribs,
        positioning) is summarised by its first ``anatomy_components``
        principal components, and each upper band is replaced by its
        residual from a least-squares fit on them, rescaled by median and
        IQR: "more (or less) fine detail than this anatomy usually has"
        (why: ``docs/method.md#clustering``). Applies to table input with at
        least 8 ``band_*`` features; ignored for arrays.
    lower_bands : {"bands", "components"}, default "bands"
        How the lower half of the bands enters the clustering space when the
        anatomy adjustment is on: as every lower band, or as its
        ``anatomy_components`` principal components (robust-scaled, named
        ``anatomy_1, anatomy_2, ...``). The summary is for large images,
        whose lower half is anatomy only; on small images the lower half
        already holds acquisition changes, so it is not the default
        (``docs/method.md#clustering``).
    frequency_axis : {"pixel", "field"}, default "pixel"
        Axis of the band features of a table: ``"field"`` re-bins the
        profile onto cycles per field of view plus fine-detail bands in
        cycles per pixel near the Nyquist limit
        (:mod:`spectral_fast.profiling.field_bands`), so images of different
        matrix sizes are compared at the same frequencies; ``"pixel"`` uses
        the ``band_*`` columns as profiled (cycles per pixel from
        ``1 / min(H, W)``). Tables that cannot be re-binned (resized or
        linear-spaced profiles, no ``height``/``width``/``low``) use ``"pixel"``.
        ``"pixel"`` is the default on the evidence of the real-world
        evaluation (``docs/method.md#frequencies-that-mean-the-same-across-matrix-sizes``).
    n_init : int, default 10
        Restarts; the best objective wins.
    max_fit_samples : int or None, default 10_000
        Larger sets fit scaling, k choice and clusters on a seeded random
        subsample of this size and then assign every image
        (:data:`~spectral_fast._shared.stats.ARCHIVE_SCALE_N`,
        ``docs/method.md#archive-scale``). None fits on everything.
    random_state : int or None, default None
        Seed; the same seed gives the same clusters.

    Attributes
    ----------
    features_ : list of str
        Feature names (``x0, x1, ...`` for array input).
    feature_names_in_ : ndarray of str
        Same, set only when fitted on a table (scikit-learn convention).
    n_features_in_ : int
    loc_, scale_ : ndarray of shape (n_features,)
        Scaling statistics; NaN features are replaced by ``loc_`` (typical value).
    anatomy_low_, anatomy_high_ : ndarray of int
        Feature indices of the lower and upper bands of the anatomy
        adjustment (both empty when it is off).
    anatomy_coef_ : ndarray of shape (n_low, n_high)
        Scaled upper bands are adjusted as
        ``(z_high - z_low @ anatomy_coef_ - anatomy_loc_) / anatomy_scale_``.
    anatomy_loc_, anatomy_scale_ : ndarray of shape (n_high,)
    anatomy_basis_ : ndarray of shape (n_low, anatomy_components)
        Principal axes of the scaled lower bands; with ``lower_bands="components"``
        they enter the clustering space as
        ``((z_low - anatomy_low_mean_) @ anatomy_basis_ - anatomy_pc_loc_) / anatomy_pc_scale_``.
    anatomy_low_mean_ : ndarray of shape (n_low,)
    anatomy_pc_loc_, anatomy_pc_scale_ : ndarray of shape (anatomy_components,)
    embedding_names_ : list of str
        Columns of the clustering space (:meth:`embed`, ``cluster_centers_``):
        ``features_``, or with ``lower_bands="components"`` ``anatomy_1 ..``
        for the summarised lower bands followed by the other features.
    n_clusters_ : int
    cluster_centers_ : ndarray of shape (n_clusters, len(embedding_names_))
        Centres in the clustering space (robust-scaled, upper bands adjusted for anatomy).
    labels_ : ndarray of shape (n_samples,)
    cluster_sizes_ : ndarray of shape (n_clusters,)
    tree_ : ndarray of shape (n_clusters - 1, 4)
        Ward merges as in ``scipy.cluster.hierarchy.linkage``: left node,
        right node, distance, size; node ``n_clusters + i`` is merge ``i``.
    k_selection_ : dict
        How k was chosen, with the scores of the candidates when searched.
    """

    def __init__(
        self,
        n_clusters: int | str = "auto",
        *,
        method: str = "gmm",
        features: str | list[str] = "auto",
        scaling: str = "robust",
        covariance_type: str = "diag",
        anatomy_components: int = 2,
        lower_bands: str = "bands",
        frequency_axis: str = "pixel",
        n_init: int = 10,
        max_fit_samples: int | None = ARCHIVE_SCALE_N,
        random_state: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.method = method
        self.features = features
        self.scaling = scaling
        self.covariance_type = covariance_type
        self.anatomy_components = anatomy_components
        self.lower_bands = lower_bands
        self.frequency_axis = frequency_axis
        self.n_init = n_init
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None) -> SpectralClusters:
        """Fit scaling, clusters and the tree over clusters; returns ``self``."""
        self._check_params()
        data = self._matrix(X, fitting=True)
        n = data.shape[0]
        pick = fit_rows_of(n, self.max_fit_samples, self.random_state)
        fit_rows = data if pick is None else data[pick]
        self.loc_, self.scale_ = _scaling_stats(fit_rows, self.scaling)
        self._fit_anatomy(self._standardised(fit_rows))
        self._set_embedding_names()
        z_fit = self._scaled(fit_rows)
        k, evidence = self._choose_k(z_fit)
        if n < k:
            raise InvalidInputError(f"n_clusters: {n} images cannot form {k} clusters; pass a smaller n_clusters")
        model = self._fit_model(z_fit, k)
        z = self._scaled(data)
        self.n_clusters_ = k
        self.k_selection_ = evidence
        self.labels_ = model.predict(z).astype(np.int64)
        if self.method == "kmeans":
            self.cluster_centers_ = np.asarray(model.cluster_centers_, dtype=np.float64)
        else:
            self.cluster_centers_ = np.asarray(model.means_, dtype=np.float64)
            self.weights_ = np.asarray(model.weights_, dtype=np.float64)
            self.covariances_ = np.asarray(model.covariances_, dtype=np.float64)
            self._mixture = model
        self.cluster_sizes_ = np.bincount(self.labels_, minlength=k).astype(np.int64)
        self.tree_ = ward_tree(self.cluster_centers_, np.maximum(self.cluster_sizes_, 1))
        return self

    def _check_params(self) -> None:
        k = self.n_clusters
        if isinstance(k, str):
            if k not in K_CHOICES:
                raise InvalidInputError(f"n_clusters must be a positive integer or one of {K_CHOICES}, got {k!r}")
            if k == "bic" and self.method != "gmm":
                raise InvalidInputError("n_clusters='bic' needs method='gmm'")
        elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidInputError(f"n_clusters must be a positive integer or one of {K_CHOICES}, got {k!r}")
        if self.method not in ("kmeans", "gmm"):
            raise InvalidInputError(f"method must be 'kmeans' or 'gmm', got {self.method!r}")
        if self.scaling not in ("robust", "standard"):
            raise InvalidInputError(f"scaling must be 'robust' or 'standard', got {self.scaling!r}")
        if self.covariance_type not in ("diag", "full", "spherical", "tied"):
            raise InvalidInputError(
                f"covariance_type must be 'diag', 'full', 'spherical' or 'tied', got {self.covariance_type!r}"
            )
        a = self.anatomy_components
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 0:
            raise InvalidInputError(f"anatomy_components must be an integer >= 0, got {a!r}")
        if self.lower_bands not in ("bands", "components"):
            raise InvalidInputError(f"lower_bands must be 'bands' or 'components', got {self.lower_bands!r}")
        if self.frequency_axis not in FREQUENCY_AXES:
            raise InvalidInputError(f"frequency_axis must be one of {FREQUENCY_AXES}, got {self.frequency_axis!r}")
        if isinstance(self.n_init, bool) or not isinstance(self.n_init, (int, np.integer)) or self.n_init < 1:
            raise InvalidInputError(f"n_init must be a positive integer, got {self.n_init!r}")
        m = self.max_fit_samples
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2):
            raise InvalidInputError(f"max_fit_samples must be None or an integer >= 2, got {m!r}")

    def _fit_model(self, z: np.ndarray, k: int):
        if self.method == "kmeans":
            from sklearn.cluster import KMeans

            return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(z)
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(
            n_components=k,
            covariance_type=self.covariance_type,
            n_init=self.n_init,
            reg_covar=1e-4,  # scaled units: keeps tiny clusters from collapsing
            random_state=self.random_state,
        ).fit(z)

    def _choose_k(self, z: np.ndarray) -> tuple[int, dict]:
        n = z.shape[0]
        if not isinstance(self.n_clusters, str):
            return int(self.n_clusters), {"rule": "fixed", "k": int(self.n_clusters)}
        if self.n_clusters == "auto":
            k = auto_k(n)
            return k, {"rule": "auto: clip(round(sqrt(n / 2)), 2, 30)", "n": n, "k": k}
        ks = list(range(2, min(12, n - 1) + 1))
        if not ks:
            raise InvalidInputError(f"n_clusters={self.n_clusters!r}: {n} images are too few to compare k")
        scores = []
        for k in counted(ks, len(ks), f"choosing k ({self.n_clusters})", "fit"):
            model = self._fit_model(z, k)
            if self.n_clusters == "bic":
                scores.append(float(model.bic(z)))
            else:
                from sklearn.metrics import silhouette_score

                labels = model.predict(z)
                scores.append(float(silhouette_score(z, labels)) if len(set(labels)) > 1 else -1.0)
        best = int(np.argmin(scores) if self.n_clusters == "bic" else np.argmax(scores))
        return ks[best], {"rule": self.n_clusters, "candidates": ks, "scores": scores, "k": ks[best]}

    # ------------------------------------------------------------- predict
    def embed(self, X: Any) -> np.ndarray:
        """Each image in the clustering space (columns ``embedding_names_``), as the centres."""
        return self._scaled(self._matrix(X))

    def transform(self, X: Any) -> np.ndarray:
        """Euclidean distance of each image to each cluster centre, in the clustering space."""
        z = self.embed(X)
        out = np.empty((len(z), len(self.cluster_centers_)))
        step = max(1, TRANSFORM_BLOCK // max(self.cluster_centers_.size, 1))
        for lo in range(0, len(z), step):  # rows in blocks: the (rows, k, d) difference stays small
            diff = z[lo : lo + step, None, :] - self.cluster_centers_[None, :, :]
            out[lo : lo + step] = np.sqrt((diff * diff).sum(axis=2))
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the :meth:`transform` columns (distance to each centre): ``spectralclusters0, 1, ..``.

        The scikit-learn convention of clusterers that transform (``KMeans``
        gives ``kmeans0, ..``); ``input_features`` is accepted for the API
        and must equal ``feature_names_in_`` when given.
        """
        check_is_fitted(self, "cluster_centers_")
        if input_features is not None and list(input_features) != list(self.features_):
            raise InvalidInputError(
                f"input_features {list(input_features)} differ from the features the model was fitted on"
            )
        return np.asarray([f"spectralclusters{i}" for i in range(self.n_clusters_)], dtype=object)

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each image (nearest centre, or most probable mixture component)."""
        if self.method == "gmm":
            return self.predict_proba(X).argmax(axis=1).astype(np.int64)
        return self.transform(X).argmin(axis=1).astype(np.int64)

    @available_if(lambda self: self.method == "gmm")
    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior probability of each mixture component (``method="gmm"`` only)."""
        z = self.embed(X)  # first: it raises NotFittedError on an unfitted model
        return self._mixture.predict_proba(z)

    # ------------------------------------------------------------- helpers
    def _matrix(self, X: Any, fitting: bool = False) -> np.ndarray:
        if not fitting:
            check_is_fitted(self, "cluster_centers_")
        if is_frame(X):  # polars, pandas, pyarrow, __arrow_c_stream__
            X = to_polars(X, "X")
        if isinstance(X, pl.DataFrame):
            if self.frequency_axis == "field":
                X = with_field_bands(X)
            if fitting:
                names = feature_columns(list(X.columns), self.features, self.frequency_axis)
                # field bands above the Nyquist limit of every image do not apply to this set
                names = [c for c in names if not (c in FIELD_COLUMNS and X[c].cast(pl.Float64).is_nan().all())]
            else:
                names = list(self.features_)
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise InvalidInputError(f"X lacks the feature columns {missing} the model was fitted on")
            bad = {c: str(X.schema[c]) for c in names if not (X.schema[c].is_numeric() or X.schema[c] == pl.Boolean)}
            if bad:
                raise InvalidTypeError(f"feature columns must be numeric, got {bad}")
            data = X.select(names).cast({c: float for c in names}).to_numpy()
        else:
            if hasattr(X, "columns") or isinstance(X, (str, bytes)):
                raise InvalidTypeError(f"X must be {ACCEPTED}, or a 2-D numeric array; got {type(X).__name__}")
            arr = np.asarray(X) if not hasattr(X, "toarray") else None
            if arr is not None and arr.dtype.kind in "USa":
                raise InvalidTypeError(f"X must be numeric, got dtype {arr.dtype}")
            # scikit-learn's own validation: its messages for sparse, complex, 1-D,
            # empty input and a changed feature count are the ones users know.
            data = validate_data(self, X, reset=fitting, ensure_all_finite="allow-nan", dtype=np.float64)
            names = [f"x{i}" for i in range(data.shape[1])] if fitting else list(self.features_)
        data = np.asarray(data, dtype=np.float64)
        if data.shape[0] == 0 or data.shape[1] == 0:
            raise InvalidInputError(f"X must hold at least one image and one feature, got shape {data.shape}")
        if np.isinf(data).any():
            raise InvalidInputError("X contains infinite values")
        if fitting:
            self.features_ = list(names)
            if hasattr(X, "columns"):
                self.feature_names_in_ = np.asarray(names, dtype=object)
            self.n_features_in_ = data.shape[1]
            if np.isnan(data).all(axis=0).any():
                bad = [names[i] for i in np.flatnonzero(np.isnan(data).all(axis=0))]
                raise InvalidInputError(f"features {bad} are NaN for every image")
        return data

    def _standardised(self, data: np.ndarray) -> np.ndarray:
        z = (data - self.loc_) / self.scale_
        return np.where(np.isnan(z), 0.0, z)  # NaN = not applicable -> the typical value

    def _scaled(self, data: np.ndarray) -> np.ndarray:
        """The clustering space (columns ``embedding_names_``): standardised features,
        upper bands adjusted for anatomy, lower bands summarised if ``lower_bands="components"``."""
        z = self._standardised(data)
        if not len(self.anatomy_high_):
            return z
        low, high = self.anatomy_low_, self.anatomy_high_
        z[:, high] = (z[:, high] - z[:, low] @ self.anatomy_coef_ - self.anatomy_loc_) / self.anatomy_scale_
        if self.lower_bands == "bands":
            return z
        components = (z[:, low] - self.anatomy_low_mean_) @ self.anatomy_basis_
        components = (components - self.anatomy_pc_loc_) / self.anatomy_pc_scale_
        return np.column_stack([components, z[:, self._kept_columns()]])

    def _kept_columns(self) -> np.ndarray:
        """Feature columns that enter the clustering space as themselves (all but summarised lower bands)."""
        summarised = self.anatomy_low_ if len(self.anatomy_high_) and self.lower_bands == "components" else []
        return np.setdiff1d(np.arange(len(self.features_)), summarised)

    def _set_embedding_names(self) -> None:
        kept = [str(self.features_[i]) for i in self._kept_columns()]
        n_summary = self.anatomy_basis_.shape[1] if len(kept) < len(self.features_) else 0
        self.embedding_names_ = [f"anatomy_{j + 1}" for j in range(n_summary)] + kept

    def _fit_anatomy(self, z: np.ndarray) -> None:
        """Fit the anatomy adjustment (``anatomy_components``) on standardised rows."""
        bands = sorted((name, i) for i, name in enumerate(self.features_) if _is_band(str(name)))
        self.anatomy_low_ = self.anatomy_high_ = np.zeros(0, dtype=np.int64)
        self.anatomy_coef_ = self.anatomy_basis_ = np.zeros((0, 0))
        self.anatomy_loc_ = self.anatomy_scale_ = self.anatomy_low_mean_ = np.zeros(0)
        self.anatomy_pc_loc_ = self.anatomy_pc_scale_ = np.zeros(0)
        q = int(self.anatomy_components)
        if q == 0 or len(bands) < 8 or z.shape[0] < q + 3:
            return
        half = len(bands) // 2
        low = np.array([i for _, i in bands[:half]], dtype=np.int64)
        high = np.array([i for _, i in bands[half:]], dtype=np.int64)
        q = min(q, half)
        z_low = z[:, low]
        self.anatomy_low_mean_ = z_low.mean(axis=0)
        centred = z_low - self.anatomy_low_mean_
        basis = np.linalg.svd(centred, full_matrices=False)[2][:q].T  # (n_low, q) principal axes
        self.anatomy_basis_ = basis
        self.anatomy_pc_loc_, self.anatomy_pc_scale_ = _scaling_stats(centred @ basis, "robust")
        design = np.column_stack([np.ones(len(z)), centred @ basis])
        coef = np.linalg.lstsq(design, z[:, high], rcond=None)[0][1:]  # (q, n_high), intercept dropped
        self.anatomy_low_, self.anatomy_high_ = low, high
        self.anatomy_coef_ = basis @ coef  # z_low -> fitted upper bands, up to a constant
        residual = z[:, high] - z_low @ self.anatomy_coef_
        self.anatomy_loc_, self.anatomy_scale_ = _scaling_stats(residual, "robust")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # --------------------------------------------------------- persistence
    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path`` (JSON, ``.json`` added if missing) and its ``.npz`` arrays."""
        check_is_fitted(self, "cluster_centers_")
        json_path = Path(path) if str(path).endswith(".json") else Path(f"{path}.json")
        arrays = {
            "loc": self.loc_,
            "scale": self.scale_,
            "centers": self.cluster_centers_,
            "sizes": self.cluster_sizes_,
            "tree": self.tree_,
            "anatomy_low": self.anatomy_low_,
            "anatomy_high": self.anatomy_high_,
            "anatomy_coef": self.anatomy_coef_,
            "anatomy_loc": self.anatomy_loc_,
            "anatomy_scale": self.anatomy_scale_,
            "anatomy_basis": self.anatomy_basis_,
            "anatomy_low_mean": self.anatomy_low_mean_,
            "anatomy_pc_loc": self.anatomy_pc_loc_,
            "anatomy_pc_scale": self.anatomy_pc_scale_,
        }
        if self.method == "gmm":
            arrays.update(
                weights=self.weights_,
                covariances=self.covariances_,
                precisions_cholesky=self._mixture.precisions_cholesky_,
            )
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "params": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in self.get_params().items()},
            "feature_names": [str(c) for c in self.features_],
            "table_input": hasattr(self, "feature_names_in_"),
            "n_clusters": int(self.n_clusters_),
            "k_selection": self.k_selection_,
        }
        return write_checksummed(json_path, meta, arrays)

    @classmethod
    def load(cls, path: str | Path, *, strict_version: bool = True) -> SpectralClusters:
        """Load a model written by :meth:`save`.

        Raises :class:`InvalidInputError` for another file format or format
        version, another package version (unless ``strict_version=False``),
        or a file whose JSON or arrays were changed after saving.
        """
        json_path = Path(path) if str(path).endswith(".json") else Path(f"{path}.json")
        meta, arrays = read_checksummed(json_path, FORMAT, (FORMAT_VERSION,), what="model", remedy="refit the model")
        if strict_version and meta.get("package_version") != __version__:
            raise InvalidInputError(
                f"{json_path}: written by spectral_fast {meta.get('package_version')}, this is {__version__}; "
                "refit, or pass strict_version=False to load it anyway"
            )
        try:
            _check_saved(json_path, meta, arrays)
            model = cls._from_saved(json_path, meta, arrays)
        except InvalidInputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            # a hand-made file the checks above did not foresee: still one line naming the file
            raise InvalidInputError(f"{json_path}: not a valid model file ({type(exc).__name__}: {exc})") from None
        return model

    @classmethod
    def _from_saved(cls, json_path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> SpectralClusters:
        params = dict(meta["params"])
        model = cls(**params)
        model.features_ = list(meta["feature_names"])
        if meta.get("table_input"):
            model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
        model.n_features_in_ = len(meta["feature_names"])
        model.n_clusters_ = int(meta["n_clusters"])
        model.k_selection_ = meta["k_selection"]
        model.loc_, model.scale_ = arrays["loc"], arrays["scale"]
        model.anatomy_low_, model.anatomy_high_ = arrays["anatomy_low"], arrays["anatomy_high"]
        model.anatomy_coef_ = arrays["anatomy_coef"]
        model.anatomy_loc_, model.anatomy_scale_ = arrays["anatomy_loc"], arrays["anatomy_scale"]
        model.anatomy_basis_, model.anatomy_low_mean_ = arrays["anatomy_basis"], arrays["anatomy_low_mean"]
        model.anatomy_pc_loc_, model.anatomy_pc_scale_ = arrays["anatomy_pc_loc"], arrays["anatomy_pc_scale"]
        model._set_embedding_names()
        if arrays["centers"].shape[1] != len(model.embedding_names_):
            raise InvalidInputError(
                f"{json_path}: centres have {arrays['centers'].shape[1]} dimensions, "
                f"the features give {len(model.embedding_names_)}"
            )
        model.cluster_centers_, model.cluster_sizes_, model.tree_ = arrays["centers"], arrays["sizes"], arrays["tree"]
        if model.method == "gmm":
            from sklearn.mixture import GaussianMixture

            mix = GaussianMixture(n_components=model.n_clusters_, covariance_type=model.covariance_type)
            mix.weights_, mix.means_ = arrays["weights"], arrays["centers"]
            mix.covariances_, mix.precisions_cholesky_ = arrays["covariances"], arrays["precisions_cholesky"]
            mix.converged_, mix.n_iter_, mix.lower_bound_ = True, 0, 0.0
            mix.n_features_in_ = arrays["centers"].shape[1]  # the clustering space, not the input features
            model._mixture, model.weights_, model.covariances_ = mix, arrays["weights"], arrays["covariances"]
        return model


#: Bounds of a loadable model: far above any fitted one.
MAX_SAVED_FEATURES = 100_000
MAX_SAVED_CLUSTERS = 10_000
_COVARIANCE_SHAPES = {"diag": ("k", "e"), "full": ("k", "e", "e"), "tied": ("e", "e"), "spherical": ("k",)}


def _check_saved(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a model file whose fields or arrays do not fit together (shapes, finite values, weights)."""
    names = meta.get("feature_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInputError(f"{path}: feature_names must be a list of strings")
    if not 1 <= len(names) <= MAX_SAVED_FEATURES or len(set(names)) != len(names):
        raise InvalidInputError(f"{path}: feature_names must be 1 to {MAX_SAVED_FEATURES} distinct names")
    k = check_number(path, "n_clusters", meta.get("n_clusters"), lo=1, hi=MAX_SAVED_CLUSTERS, integer=True)
    k, d = int(k), len(names)
    params = meta.get("params")
    if not isinstance(params, dict) or params.get("method") not in ("gmm", "kmeans"):
        raise InvalidInputError(f"{path}: params must be a dict with method 'gmm' or 'kmeans'")
    check_arrays(
        path,
        arrays,
        {
            "loc": ((d,), "finite"),
            "scale": ((d,), "positive"),
            "centers": ((k, None), "finite"),
            "sizes": ((k,), "nonneg"),
            "tree": ((max(k - 1, 0), 4), "finite"),
            "anatomy_low": ((None,), "int"),
            "anatomy_high": ((None,), "int"),
            "anatomy_coef": (None, "finite"),
            "anatomy_loc": ((None,), "finite"),
            "anatomy_scale": ((None,), "finite"),
            "anatomy_basis": (None, "finite"),
            "anatomy_low_mean": ((None,), "finite"),
            "anatomy_pc_loc": ((None,), "finite"),
            "anatomy_pc_scale": ((None,), "finite"),
        },
    )
    e = arrays["centers"].shape[1]
    if not 1 <= e <= d + MAX_SAVED_FEATURES:
        raise InvalidInputError(f"{path}: centres have {e} dimensions")
    for name in ("anatomy_low", "anatomy_high"):
        idx = arrays[name]
        if idx.size and (idx.min() < 0 or idx.max() >= d):
            raise InvalidInputError(f"{path}: array {name!r} indexes features outside 0..{d - 1}")
    if params["method"] != "gmm":
        return
    cov = params.get("covariance_type", "diag")
    if cov not in _COVARIANCE_SHAPES:
        raise InvalidInputError(f"{path}: unknown covariance_type {cov!r}")
    shape = tuple({"k": k, "e": e}[a] for a in _COVARIANCE_SHAPES[cov])
    rule = "positive" if cov in ("diag", "spherical") else "finite"
    check_arrays(
        path,
        arrays,
        {"weights": ((k,), "nonneg"), "covariances": (shape, rule), "precisions_cholesky": (shape, rule)},
    )
    total = float(arrays["weights"].sum())
    if abs(total - 1.0) > 1e-6:
        raise InvalidInputError(f"{path}: mixture weights sum to {total}, not 1")


def _scaling_stats(data: np.ndarray, scaling: str) -> tuple[np.ndarray, np.ndarray]:
    if scaling == "robust":
        loc = np.nanmedian(data, axis=0)
        q75, q25 = np.nanpercentile(data, [75, 25], axis=0)
        scale = (q75 - q25) / 1.349  # IQR of a normal distribution is 1.349 sd
    else:
        loc = np.nanmean(data, axis=0)
        scale = np.nanstd(data, axis=0)
    # A feature that is constant in the bulk still scales by its spread, else by 1.
    fallback = np.nanstd(data, axis=0)
    scale = np.where(scale > 0, scale, np.where(fallback > 0, fallback, 1.0))
    return loc.astype(np.float64), scale.astype(np.float64)
