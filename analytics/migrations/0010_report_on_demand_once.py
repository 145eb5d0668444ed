"""On demand, one run of a report definition waits or is generated at a time (issue 21):
"Generate now" clicked again makes no second run. Runs asked for again before this, while
an earlier one waited, are failed (the earliest is generated) so the index can be built."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0009_kpi_changes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            """
            UPDATE analytics_reportrun r
               SET status = 'failed', finished_at = now(),
                   failure = 'Asked for again while an earlier run waited: not generated.'
             WHERE r.requested_by_id IS NOT NULL AND r.status IN ('pending', 'running')
               AND EXISTS (SELECT FROM analytics_reportrun e
                            WHERE e.definition_id = r.definition_id AND e.id < r.id
                              AND e.requested_by_id IS NOT NULL
                              AND e.status IN ('pending', 'running'))
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name="reportrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("requested_by__isnull", False), ("status__in", ["pending", "running"])
                ),
                fields=("definition",),
                name="report_run_one_on_demand",
            ),
        ),
    ]
