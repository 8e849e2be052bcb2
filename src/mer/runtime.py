"""Process-level settings every pipeline job applies first: thread caps and seeds.

``snakemake --cores 8`` on a 2-core machine really starts 8 cores' worth of jobs, and torch,
OpenBLAS and numba each default to one thread per core: without a cap every job would
start several threads per core and the machine would thrash. Each job therefore caps all
of them to its rule's ``threads``.
"""

from __future__ import annotations

import os
import random
import sys

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(n_threads: int) -> None:
    """Cap torch, BLAS/OpenMP and numba to ``n_threads`` in this process and its children."""
    n_threads = max(1, int(n_threads))
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(n_threads)
    try:  # BLAS libraries already loaded by numpy/scipy ignore the variables above
        from threadpoolctl import threadpool_limits
        threadpool_limits(n_threads)
    except ImportError:
        pass
    # torch reads OMP_NUM_THREADS when it is first imported; set it directly only if a job
    # imported torch already (importing it here would cost jobs that never use it ~1 s)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n_threads)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so a CPU run repeats exactly."""
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
