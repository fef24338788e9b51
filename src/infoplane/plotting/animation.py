"""The animated information plane.

One frame per measured epoch: each layer's trajectory grows, a faint line joins the
layers at the current epoch, the epoch is in the title. Frames are rendered by updating
the artists built once; the still parts (axes, colour bar, legend) are drawn once into
images, so a frame costs only its points, lines and title. GIF needs only matplotlib
and Pillow; MP4 uses the ffmpeg of ``imageio-ffmpeg`` (``pip install infoplane[video]``)
or one on the PATH. In a notebook, an animation displays itself as an HTML player."""

import contextlib
import math
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.animation import (
    AbstractMovieWriter,
    FFMpegWriter,
    FuncAnimation,
    HTMLWriter,
)
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from PIL import Image

from . import _plane
from ._plane import STYLE, Plane, PlaneArtists, agg_figure, join_segments, offsets

if TYPE_CHECKING:
    from ..results import Result

__all__ = ["PlaneAnimation", "animate", "ffmpeg_available"]


def _set_frame(drawn: PlaneArtists, plane: Plane, frame: int, title: str) -> None:
    """Show the epochs up to ``frame``, the layers joined at ``frame`` only."""
    series = plane.x.shape[0]
    end = (frame + 1) * series
    colour_values = np.repeat(plane.epochs[: frame + 1], series)
    for layer, scatter in enumerate(drawn.scatters):
        scatter.set_offsets(offsets(plane, layer)[:end])
        scatter.set_array(colour_values)
    drawn.joins.set_segments(list(join_segments(plane)[frame * series : end]))
    for layer, collection in enumerate(drawn.spread):
        tracks = np.stack(
            [plane.seed_x[:, : frame + 1, layer], plane.seed_y[:, : frame + 1, layer]],
            axis=-1,
        )
        collection.set_segments(list(tracks))
    drawn.ax.title.set_text(f"{title}, epoch {int(plane.epochs[frame])}")


def _ffmpeg_exe() -> str | None:
    """The ffmpeg of imageio-ffmpeg, else one on PATH, else None."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return shutil.which("ffmpeg")
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # the wheel's binary is missing for this platform
        return shutil.which("ffmpeg")


def ffmpeg_available() -> bool:
    """Whether :meth:`PlaneAnimation.save` can write ``.mp4`` files."""
    return _ffmpeg_exe() is not None


class _Still(Artist):
    """A rendered RGBA picture of the whole figure, drawn pixel for pixel."""

    def __init__(self, rgba: np.ndarray, zorder: float):
        super().__init__()
        # Renderers take images bottom row first.
        self._rgba = np.ascontiguousarray(rgba[::-1])
        self.set_zorder(zorder)

    def draw(self, renderer) -> None:
        gc = renderer.new_gc()
        renderer.draw_image(gc, 0, 0, self._rgba)
        gc.restore()


class _GifWriter(AbstractMovieWriter):
    """Matplotlib's PillowWriter, with one palette for all frames.

    Pillow would otherwise choose a palette per frame by median cut, which takes
    longer than drawing the frame and makes colours flicker between frames. The
    last frame holds every colour the animation shows.
    """

    def setup(self, fig, outfile, dpi=None):
        super().setup(fig, outfile, dpi=dpi)
        self._frames = []

    def grab_frame(self, **savefig_kwargs):
        # The figure's own Agg canvas at the figure's dpi: savefig would draw the
        # figure twice (once to lay it out) and copy the pixels once more.
        canvas = self.fig.canvas
        canvas.draw()
        frame = Image.frombuffer(
            "RGBA",
            canvas.get_width_height(physical=True),
            canvas.buffer_rgba(),
            "raw",
            "RGBA",
            0,
            1,
        )
        self._frames.append(frame.convert("RGB"))

    def finish(self):
        palette = self._frames[-1].quantize(method=Image.Quantize.FASTOCTREE)
        frames = [
            frame.quantize(palette=palette, dither=Image.Dither.NONE)
            for frame in self._frames
        ]
        frames[0].save(
            self.outfile,
            save_all=True,
            append_images=frames[1:],
            duration=round(1000 / self.fps),
            loop=0,
        )


class PlaneAnimation:
    """The information plane growing one measured epoch per frame.

    Wraps a :class:`matplotlib.animation.FuncAnimation` whose frames update the
    artists of one information plane (as :func:`~infoplane.plotting.plot_plane`
    draws it) in place. In a notebook it shows itself as an interactive JavaScript
    player, without ffmpeg.

    Attributes:
        figure: the animated figure, unknown to pyplot: a notebook shows the
            animation, not a still of it.
        artists: the :class:`PlaneArtists` that every frame updates.
        epochs: the epoch shown by each frame.
        fps: frames per second.
    """

    def __init__(
        self, figure: Figure, artists: PlaneArtists, plane: Plane, title: str, fps
    ):
        self.figure = figure
        self.artists = artists
        self.epochs = plane.epochs
        self.fps = fps
        self._plane = plane
        self._title = title
        self._animation: FuncAnimation | None = None
        self._html: str | None = None

    def __len__(self) -> int:
        return len(self.epochs)

    def _changing(self) -> tuple:
        drawn = self.artists
        return (*drawn.scatters, drawn.joins, *drawn.spread, drawn.ax.title)

    def frame(self, index: int) -> tuple:
        """Update the artists to frame ``index``; return the artists changed."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} out of range: {len(self)} frames")
        _set_frame(self.artists, self._plane, index, self._title)
        return self._changing()

    @property
    def animation(self) -> FuncAnimation:
        """The matplotlib animation, for matplotlib's own tools (other writers).

        :meth:`save` and :meth:`to_jshtml` do not use it: they draw each frame once,
        where ``FuncAnimation.save`` draws it twice. Made on first use because
        matplotlib warns when an animation is garbage-collected unrendered.
        """
        if self._animation is None:
            self._animation = FuncAnimation(
                self.figure,
                self.frame,
                frames=range(len(self)),
                interval=1000 / self.fps,
                cache_frame_data=False,
            )
        return self._animation

    @contextlib.contextmanager
    def _still_background(self):
        """Render what no frame changes once, as pictures below and above the rest.

        Movie writers draw the whole figure for every frame; axes, ticks, legend and
        colour bar are most of that work and never change.
        Inside this context the figure holds two pictures of them instead: one of
        everything below the data, and one of the legend (on a transparent ground)
        to lie above it. A frame then costs only its points, lines and title.
        """
        figure, drawn = self.figure, self.artists
        changing = self._changing()
        above = [drawn.legend] if drawn.legend is not None else []
        still = [figure.patch]
        for ax in figure.axes:
            if ax is drawn.ax:
                still += [a for a in ax.get_children() if a not in (*changing, *above)]
            else:
                still.append(ax)
        everything = [*changing, *above, *still]
        visible = [artist.get_visible() for artist in everything]

        def show(shown) -> None:
            for artist, was_visible in zip(everything, visible, strict=True):
                artist.set_visible(was_visible and any(artist is a for a in shown))

        def picture(shown) -> np.ndarray:
            show(shown)
            figure.canvas.draw()
            return np.asarray(figure.canvas.buffer_rgba()).copy()

        pictures = []
        try:
            below_picture = picture(still)
            above_picture = picture(above)
            show(changing)
            pictures = [
                figure.add_artist(_Still(below_picture, zorder=-1)),
                figure.add_artist(_Still(above_picture, zorder=10)),
            ]
            yield
        finally:
            for image in pictures:
                image.remove()
            for artist, was_visible in zip(everything, visible, strict=True):
                artist.set_visible(was_visible)

    def save(self, path: "str | Path") -> Path:
        """Write the animation: ``.gif`` with Pillow, ``.mp4`` with ffmpeg.

        Args:
            path: the file; its suffix picks the format. The frame size is the
                figure's (``figsize`` and ``dpi`` of :func:`animate`).

        Returns:
            ``path``.

        Raises:
            RuntimeError: ``.mp4`` without imageio-ffmpeg or an ffmpeg on PATH.
            ValueError: an unsupported suffix.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".gif":
            self._write(_GifWriter(fps=self.fps), path)
        elif suffix == ".mp4":
            exe = _ffmpeg_exe()
            if exe is None:
                raise RuntimeError(
                    "writing .mp4 needs ffmpeg: pip install infoplane[video] "
                    "(or save a .gif, which needs nothing more)"
                )
            # rcParams are global; the ffmpeg path is set for this save only.
            with mpl.rc_context({"animation.ffmpeg_path": exe}):
                self._write(FFMpegWriter(fps=self.fps), path)
        else:
            raise ValueError(
                f"cannot write an animation as {path.name!r}: use .gif or .mp4"
            )
        return path

    def _write(self, writer: AbstractMovieWriter, path: Path) -> None:
        # The writer's own loop rather than FuncAnimation.save, which draws the
        # whole figure once more per frame before the writer saves it. The writer
        # comes first: it may resize the figure (ffmpeg wants even sizes).
        with (
            writer.saving(self.figure, path, dpi=self.figure.dpi),
            self._still_background(),
        ):
            for index in range(len(self)):
                self.frame(index)
                writer.grab_frame()

    def to_jshtml(self) -> str:
        """The animation as a self-contained HTML/JavaScript player.

        As :meth:`matplotlib.animation.Animation.to_jshtml`, frames embedded as PNG
        up to ``rcParams["animation.embed_limit"]`` megabytes.
        """
        if self._html is None:
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory, "animation.html")
                self._write(HTMLWriter(fps=self.fps, embed_frames=True), path)
                self._html = path.read_text()
        return self._html

    def _repr_html_(self) -> str:
        return self.to_jshtml()

    def __repr__(self) -> str:
        return f"<PlaneAnimation: {len(self)} frames at {self.fps} fps>"


def animate(
    result: "Result",
    *,
    estimator: "int | str" = 0,
    fps: float = 15,
    seeds: "str | int" = "mean",
    cmap="viridis",
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    ib_curve=None,
    figsize: tuple[float, float] = (6.4, 4.8),
    dpi: float = 100,
) -> PlaneAnimation:
    """Animate the information plane, one frame per measured epoch.

    Each layer's points accumulate frame by frame, a line joins the layers at the
    current epoch, and the title names that epoch. The limits and colours are those
    of the whole run, so frames are comparable.

    Args:
        result: the run to animate.
        estimator, seeds, cmap, xlim, ylim, ib_curve: as in :func:`plot_plane`.
        fps: frames per second.
        figsize: figure size in inches; rounded to an even number of pixels, as
            video encoders require.
        dpi: pixels per inch of the frames.

    Returns:
        A :class:`PlaneAnimation`; ``.save("plane.gif")`` writes it.

    Examples:
        >>> import infoplane as ip
        >>> result = ip.run(ip.preset("seed", epochs=100, measure="every:10"))
        >>> path = animate(result, fps=20).save("plane.gif")
    """
    plane = _plane.plane_data(result, estimator, seeds)
    # A hair over the even pixel count, which the canvas truncates to an integer.
    width, height = ((2 * math.ceil(size * dpi / 2) + 1e-3) / dpi for size in figsize)
    with mpl.rc_context(STYLE):
        figure = agg_figure(figsize=(width, height), dpi=dpi)
        drawn = _plane.plane(
            result,
            ax=figure.add_subplot(),
            estimator=estimator,
            seeds=seeds,
            cmap=cmap,
            xlim=xlim,
            ylim=ylim,
            ib_curve=ib_curve,
            colorbar=True,
        )
        # One epoch's joining line at a time: it can be seen.
        drawn.joins.set(alpha=0.7, linewidth=0.9, color="0.4")
        title = drawn.ax.get_title()
        anim = PlaneAnimation(figure, drawn, plane, title, fps)
        # Lay out once, on the last (longest) title, then freeze the layout and the
        # title's place: frames then only redraw, and nothing jumps between them.
        anim.frame(len(anim) - 1)
        figure.canvas.draw()
        figure.set_layout_engine("none")
        drawn.ax.set_title(
            drawn.ax.get_title(), y=drawn.ax.title.get_position()[1], parse_math=False
        )
        # Where "best" put the legend with every point drawn, for every frame.
        corner = drawn.legend.get_window_extent().transformed(
            drawn.ax.transAxes.inverted()
        )
        drawn.legend.set_loc((corner.x0, corner.y0))
        anim.frame(0)
    return anim
