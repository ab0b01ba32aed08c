"""SECURITY.md names, for every control, a test that guards it: those tests must exist."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_row_names_a_test_and_every_named_test_exists():
    text = (ROOT / "SECURITY.md").read_text()
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith(("| ---", "| risk", "| practice"))
    ]
    assert len(rows) >= 20
    for row in rows:
        assert "tests/test_" in row, f"row without a test: {row[:80]}"
    for path, name in re.findall(r"(tests/test_\w+\.py)(?:::(\w+))?", text):
        source = ROOT / path
        assert source.is_file(), path
        if name:
            functions = {n.name for n in ast.walk(ast.parse(source.read_text())) if isinstance(n, ast.FunctionDef)}
            assert name in functions, f"{path}::{name} does not exist"


def test_every_owasp_risk_has_a_row():
    text = (ROOT / "SECURITY.md").read_text()
    for number in range(1, 11):
        assert f"CICD-SEC-{number} " in text or f"CICD-SEC-{number} |" in text, number


def test_every_row_has_a_mutant_that_still_applies_and_names_the_rows_tests(tmp_path):
    """`make mutants` proves the rows' tests kill their mutants; this keeps the mutants in step
    with SECURITY.md and the code on every run: every row has one, each applies exactly once, and
    each runs tests its row names."""
    from .mutation import MUTANTS, apply, mutant_row, security_rows

    covered = set()
    for mutant in MUTANTS:
        control, tests = mutant_row(mutant)
        assert set(mutant.tests) <= set(tests), f"{mutant.row}: {mutant.tests} are not named in its row"
        covered.add(control)
        copy = tmp_path / mutant.file.replace("/", "_")
        copy.parent.mkdir(parents=True, exist_ok=True)
        original = (ROOT / mutant.file).read_text()
        assert original.count(mutant.old) == 1, f"{mutant.file}: the mutant {mutant.row!r} no longer applies"
        (tmp_path / "repo" / mutant.file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repo" / mutant.file).write_text(original)
        apply(mutant, tmp_path / "repo")
        assert (tmp_path / "repo" / mutant.file).read_text() != original
    uncovered = [control[:70] for control, _ in security_rows() if control not in covered]
    assert uncovered == []
