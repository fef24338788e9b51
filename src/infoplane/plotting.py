"""Pictures of a Result: the information plane, training curves, gradient SNR.

Every function takes a :class:`~infoplane.Result`, draws on a matplotlib ``Axes``
(its own ``matplotlib.figure.Figure`` when none is given) and returns the artists it
drew. Nothing here touches pyplot or its global state, so pictures are made the same
way in a script, a notebook, a test or a headless server; files are rendered with the
Agg canvas.

Examples:
    >>> import infoplane as ip
    >>> from infoplane import plotting
    >>> result = ip.run(ip.preset("seed", epochs=200, measure="every:10"))
    >>> drawn = plotting.plot_plane(result)
    >>> drawn.figure.savefig("plane.png", dpi=150)

References:
    Shwartz-Ziv & Tishby (2017), "Opening the black box of deep neural networks via
    information", arXiv:1703.00810: the information plane, its animation and the
    drift-to-diffusion transition in the gradient signal-to-noise ratio.
"""

import base64
import contextlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
import numpy as np
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D

from .results import Result
from .units import UNITS, from_nats

__all__ = [
    "CurveArtists",
    "PlaneArtists",
    "SNRArtists",
    "plane_png_base64",
    "plot_curves",
    "plot_depth",
    "plot_ib_curve",
    "plot_plane",
    "plot_snr",
    "plot_sweep",
    "snr_transition",
    "write_pictures",
]

# Applied only to figures this module creates; a caller's own Axes keep their style.
_STYLE = {
    "font.size": 10,
    "axes.titlesize": "medium",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": "small",
}
_MARKERS = ("o", "s", "^", "D", "v", "p", "h", "<", ">", "P", "X")
_OUTPUT_MARKER = "*"
_PNG_DPI = 150


class PlaneArtists(NamedTuple):
    """What :func:`plot_plane` drew.

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


class CurveArtists(NamedTuple):
    """What :func:`plot_curves` drew.

    Attributes:
        figure: the figure.
        axes: one Axes per metric.
        lines: mean curves by array name (``"train_loss"``, ``"test_accuracy"``...).
        bands: min-max bands over seeds by array name; empty with one seed.
    """

    figure: Figure
    axes: tuple[Axes, ...]
    lines: dict[str, Line2D]
    bands: dict[str, PolyCollection]


class SNRArtists(NamedTuple):
    """What :func:`plot_snr` drew.

    Attributes:
        figure: the figure.
        ax: the log-log axes.
        mean_lines: norm of the mean gradient, one line per weight layer.
        std_lines: norm of the gradient's standard deviation, one per weight layer.
        transition: the epoch from :func:`snr_transition`, or None.
        transition_line: the vertical line at it, or None.
    """

    figure: Figure
    ax: Axes
    mean_lines: tuple[Line2D, ...]
    std_lines: tuple[Line2D, ...]
    transition: int | None
    transition_line: Line2D | None


def _new_figure(**kwargs) -> Figure:
    figure = Figure(layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def _own_style(ax) -> contextlib.AbstractContextManager:
    return mpl.rc_context(_STYLE) if ax is None else contextlib.nullcontext()


def _log_spaced(epochs: np.ndarray) -> bool:
    """True for schedules like ``log:N``: over two decades, crowded at the start.

    The span alone would also flag ``every:20`` (0 to 2980), so the median must also
    sit in the first tenth of the run, which evenly spaced epochs never do.
    """
    if len(epochs) < 3:
        return False
    lo, hi = float(epochs.min()), float(epochs.max())
    return (hi + 1) / (lo + 1) > 100 and float(np.median(epochs)) - lo < 0.1 * (hi - lo)


def _epoch_norm(epochs: np.ndarray) -> colors.Normalize:
    lo, hi = float(epochs.min()), float(epochs.max())
    hi = max(hi, lo + 1)
    if _log_spaced(epochs):
        # Symmetric-log rather than log: epoch 0 is a measured epoch.
        return colors.SymLogNorm(linthresh=1, linscale=0.5, vmin=lo, vmax=hi, base=10)
    return colors.Normalize(lo, hi)


def _estimator_index(result: Result, estimator: "int | str") -> int:
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


class _Plane(NamedTuple):
    """Plane coordinates of one estimator: ``x``, ``y`` (series, epoch, layer)."""

    x: np.ndarray
    y: np.ndarray
    seed_x: np.ndarray | None  # (seed, epoch, layer) when several seeds are averaged
    seed_y: np.ndarray | None
    epochs: np.ndarray
    n_seeds: int


def _plane_data(result: Result, estimator: "int | str", seeds) -> _Plane:
    e = _estimator_index(result, estimator)
    xt = np.asarray(result.i_xt[..., e], float)
    ty = np.asarray(result.i_ty[..., e], float)
    n_seeds = xt.shape[0]
    epochs = np.asarray(result.epochs)
    if isinstance(seeds, str) and seeds == "mean":
        if n_seeds == 1:
            return _Plane(xt, ty, None, None, epochs, 1)
        return _Plane(xt.mean(0)[None], ty.mean(0)[None], xt, ty, epochs, n_seeds)
    if isinstance(seeds, str) and seeds == "all":
        return _Plane(xt, ty, None, None, epochs, n_seeds)
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        if not -n_seeds <= seeds < n_seeds:
            raise ValueError(f"seed index must be in [0, {n_seeds}), got {seeds}")
        return _Plane(xt[[seeds]], ty[[seeds]], None, None, epochs, 1)
    raise ValueError(f'seeds must be "mean", "all" or a seed index, got {seeds!r}')


def _ib_points(result: Result, ib_curve) -> tuple[np.ndarray, np.ndarray]:
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


def _default_limits(result: Result, planes: Sequence[_Plane], ib_curve):
    info = result.info or {}
    xs = [info.get("h_x")] + [a for p in planes for a in (p.x, p.seed_x)]
    ys = [info.get("i_xy")] + [a for p in planes for a in (p.y, p.seed_y)]
    if ib_curve is not None:
        ib_x, ib_y = _ib_points(result, ib_curve)
        xs.append(ib_x)
        ys.append(ib_y)
    # A little beyond the largest value so that points on H(X) or I(X;Y) show whole.
    return (0.0, 1.05 * _finite_max(*xs)), (0.0, 1.05 * _finite_max(*ys))


def _plane_title(result: Result, e: int) -> str:
    name = result.experiment.name
    if len(result.estimators) > 1:
        return f"{name}: {result.estimators[e]}"
    return name


def _offsets(plane: _Plane, layer: int) -> np.ndarray:
    """Points of one layer, epoch-major so that a frame's points are a prefix."""
    xy = np.stack([plane.x[:, :, layer], plane.y[:, :, layer]], axis=-1)
    return xy.transpose(1, 0, 2).reshape(-1, 2)


def _join_segments(plane: _Plane) -> np.ndarray:
    """One polyline through the layers per (epoch, series), epoch-major."""
    xy = np.stack([plane.x, plane.y], axis=-1)  # (series, epoch, layer, 2)
    return xy.transpose(1, 0, 2, 3).reshape(-1, xy.shape[2], 2)


def _draw_plane(
    ax: Axes,
    result: Result,
    plane: _Plane,
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

    segments = list(_join_segments(plane))
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
    for layer, name in enumerate(result.layers):
        is_output = name == "output"
        marker = _OUTPUT_MARKER if is_output else _MARKERS[layer % len(_MARKERS)]
        size = 70 if is_output else 22
        scatters.append(
            ax.scatter(
                *_offsets(plane, layer).T,
                c=colour_values,
                cmap=cmap,
                norm=norm,
                marker=marker,
                s=size,
                edgecolors="0.15" if is_output else "none",
                linewidths=0.4,
                zorder=4 if is_output else 3,
                label=name,
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
                label=name,
            )
        )

    ib_line = None
    if ib_curve is not None:
        (ib_line,) = ax.plot(
            *_ib_points(result, ib_curve),
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
    bounds = [info.get("h_x"), info.get("i_xy")]
    for value, line in zip(bounds, (ax.axvline, ax.axhline), strict=True):
        if value is not None and np.isfinite(value):
            line(value, color="0.6", ls=":", lw=0.8, zorder=0)
    if any(value is not None for value in bounds):
        # In the legend rather than as text by the lines, where points often lie.
        handles.append(
            Line2D([], [], color="0.6", ls=":", lw=0.8, label="H(X), I(X;Y)")
        )

    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel(f"I(X;T) [{result.units}]")
    ax.set_ylabel(f"I(T;Y) [{result.units}]")
    ax.set_title(_plane_title(result, estimator), parse_math=False)
    title = f"mean of {plane.n_seeds} seeds" if spread else None
    legend = ax.legend(handles=handles, loc="best", title=title)
    return PlaneArtists(
        ax.figure, ax, tuple(scatters), joins, None, tuple(spread), ib_line, legend
    )


def plot_plane(
    result: Result,
    *,
    ax: Axes | None = None,
    estimator: "int | str" = 0,
    seeds: "str | int" = "mean",
    cmap="viridis",
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    ib_curve=None,
    colorbar: bool = True,
) -> PlaneArtists:
    """Draw the information plane: I(T;Y) against I(X;T) per layer and epoch.

    Each layer is one marker style (the output layer a star), each point coloured by
    its epoch (a symmetric-log colour scale for log-spaced schedules), and a faint
    grey line joins the layers of each measured epoch.

    Args:
        result: the run to draw.
        ax: where to draw; a new figure when None.
        estimator: index or name of the estimator.
        seeds: ``"mean"`` draws the mean over seeds, with each seed's trajectory as
            a faint line behind; ``"all"`` draws every seed's points; an integer
            draws that seed alone.
        cmap: colour map for the epochs.
        xlim, ylim: axis limits; by default from 0 to a little beyond the larger of
            H(X) (resp. I(X;Y)) and the data.
        ib_curve: an object with arrays ``i_xt``, ``i_ty`` (such as
            :class:`infoplane.ib.IBCurve`), drawn as a black line "IB bound".
        colorbar: add an "epoch" colour bar beside ``ax``.

    Returns:
        The artists drawn, as a :class:`PlaneArtists`.

    Raises:
        ValueError: unknown estimator or seed.

    Examples:
        >>> import infoplane as ip
        >>> result = ip.run(ip.preset("seed", epochs=100, measure="every:10"))
        >>> drawn = plot_plane(result, seeds="all")
        >>> drawn.figure.savefig("plane.png", dpi=150)
    """
    plane = _plane_data(result, estimator, seeds)
    e = _estimator_index(result, estimator)
    default_x, default_y = _default_limits(result, [plane], ib_curve)
    with _own_style(ax):
        if ax is None:
            ax = _new_figure(figsize=(6.4, 4.8)).add_subplot()
        norm = _epoch_norm(plane.epochs)
        drawn = _draw_plane(
            ax,
            result,
            plane,
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


def _plane_figure(result: Result, *, panel=(5.6, 4.6), ib_curve=None) -> Figure:
    """One plane per estimator side by side, shared limits and one colour bar."""
    planes = [_plane_data(result, e, "mean") for e in range(len(result.estimators))]
    xlim, ylim = _default_limits(result, planes, ib_curve)
    norm = _epoch_norm(planes[0].epochs)
    with mpl.rc_context(_STYLE):
        figure = _new_figure(figsize=(panel[0] * len(planes) + 0.8, panel[1]))
        axes = figure.subplots(1, len(planes), squeeze=False)[0]
        for e, (ax, plane) in enumerate(zip(axes, planes, strict=True)):
            _draw_plane(
                ax,
                result,
                plane,
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


def _band_axes(ax, n: int, *, figsize) -> tuple[Figure, tuple[Axes, ...]]:
    if ax is None:
        figure = _new_figure(figsize=figsize)
        return figure, tuple(figure.subplots(1, n, squeeze=False)[0])
    axes = (ax,) if isinstance(ax, Axes) else tuple(ax)
    if len(axes) != n:
        raise ValueError(f"give one Axes per panel ({n}), got {len(axes)}")
    return axes[0].figure, axes


def plot_curves(
    result: Result,
    *,
    ax: "Axes | Sequence[Axes] | None" = None,
    metrics: Sequence[str] = ("loss", "accuracy"),
) -> CurveArtists:
    """Draw train and test loss and accuracy over epochs.

    With several seeds, each curve is the mean over seeds inside a band from the
    minimum to the maximum.

    Args:
        result: the run to draw.
        ax: one Axes per metric; a new figure with one panel each when None.
        metrics: which of ``"loss"`` and ``"accuracy"`` to draw, one panel each.

    Returns:
        The artists drawn, as a :class:`CurveArtists`.

    Raises:
        ValueError: an unknown metric, or the wrong number of Axes.
    """
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for metric in metrics:
        if metric not in ("loss", "accuracy"):
            raise ValueError(f'metrics must be "loss" or "accuracy", got {metric!r}')
    epochs = np.asarray(result.epochs)
    lines, bands = {}, {}
    n_seeds = result.i_xt.shape[0]
    with _own_style(ax):
        figure, axes = _band_axes(ax, len(metrics), figsize=(4.2 * len(metrics), 3.6))
        for panel, metric in zip(axes, metrics, strict=True):
            for split, colour in (("train", "C0"), ("test", "C1")):
                name = f"{split}_{metric}"
                if name not in result.arrays:
                    continue
                values = np.asarray(result.arrays[name], float)
                (lines[name],) = panel.plot(
                    epochs, values.mean(0), color=colour, lw=1.5, label=split
                )
                if values.shape[0] > 1:
                    bands[name] = panel.fill_between(
                        epochs,
                        values.min(0),
                        values.max(0),
                        color=colour,
                        alpha=0.2,
                        lw=0,
                    )
            if _log_spaced(epochs):
                panel.set_xscale("symlog", linthresh=1)
            panel.set_xlabel("epoch")
            panel.set_ylabel(metric)
            panel.legend()
        if ax is None:
            spread = f", mean and range of {n_seeds} seeds" if n_seeds > 1 else ""
            figure.suptitle(
                f"{result.experiment.name}: training{spread}", parse_math=False
            )
    return CurveArtists(figure, axes, lines, bands)


def _grad_norms(result: Result) -> tuple[np.ndarray, np.ndarray]:
    if "grad_mean_norm" not in result.arrays or "grad_std_norm" not in result.arrays:
        raise ValueError(
            "this result has no gradient statistics; run the experiment with "
            "grad_stats=True (--grad-stats on the command line)"
        )
    return (
        np.asarray(result.arrays["grad_mean_norm"], float),
        np.asarray(result.arrays["grad_std_norm"], float),
    )


def _nanmean(values: np.ndarray, axis) -> np.ndarray:
    # np.nanmean warns on all-NaN slices (epochs without gradient statistics).
    finite = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, values, 0).sum(axis) / finite.sum(axis)


def snr_transition(result: Result) -> int | None:
    """The epoch where drift gives way to diffusion in the gradients.

    The first measured epoch from which the norm of the mean gradient, averaged
    over weight layers and seeds, stays below the norm of the gradient's standard
    deviation (averaged the same way) for the rest of the run.

    Args:
        result: a run with gradient statistics.

    Returns:
        That epoch, or None if the mean is not below the spread at the end.

    Raises:
        ValueError: the result has no gradient statistics.

    References:
        Shwartz-Ziv & Tishby (2017), section 5: the drift and diffusion phases.
    """
    mean, std = _grad_norms(result)
    below = _nanmean(mean, (0, 2)) < _nanmean(std, (0, 2))
    if not below[-1]:
        return None
    above = np.flatnonzero(~below)
    first = int(above[-1]) + 1 if above.size else 0
    return int(result.epochs[first])


def _weight_layer_names(count: int) -> list[str]:
    return [f"layer {i + 1}" for i in range(count - 1)] + ["output"]


def plot_snr(result: Result, *, ax: Axes | None = None) -> SNRArtists:
    """Draw per-layer gradient mean and spread norms over epochs, log-log.

    Solid lines are the norm of the mean gradient (the drift), dashed lines the
    norm of its standard deviation over mini-batches (the diffusion), each averaged
    over seeds; a vertical line marks :func:`snr_transition`. The x axis is
    epoch + 1 so that epoch 0 has a place on it.

    Args:
        result: a run with gradient statistics.
        ax: where to draw; a new figure when None.

    Returns:
        The artists drawn, as a :class:`SNRArtists`.

    Raises:
        ValueError: the result has no gradient statistics.
    """
    mean, std = _grad_norms(result)
    x = np.asarray(result.epochs) + 1
    transition = snr_transition(result)
    with _own_style(ax):
        if ax is None:
            ax = _new_figure(figsize=(6.4, 4.4)).add_subplot()
        mean_lines, std_lines, handles = [], [], []
        for layer, name in enumerate(_weight_layer_names(mean.shape[2])):
            colour = f"C{layer % 10}"
            (m,) = ax.plot(x, _nanmean(mean[:, :, layer], 0), color=colour, lw=1.4)
            (s,) = ax.plot(
                x, _nanmean(std[:, :, layer], 0), color=colour, lw=1.4, ls="--"
            )
            mean_lines.append(m)
            std_lines.append(s)
            handles.append(Line2D([], [], color=colour, lw=3, label=name))
        handles += [
            Line2D([], [], color="0.2", lw=1.4, label="‖mean‖"),
            Line2D([], [], color="0.2", lw=1.4, ls="--", label="‖std‖"),
        ]
        line = None
        if transition is not None:
            line = ax.axvline(
                transition + 1,
                color="0.3",
                ls=":",
                lw=1.2,
                label=f"transition, epoch {transition}",
            )
            handles.append(line)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel("gradient norm")
        seeds = mean.shape[0]
        over = f", mean of {seeds} seeds" if seeds > 1 else ""
        ax.set_title(
            f"{result.experiment.name}: gradient mean and spread{over}",
            parse_math=False,
        )
        ax.legend(handles=handles, ncols=2)
    return SNRArtists(
        ax.figure, ax, tuple(mean_lines), tuple(std_lines), transition, line
    )


def plot_sweep(results: Sequence[Result], labels: Sequence[str]) -> Figure:
    """Information planes of a sweep side by side: one column per point, one row per
    estimator, with shared axes per row and one colour scale.

    Args:
        results: one Result per sweep point, all with the same estimators.
        labels: a title for each column, e.g. ``"activation=relu"``.

    Returns:
        The figure.
    """
    estimators = results[0].estimators
    norm = _epoch_norm(np.concatenate([np.asarray(r.epochs) for r in results]))
    with mpl.rc_context(_STYLE):
        figure = _new_figure(figsize=(4.6 * len(results) + 0.8, 4.0 * len(estimators)))
        grid = figure.subplots(len(estimators), len(results), squeeze=False)
        for e, row in enumerate(grid):
            planes = [_plane_data(r, e, "mean") for r in results]
            limits = [
                _default_limits(r, [p], None)
                for r, p in zip(results, planes, strict=True)
            ]
            xlim = (0.0, max(x[1] for x, _ in limits))
            ylim = (0.0, max(y[1] for _, y in limits))
            for ax, result, plane, label in zip(
                row, results, planes, labels, strict=True
            ):
                _draw_plane(
                    ax,
                    result,
                    plane,
                    estimator=e,
                    norm=norm,
                    cmap="viridis",
                    xlim=xlim,
                    ylim=ylim,
                    ib_curve=None,
                )
                ax.set_title(
                    f"{label}\n{estimators[e]}" if len(estimators) > 1 else label,
                    parse_math=False,
                )
        figure.colorbar(
            ScalarMappable(norm=norm, cmap="viridis"),
            ax=grid.ravel().tolist(),
            label="epoch",
        )
    return figure


def plot_depth(
    depths: Sequence[int],
    compression: Sequence[np.ndarray],
    converged: Sequence[np.ndarray],
    *,
    loss_threshold: float,
    ax: Axes | None = None,
) -> Axes:
    """Epochs to the compression phase and to a training loss, against depth.

    The paper's observation is that networks with more hidden layers reach both sooner.

    Args:
        depths: number of hidden layers of each sweep point.
        compression: per point, each seed's epoch of the last hidden layer's peak
            I(X;T) (see :func:`infoplane.sweeps.compression_epochs`).
        converged: per point, each seed's first epoch with training loss below
            ``loss_threshold`` (NaN where never).
        loss_threshold: the training-loss threshold, for the legend.
        ax: where to draw; a new figure when None.

    Returns:
        The Axes drawn on.
    """
    with _own_style(ax):
        if ax is None:
            ax = _new_figure(figsize=(5.6, 4.0)).add_subplot()
        for values, label, colour in (
            (compression, "compression phase starts", "C3"),
            (converged, f"training loss < {loss_threshold:g}", "C0"),
        ):
            mean = [np.nanmean(v) if np.isfinite(v).any() else np.nan for v in values]
            std = [np.nanstd(v) if np.isfinite(v).any() else np.nan for v in values]
            ax.errorbar(
                depths, mean, yerr=std, marker="o", capsize=3, color=colour, label=label
            )
        ax.set_xlabel("hidden layers")
        ax.set_ylabel("epoch (mean ± std over seeds)")
        ax.set_xticks(list(depths))
        ax.legend()
    return ax


def plot_ib_curve(
    curve, *, units: str = "bits", ax: Axes | None = None, title: str = ""
) -> Axes:
    """Draw an information bottleneck curve on its own information plane.

    Args:
        curve: an :class:`~infoplane.ib.IBCurve` in nats.
        units: ``"nats"`` or ``"bits"`` for the axes.
        ax: where to draw; a new figure when None.
        title: a title, e.g. the task's name.

    Returns:
        The Axes drawn on.
    """
    x, y = from_nats(curve.i_xt, units), from_nats(curve.i_ty, units)
    with _own_style(ax):
        if ax is None:
            ax = _new_figure(figsize=(5.6, 4.2)).add_subplot()
        ax.plot(x, y, color="k", lw=1.6, label="IB bound")
        ax.axhline(
            from_nats(curve.i_xy, units), color="0.5", ls=":", lw=1, label="I(X;Y)"
        )
        ax.set_xlim(0, 1.05 * x.max())
        ax.set_ylim(0, 1.1 * max(y.max(), 1e-12))
        ax.set_xlabel(f"I(X;T) [{units}]")
        ax.set_ylabel(f"I(T;Y) [{units}]")
        ax.set_title(title, parse_math=False)
        ax.legend(loc="lower right")
    return ax


def plane_png_base64(result: Result) -> str:
    """A small PNG of the information plane(s), base64 text for inline HTML."""
    figure = _plane_figure(result, panel=(5, 4))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_pictures(
    result: Result, directory: "str | Path", *, video: bool = True, ib_curve=None
) -> list[Path]:
    """Write every picture of a run into an existing directory.

    ``plane.png`` (one panel per estimator, one colour scale), ``curves.png``,
    ``plane.gif`` and, where ffmpeg is available, ``plane.mp4`` (with ``video``),
    and ``snr.png`` when the run recorded gradient statistics.

    Args:
        result: the run.
        directory: an existing directory.
        video: also write the animation.
        ib_curve: an information bottleneck curve (e.g. from
            :func:`infoplane.ib.task_curve`) to draw on the planes.

    Returns:
        The paths written.

    Raises:
        NotADirectoryError: ``directory`` is not an existing directory.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not an existing directory")
    written = []

    def save(figure: Figure, name: str) -> None:
        figure.savefig(directory / name, dpi=_PNG_DPI)
        written.append(directory / name)

    save(_plane_figure(result, ib_curve=ib_curve), "plane.png")
    save(plot_curves(result).figure, "curves.png")
    if "grad_mean_norm" in result.arrays:
        save(plot_snr(result).figure, "snr.png")
    if video:
        from .animation import animate, ffmpeg_available

        movie = animate(result, ib_curve=ib_curve)
        written.append(movie.save(directory / "plane.gif"))
        if ffmpeg_available():
            written.append(movie.save(directory / "plane.mp4"))
    return written
