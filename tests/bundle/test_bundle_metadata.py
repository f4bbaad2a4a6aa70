"""Static checks of the bundles: layout, metadata against MONAI's schema (offline), network I/O, config hygiene."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from monai.bundle import ConfigParser, verify_metadata, verify_net_in_out

import monai_topo
from tests.bundle.bundle_utils import BUNDLES, bundle_path

SCHEMA = "meta_schema_20240725.json"
#: md5 of the shipped copy of MONAI's metadata schema (``https://project-monai.github.io/schema/`` /
#: MONAI-extra-test-data release 0.8.1): it must not drift between the bundles
SCHEMA_MD5 = "76e1add273836515d0bbb3bc71962474"
CONFIGS = ("train.json", "evaluate.json", "inference.json", "multi_gpu_train.json", "metadata.json")


def _walk(node):
    """Every (key, value) pair of a nested JSON structure."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.parametrize("bundle", BUNDLES)
def test_layout(bundle):
    for rel in (
        "LICENSE",
        "docs/README.md",
        "models/.gitkeep",
        "configs/logging.conf",
        f"configs/{SCHEMA}",
        *(f"configs/{name}" for name in CONFIGS),
    ):
        assert bundle_path(bundle, rel).is_file(), rel
    assert "Apache License" in bundle_path(bundle, "LICENSE").read_text()
    for name in CONFIGS:
        json.loads(bundle_path(bundle, "configs", name).read_text())  # valid JSON


@pytest.mark.parametrize("bundle", BUNDLES)
def test_verify_metadata_offline(bundle):
    """Validated against the schema shipped in the bundle (``verify_metadata`` skips downloading an existing file)."""
    meta = bundle_path(bundle, "configs", "metadata.json")
    schema = bundle_path(bundle, "configs", SCHEMA)
    assert json.loads(meta.read_text())["schema"].endswith(SCHEMA)
    verify_metadata(meta_file=str(meta), filepath=str(schema), hash_val=SCHEMA_MD5)


@pytest.mark.parametrize("bundle", BUNDLES)
def test_metadata_versions(bundle):
    meta = json.loads(bundle_path(bundle, "configs", "metadata.json").read_text())
    assert "optional_packages_version" not in meta  # MONAI >= 1.4 renames it over required_packages_version
    required = meta["required_packages_version"]
    assert required["monai_topo"] == monai_topo.__version__
    for package in ("nibabel", "pytorch-ignite", "cripser", "POT", "connected-components-3d", "scipy"):
        assert package in required, package
        version(package)  # installed, i.e. a real distribution name
    assert meta["version"] in meta["changelog"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_verify_net_in_out(bundle):
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(bundle_path(bundle, "configs", "metadata.json")),
        config_file=str(bundle_path(bundle, "configs", "inference.json")),
    )


@pytest.mark.parametrize("bundle", BUNDLES)
def test_train_and_inference_build_the_same_network(bundle):
    """A checkpoint trained with train.json must load into inference.json's network."""
    nets = []
    for name in ("train.json", "inference.json"):
        parser = ConfigParser()
        parser.read_config(str(bundle_path(bundle, "configs", name)))
        nets.append(parser.get_parsed_content("network_def"))
    assert repr(nets[0]) == repr(nets[1])
    assert nets[1].load_state_dict(nets[0].state_dict()) is not None


@pytest.mark.parametrize("bundle", BUNDLES)
def test_configs_use_full_monai_topo_paths(bundle):
    """Our classes by full dotted path (``ComponentLocator`` resolves clashing short names to MONAI's class)."""
    targets = set()
    for name in CONFIGS:
        config = json.loads(bundle_path(bundle, "configs", name).read_text())
        targets |= {v for k, v in _walk(config) if k == "_target_"}
    ours = {t for t in targets if "monai_topo" in t}
    assert ours and all(t.startswith("monai_topo.") for t in ours)
    for target in ours:
        module, _, attr = target.rpartition(".")
        assert hasattr(__import__(module, fromlist=[attr]), attr), target
    # nothing a user has to edit: no absolute paths
    for name in CONFIGS:
        assert "/workspace" not in bundle_path(bundle, "configs", name).read_text()


def test_readme_documents_commands():
    for bundle in BUNDLES:
        text = bundle_path(bundle, "docs", "README.md").read_text()
        commands = ("monai.bundle run", "evaluate.json", "inference.json", "multi_gpu_train.json")
        for needle in (*commands, "--dataset_dir", "--resume_ckpt @latest_ckpt"):
            assert needle in text, (bundle, needle)
    assert (Path(__file__).resolve().parents[2] / "bundles" / "run_demo.py").is_file()
