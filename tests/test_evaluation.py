"""The program's garbage-collector setting: its own (so it holds for `pulumi up`), and invisible in
what it registers."""

import gc
import json

from components import evaluation
from components.testing import run_stack


def registered(run) -> str:
    return json.dumps(sorted((r.type, r.name, r.inputs) for r in run.resources), sort_keys=True, default=str)


def test_the_program_sets_it_itself(monkeypatch):
    monkeypatch.setattr(gc, "set_threshold", lambda *thresholds: calls.append(thresholds))
    calls: list = []
    run_stack("dev")
    assert calls and calls[-1][0] == evaluation.YOUNG_THRESHOLD


def test_no_registered_input_depends_on_it(monkeypatch):
    tuned = registered(run_stack("prod"))
    monkeypatch.setattr("components.evaluation.tune_garbage_collector", lambda: None)
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    try:
        untuned = registered(run_stack("prod"))
    finally:
        gc.set_threshold(*before)
    assert tuned == untuned


def test_many_evaluations_in_one_process_do_not_keep_each_others_garbage():
    """Frozen objects are never collected: an evaluation that freezes what earlier ones left must
    unfreeze and collect it now and then (the tests and Automation API programs evaluate many times)."""
    import weakref

    class Marker:
        pass

    for _ in range(evaluation.COLLECT_EVERY):
        evaluation.tune_garbage_collector()
    cycle = Marker()
    cycle.me = cycle  # garbage only a collection frees
    alive = weakref.ref(cycle)
    evaluation.tune_garbage_collector()  # frozen with everything else
    del cycle
    for _ in range(evaluation.COLLECT_EVERY):
        evaluation.tune_garbage_collector()
    assert alive() is None
