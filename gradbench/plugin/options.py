"""The ``--gradbench-*`` options and ``gradbench_*`` ini keys, parsed once into :class:`Settings`.

Every option defaults to ``None`` on the command line and in the ini file, so "was
gradbench asked for?" (:func:`requested`) is a plain check, and the defaults below
apply only when a value is read. A feature module that adds an option of its own
should do the same (``default=None``), so asking for it also puts gradbench in use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradbench.devices import CHOICES as DEVICE_CHOICES
from gradbench.devices import parse_devices
from gradbench.errors import InvalidArgument
from gradbench.profiles import PROFILES, Profile, get_profile
from gradbench.shards import Shard, parse_shard


@dataclass(frozen=True)
class Option:
    """One ``--gradbench-<name>`` option, mirrored as the ini key ``gradbench_<name>``."""

    name: str
    default: str
    help: str

    @property
    def dest(self) -> str:
        return "gradbench_" + self.name.replace("-", "_")


OPTIONS = (
    Option("profile", "quick", f"work profile: {', '.join(PROFILES)} (default quick)"),
    Option("seeds", "", "override the profile's number of networks per configuration"),
    Option("devices", "cpu", "comma-separated devices to measure on, e.g. cpu,cuda (default cpu)"),
    Option("base-seed", "0", "base seed every network seed is derived from (default 0)"),
    Option("json", "", "write the results (pytest-benchmark JSON layout) to this file"),
    Option("save", "", "write the results as STORAGE/NNNN_<this name>.json, NNNN the next "
           "free number (exclusive; like --benchmark-save)"),
    Option("storage", "reports", "folder of --gradbench-save results (default reports)"),
    Option("report", "", "also render the results as HTML: a path, or 'auto' for the results "
           "file's name with .html"),
    Option("progress", "off", "on: a line per finished test with cases, failed claims, elapsed"),
    Option("candidate", "", "validate this remedy (pkg.module:object or a registered name): "
           "only the suites of its kind run, with it and the baselines of its kind"),
    Option("candidate-kind", "", "the candidate's kind, when it cannot be inferred"),
    Option("tf32", "", "on/off: allow TF32 in CUDA matmuls and cuDNN convolutions "
           "(default: torch's own setting)"),
    Option("deterministic", "", "on/off: torch.use_deterministic_algorithms (default: "
           "torch's own setting)"),
    Option("depth", "", "depth of the stability settings (stable_as_declared, "
           "stable_somewhere), 2 to 200 (default 30); the cases Hypothesis draws are unchanged"),
    Option("shard", "", "K/N: run shard K of the selected tests split N ways (deterministic, "
           "balanced by the suites' durations.json); merge with `gradbench merge`"),
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Settings:
    """The session's gradbench configuration, validated.

    Attributes:
        profile: the work profile (``--gradbench-seeds`` applied).
        base_seed: base seed of every network.
        devices: devices to measure on.
        json_path: explicit results file (``--gradbench-json``), or ``None``.
        save: name of numbered results in ``storage`` (``--gradbench-save``), or ``None``.
        storage: folder of numbered results.
        report: HTML path, ``"auto"`` (beside the results file) or ``None``.
        progress: print a line per finished test.
        candidate: the remedy under validation (``--gradbench-candidate``), or ``None``.
        candidate_kind: its kind, when given.
        remedies: further remedies to cover (``--gradbench-remedy``, repeatable).
        tf32: allow TF32 (``--gradbench-tf32``), or ``None`` for torch's setting.
        deterministic: deterministic algorithms (``--gradbench-deterministic``), or ``None``.
        depth: depth of the stability settings (``--gradbench-depth``), or ``None`` (the
            claims' own, 30).
        shard: the shard of the selection this session runs (``--gradbench-shard``), or
            ``None`` for all of it.
    """

    profile: Profile
    base_seed: int = 0
    devices: tuple[str, ...] = ("cpu",)
    json_path: Path | None = None
    save: str | None = None
    storage: Path = Path("reports")
    report: str | None = None
    progress: bool = False
    candidate: str | None = None
    candidate_kind: str | None = None
    remedies: tuple[str, ...] = ()
    tf32: bool | None = None
    deterministic: bool | None = None
    depth: int | None = None
    shard: Shard | None = None

    @property
    def writes_results(self) -> bool:
        """Whether the run writes a results file."""
        return self.json_path is not None or self.save is not None


def add_options(parser: pytest.Parser) -> None:
    """Register every option and its ini key (both default ``None``)."""
    group = parser.getgroup("gradbench", "gradient-flow benchmark suite")
    for opt in OPTIONS:
        group.addoption(f"--gradbench-{opt.name}", dest=opt.dest, default=None, help=opt.help)
        parser.addini(opt.dest, opt.help, default=None)
    group.addoption("--gradbench-remedy", dest="gradbench_remedy", action="append",
                    default=None, metavar="PKG.MOD:OBJ",
                    help="also cover this remedy (not packaged yet); repeatable")


def _given(config: pytest.Config, dest: str) -> str | None:
    """The option's value from the command line, else the ini file, else ``None``."""
    value = config.getoption(dest, None)
    if value is None:
        try:
            value = config.getini(dest)
        except ValueError:  # an option some feature added without an ini key
            value = None
    if value is None or (isinstance(value, (str, list)) and not value):
        return None
    return str(value)


def requested(config: pytest.Config) -> str | None:
    """Why gradbench was asked for explicitly (a ``--gradbench-*`` option or ini key, or a
    ``gradbench-*`` Hypothesis profile), or ``None``; the way Hypothesis's own plugin
    decides whether to act."""
    for dest in sorted(k for k in vars(config.option) if k.startswith("gradbench_")):
        if _given(config, dest) is not None:
            return f"--{dest.replace('_', '-')}"
    profile = config.getoption("hypothesis_profile", None)
    if isinstance(profile, str) and profile.startswith("gradbench-"):
        return f"--hypothesis-profile={profile}"
    return None


def _value(config: pytest.Config, opt: Option) -> str:
    given = _given(config, opt.dest)
    return (given if given is not None else opt.default).strip()


def _int(config: pytest.Config, opt: Option) -> int | None:
    text = _value(config, opt)
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise pytest.UsageError(
            f"--gradbench-{opt.name}={text!r} is invalid: must be a non-negative integer"
        )
    return value


def _switch(config: pytest.Config, opt: Option) -> bool | None:
    """An on/off option: ``True``, ``False``, or ``None`` when neither given nor defaulted."""
    text = _value(config, opt).lower()
    if text not in ("on", "off", ""):
        raise pytest.UsageError(
            f"--gradbench-{opt.name}={text!r} is invalid; valid choices: on, off"
        )
    return None if not text else text == "on"


def parse(config: pytest.Config) -> Settings:
    """Read and validate every option (one sentence per bad value, as a UsageError)."""
    opts = {opt.name: opt for opt in OPTIONS}
    try:
        profile = get_profile(_value(config, opts["profile"]))
    except InvalidArgument as exc:
        raise pytest.UsageError(f"--gradbench-profile: {exc}") from None
    seeds = _int(config, opts["seeds"])
    if seeds is not None:
        if seeds < 2:
            raise pytest.UsageError(f"--gradbench-seeds={seeds} is invalid: must be >= 2")
        profile = Profile(**{**profile.__dict__, "seeds": seeds})
    text = _value(config, opts["devices"])
    try:
        devices = parse_devices(text)
    except InvalidArgument:
        raise pytest.UsageError(
            f"--gradbench-devices={text!r} is invalid; valid choices: {DEVICE_CHOICES}"
        ) from None
    progress, tf32, deterministic = (_switch(config, opts[name])
                                     for name in ("progress", "tf32", "deterministic"))
    json_path, save = _value(config, opts["json"]) or None, _value(config, opts["save"]) or None
    if json_path and save:
        raise pytest.UsageError(
            "--gradbench-json and --gradbench-save are exclusive: give a file, or a name "
            "for numbered results"
        )
    if json_path and not json_path.endswith(".json"):  # it was written to PATH.json
        raise pytest.UsageError(f"--gradbench-json={json_path!r} is invalid: the results file "
                                "must end in .json")
    if save and not _NAME.match(save):
        raise pytest.UsageError(
            f"--gradbench-save={save!r} is invalid: use letters, digits, '_', '-' and '.'"
        )
    report = _value(config, opts["report"]) or None
    shard_text = _value(config, opts["shard"])
    try:
        shard = parse_shard(shard_text, "--gradbench-shard") if shard_text else None
    except InvalidArgument as exc:
        raise pytest.UsageError(str(exc)) from None
    if report and not (json_path or save):
        raise pytest.UsageError(
            f"--gradbench-report={report!r} needs --gradbench-json or --gradbench-save "
            "(the report is rendered from the results file)"
        )
    depth = _int(config, opts["depth"])
    if depth is not None:
        from gradbench.claims.stability import stability_depth

        try:
            stability_depth(depth)
        except InvalidArgument as exc:
            raise pytest.UsageError(f"--gradbench-{exc}") from None
    return Settings(
        profile=profile,
        base_seed=_int(config, opts["base-seed"]) or 0,
        devices=devices,
        json_path=Path(json_path) if json_path else None,
        save=save,
        storage=Path(_value(config, opts["storage"]) or "reports"),
        report=report,
        progress=bool(progress),
        candidate=_value(config, opts["candidate"]) or None,
        candidate_kind=_value(config, opts["candidate-kind"]) or None,
        remedies=tuple(config.getoption("gradbench_remedy", None) or ()),
        tf32=tf32,
        deterministic=deterministic,
        depth=depth,
        shard=shard,
    )
