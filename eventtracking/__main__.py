"""``python -m eventtracking docs ...``: generate the documentation of event types (see ``eventtracking.docs``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eventtracking import docs


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the command named first (``docs`` is the only one)."""
    parser = argparse.ArgumentParser(prog="python -m eventtracking")
    commands = parser.add_subparsers(dest="command", required=True)
    docs.add_arguments(commands.add_parser("docs", help=docs.__doc__.splitlines()[0]))
    return docs.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
