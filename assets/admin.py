"""Admin: every asset with its kind, deposit status, attempts and last error; links to holders;
an inline audio/image preview; "re-deposit" for failed or stuck deposits."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from . import services
from .models import Asset, AssetLink
from .selectors import asset_url


class DepositStateFilter(admin.SimpleListFilter):
    title = "deposit"
    parameter_name = "deposit"

    def lookups(self, request, model_admin):
        return [("failed", "Failed"), ("pending", "Pending or depositing"), ("deposited", "Deposited")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(status=Asset.Status.FAILED)
        if self.value() == "pending":
            return queryset.filter(status__in=(Asset.Status.PENDING, Asset.Status.DEPOSITING))
        if self.value() == "deposited":
            return queryset.filter(status=Asset.Status.DEPOSITED)
        return queryset


class AssetLinkInline(admin.TabularInline):
    model = AssetLink
    extra = 0
    fields = ("holder_kind", "holder_id", "local_key", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("key_within_experiment", "kind", "status", "attempts", "size", "personal",
                    "holders", "preview", "deposited_at")
    list_filter = (DepositStateFilter, "kind", "personal")
    search_fields = ("key_within_experiment", "sha256", "storage_key")
    readonly_fields = [f.name for f in Asset._meta.fields] + ["preview"]
    inlines = [AssetLinkInline]
    actions = ["redeposit"]
    list_per_page = 100

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("links")

    def has_add_permission(self, request):
        return False

    @admin.display(description="holders")
    def holders(self, obj: Asset) -> str:
        return format_html_join(", ", "{} {}: {}", ((link.holder_kind, link.holder_id, link.local_key)
                                                    for link in obj.links.all())) or "-"

    @admin.display(description="preview")
    def preview(self, obj: Asset) -> str:
        if obj.is_folder or obj.kind == Asset.Kind.EXTERNAL_S3 and not obj.bucket:
            return "-"
        content_type = obj.content_type or ""
        try:
            url = asset_url(obj)
        except Exception:  # a misconfigured store must not break the list
            return "-"
        if content_type.startswith("audio/"):
            return format_html('<audio controls preload="none" src="{}" style="height:2em"></audio>', url)
        if content_type.startswith("image/"):
            return format_html('<img src="{}" alt="" style="max-height:4em;max-width:8em">', url)
        return format_html('<a href="{}">open</a>', url)

    @admin.action(description="Re-deposit selected assets")
    def redeposit(self, request, queryset):
        count = 0
        for asset_id in queryset.values_list("id", flat=True):
            services.asset_redeposit(asset_id=asset_id)
            count += 1
        self.message_user(request, f"{count} asset(s) queued for deposit.", messages.SUCCESS)
