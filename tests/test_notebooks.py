"""The notebooks: each jupytext .py is paired with a stripped .ipynb that matches it.

Executing the notebooks is a separate step (`pytest --nbmake notebooks`, see the
Makefile); these tests only keep the pair from drifting apart.
"""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PY_FILES = sorted(NOTEBOOKS.glob("*.py"))
QUICK_LINE = 'QUICK = os.environ.get("RNN_DYN_QUICK") == "1"'
# `rnn_dyn._x`, `rnn_dyn.models._x`, `rd._x`, `from rnn_dyn... import _x`
PRIVATE_API = re.compile(
    r"\b(rnn_dyn|rd)(\.\w+)*\._\w|from\s+rnn_dyn\S*\s+import\s+.*\b_\w"
)


def _cells(nb):
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def test_there_are_notebooks():
    assert PY_FILES, f"no notebooks/*.py under {NOTEBOOKS}"


def test_every_ipynb_has_a_py():
    for ipynb in NOTEBOOKS.glob("*.ipynb"):
        assert ipynb.with_suffix(".py").exists(), f"{ipynb.name} has no paired .py"


@pytest.mark.parametrize("py_file", PY_FILES, ids=lambda p: p.name)
def test_pair_matches(py_file):
    ipynb = py_file.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `jupytext --sync {py_file}`"
    from_py = jupytext.read(py_file)
    from_ipynb = nbformat.read(ipynb, as_version=4)
    assert _cells(from_ipynb) == _cells(from_py), (
        f"{ipynb.name} differs from {py_file.name}: run `jupytext --sync {py_file}`"
    )
    for nb in (from_py, from_ipynb):
        assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.parametrize("py_file", PY_FILES, ids=lambda p: p.name)
def test_ipynb_has_no_outputs(py_file):
    nb = nbformat.read(py_file.with_suffix(".ipynb"), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"


@pytest.mark.parametrize("py_file", PY_FILES, ids=lambda p: p.name)
def test_style(py_file):
    """STYLE.md section 8: opens with the QUICK switch, uses the public API only."""
    code = [c.source for c in jupytext.read(py_file).cells if c.cell_type == "code"]
    assert code and QUICK_LINE in code[0], f"first code cell must set {QUICK_LINE}"
    for i, source in enumerate(code):
        match = PRIVATE_API.search(source)
        assert match is None, f"code cell {i} uses private API: {match.group(0)!r}"
