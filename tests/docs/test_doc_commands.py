"""The commands of the README and of docs/*.md as a new user types them (issue 18.14): every ``monai-topo ...`` line
parses with the real command line, every ``python -m monai.bundle run`` override names a key of the bundle's
configs, every ``python -m benchmarks --only`` names a section; and every ``--help`` renders without ``%%``."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from monai_topo.bundles import path as bundle_path
from monai_topo.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
# the README, the pages of docs/ and each bundle's docs/README.md
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
PAGES += sorted((ROOT / "monai_topo" / "bundles").glob("*/docs/README.md"))
# the keyword arguments of monai.bundle's ``run`` itself (not config overrides)
_RUN_ARGUMENTS = {"config_file", "meta_file", "logging_file", "bundle_root", "run_id", "init_id", "final_id"}
_RUN_ARGUMENTS |= {"args_file"}


def _commands(page: Path) -> list[str]:
    """The shell commands of a page: lines of its bash / sh / console blocks (continuations joined, comments and
    prompts dropped, ``&&`` / ``;`` chains split) and inline code spans that hold a whole command."""
    text = page.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", text, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^\$ ", "", line.strip())
            line = re.sub(r"\s+#.*$", "", line) if not line.startswith("#") else ""
            commands += [part.strip() for part in re.split(r"&&|;", line) if part.strip()]
    # inline code that is a whole command (a program and at least two arguments), not a mention of its name
    spans = re.findall(r"(?<!`)`((?:monai-topo|python -m benchmarks|python -m monai\.bundle run) [^`]+)`", text)
    return commands + [span for span in spans if len(shlex.split(span)) >= 3]


def _cases(prefix: str) -> list[tuple[str, str]]:
    return [(str(page.relative_to(ROOT)), c) for page in PAGES for c in _commands(page) if c.startswith(prefix)]


def test_pages_have_commands():
    """The extraction sees the commands (a regression in it would make the tests below vacuous)."""
    found = {page.name: _commands(page) for page in PAGES[::-1]}  # (the top-level README.md last: it wins)
    assert any(c.startswith("monai-topo evaluate") for c in found["README.md"])
    assert any(c.startswith("monai-topo diagram") for c in found["evaluation.md"])
    assert len(_cases("monai-topo ")) >= 20 and len(_cases("python -m monai.bundle run")) >= 4


@pytest.mark.parametrize("page, command", _cases("monai-topo "))
def test_monai_topo_commands_parse(page, command):
    parser = build_parser()
    try:
        args = parser.parse_args(shlex.split(command)[1:])
    except SystemExit as e:
        pytest.fail(f"{page}: `{command}` does not parse (exit {e.code})")
    assert callable(args.func)


def _bundle_keys(bundle: str, configs: list[str]) -> set[str]:
    keys: set[str] = set()
    for config in configs:
        file = bundle_path(bundle) / "configs" / Path(config).name
        assert file.is_file(), config
        keys |= set(json.loads(file.read_text()))
    return keys


@pytest.mark.parametrize("page, command", _cases("python -m monai.bundle run"))
def test_bundle_overrides_are_config_keys(page, command):
    """``--key value`` pairs are run's own arguments or top-level keys of the configs given (those of the bundle
    whose docs/README.md it is; the neuron bundle's for the other pages)."""
    argv = shlex.split(command)[4:]
    options = {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2) if argv[i].startswith("--")}
    assert len(options) * 2 == len(argv), f"{page}: `{command}`: expected --key value pairs"
    configs = re.findall(r"configs/[\w.]+\.json", options["config_file"])
    keys = _bundle_keys("placenta" if "placenta" in page else "neuron", configs)
    unknown = [k for k in options if k not in _RUN_ARGUMENTS and k.split("#")[0] not in keys]
    assert unknown == [], f"{page}: `{command}`: {unknown} are no keys of {configs}"


@pytest.mark.parametrize("page, command", _cases("python -m benchmarks"))
def test_benchmark_sections_exist(page, command):
    from benchmarks.__main__ import SECTIONS

    argv = shlex.split(command)
    only = argv[argv.index("--only") + 1 :] if "--only" in argv else []
    only = [a for a in only[: next((i for i, a in enumerate(only) if a.startswith("-")), len(only))]]
    assert set(only) <= set(SECTIONS), f"{page}: `{command}`: sections are {sorted(SECTIONS)}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


@pytest.mark.parametrize("name", [None, *sorted(_subparsers(build_parser()))])
def test_help_renders_without_doubled_percent(name):
    parser = build_parser()
    text = (parser if name is None else _subparsers(parser)[name]).format_help()
    assert "%%" not in text and "%(" not in text, text


def test_readme_names_every_command():
    """The README shows every subcommand (its feature list had no ``diagram``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in _subparsers(build_parser()) if f"monai-topo {name}" not in text]
    assert missing == []


def test_help_says_what_betti_reads():
    """``betti`` reads Zarr / OME-Zarr stores too: its line in ``monai-topo --help`` and its own help say so."""
    listing = " ".join(build_parser().format_help().split())
    assert re.search(r"betti [^:]*Zarr", listing), listing
    assert "Zarr" in _subparsers(build_parser())["betti"].description


def test_readme_demo_figures_say_what_varies():
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    figures = text.index("merges (per case) 0.00 0.00 .. 0.00")
    after = text[figures : figures + 600]
    assert "thread count" in after and "BLAS" in after and "CPU" in after and "not the same digits" in after


def test_readme_evaluate_example_runs_on_the_demos_folders(tmp_path, monkeypatch):
    """The README's first ``evaluate`` example, word for word, on the folders ``bundles/run_demo.py`` leaves: labels
    of every case (training ones too), predictions ``<case>_seg`` of the test cases with the probability maps
    ``<case>_prob`` of ``--save_probabilities True`` next to them."""
    import nibabel as nib
    import numpy as np

    root = tmp_path / "demo_output" / "neuron_topology_segmentation"
    labels, predictions = root / "data" / "labels", root / "eval" / "test" / "predictions"
    labels.mkdir(parents=True)
    predictions.mkdir(parents=True)
    label = np.zeros((12, 12, 12), np.uint8)
    label[2:10, 5:7, 5:7] = 1
    for case in ("case_000", "case_001", "case_002"):
        nib.save(nib.Nifti1Image(label, np.eye(4)), labels / f"{case}.nii.gz")
    for case in ("case_001", "case_002"):
        nib.save(nib.Nifti1Image(label, np.eye(4)), predictions / f"{case}_seg.nii.gz")
        nib.save(nib.Nifti1Image(label * np.float32(0.9), np.eye(4)), predictions / f"{case}_prob.nii.gz")
    command = next(c for c in _commands(ROOT / "README.md") if c.startswith("monai-topo evaluate"))
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(shlex.split(command)[1:] + ["--no-progress"])
    assert args.func(args) == 0, command
    rows = (tmp_path / args.out).read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("case_001,") and rows[2].startswith("case_002,")
