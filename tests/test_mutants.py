"""The mutation list follows the code, and the quick suite kills every planted bug (slow)."""

from __future__ import annotations

from pathlib import Path

import mutants
import pytest

from gradbench import claims

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m.name for m in mutants.MUTANTS])
def test_every_mutant_applies_once_and_names_a_registered_claim(mutant, tmp_path) -> None:
    target = tmp_path / mutant.file
    target.parent.mkdir(parents=True)
    target.write_text((ROOT / mutant.file).read_text())
    mutants.apply(mutant, tmp_path)
    assert target.read_text() != (ROOT / mutant.file).read_text()
    assert claims.get_claim(mutant.claim).name == mutant.claim
    compile(target.read_text(), str(target), "exec")  # the mutant is still valid Python


@pytest.mark.slow
@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m.name for m in mutants.MUTANTS])
def test_the_quick_suite_kills_the_mutant_with_the_expected_claim(mutant) -> None:
    outcome = mutants.run_mutant(mutant)
    assert outcome.as_expected, (mutant.bug, outcome.failed_claims)
