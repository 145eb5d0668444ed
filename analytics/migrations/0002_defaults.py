"""The value tiers, product margins and value policy a bank starts from (editable in the
admin): private banking from 6M CNY, wealth from 500k, affluent from 50k, mass."""

from decimal import Decimal

from django.db import migrations

TIERS = [
    ("private", "私人银行", "Private banking", Decimal(6_000_000), "private"),
    ("wealth", "财富客户", "Wealth", Decimal(500_000), "affluent"),
    ("affluent", "富裕客户", "Affluent", Decimal(50_000), "affluent"),
    ("mass", "大众客户", "Mass", Decimal(0), "mass"),
]
MARGINS = {
    "current": (Decimal("1.500"), Decimal(0)),
    "time_deposit": (Decimal("0.600"), Decimal(0)),
    "wealth": (Decimal("0.800"), Decimal(0)),
    "loan": (Decimal("2.000"), Decimal(0)),
    "card": (Decimal(0), Decimal(300)),
}


def seed(apps, schema_editor):
    TierThreshold = apps.get_model("analytics", "TierThreshold")
    ProductMargin = apps.get_model("analytics", "ProductMargin")
    ValuePolicy = apps.get_model("analytics", "ValuePolicy")
    for code, name, name_en, value, customer_tier in TIERS:
        TierThreshold.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "min_value": value,
                "customer_tier": customer_tier,
            },
        )
    for kind, (pct, fee) in MARGINS.items():
        ProductMargin.objects.get_or_create(
            kind=kind, defaults={"margin_percent": pct, "fee_per_year": fee}
        )
    ValuePolicy.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
