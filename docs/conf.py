"""Sphinx configuration of the monai_topo documentation (API reference from the docstrings, like MONAI's).

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors; ``tests/docs`` runs it).
The API pages are generated at build time from each subpackage's ``__all__``, so every public name is documented.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "monai_topo"
author = "monai_topo developers"
copyright = "monai_topo developers, Apache-2.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "api/_*"]
myst_heading_anchors = 3
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields, not as entries that dataclass members would duplicate
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
html_theme = "alabaster"
suppress_warnings = ["myst.xref_missing"]

#: subpackages whose ``__all__`` makes the API reference, with a one-line title
API_PACKAGES = {
    "monai_topo.losses": "Losses",
    "monai_topo.metrics": "Metrics",
    "monai_topo.handlers": "Ignite handlers",
    "monai_topo.transforms": "Transforms",
    "monai_topo.topology": "Topology core",
    "monai_topo.evaluation": "Evaluation (monai-topo evaluate, betti)",
    "monai_topo.experiments": "Experiments (monai-topo compare)",
    "monai_topo.io": "Reading volumes, case names",
    "monai_topo.data": "Built-in datasets",
    "monai_topo.visualize": "Pictures (error overlays, persistence diagrams)",
    "monai_topo.bundles": "Bundles",
    "monai_topo.cli": "Command line",
}


def _directive(obj: object) -> str:
    if inspect.isclass(obj):
        return "autoclass"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "autofunction"
    return "py:data"  # a constant: its type's docstring (e.g. dict's) is not its documentation


def write_api_pages(out_dir: str) -> list[str]:
    """Write ``api/<package>.rst`` for every package of :data:`API_PACKAGES` that imports; return the page names."""
    os.makedirs(out_dir, exist_ok=True)
    pages = []
    for package, title in API_PACKAGES.items():
        try:
            module = importlib.import_module(package)
        except ImportError:  # an optional subpackage that is not there
            continue
        lines = [title, "=" * len(title), "", f".. automodule:: {package}", "   :no-members:", ""]
        for name in sorted(getattr(module, "__all__", [])):
            obj = getattr(module, name)
            lines += [f".. {_directive(obj)}:: {package}.{name}", ""]
        page = package.split(".")[-1]
        with open(os.path.join(out_dir, f"{page}.rst"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        pages.append(page)
    with open(os.path.join(out_dir, "index.rst"), "w", encoding="utf-8") as f:
        f.write("API reference\n=============\n\n.. toctree::\n   :maxdepth: 1\n\n")
        f.write("".join(f"   {page}\n" for page in pages))
    return pages


write_api_pages(os.path.join(os.path.dirname(os.path.abspath(__file__)), "api"))
