"""Shared by the rule scripts: library on the path, stderr and logging into the rule's log,
and bad input reported as one line naming file and field (no traceback)."""

import logging
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
# first on the path, always: the workflow's own library, not an installed copy of another checkout
if str(SRC) in sys.path:
    sys.path.remove(str(SRC))
sys.path.insert(0, str(SRC))

from culturelens.errors import InputError  # noqa: E402

CONSOLE = sys.__stderr__  # the terminal, for progress bars and final lines (stderr goes to the log)


class JobFailed(Exception):
    """A job that cannot finish for a reason its message explains (what to fix, then rerun): one
    line on the console and in the log, no traceback, as for bad input."""


def run(snakemake, main) -> None:
    log_path = Path(snakemake.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console = sys.stderr
    with log_path.open("w", encoding="utf-8") as log_fh:
        sys.stderr = log_fh
        logging.basicConfig(stream=log_fh, level=logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            main(snakemake)
        except InputError as err:
            logging.error("%s", err)
            print(f"culturelens: bad input: {err}", file=console)
            sys.exit(1)
        except JobFailed as err:
            logging.error("%s", err)
            print(f"culturelens: {err}", file=console)
            sys.exit(1)
        except Exception as err:  # noqa: BLE001 — the traceback goes to the job's log, one line to the console
            logging.exception("job failed")
            print(f"culturelens: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
                  f"(details in {log_path})", file=console)
            sys.exit(1)
        finally:
            sys.stderr = console
