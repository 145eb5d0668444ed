from django.db import migrations, models


class Migration(migrations.Migration):
    """The product an app view was of, by its catalogue code (issue 19's product_interest
    journey grouped views by a hash of the interaction's subject). A constant default: no
    table rewrite."""

    dependencies = [
        ("customers", "0017_import_kind_products"),
    ]

    operations = [
        migrations.AddField(
            model_name="interaction",
            name="product_code",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=32, verbose_name="product code"
            ),
        ),
    ]
