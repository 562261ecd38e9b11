"""Settings for the Celery worker the sync tests start: the test settings, serving the
experiment folder the test chose (config.settings_test pins hello_world)."""

import os

from config.settings_test import *  # noqa: F403

EXPERIMENT = os.environ["EXPERIMENT"]
