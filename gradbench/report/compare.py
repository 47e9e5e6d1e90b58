"""Two runs side by side: which cases regressed, improved or stayed, and are they comparable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradbench.report.growth import measured_growth
from gradbench.report.model import Case, Run, canonical
from gradbench.report.text import config_label, num

__all__ = ["CaseDelta", "Comparison", "compare_runs", "sampling_differences"]


@dataclass(frozen=True)
class CaseDelta:
    """One case matched (or not) between a base and a new run.

    Attributes:
        key: ``(claim, configuration, occurrence)`` used for matching.
        base, new: the case in each run (``None`` if only in the other).
        status: ``regression`` (passed -> failed, or a new case that fails: ``base``
            is then ``None``), ``improvement`` (failed -> passed), ``same`` (outcome
            unchanged, or no verdict on either side).
        delta_measured: ``new.measured - base.measured`` of the verdicts (NaN if either lacks one).
        delta_ci_low, delta_ci_high, delta_ci_width: changes of the verdict CI.
        base_factor, new_factor: measured per-layer growth factors (NaN without a measurement).
    """

    key: tuple[str, str, int]
    base: Case | None
    new: Case | None
    status: str
    delta_measured: float = math.nan
    delta_ci_low: float = math.nan
    delta_ci_high: float = math.nan
    delta_ci_width: float = math.nan
    base_factor: float = math.nan
    new_factor: float = math.nan

    def __str__(self) -> str:
        """One line: ``claim on label: 0 (passed) -> 0.08 (failed) [regression]``."""

        def side(c: Case | None) -> str:
            if c is None:
                return "absent"
            if c.verdict is None:
                return "no verdict"
            return f"{num(c.verdict.measured)} ({'passed' if c.verdict.passed else 'failed'})"

        return (
            f"{self.claim} on {config_label(self.label)}: {side(self.base)} -> {side(self.new)} "
            f"[{self.status}]"
        )

    @property
    def claim(self) -> str:
        """The claim of the matched case."""
        return self.key[0]

    @property
    def label(self) -> str:
        """The configuration label (of the new case when there is one)."""
        case = self.new or self.base
        return case.label if case is not None else ""


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs`.

    Attributes:
        base_label, new_label: the runs' labels.
        deltas: every matched case, and every failing case of the new run only (a
            regression), regressions first, then by claim and label.
        only_base, only_new: cases present in one run only (failing new cases are in
            ``deltas``).
        warnings: why the two runs may not be comparable (empty if they are).
        new_incomplete: ``new`` is not complete (interrupted, recovered from its journal,
            or with tests that failed outside their claims), so the comparison is no pass
            even without regressions (``gradbench compare`` exits 1).
    """

    base_label: str
    new_label: str
    deltas: list[CaseDelta]
    only_base: list[Case]
    only_new: list[Case]
    warnings: list[str]
    new_incomplete: bool = False

    @property
    def regressions(self) -> list[CaseDelta]:
        """Cases that fail in the new run and did not in the base run (new cases included)."""
        return [d for d in self.deltas if d.status == "regression"]

    @property
    def shared(self) -> int:
        """How many cases the two runs have in common."""
        return sum(d.base is not None and d.new is not None for d in self.deltas)

    @property
    def improvements(self) -> list[CaseDelta]:
        """Cases that failed in the base run and pass in the new one."""
        return [d for d in self.deltas if d.status == "improvement"]

    @property
    def warning(self) -> str | None:
        """All warnings as one string, or ``None`` when the runs are comparable."""
        return "; ".join(self.warnings) if self.warnings else None


def _keyed(cases: Sequence[Case]) -> dict[tuple[str, str, int], Case]:
    counts: dict[tuple[str, str], int] = {}
    out: dict[tuple[str, str, int], Case] = {}
    for c in cases:
        base = (c.claim, c.label if c.label else canonical(c.spec))
        k = counts.get(base, 0)
        counts[base] = k + 1
        out[(base[0], base[1], k)] = c
    return out


def _major_minor(v: Any) -> str:
    parts = str(v).split(".")
    return ".".join(parts[:2])


#: machine_info["gradbench"] keys that must agree, and what the warning calls them.
_ENVIRONMENT_KEYS = (
    ("device", "devices"),
    ("torch", "torch versions"),
    ("cuda", "CUDA versions"),
    ("tf32_matmul", "TF32 settings"),
    ("deterministic", "determinism settings"),
)


def sampling_differences(base: Run, new: Run) -> list[tuple[str, Any, Any]]:
    """``(what, base's, new's)`` for the profile and the base seed when the runs differ in
    them: other networks were drawn, so only cases on the same configuration match."""
    b, n = base.gradbench_info, new.gradbench_info
    return [(what, b.get(key), n.get(key))
            for key, what in (("profile", "profiles"), ("base_seed", "base seeds"))
            if b.get(key) != n.get(key)]


def _version_warnings(base: Run, new: Run) -> list[str]:
    out: list[str] = []
    b, n = base.gradbench_info, new.gradbench_info
    bs, ns = b.get("suite_version"), n.get("suite_version")
    if bs is not None and ns is not None and _major_minor(bs) != _major_minor(ns):
        out.append(
            f"suite versions differ ({base.label}: {bs}, {new.label}: {ns}); results are "
            "comparable only within the same major.minor suite version"
        )
    elif (bs is None) != (ns is None):
        out.append(f"suite version known for one run only ({base.label}: {bs}, {new.label}: {ns})")
    for what, bk, nk in sampling_differences(base, new):
        if bk is not None and nk is not None:
            out.append(
                f"{what} differ ({base.label}: {bk}, {new.label}: {nk}): the runs measured "
                "other networks, so only cases on the same configuration match, and their "
                "numbers differ by sampling"
            )
    bv = sorted({str(c) for c in [b.get("schema_version")] if c is not None})
    nv = sorted({str(c) for c in [n.get("schema_version")] if c is not None})
    if bv != nv:
        out.append(
            f"schema versions differ ({base.label}: {', '.join(bv) or '?'}, {new.label}: "
            f"{', '.join(nv) or '?'})"
        )
    return out


def _compat_warnings(base: Run, new: Run) -> list[str]:
    out = _version_warnings(base, new)
    be, ne = base.environment, new.environment
    for key, what in _ENVIRONMENT_KEYS:
        if be.get(key) != ne.get(key):
            out.append(f"{what} differ ({base.label}: {be.get(key)}, {new.label}: {ne.get(key)})")
    bd, nd = base.devices, new.devices
    if bd and nd and bd != nd and be.get("device") == ne.get("device"):
        out.append(
            f"measurement devices differ ({base.label}: {', '.join(bd)}, {new.label}: "
            f"{', '.join(nd)})"
        )
    bt, nt = base.dtypes, new.dtypes
    if bt and nt and bt != nt:
        out.append(f"dtypes differ ({base.label}: {', '.join(bt)}, {new.label}: {', '.join(nt)})")
    return out


def _nan_safe(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _factor(c: Case) -> float:
    return measured_growth(c.measurement).factor if c.measurement is not None else math.nan


def _delta(key: tuple[str, str, int], b: Case, n: Case) -> CaseDelta:
    if b.verdict is None or n.verdict is None:
        return CaseDelta(key, b, n, "same", base_factor=_factor(b), new_factor=_factor(n))
    bv, nv = b.verdict, n.verdict
    status = (
        "regression"
        if bv.passed and not nv.passed
        else "improvement"
        if nv.passed and not bv.passed
        else "same"
    )
    with np.errstate(invalid="ignore"):
        width = (nv.ci_high - nv.ci_low) - (bv.ci_high - bv.ci_low)
    return CaseDelta(
        key=key,
        base=b,
        new=n,
        status=status,
        delta_measured=_nan_safe(nv.measured - bv.measured),
        delta_ci_low=_nan_safe(nv.ci_low - bv.ci_low),
        delta_ci_high=_nan_safe(nv.ci_high - bv.ci_high),
        delta_ci_width=_nan_safe(width),
        base_factor=_factor(b),
        new_factor=_factor(n),
    )


def compare_runs(base: Run, new: Run) -> Comparison:
    """Match the cases of two runs and classify what changed.

    Cases match on ``(claim, label)`` (the canonical spec when there is no label; a
    repeated pair within a run matches by order of appearance). A case that passed in
    ``base`` and fails in ``new`` is a regression, and so is a case only ``new`` has
    that fails (a remedy added to the run that fails its claims); a case that failed
    and passes is an improvement.

    Args:
        base: the reference run.
        new: the run to judge.

    Returns:
        A :class:`Comparison` with the deltas, the unmatched cases, and warnings when the
        suite major.minor versions, schema versions, profiles, base seeds, device, dtype,
        torch/CUDA versions or TF32/determinism settings differ, or when ``new`` is not
        complete (interrupted, recovered from its journal, or with tests that failed outside
        their claims).
    """
    bk, nk = _keyed(base.cases), _keyed(new.cases)
    deltas = [_delta(key, bk[key], nk[key]) for key in sorted(set(bk) & set(nk))]
    added = [nk[k] for k in sorted(set(nk) - set(bk))]
    deltas += [CaseDelta(k, None, c, "regression", new_factor=_factor(c))
               for k, c in zip(sorted(set(nk) - set(bk)), added) if c.status == "fail"]
    order = {"regression": 0, "improvement": 1, "same": 2}
    deltas.sort(key=lambda d: (order[d.status], d.key))
    return Comparison(
        base_label=base.label,
        new_label=new.label,
        deltas=deltas,
        only_base=[bk[k] for k in sorted(set(bk) - set(nk))],
        only_new=[c for c in added if c.status != "fail"],
        warnings=_compat_warnings(base, new) + [
            f"{new.label} is not complete, so what it did not measure may hide regressions: "
            f"{note}" for note in new.notes],
        new_incomplete=bool(new.notes),
    )
