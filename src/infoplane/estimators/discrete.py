"""Exact entropies of discrete symbols, by sorting.

Every binning estimator reduces a layer to one discrete symbol per input: the tuple of
its units' bin indices. Entropies of such symbols are computed exactly: the bin indices
are packed into 64-bit words, rows are grouped by sorting (each word a single-key sort
that also carries the row index, which XLA sorts far faster than several operands),
and the weights of each group are summed in float64. This is fixed-shape and jittable,
and on a data set that is the whole population it gives the exact mutual information
of the quantised network (Lorenzen et al. 2022).
"""

import functools
import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from .base import JointDistribution

__all__ = [
    "compiled",
    "float64",
    "group_ids",
    "pack_symbols",
    "plugin_counts",
    "plugin_entropies",
]


def float64(fn: Callable) -> Callable:
    """Run ``fn`` with JAX's 64-bit types enabled.

    Entropies are sums over up to millions of terms; float32 would lose digits that the
    exact counting is there to give. The networks themselves stay float32.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper


def compiled(fn: Callable) -> Callable:
    """``float64`` around ``eqx.filter_jit``: compiled once per shape and estimator.

    Called from plain Python (a notebook, :func:`mutual_information`), an estimator then
    runs as one program rather than op by op; inside a jitted caller it is inlined.
    """
    return float64(eqx.filter_jit(fn))


def _index_bits(n: int) -> int:
    return max(1, math.ceil(math.log2(n)))


@float64
def pack_symbols(
    symbols: Int[Array, "rows units"], n_symbols: int | None
) -> list[tuple[Array, int]]:
    """Pack per-unit symbols into words of up to 64 bits: ``[(words, bits)]``, one
    block of columns (see :func:`group_ids`), ``words`` of shape ``(words, rows)``.

    With ``n_symbols`` known, ``ceil(log2(n_symbols))`` bits per unit and as many units
    per word as fit beside two row indices (see :func:`group_ids`); with
    ``n_symbols=None`` (unbounded) each unit is a 32-bit word of its own. ``bits`` is
    the most any word uses. Equal rows give equal words and different rows different
    words: the packing is exact. All words are made at once, by array operations: the
    compiled program is the same size for any number of units.
    """
    rows, units = symbols.shape
    if n_symbols is None:
        # uint32 words, half the memory of uint64 ones for wide layers on many inputs.
        offset = jnp.int64(2**31)
        return [((symbols.astype(jnp.int64) + offset).astype(jnp.uint32).T, 32)]
    bits = max(1, math.ceil(math.log2(n_symbols)))
    per_word = max(1, (64 - 2 * _index_bits(rows)) // bits)
    # Word w holds units w * per_word, ..., the first unit in the highest bits, so
    # words sort as their rows do; a last, partial word holds the rest. The full words
    # are one reshape of the symbols and the partial one a slice: two pieces for any
    # width (XLA fuses these with the binning; padding to whole words it did not).
    # NumPy constants: XLA would recompute jnp.arange(...) * bits on every call.
    full = units // per_word
    pieces = []
    if full:
        group = symbols[:, : full * per_word].astype(jnp.uint64)
        shifts = np.arange(per_word, dtype=np.uint64)[::-1] * np.uint64(bits)
        pieces.append(
            jnp.sum(
                group.reshape(rows, full, per_word) << shifts, axis=2, dtype=jnp.uint64
            )
        )
    if units > full * per_word:
        group = symbols[:, full * per_word :].astype(jnp.uint64)
        shifts = np.arange(group.shape[1], dtype=np.uint64)[::-1] * np.uint64(bits)
        pieces.append(jnp.sum(group << shifts, axis=1, keepdims=True, dtype=jnp.uint64))
    words = jnp.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
    return [(words.T, bits * min(per_word, units))]


def _run_index(start: Array) -> Int[Array, " rows"]:
    """The run number (0, 1, ...) of each position of a sorted sequence, from the
    flags that mark where runs start: an inclusive prefix count of the flags, less 1.

    The prefix count is two small matrix products over a ``b x b`` reshape
    (``b = ceil(sqrt(n))``), exact in float64 for 0/1 flags. ``jnp.cumsum`` gives the
    same numbers, but XLA:CPU compiles each one into about seven kernels.
    """
    n = start.shape[0]
    b = math.isqrt(n - 1) + 1
    flags = jnp.pad(start.astype(jnp.float64), (0, b * b - n)).reshape(b, b)
    within = flags @ np.triu(np.ones((b, b)))  # counts along each row of b
    before = np.tril(np.ones((b, b)), -1) @ within[:, -1]  # counts in earlier rows
    return (within + before[:, None]).reshape(-1)[:n].astype(jnp.int32) - 1


def _sorted_runs(columns: Sequence[tuple[Array, int]]) -> tuple[Array, Array]:
    """The row order that sorts rows by their tuple of column values, and the run
    number of each position in that order (equal tuples form one run).

    Rows are refined one column at a time: sort ``(id so far, column, row index)``
    packed into one uint64, and number the distinct (id, column) runs. A column wider
    than fits beside two row indices is first replaced by its dense rank. The last
    column's sort gives the order directly, with no scatter back to row order.

    The columns of a block (a ``(columns, rows)`` array) are refined in a
    ``lax.while_loop``: one loop body, whatever the number of columns, which stops
    once every row is told apart. Unrolled, a wide
    layer's words made thousands of kernels, minutes of compiling, and a program
    that jaxlib's CPU loader could not read back from the persistent cache.
    """
    n = columns[0][0].shape[-1]
    idx_bits = _index_bits(n)
    limit = 64 - 2 * idx_bits
    iota = jnp.arange(n, dtype=jnp.uint64)

    def sort_runs(ids, values, bits):
        key = (
            (ids << jnp.uint64(bits + idx_bits))
            | (values.astype(jnp.uint64) << jnp.uint64(idx_bits))
            | iota
        )
        ordered = jnp.sort(key)
        code = ordered >> jnp.uint64(idx_bits)
        start = jnp.concatenate([jnp.ones(1, bool), code[1:] != code[:-1]])
        order = (ordered & jnp.uint64(2**idx_bits - 1)).astype(jnp.int32)
        return order, _run_index(start)

    def dense_ids(order, runs):
        return jnp.zeros(n, jnp.uint64).at[order].set(runs.astype(jnp.uint64))

    # The rows' ids so far, as the order and runs that give them: every row in one
    # run at first (ids all 0).
    state = (jnp.arange(n, dtype=jnp.int32), jnp.zeros(n, jnp.int32))
    for values, bits in columns:
        wide = bits > limit

        def refine(state, values, wide=wide, bits=bits):
            if wide:
                values = dense_ids(*sort_runs(jnp.zeros(n, jnp.uint64), values, 32))
            return sort_runs(dense_ids(*state), values, idx_bits if wide else bits)

        values = values.reshape(-1, n)
        if values.shape[0] == 1:
            state = refine(state, values[0])
        else:
            state = _refine_until_distinct(refine, state, values)
    return state


def _refine_until_distinct(refine, state, values):
    """``refine`` the state by each row of ``values`` in turn, stopping early once
    every row is a run of its own (the last run number is n - 1): further columns
    cannot split a partition into singletons any further, so the groups, and every
    entropy of them, are those of all the columns. A wide layer on many distinct
    inputs is usually told apart by its first few words."""
    n = values.shape[1]

    def more(carry):
        column, (_, runs) = carry
        return (column < values.shape[0]) & (runs[-1] < n - 1)

    def step(carry):
        column, state = carry
        return column + 1, refine(state, values[column])

    return jax.lax.while_loop(more, step, (jnp.int32(0), state))[1]


@float64
def group_ids(columns: Sequence[tuple[Array, int]]) -> Int[Array, " rows"]:
    """Dense id of each row's tuple of column values: equal tuples, equal ids.

    Args:
        columns: ``(values, bits)`` pairs; ``values`` unsigned below ``2**bits``, of
            shape ``(rows,)`` for one column or ``(columns, rows)`` for a block of
            them (as :func:`pack_symbols` gives).
    """
    order, runs = _sorted_runs(columns)
    return jnp.zeros(order.shape[0], jnp.int32).at[order].set(runs)


@float64
def plugin_entropies(
    columns: Sequence[tuple[Array, int]], inputs: JointDistribution
) -> tuple[Array, Array, Array]:
    """Plug-in H(T), H(Y) and H(T, Y) in nats, in float64 (see
    :func:`plugin_counts`, which also counts the symbols that occur)."""
    return plugin_counts(columns, inputs)[:3]


@float64
def plugin_counts(
    columns: Sequence[tuple[Array, int]], inputs: JointDistribution
) -> tuple[Array, Array, Array, Array]:
    """Plug-in H(T), H(Y) and H(T, Y) in nats, in float64.

    Args:
        columns: the symbol T of each row, as ``(values, bits)`` pairs (e.g. from
            :func:`pack_symbols`); rows with equal values in every column are equal.
        inputs: the rows' weights (counts or p(x)) and p(y | row), as
            :class:`~infoplane.estimators.base.JointDistribution`.

    Returns:
        ``(H(T), H(Y), H(T,Y), n)`` as float64 scalars, where p(t, y) is proportional
        to the sum of ``weights * p_y`` over the rows with symbol t, and n is the number
        of distinct symbols among rows of positive weight.
    """
    order, runs = _sorted_runs(columns)
    # Masses of each symbol t (row t; rows past the last symbol stay 0): p(t, y) in
    # the first columns, the total input weight in the last.
    masses = jax.ops.segment_sum(
        inputs.masses[order], runs, num_segments=order.shape[0], indices_are_sorted=True
    )
    # H = ln M - (1/M) sum m ln m over the masses m of a column, M their total
    # (0 ln 0 = 0; masses need not be normalised). One pass over the masses
    # sums m ln m of every column and counts the occupied symbols; the totals M are
    # the inputs' own.
    safe = jnp.where(masses > 0, masses, 1)
    sums = jnp.sum(
        jnp.concatenate([masses * jnp.log(safe), masses[:, -1:] > 0], axis=1), axis=0
    )
    h_ty, h_t = inputs.log_totals - jnp.stack([sums[:-2].sum(), sums[-2]]) * (
        inputs.inverse_totals
    )
    return h_t, inputs.h_y, h_ty, sums[-1]
