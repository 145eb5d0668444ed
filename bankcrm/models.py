from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from bankcrm.roles import HOME_PRIORITY, MFA_REQUIRED_ROLES, Role


class Branch(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.CharField(_("region"), max_length=50, db_index=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class User(AbstractUser):
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @cached_property
    def roles(self) -> frozenset[str]:
        if not self.pk or not self.is_active:
            return frozenset()
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def display_name(self) -> str:
        """王思远 for Chinese names (family name first, no space), else "First Last"."""
        if any("\u4e00" <= ch <= "\u9fff" for ch in self.last_name + self.first_name):
            return f"{self.last_name}{self.first_name}"
        return self.get_full_name() or self.username

    @property
    def mfa_required(self) -> bool:
        return self.is_staff or self.is_superuser or bool(self.roles & MFA_REQUIRED_ROLES)

    @property
    def primary_role(self) -> str | None:
        for role in HOME_PRIORITY:
            if role in self.roles:
                return role
        return None

    @property
    def primary_role_label(self) -> str:
        role = self.primary_role
        return Role(role).label if role else ""


class Heartbeat(models.Model):
    """Last sign of life of a background process (beat), read by the health endpoint."""

    name = models.CharField(max_length=50, primary_key=True)
    beat_at = models.DateTimeField()

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(cls, name: str) -> None:
        from django.utils import timezone

        cls.objects.update_or_create(name=name, defaults={"beat_at": timezone.now()})

    @classmethod
    def age_seconds(cls, name: str) -> float | None:
        from django.utils import timezone

        beat = cls.objects.filter(name=name).first()
        return None if beat is None else (timezone.now() - beat.beat_at).total_seconds()
