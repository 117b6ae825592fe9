"""``python -m hartrace`` (also what ``torchrun -m hartrace`` runs)."""

from hartrace.cli import main

raise SystemExit(main())
