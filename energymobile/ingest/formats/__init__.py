"""The formats a cohort may be delivered in, and which one a folder holds.

- `tsv` (per_channel.py): 17 `<CODE>.txt`, tab-separated, no header; the rig's own export.
- `csv` (csv.py): 17 `<CODE>.csv`, comma-separated, a header `<CODE>_1,…,<CODE>_<n>`.
- `jsonl` (jsonl.py): one `cycles.jsonl`, a JSON object per cycle.

All three are judged by the same rules and give the same reductions for the same values;
detect.py tells them apart by file names. See docs/formats.md.
"""

from energymobile.ingest.formats.base import (
    ChannelRead,
    DeliveryFormat,
    cohort_file,
    cohort_folder,
    delivered_files,
    delivered_name,
    part_name,
)
from energymobile.ingest.formats.csv import CSV
from energymobile.ingest.formats.detect import (
    DEFAULT_FORMAT,
    FORMAT_BY_NAME,
    FORMATS,
    Detection,
    delivery_format,
    detect,
)
from energymobile.ingest.formats.jsonl import JSONL, JSONL_NAME
from energymobile.ingest.formats.per_channel import TSV

__all__ = [
    "CSV",
    "DEFAULT_FORMAT",
    "FORMATS",
    "FORMAT_BY_NAME",
    "JSONL",
    "JSONL_NAME",
    "TSV",
    "ChannelRead",
    "DeliveryFormat",
    "Detection",
    "cohort_file",
    "cohort_folder",
    "delivered_files",
    "delivered_name",
    "delivery_format",
    "detect",
    "part_name",
]
