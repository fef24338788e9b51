"""Your own Keras model and ``model.fit``, measured by infoplane through a callback.

A Keras 3 MLP (64-32-16-10, tanh) learns scikit-learn's bundled 8x8 digits (no
download). ``InformationPlaneCallback`` records its named layers every few epochs of
``fit``, with the loss and accuracy Keras logs. Any backend works; JAX is the
lightest to install beside infoplane:

    pip install keras
    KERAS_BACKEND=jax python examples/keras_mlp.py --epochs 100 --out runs/keras_mlp
    infoplane summary runs/keras_mlp
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is imported

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import infoplane as ip  # noqa: E402
from infoplane.keras import InformationPlaneCallback  # noqa: E402


def main(epochs: int = 100, every: int = 5, out: "str | None" = None) -> ip.Result:
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target

    plane = ip.InformationPlane(
        x,
        y,
        estimators=["binning-width:width=0.07", "kde-upper:var=0.1"],
        units="bits",
        name="Keras MLP on digits",
    )

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="tanh", name="fc1"),
            keras.layers.Dense(16, activation="tanh", name="fc2"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callback = InformationPlaneCallback(plane, ["fc1", "fc2", "output"], every=every)
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, callbacks=[callback])

    result = plane.result()
    if out is not None:
        result.save(out, overwrite=True)
        result.plot().figure.savefig(Path(out) / "plane.png", dpi=150)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--out", default="runs/keras_mlp")
    args = parser.parse_args()
    result = main(args.epochs, args.every, args.out)
    from infoplane.analysis import summary_table

    print(summary_table(result))
    print(f"wrote {args.out}/")
