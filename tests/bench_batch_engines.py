"""Throughput of `screen batch` with the local process pool and with Ray's local mode.

    .venv/bin/python tests/bench_batch_engines.py FOLDER [--rounds 2] [-- SCREEN OPTIONS]

Runs `screen batch FOLDER` through the command line, one engine after the other (ABBA
order over the rounds, each run into a fresh output folder), and prints one row per run:
wall seconds of the whole command, videos per minute, and the mean seconds a worker spent
on one video (OUT/state.sqlite).  Without a FOLDER argument it screens six copies of the
shipped examples with the default settings.  Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"local": [], "ray": ["--engine", "ray"]}


def examples_folder(where: Path, copies: int = 2) -> Path:
    """`copies` copies of the three shipped phantom examples."""
    folder = where / "school"
    for copy in range(copies):
        for video in sorted((ROOT / "examples").glob("*.mp4")):
            target = folder / f"class_{copy}" / video.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(video, target)
    return folder


def one_run(folder: Path, out: Path, engine: str, options: list[str]) -> dict:
    command = [sys.executable, "-m", "screen.cli", "batch", str(folder), "--out", str(out),
               *ENGINES[engine], *options, "--quiet"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - started
    with sqlite3.connect(out / "state.sqlite") as db:
        seconds = [s for (s,) in db.execute("SELECT seconds FROM videos WHERE status = 'done'")]
        videos = db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
    return {"engine": engine, "videos": videos, "wall_s": wall,
            "videos_per_min": 60 * videos / wall,
            "s_per_video": sum(seconds) / max(1, len(seconds))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("options", nargs=argparse.REMAINDER, help="after --: screen options")
    args = parser.parse_args()
    options = [o for o in args.options if o != "--"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or examples_folder(Path(scratch))
        order = [e for r in range(args.rounds) for e in (("local", "ray"), ("ray", "local"))[r % 2]]
        rows = []
        load = os.getloadavg()[0]
        for i, engine in enumerate(order):
            rows.append(one_run(folder, Path(scratch) / f"out{i}", engine, options))
            print(rows[-1], flush=True)
    print(f"\nload average (1 min) at the start: {load:.2f}; {os.cpu_count()} CPUs")
    print("| engine | videos | wall s | videos/min | s per video (in the worker) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['engine']} | {row['videos']} | {row['wall_s']:.1f} | "
              f"{row['videos_per_min']:.2f} | {row['s_per_video']:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
