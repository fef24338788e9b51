"""A model of the user's in infoplane's compiled loop (``ip.run(experiment,
model=factory)``): the contract it must keep, checked before training, and the adapter
through which the loop runs it.

The contract: ``factory(key)`` returns an ``eqx.Module`` whose every array is a
trained parameter (float32). Called on one input of the data set's
``sample_shape`` (float32), the module returns ``(logits, layers)``: logits of shape
``(classes,)``, and ``layers`` a dict of name to array (any shape, flattened per input
for measurement), in the order to show them, or a sequence of arrays (named ``layer
1``, ``layer 2``, ...). The loop vmaps that call over inputs and over seeds.
"""

import dataclasses
import functools
import math
import types
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .datasets import Dataset

__all__ = ["Network", "UserModel", "describe_model", "make_network", "network_key"]


def init_seed(seed: int, network: int) -> np.random.SeedSequence:
    """The stream of network ``network``'s initial parameters (the second of the four
    that :func:`infoplane.training._setup` spawns for each network)."""
    return np.random.SeedSequence(seed, spawn_key=(network,)).spawn(4)[1]


def key_seed(stream: np.random.SeedSequence) -> int:
    """The integer seed of a user's model's key, from its network's stream."""
    return int(stream.generate_state(1)[0])


def network_key(seed: int, network: int) -> jax.Array:
    """The key a run with ``seed`` gives the factory of a user's model for network
    ``network`` (seed 0, 1, ...): ``factory(network_key(exp.seed, i))`` is network
    i's initial module."""
    with jax.enable_x64(False):
        return jax.random.key(key_seed(init_seed(seed, network)))


@dataclasses.dataclass(frozen=True)
class UserModel:
    """An Equinox model of the user's, as the compiled loop trains it
    (``ip.run(experiment, model=factory)``); made by :func:`describe_model`.

    The contract: ``factory(key)`` returns an ``eqx.Module`` whose every array is a
    trained parameter (float32). Called on one input of the data set's
    ``sample_shape`` (float32), the module returns ``(logits, layers)``: logits of
    shape ``(classes,)``, and ``layers`` a dict of name to array (any shape,
    flattened per input for measurement), in the order to show them, or a sequence
    of arrays (named ``layer 1``, ``layer 2``, ...). The loop vmaps that call over
    inputs and over seeds.

    What the program is specialised on is compared here: the shape of one input, the
    layers, and the module without its arrays (its structure and static fields, and
    its other leaves: functions by their code, so a lambda made anew by each call of
    the factory is the same). A second run of a model alike reuses the compiled
    program; the parameters' shapes are the shapes of the program's arguments.
    """

    sample_shape: tuple[int, ...]
    layers: tuple[str, ...]  # the measured layers' names, in the model's order
    units: tuple[int, ...]  # each layer's values per input
    named: bool  # the module returns its layers as a dict (else as a sequence)
    weights: tuple[str, ...]  # paths of the arrays grad_stats follows: not biases
    structure: tuple  # the module without its arrays: treedef, and its leaves' keys
    static: Any = dataclasses.field(compare=False, repr=False)  # arrays left as None
    factory: Callable = dataclasses.field(compare=False, repr=False)
    shapes: tuple = dataclasses.field(compare=False, repr=False)  # (shape, dtype)s
    name: str = dataclasses.field(compare=False, default="")

    def info(self) -> dict:
        """What a result records of the model (``result.info["model"]``)."""
        return {
            "name": self.name,
            "layers": list(self.layers),
            "units": list(self.units),
            "sample_shape": list(self.sample_shape),
            "parameters": int(sum(math.prod(shape) for shape, _ in self.shapes)),
            "weights": list(self.weights),
        }


def describe_model(
    factory, dataset: Dataset, *, measure_output: bool, seed: int = 0
) -> UserModel:
    """Check the model ``factory`` makes, on ``dataset``, and describe it.

    The factory is called once, with the key of network 0 of a run with ``seed``
    (:func:`network_key`), and the module's call is traced on one input, without
    computing anything, to find its layers.

    Raises:
        TypeError: a module rather than a factory, a factory that is not callable or
            that returns something other than an Equinox module, a module holding
            state (``eqx.nn.StateIndex``: BatchNorm) or arrays that are not
            float32.
        ValueError: the factory or the module's call raises; the call returns
            something other than ``(logits, layers)`` as documented, logits of
            another shape than ``(classes,)``, layers that are not float arrays,
            a layer named ``output`` while the output layer is measured.
    """
    if isinstance(factory, eqx.Module):
        raise TypeError(
            f"model is a {type(factory).__name__} module; give a factory that makes "
            "one from a key, e.g. model=lambda key: MyModel(key=key), so that each "
            "seed starts from its own parameters"
        )
    if not callable(factory):
        raise TypeError(
            "model must be a function of a JAX key that returns an Equinox module, "
            f"got {type(factory).__name__}"
        )
    name = _qualified_name(factory)
    module = _make(factory, key_seed(init_seed(seed, 0)), name)
    stateful = [
        jax.tree_util.keystr(path) or "its root"
        for path, leaf in jax.tree_util.tree_leaves_with_path(
            module, is_leaf=lambda leaf: isinstance(leaf, eqx.nn.StateIndex)
        )
        if isinstance(leaf, eqx.nn.StateIndex)
    ]
    if stateful:
        raise TypeError(
            f"the model of {name} holds state (eqx.nn.StateIndex at "
            f"{', '.join(stateful)}: BatchNorm, or a layer of your own); infoplane's "
            "loop calls the module on one input at a time with no eqx.nn.State, so "
            "its call must be a function of the input alone (use LayerNorm or "
            "GroupNorm instead of batch statistics)"
        )
    params, static = eqx.partition(module, eqx.is_array)
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(
                f"the model of {name} holds a {leaf.dtype} array at "
                f"{jax.tree_util.keystr(path) or 'its root'}; every array of the "
                "model is a parameter infoplane trains, so each must hold floats "
                "(keep constants as Python values or in a static field)"
            )
        if leaf.dtype != jnp.float32:
            raise TypeError(
                f"the model of {name} holds a {leaf.dtype} array at "
                f"{jax.tree_util.keystr(path) or 'its root'}; infoplane's loop "
                "trains every parameter in float32, so make the model's arrays "
                "float32 (the default of Equinox's layers; a narrower dtype may "
                "still be used inside the call)"
            )
    shape = dataset.sample_shape
    order = []  # the layers' names as the call gives them: JAX sorts a dict's keys

    def call(module, x):
        out = module(x)
        pair = isinstance(out, tuple | list) and len(out) == 2
        if pair and isinstance(out[1], Mapping):
            order.extend(out[1])
        return out

    try:
        with jax.enable_x64(False):
            out = eqx.filter_eval_shape(
                call, module, jax.ShapeDtypeStruct(shape, jnp.float32)
            )
    except Exception as error:
        raise ValueError(
            f"the model of {name}, called on one input of shape {shape} (float32; "
            f"one input of {dataset.name}), raised {type(error).__name__}: {error}"
        ) from error
    classes = dataset.p_y.shape[1]
    logits, layers, named = _output(out, name, classes)
    if named:
        layers = {key: layers[key] for key in order}
    if measure_output and "output" in layers:
        raise ValueError(
            f"the model of {name} names a layer 'output', the name of the measured "
            "output layer (its class probabilities); rename it, or set "
            "measure_output=False"
        )
    if not layers and not measure_output:
        raise ValueError(
            f"the model of {name} returns no layers and measure_output is off: there "
            "is nothing to measure"
        )
    weights = tuple(
        jax.tree_util.keystr(path)
        for path, _ in jax.tree_util.tree_leaves_with_path(params)
        if not is_bias(path)
    )
    return UserModel(
        sample_shape=tuple(shape),
        layers=tuple(layers),
        units=tuple(math.prod(a.shape) for a in layers.values()),
        named=named,
        weights=weights,
        structure=_structure(static),
        static=static,
        factory=factory,
        shapes=_shapes(params),
        name=name,
    )


def _qualified_name(factory) -> str:
    target = factory.func if isinstance(factory, functools.partial) else factory
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None)
    return f"{module}.{name}" if module else name


def _make(factory, seed: int, name: str) -> eqx.Module:
    """``factory(jax.random.key(seed))``, checked; in 32-bit JAX, as the user's own
    call makes the module."""
    with jax.enable_x64(False):
        key = jax.random.key(seed)
        try:
            module = factory(key)
        except Exception as error:
            raise ValueError(
                f"the model factory {name} raised {type(error).__name__}: {error}"
            ) from error
    if not isinstance(module, eqx.Module):
        raise TypeError(
            f"the model factory {name} must return an Equinox module (an instance of "
            f"eqx.Module), got {type(module).__name__}"
        )
    return module


def _output(out, name: str, classes: int) -> tuple[Any, dict, bool]:
    """The logits, the layers by name and whether they were named, of the shapes of
    a module's output on one input, checked against the contract."""
    if not (isinstance(out, tuple | list) and len(out) == 2):
        got = f"a {type(out).__name__}" + (
            f" of {len(out)}" if isinstance(out, tuple | list) else ""
        )
        raise ValueError(
            f"the model of {name} must return (logits, layers) for one input, got {got}"
        )
    logits, layers = out
    if not _float_array(logits) or logits.shape != (classes,):
        got = (
            f"shape {logits.shape} ({logits.dtype})"
            if isinstance(logits, jax.ShapeDtypeStruct)
            else f"a {type(logits).__name__}"
        )
        raise ValueError(
            f"the model of {name} returns logits of {got}; the task has {classes} "
            f"classes, so one input's logits are a float array of shape ({classes},)"
        )
    if isinstance(layers, Mapping):
        named = True
        for key in layers:
            if not isinstance(key, str) or not key.strip():
                raise ValueError(
                    f"the model of {name} names a layer {key!r}; layer names are "
                    "non-empty text"
                )
        layers = dict(layers)
    elif isinstance(layers, tuple | list):
        named = False
        layers = {f"layer {i + 1}": a for i, a in enumerate(layers)}
    else:
        raise ValueError(
            f"the model of {name} returns its layers as a {type(layers).__name__}; "
            "give a dict of name to array, or a list of arrays"
        )
    for key, value in layers.items():
        if not _float_array(value) or math.prod(value.shape) == 0:
            if not isinstance(value, jax.ShapeDtypeStruct):
                got = f"a {type(value).__name__}"
            else:
                empty = "an empty " if math.prod(value.shape) == 0 else "a "
                got = f"{empty}{value.dtype} array of shape {value.shape}"
            raise ValueError(
                f"layer {key!r} of the model of {name} is {got}; each layer is a "
                "float array of one input's values"
            )
    return logits, layers, named


def is_bias(path) -> bool:
    """Whether an array at ``path`` of a module is a bias (named ``bias``, as
    Equinox's layers name theirs), which grad_stats leaves out as for the MLP."""
    return bool(path) and getattr(path[-1], "name", None) == "bias"


def _float_array(value) -> bool:
    return isinstance(value, jax.ShapeDtypeStruct) and jnp.issubdtype(
        value.dtype, jnp.floating
    )


def _leaf_key(leaf):
    """A hashable stand-in for a leaf of a module that is not an array, equal for
    leaves that compute alike: a function by its code, defaults and closure (a lambda
    in the factory is a new object at every call), anything else by value, or by
    identity when it cannot be hashed."""
    if isinstance(leaf, types.FunctionType):
        cells = []
        for cell in leaf.__closure__ or ():
            try:
                cells.append(_leaf_key(cell.cell_contents))
            except ValueError:  # an empty cell
                cells.append(None)
        defaults = tuple(_leaf_key(d) for d in leaf.__defaults__ or ())
        return ("function", leaf.__code__, defaults, tuple(cells))
    try:
        hash(leaf)
    except TypeError:
        return ("object", id(leaf))
    return leaf


def _structure(static) -> tuple:
    """What a module without its arrays computes: its treedef (structure and static
    fields) and the keys of its other leaves."""
    return jax.tree.structure(static), tuple(map(_leaf_key, jax.tree.leaves(static)))


def _shapes(params) -> tuple:
    return tuple((a.shape, str(a.dtype)) for a in jax.tree.leaves(params))


class Network(eqx.Module):
    """A user's module as the loop runs it, with the ``features`` of
    :class:`~infoplane.model.MLP`: its arrays (the parameters; in training, stacked
    over seeds) as the only leaves, the rest in the static :class:`UserModel`."""

    params: Any
    model: UserModel = eqx.field(static=True)

    def __call__(self, x):
        """One input (a row of features) in; its logits and every layer, flattened,
        out, in float32."""
        module = eqx.combine(self.params, self.model.static)
        logits, layers = module(x.reshape(self.model.sample_shape))
        if self.model.named:
            layers = [layers[name] for name in self.model.layers]
        layers = tuple(jnp.ravel(a).astype(jnp.float32) for a in layers)
        return logits.astype(jnp.float32), layers

    def features(self, x_fm):
        """Every input of ``x_fm`` ``(features, inputs)``: logits and layers, feature
        major, as :meth:`MLP.features <infoplane.model.MLP.features>` gives them."""
        logits, layers = jax.vmap(self)(x_fm.T)
        return logits.T, tuple(a.T for a in layers)


def make_network(model: UserModel, seed: int) -> Network:
    """The module ``model.factory`` makes with ``jax.random.key(seed)``, checked to be
    the model described (only its arrays' values may differ)."""
    module = _make(model.factory, seed, model.name)
    params, static = eqx.partition(module, eqx.is_array)
    if _structure(static) != model.structure or _shapes(params) != model.shapes:
        raise ValueError(
            f"the model factory {model.name} made modules that differ in more than "
            "their arrays' values for different keys; the seeds train as one "
            "program, so every key must give the same layers, shapes and functions "
            "(a function in a static field must be the same object each time)"
        )
    return Network(params, model)
