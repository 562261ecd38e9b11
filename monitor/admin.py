"""The monitor in the admin index: the "Monitor" app (its heading links to /admin/monitor/) with
the study controls, whose list opens the monitor."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .models import Recruitment


@admin.register(Recruitment)
class RecruitmentAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return redirect("monitor")
