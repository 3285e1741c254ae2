"""``python -m pipelines.seeds``: build the environment's seeds (see :mod:`riskops.seeds`).

Run by ``make install`` and the container images. The databases are built by their
libraries' own migrations and the kernels by numba, side by side (Prefect's migrations and
numba's compilation in processes of their own); an existing seed of the installed version
is kept.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    from pipelines.server import build_prefect_seed
    from riskops.seeds import write_seed
    from riskops.tracking import build_store_seed
    from riskops.treeshap import build_kernel_seed

    logging.disable(logging.INFO)  # alembic's INFO lines, one per migration
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        prefect = pool.submit(write_seed, "prefect", build_prefect_seed)
        kernels = pool.submit(write_seed, "numba", build_kernel_seed)
        mlflow = write_seed("mlflow", build_store_seed)
        seeds = (mlflow, prefect.result(), kernels.result())
    print(
        f"seeds in {time.perf_counter() - started:.1f} s: " + ", ".join(str(seed) for seed in seeds)
    )


if __name__ == "__main__":
    main()
