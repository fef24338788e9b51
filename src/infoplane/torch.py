"""PyTorch: the activations of a model's named modules, caught by forward hooks.

Imported only when used (``from infoplane.torch import activations``); PyTorch is
not a dependency of infoplane.

Examples:
    >>> import torch, infoplane as ip
    >>> from infoplane.torch import activations
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
    >>> x = torch.eye(4)
    >>> with activations(model, ["1"]) as acts:
    ...     _ = model(x)
    >>> tuple(acts["1"].shape)
    (4, 3)
"""

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import torch

__all__ = ["activations"]


@contextlib.contextmanager
def activations(
    model: torch.nn.Module,
    names: "Sequence[str] | Mapping[str, str] | str",
    *,
    eval_mode: bool = True,
) -> Iterator[dict[str, torch.Tensor]]:
    """Catch the outputs of named modules while ``model`` runs inside the block.

    Inside the block gradients are off (``torch.no_grad``) and, with ``eval_mode``,
    the model is in evaluation mode (no dropout, batch norm on its running
    statistics: the network as a function of its input, which is what the
    information plane measures); each module's mode is restored on exit, and the
    hooks are removed, whatever happens. Run the model on the measured samples, in
    one call or in batches in their order (a ``DataLoader`` with ``shuffle=False``:
    the outputs are joined in call order, and shuffled rows would be paired with the
    wrong labels); on exit the yielded dict holds one CPU tensor per name,
    ``(samples, ...)``, in the order of ``names``, ready for
    :meth:`infoplane.InformationPlane.record`.

    Args:
        model: a ``torch.nn.Module``.
        names: module names as ``model.named_modules()`` gives them (e.g.
            ``"features.3"``; ``""`` is the model itself), or ``{module name:
            layer name}`` to name the layers otherwise.
        eval_mode: put the model in evaluation mode inside the block.

    Raises:
        ValueError: a name that is no module of ``model`` (or is not text), a name
            given twice, or a module that did not run inside the block.
        TypeError: a module whose output is not a tensor (e.g. an LSTM's tuple).
    """
    if isinstance(names, str):
        names = [names]
    if isinstance(names, Mapping):
        labels = dict(names)
    else:
        names = list(names)
        labels = {n: n for n in names}
        if len(labels) != len(names):
            raise ValueError(f"a module is named twice in {names}")
    not_text = [n for n in labels if not isinstance(n, str)]
    if not_text:
        raise ValueError(
            f"module names are text, as model.named_modules() gives them: "
            f"{', '.join(repr(str(n)) for n in not_text)}, not "
            f"{', '.join(map(repr, not_text))}"
        )
    if len(set(labels.values())) != len(labels):
        raise ValueError(f"two modules get the same layer name in {labels}")
    modules = dict(model.named_modules())
    missing = [n for n in labels if n not in modules]
    if missing:
        known = [n for n in modules if n][:20]
        raise ValueError(
            f"the model has no module named {', '.join(map(repr, missing))}; its "
            f"modules include {', '.join(known)}"
        )
    parts: dict[str, list[torch.Tensor]] = {n: [] for n in labels}

    def hook(name):
        def save(module, args, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"module {name!r} returned a {type(output).__name__}, not a "
                    "tensor; hook a module that returns one"
                )
            output = output.detach()
            if output.is_floating_point() and output.element_size() < 4:
                output = output.float()  # float16/bfloat16: NumPy reads float32
            # A copy: a later in-place module (ReLU(inplace=True) after a hooked
            # Linear) would otherwise change the caught values.
            parts[name].append(output.to("cpu", copy=True))

        return save

    def count_model_call(module, args):
        model_calls[0] += 1

    caught: dict[str, torch.Tensor] = {}
    model_calls = [0]
    handles = [modules[n].register_forward_hook(hook(n)) for n in labels]
    handles.append(model.register_forward_pre_hook(count_model_call))
    modes = {m: m.training for m in model.modules()}
    try:
        if eval_mode:
            model.eval()
        with torch.no_grad():
            yield caught
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.train(training)
    silent = [n for n in labels if not parts[n]]
    if silent:
        raise ValueError(
            f"module(s) {', '.join(map(repr, silent))} did not run inside the "
            "block; run the model on the measured samples there"
        )
    for name in labels:
        if model_calls[0] and len(parts[name]) > model_calls[0]:
            raise ValueError(
                f"module {name!r} ran {len(parts[name])} times in {model_calls[0]} "
                "call(s) of the model: forward uses it at several places (a shared "
                "activation, say), whose outputs would be mixed; hook the module "
                "before each use, or give each place a module of its own"
            )
    for name, label in labels.items():
        pieces = parts[name]
        caught[label] = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
