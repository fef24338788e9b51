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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"hidden": (8, 0, 4)},
            r"hidden layer widths must be positive integers, got \[8, 0, 4\]",
        ),
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"seeds": -1}, "seeds must be a positive integer"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"estimators": ("binning:bins=1",)}, "bins >= 2"),
        ({"measure": "every:5000"}, "longer than the run"),
        ({"units": "bans"}, "units must be one of nats, bits"),
        ({"activation": "swish"}, "activation must be one of"),
        ({"train_fraction": 1.0}, "train_fraction must be between 0 and 1"),
        ({"colour": "red"}, "unknown experiment field"),
        ({"task": "seed11"}, "unknown task 'seed11'.*or file:PATH.npz"),
        ({"task": 3}, "task must be a name or file:PATH"),
        ({"task": "file:"}, "needs a path"),
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
