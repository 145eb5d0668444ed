import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from bankcrm.roles import Role
from tests import factories


@pytest.fixture
def branch(db):
    return factories.branch("SH001", name="上海分行", region="华东")


@pytest.fixture
def other_branch(db):
    return factories.branch("BJ001", name="北京分行", region="华北")


@pytest.fixture
def rm(branch):
    return factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="rm")


@pytest.fixture
def other_rm(branch):
    return factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="rm2")


@pytest.fixture
def branch_manager(branch):
    return factories.user(Role.BRANCH_MANAGER, branch=branch, username="bm")


@pytest.fixture
def agent(branch):
    return factories.user(Role.SERVICE_AGENT, branch=branch, username="agent")


@pytest.fixture
def supervisor(branch):
    return factories.user(Role.SERVICE_SUPERVISOR, branch=branch, username="supervisor")


@pytest.fixture
def compliance_officer(branch):
    return factories.user(Role.COMPLIANCE_OFFICER, branch=branch, username="compliance")


@pytest.fixture
def admin_user(branch):
    return factories.user(
        Role.ADMIN, branch=branch, username="admin", is_staff=True, is_superuser=True
    )


def totp_now(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


@pytest.fixture
def login(client):
    """Log a user in through the real login form (and the MFA step when the role needs it)."""

    def _login(user, *, mfa: bool = True):
        response = client.post(
            "/accounts/login/", {"username": user.username, "password": factories.PASSWORD}
        )
        assert response.status_code == 302, response.content[:500]
        if user.mfa_required and mfa:
            device, _ = TOTPDevice.objects.get_or_create(
                user=user, name="authenticator", defaults={"confirmed": True}
            )
            response = client.post("/accounts/mfa/verify/", {"token": totp_now(device)})
            assert response.status_code == 302, response.content[:500]
        return client

    return _login
