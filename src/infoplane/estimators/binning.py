"""Binning estimators: quantise each unit, count the resulting symbols exactly."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .base import (
    AbstractEstimator,
    JointDistribution,
    check_integer,
    check_positive,
    format_number,
    python_scalar,
)
from .discrete import compiled, pack_symbols, plugin_counts

__all__ = [
    "AbstractBinning",
    "Binning",
    "BinningAdaptive",
    "BinningObserved",
    "BinningWidth",
    "Quantized",
]

_INT32 = np.iinfo(np.int32)


class AbstractBinning(AbstractEstimator):
    """A layer quantised unit by unit; T is the tuple of bin indices of its units.

    I(X;T) = H(T), since T is a function of the input, and
    I(T;Y) = H(T) + H(Y) - H(T,Y), both by exact plug-in counting (see
    :mod:`infoplane.estimators.discrete`). When the weights are the whole population,
    these are the exact mutual informations of the quantised network, not estimates.
    """

    @abc.abstractmethod
    def symbols(
        self,
        activations: Float[Array, "inputs units"],
        weights: Float[Array, " inputs"] | None = None,
    ) -> Int[Array, "inputs units"]:
        """Bin index of every activation.

        Adaptive binnings place their bins from the inputs with their ``weights``
        (default: all 1); fixed ones ignore the weights.
        """

    @property
    @abc.abstractmethod
    def n_symbols(self) -> int | None:
        """How many distinct bin indices one unit can take (``None``: unbounded)."""

    @compiled
    def __call__(self, activations, weights, p_y):
        return self.measure(activations, weights, p_y)[:2]

    @compiled
    def diagnostics(self, activations, weights):
        """``occupied_bins``: how many distinct symbols T the weighted inputs take;
        for fixed ranges also ``clipped_fraction`` (see :meth:`clipping`)."""
        p_y = jnp.ones((jnp.shape(activations)[0], 1))
        return self.measure(activations, weights, p_y)[2]

    @compiled
    def measure(self, activations, weights, p_y):
        inputs = JointDistribution.of(weights, p_y)
        return self.measure_layers([activations], inputs)[0]

    @compiled
    def measure_layers(self, layers, inputs):
        """Layers whose symbols pack into the same number of words are counted in one
        batched computation (one sort of all their words, and so on)."""
        weights = inputs.weights
        # One block of words per layer: (words, inputs), and the bits they use.
        words = [
            pack_symbols(self.symbols(a, weights), self.n_symbols)[0] for a in layers
        ]
        groups: dict[int, list[int]] = {}
        for i, (values, _) in enumerate(words):
            groups.setdefault(values.shape[0], []).append(i)
        counts = [None] * len(layers)
        for members in groups.values():
            # The words of every member, with enough bits for the widest of them.
            values = jnp.stack([words[i][0] for i in members])
            bits = max(words[i][1] for i in members)

            def count(values, bits=bits):
                return plugin_counts([(values, bits)], inputs)

            batched = jax.vmap(count)(values)
            for position, i in enumerate(members):
                counts[i] = [r[position] for r in batched]
        clipping = self.clipping(layers, inputs)
        measured = []
        for (h_t, h_y, h_ty, occupied), clipped in zip(counts, clipping, strict=True):
            diagnostics = {"occupied_bins": occupied} | clipped
            measured.append((h_t, h_t + h_y - h_ty, diagnostics))
        return measured

    def clipping(self, layers, inputs: JointDistribution) -> list[dict[str, Array]]:
        """Diagnostics of a fixed range, per layer (none for ranges that follow the
        data)."""
        del inputs
        return [{} for _ in layers]


class Binning(AbstractBinning):
    """Equal-width bins on a fixed range, as Shwartz-Ziv & Tishby (2017).

    Edges are ``linspace(low, high, bins + 1)`` and a value a gets the index
    ``numpy.digitize(a, edges)``: the number of edges <= a. Values inside the range fall
    in bins 1..bins; values below ``low`` get 0 and values above ``high`` get
    ``bins + 1``. Comparisons are made in float64, as NumPy does.

    The top edge: with ``top="open"`` (the default, as the reproduction notebook and
    the original code) a value exactly at ``high`` gets ``bins + 1``, a symbol of its
    own, while a value exactly at ``low`` shares bin 1 with its neighbours; so tanh
    saturated to exactly +1.0 in float32 is told apart from 0.99 but -1.0 is not from
    -0.99, and ``a`` and ``-a`` measure differently. With ``top="closed"`` the last
    bin is closed, [edge, high], so ``high`` joins bin ``bins`` and the two ends are
    treated alike (docs/protocols.md §4 gives the numbers).

    Values outside the range are not an error: they are lumped into the two end
    symbols, which is what the original code did to ReLU layers on [-1, 1].
    :meth:`diagnostics` reports their weighted fraction as ``clipped_fraction``.

    Args:
        bins: number of equal bins, at least 2 (the original authors' and Saxe et
            al.'s code use ``linspace(-1, 1, 30)`` as edges: ``bins=29``).
        low: lower end of the range.
        high: upper end of the range, above ``low``.
        top: ``"open"`` or ``"closed"``: whether a value exactly at ``high`` gets a
            symbol of its own or joins the top bin.

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> ip.estimators.Binning(bins=30, low=-1.0, high=1.0).spec
        'binning:bins=30,range=-1:1'
        >>> a = np.array([[-1.0, -0.99, 0.99, 1.0]])
        >>> np.asarray(ip.estimators.Binning(bins=4).symbols(a)).tolist()
        [[1, 1, 4, 5]]
        >>> closed = ip.estimators.Binning(bins=4, top="closed")
        >>> closed.spec
        'binning:bins=4,range=-1:1,top=closed'
        >>> np.asarray(closed.symbols(a)).tolist()
        [[1, 1, 4, 4]]

    References:
        Shwartz-Ziv & Tishby (2017), arXiv:1703.00810, section 3.
    """

    bins: int = eqx.field(default=30, converter=python_scalar)
    low: float = eqx.field(default=-1.0, converter=python_scalar)
    high: float = eqx.field(default=1.0, converter=python_scalar)
    top: str = "open"

    def __check_init__(self):
        if not isinstance(self.bins, int) or self.bins < 2:
            raise ValueError(f"binning needs bins >= 2, got bins={self.bins!r}")
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or (
            self.high <= self.low
        ):
            raise ValueError(
                f"binning range must be finite with low < high, got "
                f"range={self.low}:{self.high}"
            )
        if self.top not in ("open", "closed"):
            raise ValueError(
                f"binning top must be open or closed, got top={self.top!r}"
            )

    @property
    def n_symbols(self) -> int:
        return self.bins + 2

    @property
    def spec(self) -> str:
        low, high = format_number(self.low), format_number(self.high)
        spec = f"binning:bins={self.bins},range={low}:{high}"
        return spec if self.top == "open" else f"{spec},top={self.top}"

    @compiled
    def symbols(self, activations, weights=None):
        del weights
        edges = jnp.asarray(np.linspace(self.low, self.high, self.bins + 1))
        a = jnp.asarray(activations, jnp.float64)
        width = (self.high - self.low) / self.bins
        index = _digitize(a, self.low, width, edges)
        if self.top == "closed":
            index = jnp.where(a == self.high, self.bins, index)
        return index

    def clipping(self, layers, inputs):
        """``clipped_fraction`` of each layer: the weighted fraction of activation
        values (over units and inputs) strictly outside [low, high], lumped into the
        end symbols with values they differ from. A value exactly at ``high`` is not
        counted: tanh saturated to 1.0 in float32 is the top of a bounded layer, not a
        clipped value. Near 1 it means the range misses the layer (e.g. ReLU values
        above 1 on [-1, 1]) and the layer is measured as nearly constant.

        All layers at once: each unit's weighted share of values outside, then the
        mean over each layer's units.
        """
        return _clipped_fractions(layers, inputs, self.low, self.high)


class BinningWidth(AbstractBinning):
    """Bins of a fixed width and unbounded range, as Saxe et al. (2018).

    A value a gets the index ``floor(a / width)``: the k with
    ``k * width <= a < (k + 1) * width``, the products rounded to float64 (this equals
    ``numpy.floor(a / width)`` except within a rounding error of an edge, where it is
    the more exact of the two and the same on every platform). No value is ever
    clipped by a range, so ReLU layers keep their large values apart. Indices are
    int32, and each unit uses a 32-bit word of its own in the exact counting; values
    beyond ``width * 2**31`` in size (never met with a sane width) are clipped to the
    int32 range, and :meth:`clipping` reports their share as ``clipped_fraction``
    (a run then warns).

    Args:
        width: bin width, a finite number > 0.

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> est = ip.estimators.BinningWidth(width=0.5)
        >>> est.spec
        'binning-width:width=0.5'
        >>> np.asarray(est.symbols(np.array([[-0.1, 0.0, 0.7, 3.2]]))).tolist()
        [[-1, 0, 1, 6]]

    References:
        Saxe et al. (2018), "On the information bottleneck theory of deep learning",
        ICLR, section 2 and appendix C.
    """

    width: float = eqx.field(default=0.07, converter=python_scalar)

    def __check_init__(self):
        check_positive("binning-width", "width", self.width)

    @property
    def n_symbols(self) -> None:
        return None

    @property
    def spec(self) -> str:
        return f"binning-width:width={format_number(self.width)}"

    @compiled
    def symbols(self, activations, weights=None):
        del weights
        a = jnp.asarray(activations, jnp.float64)
        low, high = self._limits
        k = _floor_divide(jnp.clip(a, low, high), self.width)
        return jnp.clip(k, _INT32.min, _INT32.max).astype(jnp.int32)

    @property
    def _limits(self) -> tuple[float, float]:
        """The values whose bin indices int32 holds."""
        return float(_INT32.min) * self.width, float(_INT32.max) * self.width

    def clipping(self, layers, inputs):
        """``clipped_fraction``: the weighted share of values beyond the int32 range
        of bin indices (``width * 2**31`` in size), lumped with others there."""
        return _clipped_fractions(layers, inputs, *self._limits)


class BinningObserved(AbstractBinning):
    """Equal-width bins spanning the observed range of the layer, or of the whole run.

    With ``scope="layer"`` (the default), per layer and per measurement, ``low`` and
    ``high`` are the smallest and largest activation of any unit over the inputs with
    weight > 0. With ``scope="run"``, one global range serves every layer, epoch and
    seed: :func:`infoplane.run` finds it in a first pass over the run (training is
    deterministic, so the second pass replays the same networks) and records it in the
    spec, e.g. ``binning-observed:bins=30,scope=run,range=0:7.25``. Either way a value
    gets its bin
    1..bins among the edges ``low + k * step``, ``step = (high - low) * (1 / bins)``
    (the last edge ``high``), as :class:`Binning` does with ``linspace`` edges, except
    that ``high`` itself joins the last bin (the top edge is inclusive), so no
    measured value falls outside. Inputs of zero weight may lie outside and get 0 or
    ``bins + 1``; they count for nothing. A constant layer is one bin (bin 1).

    Args:
        bins: number of equal bins, at least 2.
        scope: ``"layer"`` or ``"run"``.
        low, high: the global range of a ``"run"`` scope, once known (until then, a
            call uses the range of the activations it is given).

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> est = ip.estimators.BinningObserved(bins=4)
        >>> est.spec
        'binning-observed:bins=4'
        >>> np.asarray(est.symbols(np.array([[0.0], [1.0], [2.0], [4.0]]))).ravel()
        array([1, 2, 3, 4], dtype=int32)

    References:
        Saxe et al. (2018), ICLR, appendix C; Chelombiev et al. (2019), "Adaptive
        estimators show information compression in deep neural networks", ICLR.
    """

    bins: int = eqx.field(default=30, converter=python_scalar)
    scope: str = "layer"
    low: float | None = eqx.field(default=None, converter=python_scalar)
    high: float | None = eqx.field(default=None, converter=python_scalar)

    def __check_init__(self):
        check_integer("binning-observed", "bins", self.bins, 2)
        if self.scope not in ("layer", "run"):
            raise ValueError(
                f"binning-observed scope must be layer or run, got scope={self.scope!r}"
            )
        if (self.low is None) != (self.high is None) or (
            self.low is not None
            and (
                self.scope != "run"
                or not np.isfinite([self.low, self.high]).all()
                or self.high < self.low
            )
        ):
            raise ValueError(
                "binning-observed takes a finite range low:high with low <= high, and "
                f"only with scope=run; got scope={self.scope}, "
                f"range={self.low}:{self.high}"
            )

    @property
    def unresolved(self) -> bool:
        """A run-wide range not found yet."""
        return self.scope == "run" and self.low is None

    @property
    def n_symbols(self) -> int:
        return self.bins + 2

    @property
    def spec(self) -> str:
        text = f"binning-observed:bins={self.bins}"
        if self.scope == "run":
            text += ",scope=run"
        if self.low is not None:
            text += f",range={format_number(self.low)}:{format_number(self.high)}"
        return text

    @compiled
    def symbols(self, activations, weights=None):
        a = jnp.asarray(activations, jnp.float64)
        seen = jnp.ones(a.shape[0], bool) if weights is None else weights > 0
        any_seen = jnp.any(seen)
        low = jnp.where(any_seen, jnp.min(jnp.where(seen[:, None], a, jnp.inf)), 0.0)
        high = jnp.where(any_seen, jnp.max(jnp.where(seen[:, None], a, -jnp.inf)), 0.0)
        if self.low is not None:
            low, high = jnp.float64(self.low), jnp.float64(self.high)
        spread = high > low
        # A product, not a quotient: XLA would turn the division into one anyway, and
        # this way the edges are the same on every platform and in NumPy.
        step = jnp.where(spread, (high - low) * (1 / self.bins), 1.0)
        edges = (jnp.arange(self.bins + 1) * step + low).at[-1].set(high)
        index = _digitize(a, low, step, edges)
        index = jnp.where(a == high, self.bins, index)
        return jnp.where(spread, index, 1)


class BinningAdaptive(AbstractBinning):
    """Adaptive bins of equal mass per unit, as Chelombiev et al. (2019).

    Per unit, per measurement, a value a gets the bin ``floor(bins * F(a))``, where
    F(a) = sum of p(x) over inputs with that unit's activation strictly below a. So the
    bin edges sit at the weighted quantiles j / bins of the unit's activations, every
    bin holds mass 1 / bins (up to the mass of one input, and as ties allow), and equal
    activations always share a bin. Computed by sorting per unit: fixed shapes,
    jittable, exact in float64.

    Args:
        bins: number of bins per unit, at least 2.

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> est = ip.estimators.BinningAdaptive(bins=2)
        >>> est.spec
        'binning-adaptive:bins=2'
        >>> a = np.array([[0.0], [0.1], [5.0], [9.0]])
        >>> np.asarray(est.symbols(a)).ravel()
        array([0, 0, 1, 1], dtype=int32)

    References:
        Chelombiev, Houghton & O'Donnell (2019), "Adaptive estimators show information
        compression in deep neural networks", ICLR, section 3.
    """

    bins: int = eqx.field(default=30, converter=python_scalar)

    def __check_init__(self):
        check_integer("binning-adaptive", "bins", self.bins, 2)

    @property
    def n_symbols(self) -> int:
        return self.bins

    @property
    def spec(self) -> str:
        return f"binning-adaptive:bins={self.bins}"

    @compiled
    def symbols(self, activations, weights=None):
        a = jnp.asarray(activations, jnp.float64)
        n = a.shape[0]
        w = jnp.ones(n) if weights is None else jnp.asarray(weights, jnp.float64)
        # Sorting one uint64 key is several times faster in XLA than sorting floats or
        # several operands: sort order-preserving keys, find each value's rank (count
        # strictly below, the same for ties) by binary search, sum the weights per
        # rank, and the mass strictly below a value is the sum over lower ranks.
        keys = _sortable(a).T
        rank = jax.vmap(jnp.searchsorted)(jnp.sort(keys, axis=1), keys)
        mass = jax.vmap(lambda r: jax.ops.segment_sum(w, r, num_segments=n))(rank)
        cumulative = jnp.cumsum(mass, axis=1)
        below = jnp.concatenate([jnp.zeros((a.shape[1], 1)), cumulative[:, :-1]], 1)
        below = jnp.take_along_axis(below, rank, axis=1)
        total = jnp.where(cumulative[:, -1:] > 0, cumulative[:, -1:], 1.0)
        index = jnp.clip(_floor_divide(below * self.bins, total), 0, self.bins - 1)
        return index.astype(jnp.int32).T


class Quantized(AbstractBinning):
    """The exact information of a quantised network: T is the tuple of grid levels.

    For a network trained with ``quantize="8bit"`` (or ``"4bit"``), every hidden value
    is one of the ``2**bits`` levels ``low + j * step``, ``step = (high - low) /
    (2**bits - 1)``. A value gets its level index j = round((a - low) / step), in
    float64 after clipping to [low, high]; on a quantised layer this is exact (levels
    are ``step`` apart, float32 rounding a tiny fraction of that), so T's symbols are
    the layer's distinct quantised vectors and no binning is added. Measured on the
    whole population (``measure_on="full"``), I(X;T) and I(T;Y) are the exact mutual
    informations of the quantised network (Lorenzen, Igel & Nielsen 2022). On values
    off the grid it is binning with 2**bits bins centred on the levels, and
    :meth:`diagnostics` reports the share of values outside [low, high] as
    ``clipped_fraction``.

    ``range=layer`` is the grid of a network trained with ``quantize="8bit-layer"``:
    each layer is rounded on its own observed range
    (:func:`infoplane.model.layer_range`), so the grid is taken from the measured
    values, ``min(0, min a)`` to ``max(0, max a)`` over the layer's units and inputs
    (as Lorenzen et al.'s ``bounds="layer"``). It is exact as well: the measured
    values lie on the network's grid and their range is no wider than the
    network's, so levels ``step`` apart stay at least one index apart and no two
    levels share a symbol (zero-weight inputs only widen the range; still exact).

    Written ``quantized`` (no parameters), the grid is the network's own: a run fills
    in ``bits`` and the range from ``quantize`` and the activation
    (:func:`infoplane.model.quantize_range`, or ``range=layer``), so one spec serves
    tanh and relu alike. Used on its own (e.g. on recorded activations), give them:
    ``quantized:bits=8,range=-1:1``, or ``quantized:bits=8,range=layer``.

    Args:
        bits: levels ``2**bits`` per unit, 1 to 16; None: the network's own.
        low, high: the grid's fixed range, with ``bits``.
        layer: the grid spans each layer's observed range (``range=layer``), with
            ``bits`` and no ``low``/``high``.

    Examples:
        >>> import numpy as np, infoplane as ip
        >>> est = ip.estimators.Quantized(bits=2, low=-1.0, high=1.0)
        >>> est.spec
        'quantized:bits=2,range=-1:1'
        >>> a = np.array([[-1.0, -1 / 3, 1 / 3, 1.0]], np.float32)
        >>> np.asarray(est.symbols(a)).tolist()
        [[0, 1, 2, 3]]
        >>> est = ip.estimators.Quantized(bits=2, layer=True)
        >>> est.spec
        'quantized:bits=2,range=layer'
        >>> np.asarray(est.symbols(np.array([[0.0, 1.0, 2.0, 3.0]]))).tolist()
        [[0, 1, 2, 3]]

    References:
        Lorenzen, Igel & Nielsen (2022), "Information bottleneck: exact analysis of
        (quantized) neural networks", ICLR.
    """

    bits: int | None = eqx.field(default=None, converter=python_scalar)
    low: float | None = eqx.field(default=None, converter=python_scalar)
    high: float | None = eqx.field(default=None, converter=python_scalar)
    layer: bool = False

    def __check_init__(self):
        if self.bits is None:
            if self.low is not None or self.high is not None or self.layer:
                raise ValueError("quantized takes a range only with bits")
            return
        check_integer("quantized", "bits", self.bits, 1)
        if self.bits > 16:
            raise ValueError(f"quantized needs bits <= 16, got bits={self.bits}")
        if self.layer:
            if self.low is not None or self.high is not None:
                raise ValueError(
                    "quantized takes range=layer or a range low:high, not both"
                )
            return
        if (
            self.low is None
            or self.high is None
            or not np.isfinite([self.low, self.high]).all()
            or self.high <= self.low
        ):
            raise ValueError(
                "quantized needs a finite range low:high with low < high with its "
                f"bits, got range={self.low}:{self.high}"
            )

    @property
    def from_network(self) -> bool:
        """The grid is the measured network's own, filled in by a run."""
        return self.bits is None

    @property
    def n_symbols(self) -> int:
        self._check_grid()
        return 2**self.bits

    @property
    def spec(self) -> str:
        if self.bits is None:
            return "quantized"
        if self.layer:
            return f"quantized:bits={self.bits},range=layer"
        low, high = format_number(self.low), format_number(self.high)
        return f"quantized:bits={self.bits},range={low}:{high}"

    def _check_grid(self):
        if self.bits is None:
            raise ValueError(
                "quantized without bits measures a quantised network in a run "
                "(quantize=8bit); on other activations give the grid, e.g. "
                "quantized:bits=8,range=-1:1"
            )

    @compiled
    def symbols(self, activations, weights=None):
        del weights
        self._check_grid()
        a = jnp.asarray(activations, jnp.float64)
        if self.layer:
            low = jnp.minimum(jnp.min(a), 0.0)
            span = jnp.maximum(jnp.max(a), 0.0) - low
            step = jnp.where(span > 0, span, 1.0) / (2**self.bits - 1)
        else:
            a = jnp.clip(a, self.low, self.high)
            low, step = self.low, (self.high - self.low) / (2**self.bits - 1)
        return jnp.round((a - low) / step).astype(jnp.int32)

    def clipping(self, layers, inputs):
        """``clipped_fraction`` on a fixed grid: the weighted share of values strictly
        outside [low, high] (as :meth:`Binning.clipping`); none for ``range=layer``,
        whose grid spans every measured value."""
        if self.layer or self.bits is None:
            return [{} for _ in layers]
        return _clipped_fractions(layers, inputs, self.low, self.high)


def _clipped_fractions(layers, inputs, low, high) -> list[dict[str, Array]]:
    """Each layer's mean over its units of the weighted share of values strictly
    outside [low, high], all layers at once."""
    widths = np.array([a.shape[1] for a in layers])
    mean = np.repeat(np.eye(len(layers)) / widths[:, None], widths, axis=1)
    a = jnp.concatenate([jnp.asarray(x, jnp.float64) for x in layers], axis=1)
    outside = ((a < low) | (a > high)).astype(jnp.float64)
    fractions = mean @ (inputs.share @ outside)
    return [{"clipped_fraction": f} for f in fractions]


def _sortable(a: Float[Array, "..."]) -> Array:
    """uint64 keys in the order of the float64 values, with -0.0 equal to 0.0."""
    bits = jax.lax.bitcast_convert_type(jnp.where(a == 0, 0.0, a), jnp.uint64)
    sign = jnp.uint64(1 << 63)
    return jnp.where(bits & sign, ~bits, bits | sign)


def _floor_divide(x, y):
    """The k with ``k * y <= x < (k + 1) * y`` (products rounded), for y > 0.

    XLA divides by multiplying with the reciprocal, which can land one off when x / y
    is at or near an integer; one step each way against the products puts it right.
    """
    k = jnp.floor(x * (1 / y))
    k = k - (x < k * y)
    return k + (x >= (k + 1) * y)


def _digitize(a, low, width, edges):
    """``numpy.digitize(a, edges)`` for edges ``linspace(low, ..., len(edges))``.

    An arithmetic guess, then one exact correction against the edges: the same index
    as a binary search, at a fraction of its cost.
    """
    bins = edges.shape[0] - 1
    guess = jnp.clip(jnp.floor((a - low) / width) + 1, 0, bins + 1)
    i = guess.astype(jnp.int32)
    i = i - ((i > 0) & (a < edges[jnp.maximum(i - 1, 0)]))
    return i + ((i <= bins) & (a >= edges[jnp.minimum(i, bins)]))
