import dataclasses

import pytest

import infoplane as ip


def test_preset_overrides_and_immutability():
    exp = ip.preset("seed", epochs=600, seeds=4)
    assert (exp.name, exp.epochs, exp.seeds, exp.hidden) == ("seed", 600, 4, (8, 6, 4))
    assert ip.preset("seed5").hidden == (8, 7, 6, 5, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        exp.epochs = 3
    assert hash(exp) == hash(ip.preset("seed", epochs=600, seeds=4))


def test_seed_preset_is_the_notebook_protocol():
    exp = ip.preset("seed")
    assert exp.task == "seed10"
    assert exp.activation == "tanh"
    assert (exp.loss, exp.optimizer, exp.lr, exp.batch_size) == (
        "sigmoid_bce",
        "sgd",
        0.1,
        0,
    )
    assert (exp.epochs, exp.measure, exp.measure_on) == (3000, "every:20", "train")
    assert exp.estimators == ("binning:bins=30,range=-1:1",)
    assert (exp.train_samples, exp.test_samples, exp.units) == (50_000, 10_000, "nats")


@pytest.mark.unchecked_types
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"hidden": (8, 0, 4)},
            r"widths from 1 to 16,384, e.g. 8,6,4; got \(8, 0, 4\)",
        ),
        ({"hidden": (100_000,)}, "hidden must be layer widths from 1 to 16,384"),
        ({"hidden": (8, True)}, "hidden must be layer widths"),
        ({"epochs": 0}, "epochs must be an integer from 1 to 10,000,000, got 0"),
        ({"epochs": 10**12}, "epochs must be an integer from 1 to 10,000,000"),
        ({"epochs": 3.0}, "epochs must be an integer, got 3.0"),
        ({"seeds": -1}, "seeds must be an integer from 1 to 10,000"),
        ({"seeds": 1_000_000}, "seeds must be an integer from 1 to 10,000"),
        ({"seed": True}, "seed must be an integer, got True"),
        ({"batch_size": -1}, "batch_size must be an integer from 0"),
        ({"lr": float("nan")}, "lr must be a finite number"),
        ({"lr": True}, "lr must be a finite number, got True"),
        ({"lr": "0.1"}, "lr must be a finite number, got '0.1'"),
        ({"lr": -0.1}, "lr must be a positive number"),
        ({"grad_stats": "no"}, "grad_stats must be true or false, got 'no'"),
        ({"measure_output": 1}, "measure_output must be true or false"),
        ({"measure": 20}, "measure must be text, got 20"),
        ({"name": 5}, "name must be text"),
        ({"train_fraction": "0.5"}, "train_fraction must be a finite number"),
        ({"estimators": (3,)}, "estimators must be estimator names"),
        (
            {"epochs": 10_000_000, "measure": "every:1"},
            "takes 10,000,000 measurements over 10,000,000 epochs; at most 100,000",
        ),
        ({"estimators": ("binning:bins=1",)}, "bins >= 2"),
        ({"measure": "every:5000"}, "longer than the run"),
        ({"units": "bans"}, "units must be one of nats, bits"),
        ({"activation": "swish"}, "activation must be one of"),
        ({"train_fraction": 1.0}, "train_fraction must be between 0 and 1"),
        ({"colour": "red"}, "unknown experiment field.*colour; fields are name, task"),
        (
            {"epoch": 5},
            r"unknown experiment field\(s\): epoch \(did you mean epochs\?\)",
        ),
        ({"task": "seed11"}, "unknown task 'seed11'.*or file:PATH.npz"),
        ({"task": 3}, "task must be text"),
        ({"task": "file:"}, "needs a path"),
        ({"task": "mnist:"}, "task mnist: needs a path"),
        ({"scale": "minmax"}, "scale must be one of auto, unit, standard, none"),
        ({"measure_samples": -1}, "measure_samples must be an integer from 0"),
        ({"measure_samples": 1.5}, "measure_samples must be an integer, got 1.5"),
    ],
)
def test_bad_configuration_names_the_problem(change, message):
    with pytest.raises(ValueError, match=message):
        ip.preset("seed", **change)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'sed'; choose one of seed"):
        ip.preset("sed")


def test_dict_and_toml_round_trip(tmp_path):
    exp = ip.preset("seed5", seeds=3, units="bits")
    assert ip.Experiment.from_dict(exp.to_dict()) == exp
    path = tmp_path / "exp.toml"
    path.write_text('preset = "seed"\nhidden = [5, 3]\nseeds = 2\nmeasure = "log:20"\n')
    loaded = ip.load_experiment(path)
    assert loaded == ip.preset("seed", hidden=(5, 3), seeds=2, measure="log:20")
    path.write_text("hidden = [5, 3]\nepochs = 10\nmeasure = 'every:5'\n")
    assert ip.load_experiment(path).hidden == (5, 3)
    path.write_text("hidden = [5, 3\n")
    with pytest.raises(ValueError, match="cannot read experiment file"):
        ip.load_experiment(path)
    path.write_bytes(b"name = '\xff'\n")  # not UTF-8, as TOML must be
    with pytest.raises(ValueError, match=f"cannot read experiment file {path}: 'utf"):
        ip.load_experiment(path)


@pytest.mark.unchecked_types
def test_toml_preset_with_a_name_and_strict_types(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('preset = "seed"\nname = "mine"\nepochs = 40\n')
    assert ip.load_experiment(path).name == "mine"
    for line, message in [
        ('grad_stats = "no"', "grad_stats must be true or false"),
        ("lr = true", "lr must be a finite number, got True"),
        ("measure = 20", "measure must be text"),
        ('train_fraction = "0.5"', "train_fraction must be a finite number"),
        ("epochs = 1e12", "epochs must be an integer"),
        ('hidden = ["8"]', "hidden must be layer widths"),
    ]:
        path.write_text(f'preset = "seed"\n{line}\n')
        with pytest.raises(ValueError, match=message):
            ip.load_experiment(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_size": 60_000}, "batch_size=60000 is larger than the training set"),
        (
            {"task": "tishby12", "train_fraction": 0.0001},
            "leaves the training set of tishby12 empty",
        ),
        (
            {"task": "tishby12", "train_fraction": 0.9999},
            "leaves the test set of tishby12 empty",
        ),
    ],
)
def test_sizes_the_data_cannot_give_fail_before_training(change, message, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking sizes")

    monkeypatch.setattr("infoplane.runner.train", no_training)
    with pytest.raises(ValueError, match=message):
        ip.run(ip.preset("seed", **change))


def test_existing_presets_keep_their_data_as_given():
    for name in ("seed", "seed5", "tishby2017", "saxe2018"):
        exp = ip.preset(name)
        assert (exp.scale, exp.measure_samples) == ("auto", 0)  # bits: not scaled


def test_presets_for_your_own_data_and_mnist():
    exp = ip.preset("classify")
    assert exp.task == "digits"
    assert (exp.loss, exp.optimizer, exp.lr, exp.batch_size) == (
        "softmax_ce",
        "adam",
        1e-3,
        64,
    )
    assert (exp.scale, exp.measure_on, exp.measure_samples) == ("unit", "train", 1000)
    assert ip.preset("classify", task="file:mine.npz").task == "file:mine.npz"
    saxe = ip.preset("saxe2018-mnist")  # stands without files; a run asks for them
    assert saxe.task == "mnist"
    assert saxe.hidden == (1024, 20, 20, 20)
    assert (saxe.loss, saxe.optimizer, saxe.lr, saxe.batch_size) == (
        "softmax_ce",
        "sgd",
        1e-3,
        128,
    )
    assert saxe.estimators == ("kde-upper:var=0.1", "binning-width:width=0.5")
    assert (saxe.measure_on, saxe.measure_samples, saxe.scale) == ("test", 5000, "unit")
    assert ip.PRESETS["saxe2018-mnist"].sweep == ("activation=tanh,relu",)
    with pytest.raises(ValueError, match="needs the folder of your MNIST files"):
        ip.run(saxe)


def test_lorenzen2022_preset_quantises_and_measures_exactly():
    exp = ip.preset("lorenzen2022")
    assert (exp.task, exp.hidden, exp.measure_on) == (
        "tishby12",
        (10, 7, 5, 4, 3),
        "full",
    )
    assert (exp.quantize, exp.estimators, exp.seeds) == (
        "8bit-layer",
        ("quantized",),
        50,
    )
    # Lorenzen et al.'s code (docs/protocols.md): Adam 1e-4, batches of 256, 80%
    # training, 8000 epochs.
    assert (exp.optimizer, exp.lr, exp.batch_size) == ("adam", 1e-4, 256)
    assert (exp.train_fraction, exp.epochs) == (0.8, 8000)
    assert (exp.units, exp.measure_output) == ("bits", False)
    assert ip.PRESETS["lorenzen2022"].sweep == ("activation=tanh,relu",)
    assert ip.preset("lorenzen2022", activation="relu").quantize == "8bit-layer"
    assert ip.Experiment().quantize == "none"  # runs without it are as before
    assert ip.config.parse_values("quantize", "none,8bit,4bit,8bit-layer") == [
        "none",
        "8bit",
        "4bit",
        "8bit-layer",
    ]
    with pytest.raises(ValueError, match="output is not quantised"):
        ip.preset("lorenzen2022", measure_output=True)


def test_toml_data_path_is_read_from_the_toml_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    path = folder / "exp.toml"
    path.write_text('preset = "classify"\ntask = "file:../data/mine.npz"\n')
    monkeypatch.chdir(tmp_path)  # the same file wherever the command runs
    want = f"file:{tmp_path / 'data' / 'mine.npz'}"
    assert ip.load_experiment(folder / "exp.toml").task == want
    assert ip.load_experiment("experiments/exp.toml").task == "file:data/mine.npz"
    path.write_text('task = "mnist:mnist,train=50"\n')
    assert ip.load_experiment(path).task == f"mnist:{folder / 'mnist'},train=50"
    for task in ("file:~/mine.npz", f"file:{tmp_path}/a.npz", "tishby12:gamma=2"):
        path.write_text(f'task = "{task}"\n')
        assert ip.load_experiment(path).task == task
