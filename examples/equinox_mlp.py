"""Your own Equinox MLP, your own training loop, measured by infoplane.

An MLP (64-32-16-10, tanh) learns scikit-learn's bundled 8x8 digits (1797 images, no
download) with Adam, full batch, in a loop written here; every few epochs
``plane.record`` measures its layers on all the images. The result plots, summarises
and saves like any infoplane run:

    python examples/equinox_mlp.py --epochs 300 --out runs/equinox_mlp
    infoplane summary runs/equinox_mlp
"""

import argparse
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import infoplane as ip


class MLP(eqx.Module):
    layers: list

    def __init__(self, widths, key):
        keys = jax.random.split(key, len(widths) - 1)
        self.layers = [
            eqx.nn.Linear(a, b, key=k)
            for a, b, k in zip(widths[:-1], widths[1:], keys, strict=True)
        ]

    def __call__(self, x):
        """Logits and every layer's activations, for one input."""
        hidden = []
        for layer in self.layers[:-1]:
            x = jnp.tanh(layer(x))
            hidden.append(x)
        return self.layers[-1](x), hidden


def main(epochs: int = 300, every: int = 5, out: "str | None" = None) -> ip.Result:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # (1797, 64), in [0, 1]
    y = digits.target  # (1797,), 10 classes

    plane = ip.InformationPlane(
        x,
        y,
        estimators=["binning-width:width=0.07", "kde-upper:var=0.1"],
        units="bits",
        name="equinox MLP on digits",
    )

    model = MLP([64, 32, 16, 10], jax.random.key(0))
    optimizer = optax.adam(3e-3)
    state = optimizer.init(eqx.filter(model, eqx.is_array))

    def loss(model, x, y):
        logits, _ = jax.vmap(model)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @eqx.filter_jit
    def step(model, state):
        value, grads = eqx.filter_value_and_grad(loss)(model, x, y)
        updates, state = optimizer.update(grads, state)
        return eqx.apply_updates(model, updates), state, value

    @eqx.filter_jit
    def layers(model):
        logits, hidden = jax.vmap(model)(x)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
        named = {"fc1": hidden[0], "fc2": hidden[1], "output": jax.nn.softmax(logits)}
        return named, accuracy

    for epoch in range(epochs):
        model, state, value = step(model, state)  # the update of this epoch
        if epoch % every == 0 or epoch == epochs - 1:
            named, accuracy = layers(model)
            metrics = {"train_loss": float(value), "train_accuracy": float(accuracy)}
            plane.record(epoch, named, metrics=metrics)

    result = plane.result()
    if out is not None:
        result.save(out, overwrite=True)
        result.plot().figure.savefig(Path(out) / "plane.png", dpi=150)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--out", default="runs/equinox_mlp")
    args = parser.parse_args()
    result = main(args.epochs, args.every, args.out)
    from infoplane.analysis import summary_table

    print(summary_table(result))
    print(f"wrote {args.out}/")
