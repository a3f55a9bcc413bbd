"""What every benchmark script here shares: the same threads for both libraries, and fair timing.

    with same_threads(2):                          torch and numpy's BLAS both use 2 threads
        times = alternating_blocks(steps, repeats=300, warmup=30, blocks=10)
    machine_was_busy(times)                        True when a median is over twice the fastest step
    versions()                                     "numpy 2.4.6 (openblas 0.3.31, Haswell kernels; ...)"

``steps`` maps a name ("dlcourse", "PyTorch") to a function that runs one
step. Each is warmed up, then the frameworks take turns in blocks, so that
a busy moment of the machine hits both alike. Before each block the script
pauses for PAUSE seconds and runs a few untimed steps: after its last matrix
product, each library's idle worker threads keep spinning for a while
(OpenBLAS for about 0.1 s), and without the pause they would take a core
away from the other library's first steps.
"""
import contextlib
import os
import statistics
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

PAUSE = 0.3          # seconds between blocks
BLOCK_WARMUP = 3     # untimed steps at the start of each block


@contextlib.contextmanager
def same_threads(threads):
    """Inside the block, torch and numpy's BLAS (OpenBLAS, through threadpoolctl) use ``threads`` threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(previous)


def time_steps(step, n):
    """Run ``step`` n times; return the duration of each call in seconds."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def alternating_blocks(steps, repeats, warmup, blocks):
    """{name: [seconds per step]}: ``repeats`` timed steps of each, in ``blocks`` alternating blocks."""
    for step in steps.values():
        time_steps(step, warmup)
    times = {name: [] for name in steps}
    per_block = max(1, repeats // blocks)
    for _ in range(blocks):
        for name, step in steps.items():
            time.sleep(PAUSE)
            time_steps(step, BLOCK_WARMUP)
            times[name] += time_steps(step, per_block)
    return times


def machine_was_busy(times):
    """True when some framework's median step is more than twice its fastest: the numbers are not to trust."""
    return any(statistics.median(samples) > 2 * min(samples) for samples in times.values())


BUSY_WARNING = ("warning: a median is more than twice the fastest step: the machine was busy, "
                "run again when it is idle")


def versions():
    """numpy with its BLAS and the kernels it runs, and torch: the line every script prints first.

    OpenBLAS picks its kernels for the processor at start-up unless the
    environment variable OPENBLAS_CORETYPE names others (some machines set it:
    "Haswell" gives AVX2 kernels even on an AVX-512 processor, about half the
    speed of a matrix product); the line says so, since every ratio depends on it.
    """
    blas = [f"{info.get('internal_api')} {info.get('version')}, {info.get('architecture')} kernels"
            for info in threadpool_info() if info.get("user_api") == "blas"]
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced:
        blas.append(f"OPENBLAS_CORETYPE={forced}")
    return f"numpy {np.__version__} ({'; '.join(blas) or 'BLAS unknown'}), torch {torch.__version__}"
