"""How the program evaluates: Python's cyclic garbage collector tuned for a Pulumi program.

A Pulumi program allocates hundreds of thousands of short-lived objects (Outputs, futures, asyncio
tasks, protobuf messages) that are freed by reference counting, and almost none of them form
cycles; yet every 700 allocations the collector walks the young generation, and every few
thousand the whole heap. Profiled at 50 services, that walking was more than half of the
evaluation's CPU. Freezing what is alive after the imports (Pulumi, the AWS SDK: never garbage)
and collecting the young generation 100 times less often keeps cycles collected, at a few
megabytes more peak memory. `make bench` prints the effect; no registered input depends on it
(tests/test_evaluation.py). A process that evaluates many times unfreezes and collects every
`COLLECT_EVERY` evaluations: frozen objects are otherwise never collected (the schema walk's 220
evaluations in one process peaked at 535 MB that way, 215 MB now).
"""

import gc

# Allocations between young-generation collections (CPython's default is 700), and the default
# ratios for the older generations.
YOUNG_THRESHOLD = 70_000


# A process that evaluates many times (the tests, Automation API inline programs) collects fully
# every this many evaluations; in between it only freezes what the last one left, so the next one
# does not walk it again. At most this many evaluations' cyclic garbage waits for collection.
COLLECT_EVERY = 10
_evaluations = [0]


def tune_garbage_collector() -> None:
    """Called first by the program (`__main__.py`), so it holds for `pulumi up` as for the tests."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    if _evaluations[0] % COLLECT_EVERY == 0:
        gc.unfreeze()  # what earlier evaluations left, back where a collection can reach it
        gc.collect()
    gc.freeze()  # the imported modules' objects (and survivors): never walked again
    _evaluations[0] += 1
