"""The package's architecture: the import-linter contracts of ``pyproject.toml`` (layers, no cycles, argparse only in
the command line, a numpy core), and the one rule import-linter cannot express: no module takes another module's
private name (its import graph is of modules, not of the names imported from them)."""

from __future__ import annotations

import ast
import logging
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "monai_topo", ROOT / "benchmarks")


def test_import_contracts_are_kept(monkeypatch, capsys):
    pytest.importorskip("importlinter")
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    # import-linter configures logging with disable_existing_loggers: every logger made so far (ours included)
    # would stay silent for the tests that run after this one
    loggers = [log for log in logging.root.manager.loggerDict.values() if isinstance(log, logging.Logger)]
    enabled = [log for log in loggers if not log.disabled]
    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        for log in enabled:
            log.disabled = False
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out and "nothing imports upward KEPT" in out.replace("\n", " ")


_OURS = ("monai_topo", "benchmarks")


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_name_uses(source: str, own: str) -> list[str]:
    """``from monai_topo.x import _name`` and ``module._name`` of another module of ours, in the module ``own``."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> monai_topo module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(_OURS) and not node.level:
            for alias in node.names:
                if _is_private(alias.name) and node.module != own:
                    found.append(f"{own}:{node.lineno} imports {node.module}.{alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(_OURS) and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _is_private(node.attr):
            target = modules.get(node.value.id)
            if target is not None and target != own:
                found.append(f"{own}:{node.lineno} uses {target}.{node.attr}")
    return sorted(found, key=lambda use: int(use.split(":")[1].split()[0]))


def test_no_module_takes_another_modules_private_name():
    offenders = [
        use
        for path in sorted(p for folder in SOURCES for p in folder.rglob("*.py"))
        for use in private_name_uses(path.read_text(encoding="utf-8"), _module_name(path))
    ]
    assert offenders == []


def test_the_private_name_check_sees_both_forms():
    """It finds an imported private name and a private attribute of an imported module; a module's own are fine."""
    source = (
        "from monai_topo.topology.critical import _DENSE_RATIO\n"
        "import monai_topo.topology.betti as betti\n"
        "from monai_topo.topology import supervoxels\n"
        "from monai_topo.topology.example import _mine\n"
        "betti._shrink(1, 2, 3)\n"
        "supervoxels._split_rule(None)\n"
    )
    assert private_name_uses(source, "monai_topo.topology.example") == [
        "monai_topo.topology.example:1 imports monai_topo.topology.critical._DENSE_RATIO",
        "monai_topo.topology.example:5 uses monai_topo.topology.betti._shrink",
        "monai_topo.topology.example:6 uses monai_topo.topology.supervoxels._split_rule",
    ]
