"""`python -m benchmarks`: the latency suite (same options as `apex bench`)."""

import sys

from benchmarks.cli import main

sys.exit(main())
