from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"

    def ready(self) -> None:
        from . import extensions  # models load only once the app registry is ready

        extensions.register()
