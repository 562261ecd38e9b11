"""Static nodes at deploy: created once by key, failed when dropped from the experiment and
restored when they return. Runs under the maker lock; idempotent.
"""

import copy
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.utils import timezone

from assets.services import holders_register_pending

from ..models import Node
from .allocation import copy_definition
from .async_deploy import nodes_async_deploy_schedule
from .locking import joined_transaction, trial_maker_lock

REMOVED_AT_DEPLOY = "no longer in the experiment (removed at deploy)"


def node_from_template(template: Node, cls: type[Node] | None = None, **fields: Any) -> Node:
    node = (cls or type(template))(
        definition=copy_definition(template.definition), block=template.block or "default",
        seed=copy.deepcopy(template.seed), vars=copy_definition(template.vars), **fields,
    )
    if template.assets:
        node.add_assets(dict(template.assets))
    node.ready = not node.has_async_on_deploy()
    return node


def static_nodes_deploy(*, maker, progress: Callable[[str, int], Any] | None = None) -> dict[str, int]:
    """Create the maker's nodes that are not in the database yet (idempotent).

    Nodes are identified by `key` (a hash of class, block and definition), so a redeploy creates
    only new ones; nodes dropped from the experiment stop being allocated (failed with a reason)
    and come back if they return.
    """
    with joined_transaction():
        trial_maker_lock(trial_maker_id=maker.id)
        keys = maker.node_keys()
        existing = set(Node.objects.filter(trial_maker_id=maker.id).exclude(key="").values_list("key", flat=True))
        missing = [(key, template) for key, template in zip(keys, maker.nodes, strict=True) if key not in existing]
        bar = progress(f"nodes of {maker.id}", len(missing)) if progress else None
        batch_size = 500
        for start in range(0, len(missing), batch_size):
            batch = [node_from_template(template, trial_maker_id=maker.id, key=key)
                     for key, template in missing[start:start + batch_size]]
            Node.objects.bulk_create(batch)
            holders_register_pending(batch)  # the nodes' declared assets, by local key
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        if missing:
            with connection.cursor() as cursor:  # fresh statistics: allocation plans as an anti-join
                cursor.execute("ANALYZE experiments_node")
        current = set(keys)
        removed = Node.objects.filter(trial_maker_id=maker.id, failed=False).exclude(key="").exclude(
            key__in=current).update(failed=True, failed_reason=REMOVED_AT_DEPLOY, failed_at=timezone.now())
        restored = Node.objects.filter(trial_maker_id=maker.id, failed=True, failed_reason=REMOVED_AT_DEPLOY,
                                       key__in=current).update(failed=False, failed_reason="", failed_at=None)
        nodes_async_deploy_schedule(trial_maker_id=maker.id)
        return {"created": len(missing), "removed": removed, "restored": restored}
