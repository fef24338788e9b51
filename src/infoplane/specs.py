"""Specs written as one line of text: ``name:key=value,key=value``.

Estimators (``binning:bins=30,range=-1:1``) and tasks (``tishby12:gamma=2``) are
named this way on the command line, in TOML files and in Python. This module only
splits the text; what the names and parameters mean is their owner's business.
"""

from collections.abc import Callable

__all__ = ["parse_spec"]

# How a failed conversion of a parameter's text is explained, by converter.
_EXPECTED = {float: "a number", int: "an integer"}


def parse_spec(
    spec: str, kind: str = "spec", value: Callable[[str], object] = str
) -> tuple[str, dict[str, object]]:
    """Split ``"name:a=1,b=x"`` into its name and parameters: ``("name", {"a": "1",
    "b": "x"})``.

    The name is everything before the first ``:``; parameters are separated by
    commas, so a value may hold ``:`` (``range=-1:1``) but not ``,``. Spaces around
    names, keys and values are dropped, and so are empty items (``name:a=1,``).

    Args:
        spec: the text.
        kind: what the spec names (``"estimator"``, ``"task"``), for messages.
        value: applied to every value's text, e.g. ``float`` (default: kept as text).

    Raises:
        ValueError: an item that is not ``key=value``, a key given twice, or a value
            that ``value`` rejects.

    Examples:
        >>> parse_spec("binning:bins=30,range=-1:1")
        ('binning', {'bins': '30', 'range': '-1:1'})
        >>> parse_spec("tishby12:gamma=2", "task", float)
        ('tishby12', {'gamma': 2.0})
        >>> parse_spec("seed10")
        ('seed10', {})
    """
    name, _, rest = str(spec).strip().partition(":")
    params: dict[str, object] = {}
    for item in filter(None, (i.strip() for i in rest.split(","))):
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise ValueError(
                f"{kind} parameters are key=value, got {item!r} in {spec!r}"
            )
        if key in params:
            raise ValueError(f"{kind} {spec!r}: {key} is given twice")
        try:
            params[key] = value(text)
        except (TypeError, ValueError):
            expected = _EXPECTED.get(value, "valid")
            raise ValueError(
                f"{kind} {spec!r}: {key} must be {expected}, got {text!r}"
            ) from None
    return name.strip(), params
