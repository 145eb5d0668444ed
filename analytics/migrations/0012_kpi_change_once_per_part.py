"""A part redone whole (queues, campaigns, values) queues one waiting row, not one per
statement: a campaign's sending settled half a million deliveries, a statement each, and
each queued its own row (analytics/sql/analytics_kpi_changed.sql), looked up by a partial
index of the few such rows."""

from django.db import migrations, models

from bankcrm.sqlfiles import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0011_wealth_on_the_customer"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="kpichange",
            index=models.Index(
                condition=models.Q(("customer_id", None)),
                fields=["part"],
                name="kpichange_whole_idx",
            ),
        ),
        RunSQLFile("analytics", "analytics_kpi_changed", sha256="5cdf2dbda05af6fc"),
    ]
