"""What a run's numbers say: summaries, compression statistics, phase epochs, verdicts.

Functions of a :class:`~infoplane.Result`; nothing here trains or draws.
"""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .results import Result

__all__ = [
    "SUMMARY_COLUMNS",
    "compression_epochs",
    "loss_epochs",
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
    """One row per estimator and layer: compression, measured.

    Columns, each the mean over seeds with its std (``*_std``):
    ``final_i_xt``, ``final_i_ty``, ``max_i_xt`` (the maximum over epochs),
    ``max_epoch`` (where it is reached) and ``compression`` (maximum minus final:
    how much I(X;T) the layer gave back after its peak). Then
    ``compression_ci_low``/``_high``: a bootstrap confidence interval of the mean
    compression over seeds (2000 resamples, percentile method, a fixed seed), and
    ``compressing_seeds``: the fraction of seeds whose drop exceeds ``threshold``
    times their own maximum.

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
    rows = []
    for e, estimator in enumerate(result.estimators):
        for layer_index, layer in enumerate(result.layers):
            xt = result.i_xt[:, :, layer_index, e]
            ty = result.i_ty[:, :, layer_index, e]
            stats = {
                "final_i_xt": xt[:, -1],
                "final_i_ty": ty[:, -1],
                "max_i_xt": xt.max(axis=1),
                "max_epoch": result.epochs[xt.argmax(axis=1)].astype(float),
                "compression": xt.max(axis=1) - xt[:, -1],
            }
            row = {"estimator": estimator, "layer": layer}
            for key, values in stats.items():
                row[key] = float(values.mean())
                row[key + "_std"] = float(values.std())
            drop = stats["compression"]
            means = drop[rng.integers(0, len(drop), (2000, len(drop)))].mean(1)
            tail = (1 - confidence) / 2
            row["compression_ci_low"] = float(np.quantile(means, tail))
            row["compression_ci_high"] = float(np.quantile(means, 1 - tail))
            peak = np.maximum(stats["max_i_xt"], 1e-300)
            row["compressing_seeds"] = float(np.mean(drop / peak > threshold))
            row["threshold"] = threshold
            rows.append(row)
    return rows


def summary_table(result, threshold: float = 0.05) -> str:
    """The summary of a Result as aligned text, one row per estimator and layer."""
    several = result.i_xt.shape[0] > 1
    summary = result.summary(threshold=threshold)

    def cell(row, key, digits=3):
        value = f"{row[key]:.{digits}f}"
        return value + (f" ± {row[key + '_std']:.{digits}f}" if several else "")

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
            if several:
                table[-1] += [
                    f"[{r['compression_ci_low']:.3f}, {r['compression_ci_high']:.3f}]",
                    f"{r['compressing_seeds']:.0%}",
                ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines.append(f"{estimator} ({result.units}, {result.i_xt.shape[0]} seed(s))")
        for row in table:
            lines.append(
                "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
            )
    return "\n".join(lines)


def compression_epochs(result, *, estimator: int = 0) -> np.ndarray:
    """Per seed, the epoch where the last hidden layer's I(X;T) peaks.

    After this epoch the layer compresses: it is where the compression phase starts.
    """
    hidden = len(result.experiment.hidden) - 1
    xt = result.i_xt[:, :, hidden, estimator]
    return result.epochs[np.argmax(xt, axis=1)]


def loss_epochs(result, threshold: float) -> np.ndarray:
    """Per seed, the first measured epoch with training loss below ``threshold``.

    NaN for seeds that never reach it.
    """
    below = result.arrays["train_loss"] < threshold
    first = np.argmax(below, axis=1)
    return np.where(below.any(axis=1), result.epochs[first], np.nan)


def verdicts(results, names, *, threshold: float = 0.05) -> list[str]:
    """Which layers compress, in words and numbers, per sweep point and estimator.

    A layer compresses when the bootstrap confidence interval of its mean drop from
    the peak of I(X;T) excludes zero and more than half of the seeds drop by more than
    ``threshold`` of their peak (see :meth:`infoplane.Result.summary`).
    """
    lines = []
    for name, result in zip(names, results, strict=True):
        for estimator in result.estimators:
            rows = [
                r
                for r in result.summary(threshold=threshold)
                if r["estimator"] == estimator
            ]
            yes = [
                r
                for r in rows
                if r["compression_ci_low"] > 0 and r["compressing_seeds"] > 0.5
            ]
            if not yes:
                largest = max(rows, key=lambda r: r["compression"])
                lines.append(
                    f"{name}, {estimator}: no layer compresses (largest mean drop "
                    f"{largest['compression']:.3f} {result.units}, {largest['layer']})"
                )
                continue
            detail = "; ".join(
                f"{r['layer']} drops {r['compression']:.3f} {result.units} "
                f"[{r['compression_ci_low']:.3f}, {r['compression_ci_high']:.3f}], "
                f"{r['compressing_seeds']:.0%} of seeds"
                for r in yes
            )
            lines.append(f"{name}, {estimator}: compresses: {detail}")
    return lines
