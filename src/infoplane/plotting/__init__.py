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

from ._plane import PlaneArtists
from .animation import PlaneAnimation, animate, ffmpeg_available
from .bound import plot_ib_curve
from .curves import CurveArtists, SNRArtists, plot_curves, plot_snr, snr_transition
from .pictures import write_pictures
from .plane import plane_png_base64, plot_plane
from .sweep import plot_depth, plot_sweep

__all__ = [
    "CurveArtists",
    "PlaneAnimation",
    "PlaneArtists",
    "SNRArtists",
    "animate",
    "ffmpeg_available",
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
