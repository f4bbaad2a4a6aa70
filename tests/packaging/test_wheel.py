"""The wheel, as a user gets it: built from this checkout, installed in a fresh virtual environment, run from a folder
outside the repository. It must carry the bundles: ``monai-topo bundle neuron --out b``, the bundle's train command
(one tiny epoch) and a tiny ``monai-topo compare`` all work there.

The fresh environment gets the wheel without its dependencies (``--no-deps --no-index``: nothing is downloaded) and
sees this environment's installed dependencies (torch, MONAI, ...) through a ``.pth`` file; its own ``monai_topo`` is
the wheel's, checked by path.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: a one-epoch training of a few seconds (as tests/bundle/bundle_utils.py's TINY_TRAIN), as command-line overrides
TINY = {
    "epochs": "1",
    "val_interval": "1",
    "num_volumes": "4",
    "num_validation": "1",
    "num_test": "1",
    "volume_size": "32",
    "roi_size": "[24,24,24]",
    "batch_size": "1",
    "num_samples": "1",
    "channels": "[4,8,16,16]",
    "topology_warmup": "0",
}


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a checkout may hold besides the package's files: caches, and a bundle's run outputs when it was run in
    place (``data/``, ``eval/``, checkpoints)."""
    skipped = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
    if Path(folder).parent.name == "bundles":
        skipped |= {n for n in names if n in ("data", "eval")}
    if Path(folder).name == "models":
        skipped |= {n for n in names if n.endswith((".pt", ".ts"))}
    return skipped


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(cmd)} exited with {done.returncode}:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(python, monai-topo, env, home)`` of a fresh venv with the wheel installed; ``home`` is outside the repo."""
    pytest.importorskip("setuptools", minversion="77")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a clean copy: no build/ leftovers or run outputs of the checkout in the wheel
    shutil.copytree(ROOT / "monai_topo", source / "monai_topo", ignore=_not_sources)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    _run(build + ["-w", str(work / "dist"), str(source)], work, env)
    (wheel,) = (work / "dist").glob("monai_topo-*.whl")

    fresh = work / "venv"
    venv.EnvBuilder(with_pip=True).create(fresh)
    python = fresh / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work, env)
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib.strip()) / "monai_topo_test_dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], work, env)

    home = work / "home"
    home.mkdir()
    where = _run([str(python), "-c", "import monai_topo.bundles as b; print(b.__file__)"], home, env).strip()
    assert Path(where).is_relative_to(fresh), where  # the wheel's package, not the checkout's
    return python, fresh / "bin" / "monai-topo", env, home


def test_wheel_bundle_trains_and_compares_outside_the_repository(installed):
    python, monai_topo_cli, env, home = installed
    where = [str(python), "-c", "import monai_topo.bundles as b; print(b.path('neuron'))"]
    shipped = Path(_run(where, home, env).strip())  # the installed bundle: read, never written
    before = sorted(p for p in shipped.rglob("*") if "__pycache__" not in p.parts)
    # the bundle, as README.md tells: a copy of it, then its train command (one tiny epoch)
    printed = _run([str(monai_topo_cli), "bundle", "neuron", "--out", "b"], home, env)
    assert "configs/train.json" in printed
    bundle = home / "b"
    assert (bundle / "configs" / "train.json").is_file() and (bundle / "docs" / "README.md").is_file()
    train = [str(python), "-m", "monai.bundle", "run", "--config_file", "configs/train.json", "--bundle_root", "."]
    overrides = [arg for key, value in TINY.items() for arg in (f"--{key}", value)]
    _run(train + ["--dataset_dir", "data"] + overrides, bundle, env)
    assert (bundle / "models" / "model_final.pt").is_file() and (bundle / "data" / "dataset.json").is_file()

    # a tiny comparison of the installed bundle, by name
    compare = [str(monai_topo_cli), "compare", "--bundle", "neuron", "--configs", "dicece", "--seeds", "0"]
    compare += ["--out", "cmp", "--no-progress"] + [f"--override={k}={v}" for k, v in TINY.items()]
    _run(compare, home, env)
    with open(home / "cmp" / "per_case.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["configuration"] == "dicece" and 0.0 <= float(rows[0]["dice"]) <= 1.0
    assert sorted(p for p in shipped.rglob("*") if "__pycache__" not in p.parts) == before  # nothing written there


@pytest.mark.slow
def test_wheel_readme_bundle_commands_both_bundles(installed):
    """Both bundles: train, then the README's evaluation command, from copies made by ``monai-topo bundle``."""
    python, monai_topo_cli, env, home = installed
    overrides = [arg for key, value in TINY.items() for arg in (f"--{key}", value)]
    for name in ("neuron", "placenta"):
        _run([str(monai_topo_cli), "bundle", name, "--out", f"{name}_bundle"], home, env)
        bundle = home / f"{name}_bundle"
        run = [str(python), "-m", "monai.bundle", "run", "--bundle_root", ".", "--dataset_dir", "data"] + overrides
        _run(run + ["--config_file", "configs/train.json"], bundle, env)
        _run(run + ["--config_file", "['configs/train.json','configs/evaluate.json']"], bundle, env)
        assert list((bundle / "eval" / "test" / "predictions").glob("*_seg.nii.gz"))
