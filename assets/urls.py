"""URLs of this app (included from config/urls.py)."""

urlpatterns: list = []
