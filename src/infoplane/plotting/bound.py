"""The information bottleneck bound of a task on its own information plane."""

from matplotlib.axes import Axes

from ..units import from_nats
from ._plane import new_figure, own_style

__all__ = ["plot_ib_curve"]


def plot_ib_curve(
    curve, *, units: str = "bits", ax: Axes | None = None, title: str = ""
) -> Axes:
    """Draw an information bottleneck curve on its own information plane.

    Args:
        curve: an :class:`~infoplane.ib.IBCurve` in nats.
        units: ``"nats"`` or ``"bits"`` for the axes.
        ax: where to draw; when None, a new pyplot figure (which a notebook shows
            and ``plt.savefig`` writes).
        title: a title, e.g. the task's name.

    Returns:
        The Axes drawn on.
    """
    x, y = from_nats(curve.i_xt, units), from_nats(curve.i_ty, units)
    with own_style(ax):
        if ax is None:
            ax = new_figure(figsize=(5.6, 4.2)).add_subplot()
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
