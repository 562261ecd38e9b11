from .trials import admin as trials_admin  # noqa: F401  (Trial, Node, Network)
