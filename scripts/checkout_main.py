"""Run a console tool (celery, gunicorn) on this checkout's code only.

A shared virtualenv may hold an editable install of another checkout, whose import finder would
supply modules this checkout lacks; subprocesses started by the tests drop it first.
Usage: python scripts/checkout_main.py celery -A config worker ...
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.meta_path[:] = [finder for finder in sys.meta_path if "editable" not in repr(finder).lower()]
sys.path[0] = str(ROOT)

tool, sys.argv = sys.argv[1], sys.argv[1:]
if tool == "celery":
    from celery.__main__ import main
elif tool == "gunicorn":
    from gunicorn.app.wsgiapp import run as main
else:
    raise SystemExit(f"unknown tool {tool!r}")
sys.exit(main())
