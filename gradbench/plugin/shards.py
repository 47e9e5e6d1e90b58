"""``--gradbench-shard K/N``: this session runs shard K of the selection (:mod:`gradbench.shards`).

The split happens after everything else has selected (``-k``, ``-m``, ``--lf``, a
validation's kind): every shard of one command sees the same selection, and each test
goes to one shard, weighed by the suites' ``durations.json``. The shard's record (its
``K/N`` and the digest of the whole selection) goes into the run block of its results;
under pytest-xdist the workers collect, so it reaches the controller with their output.
"""

from __future__ import annotations

from typing import Any

import pytest

from gradbench.plugin import state

_WORKER_OUTPUT = "gradbench_shard"


@pytest.hookimpl(trylast=True)  # after -k/-m, --lf and the candidate's kind deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests of this shard; note the shard's record."""
    session = state.get(config)
    shard = session.settings.shard
    if shard is None:
        return
    from gradbench.shards import assign, load_durations, shard_record, split_id

    durations: dict[str, float] = {}
    for root in session.suites_roots:
        durations.update(load_durations(root))
    ids = [split_id(session, item) for item in items]
    where = assign(ids, shard.count, durations)
    keep = [item for item, k in zip(items, where) if k == shard.index]
    drop = [item for item, k in zip(items, where) if k != shard.index]
    session.shard = shard_record(shard, ids, len(keep))
    if state.is_worker(config):
        config.workeroutput[_WORKER_OUTPUT] = session.shard  # type: ignore[attr-defined]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller of an xdist run learns the shard's record from a worker."""
    record = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT)
    if record is not None:
        state.get(node.config).shard = record
