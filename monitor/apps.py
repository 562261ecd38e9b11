from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "monitor"
    verbose_name = "Monitor"

    def ready(self) -> None:
        # /start/ asks experiments.hooks whether to refuse an entrant; the monitor's study
        # controls answer (experiments never imports this app: it is the top layer).
        from experiments import hooks

        from .views import recruitment_guard

        hooks.start_guards.register(recruitment_guard)
