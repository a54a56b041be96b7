"""`python -m sidecar` runs the `apex` command line."""

from sidecar.cli import main

raise SystemExit(main())
