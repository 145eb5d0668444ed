from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False  # interactions are many and written all day (app activity among them)

    dependencies = [
        ("customers", "0018_interaction_product_code"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="interaction",
            index=models.Index(
                condition=models.Q(("product_code", ""), _negated=True),
                fields=["occurred_at"],
                name="interaction_product_view_idx",
            ),
        ),
    ]
