"""energymobile: oil-rig hydraulic test logs as quarterly Dagster partitions."""
