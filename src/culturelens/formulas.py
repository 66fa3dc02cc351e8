"""Reading the reference level out of a statsmodels formula, without importing the fitting stack
(the configuration check runs it at every Snakemake start)."""

from __future__ import annotations

import re


def treatment_pattern(var: str) -> re.Pattern:
    """``C(var, Treatment('level'))`` (or ``reference='level'``), the level in group ``level``."""
    return re.compile(rf"C\(\s*{re.escape(var)}\s*,\s*Treatment\(\s*(?:reference\s*=\s*)?"
                      rf"(?P<q>['\"])(?P<level>[^'\"]*)(?P=q)\s*\)\s*\)")


def treatment_reference(formula: str, var: str) -> str | None:
    """The level named as ``var``'s reference in the formula, if any."""
    m = treatment_pattern(var).search(formula)
    return m.group("level") if m else None
