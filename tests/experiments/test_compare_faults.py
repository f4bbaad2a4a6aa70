"""``monai-topo compare`` under faults: interrupts stop the training child, a busy output folder is refused,
bad budgets and terms that never switch on are refused before any training, with messages naming the setting."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monai_topo.cli import main
from tests.experiments.test_compare import TINY


def _pids_with(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_stops_the_training_child(tmp_path, sig):
    out = tmp_path / "out"
    overrides = [x for x in TINY if not x.startswith("epochs=")] + ["epochs=200"]
    argv = [sys.executable, "-c", "import sys; from monai_topo.cli import main; sys.exit(main())", "compare",
            "--configs", "dicece", "--seeds", "0", "--out", str(out), "--no-progress"]  # fmt: skip
    for item in overrides:
        argv += ["--override", item]
    parent = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = out / "runs" / "dicece" / "seed_0" / "train.log"
    deadline = time.monotonic() + 240
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        if log.is_file() and "Epoch[1]" in log.read_text(errors="replace"):
            children = [p for p in _pids_with(str(out / "runs")) if p != parent.pid]
        time.sleep(0.5)
    assert children, "the training child never started"
    parent.send_signal(sig)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode == 130, err
    assert "interrupted" in err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.2)
    assert not any(_alive(p) for p in children), "the training child outlived compare"


def test_busy_output_folder_is_refused(tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".compare.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write("pid 12345")
        handle.flush()
        code = main(["compare", "--configs", "dicece", "--seeds", "0", "--out", str(out), "--no-progress",
                     *sum((["--override", x] for x in TINY), [])])  # fmt: skip
    assert code == 2
    assert "in use by another monai-topo compare (pid 12345)" in caplog.text
    assert not (out / "runs").exists()


@pytest.mark.parametrize(
    "extra, configs, message",
    [
        (["epochs=abc"], ["dicece"], "epochs must be a positive integer"),
        (["epochs=0"], ["dicece"], "epochs must be a positive integer"),
        (["epochs=3", "topology_warmup=5"], ["dicece", "supervoxel"], "'supervoxel' would never switch its"),
        (["lambda_topology=-1"], ["bundle"], "lambda_topology must be a non-negative number"),
    ],
)
def test_bad_budget_is_refused_before_training(tmp_path, caplog, extra, configs, message):
    argv = ["compare", "--configs", *configs, "--seeds", "0", "--out", str(tmp_path / "out"), "--no-progress"]
    for item in [*TINY, *extra]:
        argv += ["--override", item]
    assert main(argv) == 2
    assert message in caplog.text
    assert not (tmp_path / "out").exists()


def test_empty_configs_is_an_error(tmp_path, caplog):
    assert main(["compare", "--configs", "--out", str(tmp_path / "out")]) == 2
    assert "--configs needs at least one configuration name" in caplog.text
    assert not (tmp_path / "out").exists()


def test_quick_sets_a_short_budget(monkeypatch, tmp_path, caplog):
    import monai_topo.cli.compare as compare_command

    seen = {}

    def fake(bundle, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(compare_command, "run_comparison", fake)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--quick", "--override", "epochs=8"]) == 2
    assert seen["overrides"]["epochs"] == 8 and seen["overrides"]["topology_warmup"] == 5
    assert seen["out_dir"] == "compare_quick" and "smoke test" in caplog.text
    assert os.listdir(tmp_path) == []


def test_a_term_without_weight_is_refused(tmp_path, caplog):
    """The bundles ship lambda_topology 0: a configuration that names a term but no weight would train as dicece."""
    config_file = tmp_path / "mine.json"
    config_file.write_text('{"mine": {"overrides": {"loss#topology_loss#_target_": "monai_topo.losses.SupervoxelLoss"}}}')
    argv = ["compare", "--configs", "dicece", "--config-file", str(config_file), "--seeds", "0"]
    argv += ["--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 2
    assert "'mine' sets a topological term" in caplog.text and "lambda_topology" in caplog.text
    assert not (tmp_path / "out").exists()
