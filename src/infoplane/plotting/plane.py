"""The information plane of a run: I(T;Y) against I(X;T) per layer and epoch."""

import base64
import io
from typing import TYPE_CHECKING

from matplotlib.axes import Axes

from . import _plane

if TYPE_CHECKING:
    from ..results import Result

__all__ = ["plane_png_base64", "plot_plane"]


def plot_plane(
    result: "Result",
    *,
    ax: Axes | None = None,
    estimator: "int | str" = 0,
    seeds: "str | int" = "mean",
    cmap="viridis",
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    ib_curve=None,
    colorbar: bool = True,
) -> Axes:
    """Draw the information plane: I(T;Y) against I(X;T) per layer and epoch.

    Each layer is one marker style (the output layer a star), each point coloured by
    its epoch (a symmetric-log colour scale for log-spaced schedules), and a faint
    grey line joins the layers of each measured epoch.

    Args:
        result: the run to draw.
        ax: where to draw; when None, a new pyplot figure (which a notebook shows
            and ``plt.savefig`` writes).
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
        The Axes drawn on.

    Raises:
        ValueError: unknown estimator or seed.

    Examples:
        >>> import infoplane as ip
        >>> result = ip.run(ip.preset("seed", epochs=100, measure="every:10"))
        >>> ax = plot_plane(result, seeds="all")
        >>> ax.figure.savefig("plane.png", dpi=150)
    """
    drawn = _plane.plane(
        result,
        ax=ax,
        estimator=estimator,
        seeds=seeds,
        cmap=cmap,
        xlim=xlim,
        ylim=ylim,
        ib_curve=ib_curve,
        colorbar=colorbar,
    )
    return drawn.ax


def plane_png_base64(result: "Result") -> str:
    """A small PNG of the information plane(s), base64 text for inline HTML."""
    figure = _plane.plane_figure(result, panel=(5, 4))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
