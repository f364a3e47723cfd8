"""Benchmark: memory of delivering a c1z to S3, streamed with bounded buffers versus fsspec defaults.

    PYTHONPATH=.:include .venv/bin/python bench/delivery_memory.py [--size-mib 256] [--chunk-mib 8]

Starts moto's S3 server in a child process on 127.0.0.1 (so its stored objects do not count), writes
a random stand-in c1z of `--size-mib` to a local lake, and prints, from one run, the Python peak
allocation (tracemalloc) and wall time of: a plain copy through `UPath.open` with s3fs's defaults
(50 MiB blocks, read-ahead cache), and `publish_atomically` (temporary key, read-back SHA-256
verification, move). The S3 client is warmed up first so its one-off setup is not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import boto3
from upath import UPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from halo_c1.deliver import publish_atomically

BUCKET = "delivery-bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not start on port {port}")


def _measure(action: Callable[[], object]) -> tuple[float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256, help="size of the stand-in c1z")
    parser.add_argument("--chunk-mib", type=int, default=8, help="publish_atomically chunk size")
    args = parser.parse_args()

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with tempfile.TemporaryDirectory() as workdir:
        try:
            _wait_for(port)
            endpoint = f"http://127.0.0.1:{port}"
            options = {"endpoint_url": endpoint, "key": "bench", "secret": "bench"}
            boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
                region_name="us-east-1",
            ).create_bucket(Bucket=BUCKET)
            source = UPath(os.path.join(workdir, "sync.c1z"))
            block = os.urandom(2**20)
            with open(source.path, "wb") as handle:
                for _ in range(args.size_mib):
                    handle.write(block)
            UPath(f"s3://{BUCKET}/warmup", **options).write_bytes(b"warm up the client")

            def plain_copy() -> None:
                target = UPath(f"s3://{BUCKET}/plain/sync.c1z", **options)
                with source.open("rb") as reader, target.open("wb") as writer:
                    shutil.copyfileobj(reader, writer, args.chunk_mib * 2**20)

            def atomic() -> None:
                target = UPath(f"s3://{BUCKET}/atomic/sync.c1z", **options)
                publish_atomically(source, target, chunk_size=args.chunk_mib * 2**20)

            plain_peak, plain_s = _measure(plain_copy)
            atomic_peak, atomic_s = _measure(atomic)
        finally:
            server.terminate()
            server.wait()

    print(f"c1z size: {args.size_mib} MiB, chunk {args.chunk_mib} MiB, S3 = moto server on 127.0.0.1")
    print(f"plain copy, s3fs defaults     : peak {plain_peak:7.1f} MiB  {plain_s:6.2f} s")
    print(f"publish_atomically (+verify)  : peak {atomic_peak:7.1f} MiB  {atomic_s:6.2f} s")


if __name__ == "__main__":
    main()
