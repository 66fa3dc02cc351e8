"""The files an imported model entry names (``provider: imported``, culturelens.imported).

``path`` is a file, a glob (``released/*.jsonl``), or a list of them; an element of the list may
also be ``{path: ..., values: {column: value}}`` to give that file's own values (its condition,
country, prompt language). A ``{name}`` placeholder in a path matches one path component part (no
``/``) and its text becomes the column ``name`` of every row of that file, e.g.
``released/{prompt_lang}_{model}.json`` reads ``de_gpt4.json`` with ``prompt_lang = de`` and
``model = gpt4``. Values from a path or given per file fill a column the file lacks; ``recode``
(imported.py) can then map them (``amh`` → ``am``).

Light on purpose (no pandas): the configuration check resolves every entry at each Snakemake start,
so a missing file or one of a format culturelens cannot read is refused before any job runs.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping
from pathlib import Path

from .errors import InputError

#: readable formats, by the end of the file name
SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".csv.gz", ".tsv.gz", ".jsonl.gz",
            ".ndjson.gz", ".json.gz")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def suffix(path: str | Path) -> str:
    """The format part of a file name: ``.csv``, ``.json.gz`` …, or '' when it is none of SUFFIXES."""
    name = Path(path).name.lower()
    return next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


def _matcher(pattern: str) -> re.Pattern:
    """A regex for paths the pattern matches, with a named group per ``{field}``."""
    out, pos = [], 0
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|\*\*/|\*\*|\*|\?", pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        token = m.group(0)
        # `**/` is any number of folders, none included (as glob's recursive `**`)
        out.append(f"(?P<{m.group(1)}>[^/]+?)" if m.group(1) else "(?:.*/)?" if token == "**/" else ".*"
                   if token == "**" else "[^/]*" if token == "*" else "[^/]")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


def resolve(spec: Mapping, key: str, where: str) -> list[tuple[str, dict]]:
    """``[(file, values)]`` of an imported model entry, in a stable order; InputError naming ``key``
    (``catalog.models.<name>.path``) and ``where`` (the config file) when an element matches no
    file, a file's format is not readable, a placeholder is repeated, or a file is named twice."""
    entries = spec.get("path")
    entries = entries if isinstance(entries, list) else [entries]
    out: list[tuple[str, dict]] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries):
        sub = f"{key}[{i}]" if isinstance(spec.get("path"), list) else key
        values = {}
        if isinstance(entry, Mapping):
            pattern, values = entry.get("path"), dict(entry.get("values") or {})
            sub += ".path"
        else:
            pattern = entry
        if not isinstance(pattern, str) or not pattern.strip():
            raise InputError(where, sub, "a file path or glob of imported answers", pattern)
        fields = _FIELD.findall(pattern)
        if len(set(fields)) != len(fields):
            raise InputError(where, sub, "each {placeholder} once in a path", pattern)
        search = _FIELD.sub("*", pattern)
        files = sorted(glob.glob(search, recursive=True)) if glob.has_magic(search) else (
            [search] if Path(search).exists() else [])
        files = [f for f in files if Path(f).is_file()]
        if not files:
            raise InputError(where, sub, "an existing file of imported answers, or a glob matching at least one "
                             "(paths are relative to the workflow directory)", pattern)
        matcher = _matcher(pattern)
        for file in files:
            if not suffix(file):
                raise InputError(file, sub, f"a file ending in one of {', '.join(SUFFIXES)}", Path(file).name)
            if file in seen:
                raise InputError(where, sub, f"each file once (also named by {seen[file]})", file)
            seen[file] = sub
            found = matcher.fullmatch(file)
            taken = {k: v for k, v in (found.groupdict() if found else {}).items() if v is not None}
            out.append((file, {**taken, **values}))
    return out
