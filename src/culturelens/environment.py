"""What a result was computed with: the dependency lock and the packages actually installed.

Recorded in ``results/manifest.json`` (and the lock's digest in ``summary.md``) so that a result
names its environment: the same config and the same lock give the same numbers elsewhere.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path


def installed_packages() -> dict[str, str]:
    """Every distribution importable by this interpreter, name (normalised) → version, sorted."""
    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").strip().lower().replace("_", "-")
        if name:
            found.setdefault(name, dist.version)
    return dict(sorted(found.items()))


def lock_record(path: str | Path) -> dict:
    """The lock file's name, sha256 and size; ``{"file": ..., "present": False}`` if it is missing."""
    path = Path(path)
    if not path.is_file():
        return {"file": path.name, "present": False}
    data = path.read_bytes()
    return {"file": path.name, "present": True, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def describe(lock_path: str | Path) -> dict:
    """Python, platform, lock and installed packages, for the run manifest."""
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "lock": lock_record(lock_path),
        "packages": installed_packages(),
    }
