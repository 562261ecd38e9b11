"""URLs of this app (included from config/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/p/<str:token>/sync/status", views.status, name="sync-status"),
]
