"""What every bench server shares besides its flags: one hook, inert unless the bench asks.

`BENCH_MEMO_DIR` in a dualauth server's environment makes each worker count the hits and
misses of dualauth's per-process memos into a file of that directory (bench/memo_stats.py).
"""

import os
from pathlib import Path
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Count memo hits in this worker, when asked (the application is loaded by now)."""
    directory = os.environ.get("BENCH_MEMO_DIR")
    if directory:
        from bench.memo_stats import counters_install

        counters_install(Path(directory))
