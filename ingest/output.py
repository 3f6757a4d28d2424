"""Format query results as an aligned table, JSON or CSV for the command line."""

from __future__ import annotations

import csv
import io
import json

from tabulate import tabulate


def format_rows(columns: list[str], rows: list[tuple], output_format: str) -> str:
    """Return the rows as text in "table", "json" (an array of objects) or "csv" format."""
    if output_format == "json":
        objects = [dict(zip(columns, row)) for row in rows]
        return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue()
    # tabulate would round floats to six significant digits; repr keeps the stored value.
    cells = [[repr(value) if type(value) is float else value for value in row] for row in rows]
    return tabulate(cells, headers=columns, tablefmt="simple", disable_numparse=True,
                    missingval="") + "\n"
