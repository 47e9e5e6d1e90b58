"""``python -m gradbench`` is the ``gradbench`` command."""

from gradbench.cli import main

raise SystemExit(main())
