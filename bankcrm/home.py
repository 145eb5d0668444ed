"""The administrator's home page: the health of the parts bankcrm needs, and the way into
Django admin. The other roles' home pages belong to the apps that own their data and are
registered in bankcrm.registry.HOME_PAGES (customers, service, compliance)."""

from bankcrm import health


def admin(request):
    checks = health.run_checks()
    return "bankcrm/home_admin.html", {"checks": checks, "status": health.overall(checks)}
