"""URLs of the monitor, under /admin/monitor/ (included before admin.site.urls in config/urls.py).

Every view goes through admin.site.admin_view: anonymous visitors are sent to the admin login,
logged-in non-staff users too, and CSRF is checked on the controls.
"""

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/monitor/", admin.site.admin_view(views.monitor), name="monitor"),
    path("admin/monitor/live", admin.site.admin_view(views.monitor_live), name="monitor-live"),
    path("admin/monitor/data.json", admin.site.admin_view(views.monitor_data), name="monitor-data"),
    path("admin/monitor/recruitment", admin.site.admin_view(views.recruitment),
         name="monitor-recruitment"),
    path("admin/monitor/waits/<int:wait_id>", admin.site.admin_view(views.wait_action),
         name="monitor-wait-action"),
]
