"""The HTML report (culturelens.report): pieces by hand, and the whole report read in a real headless
browser (Debian's chromium) with the network blocked: the headline table, an interactive table and a
map must be there and show the numbers of the Parquet results."""

import html.parser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from culturelens import report

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CONFIG = ["--config", "studies=[goqa]", "models=[uniform,oracle]", "countries=[US,JP,DE,SG]", "paraphrases=1",
          "conditions=[default,cross_national]"]


def test_headline_is_the_summary_as_html():
    text = "## goqa\n\n| model | js_sim |\n| --- | ---: |\n| oracle | 0.981 |\n\nNotes here.\n"
    out = report.headline_html(text)
    assert 'id="culturelens-headline"' in out and "<table>" in out
    assert "<td>oracle</td>" in out and '<td style="text-align: right;">0.981</td>' in out


def test_outlines_are_keyed_by_alpha2_without_antarctica():
    paths = report.country_paths()
    assert {"US", "DE", "JP", "BR", "IN", "ET", "RU", "FJ"} <= set(paths) and "AQ" not in paths
    assert len(paths) > 160
    # a country crossing the antimeridian is drawn in pieces, never by a line across the map
    for d in (paths["RU"], paths["FJ"]):
        xs = [float(p.split(",")[0]) for p in re.split("[MLZ]", d) if p]
        steps = re.findall(r"([ML])([\d.]+),", d)
        jumps = [abs(float(b[1]) - float(a[1])) for a, b in zip(steps, steps[1:]) if b[0] == "L"]
        assert max(jumps) < report.WIDTH / 2 and min(xs) >= 0 and max(xs) <= report.WIDTH


def test_map_colours_countries_with_data_and_hatches_the_rest():
    svg = report.world_map_svg({"JP": 0.8, "DE": 0.6, "SG": 0.7}, "t", "js_sim", 0.6, 0.8, map_id="m")
    assert re.search(r'data-country="JP" data-value="0.8000"[^>]*fill="#fde725"', svg)   # viridis top
    assert re.search(r'data-country="DE" data-value="0.6000"[^>]*fill="#440154"', svg)   # viridis bottom
    assert re.search(r'class="country nodata" data-country="US"[^>]*fill="url\(#m-nodata\)"', svg)
    assert "<title>Japan: 0.800</title>" in svg and "<title>United States: no data</title>" in svg
    # too small for the outlines: listed with its value, not lost
    assert "too small for the 1:110m outlines: Singapore 0.700" in svg


def test_tables_page_embeds_its_javascript_and_every_row():
    frame = pd.DataFrame({"model": [f"m{i}" for i in range(3000)], "js_sim": np.linspace(0, 1, 3000)})
    page = report.tables_page("t", [("big", "caption", frame)])
    assert not re.search(r"<script[^>]+src=[\"']https?:", page) and "<link" not in page
    assert "m2999" in page                       # itables would sample a large table by default; not here


def _dom(path: Path, budget_ms: int = 10000) -> str:
    """The page's DOM after its scripts ran, in headless chromium with every host unreachable."""
    cmd = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
           "--host-resolver-rules=MAP * ~NOTFOUND", f"--virtual-time-budget={budget_ms}", "--dump-dom",
           path.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


class _Rows(html.parser.HTMLParser):
    """The text of each <tr> of the tables with a given id (or all tables)."""

    def __init__(self, table_id=None):
        super().__init__()
        self.table_id, self.depth, self.rows, self.row, self.cell = table_id, 0, [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and (self.table_id is None or attrs.get("id") == self.table_id or self.depth):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.row = []
        elif self.depth and tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif self.depth and tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _rows(dom: str, table_id=None) -> list[list[str]]:
    parser = _Rows(table_id)
    parser.feed(dom)
    return parser.rows


@pytest.mark.e2e
def test_report_in_a_headless_browser(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium not installed (apt-get install -y chromium; .ci/run installs it as root on Debian)")
    from workspace import copy_workflow

    work = copy_workflow(tmp_path)
    run = subprocess.run([SNAKEMAKE, "--cores", "2", *CONFIG], cwd=work, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    made = subprocess.run([SNAKEMAKE, "--report", "results/report.html", *CONFIG], cwd=work, capture_output=True,
                          text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-4000:]
    cells = pd.read_parquet(work / "results/goqa/alignment.parquet")
    oracle = cells[(cells["model"] == "oracle") & (cells["condition"] == "cross_national")]

    # the front page: the headline table of summary.md, numbers as in the Parquet results
    front = _dom(work / "results/report.html")
    assert 'id="culturelens-headline"' in front
    headline = [r for r in _rows(front) if r[:3] == ["oracle", "baseline", "cross_national"]]
    assert headline, "the alignment table is not on the report's front page"
    assert headline[0][5] == f"{oracle['js_sim'].mean():.3f}" and headline[0][3] == str(len(oracle))

    # the interactive table, rendered by DataTables offline: one row per (model, country, condition, language)
    tables = _dom(work / "results/goqa/report/tables.html")
    rows = {tuple(r[:5]): r for r in _rows(tables, "alignment_per_country") if len(r) > 6}
    japan = oracle[oracle["country"] == "JP"]
    row = rows[("oracle", "JP", "Japan", "cross_national", "en")]
    assert row[5] == str(japan["item_id"].nunique()) and float(row[6]) == round(japan["js_sim"].mean(), 4)
    assert "Showing 1 to" in tables          # DataTables ran (its script is embedded, nothing was fetched)

    # the map (the first is oracle under cross-national prompting): Japan carries its mean alignment
    maps = _dom(work / "results/goqa/report/maps.html")
    japan_value = re.search(r'<path class="country" data-country="JP" data-value="([\d.]+)"', maps)
    assert japan_value and float(japan_value.group(1)) == round(japan["js_sim"].mean(), 4)
    assert 'class="country nodata" data-country="FR"' in maps   # France was not selected: no data, not 0
    assert "Singapore" in maps                                  # in the survey, too small to draw: listed

    # the pages are results of the report (each opens from its study's category)
    source = (work / "results/report.html").read_text(encoding="utf-8")
    assert "tables.html" in source and "maps.html" in source and "headline.html" in source


def test_a_large_study_shows_the_first_cells_and_says_so(tmp_path):
    cells = pd.DataFrame({"model": "m", "country": ["JP", "DE"] * 50, "condition": "c", "prompt_lang": "en",
                          "item_id": [f"q{i}" for i in range(100)], "js_sim": np.linspace(0, 1, 100), "emd_sim": 0.5,
                          "model_dist": [[0.5, 0.5]] * 100, "survey_dist": [[0.2, 0.8]] * 100})
    cells.to_parquet(tmp_path / "a.parquet", row_group_size=7)
    first, total = report.first_rows(tmp_path / "a.parquet", 30)
    assert total == 100 and first["item_id"].tolist() == [f"q{i}" for i in range(30)]
    items = pd.DataFrame({"item_id": [f"q{i}" for i in range(100)], "lang": "en", "question": "Q?",
                          "options": [["Yes", "No"]] * 100})
    (_, _, per_country), (_, caption, per_item) = report.alignment_tables(cells.drop(columns=["model_dist", "survey_dist"]),
                                                                         first, items, n_cells=total)
    assert per_country.set_index("country").loc["JP", "items"] == 50        # from every cell
    assert len(per_item) == 30 and "the first 30 of the study's 100 cells" in caption
    assert per_item["answers (option: model % | survey %)"].iloc[0] == "Yes: 50.0 | 20.0 · No: 50.0 | 80.0"
