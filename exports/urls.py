"""URLs of this app (included from config/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("basic_data", views.basic_data, name="basic-data"),
    path("dashboard/export", views.dashboard_export, name="dashboard-export"),
    path("dashboard/export/status", views.dashboard_export_status, name="dashboard-export-status"),
    path("dashboard/export/<uuid:job_id>/download", views.dashboard_export_download,
         name="dashboard-export-download"),
]
