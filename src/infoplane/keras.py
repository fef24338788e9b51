"""Keras 3 (any backend): a callback that records the information plane during ``fit``.

Imported only when used (``from infoplane.keras import InformationPlaneCallback``);
Keras is not a dependency of infoplane.
"""

from collections.abc import Sequence

import keras
import numpy as np

from .recorder import InformationPlane

__all__ = ["InformationPlaneCallback"]

# The metrics a record carries <- Keras log names, the first one logged (Keras logs
# accuracy under the name it was compiled with: "acc", or a metric object's name).
ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")
LOGS = {
    "train_loss": ("loss",),
    "test_loss": ("val_loss",),
    "train_accuracy": ACCURACY,
    "test_accuracy": tuple(f"val_{name}" for name in ACCURACY),
}


class InformationPlaneCallback(keras.callbacks.Callback):
    """Record named layers of the model being fitted, every few epochs.

    At the end of each recorded epoch the callback runs the model's layers on the
    plane's distinct inputs (:attr:`InformationPlane.distinct_inputs`; each input
    once, however often it is repeated) and calls
    :meth:`InformationPlane.record` with their outputs and the epoch's loss and
    accuracy from Keras' logs (``loss``, ``accuracy`` and their ``val_`` versions,
    as ``train_*`` and ``test_*``; accuracy also as ``acc``,
    ``sparse_categorical_accuracy`` or ``categorical_accuracy``; Keras' training
    loss is the mean over the epoch's batches). Epochs are Keras' (from 0, or
    ``initial_epoch``).

    Args:
        plane: the :class:`~infoplane.InformationPlane` to record into.
        layers: names of the model's layers (``model.get_layer(name)``). The model
            must be functional or Sequential with a known input (e.g. built with
            ``keras.Input``), so that the layers' outputs can be read; for a
            subclassed model, record from your own forward pass.
        every: record epochs 0, ``every``, 2 ``every``, ...
        last: also record the last epoch of ``fit``.
        x: the inputs to run, in the order of the plane's samples (or of its
            distinct inputs); by default the plane's distinct inputs. Needed when
            the plane was made without inputs or with one id per sample.
        seed: the network's seed label in the plane.
        batch_size: samples per batch when running the layers.

    Examples:
        >>> import keras, numpy as np, infoplane as ip
        >>> from infoplane.keras import InformationPlaneCallback
        >>> x, y = np.eye(8, dtype="float32"), np.arange(8) % 2
        >>> model = keras.Sequential(
        ...     [keras.Input((8,)), keras.layers.Dense(4, "tanh", name="h"),
        ...      keras.layers.Dense(2, "softmax", name="out")])
        >>> model.compile("adam", "sparse_categorical_crossentropy")
        >>> plane = ip.InformationPlane(x, y, estimators="binning:bins=10")
        >>> callback = InformationPlaneCallback(plane, ["h", "out"], every=2)
        >>> _ = model.fit(x, y, epochs=5, verbose=0, callbacks=[callback])
        >>> plane.epochs
        [0, 2, 4]
    """

    def __init__(
        self,
        plane: InformationPlane,
        layers: "Sequence[str] | str",
        *,
        every: int = 1,
        last: bool = True,
        x=None,
        seed: int = 0,
        batch_size: int = 1024,
    ):
        super().__init__()
        if not isinstance(plane, InformationPlane):
            raise TypeError(
                f"plane must be an infoplane.InformationPlane, got {type(plane)}"
            )
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        layers = [layers] if isinstance(layers, str) else list(layers)
        if not layers or len(set(layers)) != len(layers):
            raise ValueError(f"give distinct layer names, got {layers}")
        if x is None and plane.distinct_inputs is None:
            raise ValueError(
                "the plane was made without inputs; give the inputs to run as x="
            )
        if x is None and plane.distinct_inputs.ndim == 1:
            raise ValueError(
                "the plane's inputs are one id per sample, not the model's inputs; "
                "give the distinct inputs to run as x= (one row per id, in the order "
                "of plane.distinct_inputs)"
            )
        self.plane, self.layers, self.every, self.last = plane, layers, every, last
        self.x = plane.distinct_inputs if x is None else x
        self.seed, self.batch_size = seed, batch_size
        self._probe = self._probed = None

    def _layer_outputs(self) -> dict[str, np.ndarray]:
        if self._probe is None or self._probed is not self.model:
            try:
                inputs = self.model.inputs
                outputs = [_layer_output(self.model, name) for name in self.layers]
                # A callback fitted again on another model reads that model's layers.
                self._probe, self._probed = keras.Model(inputs, outputs), self.model
            except (AttributeError, ValueError) as error:
                raise ValueError(
                    f"cannot read the outputs of layers {self.layers}: {error}. The "
                    "callback needs a functional or Sequential model with a known "
                    "input (keras.Input) and those layer names"
                ) from None
        values = self._probe.predict(self.x, batch_size=self.batch_size, verbose=0)
        if len(self.layers) == 1:
            values = [values]
        return dict(zip(self.layers, values, strict=True))

    def _records(self, epoch) -> bool:
        final = self.last and epoch == self.params.get("epochs", 0) - 1
        return not epoch % self.every or final

    def on_epoch_begin(self, epoch, logs=None):
        # A second fit counts from 0 again: refused before it trains an epoch.
        if self._records(epoch) and (self.seed, epoch) in self.plane:
            recorded = self.plane.epochs
            raise ValueError(
                f"epoch {epoch} of seed {self.seed} is already in the plane "
                f"(epochs {recorded[0]}..{recorded[-1]}); to go on training, "
                f"fit(..., initial_epoch={recorded[-1] + 1}, epochs=...), or "
                "record into a new plane"
            )

    def on_epoch_end(self, epoch, logs=None):
        if not self._records(epoch):
            return
        logs = logs or {}
        metrics = {}
        for name, keys in LOGS.items():
            logged = [logs[key] for key in keys if logs.get(key) is not None]
            if logged:
                metrics[name] = float(logged[0])
        self.plane.record(epoch, self._layer_outputs(), seed=self.seed, metrics=metrics)


def _layer_output(model, name: str):
    """The output of layer ``name`` where ``model`` calls it. Keras' ``layer.output``
    is the layer's first call, which may belong to another model (a shared encoder)
    or be one of several calls in this one."""
    layer = model.get_layer(name)
    graph = getattr(model, "_functional", None) or model  # a Sequential's graph
    depths = getattr(graph, "_nodes_by_depth", None) or {}
    in_model = {id(node) for nodes in depths.values() for node in nodes}
    calls = [n for n in getattr(layer, "_inbound_nodes", []) if id(n) in in_model]
    if len(calls) > 1:
        raise ValueError(
            f"layer {name!r} is called {len(calls)} times in the model, whose "
            "outputs would be mixed up; record a layer that is called once"
        )
    if not calls:  # a Keras without these internals: its own answer
        return layer.output
    values = calls[0].output_tensors
    return values[0] if len(values) == 1 else values
