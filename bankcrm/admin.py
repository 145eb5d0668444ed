from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from bankcrm.admin_mixins import ReadOnlyAdmin
from bankcrm.models import Branch, Heartbeat, StaffNotification, User
from bankcrm.roles import Role


def role_label(code: str) -> str:
    """A role (a group) by its translated name; a group that is not a role by its own."""
    return str(Role(code).label) if code in Role.values else code


class RoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Role.choices

    def queryset(self, request, queryset):
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(DjangoGroupAdmin):
    list_display = ["label", "name"]

    @admin.display(description=_("role"), ordering="name")
    def label(self, obj):
        return role_label(obj.name)


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "is_active", "user_count"]
    list_filter = ["region", "is_active"]
    search_fields = ["code", "name", "region"]
    ordering = ["code"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(user_count=Count("users"))

    @admin.display(description=_("users"), ordering="user_count")
    def user_count(self, obj):
        return obj.user_count


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = [
        "username",
        "last_name",
        "first_name",
        "branch",
        "role_names",
        "is_active",
        "frozen_at",
        "is_staff",
        "last_login",
    ]
    list_filter = [RoleFilter, "branch__region", "branch", "is_active", "is_staff"]
    # A freeze is lifted by compliance, with a reason (compliance › user activity).
    readonly_fields = ["frozen_at"]
    search_fields = ["username", "first_name", "last_name", "email", "branch__name", "branch__code"]
    list_select_related = ["branch"]
    autocomplete_fields = ["branch"]

    def has_delete_permission(self, request, obj=None):
        # Users are deactivated, never deleted: the append-only audit trail refers to them
        # (deleting would have to rewrite its rows, which the database refuses).
        return False

    fieldsets = (
        *DjangoUserAdmin.fieldsets[:2],
        (_("Branch"), {"fields": ["branch", "frozen_at"]}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ["wide"],
                "fields": [
                    "username",
                    "usable_password",
                    "password1",
                    "password2",
                    "branch",
                    "groups",
                ],
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def role_names(self, obj):
        return ", ".join(sorted(role_label(group.name) for group in obj.groups.all()))


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StaffNotification)
class StaffNotificationAdmin(ReadOnlyAdmin):
    """What staff were told and when they read it: evidence, so read-only."""

    list_display = ["created_at", "recipient", "kind", "title", "read_at"]
    list_filter = ["kind"]
    search_fields = ["recipient__username", "title"]
    list_select_related = ["recipient"]
    date_hierarchy = "created_at"
