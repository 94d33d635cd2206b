"""``python -m benchmarks``: run the API-call budget scenarios and print the table and the checks."""

from benchmarks.cli import main

raise SystemExit(main())
