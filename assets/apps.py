from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "assets"

    def ready(self) -> None:
        from . import extensions  # models load only once the app registry is ready

        extensions.register()
