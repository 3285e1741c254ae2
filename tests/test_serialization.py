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


def test_skops_imported_from_many_threads_at_once_is_whole_in_each() -> None:
    """Given a fresh interpreter, when forty threads ask for skops.io while it imports (the
    service loads its champions in a pool), then each gets the whole module: no thread sees
    the half-initialised one (``partially initialized module 'skops.io' has no attribute
    'load'``, issue: every champion loads on the first try)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import threading
        from riskops.serialization import skops_io

        import time

        got = []

        def ask(delay):
            # Staggered: some threads arrive while the first one is inside the import.
            time.sleep(delay)
            module = skops_io()
            got.append((module.__name__, callable(getattr(module, "load", None)),
                        callable(getattr(module, "loads", None))))

        threads = [threading.Thread(target=ask, args=(i * 0.02,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(sorted(set(got)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[('skops.io', True, True)]"
