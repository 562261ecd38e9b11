#!/usr/bin/env python
"""Django's command-line utility for Chorus."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # `--experiment PATH` works on every command: it is read here, before Django loads settings.
    argv = list(sys.argv)
    for i, arg in enumerate(argv):
        if arg == "--experiment" and i + 1 < len(argv):
            os.environ["EXPERIMENT"] = argv[i + 1]
            del argv[i : i + 2]
            break
        if arg.startswith("--experiment="):
            os.environ["EXPERIMENT"] = arg.split("=", 1)[1]
            del argv[i]
            break
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
