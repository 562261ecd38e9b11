"""Admin: sync groups (type, size, active, leader, members) and who waits where, for how long.

Actions: close a group, release a waiting participant, fail a waiting participant. Each calls a
service; nothing here writes directly.
"""

from django.contrib import admin, messages
from django.db.models import Count, Q

from . import services
from .models import BarrierWait, PendingFailure, SyncGroup, SyncGroupMember


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MemberInline(ReadOnlyMixin, admin.TabularInline):
    model = SyncGroupMember
    fields = ("participant", "joined_at", "joined_by", "left_at", "left_reason")
    readonly_fields = fields
    extra = 0


@admin.register(SyncGroup)
class SyncGroupAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "group_type", "size", "n_active_participants", "active", "leader",
                    "formed_by", "created_at", "end_time", "end_reason")
    list_filter = ("active", "group_type")
    search_fields = ("group_type", "formed_by")
    readonly_fields = ("group_type", "group_class", "formed_by", "active", "leader",
                       "n_active_participants", "initial_group_size", "min_group_size",
                       "max_group_size", "join_existing_groups", "vars", "created_at", "end_time",
                       "end_reason")
    exclude = ("members",)
    inlines = [MemberInline]
    actions = ["close_groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("leader").annotate(
            _size=Count("memberships", filter=Q(memberships__left_at__isnull=True)))

    @admin.display(description="members", ordering="_size")
    def size(self, obj: SyncGroup) -> int:
        return obj._size

    @admin.action(description="Close the selected groups (members waiting at their barriers go on)")
    def close_groups(self, request, queryset) -> None:
        closed = sum(services.sync_group_close(group_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Closed {closed} group(s).", messages.SUCCESS)


class WaitingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("waiting", "Waiting now"), ("released", "Released")]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        return queryset


@admin.register(BarrierWait)
class BarrierWaitAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("participant", "barrier_id", "group", "arrived_at", "waited", "deadline",
                    "released_at", "outcome", "released_by")
    list_filter = (WaitingFilter, "barrier_id", "outcome")
    search_fields = ("barrier_id",)
    list_select_related = ("participant",)
    readonly_fields = ("participant", "barrier_id", "barrier_class", "position", "group",
                       "arrived_at", "deadline", "on_timeout", "released_at", "released_by",
                       "outcome", "var_updates")
    actions = ["release_waits", "fail_waiting"]

    @admin.display(description="waited")
    def waited(self, obj: BarrierWait) -> str:
        seconds = int(obj.waited_seconds)
        return f"{seconds // 60}:{seconds % 60:02d}" + ("" if obj.released_at else " (waiting)")

    @admin.action(description="Release the selected waiting participants (they go on)")
    def release_waits(self, request, queryset) -> None:
        released = sum(services.barrier_wait_release(wait_id=pk) for pk in
                       queryset.filter(released_at__isnull=True).values_list("pk", flat=True))
        self.message_user(request, f"Released {released} participant(s).", messages.SUCCESS)

    @admin.action(description="Fail the selected waiting participants")
    def fail_waiting(self, request, queryset) -> None:
        failed = sum(services.barrier_wait_fail(wait_id=pk) for pk in
                     queryset.filter(released_at__isnull=True).values_list("pk", flat=True))
        self.message_user(request, f"Failed {failed} participant(s).", messages.SUCCESS)


@admin.register(PendingFailure)
class PendingFailureAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("participant", "kind", "reason", "created_at", "applied_at")
    list_filter = ("kind",)
