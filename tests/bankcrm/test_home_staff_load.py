"""The branch manager's home lists every relationship manager of the branch with their
number of customers, those with none included (the people new customers should go to),
in a constant number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bankcrm.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


def rm_rows(html: str) -> dict[str, str]:
    """{name shown: count} of the RM load list."""
    rows = html.split('data-testid="rm-load-row"')[1:]
    found = {}
    for row in rows:
        name = re.search(r"<span[^>]*>\s*([^<]+?)\s*(<|$)", row).group(1)
        count = re.search(r'class="badge[^"]*">(\d+)</span>', row).group(1)
        found[name] = count
    return found


def test_every_rm_of_the_branch_is_listed_those_with_no_customers_too(
    client, login, branch_manager, rm, other_rm, branch, other_branch
):
    # Eleven RMs with larger books than rm's: only the ten largest used to be shown.
    busy = [
        factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username=f"busy{i:02d}")
        for i in range(11)
    ]
    for user in busy:
        for _ in range(2):
            factories.customer(branch=branch, rm=user)
    factories.customer(branch=branch, rm=rm)
    factories.customer(branch=branch, rm=None)
    factories.user(Role.RELATIONSHIP_MANAGER, branch=other_branch, username="elsewhere")
    factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="leaver", is_active=False)
    login(branch_manager)
    html = client.get("/").content.decode()
    assert "rm2" in html and all(user.username in html for user in busy)
    assert "elsewhere" not in html and "leaver" not in html
    rows = rm_rows(html)
    assert rows == {
        **{user.username: "2" for user in busy},
        "rm": "1",
        "rm2": "0",  # no customers: listed, with 0
        "无客户经理": "1",
    }


def test_the_rm_load_runs_a_constant_number_of_queries(client, login, branch_manager, branch):
    login(branch_manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for i in range(12):
        user = factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username=f"rm{i:02d}")
        if i % 2:
            factories.customer(branch=branch, rm=user)
    assert queries() == few
