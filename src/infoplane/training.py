"""Training and measurement in one compiled loop, vmapped over seeds.

The run is a sequence of segments: the optimiser steps from one measurement epoch to
the next, then a measurement (every estimator on every layer, loss and accuracy). A
chunk of segments is one call of a compiled function; between chunks the host reports
progress, checks each network for divergence and logs. Every seed's network trains in
the same program under ``vmap``; with several devices the seed axis is sharded across
them. In a multi-process run (:mod:`infoplane.distributed`) the devices are those of
every process: each process draws and trains the networks of its own devices, and
each chunk's records are gathered to every process.

Epochs count from 0. A measurement at epoch e is taken after that epoch's update, as
the reproduction notebook does (``every:20`` measures epochs 0, 20, ..., 2980). Every
epoch of the run trains: when the schedule stops short of the last epoch, a final
segment runs the rest (2981 to 2999 here) and records the final loss and accuracy.

The network runs feature-major (features first, inputs second: one matrix product per
layer for all inputs); arrays in that layout are named ``*_fm`` (``x_fm``, ``p_y_fm``,
``layers_fm``). The estimators take inputs first.

The network is infoplane's :class:`~infoplane.model.MLP`, or an Equinox module of the
user's (:class:`UserModel`, ``ip.run(experiment, model=factory)``), which the loop
runs through :class:`Network`, an adapter with the MLP's ``features`` interface.
"""

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.sharding import NamedSharding, PartitionSpec

from . import _environment  # noqa: F401 (JAX devices and caches, before JAX starts)
from .datasets import Dataset
from .distributed import gather
from .estimators import parse_estimator
from .estimators.base import JointDistribution
from .estimators.diagnostics import layer_statistics
from .estimators.discrete import float64
from .model import ACTIVATIONS, MLP
from .schedules import parse_schedule
from .units import entropy
from .user_model import Network, UserModel, is_bias, key_seed, make_network

__all__ = ["TrainingDiverged", "divergence_message", "train"]


class TrainingDiverged(RuntimeError):
    """The loss of every network (or, when strict, of any) became NaN, infinite, or
    absurdly large."""


# A mean cross-entropy above this (the true class predicted with probability e^-100)
# only happens to a run that diverged.
DIVERGED_LOSS = 100.0


def _weight_arrays(model) -> list:
    """The weights whose gradients grad_stats follows: each layer's weight matrix of
    the MLP; every array of a user's model but its biases (arrays named ``bias``)."""
    if isinstance(model, Network):
        leaves = jax.tree_util.tree_leaves_with_path(model.params)
        return [a for path, a in leaves if not is_bias(path)]
    return [layer.weight for layer in model.layers]


class _State(eqx.Module):
    model: MLP | Network
    opt_state: optax.OptState
    key: jax.Array


def _optimizer(kind: str, lr) -> optax.GradientTransformation:
    """The optimiser named ``kind`` (``"sgd"`` or ``"adam"``), with learning rate
    ``lr`` (a traced value inside the compiled program)."""
    if kind == "sgd":
        # XLA fuses each array's update into one operation; a flat vector would only
        # add its concatenation to compile.
        return optax.sgd(lr)
    # Adam updates its moments as one flat vector: a few operations per step instead
    # of a few per parameter array, which matters for the many small steps of
    # mini-batch training.
    return optax.flatten(optax.adam(lr))


@dataclasses.dataclass(frozen=True)
class ProgramShape:
    """What the compiled training program is specialised on, and nothing else.

    The chunk function is compiled once per distinct value of this (and of the shapes
    and dtypes of its arrays: data set size, training samples when mini-batching,
    measurements per chunk). Everything else about an experiment reaches the program
    as array values, so changing it reuses the compiled program: the learning rate
    (a traced scalar), the seed (the initial parameters, data split and shuffling
    keys), the epochs and the schedule (each chunk's target epochs), train_fraction,
    train_samples and test_samples with full batch (the per-input sample counts),
    measure_on (the measured inputs' weights), scale (the input values), the name and
    the units. ``measure_samples`` sets the number of measured inputs, an array
    shape: each subset size compiles its own program (0, all inputs, the one without
    a subset).

    A run-wide binning range (``binning-observed:scope=run``) is part of its
    estimator's spec, so each resolved range compiles its own program.

    A user's model (:class:`UserModel`) takes the place of ``hidden``, ``activation``
    and ``quantize``: runs of models alike share a program, whatever MLP the
    experiment describes.
    """

    hidden: tuple[int, ...]
    activation: str
    loss: str
    optimizer: str
    batch_size: int
    estimators: tuple[str, ...]
    measure_output: bool
    grad_stats: bool
    quantize: str  # the hidden layers' quantisation (model.QUANTIZE), "none" by default
    networks: int  # how many networks train together: the seeds, padded for devices
    keep_layers: bool = False  # also record every measured layer's activations
    # A user's model, in place of the MLP (whose hidden, activation and quantize are
    # then (), "" and "none").
    model: UserModel | None = None

    @classmethod
    def of(cls, exp, networks: int) -> "ProgramShape":
        return cls(
            hidden=exp.hidden,
            activation=exp.activation,
            loss=exp.loss,
            optimizer=exp.optimizer,
            batch_size=exp.batch_size,
            estimators=exp.estimators,
            measure_output=exp.measure_output,
            grad_stats=exp.grad_stats,
            quantize=exp.quantize,
            networks=networks,
        )


def _example_losses(loss: str, logits, p_y, axis: int = -1):
    """The loss of each example; classes along ``axis`` of logits and p_y."""
    if loss == "sigmoid_bce":
        return optax.sigmoid_binary_cross_entropy(logits, p_y).mean(axis=axis)
    return optax.softmax_cross_entropy(logits, p_y, axis=axis)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _mean_loss(loss, logits, p_y, w):
    """The mean over examples of the loss named ``loss``, weighted by ``w`` (which
    sums to 1); logits and p_y are ``(classes, examples)``, as training lays them
    out."""
    return jnp.sum(w * _example_losses(loss, logits, p_y, axis=0))


def _mean_loss_fwd(loss, logits, p_y, w):
    return _mean_loss(loss, logits, p_y, w), (logits, p_y, w)


def _mean_loss_bwd(loss, residuals, g):
    # Both losses have a closed-form gradient with respect to the logits: predicted
    # minus target probabilities (per output for the sigmoid loss, averaged over
    # outputs; p_y sums to 1 over classes for the softmax). Autodiff through optax's
    # stable formulas gives the same numbers with twice the operations per epoch.
    logits, p_y, w = residuals
    if loss == "sigmoid_bce":
        delta = (jax.nn.sigmoid(logits) - p_y) / logits.shape[0]
    else:
        delta = jax.nn.softmax(logits, axis=0) - p_y
    return w * (g * delta), None, None


_mean_loss.defvjp(_mean_loss_fwd, _mean_loss_bwd)


def _weighted_loss(model, loss: str, x_fm, p_y_fm, w):
    """The loss of ``model`` on inputs ``x_fm`` ``(features, examples)`` with targets
    ``p_y_fm`` ``(classes, examples)``, weighted by ``w`` ``(examples,)``, which sums
    to 1."""
    logits, _ = model.features(x_fm)
    return _mean_loss(loss, logits, p_y_fm, w)


def _mix(x, key):
    """A murmur3-style finaliser: a well-mixing function of uint32 words."""
    h = (x ^ key) * jnp.uint32(0x85EBCA6B)
    h = (h ^ (h >> 13)) * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def _shuffle(key, epoch, values, rounds: int = 10):
    """A pseudorandom order of ``values``, a fresh one for each key and epoch, without
    sorting.

    A keyed Feistel network permutes the integers below the next power of four above
    n; positions that land at n or beyond are walked on through the permutation
    until they fall below n (cycle walking), which keeps it a bijection of
    0..n-1. The round keys hash the network's 64-bit key (two uint32 words) with the
    epoch. Ten rounds give positions indistinguishable from uniform in chi-square
    tests, over keys and over epochs (tests/test_training.py). This costs a few
    vector operations per epoch; sorting random keys, the usual way to shuffle, costs
    a sort, which is expensive next to the updates of these small networks.
    """
    n = values.shape[0]
    half = max(1, math.ceil(math.ceil(math.log2(max(n, 2))) / 2))
    mask = jnp.uint32(2**half - 1)
    seed = _mix(_mix(jnp.asarray(epoch, jnp.uint32), key[0]), key[1])
    round_keys = [_mix(jnp.uint32(r), seed) for r in range(rounds)]

    def permute(x):
        left, right = x >> half, x & mask
        for k in round_keys:
            left, right = right, left ^ (_mix(right, k) & mask)
        return (left << half) | right

    order = permute(jnp.arange(n, dtype=jnp.uint32))
    order = lax.while_loop(
        lambda y: jnp.any(y >= n), lambda y: jnp.where(y >= n, permute(y), y), order
    )
    return values[order.astype(jnp.int32)]


def _epoch(program, shared, seed_data, state: _State, epoch, collect: bool):
    """Epoch number ``epoch`` of updates; with ``collect``, also gradient mean and
    spread norms.

    Full batch is one update on the distinct inputs, each weighted by its share of the
    training samples. Mini-batches are drawn from the training multiset in a fresh
    order each epoch (from the seed's key and the epoch number); the last, partial
    batch is a smaller batch.
    """
    x_fm, p_y_fm, lr = shared["x_fm"], shared["p_y_fm"], shared["lr"]
    grad_fn = jax.grad(_weighted_loss)
    opt = _optimizer(program.optimizer, lr)

    def step(carry, batch):
        state, total, square = carry
        x, p, w = batch
        grads = grad_fn(state.model, program.loss, x, p, w)
        params = eqx.filter(state.model, eqx.is_array)
        updates, opt_state = opt.update(grads, state.opt_state, params)
        model = eqx.apply_updates(state.model, updates)
        state = dataclasses.replace(state, model=model, opt_state=opt_state)
        if collect:
            g = _weight_arrays(grads)
            total = [t + gi for t, gi in zip(total, g, strict=True)]
            square = [s + gi**2 for s, gi in zip(square, g, strict=True)]
        return (state, total, square), None

    zeros = [jnp.zeros_like(w) for w in _weight_arrays(state.model)]
    carry = (state, zeros, zeros) if collect else (state, [], [])
    if program.batch_size == 0:
        n_batches = 1
        carry, _ = step(carry, (x_fm, p_y_fm, seed_data["train_share"]))
    else:
        samples = seed_data["samples"]
        n_batches = math.ceil(samples.shape[0] / program.batch_size)
        pad = n_batches * program.batch_size - samples.shape[0]
        order = _shuffle(state.key, epoch, samples)
        order = jnp.concatenate([order, jnp.zeros(pad, samples.dtype)])
        # Each batch's rows weigh 1 / its size; the padding rows weigh 0.
        mask = np.arange(order.shape[0]).reshape(n_batches, -1) < samples.shape[0]
        mask = (mask / mask.sum(axis=1, keepdims=True)).astype(np.float32)

        def minibatch(carry, batch):
            idx, w = batch
            return step(carry, (x_fm[:, idx], p_y_fm[:, idx], w))

        batches = (order.reshape(n_batches, -1), mask)
        carry, _ = lax.scan(minibatch, carry, batches)
    state, total, square = carry
    if not collect:
        return state, None
    mean = [t / n_batches for t in total]
    var = [
        jnp.maximum(s / n_batches - m**2, 0.0)
        for s, m in zip(square, mean, strict=True)
    ]
    stats = {
        "grad_mean_norm": jnp.stack([jnp.linalg.norm(m) for m in mean]),
        "grad_std_norm": jnp.stack([jnp.linalg.norm(jnp.sqrt(v)) for v in var]),
    }
    return state, stats


def _output_layer(loss: str, logits, axis: int = -1):
    """The output layer as measured: class probabilities (classes along ``axis``)."""
    if loss == "sigmoid_bce":
        return jax.nn.sigmoid(logits)
    return jax.nn.softmax(logits, axis=axis)


def _measure(program, estimators, shared, seed_data, model):
    p_y, inputs = shared["p_y"], seed_data["inputs"]
    logits_fm, layers_fm = model.features(shared["x_fm"])  # as training computes it
    if program.measure_output:
        layers_fm = [*layers_fm, _output_layer(program.loss, logits_fm, axis=0)]
    if "measured" in seed_data:  # a subset (measure_samples): its inputs' columns
        layers_fm = [a[:, seed_data["measured"]] for a in layers_fm]
    logits, layers = logits_fm.T, [a.T for a in layers_fm]  # estimators: inputs first
    by_estimator = [e.measure_layers(layers, inputs) for e in estimators]
    measured = list(zip(*by_estimator, strict=True))  # [layer][estimator]
    record = {
        "i_xt": jnp.array([[m[0] for m in row] for row in measured]),
        "i_ty": jnp.array([[m[1] for m in row] for row in measured]),
    }
    for name in ("occupied_bins", "clipped_fraction"):
        record[name] = jnp.array(
            [[m[2].get(name, jnp.nan) for m in row] for row in measured], jnp.float64
        )
    if program.model is None:
        hidden = len(program.hidden)
        bounds = [ACTIVATIONS[program.activation].bounds] * hidden
    else:  # a user's layers: bounds unknown, no saturation
        hidden = len(program.model.layers)
        bounds = [None] * hidden
    bounds += [(0.0, 1.0)] * (len(layers) - hidden)  # the output layer's probabilities
    record |= layer_statistics(layers_fm, inputs, bounds)
    if program.keep_layers:  # (measured input, unit): every layer's units in turn
        record["kept_activations"] = jnp.concatenate(layers, axis=1)
    # Loss and accuracy of both splits: one (split x input) by (input x 2) product.
    losses = _example_losses(program.loss, logits, p_y)
    correct = (jnp.argmax(logits, -1) == shared["label"]).astype(jnp.float32)
    fit = seed_data["fit_counts"] @ jnp.stack([losses, correct], axis=1)
    fit = fit * seed_data["fit_scale"][:, None]
    for i, split in enumerate(("train", "test")):
        record[f"{split}_loss"], record[f"{split}_accuracy"] = fit[i, 0], fit[i, 1]
    return record


@eqx.filter_jit
@eqx.debug.assert_max_traces(max_traces=None)  # counts traces: eqx.debug.get_num_traces
def _advance(state, shared, seed_data, start, targets, program: ProgramShape):
    """Run each seed from epoch ``start`` to each epoch in ``targets`` (increasing)
    and measure there."""
    estimators = [parse_estimator(e) for e in program.estimators]

    # The epoch loop is outside the vmap over seeds (they move in step), so its bounds
    # and the grad-stats branch are plain scalars rather than per-seed predicates.
    def per_seed(fn, *args):
        # A seed axis of one is dropped rather than vmapped: on XLA:CPU a batched
        # matrix product with a batch of one runs slower than a plain one.
        if jax.tree.leaves(args)[0].shape[0] == 1:
            squeeze = jax.tree.map(lambda a: a[0], args)
            return jax.tree.map(lambda a: a[None], fn(*squeeze))
        return jax.vmap(fn)(*args)

    def all_seeds(shared, state, seed_data):
        # shared is an argument, not closed over: shard_map passes it to every device.
        def epoch(state, seed_data, number, collect):
            return per_seed(
                lambda s, d: _epoch(program, shared, d, s, number, collect),
                state,
                seed_data,
            )

        def segment(carry, target):
            # Epochs from ``done`` (the number run so far) up to the target, inclusive;
            # a repeated target (padding) runs none. With grad_stats, the last epoch
            # is run apart, collecting the gradient statistics.
            state, done = carry
            last = target if program.grad_stats else target + 1
            state = lax.fori_loop(
                done, last, lambda e, s: epoch(s, seed_data, e, False)[0], state
            )
            record = {}
            if program.grad_stats:
                n = (
                    len(state.model.layers)
                    if program.model is None
                    else len(program.model.weights)
                )
                blank = jnp.full((len(state.key), n), jnp.nan, jnp.float32)
                state, record = lax.cond(
                    done <= target,
                    lambda s: epoch(s, seed_data, target, True),
                    lambda s: (s, {"grad_mean_norm": blank, "grad_std_norm": blank}),
                    state,
                )
            record |= per_seed(
                lambda d, m: _measure(program, estimators, shared, d, m),
                seed_data,
                state.model,
            )
            # One float64 row per seed holds every record (exactly: every record is
            # float32, int or float64), so the loop writes one array per measurement
            # instead of one per record; _unpack restores names, shapes and dtypes.
            # Records of one dtype are joined before converting: one conversion each.
            items = sorted(record.items(), key=lambda kv: str(kv[1].dtype))
            layout[:] = [(k, v.shape[1:], v.dtype) for k, v in items]
            rows = [
                jnp.concatenate([v.reshape(v.shape[0], -1) for _, v in group], axis=1)
                for _, group in itertools.groupby(items, key=lambda kv: kv[1].dtype)
            ]
            rows = [row.astype(jnp.float64) for row in rows]
            return (state, target + 1), jnp.concatenate(rows, axis=1)

        (state, _), records = lax.scan(segment, (state, start), targets)
        return state, jnp.swapaxes(records, 0, 1)

    layout = []
    mesh = _seed_mesh(program.networks)
    if mesh is None:
        state, records = all_seeds(shared, state, seed_data)
    else:
        # Seeds are independent: each device runs its share, with no communication.
        spec = PartitionSpec("seeds")
        state, records = jax.shard_map(
            all_seeds,
            mesh=mesh,
            in_specs=(PartitionSpec(), spec, spec),
            out_specs=spec,
            check_vma=False,
        )(shared, state, seed_data)
    return state, records, tuple(layout)


def _find_divergence(
    train_loss: np.ndarray, targets: np.ndarray, diverged: np.ndarray
) -> np.ndarray:
    """``diverged`` (the epoch of divergence of each network, -1 for none) updated
    with a chunk's training losses ``(seed, target)`` at epochs ``targets``."""
    bad = ~(train_loss <= DIVERGED_LOSS)  # NaN compares False
    first = np.where(bad.any(axis=1), targets[bad.argmax(axis=1)], -1)
    return np.where(diverged >= 0, diverged, first)


def _mask_diverged(
    records: dict[str, np.ndarray], targets: np.ndarray, diverged: np.ndarray
) -> dict[str, np.ndarray]:
    """``records`` ``(seed, target, ...)`` with every value of a network at and after
    its epoch of divergence set to NaN."""
    after = (diverged[:, None] >= 0) & (targets[None, :] >= diverged[:, None])
    if not after.any():
        return records
    masked = {}
    for name, values in records.items():
        values = values.astype(np.result_type(values.dtype, np.float32))
        where = after.reshape(after.shape + (1,) * (values.ndim - 2))
        masked[name] = np.where(where, np.nan, values).astype(values.dtype)
    return masked


def _check_finite_layers(chunk: dict, targets, model: UserModel, output: bool):
    """Refuse a user's layer that gave NaN or infinite values where the network's
    loss was finite (networks that diverged are masked NaN already)."""
    extremes = np.stack([chunk["activation_min"], chunk["activation_max"]])
    finite_loss = np.isfinite(chunk["train_loss"])[None, :, :, None]
    bad = ~np.isfinite(extremes) & finite_loss  # (2, seed, target, layer)
    if not bad.any():
        return
    _, seed, target, layer = np.argwhere(bad)[0]
    names = [*model.layers, *(["output"] if output else [])]
    raise ValueError(
        f"layer {names[layer]!r} of the model of {model.name} gave NaN or infinite "
        f"values at epoch {int(targets[target])} (seed {seed}) while its loss was "
        "finite; every layer must be a finite function of the input"
    )


def divergence_message(exp, diverged: np.ndarray) -> str:
    """Which networks diverged (``diverged``: each seed's epoch, -1 if none), when,
    and what to try."""
    seeds = np.flatnonzero(diverged >= 0)
    if exp.seeds == 1:
        what, when = "the network", f" by epoch {diverged[0]}"
    else:
        listed = ", ".join(f"seed {s} by epoch {diverged[s]}" for s in seeds[:10])
        if len(seeds) > 10:
            listed += f", and {len(seeds) - 10} more"
        what, when = f"{len(seeds)} of {exp.seeds} networks", f" ({listed})"
    return (
        f"training diverged: the loss of {what} became NaN, infinite or above "
        f"{DIVERGED_LOSS:g}{when}; lower the learning rate (lr={exp.lr:g})"
    )


def _unpack(records: np.ndarray, layout) -> dict[str, np.ndarray]:
    """The records of :func:`_advance` as named arrays ``(seed, epoch, ...)``."""
    out, start = {}, 0
    for name, shape, dtype in layout:
        size = math.prod(shape)
        block = records[..., start : start + size]
        out[name] = block.reshape(records.shape[:2] + shape).astype(dtype)
        start += size
    return out


def _seed_mesh(n_seeds: int):
    """A mesh over all devices (of every process, in a multi-process run) for the
    seed axis, when there are several devices and several seeds to share among them."""
    devices = jax.devices()
    if len(devices) < 2 or n_seeds < 2:
        return None
    return jax.make_mesh((len(devices),), ("seeds",))


def _setup(exp, dataset: Dataset, n_networks: int, sharding=None, model=None):
    """Draw every network's data split, initial parameters and shuffling key.

    Network i draws from NumPy generators seeded by ``SeedSequence(seed,
    spawn_key=(i,))``, so it is the same network whether it trains alone or among
    fifty. Drawing on the host compiles nothing, which is most of a short run's start.
    A user's ``model`` (:class:`UserModel`) is made by its factory, with the key
    :func:`network_key` gives network i. With ``sharding`` (of the seed axis), a
    process draws only the networks of its own devices, and the arrays are global
    ones (:func:`_place`).
    """
    rows = _local_rows(n_networks, sharding)
    split = dict(
        train_samples=exp.train_samples,
        test_samples=exp.test_samples,
        train_fraction=exp.train_fraction,
    )
    networks, columns, subsets, measured = [], [], [], []
    for i in rows:
        # A fourth child for the measured subset leaves the first three as they were.
        data_seed, init_seed, batch_seed, subset_seed = np.random.SeedSequence(
            exp.seed, spawn_key=(i,)
        ).spawn(4)
        train, test = dataset.split(np.random.default_rng(data_seed), **split)
        if model is None:
            network = MLP(
                dataset.inputs.shape[1],
                exp.hidden,
                dataset.p_y.shape[1],
                exp.activation,
                key=np.random.default_rng(init_seed),
                quantize=exp.quantize,
            )
        else:
            network = make_network(model, key_seed(init_seed))
        networks.append((network, batch_seed.generate_state(2)))
        measure = {"train": train, "test": test, "full": dataset.p_x}[exp.measure_on]
        measured.append(measure)
        # What the compiled loop needs of the data, computed here once rather than
        # compiled into it: the training weights as shares, the counts of each split
        # and their reciprocal totals, and the measured inputs.
        counts = np.stack([train, test]).astype(np.float32)
        data = {
            "train": train,
            "test": test,
            "train_share": (train / train.sum()).astype(np.float32),
            "fit_counts": counts,
            "fit_scale": 1 / np.maximum(counts.sum(axis=1), np.float32(1)),
            "inputs": JointDistribution.of(measure, dataset.p_y),
        }
        if exp.batch_size:  # the training multiset, as input indices
            data["samples"] = np.repeat(np.arange(len(train)), train).astype(np.int32)
        columns.append(data)
        subsets.append(
            _measured_subset(
                measure,
                exp.measure_samples,
                np.random.default_rng(subset_seed),
                samples=exp.measure_on != "full",
            )
        )
    fewer_rows = 0 < exp.measure_samples < len(dataset.p_x)
    if fewer_rows or any(s is not None for s in subsets):
        # Every network measures the same number of inputs (padded with inputs of
        # weight 0), so that the program has one shape for all of them, on every
        # process of a multi-process run. A measured set no larger than
        # measure_samples is measured whole, on its own inputs rather than on all
        # of them with weight 0 for the others: the same information (to rounding),
        # for a fraction of the work (the test set of tishby12, say).
        length = exp.measure_samples
        for data, subset, measure in zip(columns, subsets, measured, strict=True):
            if subset is None:  # this network's measured set is no larger
                subset = np.flatnonzero(measure > 0), measure[measure > 0]
            index, weight = (np.pad(a, (0, length - len(a))) for a in subset)
            data["measured"] = index.astype(np.int32)
            data["inputs"] = JointDistribution.of(weight, dataset.p_y[index])
            data["measured_size"] = np.int32(len(subset[0]))
    place = functools.partial(_place, n_networks, rows, sharding)
    stack = lambda *leaves: place(np.stack(leaves))  # noqa: E731
    models, keys = jax.tree.map(stack, *networks)
    seed_data = jax.tree.map(stack, *columns)
    opt_state = _init_optimizer(exp.optimizer, models, len(rows), place)
    return _State(models, opt_state, keys), seed_data


def _measured_subset(
    weights: np.ndarray, size: int, rng: np.random.Generator, *, samples: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """A random subset of ``size`` samples of the measured set, as the indices of
    their distinct inputs and the weight of each; None when ``size`` is 0 or the set
    is no larger.

    With ``samples``, ``weights`` are sample counts per input (a training or test
    multiset) and the subset is ``size`` of those samples drawn without replacement;
    otherwise ``weights`` are p(x) (``measure_on = "full"``) and the subset is
    ``size`` of the inputs of positive p(x), each keeping its p(x).
    """
    present = np.flatnonzero(weights > 0)
    pool = np.repeat(present, weights[present].astype(np.int64) if samples else 1)
    if size == 0 or size >= len(pool):
        return None
    chosen = pool[rng.choice(len(pool), size, replace=False)]
    if not samples:
        chosen = np.sort(chosen)
        return chosen, weights[chosen]
    counts = np.bincount(chosen, minlength=len(weights))
    index = np.flatnonzero(counts)
    return index, counts[index]


def _local_rows(n_networks: int, sharding) -> np.ndarray:
    """The networks (rows of the seed axis) on this process's devices: all of them
    without ``sharding``."""
    if sharding is None:
        return np.arange(n_networks)
    indices = sharding.addressable_devices_indices_map((n_networks,)).values()
    return np.unique(np.concatenate([np.arange(n_networks)[i[0]] for i in indices]))


def _place(n_networks: int, rows: np.ndarray, sharding, local: np.ndarray):
    """A seed-major array of ``n_networks`` rows from this process's rows ``rows``
    (``local``): without ``sharding`` on the default device, else a global array
    whose shards each process fills from its own rows (``device_put`` cannot place
    host data on another process's devices)."""
    if sharding is None:
        # device_put, unlike jnp.asarray, transfers without compiling a conversion.
        return jax.device_put(local)
    where = np.zeros(n_networks, np.intp)
    where[rows] = np.arange(len(rows))
    return jax.make_array_from_callback(
        (n_networks, *local.shape[1:]),
        sharding,
        lambda index: local[(where[index[0]], *index[1:])],
    )


def _init_optimizer(kind: str, models, n_local: int, place):
    """The optimiser state of every network: zeros of the shapes optax's ``init``
    gives (SGD has none; Adam's moments and step count start at zero), built on the
    host so that nothing is compiled (tests check it against ``init``); ``n_local``
    rows of each, placed by ``place``."""
    init = _optimizer(kind, 1.0).init
    shapes = jax.eval_shape(
        jax.vmap(lambda m: init(eqx.filter(m, eqx.is_array))), models
    )
    return jax.tree.map(
        lambda s: place(np.zeros((n_local, *s.shape[1:]), s.dtype)), shapes
    )


def _shared(exp, dataset: Dataset, mesh=None) -> dict[str, jax.Array]:
    """What every network reads: the inputs feature-major, as training lays them out;
    the labels both ways and as the most likely class of each input; and the
    learning rate, on the device (with ``mesh``, on every device of it)."""
    x = np.asarray(dataset.inputs, np.float32)
    p_y = np.asarray(dataset.p_y, np.float32)
    shared = {
        "x_fm": np.ascontiguousarray(x.T),
        "p_y": p_y,
        "p_y_fm": np.ascontiguousarray(p_y.T),
        "label": np.argmax(dataset.p_y, axis=1),  # int64, as jnp.argmax gives
        "lr": np.asarray(exp.lr, np.float32),
    }
    if mesh is None:
        return jax.device_put(shared)
    everywhere = NamedSharding(mesh, PartitionSpec())
    return {
        name: jax.make_array_from_callback(a.shape, everywhere, lambda i, a=a: a[i])
        for name, a in shared.items()
    }


@float64  # entropies need float64; the networks are explicitly float32
def train(
    exp,
    dataset: Dataset,
    *,
    on_chunk: Callable[[np.ndarray, dict], None] | None = None,
    strict: bool = False,
    keep_layers: int = 0,
    model: UserModel | None = None,
) -> dict[str, np.ndarray]:
    """Train ``exp.seeds`` networks on ``dataset`` and measure them on the schedule.

    Args:
        exp: an :class:`~infoplane.Experiment`.
        dataset: the data set it names.
        model: a user's model (:func:`~infoplane.user_model.describe_model`) to
            train in place of the MLP of ``exp.hidden``, ``exp.activation`` and
            ``exp.quantize``.
        on_chunk: called after each compiled chunk with the epochs it measured and its
            records (host arrays with axes seed, epoch, ...).
        strict: raise when any network diverges, rather than only when all do.
        keep_layers: for the first ``keep_layers`` networks, also return
            ``kept_activations (seed, epoch, measured, unit)`` (float32: every
            measured layer's units in turn, on the measured inputs),
            ``kept_weights (seed, measured)`` and ``kept_p_y (seed, measured,
            class)`` (the measured inputs' weights and labels), and
            ``kept_parameters (seed, parameter)``: the final weights and biases of
            every layer in turn, flattened (a user's model: every array of the
            module, in the order of ``jax.tree.leaves``).

    Returns:
        Host arrays in nats: ``epochs (epoch,)``, ``i_xt`` and ``i_ty``
        ``(seed, epoch, layer, estimator)``, ``{train,test}_{loss,accuracy}``
        ``(seed, epoch)``, ``grad_{mean,std}_norm (seed, epoch, layer)`` when
        ``exp.grad_stats``, ``train_size`` / ``test_size`` ``(seed,)``, and
        ``final_{train,test}_{loss,accuracy} (seed,)``: the state after the last
        epoch, ``exp.epochs - 1``, whether or not the schedule measures it.
        ``diverged_epoch (seed,)``: -1 for a network that trained to the end, else
        the first checked epoch (a measured one, or the last epoch) at which its
        training loss was NaN, infinite or above ``DIVERGED_LOSS``; every value of
        that network from that epoch on, and its ``final_*`` values, are NaN.

    Divergence is checked per network at each measurement and after the last epoch.
    The networks are independent (vmapped), so one that diverged does not change the
    others; it keeps training on whatever parameters it has (often NaN), and its
    records are masked.

    Raises:
        TrainingDiverged: every network diverged (one network alone: it diverged),
            or, with ``strict``, any did. The run stops at that check.
        ValueError: a layer of a user's model gave NaN or infinite values in a
            network that had not diverged.
    """
    epochs = parse_schedule(exp.measure).epochs(exp.epochs)
    # With several devices, pad the seeds to a multiple of their number (the extra
    # networks are dropped) so the seed axis always splits evenly.
    mesh = _seed_mesh(exp.seeds)
    n_devices = 1 if mesh is None else mesh.size
    n_networks = -(-exp.seeds // n_devices) * n_devices
    program = ProgramShape.of(exp, n_networks)
    if keep_layers:
        program = dataclasses.replace(program, keep_layers=True)
    if model is not None:
        program = dataclasses.replace(
            program, model=model, hidden=(), activation="", quantize="none"
        )
    shared = _shared(exp, dataset, mesh)
    sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec("seeds"))
    state, seed_data = _setup(exp, dataset, n_networks, sharding, model)

    # Every epoch trains. When the schedule does not measure the last epoch, one more
    # target runs the remaining epochs after the last measurement; its record gives
    # the final loss and accuracy and is not a measurement of the schedule.
    targets_all = epochs
    if epochs[-1] != exp.epochs - 1:
        targets_all = np.append(epochs, exp.epochs - 1)
    # About 25 chunks, of a power-of-two size so that similar runs share a program.
    size = 1 << max(0, math.ceil(math.log2(math.ceil(len(epochs) / 25))))
    records: list[dict] = []
    diverged = np.full(exp.seeds, -1)
    for start in range(0, len(targets_all), size):
        targets = targets_all[start : start + size]
        padded = np.pad(targets, (0, size - len(targets)), mode="edge")
        done = np.int32(0 if start == 0 else targets_all[start - 1] + 1)
        state, packed, layout = _advance(
            state, shared, seed_data, done, padded.astype(np.int32), program
        )
        # Every process gets every network's records (an all-gather when the seeds
        # are spread over processes), so all of them decide alike below.
        chunk = _unpack(gather(packed)[: exp.seeds, : len(targets)], layout)
        diverged = _find_divergence(chunk["train_loss"], targets, diverged)
        chunk = _mask_diverged(chunk, targets, diverged)
        if model is not None:
            _check_finite_layers(chunk, targets, model, exp.measure_output)
        if keep_layers:  # only the kept networks' layers stay on the host
            chunk["kept_activations"] = chunk["kept_activations"][:keep_layers]
        if (diverged >= 0).all() or (strict and (diverged >= 0).any()):
            raise TrainingDiverged(divergence_message(exp, diverged))
        final = {k: v[:, -1] for k, v in chunk.items()}
        measured = min(len(targets), len(epochs) - start)
        chunk = {k: v[:, :measured] for k, v in chunk.items()}
        records.append(chunk)
        if on_chunk is not None and measured:
            on_chunk(targets[:measured], chunk)
    out = {k: np.concatenate([r[k] for r in records], axis=1) for k in records[0]}
    for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        out[f"final_{name}"] = final[name]
    out["diverged_epoch"] = diverged
    out["epochs"] = epochs
    if keep_layers:
        out["kept_weights"] = gather(seed_data["inputs"].weights)[:keep_layers]
        out["kept_p_y"] = gather(seed_data["inputs"].p_y)[:keep_layers]
        leaves = jax.tree.leaves(eqx.filter(state.model, eqx.is_array))
        out["kept_parameters"] = np.concatenate(
            [gather(a)[:keep_layers].reshape(keep_layers, -1) for a in leaves], axis=1
        ).astype(np.float32)
    if "measured" in seed_data:
        # Which inputs (rows of the data set) each network was measured on, -1 past
        # its own number of them; and how many samples that subset holds.
        index = gather(seed_data["measured"])[: exp.seeds].astype(np.int64)
        size = gather(seed_data["measured_size"])[: exp.seeds]
        index[np.arange(index.shape[1]) >= size[:, None]] = -1
        out["measured_inputs"] = index[:, : size.max()]  # without padding networks
        weights = gather(seed_data["inputs"].weights)[: exp.seeds]
        out["measured_samples"] = (
            weights.sum(1).round().astype(np.int64)
            if exp.measure_on != "full"
            else size.astype(np.int64)
        )
    if exp.measure_on != "full" or "measured" in seed_data:
        # H(X) of each network's measured samples: what I(X;T) can reach on them
        # (log2 200 = 7.6 bits for 200 distinct samples), below the task's H(X).
        shares = gather(seed_data["inputs"].share)[: exp.seeds]
        out["measured_h_x"] = np.array([entropy(row) for row in shares])
    train, test = (gather(seed_data[k])[: exp.seeds] for k in ("train", "test"))
    out["train_size"], out["test_size"] = train.sum(1), test.sum(1)
    # Share of each class in each split, e.g. the positive rate of a binary task.
    out["train_class_share"] = train @ dataset.p_y / train.sum(1, keepdims=True)
    out["test_class_share"] = (
        test @ dataset.p_y / np.maximum(test.sum(1, keepdims=True), 1)
    )
    return out
