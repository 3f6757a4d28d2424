"""Benchmark claude-logs against the combine-then-jq workflow on the same generated pages.

Every step runs in its own process, at least --runs times. The report gives the median wall
time, the median CPU time and the peak RSS (the largest over the runs, from wait4). Steps:

- baseline: bench/baseline_combine.py over the pages, then each jq question on its output;
- ours: `claude-logs ingest` into a new database, the same command again with nothing changed,
  and again after 1% more pages (the newest ones, held back until then) arrive;
- every canned query in queries/*.sql, through the sqlite3 module and Datasette's JSON API.

Usage: python bench/run.py --entries N [--runs 3] [--seed 1] [--output docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from baseline_combine import JQ_QUESTIONS  # noqa: E402
from generate import MODELS, generate  # noqa: E402

# The model the jq questions and the canned queries filter on: the most requested one.
MODEL = max(MODELS, key=lambda model: model[1])[0]
PROMPT_TOKEN_BOUND = "10"
HELD_BACK_FRACTION = 0.01

# Text below this line in the output file is kept when the benchmark rewrites the file.
NOTES_MARKER = "<!-- Notes below this line are kept when bench/run.py rewrites the file. -->"


@dataclass
class Step:
    name: str
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else math.nan

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else math.nan

    @property
    def peak_mb(self) -> float:
        return max(self.rss_kb) / 1024 if self.rss_kb else math.nan


def run_measured(command: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float, int]:
    """Run command and return (wall seconds, CPU seconds, peak RSS in KiB).

    CPU time is user plus system time of the process and the children it waited for, such as
    the ingest's worker. Peak RSS is the largest of theirs, not their sum.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
    # wait4 gives this child's own resource usage, unlike getrusage(RUSAGE_CHILDREN), which
    # keeps the maximum over every child so far.
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        message = process.stderr.read().decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"{' '.join(command[:3])} ... failed: {message[-1] if message else ''}")
    process.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def move_all(source: Path, target: Path) -> None:
    for file in sorted(source.glob("*.json")):
        file.rename(target / file.name)


class Bench:
    def __init__(self, args):
        self.args = args
        self.data = Path(args.data) / f"entries-{args.entries}-seed-{args.seed}"
        self.pages = self.data / "pages"
        self.later = self.data / "later"
        self.database = self.data / "logs.db"
        self.combined = self.data / "combined_logs.json"
        self.steps: dict[str, Step] = {}
        self.queries: list[dict] = []
        self.counts: dict = {}
        self.load = (os.getloadavg()[0], math.nan)
        self.claude_logs = str(Path(sys.executable).parent / "claude-logs")

    def log(self, message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    def step(self, name: str) -> Step:
        return self.steps.setdefault(name, Step(name))

    def measure(self, name: str, command: list[str], stdout=subprocess.DEVNULL) -> float:
        elapsed, cpu, rss = run_measured(command, stdout)
        step = self.step(name)
        step.seconds.append(elapsed)
        step.cpu_seconds.append(cpu)
        step.rss_kb.append(rss)
        self.log(f"{name}: {elapsed:.2f} s, CPU {cpu:.2f} s, {rss / 1024:.0f} MB, "
                 f"load {os.getloadavg()[0]:.1f}")
        return elapsed

    # Data

    def prepare_data(self) -> None:
        manifest = self.data / "generated.json"
        if manifest.exists():
            self.counts = json.loads(manifest.read_text())
            self.later.mkdir(exist_ok=True)
            move_all(self.later, self.pages)
            self.log(f"reusing {self.pages}")
        else:
            shutil.rmtree(self.data, ignore_errors=True)
            self.log(f"generating {self.args.entries:,} entries into {self.pages}")
            self.counts = generate(self.pages, self.args.entries, self.args.seed,
                                   self.args.overlap)
            manifest.write_text(json.dumps(self.counts))
            self.later.mkdir()
        files = sorted(self.pages.glob("*.json"))
        self.counts["bytes"] = sum(file.stat().st_size for file in files)
        held_back = files[-math.ceil(len(files) * HELD_BACK_FRACTION):]
        for file in held_back:
            file.rename(self.later / file.name)
        self.counts["held_back_files"] = len(held_back)

    # Steps

    def baseline(self) -> None:
        script = str(BENCH / "baseline_combine.py")
        for _ in range(self.args.runs):
            self.combined.unlink(missing_ok=True)
            self.measure("baseline combine", [sys.executable, script, str(self.pages),
                                              str(self.combined)])
        for question, program in JQ_QUESTIONS.items():
            for _ in range(self.args.runs):
                self.measure(f"jq: {question}",
                             ["jq", program.format(model=MODEL), str(self.combined)])
        self.combined.unlink(missing_ok=True)

    def ingest(self) -> None:
        command = [self.claude_logs, "ingest", str(self.database), str(self.pages), "--silent"]
        for run in range(self.args.runs):
            remove_database(self.database)
            self.measure("ingest: first run", command)
            self.measure("ingest: nothing changed", command)
            move_all(self.later, self.pages)
            self.measure("ingest: 1% new pages", command)
            if run + 1 < self.args.runs:
                for name in sorted(os.listdir(self.pages))[-self.counts["held_back_files"]:]:
                    (self.pages / name).rename(self.later / name)

    def canned_queries(self) -> None:
        folder = ROOT / "queries"
        files = sorted(folder.glob("*.sql")) if folder.is_dir() else []
        if not files:
            self.log("no canned queries in queries/*.sql: skipped")
            return
        helper = str(BENCH / "query_once.py")
        for file in files:
            params = query_parameters(file.read_text(encoding="utf-8"))
            for client in ("sqlite3", "datasette"):
                name = f"{file.stem} ({client})"
                step = self.step(name)
                self.queries.append({"file": file.name, "client": client, "step": name,
                                     "params": params, "question": matching_question(file.stem)})
                for _ in range(self.args.runs):
                    with open(self.data / "query.out", "w+b") as output:
                        try:
                            _, _, rss = run_measured(
                                [sys.executable, helper, client, str(self.database), str(file),
                                 json.dumps(params)],
                                stdout=output,
                            )
                        except RuntimeError as error:
                            step.error = str(error)
                            self.log(f"{name}: {error}")
                            break
                        output.seek(0)
                        result = json.loads(output.read())
                    step.seconds.append(result["seconds"])
                    step.rss_kb.append(rss)
                    self.log(f"{name}: {result['seconds']:.3f} s, {result['rows']} rows")

    def run(self) -> None:
        self.prepare_data()
        try:
            self.baseline()
            self.ingest()
            self.canned_queries()
        finally:
            self.later.mkdir(exist_ok=True)
        self.load = (self.load[0], os.getloadavg()[0])
        Path(self.args.output).parent.mkdir(parents=True, exist_ok=True)
        write_report(self, Path(self.args.output))
        self.log(f"wrote {self.args.output}")


def query_parameters(sql: str) -> dict[str, str]:
    """Choose a value for each named parameter: the model, the prompt-token bound, else ''.

    Datasette passes a missing parameter as '', which the canned queries read as no filter.
    """
    without_strings = re.sub(r"'(?:[^']|'')*'", "''", re.sub(r"--[^\n]*", "", sql))
    params = {}
    for name in re.findall(r"(?<![:\w]):([A-Za-z_]\w*)", without_strings):
        if "model" in name:
            params[name] = MODEL
        elif "token" in name or "prompt" in name:
            params[name] = PROMPT_TOKEN_BOUND
        else:
            params[name] = ""
    return params


def matching_question(stem: str) -> str | None:
    """Return the jq question a canned query answers, by the words in its file name."""
    if "error" in stem and "rate" not in stem and "count" not in stem:
        return "errors for a model"
    if ("slow" in stem or "latency" in stem) and ("small" in stem or "prompt" in stem):
        return "ranked by latency, prompts under 10 tokens"
    if ("slow" in stem or "latency" in stem or "rank" in stem) and "percentile" not in stem:
        return "ranked by latency for a model"
    return None


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as file:
        total_kb = int(file.readline().split()[1])
    jq = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores",
        "Memory": f"{total_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "jq": jq,
    }


def _seconds(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def write_report(bench: Bench, path: Path) -> None:
    args, steps, counts = bench.args, bench.steps, bench.counts
    baseline = steps["baseline combine"].median
    first = steps["ingest: first run"].median
    lines = [
        "# Benchmarks",
        "",
        "claude-logs against the workflow it replaces: a script that combines the saved pages",
        "into one deduplicated file (`bench/baseline_combine.py`, the baseline), then jq",
        "questions on that file. Both work on the same pages, made by `bench/generate.py`.",
        "Times are wall-clock medians; peak RSS is the largest over the runs. CPU time adds",
        "user and system time of the step's processes (the ingest runs a worker process next",
        "to the writer, so its CPU time can exceed its wall time). The one-minute load average",
        f"was {bench.load[0]:.1f} at the start and {bench.load[1]:.1f} at the end; a load above",
        "the core count means other processes shared the machine and the wall times suffer.",
        "",
        f"Command: `make bench BENCH_ENTRIES={args.entries} BENCH_RUNS={args.runs}` "
        f"(`{' '.join(['python', 'bench/run.py', *sys.argv[1:]])}`)",
        "",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "| Machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine().items()),
        "",
        f"Data: {counts['distinct']:,} distinct entries, {counts['entries']:,} entries in "
        f"{counts['files']:,} page files ({counts['bytes'] / 1e6:,.0f} MB), seed {args.seed}. "
        f"The first runs see all but the newest {counts['held_back_files']} files "
        f"({HELD_BACK_FRACTION:.0%}), which arrive before the incremental run.",
        "",
        "## Ingest against the baseline",
        "",
        "| Step | Median s | Runs (s) | Median CPU s | Peak RSS MB | Ratio | Target | Result |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]

    def row(name, ratio_text="", target="", result=""):
        step = steps[name]
        runs = ", ".join(_seconds(value) for value in step.seconds)
        lines.append(f"| {name} | {_seconds(step.median)} | {runs} | "
                     f"{_seconds(step.median_cpu)} | {step.peak_mb:.0f} | "
                     f"{ratio_text} | {target} | {result} |")

    row("baseline combine", "1.00")
    for question in JQ_QUESTIONS:
        row(f"jq: {question}")
    peak_ingest = max(steps[name].peak_mb for name in steps if name.startswith("ingest:"))
    row("ingest: first run", f"{first / baseline:.2f} of baseline", "<= 0.60 of baseline",
        _verdict(first <= 0.6 * baseline))
    unchanged = steps["ingest: nothing changed"].median
    row("ingest: nothing changed", f"{unchanged / first:.1%} of first run",
        "<= 3% of first run", _verdict(unchanged <= 0.03 * first))
    incremental = steps["ingest: 1% new pages"].median
    row("ingest: 1% new pages", f"{incremental / first:.1%} of first run",
        "<= 5% of first run", _verdict(incremental <= 0.05 * first))
    lines += [
        "",
        f"Peak RSS of any ingest run: {peak_ingest:.0f} MB (target under 150 MB: "
        f"{_verdict(peak_ingest < 150)}).",
        "",
        "## Canned queries",
        "",
    ]
    if not bench.queries:
        lines.append("No canned queries were found in queries/*.sql, so none were measured.")
    else:
        lines += [
            f"Parameters: `{MODEL}` for a model, {PROMPT_TOKEN_BOUND} for a prompt-token bound,",
            "'' (no filter) for any other. Times are the query alone, in a process of its own:",
            "execute plus fetchall with the sqlite3 module, or one GET of the JSON through",
            "Datasette's in-process client (its default 1 s time limit applies, and it returns",
            "at most 1,000 rows, its default max_returned_rows).",
            "",
            "| Query | Client | Median s | Runs (s) | Peak RSS MB | Matching jq question | "
            "Ratio to jq | Target | Result |",
            "|---|---|---:|---|---:|---|---:|---|---|",
        ]
        for query in bench.queries:
            step = steps[query["step"]]
            question = query["question"]
            runs = ", ".join(_seconds(value) for value in step.seconds)
            if step.error or not step.seconds:
                lines.append(f"| {query['file']} | {query['client']} | failed | "
                             f"{step.error or ''} | | | | | **not met** |")
                continue
            if question:
                jq_time = steps[f"jq: {question}"].median
                ratio = f"{step.median / jq_time:.2%}"
                target = "<= 1% of jq, < 1 s"
                ok = step.median <= 0.01 * jq_time and step.median < 1
            else:
                ratio, target, ok = "", "< 1 s", step.median < 1
            lines.append(f"| {query['file']} | {query['client']} | {_seconds(step.median)} | "
                         f"{runs} | {step.peak_mb:.0f} | {question or ''} | {ratio} | "
                         f"{target} | {_verdict(ok)} |")

    notes = ""
    if path.exists() and NOTES_MARKER in path.read_text(encoding="utf-8"):
        notes = path.read_text(encoding="utf-8").split(NOTES_MARKER, 1)[1]
    lines += ["", NOTES_MARKER]
    path.write_text("\n".join(lines) + (notes if notes else "\n"), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000,
                        help="distinct entries to generate (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each step (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--overlap", type=float, default=0.3,
                        help="repeated entries as a fraction of --entries (default 0.3)")
    parser.add_argument("--data", default=str(BENCH / "data"),
                        help="folder for generated pages and databases (default bench/data)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="report to write (default docs/benchmarks.md)")
    args = parser.parse_args(argv)
    if shutil.which("jq") is None:
        print("Error: jq is not installed; install it (Debian: apt-get install jq)",
              file=sys.stderr)
        return 1
    Bench(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
