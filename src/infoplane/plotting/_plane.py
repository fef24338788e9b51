"""Drawing shared by the pictures and the animation: style, figures, the plane.

Private to :mod:`infoplane.plotting`; its names carry no underscore because the
module itself is private.
"""

import contextlib
import contextvars
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import matplotlib as mpl
import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D

from ..analysis import averaged
from ..units import UNITS, from_nats

if TYPE_CHECKING:
    from ..results import Result

# Applied only to figures this package creates; a caller's own Axes keep their style.
STYLE = {
    "font.size": 10,
    "axes.titlesize": "medium",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": "small",
}
MARKERS = ("o", "s", "^", "D", "v", "p", "h", "<", ">", "P", "X")
OUTPUT_MARKER = "*"


class PlaneArtists(NamedTuple):
    """What one information plane drew.

    Attributes:
        figure: the figure holding ``ax``.
        ax: the information-plane axes.
        scatters: one collection per layer, in ``result.layers`` order.
        joins: grey segments joining the layers at each measured epoch (and seed).
        colorbar: the epoch colour bar, or None when not drawn.
        spread: one collection per layer of faint single-seed trajectories; empty
            unless several seeds are averaged.
        ib_line: the IB bound, or None.
        legend: the legend naming the layers.
    """

    figure: Figure
    ax: Axes
    scatters: tuple[PathCollection, ...]
    joins: LineCollection
    colorbar: Colorbar | None
    spread: tuple[LineCollection, ...]
    ib_line: Line2D | None
    legend: Legend


_OFFSCREEN = contextvars.ContextVar("offscreen", default=False)


@contextlib.contextmanager
def offscreen():
    """Inside, :func:`new_figure` makes Agg figures that pyplot does not know of."""
    token = _OFFSCREEN.set(True)
    try:
        yield
    finally:
        _OFFSCREEN.reset(token)


def agg_figure(**kwargs) -> Figure:
    """A constrained-layout figure on its own Agg canvas, unknown to pyplot."""
    figure = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def new_figure(**kwargs) -> Figure:
    """A constrained-layout figure for a picture asked for without an ``ax``.

    A new pyplot figure, as matplotlib's and pandas' plotting functions make: a
    notebook shows it, ``plt.savefig`` writes it, ``plt.close`` closes it. Inside
    :func:`offscreen`, an Agg figure that pyplot does not know of.
    """
    if _OFFSCREEN.get():
        return agg_figure(**kwargs)
    import matplotlib.pyplot as plt  # only here: importing the package leaves it

    return plt.figure(layout="constrained", **kwargs)


def own_style(ax) -> contextlib.AbstractContextManager:
    """The package's style when it makes the figure (``ax`` is None)."""
    return mpl.rc_context(STYLE) if ax is None else contextlib.nullcontext()


def log_spaced(epochs: np.ndarray) -> bool:
    """True for schedules like ``log:N``: over two decades, crowded at the start.

    The span alone would also flag ``every:20`` (0 to 2980), so the median must also
    sit in the first tenth of the run, which evenly spaced epochs never do.
    """
    if len(epochs) < 3:
        return False
    lo, hi = float(epochs.min()), float(epochs.max())
    return (hi + 1) / (lo + 1) > 100 and float(np.median(epochs)) - lo < 0.1 * (hi - lo)


def epoch_norm(epochs: np.ndarray) -> colors.Normalize:
    lo, hi = float(epochs.min()), float(epochs.max())
    hi = max(hi, lo + 1)
    if log_spaced(epochs):
        # Symmetric-log rather than log: epoch 0 is a measured epoch.
        return colors.SymLogNorm(linthresh=1, linscale=0.5, vmin=lo, vmax=hi, base=10)
    return colors.Normalize(lo, hi)


def estimator_index(result: "Result", estimator: "int | str") -> int:
    n = len(result.estimators)
    if isinstance(estimator, str):
        if estimator not in result.estimators:
            raise ValueError(
                f"estimator {estimator!r} is not in this result; it has "
                f"{', '.join(result.estimators)}"
            )
        return result.estimators.index(estimator)
    if isinstance(estimator, bool) or not isinstance(estimator, int | np.integer):
        raise ValueError(f"estimator must be an index or a name, got {estimator!r}")
    if not -n <= estimator < n:
        raise ValueError(f"estimator index must be in [0, {n}), got {estimator}")
    return int(estimator) % n


class Plane(NamedTuple):
    """Plane coordinates of one estimator: ``x``, ``y`` (series, epoch, layer)."""

    x: np.ndarray
    y: np.ndarray
    seed_x: np.ndarray | None  # (seed, epoch, layer) when several seeds are averaged
    seed_y: np.ndarray | None
    epochs: np.ndarray
    n_seeds: int
    left_out: int = 0  # diverged networks left out of the mean


def plane_data(result: "Result", estimator: "int | str", seeds) -> Plane:
    e = estimator_index(result, estimator)
    xt = np.asarray(result.i_xt[..., e], float)
    ty = np.asarray(result.i_ty[..., e], float)
    n_seeds = xt.shape[0]
    epochs = np.asarray(result.epochs)
    if isinstance(seeds, str) and seeds == "mean":
        # The mean of the networks that did not diverge, as the summary's.
        converged = averaged(result)
        xt, ty, left_out = xt[converged], ty[converged], n_seeds - converged.sum()
        if len(xt) == 1:
            return Plane(xt, ty, None, None, epochs, 1, left_out)
        x, y = xt.mean(0)[None], ty.mean(0)[None]
        return Plane(x, y, xt, ty, epochs, len(xt), left_out)
    if isinstance(seeds, str) and seeds == "all":
        return Plane(xt, ty, None, None, epochs, n_seeds)
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        if not -n_seeds <= seeds < n_seeds:
            raise ValueError(f"seed index must be in [0, {n_seeds}), got {seeds}")
        return Plane(xt[[seeds]], ty[[seeds]], None, None, epochs, 1)
    raise ValueError(f'seeds must be "mean", "all" or a seed index, got {seeds!r}')


def ib_points(result: "Result", ib_curve) -> tuple[np.ndarray, np.ndarray]:
    # An IBCurve may already have been converted (to_bits); go back to nats first.
    scale = UNITS[getattr(ib_curve, "units", "nats")]
    x = from_nats(np.asarray(ib_curve.i_xt, float) / scale, result.units)
    y = from_nats(np.asarray(ib_curve.i_ty, float) / scale, result.units)
    return x, y


def _finite_max(*arrays, default: float = 1.0) -> float:
    values = [np.asarray(a, float).ravel() for a in arrays if a is not None]
    values = np.concatenate(values) if values else np.array([])
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else default


def _h_x(info: dict) -> "float | None":
    """Where I(X;T) ends: H(X) of the measured samples where a run measured a subset
    (no estimate of I(X;T) on N samples exceeds their entropy, log N when all are
    distinct), else of the task."""
    return info.get("measured_h_x", info.get("h_x"))


def _bounds_label(info: dict) -> str:
    return (
        "H(X) of the measured samples, I(X;Y)"
        if "measured_h_x" in info
        else "H(X), I(X;Y)"
    )


def default_limits(result: "Result", planes: Sequence[Plane], ib_curve):
    info = result.info or {}
    xs = [_h_x(info)] + [a for p in planes for a in (p.x, p.seed_x)]
    ys = [info.get("i_xy")] + [a for p in planes for a in (p.y, p.seed_y)]
    if ib_curve is not None:
        ib_x, ib_y = ib_points(result, ib_curve)
        xs.append(ib_x)
        ys.append(ib_y)
    # A little beyond the largest value so that points on H(X) or I(X;Y) show whole.
    return (0.0, 1.05 * _finite_max(*xs)), (0.0, 1.05 * _finite_max(*ys))


def _plane_title(result: "Result", e: int) -> str:
    name = result.name
    if len(result.estimators) > 1:
        return f"{name}: {result.estimators[e]}"
    return name


def offsets(plane: Plane, layer: int) -> np.ndarray:
    """Points of one layer, epoch-major so that a frame's points are a prefix."""
    xy = np.stack([plane.x[:, :, layer], plane.y[:, :, layer]], axis=-1)
    return xy.transpose(1, 0, 2).reshape(-1, 2)


def join_segments(plane: Plane) -> np.ndarray:
    """One polyline through the layers per (epoch, series), epoch-major."""
    xy = np.stack([plane.x, plane.y], axis=-1)  # (series, epoch, layer, 2)
    return xy.transpose(1, 0, 2, 3).reshape(-1, xy.shape[2], 2)


def draw_plane(
    ax: Axes,
    result: "Result",
    plane: Plane,
    *,
    estimator: int,
    norm: colors.Normalize,
    cmap,
    xlim,
    ylim,
    ib_curve,
) -> PlaneArtists:
    """Draw every measured epoch of ``plane`` on ``ax``; no colour bar."""
    series = plane.x.shape[0]
    colour_values = np.repeat(plane.epochs, series)
    n_layers = len(result.layers)

    spread = []
    if plane.seed_x is not None:
        for layer in range(n_layers):
            tracks = np.stack(
                [plane.seed_x[:, :, layer], plane.seed_y[:, :, layer]], axis=-1
            )
            spread.append(
                ax.add_collection(
                    LineCollection(
                        list(tracks),
                        colors="0.35",
                        linewidths=0.6,
                        alpha=0.25,
                        zorder=1,
                    ),
                    autolim=False,
                )
            )

    segments = list(join_segments(plane))
    joins = ax.add_collection(
        LineCollection(
            segments,
            colors="0.55",
            linewidths=0.5,
            # Many epochs make many lines: keep their sum faint.
            alpha=float(np.clip(20 / max(len(segments), 1), 0.06, 0.4)),
            zorder=2,
        ),
        autolim=False,
    )

    scatters, handles = [], []
    hidden = sum(name != "output" for name in result.layers)
    for layer, name in enumerate(result.layers):
        is_output = name == "output"
        marker = OUTPUT_MARKER if is_output else MARKERS[layer % len(MARKERS)]
        # Shallower layers are drawn first and larger, so layers that sit on one
        # point (e.g. every wide layer at ln N, each sample its own bin) stay
        # visible as nested markers.
        size = 70 if is_output else 22 * (1 + 0.5 * (hidden - 1 - layer))
        scatters.append(
            ax.scatter(
                *offsets(plane, layer).T,
                c=colour_values,
                cmap=cmap,
                norm=norm,
                marker=marker,
                s=size,
                edgecolors="0.15" if is_output else "none",
                linewidths=0.4,
                zorder=4 if is_output else 3,
                label=name.replace("$", r"\$"),  # as written, not as mathtext
            )
        )
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker=marker,
                markersize=9 if is_output else 6,
                markerfacecolor="0.7",
                markeredgecolor="0.15",
                label=name.replace("$", r"\$"),  # as written, not as mathtext
            )
        )

    ib_line = None
    if ib_curve is not None:
        (ib_line,) = ax.plot(
            *ib_points(result, ib_curve),
            color="black",
            lw=1.2,
            zorder=2.5,
            label="IB bound",
        )
        handles.append(ib_line)
    if spread:
        handles.append(
            Line2D([], [], color="0.35", lw=0.6, alpha=0.5, label="single seeds")
        )

    info = result.info or {}
    bounds = [_h_x(info), info.get("i_xy")]
    for value, line in zip(bounds, (ax.axvline, ax.axhline), strict=True):
        if value is not None and np.isfinite(value):
            line(value, color="0.6", ls=":", lw=0.8, zorder=0)
    if any(value is not None for value in bounds):
        # In the legend rather than as text by the lines, where points often lie.
        handles.append(
            Line2D([], [], color="0.6", ls=":", lw=0.8, label=_bounds_label(info))
        )

    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel(f"I(X;T) [{result.units}]")
    ax.set_ylabel(f"I(T;Y) [{result.units}]")
    ax.set_title(_plane_title(result, estimator), parse_math=False)
    title = f"mean of {plane.n_seeds} seeds" if spread else None
    if plane.left_out:
        title = f"{title or '1 seed'} ({plane.left_out} diverged, left out)"
    legend = ax.legend(handles=handles, loc="best", title=title)
    return PlaneArtists(
        ax.figure, ax, tuple(scatters), joins, None, tuple(spread), ib_line, legend
    )


def plane(
    result: "Result",
    *,
    ax: Axes | None,
    estimator: "int | str",
    seeds: "str | int",
    cmap,
    xlim: tuple[float, float] | None,
    ylim: tuple[float, float] | None,
    ib_curve,
    colorbar: bool,
) -> PlaneArtists:
    """One information plane and its colour bar, on ``ax`` or a new figure."""
    data = plane_data(result, estimator, seeds)
    e = estimator_index(result, estimator)
    default_x, default_y = default_limits(result, [data], ib_curve)
    with own_style(ax):
        if ax is None:
            ax = new_figure(figsize=(6.4, 4.8)).add_subplot()
        norm = epoch_norm(data.epochs)
        drawn = draw_plane(
            ax,
            result,
            data,
            estimator=e,
            norm=norm,
            cmap=cmap,
            xlim=xlim or default_x,
            ylim=ylim or default_y,
            ib_curve=ib_curve,
        )
        if colorbar:
            bar = ax.figure.colorbar(
                ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="epoch"
            )
            drawn = drawn._replace(colorbar=bar)
    return drawn


def plane_figure(result: "Result", *, panel=(5.6, 4.6), ib_curve=None) -> Figure:
    """One plane per estimator side by side, shared limits and one colour bar.

    For files and inline HTML: the figure is unknown to pyplot.
    """
    planes = [plane_data(result, e, "mean") for e in range(len(result.estimators))]
    xlim, ylim = default_limits(result, planes, ib_curve)
    norm = epoch_norm(planes[0].epochs)
    with mpl.rc_context(STYLE):
        figure = agg_figure(figsize=(panel[0] * len(planes) + 0.8, panel[1]))
        axes = figure.subplots(1, len(planes), squeeze=False)[0]
        for e, (ax, data) in enumerate(zip(axes, planes, strict=True)):
            draw_plane(
                ax,
                result,
                data,
                estimator=e,
                norm=norm,
                cmap="viridis",
                xlim=xlim,
                ylim=ylim,
                ib_curve=ib_curve,
            )
        figure.colorbar(
            ScalarMappable(norm=norm, cmap="viridis"), ax=list(axes), label="epoch"
        )
    return figure
