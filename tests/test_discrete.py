import jax
import jax.numpy as jnp
import numpy as np

from infoplane.estimators.discrete import group_ids, pack_symbols


@jax.jit
def _grouped(symbols):
    """Group ids of unbounded symbols, compiled as the estimators run it (op by op,
    JAX would compile each operation of the loop on its own)."""
    return group_ids(pack_symbols(symbols, None))


def _same_partition(ids, symbols):
    _, want = np.unique(symbols, axis=0, return_inverse=True)
    pairs = set(zip(np.asarray(ids).tolist(), want.ravel().tolist(), strict=True))
    return len(pairs) == len(set(np.asarray(ids).tolist())) == len(set(want.ravel()))


def _symbols(seed, rows=400, units=50):
    """Rows told apart by their first few units, except pairs that differ only in
    the last unit and a group of identical rows: refining must not stop early."""
    rng = np.random.default_rng(seed)
    symbols = rng.integers(-1000, 1000, size=(rows, units))
    symbols[1:40:2, :-1] = symbols[0:40:2, :-1]  # pairs apart only in the last unit
    symbols[40:50] = symbols[40]  # ten equal rows
    return symbols


def test_grouping_wide_unbounded_symbols_stops_only_when_rows_are_apart():
    with jax.enable_x64(True):
        for symbols in (_symbols(0), _symbols(1)[40:]):  # and rows apart at once
            ids = _grouped(jnp.asarray(symbols))
            assert _same_partition(ids, symbols)
        # Under vmap the loop runs until every member is done.
        both = np.stack([_symbols(2), _symbols(3)[::-1]])
        both[1, 60:] = both[1, 60]  # many equal rows in the second
        ids = jax.jit(jax.vmap(_grouped))(jnp.asarray(both))
        for k in range(2):
            assert _same_partition(ids[k], both[k])
