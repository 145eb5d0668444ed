from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Refused accesses become security events; a user's searches by identifier get their
    # own index for the anomaly rules that count them (issue 16, items 7 and 9). Built
    # without locking out writers: the access log is large and written all the time.
    atomic = False

    dependencies = [
        ("bankcrm", "0007_audit_page_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="securityevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("login", "Signed in"),
                    ("logout", "Signed out"),
                    ("login_failed", "Sign-in failed"),
                    ("locked_out", "Locked out"),
                    ("mfa_enrolled", "Two-factor set up"),
                    ("mfa_verified", "Two-factor passed"),
                    ("mfa_failed", "Two-factor failed"),
                    ("frozen", "Account frozen"),
                    ("unfrozen", "Account unfrozen"),
                    ("delegation_expired", "Delegation expired"),
                    ("access_refused", "Access refused"),
                ],
                max_length=20,
                verbose_name="event",
            ),
        ),
        AddIndexConcurrently(
            model_name="accesslog",
            index=models.Index(
                condition=models.Q(("action", "search")),
                fields=["actor", "-at"],
                name="accesslog_search_idx",
            ),
        ),
    ]
