"""Every picture of a run, written to files."""

from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from ._plane import offscreen, plane_figure
from .animation import animate, ffmpeg_available
from .curves import has_curves, plot_curves, plot_snr

if TYPE_CHECKING:
    from ..results import Result

__all__ = ["write_pictures"]

_PNG_DPI = 150


def write_pictures(
    result: "Result", directory: "str | Path", *, video: bool = True, ib_curve=None
) -> list[Path]:
    """Write every picture of a run into an existing directory.

    ``plane.png`` (one panel per estimator, one colour scale), ``curves.png``
    (when the result has loss or accuracy curves: always for a run), ``plane.gif``
    and, where ffmpeg is available, ``plane.mp4`` (with ``video``), and ``snr.png``
    when the run recorded gradient statistics. The figures are
    not pyplot's: none is left open, and pyplot is not imported.

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

    save(plane_figure(result, ib_curve=ib_curve), "plane.png")
    with offscreen():
        drawn = [m for m in ("loss", "accuracy") if has_curves(result, (m,))]
        if drawn:  # a recorder's result may hold a loss alone, or an accuracy
            save(plot_curves(result, metrics=drawn), "curves.png")
        if "grad_mean_norm" in result.arrays:
            save(plot_snr(result).figure, "snr.png")
    if video:
        movie = animate(result, ib_curve=ib_curve)
        written.append(movie.save(directory / "plane.gif"))
        if ffmpeg_available():
            written.append(movie.save(directory / "plane.mp4"))
    return written
