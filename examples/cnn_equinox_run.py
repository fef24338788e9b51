"""Your own Equinox CNN, trained and measured by infoplane's compiled loop, 10 seeds at
once.

A small CNN (a 3x3 convolution of 8 channels, 2x2 max-pooling, a dense layer of 32
units) learns scikit-learn's bundled 8x8 digits (no download). Here nothing of the
training loop is written by hand: ``ip.run(experiment, model=CNN)`` calls ``CNN(key)``
once per seed, each with its own key, and trains every seed's network in one compiled
program (vmapped over seeds), measuring the layers the model names on the schedule.
The module is written for ONE input, an 8x8 image; infoplane vmaps it over images.

    python examples/cnn_equinox_run.py --epochs 200 --out runs/cnn_equinox_run
    infoplane summary runs/cnn_equinox_run
"""

import argparse
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp

import infoplane as ip


class CNN(eqx.Module):
    conv: eqx.nn.Conv2d
    pool: eqx.nn.MaxPool2d
    dense: eqx.nn.Linear
    out: eqx.nn.Linear

    def __init__(self, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.conv = eqx.nn.Conv2d(1, 8, 3, key=k1)  # (1, 8, 8) -> (8, 6, 6)
        self.pool = eqx.nn.MaxPool2d(2, stride=2)  # -> (8, 3, 3): 72 units
        self.dense = eqx.nn.Linear(72, 32, key=k2)
        self.out = eqx.nn.Linear(32, 10, key=k3)

    def __call__(self, image):
        """One (8, 8) image in; its logits and the layers to measure out."""
        maps = self.pool(jnp.tanh(self.conv(image[None])))
        hidden = jnp.tanh(self.dense(maps.ravel()))
        return self.out(hidden), {"conv": maps, "dense": hidden}


def main(
    epochs: int = 200, every: int = 10, seeds: int = 10, out: "str | None" = None
) -> ip.Result:
    experiment = ip.Experiment(
        name="equinox CNN on digits (infoplane's loop)",
        task="digits",  # inputs scaled onto [-1, 1]; each seed its own 85/15 split
        loss="softmax_ce",
        optimizer="adam",
        lr=3e-3,
        epochs=epochs,
        measure=f"every:{every}",
        estimators=("binning-width:width=0.07", "kde-upper:var=0.1"),
        measure_output=True,  # the class probabilities too, as "output"
        measure_samples=500,  # each seed's information on 500 training images
        seeds=seeds,
        units="bits",
    )
    result = ip.run(experiment, model=CNN, progress=True)
    if out is not None:
        result.save(out, overwrite=True)
        result.plot().figure.savefig(Path(out) / "plane.png", dpi=150)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", default="runs/cnn_equinox_run")
    args = parser.parse_args()
    result = main(args.epochs, args.every, args.seeds, args.out)
    from infoplane.analysis import summary_table

    print(result.info["model"])
    print(summary_table(result))
    print(f"wrote {args.out}/")
