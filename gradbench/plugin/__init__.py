"""gradbench's pytest plugin (entry point ``pytest11: gradbench = "gradbench.plugin"``).

Split the way pytest-benchmark splits its own, one job per module:

=========================== ==========================================================
``options``                 ``--gradbench-*`` options and ini keys -> :class:`Settings`
``state``                   the session's state in ``config.stash``; :func:`use_gradbench`
``hypothesis_profiles``     ``gradbench-*`` Hypothesis profiles (only when in use)
``hookspec``                ``pytest_gradbench_update_machine_info`` / ``_update_json``
``devices``                 which devices a test runs on; ``cuda`` pinned per xdist worker
``interrupts``              SIGTERM/Ctrl-C as interrupts that keep every finished report
``core``                    hooks: options, markers, state, "in use" by request
``fixtures``                hooks: ``gradbench_config``/``_device``/``_record``, markers
``recording``               hooks: cases to the controller, journal, results, summary
``progress``                hooks: ``--gradbench-progress`` lines
``remedies``                hooks: (remedy, claim) over the registry, the candidate, ``run_claim``
``benchmark``               hooks: gradbench's blocks in pytest-benchmark's own JSON
``shards``                  hooks: ``--gradbench-shard K/N`` keeps shard K of the selection
=========================== ==========================================================

The modules in :data:`FEATURES` hold hooks and are registered by pytest as plugins of
their own (through ``pytest_plugins``), so a new feature (a parametrization over the
remedy registry, an option of its own) is one more module in that list; hook modules
import only the helper modules (``options``, ``state``, ...), never each other.
Storage (numbering, journal) is :mod:`gradbench.storage`; the records written are
:mod:`gradbench.records`.

Installed, the plugin registers its options, ini keys, markers and fixtures and does
nothing else until gradbench is in use (:func:`use_gradbench`): it imports neither
torch nor NumPy nor Hypothesis before then.
"""

from __future__ import annotations

from gradbench.plugin.state import use_gradbench

FEATURES = [
    "gradbench.plugin.core",
    "gradbench.plugin.fixtures",
    "gradbench.plugin.recording",
    "gradbench.plugin.progress",
    "gradbench.plugin.benchmark",
    "gradbench.plugin.remedies",
    "gradbench.plugin.shards",
]
pytest_plugins = FEATURES

__all__ = ["FEATURES", "use_gradbench"]
