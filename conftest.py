"""Doctests of the package run with the tests (``--doctest-modules`` over src/)."""

import pytest

# Framework helpers import their framework, which the test extra may not install.
collect_ignore = ["src/infoplane/torch.py", "src/infoplane/keras.py"]


@pytest.fixture(autouse=True)
def _doctests_write_into_a_temporary_folder(request, tmp_path, monkeypatch):
    """Docstring examples save pictures (``plane.png``); keep them out of the tree."""
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _unchecked_types(request):
    """Tests marked ``unchecked_types`` give a public entry point deliberately
    ill-typed input to see the library's own ``ValueError``, the error users get:
    the runtime type checker (``--jaxtyping-packages`` in pyproject's addopts) would
    answer first, so it is off for them."""
    if request.node.get_closest_marker("unchecked_types") is None:
        yield
        return
    import jaxtyping

    was = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", was)
