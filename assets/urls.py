"""URLs of this app (included from config/urls.py). Assets are addressed by unguessable tokens."""

from django.urls import path

from . import views

urlpatterns = [
    path("assets/<str:token>/", views.asset_file, name="asset-file"),
    path("assets/<str:token>/<path:subpath>", views.asset_file, name="asset-file-path"),
    path("asset-status/<str:token>", views.asset_status, name="asset-status"),
]
