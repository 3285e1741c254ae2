"""``python -m pipelines.seeds``: build the environment's migrated database seeds.

Run by ``make install`` and the container images (see :mod:`riskops.seeds`). Both seeds
are built by their libraries' own migrations, side by side (Prefect's in a process of its
own); an existing seed of the installed version is kept.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    from pipelines.server import build_prefect_seed
    from riskops.seeds import write_seed
    from riskops.tracking import build_store_seed

    logging.disable(logging.INFO)  # alembic's INFO lines, one per migration
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        prefect = pool.submit(write_seed, "prefect", build_prefect_seed)
        mlflow = write_seed("mlflow", build_store_seed)
        seeds = (mlflow, prefect.result())
    print(
        f"database seeds in {time.perf_counter() - started:.1f} s: "
        + ", ".join(str(seed) for seed in seeds)
    )


if __name__ == "__main__":
    main()
