"""How the program evaluates: Python's cyclic garbage collector tuned for a Pulumi program.

A Pulumi program allocates hundreds of thousands of short-lived objects (Outputs, futures, asyncio
tasks, protobuf messages) that are freed by reference counting, and almost none of them form
cycles; yet every 700 allocations the collector walks the young generation, and every few
thousand the whole heap. Profiled at 50 services, that walking was more than half of the
evaluation's CPU. Freezing what is alive after the imports (Pulumi, the AWS SDK: never garbage)
and collecting the young generation 100 times less often keeps cycles collected, at a few
megabytes more peak memory. `make bench` prints the effect; no registered input depends on it
(tests/test_evaluation.py).
"""

import gc

# Allocations between young-generation collections (CPython's default is 700), and the default
# ratios for the older generations.
YOUNG_THRESHOLD = 70_000


def tune_garbage_collector() -> None:
    """Called first by the program (`__main__.py`), so it holds for `pulumi up` as for the tests
    (where one process evaluates many times: the freeze is done once)."""
    gc.collect()
    gc.freeze()  # the imported modules' objects: never collected, never walked again
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
