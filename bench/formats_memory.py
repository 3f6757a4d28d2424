"""Measure the peak memory of `claude-logs ingest` on one large page file and one large HAR.

Generates a page file and a HAR capture of many log pages, each about --megabytes MB of
synthetic entries, ingests each into a new database in a child process, and reads the
child's peak resident set size from getrusage(RUSAGE_CHILDREN), the figure that
/usr/bin/time -v reports as "Maximum resident set size".

    python bench/formats_memory.py --megabytes 100

bench/run.py can call measure() and print its rows.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRIES_PER_PAGE = 100
LOGS_URL = "https://console.example.com/api/logs/org_0001?page_size=100&page_index={}"


def _entry(number: int) -> dict:
    return {
        "transport_type": "http",
        "model": ("claude-3-5-sonnet-20240620", "claude-3-haiku-20240307")[number % 2],
        "model_latency": 0.4 + (number % 997) / 331,
        "prompt": "Summarise the ticket below in two sentences. " * (number % 8),
        "response": None,
        "prompt_length": 200 + number % 5000,
        "prompt_token_count": 50 + number % 1200,
        "completion_length": 300,
        "completion_token_count": 60 + number % 400,
        "tags": "{}",
        "error": "None" if number % 20 else
                 '{"client_error":false,"code":529,"detail":"Overloaded"}',
        "request_start_time": f"2024-10-{1 + number // 86400 % 28:02d} "
                              f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:"
                              f"{number % 60:02d}.{number % 1000000:06d}+00:00",
        "request": json.dumps({"max_tokens": 1024, "model": "m", "temperature": 0.7,
                               "metadata": {"user_id": f"user_{number % 50}"}}),
        "workspace_id": f"wrkspc_{number % 7:04d}",
        "api_key_uuid": f"00000000-0000-4000-8000-{number % 13:012d}",
    }


def _pages(target_bytes: int):
    """Yield (index, page JSON bytes) until about target_bytes of pages were made."""
    made = 0
    index = 0
    while made < target_bytes:
        first = index * ENTRIES_PER_PAGE
        page = json.dumps([_entry(n) for n in range(first, first + ENTRIES_PER_PAGE)]).encode()
        made += len(page)
        yield index, page
        index += 1


def write_page_file(path: Path, target_bytes: int) -> int:
    """Write one page (a JSON array) of about target_bytes; return the entry count."""
    count = 0
    with open(path, "wb") as file:
        file.write(b"[")
        for index, page in _pages(target_bytes):
            if index:
                file.write(b",")
            file.write(page[1:-1])
            count += ENTRIES_PER_PAGE
        file.write(b"]")
    return count


def write_har(path: Path, target_bytes: int) -> int:
    """Write a Chromium-shaped HAR of log pages, about target_bytes; return the page count."""
    count = 0
    with open(path, "wb") as file:
        file.write(b'{"log": {"version": "1.2", "creator": {"name": "WebInspector", '
                   b'"version": "537.36"}, "pages": [], "entries": [')
        for index, page in _pages(target_bytes):
            if file.tell() >= target_bytes:
                break
            # Every other page base64-encoded, as browsers do for some responses.
            content = {"size": len(page), "mimeType": "application/json"}
            if index % 2:
                content.update(text=base64.b64encode(page).decode(), encoding="base64")
            else:
                content["text"] = page.decode()
            entry = {
                "_resourceType": "fetch",
                "request": {"method": "GET", "url": LOGS_URL.format(index), "headers": []},
                "response": {"status": 200, "statusText": "", "headers": [], "content": content},
                "timings": {"wait": 100},
            }
            file.write((b"," if index else b"") + json.dumps(entry).encode())
            count += 1
        file.write(b"]}}")
    return count


def _peak_rss_of(command: list[str]) -> tuple[int, float, subprocess.CompletedProcess]:
    """Run command in a child and return its peak RSS in bytes, wall seconds and result.

    Each measurement runs in a fresh helper process, so RUSAGE_CHILDREN reports that one
    child's peak and not an earlier, larger one.
    """
    helper = (
        "import resource, subprocess, sys, time, json\n"
        "start = time.perf_counter()\n"
        "result = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "seconds = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps([peak, seconds, result.returncode, result.stdout, result.stderr]))\n"
    )
    # NOTE: ru_maxrss is in kilobytes on Linux and in bytes on macOS; this assumes Linux.
    output = subprocess.run([sys.executable, "-c", helper, *command],
                            capture_output=True, text=True, check=True).stdout
    peak, seconds, code, stdout, stderr = json.loads(output)
    return peak, seconds, subprocess.CompletedProcess(command, code, stdout, stderr)


def measure(megabytes: int = 100, workdir: Path | None = None) -> list[dict]:
    """Generate both inputs and measure ingesting each; return one dict per input."""
    claude_logs = [sys.executable, "-m", "ingest"]
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        folder = Path(folder)
        page_path = folder / "page.json"
        har_path = folder / "capture.har"
        inputs = [
            ("page file", page_path, f"{write_page_file(page_path, megabytes * 2**20):,} entries"),
            ("HAR capture", har_path, f"{write_har(har_path, megabytes * 2**20):,} log pages"),
        ]
        for label, path, contents in inputs:
            db = folder / f"{path.stem}.db"
            peak, seconds, result = _peak_rss_of([*claude_logs, "ingest", str(db), str(path)])
            if result.returncode != 0:
                raise RuntimeError(f"ingest of the {label} failed: {result.stderr.strip()}")
            rows.append({
                "input": label,
                "size_mb": round(path.stat().st_size / 2**20, 1),
                "contents": contents,
                "peak_rss_mb": round(peak / 2**20, 1),
                "seconds": round(seconds, 1),
                "summary": result.stdout.strip(),
            })
    return rows


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100,
                        help="size of each generated input in MB (default: 100)")
    parser.add_argument("--limit-mb", type=float, default=150,
                        help="fail when a peak RSS exceeds this many MB (default: 150)")
    args = parser.parse_args()

    print(f"machine: {machine()}; date: {time.strftime('%Y-%m-%d')}")
    rows = measure(args.megabytes)
    for row in rows:
        print(f"{row['input']}: {row['size_mb']} MB ({row['contents']}), "
              f"peak RSS {row['peak_rss_mb']} MB, {row['seconds']} s; {row['summary']}")
    over = [row for row in rows if row["peak_rss_mb"] > args.limit_mb]
    if over:
        sys.exit(f"peak RSS above {args.limit_mb} MB for: {', '.join(r['input'] for r in over)}")


if __name__ == "__main__":
    main()
