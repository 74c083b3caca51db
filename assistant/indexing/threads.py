"""Native thread pools, set once per serving process: one core per search, so concurrent searches never fight.

On 2 cores, OpenBLAS's and OpenMP's pools spinning beside the encoder made a search loop ~4x slower.
The ONNX encoder's session runs on one thread; a build spreads its texts over the cores, one text per core.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_done = False


def one_thread_per_search() -> None:
    """Limit BLAS (numpy, scipy) and FAISS's OpenMP to one thread each; later calls change nothing."""
    global _done
    with _lock:
        if _done:
            return
        import faiss
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        faiss.omp_set_num_threads(1)
        _done = True
