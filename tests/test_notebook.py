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


TERRAIN_NOTEBOOK = ROOT / "notebooks" / "terrain.ipynb"


@pytest.mark.slow
def test_terrain_notebook_runs() -> None:
    """Monaco on its SRTM3 tile and on flat ground, compared: the notebook runs, its
    figure is drawn, its tables shown, and what it prints agrees with itself (the LoS
    share on the hills is the flat one less the hidden pairs plus the opened ones)."""
    import re

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(TERRAIN_NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(TERRAIN_NOTEBOOK.parent)}},
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
    assert sum("text/html" in o.get("data", {}) for o in outputs) >= 2
    text = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    nodes = re.search(r"terrain: (\d+) x (\d+) nodes ([\d.]+) m apart", text)
    assert nodes is not None and min(int(nodes[1]), int(nodes[2])) >= 2, text
    assert "city.terrain = flat" in text  # the comparison names the flat run
    los = re.search(r"LoS ([\d.]+)% on flat ground, ([\d.]+)% on the hills", text)
    change = re.search(r"hide ([\d.]+)% of the pairs and open ([\d.]+)%", text)
    assert los is not None and change is not None, text
    flat, hills = (float(v) for v in los.groups())
    hidden, opened = (float(v) for v in change.groups())
    assert hidden > 0 and opened > 0
    assert hills == pytest.approx(flat - hidden + opened, abs=0.15)  # each printed to 0.1 %
