"""How RiskOps imports skops (riskops.serialization.skops_io)."""

from __future__ import annotations

import json
import subprocess
import sys

_REPORT = (
    "import json, sys\n"
    "from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES\n"
    "wrappers = sorted(m for m in sys.modules\n"
    "                  if m.startswith('sklearn.externals.array_api_compat.')\n"
    "                  and m.split('.')[3] in ('torch', 'cupy', 'dask', 'jax'))\n"
)


def _run(script: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_skops_trusts_the_same_estimators_without_importing_other_array_libraries() -> None:
    # Given skops imported plainly in one process and as RiskOps imports it in another
    plain = _run(
        "import skops.io\n"
        + _REPORT
        + "print(json.dumps({'types': sorted(SKLEARN_ESTIMATOR_TYPE_NAMES), 'w': wrappers}))"
    )
    ours = _run(
        "from riskops.serialization import skops_io\n"
        "skops_io()\n" + _REPORT + "import sklearn.externals.array_api_compat.dask as later\n"
        "print(json.dumps({'types': sorted(SKLEARN_ESTIMATOR_TYPE_NAMES), 'w': wrappers,\n"
        "                  'later': later.__name__}))"
    )
    # Then skops trusts the same scikit-learn estimators by default
    assert len(ours["types"]) > 150
    assert ours["types"] == plain["types"]
    # without scikit-learn's wrappers of other array libraries (Dask's is always installed
    # with RiskOps, so the plain import shows it), which stay importable afterwards
    assert "sklearn.externals.array_api_compat.dask" in plain["w"]
    assert ours["w"] == []
    assert ours["later"] == "sklearn.externals.array_api_compat.dask"
