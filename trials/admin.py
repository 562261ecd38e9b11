"""Django admin for trials, nodes and networks: read-only views to watch a study run.

Rows change only through the services (counters and chains must stay consistent), so these
admins browse and filter; a node lists its trials and a network its chain, in order.
"""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import Network, Node, Trial

#: Rows listed inline on a node or network page (the full list is one click away).
INLINE_LIMIT = 200


def _short(value, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(model: str, pk) -> str:
    return reverse(f"admin:trials_{model}_change", args=[pk])


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Trial)
class TrialAdmin(ReadOnlyAdmin):
    list_display = ("id", "trial_maker_id", "type", "participant", "node_link", "number", "block",
                    "finalized", "failed", "score", "is_repeat_trial", "created_at")
    # Filters whose choices come from indexed columns: the trials table is the big one.
    list_filter = ("trial_maker_id", "finalized", "failed", "is_repeat_trial", "type")
    search_fields = ("=id", "=participant__id", "participant__worker_id", "=node__id")
    list_select_related = ("participant",)
    show_full_result_count = False

    @admin.display(description="node", ordering="node_id")
    def node_link(self, obj: Trial) -> str:
        return format_html('<a href="{}">{}</a>', _link("node", obj.node_id), obj.node_id)


@admin.register(Node)
class NodeAdmin(ReadOnlyAdmin):
    list_display = ("id", "trial_maker_id", "type", "block", "network", "degree", "n_trials", "ready",
                    "failed", "created_at")
    list_filter = ("trial_maker_id", "failed", "ready", "block", "type")
    search_fields = ("=id", "=network__id")
    readonly_fields = ("trials_table",)
    show_full_result_count = False

    @admin.display(description="trials")
    def trials_table(self, obj: Node) -> str:
        trials = list(obj.trials.select_related("participant").order_by("id")[:INLINE_LIMIT])
        rows = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            ((_link("trial", t.pk), t.pk, t.participant_id, t.type, t.finalized, t.failed, t.score,
              _short(t.answer)) for t in trials),
        )
        more = reverse("admin:trials_trial_changelist") + f"?node__id__exact={obj.pk}"
        return format_html(
            '<table><tr><th>trial</th><th>participant</th><th>type</th><th>finalized</th><th>failed</th>'
            '<th>score</th><th>answer</th></tr>{}</table><p><a href="{}">All trials of this node</a></p>',
            rows, more,
        )


@admin.register(Network)
class NetworkAdmin(ReadOnlyAdmin):
    list_display = ("id", "trial_maker_id", "type", "participant", "position", "n_nodes", "full", "failed",
                    "created_at")
    list_filter = ("trial_maker_id", "full", "failed", "type")
    search_fields = ("=id", "=participant__id")
    readonly_fields = ("chain",)

    @admin.display(description="chain (in order)")
    def chain(self, obj: Network) -> str:
        nodes = list(obj.nodes.order_by("degree", "id")[:INLINE_LIMIT])
        rows = format_html_join(
            "", '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            ((n.degree, _link("node", n.pk), n.pk, n.type, n.n_trials, "failed" if n.failed else "alive",
              _short(n.seed), _short(n.definition)) for n in nodes),
        )
        return format_html(
            '<table><tr><th>degree</th><th>node</th><th>type</th><th>trials</th><th>status</th><th>seed</th>'
            '<th>definition</th></tr>{}</table>', rows,
        )
