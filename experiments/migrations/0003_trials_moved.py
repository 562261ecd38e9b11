"""Trials, nodes and networks now belong to the trials app (trials/migrations/0001_initial.py).

State only: the tables stay where they are and keep their rows.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('experiments', '0002_trials'),
        ('trials', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name='network', name='head'),
                migrations.DeleteModel(name='Trial'),
                migrations.DeleteModel(name='Node'),
                migrations.DeleteModel(name='Network'),
            ],
        ),
    ]
