"""The end-of-run counts and the claims x remedies table, from the recorded cases."""

from __future__ import annotations

from gradbench import summary
from gradbench.records import CaseRecord


def _case(n: int, claim: str, passed: bool, remedy: tuple[str, str, str] | None) -> CaseRecord:
    kind, name, origin = remedy or ("", "", "")
    return CaseRecord(
        case=f"suites/test_x.py::test_{claim}[{name}]#{n}", claim=claim, spec={"n": n},
        label=f"n{n}", verdict={"claim": claim, "passed": passed},
        remedy={"kind": kind, "name": name, "origin": origin} if remedy else None)


CAND = ("initializer", "my_init", "candidate")
HE = ("initializer", "he_normal", "built-in")


def _validation_cases() -> list:
    """Three candidate cases (two failed claims), a baseline's, two failed network cases."""
    return [_case(0, "initializer_variance", False, CAND),
            _case(1, "initializer_variance", False, CAND),
            _case(0, "mean_field_slope", False, CAND),
            _case(0, "initializer_variance", True, HE),
            _case(0, "jacobian_spectrum", False, None),
            _case(1, "jacobian_spectrum", False, None)]


def test_claims_are_counted_once_however_many_cases_failed() -> None:
    cases = _validation_cases()
    assert summary.failed_claims(cases) == 3
    assert summary.outcome_line(cases[3:]) == "3 cases recorded, 1 claim failed in 2 cases"
    assert summary.outcome_line(cases[3:4]) == "1 case recorded, every claim holds"
    assert summary.outcome_line(cases[3:4], complete=False) == (
        "1 case recorded, every claim holds, but the run is not complete")


def test_a_validation_leads_with_the_candidate_and_counts_its_baselines_as_context() -> None:
    """The terminal's line of a validate run: the candidate's verdict first, the baselines'
    failures after it as context. It read "N cases recorded, 2 claims failed" while validate
    said every claim of the candidate held (exit 0)."""
    cases = _validation_cases()
    assert summary.outcome_line(cases) == (
        "6 cases recorded; candidate 'my_init': 2 claims failed in 3 cases; baselines "
        "(context, not the verdict): 1 claim failed in 2 cases")
    bad_baseline = [_case(0, "stable_as_declared", True, CAND),
                    _case(0, "stable_as_declared", False, HE)]
    assert summary.outcome_line(bad_baseline) == (
        "2 cases recorded; candidate 'my_init': every claim holds; baselines "
        "(context, not the verdict): 1 claim failed in 1 case")
    assert summary.outcome_line(bad_baseline[:1]) == (
        "1 case recorded; candidate 'my_init': every claim holds")


def test_the_table_has_a_row_per_remedy_and_a_column_per_claim() -> None:
    cases = [_case(0, "initializer_variance", False, CAND),
             _case(1, "initializer_variance", True, CAND),
             _case(0, "initializer_variance", True, HE),
             _case(0, "mean_field_slope", True, HE),
             _case(0, "jacobian_spectrum", True, None)]
    lines = summary.table(summary.tally(cases))
    assert lines[0].split() == ["initializer", "variance", "mean_field_slope"]
    assert lines[1].split() == ["my_init", "(candidate)", "1/2*", "-"]  # candidate first
    assert lines[2].split() == ["he_normal", "1/1", "1/1"]
    assert lines[4].split() == ["suite", "claims", "about", "networks", "cases"]
    assert lines[5].split() == ["jacobian_spectrum", "1/1"]
    assert lines[-1].strip() == "* some cases of this claim failed"
