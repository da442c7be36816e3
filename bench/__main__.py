"""Run every benchmark, print its tables, and write them all to bench/RESULTS.md.

``python -m bench`` from the repository root (a few minutes); ``python -m bench --only latency
idle`` runs some. Each benchmark runs alone, one after the other, in its own process, so none
disturbs another: its stdout (the tables) is printed and kept, its progress on stderr shown.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import load, machine  # noqa: E402

# name -> command (bench/media.py is a script, the others are modules)
BENCHMARKS: dict[str, list[str]] = {
    "media": [sys.executable, str(BENCH / "media.py")],
    "latency": [sys.executable, "-m", "bench.latency"],
    "idle": [sys.executable, "-m", "bench.idle"],
    "throughput": [sys.executable, "-m", "bench.throughput"],
    "load": [sys.executable, str(BENCH / "load.py")],
    "storage": [sys.executable, "-m", "bench.storage"],
    "load-process": [sys.executable, str(BENCH / "load.py"), "--bot-process"],
    "burst": [sys.executable, "-m", "bench.burst"],
    "soak": [sys.executable, "-m", "bench.soak"],
    "files_api": [sys.executable, "-m", "bench.files_api"],
    # Needs PostgreSQL: TEST_DATABASE_URL, as `scripts/with-postgres python -m bench` sets it.
    "replicas": [sys.executable, "-m", "bench.replicas"],
}
TITLES = {
    "media": "Media normalisers vs bare transforms (`python bench/media.py`)",
    "latency": "Latency (`python -m bench.latency`)",
    "idle": "1,000 tasks in flight (`python -m bench.idle`)",
    "throughput": "Text-update throughput (`python -m bench.throughput`)",
    "load": "50 users and 3 groups at once (`python bench/load.py`)",
    "storage": "Storage hot path vs bare driver calls (`python -m bench.storage`)",
    "load-process": (
        "The same load, the bot as its own process: its memory (`python bench/load.py "
        "--bot-process`)"
    ),
    "burst": "A burst of heavy media from 26 users at once (`python -m bench.burst`)",
    "soak": "Memory over 10,000 drafts (`python -m bench.soak`)",
    "files_api": "Files API uploads kept or made again (`python -m bench.files_api`)",
    "replicas": "Three replicas against one (`scripts/with-postgres python -m bench.replicas`)",
}


def run_one(name: str) -> tuple[str, float]:
    """Run one benchmark; its stdout and how long it took."""
    print(f"\n=== {name} ===", flush=True)
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        BENCHMARKS[name], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False
    )
    seconds = time.perf_counter() - started
    print(done.stdout, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {done.returncode}")
    return done.stdout.rstrip(), seconds


def main() -> None:
    """Run the chosen benchmarks and write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    started = datetime.datetime.now().astimezone()
    load_before = load()
    outputs = [(name, *run_one(name)) for name in args.only]
    command = "python -m bench"
    if args.only != list(BENCHMARKS):
        command += " --only " + " ".join(args.only)
    lines = [
        "# Benchmark results",
        "",
        f"- date: {started:%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}",
        f"- {load_before} at the start, {load()} at the end (other work on the machine skews"
        " the figures)",
        f"- command: `{command}` (from the repository root, in the project's virtualenv)",
        "- all traffic is loopback: the fake Telegram Bot API and the fake Evolink API "
        "(tests/fakes) stand in for the real services",
        "",
    ]
    for name, text, seconds in outputs:
        lines += [f"## {TITLES[name]}", "", f"_{seconds:.0f} s_", "", "```text", text, "```", ""]
    args.output.write_text("\n".join(lines))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
