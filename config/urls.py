from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView


def healthz(request):
    """Liveness probe, and the trivial view the page-flow benchmark compares against."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    # Before admin.site.urls: /admin/monitor/ is the live monitor, not the app's model index.
    path("", include("monitor.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("healthz", healthz, name="healthz"),
    path("", include("experiments.urls")),
    path("", include("assets.urls")),
    path("", include("sync.urls")),
    path("", include("exports.urls")),
]
