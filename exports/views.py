"""Views: `/basic_data` for staff or API tokens, and the dashboard's export page. Thin."""

import hmac
import io

from django import forms
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from experiments.loading import get_experiment

from . import selectors, services
from .assets_hook import ASSET_MODES
from .basic_data import DataError, basic_data_sheet, rows_table
from .csvsafe import write_rows
from .storage import artifact_storage

#: Query parameters that look like credentials: refused, credentials belong in a header.
CREDENTIAL_PARAMS = frozenset({"token", "api_key", "apikey", "key", "password", "auth", "access_token"})


def _token_ok(request: HttpRequest) -> bool:
    expected = getattr(settings, "BASIC_DATA_TOKEN", "")
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not expected or scheme.lower() not in ("token", "bearer") or not value.strip():
        return False
    return hmac.compare_digest(value.strip().encode(), expected.encode())


def _error(status: int, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Token realm="basic_data"'
    return response


@require_GET
@never_cache
def basic_data(request: HttpRequest) -> HttpResponse:
    """`/basic_data?sheet=NAME[&format=csv]`: an experiment's basic data, for staff or a token."""
    if CREDENTIAL_PARAMS & {k.lower() for k in request.GET}:
        return _error(400, "credentials are not accepted in the query string; "
                           "send 'Authorization: Token <token>'")
    user = getattr(request, "user", None)
    is_staff = bool(user and user.is_authenticated and user.is_active and user.is_staff)
    if not is_staff and not _token_ok(request):
        if request.headers.get("Authorization") or (user and user.is_authenticated):
            return _error(403, "not allowed")
        return _error(401, "authentication required (a staff session or an API token)")
    params = {k: v for k, v in request.GET.items() if k not in ("sheet", "format")}
    fmt = request.GET.get("format", "json")
    if fmt not in ("json", "csv"):
        return _error(400, "format must be json or csv")
    sheet = request.GET.get("sheet")
    if fmt == "csv" and not sheet:
        return _error(400, "format=csv needs a sheet")
    try:
        rows = basic_data_sheet(get_experiment(), sheet, context={"request": request}, **params)
    except DataError as exc:
        return _error(400, str(exc))
    if fmt == "json":
        if isinstance(rows, dict):
            rows = {name: list(sheet_rows) for name, sheet_rows in rows.items()}
        return JsonResponse(rows if isinstance(rows, dict) else list(rows), safe=False,
                            encoder=DjangoJSONEncoder)
    header, table = rows_table(list(rows))
    buffer = io.StringIO()
    write_rows(buffer, header, table)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in sheet)
    response["Content-Disposition"] = f'attachment; filename="{safe}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ExportForm(forms.Form):
    anonymize = forms.BooleanField(required=False, help_text="no worker ids, IPs, user agents; "
                                                             "personal assets left out")
    assets = forms.ChoiceField(choices=[(m, m) for m in ASSET_MODES], initial="experiment")
    include_source = forms.BooleanField(required=False, initial=True, label="Include source")


@staff_member_required
@never_cache
@require_http_methods(["GET", "POST"])
def dashboard_export(request: HttpRequest) -> HttpResponse:
    """Start an export (a Celery job) and list earlier ones with their progress."""
    form = ExportForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            services.export_job_create(
                anonymize=form.cleaned_data["anonymize"], assets=form.cleaned_data["assets"],
                include_source=form.cleaned_data["include_source"],
                requested_by=request.user.get_username(),
            )
            return redirect("dashboard-export")
        status = 400
    else:
        status = 200
    jobs = list(selectors.export_jobs_recent())
    return render(request, "exports/dashboard.html", {"form": form, "jobs": jobs}, status=status)


@staff_member_required
@never_cache
@require_GET
def dashboard_export_status(request: HttpRequest) -> JsonResponse:
    """Progress of the recent jobs, polled by the dashboard page."""
    return JsonResponse({"jobs": [
        {"id": str(j.id), "status": j.status, "stage": j.stage, "progress": j.progress,
         "error": j.error, "size": j.size, "download": bool(j.artifact)}
        for j in selectors.export_jobs_recent()
    ]})


@staff_member_required
@never_cache
@require_GET
def dashboard_export_download(request: HttpRequest, job_id) -> FileResponse:
    job = selectors.export_job_by_id(job_id)
    if job is None or not job.artifact:
        raise Http404("No such export")
    stream = artifact_storage().open(job.artifact, "rb")
    filename = job.artifact.rsplit("/", 1)[-1]
    response = FileResponse(stream, as_attachment=True, filename=filename,
                            content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    return response
