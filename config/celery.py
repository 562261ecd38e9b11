"""The Celery app; configuration comes from Django settings (CELERY_* names).

`celery -A config worker|beat --experiment PATH` serves that experiment folder, as
`manage.py --experiment PATH` does (it overrides settings.EXPERIMENT, whatever the settings
module says; `manage.py test_experiment` starts its worker and beat this way).
"""

import os

from celery import Celery, signals
from click import Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.user_options["preload"].add(Option(["--experiment"], default=None,
                                       help="the experiment folder to serve (default: settings.EXPERIMENT)"))


@signals.user_preload_options.connect
def use_experiment_option(options, **kwargs) -> None:
    path = options.get("experiment")
    if path:
        from django.conf import settings

        os.environ["EXPERIMENT"] = path
        settings.EXPERIMENT = path
