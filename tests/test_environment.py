import hashlib
from importlib import metadata

from culturelens.environment import describe, installed_packages, lock_record


def test_lock_record(tmp_path):
    lock = tmp_path / "uv.lock"
    lock.write_bytes(b"version = 1\n")
    assert lock_record(lock) == {"file": "uv.lock", "present": True,
                                 "sha256": hashlib.sha256(b"version = 1\n").hexdigest(), "bytes": 12}
    assert lock_record(tmp_path / "missing.lock") == {"file": "missing.lock", "present": False}


def test_installed_packages_are_the_ones_imported():
    packages = installed_packages()
    assert packages["pandas"] == metadata.version("pandas")
    assert list(packages) == sorted(packages)
    assert describe("nowhere.lock")["lock"]["present"] is False
