"""``gradbench validate pkg.mod:obj``: the suites, with a candidate remedy substituted.

Validation is not a second battery: it runs the same suite tests ``gradbench run``
runs, restricted to the candidate's kind, with the remedy set to the candidate and
the built-in baselines of its kind (:data:`gradbench.suite.BASELINES`), on the same
configurations and seeds, through the same claims (:mod:`gradbench.claims`). The
JSON and HTML it writes are a normal run's, and the exit code is derived from the
verdicts recorded there for the candidate:

* 0: every claim that applies to the candidate holds;
* 1: one fails: a declared property that does not hold (a variance, an invariance, a
  first-step formula), a backward inconsistent with the forward, a measurement
  contradicting the theory computed for that very remedy, or a remedy that is stable
  in no standard setting (``stable_somewhere``) or not where it declares
  (``stable_as_declared``);
* 2: bad input (the target cannot be imported, its kind is unknown) or nothing ran.

A block factory (kind ``block``, ``factory(width, *, layer, depth, generator) ->
nn.Module``) is not run through the suites: :func:`gradbench.blocks.validate_block` stacks
it over depths and seeds beside its baselines and writes the same results file, with the
same exit codes (docs/blocks.md §5).

With nothing declared the candidate meets every standard claim of its kind; what it
declares (``gradbench_meta``, ``gradbench_claims``; see :mod:`gradbench.candidate`)
adds the claims that check the declaration, or narrows the run to the claims named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gradbench import storage
from gradbench.errors import InvalidArgument, choices_hint
from gradbench.records import Verdict
from gradbench.runner import EXIT_BY_SIGNAL, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from gradbench.summary import Tally, tally


@dataclass(frozen=True)
class ValidationResult:
    """What :func:`validate` found (everything is also in the JSON it wrote).

    Attributes:
        target: what was asked for (import path or registered name).
        kind: the remedy kind.
        name: the registry name of the candidate.
        profile: the profile name.
        pytest_exit: pytest's exit status.
        tallies: per remedy (candidate first) and claim, passed / total cases.
        failures: the candidate's failed verdicts (one per failing configuration kept:
            the shrunk one of each claim).
        json_path, html_path: the files written.
        notes: what a reader must be told about the run (an incomplete run).
        unverdicted: tests that failed with no failed verdict to account for it (node ids):
            they raised outside their claims, so what they measure may be missing and the
            candidate is not validated (exit 1; the run's note names them).
        summary: what was measured, for the terminal (the block kind's depth laws and
            the candidate against its baselines, :func:`gradbench.blocks.summary_lines`).
        stopped_by: ``"KeyboardInterrupt"`` or ``"SIGTERM"`` when a signal stopped the run
            (exit 130 or 143, as ``gradbench run``), else ``None``.
    """

    target: str
    kind: str
    name: str
    profile: str
    pytest_exit: int
    tallies: tuple[Tally, ...]
    failures: tuple[Verdict, ...] = ()
    json_path: str | None = None
    html_path: str | None = None
    notes: tuple[str, ...] = field(default=())
    unverdicted: tuple[str, ...] = field(default=())
    summary: tuple[str, ...] = field(default=())
    stopped_by: str | None = None

    @property
    def candidate_cases(self) -> int:
        """Number of cases recorded for the candidate."""
        return sum(t.total for t in self.tallies if t.origin == "candidate")

    @property
    def failed_claims(self) -> int:
        """Claims the candidate fails."""
        return len(self.failed_claim_names)

    @property
    def failed_claim_names(self) -> tuple[str, ...]:
        """The names of the claims the candidate fails, in the order of :attr:`tallies`."""
        return tuple(t.claim for t in self.tallies if t.origin == "candidate" and t.failed)

    @property
    def exit_code(self) -> int:
        """0 all candidate claims hold, 1 one fails or a test failed outside its claims, 2
        nothing ran or pytest hit a usage error, 130/143 stopped by Ctrl-C/SIGTERM."""
        if self.stopped_by is not None:
            return EXIT_BY_SIGNAL[self.stopped_by]
        if self.pytest_exit in (2, 3, 4):
            return EXIT_USAGE
        if self.failures or self.unverdicted:
            return EXIT_FAILED
        return EXIT_USAGE if self.candidate_cases == 0 else EXIT_OK

    def closing(self) -> str:
        """The lines after the run: the candidate's verdict, counted by claim, and the files."""
        cases = f"{self.candidate_cases} case{'s' * (self.candidate_cases != 1)}"
        if self.exit_code == EXIT_OK:
            verdict = f"every claim holds ({cases})"
        elif self.failures:
            verdict = (f"{self.failed_claims} claim{'s' * (self.failed_claims != 1)} failed "
                       f"in {len(self.failures)} of {cases}: {', '.join(self.failed_claim_names)}")
        elif self.exit_code == EXIT_FAILED:
            verdict = f"not validated ({cases} recorded)"
        elif self.stopped_by is not None:
            verdict = f"not validated: interrupted ({cases} recorded)"
        else:
            verdict = "nothing was validated"
        lines = [*self.summary, *self.notes,
                 f"gradbench validate: candidate {self.name!r} ({self.kind}): {verdict} "
                 f"(exit code {self.exit_code})"]
        if self.json_path:
            lines.append(f"gradbench: results {self.json_path}")
        if self.html_path:
            lines.append(f"gradbench: report  {self.html_path}")
        return "\n".join(lines)

    def format_table(self) -> str:
        """The claims x remedies table, each candidate failure explained, and :meth:`closing`."""
        from gradbench.claims import explain
        from gradbench.summary import table

        head = (f"gradbench validate {self.target} (kind {self.kind}, registered as "
                f"{self.name!r}, profile {self.profile})")
        return "\n".join([head, "", *table(self.tallies), "",
                          *(explain(v) for v in self.failures), self.closing()])


def result_from_results(results: storage.Results, target: str, profile: str,
                        pytest_exit: int) -> ValidationResult:
    """Tally the candidate's and the baselines' verdicts of a run's results."""
    run = results.run.extra if results.run is not None else {}
    kind, name = (run.get("candidate") or [None, None])
    cases = [c for c in results.records if c.remedy is not None and c.remedy.get("kind") == kind]
    failures = tuple(Verdict.from_dict(c.verdict or {}) for c in cases
                     if c.failed and c.remedy and c.remedy.get("origin") == "candidate")
    return ValidationResult(target, str(kind), str(name), profile, pytest_exit,
                            tuple(tally(cases)), failures, notes=tuple(results.notes))


def validate(
    target: str,
    kind: str | None = None,
    profile: str = "quick",
    out_dir: str | Path = "reports",
    base_seed: int = 0,
    suites: str | None = None,
    pytest_args: Sequence[str] = (),
    devices: str = "cpu",
    plugin_args: Sequence[str] = (),
    depth: int | None = None,
    baselines: Sequence[str] = (),
) -> ValidationResult:
    """Run the suites with ``target`` substituted for the remedies of its kind.

    Args:
        target: ``"pkg.module:object"``, or the name of a registered remedy.
        kind: the remedy kind, when it cannot be inferred (``gradbench.registry.KINDS``).
        profile: ``"quick"`` or ``"full"``.
        out_dir: folder for ``NNNN_validate-<name>.json`` and ``.html``.
        base_seed: base seed every network and draw derives from.
        suites: the suites folder (default: the installed gradbench suites).
        pytest_args: pytest arguments as typed (``-k``, ``-x``, ``-n 2`` ...).
        devices: comma-separated devices, e.g. ``"cpu,cuda"`` (claims measured on a device
            run on each; the others once, on the CPU; a block is measured on each).
        plugin_args: further ``--gradbench-*`` options (``--gradbench-tf32=off`` ...).
        depth: depth the stability claims judge the candidate at (default 30); the other
            cases are unchanged. For a block: the deepest of the depth grid is
            ``max(64, depth)``.
        baselines: for a block only, factories (import paths) to measure beside it
            instead of the built-in baselines (:data:`gradbench.blocks.BASELINES`).

    Returns:
        A :class:`ValidationResult`; its :attr:`~ValidationResult.exit_code` is the CLI's.

    Raises:
        InvalidArgument: the target cannot be imported or its kind told, it declares an
            unknown or inapplicable claim, or the run wrote no results.

    Examples:
        >>> validate("torch.nn.init:kaiming_normal_").exit_code  # doctest: +SKIP
        0
    """
    from gradbench.candidate import check_target
    from gradbench.profiles import get_profile
    from gradbench.runner import run_suites

    get_profile(profile)
    if is_block(target, kind):
        from gradbench.blocks import validate_block
        from gradbench.devices import parse_devices

        ignored = [*pytest_args, *(["--suites", str(suites)] if suites is not None else [])]
        if ignored:
            raise InvalidArgument(
                f"{' '.join(ignored)!r} does not apply to the block {target!r}: a block is "
                "measured without the suites or pytest (docs/blocks.md §5); leave it out")

        return validate_block(target, baselines=baselines, profile=profile,  # type: ignore[no-any-return]
                              out_dir=out_dir, base_seed=base_seed, depth=depth,
                              devices=parse_devices(devices))
    if baselines:
        raise InvalidArgument(f"--baseline applies to blocks only (--kind block), not to "
                              f"{target!r}")
    if depth is not None:
        from gradbench.claims.stability import stability_depth

        stability_depth(depth)
    kind, name = check_target(target, kind)  # one sentence for a bad target, here
    if depth is not None:
        from gradbench.claims.stability import SLOTS

        if kind not in SLOTS:
            raise InvalidArgument(
                f"--depth sets the depth the stability claims judge a remedy at, and no "
                f"stability claim judges {kind}s; --depth applies to: "
                f"{', '.join(sorted([*SLOTS, 'block']))}")
    run = run_suites(
        name=f"validate-{storage.safe_name(name)}", extra=pytest_args, profile=profile,
        devices=devices, base_seed=base_seed, suites=suites, out_dir=out_dir,
        plugin_args=[f"--gradbench-candidate={target}", f"--gradbench-candidate-kind={kind}",
                     *plugin_args],
        depth=depth,
    )
    if run.json_path is None:
        why = run.problem or (
            f"no test was selected by {' '.join(pytest_args)!r}" if run.pytest_exit == 5
            else f"pytest exit status {run.pytest_exit}")
        raise InvalidArgument(f"the validation run of {target!r} wrote no results ({why})")
    result = result_from_results(storage.load(run.json_path), target, profile, run.pytest_exit)
    return dataclasses.replace(result, json_path=str(run.json_path),
                               html_path=str(run.html_path) if run.html_path else None,
                               unverdicted=tuple(run.outcome.unverdicted),
                               stopped_by=run.outcome.stopped_by)


def is_block(target: str, kind: str | None) -> bool:
    """Whether ``target`` is validated as a block: ``kind == "block"``, or no kind given
    and the object has the factory signature (:func:`gradbench.blocks.is_block_factory`)."""
    from gradbench import registry

    if kind is not None and kind != "block" and kind not in registry.KINDS:
        raise InvalidArgument(f"kind={kind!r} is unknown; "
                              f"{choices_hint(kind, [*registry.KINDS, 'block'])}")
    if kind is not None or ":" not in target:
        return kind == "block"
    from gradbench.blocks import is_block_factory

    return is_block_factory(registry.import_object(target))


__all__ = ["Tally", "ValidationResult", "is_block", "result_from_results", "validate"]
