"""Doctests of the package run with the tests (``--doctest-modules`` over src/)."""

import pytest

# Framework helpers import their framework, which the test extra may not install.
collect_ignore = ["src/infoplane/torch.py", "src/infoplane/keras.py"]


@pytest.fixture(autouse=True)
def _doctests_write_into_a_temporary_folder(request, tmp_path, monkeypatch):
    """Docstring examples save pictures (``plane.png``); keep them out of the tree."""
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
