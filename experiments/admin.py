"""Django admin: watch participants, read their answers, fail or approve them.

Engine state is read-only here: the admin changes a participant only through
experiments.services (failing, setting the status), like every other writer. Every list view
selects its related rows up front, so a page costs the same few queries however many rows it shows.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from . import services
from .models import Deployment, ModuleState, Participant, Response, TimelineEvent

SHORT_JSON = 80


def admin_url(obj: Any) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def changelist_url(model: type, **filters: Any) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def pretty_json(value: Any) -> str:
    """JSON as an indented, escaped <pre> block (answers, vars, engine state)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)


def short_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHORT_JSON else text[: SHORT_JSON - 1] + "…"


def participant_link(participant: Participant) -> str:
    label = f"#{participant.pk} {participant.worker_id}".strip()
    return format_html('<a href="{}">{}</a>', admin_url(participant), label)


class ParticipantLinkMixin:
    """A linked participant column; needs list_select_related = ["participant"]."""

    @admin.display(description="participant", ordering="participant_id")
    def participant_column(self, obj) -> str:
        return participant_link(obj.participant)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the engine: viewable only. An accepted answer is never lost by a click;
    deleting a participant (with all their rows) is the one way to remove data."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- Participants ---------------------------------------------------------------------------


class ModuleStateInline(admin.TabularInline):
    model = ModuleState
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["module_id", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class FailParticipantsForm(forms.Form):
    reason = forms.CharField(
        max_length=1024, initial="failed by an administrator",
        help_text="Stored as the participant's failed_reason.",
        widget=forms.TextInput(attrs={"size": 60}),
    )


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["id", "worker_id", "status", "failed", "complete", "progress_percent",
                    "page_label", "is_bot", "created_at"]
    list_display_links = ["id", "worker_id"]
    list_filter = ["status", "failed", "complete", "is_bot", "recruiter", "created_at"]
    search_fields = ["worker_id", "assignment_id"]
    search_help_text = "Worker id or assignment id (or part of one)."
    ordering = ["-id"]
    list_per_page = 100
    actions = ["fail_participants", "mark_approved", "mark_rejected"]
    inlines = [ModuleStateInline]
    fieldsets = [
        ("Identity", {"fields": ["id", "worker_id", "assignment_id", "recruiter", "is_bot",
                                 "entry_params_pretty", "user_agent", "ip", "token"]}),
        ("Status", {"fields": ["status", "failed", "failed_reason", "failure_tags", "failed_at",
                               "complete", "completed_at"]}),
        ("Where they are", {"fields": ["page_label", "progress_percent", "time_credit", "position",
                                       "page_uuid", "page_started_at", "last_active_at", "created_at",
                                       "related"]}),
        ("Data", {"fields": ["vars_pretty", "answer_pretty", "timeline_state_pretty"]}),
    ]
    # Only `status` is editable (through services.participant_set_status); the rest is engine state.
    readonly_fields = [
        "id", "worker_id", "assignment_id", "recruiter", "is_bot", "entry_params_pretty",
        "user_agent", "ip", "token", "failed", "failed_reason", "failure_tags", "failed_at",
        "complete", "completed_at", "page_label", "progress_percent", "time_credit", "position",
        "page_uuid", "page_started_at", "last_active_at", "created_at", "related", "vars_pretty",
        "answer_pretty", "timeline_state_pretty",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # participants arrive through /start/ (or bots), never by hand

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj: Participant) -> str:
        return f"{obj.progress:.0%}"

    @admin.display(description="IP address")
    def ip(self, obj: Participant) -> str:
        return obj.ip_address or "–"

    @admin.display(description="entry parameters")
    def entry_params_pretty(self, obj: Participant) -> str:
        return pretty_json(obj.entry_params)

    @admin.display(description="vars")
    def vars_pretty(self, obj: Participant) -> str:
        return pretty_json(obj.vars)

    @admin.display(description="last answer")
    def answer_pretty(self, obj: Participant) -> str:
        return pretty_json(obj.answer)

    @admin.display(description="timeline state")
    def timeline_state_pretty(self, obj: Participant) -> str:
        return pretty_json(obj.timeline_state)

    @admin.display(description="related")
    def related(self, obj: Participant) -> str:
        filters = {"participant__id__exact": obj.pk}
        return format_html(
            '<a href="{}">{} responses</a> · <a href="{}">{} module states</a> · '
            '<a href="{}">{} timeline events</a>',
            changelist_url(Response, **filters), obj.responses.count(),
            changelist_url(ModuleState, **filters), obj.module_states.count(),
            changelist_url(TimelineEvent, **filters), obj.events.count(),
        )

    def save_model(self, request: HttpRequest, obj: Participant, form, change: bool) -> None:
        if change and "status" in form.changed_data:
            services.participant_set_status(participant_id=obj.pk, status=obj.status)

    @admin.action(description="Fail selected participants")
    def fail_participants(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Ask for a reason, then fail each participant through the service (idempotent)."""
        form = FailParticipantsForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            failed = sum(
                services.participant_fail(participant_id=pk, reason=reason, tags=["admin"])
                for pk in queryset.values_list("pk", flat=True)
            )
            skipped = queryset.count() - failed
            self.message_user(request, f"Failed {failed} participant(s)."
                              + (f" {skipped} had already failed." if skipped else ""), messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Fail participants",
            "opts": self.model._meta,
            "participants": queryset.order_by("pk")[:200],
            "count": queryset.count(),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/experiments/participant/fail_confirmation.html", context)

    def _set_status(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        for pk in pks:
            services.participant_set_status(participant_id=pk, status=status)
        self.message_user(request, f"Marked {len(pks)} participant(s) {status}.", messages.SUCCESS)

    @admin.action(description="Mark selected participants approved")
    def mark_approved(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, Participant.Status.APPROVED)

    @admin.action(description="Mark selected participants rejected")
    def mark_rejected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_status(request, queryset, Participant.Status.REJECTED)


# --- Rows the engine writes -----------------------------------------------------------------


@admin.register(Response)
class ResponseAdmin(ParticipantLinkMixin, ReadOnlyAdmin):
    list_display = ["id", "participant_column", "page_label", "module_id", "answer_short",
                    "time_taken_display", "created_at"]
    list_select_related = ["participant"]
    list_filter = ["module_id", "created_at"]
    search_fields = ["participant__worker_id", "page_label"]
    search_help_text = "Participant's worker id, or page label."
    ordering = ["-id"]
    list_per_page = 100
    fields = ["participant_column", "page_label", "module_id", "page_uuid", "answer_pretty",
              "metadata_pretty", "time_taken_display", "created_at"]
    readonly_fields = fields

    @admin.display(description="answer")
    def answer_short(self, obj: Response) -> str:
        return short_json(obj.answer)

    @admin.display(description="answer")
    def answer_pretty(self, obj: Response) -> str:
        return pretty_json(obj.answer)

    @admin.display(description="metadata")
    def metadata_pretty(self, obj: Response) -> str:
        return pretty_json(obj.metadata)

    @admin.display(description="time taken", ordering="time_taken")
    def time_taken_display(self, obj: Response) -> str:
        return "–" if obj.time_taken is None else f"{obj.time_taken:.1f} s"


@admin.register(ModuleState)
class ModuleStateAdmin(ParticipantLinkMixin, ReadOnlyAdmin):
    list_display = ["id", "participant_column", "module_id", "started_at", "finished_at", "is_finished"]
    list_select_related = ["participant"]
    list_filter = ["module_id", ("finished_at", admin.EmptyFieldListFilter)]
    search_fields = ["participant__worker_id", "module_id"]
    ordering = ["-id"]
    fields = ["participant_column", "module_id", "started_at", "finished_at", "vars_pretty"]
    readonly_fields = fields

    @admin.display(description="finished", boolean=True)
    def is_finished(self, obj: ModuleState) -> bool:
        return obj.finished

    @admin.display(description="vars")
    def vars_pretty(self, obj: ModuleState) -> str:
        return pretty_json(obj.vars)


@admin.register(TimelineEvent)
class TimelineEventAdmin(ParticipantLinkMixin, ReadOnlyAdmin):
    list_display = ["id", "participant_column", "kind", "label", "value_short", "created_at"]
    list_select_related = ["participant"]
    list_filter = ["kind", "created_at"]
    search_fields = ["participant__worker_id", "label"]
    ordering = ["-id"]
    fields = ["participant_column", "kind", "label", "value_pretty", "created_at"]
    readonly_fields = fields

    @admin.display(description="value")
    def value_short(self, obj: TimelineEvent) -> str:
        return short_json(obj.value)

    @admin.display(description="value")
    def value_pretty(self, obj: TimelineEvent) -> str:
        return pretty_json(obj.value)


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdmin):
    list_display = ["label", "created_at", "source_short", "experiment_path", "id"]
    search_fields = ["label", "experiment_path", "source_hash"]
    list_filter = ["label", "created_at"]
    fields = ["id", "label", "experiment_path", "source_hash", "created_at"]
    readonly_fields = fields

    @admin.display(description="source", ordering="source_hash")
    def source_short(self, obj: Deployment) -> str:
        return obj.source_hash[:12]

