"""`python -m energymobile.instance`: print or write a shipped dagster.yaml."""

from energymobile.instance import main

raise SystemExit(main())
