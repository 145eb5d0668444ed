"""Customer.Tier gains wealth (between affluent and private banking: analytics' value tier
from 500k CNY, which was written to the customer as affluent). Existing rows keep their
value; the tier is now held by a check constraint, like a product's minimum tier, whose
constraint admits wealth too (a product for wealth customers admits wealth and private)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bankcrm", "0009_staff_notifications"),
        ("customers", "0019_interaction_product_view_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="product",
            name="product_min_tier_valid",
        ),
        migrations.AlterField(
            model_name="customer",
            name="tier",
            field=models.CharField(
                choices=[
                    ("mass", "Mass"),
                    ("affluent", "Affluent"),
                    ("wealth", "Wealth"),
                    ("private", "Private banking"),
                ],
                default="mass",
                max_length=12,
                verbose_name="value tier",
            ),
        ),
        migrations.AlterField(
            model_name="product",
            name="min_tier",
            field=models.CharField(
                choices=[
                    ("mass", "Mass"),
                    ("affluent", "Affluent"),
                    ("wealth", "Wealth"),
                    ("private", "Private banking"),
                ],
                default="mass",
                max_length=12,
                verbose_name="minimum customer tier",
            ),
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.CheckConstraint(
                condition=models.Q(("tier__in", ["mass", "affluent", "wealth", "private"])),
                name="customer_tier_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(
                condition=models.Q(("min_tier__in", ("mass", "affluent", "wealth", "private"))),
                name="product_min_tier_valid",
            ),
        ),
    ]
