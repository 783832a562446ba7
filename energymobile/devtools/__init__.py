"""Tools for developers, tests and benchmarks; never imported by the pipeline itself."""
