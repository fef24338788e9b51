"""Pictures of a Result: the information plane, training curves, gradient SNR.

As in matplotlib and pandas, a plotting function draws on the ``ax`` it is given, or
else on a new pyplot figure, so that a notebook shows the picture and ``plt.savefig``
writes it; it returns the ``Axes`` drawn on (one-panel pictures) or the ``Figure``
(several panels). Importing this package does not import pyplot, and neither
:func:`write_pictures` nor :func:`animate` use it: their figures have their own Agg
canvas, and nothing is left open.

Examples:
    >>> import infoplane as ip
    >>> from infoplane import plotting
    >>> result = ip.run(ip.preset("seed", epochs=200, measure="every:10"))
    >>> ax = plotting.plot_plane(result)
    >>> ax.figure.savefig("plane.png", dpi=150)

References:
    Shwartz-Ziv & Tishby (2017), "Opening the black box of deep neural networks via
    information", arXiv:1703.00810: the information plane, its animation and the
    drift-to-diffusion transition in the gradient signal-to-noise ratio.
"""

from ..analysis import snr_transition  # analysis; kept here for old callers
from ._plane import PlaneArtists, offscreen
from .animation import PlaneAnimation, animate, ffmpeg_available
from .bound import plot_ib_curve
from .curves import plot_curves, plot_snr
from .pictures import write_pictures
from .plane import plane_png_base64, plot_plane
from .sweep import plot_depth, plot_sweep

__all__ = [
    "PlaneAnimation",
    "PlaneArtists",
    "animate",
    "ffmpeg_available",
    "offscreen",
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
