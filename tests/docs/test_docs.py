"""The documentation: the Sphinx site builds with warnings as errors (CI runs only pytest, so the build is a test),
its getting-started examples run, and no docstring points outside the repository."""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    from sphinx.cmd.build import build_main

    warnings_file = tmp_path / "warnings.txt"
    # the "dummy" builder reads and checks every page and docstring without writing HTML (faster, same warnings)
    status = build_main(["-W", "--keep-going", "-q", "-b", "dummy", "-w", str(warnings_file), str(DOCS), str(tmp_path)])
    assert status == 0, warnings_file.read_text()
    # every public name of every subpackage has its entry in the API reference
    packages = sorted(p.name for p in (ROOT / "monai_topo").iterdir() if (p / "__init__.py").is_file())
    assert {"io", "evaluation", "experiments", "transforms", "bundles"} <= set(packages)
    for package in packages:
        module = importlib.import_module(f"monai_topo.{package}")
        page = (DOCS / "api" / f"{package}.rst").read_text()
        for name in module.__all__:
            assert f":: monai_topo.{package}.{name}\n" in page, (package, name)


def _python_blocks(page: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)


def test_getting_started_examples_run():
    blocks = [b for b in _python_blocks(DOCS / "getting_started.md") if "binarised_onehot_pred" not in b]
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "getting_started.md", "exec"), {"__name__": "docs_example"})  # noqa: S102 - our own docs


def test_no_docstring_points_outside_the_repository():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "monai_topo").rglob("*.py")
        if re.search(r"shared/design|\.\./shared", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert (DOCS / "algorithms.md").is_file()
