from django.contrib import admin

from .models import ExportJob, Snapshot


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("created_at", "status", "anonymize", "assets", "progress", "requested_by", "size")
    list_filter = ("status", "anonymize", "assets")
    readonly_fields = [f.name for f in ExportJob._meta.fields]


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("created_at", "artifact", "size")
    readonly_fields = [f.name for f in Snapshot._meta.fields]
