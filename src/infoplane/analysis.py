"""What a run's numbers say: summaries, compression statistics, phase epochs, verdicts.

Functions of a :class:`~infoplane.Result`; nothing here trains or draws.
"""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .results import Result

__all__ = [
    "MIN_MEASUREMENTS",
    "MIN_NETWORKS",
    "SUMMARY_COLUMNS",
    "averaged",
    "compression_drop",
    "compression_epochs",
    "gradient_norms",
    "loss_epochs",
    "nan_mean",
    "snr_transition",
    "summary",
    "summary_table",
    "verdicts",
]

# Summary columns shown in tables: (key of Result.summary rows, heading).
SUMMARY_COLUMNS = (
    ("final_i_xt", "final I(X;T)"),
    ("final_i_ty", "final I(T;Y)"),
    ("max_i_xt", "max I(X;T)"),
    ("max_epoch", "at epoch"),
    ("compression", "compression"),
)


def summary(
    result: "Result", *, threshold: float = 0.05, confidence: float = 0.95
) -> list[dict]:
    """One row per estimator and layer: compression, measured honestly.

    Statistics are over the networks that did not diverge (``networks``; the
    ``diverged`` ones are left out). Columns, each the mean over networks with its
    std (``*_std``): ``final_i_xt``, ``final_i_ty``, ``max_i_xt`` (the maximum over
    epochs), ``max_epoch`` (where it is reached) and ``compression``: the drop of
    I(X;T) from its peak to its end measured by :func:`compression_drop`, which is
    zero on average for a series that only fluctuates. Then
    ``compression_ci_low``/``_high``: a bootstrap confidence interval of the mean
    drop over networks (2000 resamples, percentile method, a fixed seed), and
    ``compressing_seeds``: the share of networks whose drop exceeds ``threshold``
    times their peak; both None with fewer than :data:`MIN_NETWORKS` networks. With
    fewer than :data:`MIN_MEASUREMENTS` measured epochs the drop is 0 by construction,
    so ``compression`` is NaN and both are None.
    ``clipped``: the largest share of the layer's activation values the estimator's
    range clipped (None for estimators without a range).

    Args:
        threshold: relative drop that counts as compression (default 5%).
        confidence: level of the bootstrap interval (default 95%).
    """
    if not 0 <= threshold < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"threshold must be in [0, 1) and confidence in (0, 1), got "
            f"{threshold} and {confidence}"
        )
    rng = np.random.default_rng(0)
    kept = result.converged
    clipped = result.arrays.get("clipped_fraction")
    rows = []
    for e, estimator in enumerate(result.estimators):
        for layer_index, layer in enumerate(result.layers):
            xt = result.i_xt[kept, :, layer_index, e]
            ty = result.i_ty[kept, :, layer_index, e]
            drop, peak = compression_drop(xt)
            if result.i_xt.shape[1] < MIN_MEASUREMENTS:
                drop = np.full_like(drop, np.nan)
            stats = {
                "final_i_xt": xt[:, -1],
                "final_i_ty": ty[:, -1],
                "max_i_xt": xt.max(axis=1),
                "max_epoch": result.epochs[xt.argmax(axis=1)].astype(float),
                "compression": drop,
            }
            row = {"estimator": estimator, "layer": layer}
            for key, values in stats.items():  # NaN when every network diverged
                row[key] = float(values.mean()) if len(values) else np.nan
                row[key + "_std"] = float(values.std()) if len(values) else np.nan
            row["networks"] = int(kept.sum())
            row["diverged"] = int((~kept).sum())
            row["compression_ci_low"] = row["compression_ci_high"] = None
            row["compressing_seeds"] = None
            if len(drop) >= MIN_NETWORKS and not np.isnan(drop).all():
                means = drop[rng.integers(0, len(drop), (2000, len(drop)))].mean(1)
                tail = (1 - confidence) / 2
                row["compression_ci_low"] = float(np.quantile(means, tail))
                row["compression_ci_high"] = float(np.quantile(means, 1 - tail))
                share = np.mean(drop > threshold * np.maximum(peak, 1e-300))
                row["compressing_seeds"] = float(share)
            row["threshold"] = threshold
            row["clipped"] = None
            if clipped is not None:
                values = clipped[kept, :, layer_index, e]
                if not np.isnan(values).all():
                    row["clipped"] = float(np.nanmax(values))
            rows.append(row)
    return rows


# Fewer networks than this give no confidence interval and no share of networks.
MIN_NETWORKS = 3
# Fewer measured epochs than this leave one per half of compression_drop's split,
# where the peak and the end are the same value: no drop can be seen.
MIN_MEASUREMENTS = 4


def compression_drop(i_xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each network's I(X;T) falls from its peak to its end, without the
    bias of picking the peak from the same noisy values.

    The maximum of a noisy series lies above its end even when nothing changes, so
    "maximum minus final" calls noise compression. Here the measurements are split
    into two interleaved halves (even and odd measurement indices, which sample the
    same stretch of training). The peak is located on one half, as the window of
    ``max(1, m // 10)`` consecutive measurements (of the ``m`` in a half) with the
    largest mean, and valued on the other half over the same window; the end is the
    other half's mean over its last window. The two ways round are averaged. For a
    series whose measurements fluctuate independently around a constant, the drop
    is zero on average; a real fall from a peak gives its size, smoothed over the
    window.

    Args:
        i_xt: ``(networks, measurements)``.

    Returns:
        ``(drop, peak)``, each of shape ``(networks,)``: the drop and the peak value
        it falls from.
    """
    i_xt = np.asarray(i_xt, np.float64)
    even, odd = i_xt[:, 0::2], i_xt[:, 1::2]
    if odd.shape[1] == 0:  # one measurement: nothing can fall
        zero = np.zeros(len(i_xt))
        return zero, i_xt[:, 0]
    drop_1, peak_1 = _cross_fitted_drop(even, odd)
    drop_2, peak_2 = _cross_fitted_drop(odd, even)
    return (drop_1 + drop_2) / 2, (peak_1 + peak_2) / 2


def _cross_fitted_drop(select: np.ndarray, value: np.ndarray):
    m = min(select.shape[1], value.shape[1])
    select, value = select[:, :m], value[:, :m]
    window = max(1, m // 10)
    at = np.argmax(_window_means(select, window), axis=1)
    peak = _window_means(value, window)[np.arange(len(value)), at]
    return peak - value[:, m - window :].mean(axis=1), peak


def _window_means(x: np.ndarray, window: int) -> np.ndarray:
    """Means over every ``window`` consecutive columns, shape ``(rows, m - w + 1)``."""
    sums = np.cumsum(np.pad(x, ((0, 0), (1, 0))), axis=1)
    return (sums[:, window:] - sums[:, :-window]) / window


def summary_table(result: "Result", threshold: float = 0.05) -> str:
    """The summary of a Result as aligned text, one row per estimator and layer."""
    several = result.i_xt.shape[0] > 1
    summary = result.summary(threshold=threshold)

    def number(value, digits):
        # A rounding error below zero (-2e-16 nats) reads 0.000, not -0.000.
        text = f"{value:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text

    def cell(row, key, digits=3):
        if np.isnan(row[key]):
            return "n/a"
        value = number(row[key], digits)
        return value + (f" ± {number(row[key + '_std'], digits)}" if several else "")

    header = ["layer", *(title for _, title in SUMMARY_COLUMNS)]
    if several:
        header += ["95% CI", f"seeds dropping >{threshold:.0%}"]
    lines = []
    for estimator in result.estimators:
        rows = [r for r in summary if r["estimator"] == estimator]
        table = [header]
        for r in rows:
            digits = {"max_epoch": 0}
            table.append(
                [r["layer"]]
                + [cell(r, key, digits.get(key, 3)) for key, _ in SUMMARY_COLUMNS]
            )
            if several and r["compressing_seeds"] is None:
                table[-1] += ["n/a", "n/a"]
            elif several:
                table[-1] += [
                    f"[{number(r['compression_ci_low'], 3)}, "
                    f"{number(r['compression_ci_high'], 3)}]",
                    f"{r['compressing_seeds']:.0%}",
                ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        networks, diverged = rows[0]["networks"], rows[0]["diverged"]
        count = f"{networks} seed(s)" + (f", {diverged} diverged" if diverged else "")
        lines.append(f"{estimator} ({result.units}, {count})")
        for row in table:
            lines.append(
                "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
            )
        if result.i_xt.shape[1] < MIN_MEASUREMENTS:
            lines.append(
                f"(compression needs at least {MIN_MEASUREMENTS} measured epochs)"
            )
        elif several and rows[0]["compressing_seeds"] is None:
            lines.append(
                f"(intervals and shares need at least {MIN_NETWORKS} networks)"
            )
    return "\n".join(lines)


def compression_epochs(result, *, estimator: int = 0) -> np.ndarray:
    """Per seed, the epoch where the last hidden layer's I(X;T) peaks.

    After this epoch the layer compresses: it is where the compression phase starts.
    The last hidden layer is the last one not named ``"output"`` (``layer k`` of a
    run with k hidden layers; for a recorded result, the last layer the user named
    otherwise). NaN for a network that diverged, or whose layer has no value, and
    for every network with fewer than :data:`MIN_MEASUREMENTS` measured epochs.
    """
    hidden = [i for i, name in enumerate(result.layers) if name != "output"]
    layer = hidden[-1] if hidden else len(result.layers) - 1
    xt = np.asarray(result.i_xt[:, :, layer, estimator], float)
    peak = np.argmax(np.where(np.isnan(xt), -np.inf, xt), axis=1)
    valid = result.converged & ~np.isnan(xt).all(axis=1)
    valid &= xt.shape[1] >= MIN_MEASUREMENTS
    return np.where(valid, result.epochs[peak], np.nan)


def loss_epochs(result, threshold: float) -> np.ndarray:
    """Per seed, the first measured epoch with training loss below ``threshold``.

    NaN for seeds that never reach it, and for networks that diverged.
    """
    below = result.arrays["train_loss"] < threshold
    first = np.argmax(below, axis=1)
    reached = below.any(axis=1) & result.converged
    return np.where(reached, result.epochs[first], np.nan)


def verdicts(results, names, *, threshold: float = 0.05) -> list[str]:
    """Which layers compress, in words and numbers, per sweep point and estimator.

    A layer compresses when the bootstrap confidence interval of its mean drop
    (:func:`compression_drop`) excludes zero and more than half of the networks drop
    by more than ``threshold`` of their peak (see :func:`summary`). With fewer than
    :data:`MIN_NETWORKS` networks, or :data:`MIN_MEASUREMENTS` measured epochs, there
    is no verdict. A layer whose activations the
    estimator's range clipped says by how much: its numbers describe the clipping as
    much as the network.
    """
    lines = []
    for name, result in zip(names, results, strict=True):
        for estimator in result.estimators:
            rows = [
                r
                for r in result.summary(threshold=threshold)
                if r["estimator"] == estimator
            ]
            head = f"{name}, {estimator}"
            measured = result.i_xt.shape[1]
            if measured < MIN_MEASUREMENTS:
                lines.append(
                    f"{head}: no verdict ({measured} measured epoch(s); a verdict "
                    f"needs at least {MIN_MEASUREMENTS})"
                )
                continue
            if rows[0]["compressing_seeds"] is None:
                lines.append(
                    f"{head}: no verdict ({rows[0]['networks']} network(s); a "
                    f"verdict needs at least {MIN_NETWORKS})"
                )
                continue
            yes = [
                r
                for r in rows
                if r["compression_ci_low"] > 0 and r["compressing_seeds"] > 0.5
            ]
            if not yes:
                largest = max(rows, key=lambda r: r["compression"])
                lines.append(
                    f"{head}: no layer compresses (largest mean drop "
                    f"{largest['compression']:.3f} {result.units}, "
                    f"{largest['layer']}{_clipping(largest)})"
                )
                continue
            detail = "; ".join(
                f"{r['layer']} drops {r['compression']:.3f} {result.units} "
                f"[{r['compression_ci_low']:.3f}, {r['compression_ci_high']:.3f}], "
                f"{r['compressing_seeds']:.0%} of seeds{_clipping(r)}"
                for r in yes
            )
            lines.append(f"{head}: compresses: {detail}")
    return lines


def _clipping(row: dict) -> str:
    if row["clipped"] is None or row["clipped"] <= 0:
        return ""
    return f" (its range clipped up to {row['clipped']:.0%} of the activations)"


def averaged(result: "Result") -> np.ndarray:
    """The networks a mean of the pictures or the IB distance is over, ``(seed,)``
    bool: those that did not diverge (all of them if every one did, to show what
    there is)."""
    converged = result.converged
    return converged if converged.any() else np.ones_like(converged)


def gradient_norms(result: "Result") -> tuple[np.ndarray, np.ndarray]:
    """The norms of the gradient's mean and spread, ``(seed, epoch, weight_layer)``,
    of the networks that did not diverge (all of them if every one did)."""
    if "grad_mean_norm" not in result.arrays or "grad_std_norm" not in result.arrays:
        raise ValueError(
            "this result has no gradient statistics; run the experiment with "
            "grad_stats=True (--grad-stats on the command line)"
        )
    seeds = averaged(result)
    return (
        np.asarray(result.arrays["grad_mean_norm"], float)[seeds],
        np.asarray(result.arrays["grad_std_norm"], float)[seeds],
    )


def nan_mean(values: np.ndarray, axis) -> np.ndarray:
    """The mean over ``axis`` ignoring NaN; NaN (without a warning) where all are."""
    # np.nanmean warns on all-NaN slices (epochs without gradient statistics).
    finite = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite, values, 0).sum(axis) / finite.sum(axis)


def snr_transition(result: "Result") -> int | None:
    """The epoch where drift gives way to diffusion in the gradients.

    The first measured epoch from which the norm of the mean gradient, averaged
    over weight layers and seeds, stays below the norm of the gradient's standard
    deviation (averaged the same way) for the rest of the run.

    Args:
        result: a run with gradient statistics.

    Returns:
        That epoch, or None if the mean is not below the spread at the end.

    Raises:
        ValueError: the result has no gradient statistics.

    References:
        Shwartz-Ziv & Tishby (2017), "Opening the black box of deep neural networks
        via information", arXiv:1703.00810, section 5: the drift and diffusion
        phases.
    """
    mean, std = gradient_norms(result)
    below = nan_mean(mean, (0, 2)) < nan_mean(std, (0, 2))
    if not below[-1]:
        return None
    above = np.flatnonzero(~below)
    first = int(above[-1]) + 1 if above.size else 0
    return int(result.epochs[first])
