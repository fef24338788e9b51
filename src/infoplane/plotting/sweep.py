"""Pictures of a sweep: planes side by side, and epochs against depth."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from ._plane import (
    STYLE,
    default_limits,
    draw_plane,
    epoch_norm,
    new_figure,
    own_style,
    plane_data,
)

if TYPE_CHECKING:
    from ..results import Result

__all__ = ["plot_depth", "plot_sweep"]


def plot_sweep(results: "Sequence[Result]", labels: Sequence[str]) -> Figure:
    """Information planes of a sweep side by side: one column per point, one row per
    estimator, with shared axes per row and one colour scale.

    Args:
        results: one Result per sweep point, all with the same estimators.
        labels: a title for each column, e.g. ``"activation=relu"``.

    Returns:
        A new pyplot figure (which a notebook shows and ``plt.savefig`` writes).
    """
    estimators = results[0].estimators
    norm = epoch_norm(np.concatenate([np.asarray(r.epochs) for r in results]))
    with mpl.rc_context(STYLE):
        figure = new_figure(figsize=(4.6 * len(results) + 0.8, 4.0 * len(estimators)))
        grid = figure.subplots(len(estimators), len(results), squeeze=False)
        for e, row in enumerate(grid):
            planes = [plane_data(r, e, "mean") for r in results]
            limits = [
                default_limits(r, [p], None)
                for r, p in zip(results, planes, strict=True)
            ]
            xlim = (0.0, max(x[1] for x, _ in limits))
            ylim = (0.0, max(y[1] for _, y in limits))
            for ax, result, plane, label in zip(
                row, results, planes, labels, strict=True
            ):
                draw_plane(
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
        ax: where to draw; when None, a new pyplot figure (which a notebook shows
            and ``plt.savefig`` writes).

    Returns:
        The Axes drawn on.
    """
    with own_style(ax):
        if ax is None:
            ax = new_figure(figsize=(5.6, 4.0)).add_subplot()
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
