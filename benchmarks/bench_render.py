"""Prompt rendering at campaign scale: prompts/s of `prompts.render`, old vs new, at 1×, 2×, 4× the countries.

A GOQA-like study: the shipped GlobalOpinionQA sample's items (substantive view, as the workflow
imports it), each asked in every one of --countries countries (the sample's 98 plus IE and IS: 100),
under the default configuration's conditions (default [en], cross_national [en], linguistic
native) with the shipped templates, 2 paraphrases × 2 option orders. Each scale renders the first
¼, ½ and all of the countries; the old renderer (the frozen copy in tests/test_prompts.py, the code
before it was optimised) and the new one run side by side on the same input, and their tables are
checked to be identical (parquet bytes).

    .venv/bin/python benchmarks/bench_render.py [--countries 100] [--repeat 1] [--no-old]

Nothing is asserted: the goal (≥ 50,000 prompts/s at 100 countries) is printed as PASS / MISS.
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

from culturelens import countries, prompts, surveys, templates  # noqa: E402

GOAL = 50_000
ROOT = _bench.ROOT
CONDITIONS = {"default": {"persona": False, "languages": ["en"]},
              "cross_national": {"persona": True, "languages": ["en"]},
              "linguistic": {"persona": False, "languages": "native"}}


def study(n_countries: int):
    tables = surveys.load("goqa", "goqa", {"csv": str(ROOT / "resources/surveys/goqa/global_opinions_sample.csv")})
    items, targets = surveys.substantive_view(tables.items, tables.targets, False)
    codes = sorted(targets["country"].unique())
    codes += [c for c in ("IE", "IS", "FJ", "MT", "LU", "QA", "KW", "OM") if c not in codes]
    return items, codes[:n_countries]


def parquet_bytes(table) -> bytes:
    buf = io.BytesIO()
    table.to_parquet(buf)
    return buf.getvalue()


def timed(fn, repeat: int):
    """(result, best wall s, best CPU s of this process): the machine's cores are shared, so CPU time
    is the steadier figure (rendering is single-threaded)."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - t0)
    return out, wall, cpu


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--countries", type=int, default=100, help="countries at 4× (1× is a quarter)")
    ap.add_argument("--repeat", type=int, default=1, help="best of N timings per renderer and scale")
    ap.add_argument("--no-old", action="store_true", help="skip the old renderer (slow)")
    args = ap.parse_args(argv)
    items, codes = study(args.countries)
    shipped = templates.load_dir(ROOT / "resources" / "templates")
    old = None
    if not args.no_old:
        import test_prompts

        old = test_prompts._old_render
    print(f"bench_render: GOQA sample, {items['item_id'].nunique()} items × up to {len(codes)} countries × "
          f"{len(CONDITIONS)} conditions × 2 paraphrases × 2 orders; all {len(shipped)} shipped templates")
    print(f"  {_bench.machine()}")
    print()
    kw = dict(study="goqa", stance=False, conditions=CONDITIONS, templates=shipped, paraphrases=2,
              option_orders=["listed", "reversed"], survey_sha="bench", phrase_templates=shipped)
    # warm-up: imports, CLDR data, regexes (both renderers share countries' caches)
    prompts.render(items, {i: codes[:2] for i in items["item_id"]}, **kw)
    header = (f"{'countries':>9}  {'rows':>8}  {'old wall s':>10}  {'old CPU s':>9}  {'old prompts/s':>13}  "
              f"{'new wall s':>10}  {'new CPU s':>9}  {'new prompts/s':>13}  {'× faster':>8}  identical")
    print(header)
    print("-" * len(header))
    rates = {}
    for scale in (1, 2, 4):
        n = max(1, len(codes) * scale // 4)
        eligible = {i: codes[:n] for i in items["item_id"].unique()}
        (new_table, new_notes), w_new, c_new = timed(lambda: prompts.render(items, eligible, **kw), args.repeat)
        rows = len(new_table)
        rates[scale] = rows / c_new
        line = f"{n:>9}  {rows:>8,}  "
        if old is not None:
            (old_table, old_notes), w_old, c_old = timed(lambda: old(items, eligible, **kw), args.repeat)
            same = parquet_bytes(old_table) == parquet_bytes(new_table) and old_notes == new_notes
            line += f"{w_old:>10.2f}  {c_old:>9.2f}  {rows / c_old:>13,.0f}  "
        else:
            same, c_old = "-", None
            line += f"{'':>10}  {'':>9}  {'':>13}  "
        line += f"{w_new:>10.2f}  {c_new:>9.2f}  {rows / c_new:>13,.0f}  "
        line += f"{c_old / c_new:>8.1f}  {same}" if c_old else f"{'':>8}  {same}"
        print(line)
    print()
    print("prompts/s = rows / CPU seconds of the render call (wall time on the shared cores is also shown)")
    print(f"new renderer, prompts/s relative to 1×: 2× {rates[2] / rates[1]:.2f}, 4× {rates[4] / rates[1]:.2f} "
          "(1.00 = time linear in rows)")
    print(f"Goal (measured, not asserted): {_bench.verdict(rates[4] >= GOAL)}  ≥ {GOAL:,} prompts/s at "
          f"{len(codes)} countries: {rates[4]:,.0f} prompts/s (CPU time)")


if __name__ == "__main__":
    main()
