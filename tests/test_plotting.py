"""Tests of infoplane.plotting: what each picture drew, and that it renders."""

import base64
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib import colors
from matplotlib.figure import Figure
from PIL import Image

import infoplane as ip
from infoplane import plotting
from infoplane.plotting import animation

ESTIMATORS = ("binning:bins=30,range=-1:1", "binning:bins=10,range=-1:1")
LAYERS = ("layer 1", "layer 2", "output")


def make_result(
    *,
    seeds: int = 2,
    epochs=None,
    estimators=ESTIMATORS[:1],
    units: str = "bits",
    grad: bool = False,
    name: str = "synthetic",
) -> ip.Result:
    """A Result with smooth made-up trajectories; no training."""
    epochs = np.arange(0, 200, 20) if epochs is None else np.asarray(epochs)
    n_epochs, n_layers = len(epochs), len(LAYERS)
    exp = ip.Experiment(
        name=name,
        hidden=(8, 6),
        measure_output=True,
        estimators=estimators,
        units=units,
        grad_stats=grad,
        seeds=seeds,
    )
    t = np.linspace(0, 1, n_epochs)[None, :, None, None]
    seed = np.arange(seeds)[:, None, None, None]
    layer = np.arange(n_layers)[None, None, :, None]
    estimator = np.arange(len(estimators))[None, None, None, :]
    # Deeper layers keep less; later epochs know more about Y and (after a peak)
    # less about X, as in the information plane of Shwartz-Ziv & Tishby.
    i_xt = (8 - 2 * layer) * (1 - 0.3 * t * (1 - t)) + 0.05 * seed + 0.1 * estimator
    i_ty = (0.2 + 0.7 * t) * (1 - 0.1 * layer) + 0.01 * seed
    shape = (seeds, n_epochs, n_layers, len(estimators))
    arrays = {
        "epochs": epochs,
        "i_xt": np.broadcast_to(i_xt, shape).copy(),
        "i_ty": np.broadcast_to(i_ty, shape).copy(),
    }
    curve = np.linspace(0.7, 0.3, n_epochs)[None] + 0.01 * np.arange(seeds)[:, None]
    arrays |= {
        "train_loss": curve,
        "test_loss": curve + 0.05,
        "train_accuracy": 1 - curve,
        "test_accuracy": 0.95 - curve,
    }
    if grad:
        decay = np.exp(-np.arange(n_epochs) / 3)[None, :, None]
        arrays["grad_mean_norm"] = np.broadcast_to(decay, (seeds, n_epochs, 3)).copy()
        arrays["grad_std_norm"] = np.full((seeds, n_epochs, 3), 0.2)
    info = {"h_x": 10.0, "i_xy": 1.0}
    return ip.Result(exp, arrays, LAYERS, exp.estimators, info)


def with_grads(result: ip.Result, mean: np.ndarray, std: np.ndarray) -> ip.Result:
    arrays = {**result.arrays, "grad_mean_norm": mean, "grad_std_norm": std}
    return ip.Result(
        result.experiment, arrays, result.layers, result.estimators, result.info
    )


def is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def test_importing_plotting_leaves_pyplot_alone():
    code = "import sys, infoplane.plotting; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_plot_plane_draws_one_scatter_per_layer_and_labels(tmp_path):
    result = make_result()
    drawn = plotting.plot_plane(result)
    assert isinstance(drawn.figure, Figure)
    assert len(drawn.scatters) == len(LAYERS)
    assert all(len(s.get_offsets()) == len(result.epochs) for s in drawn.scatters)
    assert drawn.ax.get_xlabel() == "I(X;T) [bits]"
    assert drawn.ax.get_ylabel() == "I(T;Y) [bits]"
    assert drawn.colorbar.ax.get_ylabel() == "epoch"
    assert drawn.ax.get_title() == "synthetic"
    # One line through the layers per measured epoch.
    assert len(drawn.joins.get_segments()) == len(result.epochs)
    assert all(len(segment) == len(LAYERS) for segment in drawn.joins.get_segments())
    legend = [t.get_text() for t in drawn.legend.get_texts()]
    assert legend[: len(LAYERS)] == list(LAYERS)
    markers = [s.get_paths()[0] for s in drawn.scatters]
    assert len({len(p.vertices) for p in markers}) == len(LAYERS)  # all distinct
    drawn.figure.savefig(tmp_path / "plane.png")
    assert is_png((tmp_path / "plane.png").read_bytes())


def test_plot_plane_colours_points_by_epoch():
    result = make_result()
    drawn = plotting.plot_plane(result)
    np.testing.assert_array_equal(drawn.scatters[0].get_array(), result.epochs)
    assert type(drawn.scatters[0].norm) is colors.Normalize
    assert drawn.scatters[0].norm.vmax == result.epochs.max()


def test_log_spaced_epochs_get_a_log_colour_scale():
    # The epochs of the schedule log:40 over 3000 epochs (training.LogSpaced).
    epochs = np.unique(np.round(np.geomspace(1, 3000, 40))).astype(int) - 1
    drawn = plotting.plot_plane(make_result(epochs=epochs))
    assert isinstance(drawn.scatters[0].norm, colors.SymLogNorm)
    # every:20 over 3000 epochs also spans three decades, but is evenly spaced.
    drawn = plotting.plot_plane(make_result(epochs=np.arange(0, 3000, 20)))
    assert not isinstance(drawn.scatters[0].norm, colors.SymLogNorm)


def test_mean_of_seeds_draws_each_seed_faintly():
    result = make_result(seeds=3)
    drawn = plotting.plot_plane(result)
    np.testing.assert_allclose(
        drawn.scatters[1].get_offsets()[:, 0], result.i_xt[:, :, 1, 0].mean(0)
    )
    assert len(drawn.spread) == len(LAYERS)
    assert all(len(c.get_segments()) == 3 for c in drawn.spread)


def test_all_seeds_draws_every_point():
    result = make_result(seeds=3)
    drawn = plotting.plot_plane(result, seeds="all")
    n = 3 * len(result.epochs)
    assert all(len(s.get_offsets()) == n for s in drawn.scatters)
    assert len(drawn.joins.get_segments()) == n
    assert drawn.spread == ()


def test_one_seed_and_one_estimator_by_name():
    result = make_result(seeds=3, estimators=ESTIMATORS)
    drawn = plotting.plot_plane(result, seeds=2, estimator=ESTIMATORS[1])
    np.testing.assert_allclose(
        drawn.scatters[0].get_offsets()[:, 0], result.i_xt[2, :, 0, 1]
    )
    assert drawn.ax.get_title() == f"synthetic: {ESTIMATORS[1]}"


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"seeds": "median"}, "seeds must be"),
        ({"seeds": 5}, "seed index"),
        ({"estimator": 3}, "estimator index"),
        ({"estimator": "kde"}, "not in this result"),
    ],
)
def test_plot_plane_rejects_bad_options(option, match):
    with pytest.raises(ValueError, match=match):
        plotting.plot_plane(make_result(), **option)


def test_default_limits_cover_entropy_and_data():
    drawn = plotting.plot_plane(make_result())
    xlim, ylim = drawn.ax.get_xlim(), drawn.ax.get_ylim()
    assert xlim[0] == ylim[0] == 0
    assert 10.0 < xlim[1] < 11  # H(X) = 10 is above every point
    assert 1.0 < ylim[1] < 1.1  # I(X;Y) = 1 is above every point
    drawn = plotting.plot_plane(make_result(), xlim=(1, 2), ylim=(0, 5))
    assert (drawn.ax.get_xlim(), drawn.ax.get_ylim()) == ((1, 2), (0, 5))


def test_ib_curve_is_converted_to_the_result_units():
    curve = SimpleNamespace(
        i_xt=np.array([0.0, 1.0, 2.0]), i_ty=np.array([0, 0.5, 0.6])
    )
    drawn = plotting.plot_plane(make_result(units="bits"), ib_curve=curve)
    assert drawn.ib_line.get_label() == "IB bound"
    # bits = nats / ln 2, exactly (units.UNITS).
    np.testing.assert_allclose(drawn.ib_line.get_xdata(), curve.i_xt / math.log(2))
    np.testing.assert_allclose(drawn.ib_line.get_ydata(), curve.i_ty / math.log(2))
    assert "IB bound" in [t.get_text() for t in drawn.legend.get_texts()]


def test_plot_plane_draws_on_a_given_axes():
    figure = Figure()
    ax = figure.add_subplot(121)
    drawn = plotting.plot_plane(make_result(), ax=ax, colorbar=False)
    assert drawn.ax is ax
    assert drawn.figure is figure
    assert drawn.colorbar is None


def test_animation_updates_the_same_artists_to_each_frame():
    result = make_result(seeds=2)
    anim = animation.animate(result)
    assert len(anim) == len(result.epochs)
    ax = anim.artists.ax
    collections = list(ax.collections)
    anim.frame(4)
    assert ax.get_title().endswith(f"epoch {result.epochs[4]}")
    assert all(len(s.get_offsets()) == 5 for s in anim.artists.scatters)
    assert len(anim.artists.joins.get_segments()) == 1  # the current epoch only
    assert all(len(c.get_segments()[0]) == 5 for c in anim.artists.spread)
    assert list(ax.collections) == collections  # updated, not drawn again
    anim.frame(len(anim) - 1)
    assert ax.get_title() == f"synthetic, epoch {result.epochs[-1]}"


def test_animation_saves_a_gif_with_one_frame_per_epoch(tmp_path):
    result = make_result()
    path = animation.animate(result, fps=10).save(tmp_path / "plane.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == len(result.epochs)
        assert gif.info["duration"] == 100


def test_gif_frames_look_like_the_figure_drawn_whole(tmp_path):
    # Frames are drawn over still pictures of the axes and legend (for speed); they
    # must match a full draw of the figure, up to the GIF's 256-colour palette.
    anim = animation.animate(make_result(seeds=3))
    path = anim.save(tmp_path / "plane.gif")
    assert anim.figure.artists == []  # the still pictures are gone again
    assert anim.artists.legend.get_visible()
    with Image.open(path) as gif:
        for index in (0, len(anim) - 1):
            anim.frame(index)
            anim.figure.canvas.draw()
            whole = np.asarray(anim.figure.canvas.buffer_rgba())[..., :3]
            gif.seek(index)
            frame = np.asarray(gif.convert("RGB"))
            difference = np.abs(whole.astype(int) - frame.astype(int))
            assert difference.max() < 40
            assert difference.mean() < 3


def test_animation_frames_are_checked():
    anim = animation.animate(make_result())
    with pytest.raises(IndexError, match="out of range"):
        anim.frame(len(anim))


def test_animation_saves_mp4_when_ffmpeg_is_available(tmp_path):
    if not animation.ffmpeg_available():
        pytest.skip("no ffmpeg: pip install infoplane[video]")
    path = animation.animate(make_result()).save(tmp_path / "plane.mp4")
    assert path.read_bytes()[4:8] == b"ftyp"  # an MP4 (ISO media) file


def test_mp4_without_ffmpeg_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(animation, "_ffmpeg_exe", lambda: None)
    assert not animation.ffmpeg_available()
    with pytest.raises(RuntimeError, match=r"pip install infoplane\[video\]"):
        animation.animate(make_result()).save(tmp_path / "plane.mp4")


def test_animation_rejects_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        animation.animate(make_result()).save(tmp_path / "plane.avi")


def test_animation_shows_itself_in_a_notebook():
    anim = make_result(epochs=np.arange(0, 60, 20)).animate()
    html = anim._repr_html_()
    assert "<script" in html
    assert html.count("data:image/png;base64") == 3  # one frame per epoch


def test_result_html_has_the_plane_as_png():
    result = make_result(estimators=ESTIMATORS)
    text = plotting.plane_png_base64(result)
    assert is_png(base64.b64decode(text))
    assert "data:image/png;base64," + text in result._repr_html_()


def test_plot_curves_draws_mean_and_band(tmp_path):
    result = make_result(seeds=3)
    drawn = plotting.plot_curves(result)
    assert [ax.get_ylabel() for ax in drawn.axes] == ["loss", "accuracy"]
    assert all(ax.get_xlabel() == "epoch" for ax in drawn.axes)
    assert (
        set(drawn.lines)
        == set(drawn.bands)
        == {
            "train_loss",
            "test_loss",
            "train_accuracy",
            "test_accuracy",
        }
    )
    np.testing.assert_allclose(
        drawn.lines["test_loss"].get_ydata(), result.arrays["test_loss"].mean(0)
    )
    labels = [t.get_text() for t in drawn.axes[0].get_legend().get_texts()]
    assert labels == ["train", "test"]
    drawn.figure.savefig(tmp_path / "curves.png")


def test_plot_curves_on_given_axes_and_one_seed():
    figure = Figure()
    ax = figure.add_subplot()
    drawn = plotting.plot_curves(make_result(seeds=1), ax=ax, metrics="accuracy")
    assert drawn.axes == (ax,)
    assert drawn.bands == {}
    with pytest.raises(ValueError, match="one Axes per panel"):
        plotting.plot_curves(make_result(), ax=ax)
    with pytest.raises(ValueError, match="metrics"):
        plotting.plot_curves(make_result(), metrics=("error",))


def test_plot_snr_needs_gradient_statistics():
    with pytest.raises(ValueError, match="grad-stats"):
        plotting.plot_snr(make_result())
    with pytest.raises(ValueError, match="grad-stats"):
        plotting.snr_transition(make_result())


def test_plot_snr_draws_mean_and_std_per_weight_layer(tmp_path):
    result = make_result(grad=True)
    drawn = plotting.plot_snr(result)
    assert len(drawn.mean_lines) == len(drawn.std_lines) == 3
    assert drawn.ax.get_xscale() == drawn.ax.get_yscale() == "log"
    assert all(line.get_linestyle() == "--" for line in drawn.std_lines)
    np.testing.assert_array_equal(drawn.mean_lines[0].get_xdata(), result.epochs + 1)
    # exp(-k / 3) < 0.2 from measurement k = 5 on: epoch 100.
    assert drawn.transition == 100
    assert drawn.transition_line.get_xdata()[0] == 101
    drawn.figure.savefig(tmp_path / "snr.png")


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        # mean / std at each of the 10 measurements (epochs 0, 20, ..., 180).
        ([2, 2, 2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 60),
        ([2, 0.5, 0.5, 2, 2, 0.5, 0.5, 0.5, 0.5, 0.5], 100),  # last crossing
        ([0.5] * 10, 0),
        ([2, 2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 2], None),  # back above at the end
        ([2] * 10, None),
    ],
)
def test_snr_transition(ratio, expected):
    result = make_result(seeds=2)
    std = np.full((2, 10, 3), 0.1)
    mean = std * np.asarray(ratio, float)[None, :, None]
    assert plotting.snr_transition(with_grads(result, mean, std)) == expected


def test_snr_transition_averages_over_layers_and_seeds_before_comparing():
    result = make_result(seeds=2)
    std = np.ones((2, 10, 3))
    mean = np.full((2, 10, 3), 0.5)
    mean[:, :, 0] = 3.0  # one layer above, but the average 4/3 > 1 ...
    assert plotting.snr_transition(with_grads(result, mean, std)) is None
    mean[:, 4:, 0] = 1.0  # ... until epoch 80, where the average is 2/3
    assert plotting.snr_transition(with_grads(result, mean, std)) == 80
    mean[0, :, :] = np.nan  # a seed without statistics is left out
    assert plotting.snr_transition(with_grads(result, mean, std)) == 80


def test_write_pictures_writes_every_picture(tmp_path):
    result = make_result(estimators=ESTIMATORS, grad=True)
    written = plotting.write_pictures(result, tmp_path)
    expected = {"plane.png", "curves.png", "snr.png", "plane.gif"}
    if animation.ffmpeg_available():
        expected.add("plane.mp4")
    assert {p.name for p in written} == expected
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in written)
    with Image.open(tmp_path / "plane.png") as plane:
        width, height = plane.size
    assert width > 1.8 * height  # one panel per estimator, side by side


def test_write_pictures_without_video_or_gradients(tmp_path):
    written = plotting.write_pictures(make_result(), tmp_path, video=False)
    assert sorted(p.name for p in written) == ["curves.png", "plane.png"]
    with pytest.raises(NotADirectoryError):
        plotting.write_pictures(make_result(), tmp_path / "missing")


def test_pictures_of_a_real_run(tmp_path):
    result = ip.run(ip.preset("seed", epochs=40, measure="every:10", seeds=2))
    drawn = result.plot()
    assert len(drawn.scatters) == len(result.layers)
    assert len(drawn.joins.get_segments()) == len(result.epochs)
    written = plotting.write_pictures(result, tmp_path, video=False)
    assert {p.name for p in written} == {"plane.png", "curves.png"}
