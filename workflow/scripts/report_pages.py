"""The report's pages: the headline (summary.md as HTML), and per study the interactive tables and
the world maps (culturelens.report)."""

import logging
from pathlib import Path

import pandas as pd

import _common
from culturelens import alignment as alignment_mod
from culturelens import report
from culturelens.surveys import read_table


def main(sm):
    if sm.rule == "report_headline":
        Path(sm.output[0]).write_text(report.headline_html(Path(sm.input.summary).read_text(encoding="utf-8")),
                                      encoding="utf-8")
        return
    study = sm.wildcards.study
    if "label_scores" in sm.input.keys():   # a label task: its score tables
        scores = pd.read_csv(sm.input.label_scores).round(4)
        confusion = pd.read_csv(sm.input.confusion)
        tables = [("label_scores", report.LABEL_SCORES_CAPTION, scores),
                  ("label_confusion", "Prompt rows per gold label (the culture's) and predicted label, per model, "
                                      "condition and culture (labels/confusion.csv).", confusion)]
        Path(sm.output.tables).write_text(report.tables_page(f"{study}: tables", tables), encoding="utf-8")
        return
    scalars = alignment_mod.read_scalars(sm.input.alignment)    # every cell, without its distributions
    cells, total = report.first_rows(sm.input.alignment, report.MAX_ITEM_ROWS)
    tables = report.alignment_tables(scalars, cells, read_table(sm.input.survey_items), n_cells=total)
    Path(sm.output.tables).write_text(report.tables_page(f"{study}: alignment tables", tables), encoding="utf-8")
    steer = pd.read_csv(sm.input.steerability)
    Path(sm.output.maps).write_text(report.page(f"{study}: maps", f"<h1>{study}: world maps</h1>"
                                                + report.alignment_maps(scalars, steer)), encoding="utf-8")
    logging.info("%s: %d cells in the maps and per-country table, %d in the per-item table", study, total, len(cells))


_common.run(snakemake, main)  # noqa: F821
