"""Every Python snippet of the README's "Your own model" section runs as written."""

import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest

import infoplane as ip

README = Path(__file__).parent.parent / "README.md"


def _snippets(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end >= 0 else None]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


SNIPPETS = _snippets("Your own model")


def test_the_section_has_its_snippets():
    assert len(SNIPPETS) == 5
    assert "ip.InformationPlane(" in SNIPPETS[0]
    assert "from infoplane.torch import activations" in SNIPPETS[2]
    assert "from infoplane.keras import InformationPlaneCallback" in SNIPPETS[3]
    assert "ip.run(exp, model=CNN)" in SNIPPETS[4]


@pytest.mark.parametrize(
    "index", range(1, len(SNIPPETS)), ids=["equinox", "torch", "keras", "model="]
)
def test_snippet_runs(index, tmp_path, monkeypatch):
    code = SNIPPETS[index]
    for framework in ("torch", "keras"):
        if f"import {framework}" in code:
            if framework == "keras":
                monkeypatch.setenv(
                    "KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax")
                )
            if importlib.util.find_spec(framework) is None:
                pytest.skip(f"{framework} is not installed")
            if framework == "torch":
                pytest.importorskip("torch").set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(SNIPPETS[0], "README setup", "exec"), namespace)
    exec(compile(code, f"README snippet {index}", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, ip.Result)
    if index == 4:  # infoplane's loop trained the model: a run
        assert result.source == "run"
        assert result.layers == ("conv", "dense", "output")
        assert result.i_xt.shape == (10, 3, 3, 2)
        assert np.isfinite(result.i_xt).all()
        assert result.info["model"]["units"] == [36, 16]
        return
    assert result.source == "recorder"
    assert np.isfinite(result.i_xt).all()
    if index == 1:  # the Equinox loop: saved, summarised, tabulated
        assert list(result.epochs) == list(range(0, 100, 5))
        assert ip.Result.load(tmp_path / "runs" / "mine").layers == (
            "fc1",
            "fc2",
            "output",
        )
        assert len(namespace["table"]) == 20 * 3 * 2
    else:
        assert len(result.epochs) > 1
