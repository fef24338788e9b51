"""A real notebook shows the pictures: result.plot() inline, animate() a player."""

import base64
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import infoplane

CELLS = [
    'import infoplane as ip\nresult = ip.run(ip.preset("seed", epochs=40, '
    'measure="every:20"))\nresult.plot()',
    "print(len(result.epochs))\nresult.animate()",
]


def write_kernel(directory: Path) -> str:
    """A kernel of this Python, importing this infoplane; returns its name."""
    spec = directory / "kernels" / "infoplane-test"
    spec.mkdir(parents=True)
    source = str(Path(infoplane.__file__).parents[1])
    env = {"PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "infoplane test",
                "language": "python",
                "env": env,
            }
        )
    )
    return spec.name


@pytest.mark.processes
def test_a_notebook_shows_the_plane_and_the_animation(tmp_path, monkeypatch):
    # Imported here, not at collection: the default suite leaves this test out.
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    # The kernel picks its own backend (inline), as in a notebook; no Agg forced.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    client = nbclient.NotebookClient(
        notebook, kernel_name=write_kernel(tmp_path), timeout=60
    )
    client.execute(cwd=str(tmp_path))

    plot_cell, animate_cell = notebook.cells
    pictures = [
        out["data"]["image/png"]
        for out in plot_cell.outputs
        if out["output_type"] == "display_data" and "image/png" in out["data"]
    ]
    assert len(pictures) == 1
    with Image.open(io.BytesIO(base64.b64decode(pictures[0]))) as picture:
        rgb = np.asarray(picture.convert("RGB")).astype(int)
    assert (np.abs(rgb - rgb[0, 0]).sum(-1) > 30).mean() > 0.03  # not blank
    (value,) = [
        out for out in plot_cell.outputs if out["output_type"] == "execute_result"
    ]
    assert value["data"]["text/plain"].startswith("<Axes: ")

    (printed,) = [out for out in animate_cell.outputs if out["output_type"] == "stream"]
    frames = int(printed["text"])
    (player,) = [
        out for out in animate_cell.outputs if out["output_type"] == "execute_result"
    ]
    html = player["data"]["text/html"]
    assert "<script" in html
    assert frames >= 2
    assert html.count("data:image/png;base64") == frames  # one per measured epoch
    # The animation's figure is not pyplot's: no still of it below the player.
    assert not [o for o in animate_cell.outputs if "image/png" in o.get("data", {})]
