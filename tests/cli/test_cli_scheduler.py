"""``--scheduler`` never hangs and never ends in a traceback (issue 18.6).

An address that accepts and never answers hung ``betti`` / ``evaluate`` for good, a refused port gave a raw
``OSError`` after 30 s, a service that is not a dask scheduler "Unable to allocate 3.07 EiB". Each now ends
within ``--scheduler-timeout`` seconds (default 30) with a message that names the address and what to do.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import numpy as np
import pytest

from monai_topo.cli import betti, evaluate
from tests.cli.cli_helpers import run_command, save_nifti

pytest.importorskip("distributed")


class _Server:
    """A local TCP service: ``silent`` accepts and never answers, ``http`` answers every request with HTTP."""

    def __init__(self, mode: str) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.mode, self.conns, self.closed = mode, [], False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.mode == "http":
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request" * 4)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        for conn in self.conns:
            conn.close()
        self.sock.close()


def _refused_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return f"tcp://127.0.0.1:{port}"


def _run_with_deadline(module, argv: list[str], deadline: float = 60.0) -> tuple[int | None, float]:
    """Run the command on a thread; ``(None, seconds)`` when it is still running after ``deadline`` (a hang)."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_command(module, argv)), daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(deadline)
    return (result[0] if result else None), time.monotonic() - start


def _volume(tmp_path):
    import zarr

    data = np.zeros((8, 8, 8), np.uint8)
    data[2:6, 2:6, 2:6] = 1
    path = tmp_path / "v.zarr"
    zarr.create_array(str(path), data=data, chunks=(4, 4, 4))
    return path


@pytest.mark.parametrize(
    "kind, words",
    [
        ("silent", ["did not answer within 1 s", "--scheduler-timeout"]),
        ("refused", ["connection refused"]),
        ("http", ["not a dask.distributed scheduler"]),
    ],
)
def test_betti_scheduler_failures_end_with_a_message(tmp_path, caplog, capsys, kind, words):
    path = _volume(tmp_path)
    server = None if kind == "refused" else _Server(kind)
    address = _refused_port() if server is None else server.address
    try:
        with caplog.at_level(logging.ERROR):
            code, seconds = _run_with_deadline(
                betti, ["betti", str(path), "--scheduler", address, "--scheduler-timeout", "1"]
            )
    finally:
        if server is not None:
            server.close()
    assert code is not None, "betti --scheduler hung"
    assert code == 2 and seconds < 20
    assert address in caplog.text
    for word in words:
        assert word in caplog.text
    err = capsys.readouterr().err
    assert "Traceback" not in err and "EiB" not in caplog.text + err


def test_scheduler_timeout_default_and_bad_values(capsys):
    import argparse

    parser = argparse.ArgumentParser()
    betti.register(parser.add_subparsers())
    args = parser.parse_args(["betti", "x.zarr"])
    assert args.scheduler_timeout == 30.0
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(SystemExit):
            parser.parse_args(["betti", "x.zarr", "--scheduler-timeout", bad])
        assert "--scheduler-timeout" in capsys.readouterr().err


def test_a_real_scheduler_still_works(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    path = _volume(tmp_path)
    assert run_command(betti, ["betti", str(path)]) == 0
    local = capsys.readouterr().out
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, protocol="tcp"
    ) as cluster:
        argv = ["betti", str(path), "--scheduler", cluster.scheduler_address, "--scheduler-timeout", "5"]
        assert run_command(betti, argv) == 0
    assert capsys.readouterr().out == local


def test_a_scheduler_without_workers_is_named(tmp_path, caplog):
    distributed = pytest.importorskip("distributed")
    path = _volume(tmp_path)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, protocol="tcp") as cluster:
        with caplog.at_level(logging.ERROR):
            code, _ = _run_with_deadline(
                betti, ["betti", str(path), "--scheduler", cluster.scheduler_address, "--scheduler-timeout", "1"]
            )
    assert code == 2 and "no workers" in caplog.text and cluster.scheduler_address in caplog.text
