"""Property-based checks of everything a user can hand infoplane: command lines, TOML
files, data files and run directories. Whatever comes in, the answer is an exit code
in {0, 1, 2} (or a Result or a ValueError from Python), never a traceback, a one-line
message for a usage error, no temporary folder left behind and no file outside the
output touched."""

import contextlib
import io
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import infoplane as ip
from infoplane.cli import main

# Cheap properties run a few hundred examples; command lines (which may train) fewer;
# the `slow` variants many more.
FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
COMMANDS = settings(FAST, max_examples=40)
MANY = settings(FAST, max_examples=1000)

# Pieces of command lines: valid and invalid, kept cheap to run (a tiny network,
# a few epochs) so that every generated line finishes in about a second.
WORDS = st.sampled_from(
    ["seed", "seed5", "nope", "", "exp.toml", "data.npz", "-", "--", "--out", "out"]
)
NUMBERS = st.sampled_from(["1", "2", "3", "40", "0", "-1", "1e12", "x", "", "2.5"])
OPTIONS = st.one_of(
    st.tuples(st.just("--epochs"), NUMBERS),
    st.tuples(st.just("--seeds"), st.sampled_from(["1", "2", "0", "-3", "q"])),
    st.tuples(st.just("--seed"), NUMBERS),
    st.tuples(st.just("--hidden"), st.sampled_from(["4", "3,2", "0", "a,b", "", "4,"])),
    st.tuples(st.just("--lr"), st.sampled_from(["0.1", "0", "nan", "-1", "inf", "z"])),
    st.tuples(st.just("--measure-every"), NUMBERS),
    st.tuples(st.just("--measure"), st.sampled_from(["every:20", "log:3", "x:1"])),
    st.tuples(st.just("--activation"), st.sampled_from(["tanh", "relu", "swish"])),
    st.tuples(
        st.just("--estimator"),
        st.sampled_from(
            ["binning", "binning:bins=1", "binning-width:width=0.5", "kde-upper", "?"]
        ),
    ),
    st.tuples(st.just("--units"), st.sampled_from(["bits", "nats", "bans"])),
    st.tuples(
        st.just("--set"),
        st.sampled_from(
            [
                "lr=0.2",
                "lr",
                "colour=red",
                "batch_size=16",
                "batch_size=100000",
                "train_fraction=0.5",
                "train_fraction=1",
                "task=file:data.npz",
                "task=file:missing.npz",
                "grad_stats=maybe",
                "measure_output=true",
            ]
        ),
    ),
    st.tuples(
        st.sampled_from(
            ["--force", "--quiet", "--no-video", "--no-pictures", "--strict"]
        )
    ),
    st.tuples(
        st.just("--out"), st.sampled_from(["out", ".", "..", "", "a/b", "x.csv"])
    ),
    st.tuples(st.sampled_from(["--threshold", "--units"]), NUMBERS),
)


@st.composite
def command_lines(draw):
    command = draw(
        st.sampled_from(["run", "run", "sweep", "summary", "plot", "bound", "presets"])
    )
    target = {
        "run": st.sampled_from(["seed", "seed5", "exp.toml"]),
        "sweep": st.sampled_from(["seed", "exp.toml"]),
        "summary": st.sampled_from(["out", "run0", "."]),
        "plot": st.sampled_from(["out", "run0", ".", "exp.toml"]),
        # A soft joint from a file rather than tishby12:gamma=2, whose curve costs
        # seconds (tests/test_ib.py checks that one).
        "bound": st.sampled_from(["seed10", "file:joint.npz", "nope"]),
    }.get(command, st.just(""))
    argv = [command, *filter(None, [draw(target)])]
    if draw(st.integers(0, 5)) == 0:
        argv.append(draw(WORDS))
    for option in draw(st.lists(OPTIONS, max_size=4)):
        argv.extend(option)
    if command in ("run", "sweep", "bound") and "--out" not in argv:
        name = f"o{draw(st.integers(0, 10**6))}"
        argv += ["--out", name + ".csv" * (command == "bound")]
    if command == "sweep" and "--set" not in argv:
        argv += ["--set", draw(st.sampled_from(["lr=0.1,0.2", "hidden=4;3", "lr=1"]))]
    if command in ("run", "sweep"):
        # Keep runs cheap: a tiny network and few epochs unless the line says more.
        argv += ["--no-video"] * (command == "run")
        argv += ["--hidden", "4"] * (command == "run" and "--hidden" not in argv)
        argv += ["--epochs", "40"] * ("--epochs" not in argv)
    return argv


def _files(folder):
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A working folder with a TOML file and a data file, and a folder beside it
    whose files must never change."""
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "thesis.txt").write_text("do not touch")
    (work / "exp.toml").write_text('preset = "seed"\nhidden = [4]\nepochs = 40\n')
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    np.savez(work / "data.npz", inputs=x, labels=(x[:, 0] > 0).astype(int))
    p_y = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    np.savez(work / "joint.npz", p_xy=p_y / 4)  # 4 inputs, soft labels
    monkeypatch.chdir(work)
    monkeypatch.setenv("INFOPLANE_CACHE", str(tmp_path / "cache"))
    return work, outside


def _check_command(argv, work, outside):
    before = _files(outside)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse: usage errors and --help
            code = exit_.code
    message = err.getvalue()
    event(f"exit {code}")
    assert code in (0, 1, 2), (argv, code, message)
    assert "Traceback" not in message, (argv, message)
    if code == 2 and message.startswith("infoplane: error:"):
        # One line; plot takes several directories and names each it cannot draw.
        lines = message.strip().splitlines()
        assert len(lines) == 1 or argv[0] == "plot", (argv, message)
        assert all(line.startswith("infoplane: error: ") for line in lines), message
    leftovers = [p for p in work.rglob(".*") if "infoplane~" in p.name]
    assert leftovers == [], (argv, leftovers)
    assert _files(outside) == before


@pytest.fixture
def passed():
    """The command lines that passed, shared by the examples of one test."""
    return set()


def _check_new_command(argv, work, outside, passed):
    """:func:`_check_command`, unless a line that differs only in the name of a new
    output (``--out o123``, drawn at random) passed already: that line runs the same
    code again (a run trains and draws the same, into another folder). A name that
    exists is kept: the line then answers that the folder exists."""
    key = tuple(
        re.sub(r"\d+", "N", word)
        if re.fullmatch(r"o\d+(\.csv)?", word) and not (work / word).exists()
        else word
        for word in argv
    )
    if key in passed:
        event("a repeat of a line that passed")
        return
    _check_command(argv, work, outside)
    passed.add(key)


@COMMANDS
@given(argv=command_lines())
def test_command_lines(argv, workspace, passed):
    _check_new_command(argv, *workspace, passed)


@pytest.mark.slow
@MANY
@given(argv=command_lines())
def test_command_lines_many(argv, workspace, passed):
    _check_new_command(argv, *workspace, passed)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
FIELDS = st.sampled_from(
    [
        "preset", "name", "task", "hidden", "activation", "loss", "optimizer", "lr",
        "batch_size", "epochs", "measure", "estimators", "measure_on",
        "measure_output", "grad_stats", "seeds", "seed", "units", "train_samples",
        "test_samples", "train_fraction", "colour",
    ]
)  # fmt: skip
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))


def _toml_value(value):
    return json.dumps(value) if not isinstance(value, float) else repr(value)


def _check_toml(fields, tmp_path):
    lines = []
    for key, value in fields.items():
        if value is None or (isinstance(value, list) and None in value):
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    path = tmp_path / "exp.toml"
    path.write_text("\n".join(lines) + "\n")
    with contextlib.suppress(ValueError):  # the one error a bad file may give
        assert isinstance(ip.load_experiment(path), ip.Experiment)


@pytest.mark.unchecked_types
@FAST
@given(fields=st.dictionaries(FIELDS, VALUES, max_size=6))
def test_toml_files(fields, tmp_path):
    _check_toml(fields, tmp_path)


@pytest.mark.slow
@pytest.mark.unchecked_types
@MANY
@given(fields=st.dictionaries(FIELDS, VALUES, max_size=8))
def test_toml_files_many(fields, tmp_path):
    _check_toml(fields, tmp_path)


@st.composite
def data_arrays(draw):
    n = draw(st.integers(0, 6))
    features = draw(st.sampled_from([(), (0,), (2,), (2, 2)]))
    kind = draw(st.sampled_from(["f", "c", "i", "U", "nan"]))
    x = np.arange(n * int(np.prod(features, dtype=int))).reshape((n, *features))
    x = {
        "f": x.astype(float),
        "c": x + 1j,
        "i": x,
        "U": x.astype(str),
        "nan": x * np.nan,
    }[kind]
    labels = draw(
        st.sampled_from(
            [np.arange(n) % 2, np.full(n, 0.5), np.arange(n + 1), np.array(["a"] * n)]
        )
    )
    return x, labels, draw(st.sampled_from(["inputs", "x"]))


def _check_data(arrays, tmp_path):
    x, labels, name = arrays
    path = tmp_path / "d.npz"
    np.savez(path, **{name: x, "labels": labels})
    try:
        dataset = ip.load_task(f"file:{path}")
    except ValueError as error:
        message = str(error)
    else:
        message = ""
        assert np.isfinite(dataset.inputs).all()
        assert dataset.p_y.shape[0] == len(dataset.inputs) >= 2
    assert "\n" not in message


@FAST
@given(arrays=data_arrays())
def test_data_files(arrays, tmp_path):
    _check_data(arrays, tmp_path)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    result = ip.run(ip.preset("seed", hidden=(4,), epochs=40, measure="every:20"))
    return result.save(folder / "run")


JSON_EDITS = st.sampled_from(
    ["drop", "null", "string", "list", "number", "nested", "negative"]
)
KEYS = st.sampled_from(
    ["format", "experiment", "layers", "estimators", "info", "units", "axes"]
)


@st.composite
def tamperings(draw):
    return (
        draw(st.lists(st.tuples(KEYS, JSON_EDITS), max_size=3)),
        draw(st.sampled_from(["none", "truncate", "garbage", "drop", "reshape"])),
        draw(st.sampled_from(["epochs", "i_xt", "i_ty", "train_loss"])),
    )


def _check_tampered(tampering, saved_run, tmp_path, *, plot=False):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    json_edits, npz_edit, array = tampering
    meta = json.loads((run / "result.json").read_text())
    for key, edit in json_edits:
        replacement = {
            "null": None,
            "string": "x",
            "list": [1, "a"],
            "number": 7,
            "nested": {"a": [1]},
            "negative": -1,
        }.get(edit)
        if edit == "drop":
            meta.pop(key, None)
        else:
            meta[key] = replacement
    (run / "result.json").write_text(json.dumps(meta))
    data = (run / "arrays.npz").read_bytes()
    if npz_edit == "truncate":
        (run / "arrays.npz").write_bytes(data[: len(data) // 3])
    elif npz_edit == "garbage":
        (run / "arrays.npz").write_bytes(b"PK\x03\x04" + data[40:200])
    elif npz_edit in ("drop", "reshape"):
        with np.load(run / "arrays.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        if npz_edit == "drop":
            arrays.pop(array)
        else:
            arrays[array] = arrays[array].reshape(-1)[:-1]
        np.savez(run / "arrays.npz", **arrays)
    try:
        loaded = ip.Result.load(run)
    except ValueError as error:
        message = str(error)
    else:
        message = ""
        assert loaded.i_xt.shape == (1, 2, 1, 1)
    assert "\n" not in message
    _check_command(["summary", str(run)], tmp_path, tmp_path / "none")
    if plot:  # drawing costs a third of a second an example: the long run only
        _check_command(["plot", str(run), "--no-video"], tmp_path, tmp_path / "none")


@FAST
@given(tampering=tamperings())
def test_tampered_run_directories(tampering, saved_run, tmp_path_factory):
    _check_tampered(tampering, saved_run, tmp_path_factory.mktemp("t"))


@pytest.mark.slow
@MANY
@given(tampering=tamperings())
def test_tampered_run_directories_many(tampering, saved_run, tmp_path_factory):
    _check_tampered(tampering, saved_run, tmp_path_factory.mktemp("t"), plot=True)
