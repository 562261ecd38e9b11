"""The trials app takes over the tables that experiments/migrations/0002_trials.py created.

State only: the tables keep their names (`experiments_network`, `experiments_node`,
`experiments_trial`, see each model's `db_table`), so an existing database keeps its rows and a
new one gets the tables from experiments 0002. `experiments.0003_trials_moved` removes the models
from the experiments app's state afterwards. Content types (admin history, permissions) are
relabelled so they follow the models.
"""

import django.db.models.deletion
from django.db import migrations, models

import trials.models

MODELS = ("network", "node", "trial")


def relabel_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if ContentType.objects.filter(app_label="trials", model=model).exists():
            continue
        ContentType.objects.filter(app_label="experiments", model=model).update(app_label="trials")


def unlabel_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label="experiments", model=model).exists():
            ContentType.objects.filter(app_label="trials", model=model).update(app_label="experiments")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('experiments', '0002_trials'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Network',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('type', models.CharField(db_index=True, editable=False, help_text='the Python class of this row (its name)', max_length=100)),
                        ('vars', models.JSONField(blank=True, default=dict, help_text='extra per-row data')),
                        ('trial_maker_id', models.CharField(max_length=255)),
                        ('position', models.IntegerField(default=0, help_text='index of the chain within its owner')),
                        ('n_nodes', models.IntegerField(default=0, help_text='alive nodes')),
                        ('full', models.BooleanField(default=False, help_text='reached max_nodes_per_chain: takes no trials')),
                        ('failed', models.BooleanField(default=False)),
                        ('failed_reason', models.CharField(blank=True, max_length=1024)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('participant', models.ForeignKey(blank=True, help_text="owner of a 'within' chain; empty for shared chains", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='networks', to='experiments.participant')),
                    ],
                    options={
                        'db_table': 'experiments_network',
                        'ordering': ['id'],
                    },
                ),
                migrations.CreateModel(
                    name='Node',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('type', models.CharField(db_index=True, editable=False, help_text='the Python class of this row (its name)', max_length=100)),
                        ('vars', models.JSONField(blank=True, default=dict, help_text='extra per-row data')),
                        ('trial_maker_id', models.CharField(max_length=255)),
                        ('degree', models.IntegerField(default=0, help_text='position in its chain (0: the start node)')),
                        ('block', models.CharField(blank=True, default='default', max_length=255)),
                        ('key', models.CharField(blank=True, help_text='identity of a static node across deploys', max_length=80)),
                        ('seed', models.JSONField(blank=True, help_text="what the parent's trials produced (chains)", null=True)),
                        ('definition', models.JSONField(blank=True, default=dict)),
                        ('n_trials', models.IntegerField(default=0, help_text='non-failed, non-repeat trials')),
                        ('shuffle', models.IntegerField(default=trials.models.random_shuffle, editable=False, help_text='random tie-break order')),
                        ('ready', models.BooleanField(default=True, help_text='False while async_on_deploy has not run')),
                        ('async_attempts', models.IntegerField(default=0)),
                        ('async_error', models.TextField(blank=True)),
                        ('async_deployed_at', models.DateTimeField(blank=True, null=True)),
                        ('failed', models.BooleanField(default=False)),
                        ('failed_reason', models.CharField(blank=True, max_length=1024)),
                        ('failed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('network', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='nodes', to='trials.network')),
                        ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='children', to='trials.node')),
                    ],
                    options={
                        'db_table': 'experiments_node',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddField(
                    model_name='network',
                    name='head',
                    field=models.ForeignKey(blank=True, help_text='newest alive node', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='trials.node'),
                ),
                migrations.CreateModel(
                    name='Trial',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('type', models.CharField(db_index=True, editable=False, help_text='the Python class of this row (its name)', max_length=100)),
                        ('vars', models.JSONField(blank=True, default=dict, help_text='extra per-row data')),
                        ('trial_maker_id', models.CharField(max_length=255)),
                        ('number', models.IntegerField(help_text="1, 2, ... within the participant's trials of this maker")),
                        ('block', models.CharField(blank=True, default='default', max_length=255)),
                        ('definition', models.JSONField(blank=True, default=dict)),
                        ('answer', models.JSONField(blank=True, null=True)),
                        ('score', models.FloatField(blank=True, null=True)),
                        ('finalized', models.BooleanField(default=False)),
                        ('finalized_at', models.DateTimeField(blank=True, null=True)),
                        ('time_taken', models.FloatField(blank=True, help_text='seconds from allocation to answer', null=True)),
                        ('is_repeat_trial', models.BooleanField(default=False)),
                        ('failed', models.BooleanField(default=False)),
                        ('failed_reason', models.CharField(blank=True, max_length=1024)),
                        ('failed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('network', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='trials', to='trials.network')),
                        ('node', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='trials', to='trials.node')),
                        ('participant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='trials', to='experiments.participant')),
                        ('repeat_of', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='repeats', to='trials.trial')),
                    ],
                    options={
                        'db_table': 'experiments_trial',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='node',
                    index=models.Index(condition=models.Q(('failed', False), ('ready', True)), fields=['trial_maker_id', 'block', 'n_trials', 'shuffle'], name='node_alloc'),
                ),
                migrations.AddIndex(
                    model_name='node',
                    index=models.Index(condition=models.Q(('ready', False)), fields=['ready', 'created_at'], name='node_not_ready'),
                ),
                migrations.AddConstraint(
                    model_name='node',
                    constraint=models.UniqueConstraint(condition=models.Q(('key', ''), _negated=True), fields=('trial_maker_id', 'key'), name='one_static_node_per_key'),
                ),
                migrations.AddConstraint(
                    model_name='node',
                    constraint=models.UniqueConstraint(condition=models.Q(('failed', False), ('network__isnull', False)), fields=('network', 'degree'), name='one_alive_node_per_degree'),
                ),
                migrations.AddIndex(
                    model_name='network',
                    index=models.Index(fields=['trial_maker_id', 'full', 'failed'], name='network_alloc'),
                ),
                migrations.AddConstraint(
                    model_name='network',
                    constraint=models.UniqueConstraint(condition=models.Q(('participant__isnull', True)), fields=('trial_maker_id', 'position'), name='one_shared_network_per_position'),
                ),
                migrations.AddConstraint(
                    model_name='network',
                    constraint=models.UniqueConstraint(condition=models.Q(('participant__isnull', False)), fields=('trial_maker_id', 'participant', 'position'), name='one_own_network_per_position'),
                ),
                migrations.AddIndex(
                    model_name='trial',
                    index=models.Index(fields=['participant', 'trial_maker_id', 'node'], name='trial_participant'),
                ),
                migrations.AddIndex(
                    model_name='trial',
                    index=models.Index(fields=['trial_maker_id', 'finalized', 'failed'], name='trial_maker_status'),
                ),
                migrations.AddConstraint(
                    model_name='trial',
                    constraint=models.UniqueConstraint(fields=('participant', 'trial_maker_id', 'number'), name='one_trial_per_number'),
                ),
            ],
        ),
        migrations.RunPython(relabel_content_types, unlabel_content_types),
    ]
