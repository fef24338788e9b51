"""Curves over epochs: training loss and accuracy, gradient mean and spread."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis import averaged, gradient_norms, nan_mean, snr_transition
from ._plane import log_spaced, new_figure, own_style

if TYPE_CHECKING:
    from ..results import Result

__all__ = ["has_curves", "plot_curves", "plot_snr"]

METRICS = ("loss", "accuracy")


def has_curves(result: "Result", metrics: Sequence[str] = METRICS) -> bool:
    """Whether ``result`` holds a train or test curve of any of ``metrics`` (a run
    always does; a recorded result when the user gave them)."""
    return any(
        f"{split}_{metric}" in result.arrays
        for split in ("train", "test")
        for metric in metrics
    )


def _band_axes(ax, n: int, *, figsize) -> tuple[Figure, tuple[Axes, ...]]:
    if ax is None:
        figure = new_figure(figsize=figsize)
        return figure, tuple(figure.subplots(1, n, squeeze=False)[0])
    axes = (ax,) if isinstance(ax, Axes) else tuple(ax)
    if len(axes) != n:
        raise ValueError(f"give one Axes per panel ({n}), got {len(axes)}")
    return axes[0].figure, axes


def plot_curves(
    result: "Result",
    *,
    ax: "Axes | Sequence[Axes] | None" = None,
    metrics: Sequence[str] = ("loss", "accuracy"),
) -> Figure:
    """Draw train and test loss and accuracy over epochs.

    With several seeds, each curve is the mean over seeds inside a band from the
    minimum to the maximum. A panel's lines are labelled ``"train"`` and ``"test"``.

    Args:
        result: the run to draw.
        ax: one Axes per metric; when None, a new pyplot figure (which a notebook
            shows and ``plt.savefig`` writes) with one panel each and a title.
        metrics: which of ``"loss"`` and ``"accuracy"`` to draw, one panel each.

    Returns:
        The figure holding the panels.

    Raises:
        ValueError: an unknown metric, the wrong number of Axes, or a result with
            none of these curves (a recorded result without ``metrics``).
    """
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for metric in metrics:
        if metric not in METRICS:
            raise ValueError(f'metrics must be "loss" or "accuracy", got {metric!r}')
    if not has_curves(result, metrics):
        raise ValueError(
            f"this result has no {' or '.join(metrics)} curves; record them with "
            "InformationPlane.record(..., metrics={'train_loss': ...})"
        )
    epochs = np.asarray(result.epochs)
    seeds = averaged(result)  # as the planes: the networks that did not diverge
    n_seeds = int(seeds.sum())
    with own_style(ax):
        figure, axes = _band_axes(ax, len(metrics), figsize=(4.2 * len(metrics), 3.6))
        for panel, metric in zip(axes, metrics, strict=True):
            for split, colour in (("train", "C0"), ("test", "C1")):
                name = f"{split}_{metric}"
                if name not in result.arrays:
                    continue
                values = np.asarray(result.arrays[name], float)[seeds]
                panel.plot(epochs, values.mean(0), color=colour, lw=1.5, label=split)
                if values.shape[0] > 1:
                    panel.fill_between(
                        epochs,
                        values.min(0),
                        values.max(0),
                        color=colour,
                        alpha=0.2,
                        lw=0,
                    )
            if log_spaced(epochs):
                panel.set_xscale("symlog", linthresh=1)
            panel.set_xlabel("epoch")
            panel.set_ylabel(metric)
            panel.legend()
        if ax is None:
            spread = f", mean and range of {n_seeds} seeds" if n_seeds > 1 else ""
            figure.suptitle(f"{result.name}: training{spread}", parse_math=False)
    return figure


def _weight_layer_names(count: int) -> list[str]:
    return [f"layer {i + 1}" for i in range(count - 1)] + ["output"]


def plot_snr(result: "Result", *, ax: Axes | None = None) -> Axes:
    """Draw per-layer gradient mean and spread norms over epochs, log-log.

    Solid lines are the norm of the mean gradient (the drift), dashed lines the
    norm of its standard deviation over mini-batches (the diffusion), each averaged
    over seeds; a vertical line marks :func:`snr_transition`. The x axis is
    epoch + 1 so that epoch 0 has a place on it.

    Args:
        result: a run with gradient statistics.
        ax: where to draw; when None, a new pyplot figure (which a notebook shows
            and ``plt.savefig`` writes).

    Returns:
        The Axes drawn on.

    Raises:
        ValueError: the result has no gradient statistics.
    """
    mean, std = gradient_norms(result)
    x = np.asarray(result.epochs) + 1
    transition = snr_transition(result)
    with own_style(ax):
        if ax is None:
            ax = new_figure(figsize=(6.4, 4.4)).add_subplot()
        handles = []
        for layer, name in enumerate(_weight_layer_names(mean.shape[2])):
            colour = f"C{layer % 10}"
            ax.plot(x, nan_mean(mean[:, :, layer], 0), color=colour, lw=1.4)
            ax.plot(x, nan_mean(std[:, :, layer], 0), color=colour, lw=1.4, ls="--")
            handles.append(Line2D([], [], color=colour, lw=3, label=name))
        handles += [
            Line2D([], [], color="0.2", lw=1.4, label="‖mean‖"),
            Line2D([], [], color="0.2", lw=1.4, ls="--", label="‖std‖"),
        ]
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
            f"{result.name}: gradient mean and spread{over}",
            parse_math=False,
        )
        ax.legend(handles=handles, ncols=2)
    return ax
