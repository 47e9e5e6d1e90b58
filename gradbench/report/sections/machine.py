"""Machine and versions: what each run was measured with, side by side."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gradbench.report.model import Run
from gradbench.report.page import Page, Section

#: The rows of the side-by-side table: name, flattened key (``None``: the file path).
KEYS = (
    ("file", None),
    ("gradbench", "gradbench.version"),
    ("suite version", "gradbench.suite_version"),
    ("schema version", "gradbench.schema_version"),
    ("profile", "gradbench.profile"),
    ("base seed", "gradbench.base_seed"),
    ("datetime", "datetime"),
    ("pytest-benchmark", "version"),
    ("torch", "machine.gradbench.torch"),
    ("device", "machine.gradbench.device"),
    ("CUDA", "machine.gradbench.cuda"),
    ("cuDNN", "machine.gradbench.cudnn"),
    ("TF32 matmul", "machine.gradbench.tf32_matmul"),
    ("deterministic", "machine.gradbench.deterministic"),
    ("dtypes", "dtypes"),
    ("python", "machine.python_version"),
    ("platform", "machine.platform"),
    ("CPU", "machine.cpu.brand_raw"),
    ("node", "machine.node"),
    ("commit", "commit.id"),
    ("branch", "commit.branch"),
    ("dirty", "commit.dirty"),
)


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for k in sorted(obj, key=str):
            out += _flatten(obj[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list) and len(obj) > 12:
        out.append((prefix, f"[{len(obj)} items]"))
    elif obj is None:  # recorded as absent (CUDA on a CPU-only machine): not JSON's "null"
        out.append((prefix, "none"))
    else:
        text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, default=str)
        out.append((prefix, text))
    return out


def run_fields(r: Run) -> dict[str, str]:
    """Everything recorded about a run, flattened to ``dotted.key -> text``."""
    flat = dict(_flatten(r.gradbench_info, "gradbench"))
    flat.update(_flatten(r.machine_info, "machine"))
    flat.update(_flatten(r.commit_info, "commit"))
    flat["datetime"] = r.datetime
    flat["version"] = r.version
    flat["dtypes"] = ", ".join(r.dtypes)
    return flat


def _context(page: Page) -> Mapping[str, Any]:
    fields = [run_fields(r) for r in page.runs]
    rows = []
    for name, key in KEYS:
        values = (
            [str(r.path) for r in page.runs] if key is None else [f.get(key, "") for f in fields]
        )
        if any(values):
            rows.append((name, values, key is not None and len(set(values)) > 1))
    recorded = [(r, [(k, v) for k, v in sorted(f.items()) if v]) for r, f in zip(page.runs, fields)]
    return {"rows": rows, "recorded": recorded}


SECTION = Section(
    "machine", "Machine and versions", _context, template="machine.html.j2", nav="Machine"
)
