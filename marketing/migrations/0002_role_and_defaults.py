"""The marketing_manager role's group (bankcrm/roles.py), the prohibited promises every
bank starts with (compliance keeps the list in admin) and the default frequency cap."""

from django.db import migrations

ROLE = "marketing_manager"
PHRASES = [
    ("保本", "承诺保本（资管新规禁止刚性兑付）"),
    ("保本保息", "承诺保本保息"),
    ("稳赚", "承诺收益"),
    ("稳赚不赔", "承诺收益"),
    ("无风险", "否认风险"),
    ("零风险", "否认风险"),
    ("收益保证", "承诺收益"),
    ("保证收益", "承诺收益"),
    ("刚性兑付", "承诺兑付"),
    ("100%安全", "否认风险"),
]


def forwards(apps, schema_editor):
    # The audit trail's data changes (the role, the phrases) name this migration.
    schema_editor.execute(
        "SELECT set_config('bankcrm.actor_label', 'migration:marketing.0002', true)"
    )
    apps.get_model("auth", "Group").objects.get_or_create(name=ROLE)
    phrase_model = apps.get_model("marketing", "ProhibitedPhrase")
    for phrase, reason in PHRASES:
        phrase_model.objects.get_or_create(phrase=phrase, defaults={"reason": reason})
    cap_model = apps.get_model("marketing", "FrequencyCap")
    if not cap_model.objects.filter(is_active=True).exists():
        cap_model.objects.create(max_messages=2, window_days=7, is_active=True)


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ROLE, user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0001_initial"),
        ("bankcrm", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
