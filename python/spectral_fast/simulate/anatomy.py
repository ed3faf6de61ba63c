"""Anatomy of the synthetic chest phantom: one function per structure.

Everything here works in *model coordinates*: ``x`` runs from -1 (image
left, the patient's right in a PA view) to +1 across the shorter image side,
``y`` from -1 (top) to +1 (bottom), so shapes keep their proportions at any
size. Each structure returns a *density*, i.e. the radiographic attenuation
line integral after the log transform, in units where full soft-tissue
thickness of the abdomen is about 0.8 and air is 0. The display mapping (bright
= dense) is applied by :mod:`spectral_fast.simulate.phantom`.

Shapes are analytic (ellipses, parabolas, tubes) so the phantom is exact and
resolution independent; small structures (ribs, vessels) are evaluated only
inside their bounding boxes, which keeps a 1024 px phantom well under a second.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

F = np.float32


@dataclass(frozen=True)
class Anatomy:
    """Per-patient anatomy and exposure, drawn by :func:`draw_anatomy`.

    Lengths are in model units (1 = half the shorter image side).
    """

    rotation_deg: float  # patient rotation in the image plane
    shift_x: float
    shift_y: float
    body_half_width: float  # chest wall, outer skin, at the axilla
    neck_half_width: float
    shoulder_y: float  # top of the shoulders next to the neck
    axilla_y: float  # where the arms leave the chest wall
    lung_lateral: float  # lateral lung border at its widest
    apex_y: float  # top of the lung apices
    apex_x: float  # lateral position of the apex dome
    dome_y_right: float  # top of the right hemidiaphragm (image left)
    dome_y_left: float
    costophrenic_drop: float  # how much lower the lateral diaphragm is than its dome
    mediastinum_half_width: float
    heart_ratio: float  # cardiothoracic ratio: heart width / thoracic width
    heart_x: float
    heart_tilt_deg: float
    rib_pitch: float  # vertical distance between successive posterior ribs
    rib_half_width: float
    rib_slope: float  # initial upward slope of posterior ribs at the spine
    clavicle_y: float
    spine_half_width: float
    lung_air: float  # density removed by a full lung thickness (how dark lungs are)
    bone_density: float
    vessel_density: float
    texture_amplitude: float
    gastric_bubble: bool
    window_lo: float  # density shown as black
    window_hi: float  # density shown as white
    tone: float  # strength of the S-shaped display curve
    noise_sigma: float  # quantum noise at mid-grey, 8-bit grey levels
    detector_sigma: float  # detector blur, px

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one patient: ranges chosen to cover adult PA/AP chest films."""
    u = rng.uniform
    body = u(0.76, 0.92)
    lung_lat = body - u(0.09, 0.15)  # chest wall and ribs, 9-15 % of the half-width
    dome_r = u(0.22, 0.46)  # depth of inspiration
    apex = u(-0.84, -0.70)
    return Anatomy(
        rotation_deg=u(-3.0, 3.0),
        shift_x=u(-0.04, 0.04),
        shift_y=u(-0.05, 0.05),
        body_half_width=body,
        neck_half_width=u(0.26, 0.34),
        shoulder_y=apex - u(0.12, 0.22),  # the shoulders rise above the apices
        axilla_y=u(-0.55, -0.40),
        lung_lateral=lung_lat,
        apex_y=apex,
        apex_x=u(0.26, 0.36),
        dome_y_right=dome_r,
        dome_y_left=dome_r + u(0.02, 0.09),  # the left dome sits lower (heart, no liver)
        costophrenic_drop=u(0.10, 0.20),
        mediastinum_half_width=u(0.10, 0.14),
        heart_ratio=u(0.42, 0.58),
        heart_x=u(0.06, 0.14),
        heart_tilt_deg=u(30.0, 45.0),
        rib_pitch=u(0.105, 0.135),
        rib_half_width=u(0.026, 0.034),
        rib_slope=u(0.30, 0.50),
        clavicle_y=apex + u(0.16, 0.26),  # medial end of the clavicle
        spine_half_width=u(0.060, 0.075),
        lung_air=u(0.28, 0.38),
        bone_density=u(0.09, 0.13),
        vessel_density=u(0.05, 0.08),
        texture_amplitude=u(0.006, 0.011),
        gastric_bubble=bool(rng.random() < 0.7),
        window_lo=u(-0.06, 0.02),
        window_hi=u(0.92, 1.06),
        tone=u(0.4, 1.0),
        noise_sigma=u(1.0, 3.0),
        detector_sigma=u(0.5, 0.9),
    )


class Frame:
    """Pixel grid of one phantom and its model coordinates ``X``, ``Y`` (float32)."""

    def __init__(self, height: int, width: int, anatomy: Anatomy) -> None:
        self.height, self.width = height, width
        self.unit = min(height, width) / 2.0  # px per model unit
        theta = math.radians(anatomy.rotation_deg)
        self.cos, self.sin = math.cos(theta), math.sin(theta)
        self.shift = (anatomy.shift_x, anatomy.shift_y)
        cols = ((np.arange(width, dtype=F) + 0.5 - width / 2.0) / self.unit - anatomy.shift_x)[None, :]
        rows = ((np.arange(height, dtype=F) + 0.5 - height / 2.0) / self.unit - anatomy.shift_y)[:, None]
        self.X = (self.cos * cols + self.sin * rows).astype(F)
        self.Y = (-self.sin * cols + self.cos * rows).astype(F)

    def to_pixel(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of model points, as floats (pixel centres at integer + 0)."""
        xp = self.cos * np.asarray(x) - self.sin * np.asarray(y) + self.shift[0]
        yp = self.sin * np.asarray(x) + self.cos * np.asarray(y) + self.shift[1]
        return yp * self.unit + self.height / 2.0 - 0.5, xp * self.unit + self.width / 2.0 - 0.5

    def box(self, xs: np.ndarray, ys: np.ndarray, pad: float) -> tuple[slice, slice] | None:
        """Pixel window holding the model points ``(xs, ys)`` plus ``pad`` model units."""
        r0, r1, c0, c1 = (int(v[0]) for v in self.boxes(np.asarray(xs)[None], np.asarray(ys)[None], np.array([pad])))
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def boxes(self, xs: np.ndarray, ys: np.ndarray, pad: np.ndarray) -> tuple[np.ndarray, ...]:
        """:meth:`box` of many shapes at once: row ``i`` of ``xs``, ``ys`` (n, k) padded by ``pad[i]``.

        Returns the int arrays ``r0, r1, c0, c1`` (clipped to the image; a
        shape outside it has ``r0 >= r1`` or ``c0 >= c1``).
        """
        r, c = self.to_pixel(xs, ys)
        p = pad * self.unit + 2
        r0 = np.maximum(0, np.floor(r.min(axis=1) - p)).astype(np.intp)
        r1 = np.minimum(self.height, np.ceil(r.max(axis=1) + p) + 1).astype(np.intp)
        c0 = np.maximum(0, np.floor(c.min(axis=1) - p)).astype(np.intp)
        c1 = np.minimum(self.width, np.ceil(c.max(axis=1) + p) + 1).astype(np.intp)
        return r0, r1, c0, c1


def ramp(v: np.ndarray, width: float) -> np.ndarray:
    """0 for v <= 0 rising linearly to 1 at v = width: a soft edge of ``width`` units."""
    return np.clip(v / F(width), 0.0, 1.0)


def tube(d: np.ndarray, half_width: float, cortex: float = 0.0) -> np.ndarray:
    """Projected thickness across a cylinder (1 on the axis), hollowed by ``cortex``.

    A bone is a shell of dense cortex around less dense marrow: subtracting the
    chord of an inner cylinder (radius 0.7) leaves the bright margins that make
    ribs and clavicles look like ribs and clavicles.
    """
    u2 = (d / F(half_width)) ** 2
    out = np.sqrt(np.clip(1.0 - u2, 0.0, None))
    if cortex > 0.0:
        out = out - F(cortex) * np.sqrt(np.clip(0.49 - u2, 0.0, None))
    return out


# ---------------------------------------------------------------- soft tissue


def body(X: np.ndarray, Y: np.ndarray, a: Anatomy) -> np.ndarray:
    """Soft-tissue density of neck, shoulders/arms and trunk."""
    ax = np.abs(X)
    # The arms are held away from the chest (as for a PA film), so the trunk
    # outline is the chest wall with a slight bulge of the shoulder muscles.
    chest = a.body_half_width * (1.0 + 0.05 * (Y - a.axilla_y))
    side = chest + 0.06 * np.exp(-(((Y - a.shoulder_y - 0.25) / 0.2) ** 2))
    # Shoulders slope down from the neck base and round off over the arms.
    lateral = np.clip((ax - a.neck_half_width) / (1.0 - a.neck_half_width), 0.0, 1.0)
    top = a.shoulder_y + 0.5 * lateral**2.5  # convex: the rounded shoulder
    # Skin is seen tangentially, so the edge is fairly sharp: a flattened ellipse profile.
    trunk = np.clip(1.0 - (X / side) ** 2, 0.0, None) ** 0.3 * ramp(Y - top, 0.12)
    # The neck flares into the shoulders at its base.
    neck_w = a.neck_half_width + 0.15 * ramp(Y - a.shoulder_y + 0.2, 0.2) ** 2
    neck = 0.85 * np.clip(1.0 - (X / neck_w) ** 2, 0.0, None) ** 0.4
    # Abdominal soft tissue is thicker than the upper chest wall.
    depth = 0.70 + 0.12 * np.clip(Y, -1.0, 1.0)
    return depth * np.maximum(trunk, neck)


# ---------------------------------------------------------------- lungs and heart


def diaphragm_y(xs: np.ndarray, dome: float, a: Anatomy) -> np.ndarray:
    """Height of one hemidiaphragm at lateral position ``xs`` (>= 0)."""
    d = xs - 0.38
    return dome + a.costophrenic_drop * (d / (a.lung_lateral - 0.38)) ** 2


def lung(X: np.ndarray, Y: np.ndarray, a: Anatomy, side: int) -> np.ndarray:
    """Relative air thickness (0..1) of one lung; side -1 = image left (right lung)."""
    xs = side * X
    dome = a.dome_y_right if side < 0 else a.dome_y_left
    base = dome + a.costophrenic_drop
    # Lateral outline: the rib cage, half an ellipse widest at the costophrenic angle.
    ay = base - a.apex_y + 0.05
    lateral = np.clip(1.0 - np.abs((Y - base) / ay) ** 3, 0.0, 1.0) ** (1.0 / 3.0)  # full, superelliptic
    lateral = ramp(a.apex_x + (a.lung_lateral - a.apex_x) * lateral - xs, 0.05)
    # Apex: a dome peaking at apex_x, falling towards the mediastinum and the side.
    top = ramp(Y - (a.apex_y + 3.0 * (xs - a.apex_x) ** 2), 0.08)
    below = ramp(diaphragm_y(xs, dome, a) - Y, 0.035)  # the dome is tangent to the beam: sharp
    # Mediastinal border: straight-ish, slightly wider at the hila, and on the
    # patient's left (image right) the aortic knob bulges out.
    border = a.mediastinum_half_width + 0.02 * np.exp(-(((Y - a.apex_y - 0.6) / 0.2) ** 2))
    if side > 0:
        border = border + 0.05 * np.exp(-(((Y - a.apex_y - 0.42) / 0.06) ** 2))
    medial = ramp(xs - border, 0.05)
    return lateral * top * below * medial


def heart(X: np.ndarray, Y: np.ndarray, a: Anatomy) -> np.ndarray:
    """Heart thickness (0..1): an ellipse sitting on the left hemidiaphragm."""
    half = a.heart_ratio * a.lung_lateral  # half of the heart's width
    hx = a.heart_x
    # The lower half of the heart hides in the density of the abdomen below the domes.
    hy = (a.dome_y_right + a.dome_y_left) / 2.0
    # Long axis from the upper right (great vessels) down to the apex at the
    # left dome; the right border is the gentle curve of the right atrium.
    t = math.radians(a.heart_tilt_deg)
    u = (X - hx) * math.cos(t) + (Y - hy) * math.sin(t)
    v = -(X - hx) * math.sin(t) + (Y - hy) * math.cos(t)
    r = (u / (half * 1.15)) ** 2 + (v / (half * 0.72)) ** 2
    return np.sqrt(np.clip(1.0 - r, 0.0, 1.0))


def trachea(X: np.ndarray, Y: np.ndarray, a: Anatomy) -> np.ndarray:
    """Air column of trachea and main bronchi (0..1), to be subtracted."""
    carina = a.apex_y + 0.50
    col = tube(X, 0.035) * ramp(carina - Y, 0.04) * ramp(Y - a.apex_y + 0.5, 0.3)
    out = col
    for side in (-1, 1):
        # Main bronchi leave the carina downwards and outwards.
        d = (side * X * 0.8 - (Y - carina) * 0.6) / 1.0
        along = Y - carina
        out = np.maximum(out, 0.7 * tube(d, 0.026) * ramp(along, 0.02) * ramp(0.12 - along, 0.06))
    return out


def gastric_bubble(X: np.ndarray, Y: np.ndarray, a: Anatomy) -> np.ndarray:
    """Air in the stomach fundus under the left hemidiaphragm (0..1)."""
    cy = a.dome_y_left + 0.13
    r = ((X - 0.36) / 0.13) ** 2 + ((Y - cy) / 0.07) ** 2
    return np.sqrt(np.clip(1.0 - r, 0.0, 1.0)) * ramp(Y - a.dome_y_left - 0.06, 0.03)
