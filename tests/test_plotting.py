"""Tests of infoplane.plotting: what each picture drew, and that it renders."""

import base64
import math
import subprocess
import sys
import warnings
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib import colors
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from PIL import Image

import infoplane as ip
from infoplane import analysis, plotting
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


def ink(path) -> float:
    """The share of a picture's pixels that differ from its corner's colour."""
    with Image.open(path) as picture:
        rgb = np.asarray(picture.convert("RGB")).astype(int)
    return float((np.abs(rgb - rgb[0, 0]).sum(-1) > 30).mean())


def colourful(path) -> float:
    """The share of a picture's pixels that are clearly not grey."""
    with Image.open(path) as picture:
        rgb = np.asarray(picture.convert("RGB")).astype(int)
    return float((rgb.max(-1) - rgb.min(-1) > 60).mean())


def scatters(ax) -> list[PathCollection]:
    """The plane's layers: one scatter each."""
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def line_collections(ax) -> list[LineCollection]:
    """Single-seed tracks (one per layer, when drawn) first, then the joins."""
    return [c for c in ax.collections if type(c) is LineCollection]


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.fixture(autouse=True)
def close_figures():
    """The public functions draw on new pyplot figures: close them after a test."""
    yield
    plt.close("all")


@pytest.mark.processes
def test_importing_plotting_and_writing_files_leave_pyplot_alone(tmp_path):
    # Files and the animation use figures of their own; only a picture asked for
    # without an ax is pyplot's. Three epochs: three frames to animate, not ten.
    make_result(grad=True, epochs=np.arange(0, 60, 20)).save(tmp_path / "run")
    (tmp_path / "out").mkdir()
    code = f"""
import sys
import infoplane as ip
from infoplane import plotting
imported = "matplotlib.pyplot" in sys.modules
result = ip.Result.load({str(tmp_path / "run")!r})
plotting.write_pictures(result, {str(tmp_path / "out")!r})
plotting.plane_png_base64(result)
result._repr_html_()
result.animate().to_jshtml()
print(imported, "matplotlib.pyplot" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]
    assert (tmp_path / "out" / "snr.png").is_file()


def test_plot_plane_draws_one_scatter_per_layer_and_labels():
    result = make_result()
    ax = plotting.plot_plane(result)
    assert isinstance(ax, Axes)
    layers = scatters(ax)
    assert [s.get_label() for s in layers] == list(LAYERS)
    assert all(len(s.get_offsets()) == len(result.epochs) for s in layers)
    assert ax.get_xlabel() == "I(X;T) [bits]"
    assert ax.get_ylabel() == "I(T;Y) [bits]"
    assert ax.get_title() == "synthetic"
    (colorbar,) = [a for a in ax.figure.axes if a is not ax]
    assert colorbar.get_ylabel() == "epoch"
    # One line through the layers per measured epoch, behind it each seed's track.
    *spread, joins = line_collections(ax)
    assert len(spread) == len(LAYERS)
    assert len(joins.get_segments()) == len(result.epochs)
    assert all(len(segment) == len(LAYERS) for segment in joins.get_segments())
    assert legend_texts(ax) == [*LAYERS, "single seeds", "H(X), I(X;Y)"]
    markers = [s.get_paths()[0] for s in layers]
    assert len({len(p.vertices) for p in markers}) == len(LAYERS)  # all distinct


def test_layer_names_are_shown_as_written_not_as_mathtext(tmp_path):
    made = make_result()
    names = (r"cost $\frac{1}$", "a $5 layer", "output")  # not valid mathtext
    result = ip.Result(made.experiment, made.arrays, names, made.estimators, {})
    ax = plotting.plot_plane(result)
    ax.figure.savefig(tmp_path / "plane.png")  # drawing parsed the labels
    assert is_png((tmp_path / "plane.png").read_bytes())
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        r"cost \$\frac{1}\$",
        r"a \$5 layer",
    ]


def test_plot_plane_draws_on_a_new_pyplot_figure(tmp_path):
    # As matplotlib and pandas do: a notebook shows it, plt.savefig writes it.
    open_before = plt.get_fignums()
    ax = plotting.plot_plane(make_result())
    assert len(plt.get_fignums()) == len(open_before) + 1
    assert plt.gcf() is ax.figure
    assert plt.gca() is ax
    plt.savefig(tmp_path / "plane.png")
    assert is_png((tmp_path / "plane.png").read_bytes())
    assert ink(tmp_path / "plane.png") > 0.03
    assert colourful(tmp_path / "plane.png") > 0.005  # the points and colour bar


def test_result_plot_returns_the_axes_of_the_current_figure(tmp_path):
    result = make_result()
    ax = result.plot()
    assert isinstance(ax, Axes)
    assert plt.gca() is ax
    assert len(scatters(ax)) == len(LAYERS)
    plt.savefig(tmp_path / "plane.png")
    assert ink(tmp_path / "plane.png") > 0.03
    # On a given Axes: drawn there, and no new figure.
    figure, (left, right) = plt.subplots(1, 2)
    open_before = plt.get_fignums()
    assert result.plot(ax=right, colorbar=False) is right
    assert plt.get_fignums() == open_before
    assert len(scatters(right)) == len(LAYERS)
    assert scatters(left) == []
    figure.savefig(tmp_path / "two.png")
    assert ink(tmp_path / "two.png") > 0.02


def test_plot_plane_colours_points_by_epoch():
    result = make_result()
    first = scatters(plotting.plot_plane(result))[0]
    np.testing.assert_array_equal(first.get_array(), result.epochs)
    assert type(first.norm) is colors.Normalize
    assert first.norm.vmax == result.epochs.max()


def test_log_spaced_epochs_get_a_log_colour_scale():
    # The epochs of the schedule log:40 over 3000 epochs (training.LogSpaced).
    epochs = np.unique(np.round(np.geomspace(1, 3000, 40))).astype(int) - 1
    ax = plotting.plot_plane(make_result(epochs=epochs))
    assert isinstance(scatters(ax)[0].norm, colors.SymLogNorm)
    # every:20 over 3000 epochs also spans three decades, but is evenly spaced.
    ax = plotting.plot_plane(make_result(epochs=np.arange(0, 3000, 20)))
    assert not isinstance(scatters(ax)[0].norm, colors.SymLogNorm)


def test_mean_of_seeds_draws_each_seed_faintly():
    result = make_result(seeds=3)
    ax = plotting.plot_plane(result)
    np.testing.assert_allclose(
        scatters(ax)[1].get_offsets()[:, 0], result.i_xt[:, :, 1, 0].mean(0)
    )
    *spread, joins = line_collections(ax)
    assert len(spread) == len(LAYERS)
    assert all(len(c.get_segments()) == 3 for c in spread)
    assert len(joins.get_segments()) == len(result.epochs)
    assert ax.get_legend().get_title().get_text() == "mean of 3 seeds"
    assert "single seeds" in legend_texts(ax)


def diverged(result: ip.Result, seed: int, index: int) -> ip.Result:
    """``result`` with network ``seed`` diverged at its measurement ``index``."""
    arrays = {k: np.array(v, float) for k, v in result.arrays.items()}
    for name, values in arrays.items():
        if name not in ("epochs", "diverged_epoch"):
            values[seed, index:] = np.nan
    before = result.arrays.get("diverged_epoch", np.full(result.i_xt.shape[0], -1))
    arrays["diverged_epoch"] = np.array(before)
    arrays["diverged_epoch"][seed] = result.epochs[index]
    return ip.Result(
        result.experiment, arrays, result.layers, result.estimators, result.info
    )


def test_pictures_average_the_networks_that_did_not_diverge():
    result = diverged(make_result(seeds=4), seed=1, index=5)
    ax = plotting.plot_plane(result)
    converged = result.i_xt[[0, 2, 3], :, 1, 0]
    np.testing.assert_allclose(scatters(ax)[1].get_offsets()[:, 0], converged.mean(0))
    assert len(line_collections(ax)[0].get_segments()) == 3  # the single seeds
    title = ax.get_legend().get_title().get_text()
    assert title == "mean of 3 seeds (1 diverged, left out)"
    figure = plotting.plot_curves(result)
    assert figure.get_suptitle().endswith("mean and range of 3 seeds")
    line = figure.axes[0].lines[0]
    np.testing.assert_allclose(
        line.get_ydata(), result.arrays["train_loss"][[0, 2, 3]].mean(0)
    )
    assert np.isfinite(line.get_ydata()).all()  # not blank after the divergence
    alone = diverged(diverged(result, seed=0, index=2), seed=3, index=0)
    ax = plotting.plot_plane(alone)  # one network left: said, though no mean
    assert ax.get_legend().get_title().get_text() == "1 seed (3 diverged, left out)"


def test_all_seeds_draws_every_point():
    result = make_result(seeds=3)
    ax = plotting.plot_plane(result, seeds="all")
    n = 3 * len(result.epochs)
    assert all(len(s.get_offsets()) == n for s in scatters(ax))
    (joins,) = line_collections(ax)  # no single-seed tracks
    assert len(joins.get_segments()) == n
    assert "single seeds" not in legend_texts(ax)


def test_one_seed_and_one_estimator_by_name():
    result = make_result(seeds=3, estimators=ESTIMATORS)
    ax = plotting.plot_plane(result, seeds=2, estimator=ESTIMATORS[1])
    np.testing.assert_allclose(
        scatters(ax)[0].get_offsets()[:, 0], result.i_xt[2, :, 0, 1]
    )
    assert ax.get_title() == f"synthetic: {ESTIMATORS[1]}"


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
    ax = plotting.plot_plane(make_result())
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    assert xlim[0] == ylim[0] == 0
    assert 10.0 < xlim[1] < 11  # H(X) = 10 is above every point
    assert 1.0 < ylim[1] < 1.1  # I(X;Y) = 1 is above every point
    ax = plotting.plot_plane(make_result(), xlim=(1, 2), ylim=(0, 5))
    assert (ax.get_xlim(), ax.get_ylim()) == ((1, 2), (0, 5))


def test_ib_curve_is_converted_to_the_result_units():
    curve = SimpleNamespace(
        i_xt=np.array([0.0, 1.0, 2.0]), i_ty=np.array([0, 0.5, 0.6])
    )
    ax = plotting.plot_plane(make_result(units="bits"), ib_curve=curve)
    (ib_line,) = [line for line in ax.lines if line.get_label() == "IB bound"]
    # bits = nats / ln 2, exactly (units.UNITS).
    np.testing.assert_allclose(ib_line.get_xdata(), curve.i_xt / math.log(2))
    np.testing.assert_allclose(ib_line.get_ydata(), curve.i_ty / math.log(2))
    assert "IB bound" in legend_texts(ax)


def test_plot_plane_draws_on_a_given_axes():
    figure = Figure()
    ax = figure.add_subplot(121)
    assert plotting.plot_plane(make_result(), ax=ax, colorbar=False) is ax
    assert figure.axes == [ax]  # no colour bar
    assert len(scatters(ax)) == len(LAYERS)
    assert plotting.plot_plane(make_result(), ax=figure.add_subplot(122)).figure is (
        figure
    )
    assert len(figure.axes) == 3  # the second plane has its colour bar


def test_animation_updates_the_same_artists_to_each_frame():
    result = make_result(seeds=2)
    open_before = plt.get_fignums()
    anim = animation.animate(result)
    assert plt.get_fignums() == open_before  # its figure is not pyplot's
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
    result = make_result(epochs=np.arange(0, 60, 20))  # three frames
    path = animation.animate(result).save(tmp_path / "plane.mp4")
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
    figure = plotting.plot_curves(result)
    assert isinstance(figure, Figure)
    assert plt.gcf() is figure
    loss, accuracy = figure.axes
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss", "accuracy"]
    assert all(ax.get_xlabel() == "epoch" for ax in figure.axes)
    assert figure.get_suptitle() == "synthetic: training, mean and range of 3 seeds"
    for ax, metric in ((loss, "loss"), (accuracy, "accuracy")):
        assert [line.get_label() for line in ax.lines] == ["train", "test"]
        assert legend_texts(ax) == ["train", "test"]
        for line, split in zip(ax.lines, ("train", "test"), strict=True):
            values = result.arrays[f"{split}_{metric}"]
            np.testing.assert_array_equal(line.get_xdata(), result.epochs)
            np.testing.assert_allclose(line.get_ydata(), values.mean(0))
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 2  # one min-max band per split
    band = [c for c in loss.collections if isinstance(c, PolyCollection)][1]
    y = band.get_paths()[0].vertices[:, 1]
    test_loss = result.arrays["test_loss"]
    np.testing.assert_allclose(
        [y.min(), y.max()], [test_loss.min(), test_loss.max()], rtol=1e-12
    )
    plt.savefig(tmp_path / "curves.png")
    assert ink(tmp_path / "curves.png") > 0.03


def test_plot_curves_on_given_axes_and_one_seed():
    figure = Figure()
    ax = figure.add_subplot()
    drawn = plotting.plot_curves(make_result(seeds=1), ax=ax, metrics="accuracy")
    assert drawn is figure
    assert figure.axes == [ax]
    assert ax.get_ylabel() == "accuracy"
    assert len(ax.lines) == 2
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert figure.get_suptitle() == ""  # the caller's figure keeps its title
    with pytest.raises(ValueError, match="one Axes per panel"):
        plotting.plot_curves(make_result(), ax=ax)
    with pytest.raises(ValueError, match="metrics"):
        plotting.plot_curves(make_result(), metrics=("error",))


def test_plot_snr_needs_gradient_statistics():
    with pytest.raises(ValueError, match="grad-stats"):
        plotting.plot_snr(make_result())
    with pytest.raises(ValueError, match="grad-stats"):
        analysis.snr_transition(make_result())


def test_plot_snr_draws_mean_and_std_per_weight_layer(tmp_path):
    result = make_result(grad=True)
    ax = plotting.plot_snr(result)
    assert isinstance(ax, Axes)
    assert plt.gca() is ax
    *curves, transition = ax.lines
    means, stds = curves[0::2], curves[1::2]
    assert len(means) == len(stds) == 3
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert all(line.get_linestyle() == "-" for line in means)
    assert all(line.get_linestyle() == "--" for line in stds)
    np.testing.assert_array_equal(means[0].get_xdata(), result.epochs + 1)
    np.testing.assert_allclose(
        means[1].get_ydata(), result.arrays["grad_mean_norm"][:, :, 1].mean(0)
    )
    np.testing.assert_allclose(stds[2].get_ydata(), 0.2)
    # exp(-k / 3) < 0.2 from measurement k = 5 on: epoch 100.
    assert transition.get_xdata()[0] == 101
    assert legend_texts(ax) == [
        "layer 1",
        "layer 2",
        "output",
        "‖mean‖",
        "‖std‖",
        "transition, epoch 100",
    ]
    assert ax.get_xlabel() == "epoch + 1"
    assert ax.get_ylabel() == "gradient norm"
    assert ax.get_title() == "synthetic: gradient mean and spread, mean of 2 seeds"
    plt.savefig(tmp_path / "snr.png")
    assert ink(tmp_path / "snr.png") > 0.02


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
    assert analysis.snr_transition(with_grads(result, mean, std)) == expected


def test_snr_transition_averages_over_layers_and_seeds_before_comparing():
    result = make_result(seeds=2)
    std = np.ones((2, 10, 3))
    mean = np.full((2, 10, 3), 0.5)
    mean[:, :, 0] = 3.0  # one layer above, but the average 4/3 > 1 ...
    assert analysis.snr_transition(with_grads(result, mean, std)) is None
    mean[:, 4:, 0] = 1.0  # ... until epoch 80, where the average is 2/3
    assert analysis.snr_transition(with_grads(result, mean, std)) == 80
    mean[0, :, :] = np.nan  # a seed without statistics is left out
    assert analysis.snr_transition(with_grads(result, mean, std)) == 80


def test_plot_sweep_one_plane_per_point_and_estimator(tmp_path):
    results = [
        make_result(estimators=ESTIMATORS, name="a"),
        make_result(estimators=ESTIMATORS, seeds=1, epochs=np.arange(0, 400, 40)),
    ]
    figure = plotting.plot_sweep(results, ["width=4", "width=8"])
    assert isinstance(figure, Figure)
    assert plt.gcf() is figure
    *planes, colorbar = figure.axes
    assert len(planes) == 4  # two estimators by two points
    assert colorbar.get_ylabel() == "epoch"
    assert [ax.get_title() for ax in planes] == [
        f"{label}\n{estimator}"
        for estimator in ESTIMATORS
        for label in ("width=4", "width=8")
    ]
    for ax in planes:
        assert [s.get_label() for s in scatters(ax)] == list(LAYERS)
        assert all(len(s.get_offsets()) == 10 for s in scatters(ax))
    # Shared limits in a row; one colour scale over every point's epochs.
    assert planes[0].get_xlim() == planes[1].get_xlim()
    assert {scatters(ax)[0].norm.vmax for ax in planes} == {360}
    plt.savefig(tmp_path / "sweep.png")
    assert ink(tmp_path / "sweep.png") > 0.03


def test_plot_depth_draws_mean_and_spread_against_depth(tmp_path):
    compression = [np.array([100.0, 140.0]), np.array([60.0, 80.0])]
    converged = [np.array([300.0, np.nan]), np.array([np.nan, np.nan])]
    ax = plotting.plot_depth([2, 5], compression, converged, loss_threshold=0.05)
    assert isinstance(ax, Axes)
    assert plt.gca() is ax
    first, second = ax.containers
    np.testing.assert_array_equal(first.lines[0].get_xdata(), [2, 5])
    np.testing.assert_array_equal(first.lines[0].get_ydata(), [120, 70])
    # NaN seeds are left out; a point where no seed converged has no mean.
    np.testing.assert_array_equal(
        np.asarray(second.lines[0].get_ydata(), float), [300, np.nan]
    )
    assert legend_texts(ax) == ["compression phase starts", "training loss < 0.05"]
    assert list(ax.get_xticks()) == [2, 5]
    assert ax.get_xlabel() == "hidden layers"
    assert ax.get_ylabel() == "epoch (mean ± std over seeds)"
    plt.savefig(tmp_path / "depth.png")
    assert ink(tmp_path / "depth.png") > 0.01


def test_plot_ib_curve_in_bits(tmp_path):
    curve = SimpleNamespace(
        i_xt=np.array([0.0, 1.0, 2.0]), i_ty=np.array([0, 0.5, 0.6]), i_xy=0.69
    )
    ax = plotting.plot_ib_curve(curve, title="task $x")
    assert isinstance(ax, Axes)
    assert plt.gca() is ax
    bound, i_xy = ax.lines
    np.testing.assert_allclose(bound.get_xdata(), curve.i_xt / math.log(2))
    np.testing.assert_allclose(bound.get_ydata(), curve.i_ty / math.log(2))
    assert i_xy.get_ydata()[0] == pytest.approx(0.69 / math.log(2))
    assert legend_texts(ax) == ["IB bound", "I(X;Y)"]
    assert ax.get_xlabel() == "I(X;T) [bits]"
    assert ax.get_title() == "task $x"
    plt.savefig(tmp_path / "bound.png")
    assert ink(tmp_path / "bound.png") > 0.01
    figure = Figure()
    ax = figure.add_subplot()
    assert plotting.plot_ib_curve(curve, units="nats", ax=ax) is ax
    np.testing.assert_allclose(ax.lines[0].get_xdata(), curve.i_xt)


def test_write_pictures_writes_every_picture(tmp_path):
    # Three epochs: three frames in the GIF and the MP4.
    result = make_result(estimators=ESTIMATORS, grad=True, epochs=np.arange(0, 60, 20))
    open_before = plt.get_fignums()
    written = plotting.write_pictures(result, tmp_path)
    assert plt.get_fignums() == open_before  # nothing left open in pyplot
    expected = {"plane.png", "curves.png", "snr.png", "plane.gif"}
    if animation.ffmpeg_available():
        expected.add("plane.mp4")
    assert {p.name for p in written} == expected
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in written)
    with Image.open(tmp_path / "plane.png") as plane:
        width, height = plane.size
    assert width > 1.8 * height  # one panel per estimator, side by side
    for name in ("plane.png", "curves.png", "snr.png"):
        assert ink(tmp_path / name) > 0.02, name
    assert colourful(tmp_path / "plane.png") > 0.005
    with Image.open(tmp_path / "plane.gif") as gif:
        assert gif.n_frames == len(result.epochs)


def test_write_pictures_without_video_or_gradients(tmp_path):
    written = plotting.write_pictures(make_result(), tmp_path, video=False)
    assert sorted(p.name for p in written) == ["curves.png", "plane.png"]
    with pytest.raises(NotADirectoryError):
        plotting.write_pictures(make_result(), tmp_path / "missing")


def test_curves_of_a_recorder_with_only_a_loss_have_one_panel(tmp_path):
    x = np.eye(4)
    plane = ip.InformationPlane(x, [0, 0, 1, 1], estimators=["binning:bins=2"])
    h = x @ np.array([[0.5], [0.5], [-0.5], [-0.5]])
    for epoch in range(3):
        plane.record(epoch, {"h": h}, metrics={"train_loss": 1.0 / (epoch + 1)})
    result = plane.result()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no artists for an accuracy legend
        plotting.write_pictures(result, tmp_path, video=False)
    with Image.open(tmp_path / "curves.png") as image:
        width, height = image.size
    assert width < 1.5 * height  # the loss panel alone, no empty accuracy panel


def test_pictures_of_a_real_run(small_result, tmp_path):
    ax = small_result.plot()
    assert [s.get_label() for s in scatters(ax)] == list(small_result.layers)
    assert all(len(s.get_offsets()) == len(small_result.epochs) for s in scatters(ax))
    joins = line_collections(ax)[-1]
    assert len(joins.get_segments()) == len(small_result.epochs)
    written = plotting.write_pictures(small_result, tmp_path, video=False)
    assert {p.name for p in written} == {"plane.png", "curves.png"}
    assert ink(tmp_path / "plane.png") > 0.03


def test_layers_on_one_point_stay_visible_as_nested_markers():
    from matplotlib.collections import PathCollection

    ax = plotting.plot_plane(make_result())
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    pairs = zip(scatters, LAYERS, strict=True)
    hidden = [c.get_sizes()[0] for c, name in pairs if name != "output"]
    assert hidden == sorted(hidden, reverse=True)  # deeper layers smaller, on top
    assert len(set(hidden)) == len(hidden)
