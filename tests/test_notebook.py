"""The what-if notebook runs from start to finish (nbclient, the venv's python3 kernel)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "what_if.ipynb"


@pytest.mark.slow
def test_what_if_notebook_runs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the figures were drawn (PNG), the tables shown, the variant printed
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    assert any("text/html" in o.get("data", {}) for o in outputs)
    text = "".join(o.get("text", "") for o in outputs)
    assert "[variants.opt_capacity_3p5_k3]" in text and "hex:" in text
