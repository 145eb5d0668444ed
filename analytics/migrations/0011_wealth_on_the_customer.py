"""The wealth value tier is written to the customer record as wealth (Customer.Tier gained
it in customers 0020); it was written as affluent while the customer had three levels.
Only a wealth threshold still mapped to affluent changes: an admin's own mapping stays.
The next nightly run moves the wealth customers' record (each change published)."""

from django.db import migrations, models


def wealth_as_wealth(apps, schema_editor):
    # The data-change trail names this migration as the change's author.
    schema_editor.execute(
        "SELECT set_config('bankcrm.actor_label', 'migration:analytics.0011', true)"
    )
    TierThreshold = apps.get_model("analytics", "TierThreshold")
    TierThreshold.objects.filter(code="wealth", customer_tier="affluent").update(
        customer_tier="wealth"
    )


def wealth_as_affluent(apps, schema_editor):
    TierThreshold = apps.get_model("analytics", "TierThreshold")
    TierThreshold.objects.filter(code="wealth", customer_tier="wealth").update(
        customer_tier="affluent"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0010_report_on_demand_once"),
        ("customers", "0020_wealth_tier"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tierthreshold",
            name="customer_tier",
            field=models.CharField(
                choices=[
                    ("mass", "Mass"),
                    ("affluent", "Affluent"),
                    ("wealth", "Wealth"),
                    ("private", "Private banking"),
                ],
                max_length=12,
                verbose_name="tier on the customer record",
            ),
        ),
        migrations.RunPython(wealth_as_wealth, wealth_as_affluent),
    ]
