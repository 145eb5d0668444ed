"""The product_manager role (bankcrm.roles.Role.PRODUCT_MANAGER): a group that may add,
change and view catalogue products and add and view their documents in the admin (with
is_staff set on the user). Nobody deletes a product (it is closed) or a document version
(append-only). The permissions are created here, not left to post_migrate, so the group
has them as soon as this migration has run."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE = "product_manager"
PERMISSIONS = [
    ("product", "add"), ("product", "change"), ("product", "view"),
    ("productdocument", "add"), ("productdocument", "view"),
]  # fmt: skip


def create_role(apps, schema_editor):
    # The audit trail's data change (auth_group_permissions) names this migration.
    schema_editor.execute(
        "SELECT set_config('bankcrm.actor_label', 'migration:customers.0016', true)"
    )
    # The real app config (the migration state's stub has no models module); the models
    # and content types are the migration state's.
    create_permissions(global_apps.get_app_config("customers"), apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=ROLE)
    wanted = [f"{action}_{model}" for model, action in PERMISSIONS]
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="customers", codename__in=wanted)
    )


def remove_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ROLE, user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_catalogue_for_holdings"),
        ("bankcrm", "0002_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    # On a new database the role is set up with the others, before the audit trail's
    # data-change triggers exist (as bankcrm 0002's roles are); on a live one the grant is
    # recorded as a data change by this migration.
    run_before = [("compliance", "0002_data_changes")]

    operations = [migrations.RunPython(create_role, remove_role)]
