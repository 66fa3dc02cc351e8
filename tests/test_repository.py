"""The repository itself: nothing that only exists on the machine it was written on."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# absolute paths of a developer's or CI machine (home folders, the work tree, temp build dirs)
MACHINE_PATH = re.compile(r"(?<![\w.])/(work|root|home/[\w.-]+|Users/[\w.-]+|mnt/[\w.-]+)/")


def tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        path = ROOT / name
        if name == "uv.lock" or not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary


def test_no_absolute_machine_paths():
    hits = [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
            for name, text in tracked_text_files() for m in MACHINE_PATH.finditer(text)]
    assert not hits, "absolute paths of one machine in tracked files:\n" + "\n".join(hits[:20])


def test_report_captions_are_valid_restructuredtext():
    """Snakemake renders the captions with docutils; an error there lands in the report as text."""
    import io

    import docutils.core

    import jinja2

    class Stub:   # what the captions read from Snakemake's `snakemake` object
        config = {"studies": ["goqa"], "models": ["uniform"]}
        wildcards = type("W", (), {"study": "goqa", "model": "uniform", "analysis": "a"})()

    for caption in sorted((ROOT / "workflow" / "report").glob("*.rst")):
        messages = io.StringIO()
        # rendered as Snakemake does: Jinja first (no result files here), then docutils
        text = jinja2.Environment().from_string(caption.read_text(encoding="utf-8")).render(
            snakemake=Stub, categories={}, files=[])
        docutils.core.publish_string(text, writer_name="null",
                                     settings_overrides={"report_level": 2, "halt_level": 5,
                                                         "warning_stream": messages})
        assert not messages.getvalue(), f"{caption.name}: {messages.getvalue()}"
