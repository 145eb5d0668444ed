"""One permission-matrix harness for every app: each URL × each role × own / someone
else's object → the status each gets, and a guard that fails when a URL has no row.

An app's test module declares its matrix and a `world` fixture, and takes the tests:

    MATRIX = Matrix(
        urlconfs=["service.urls", "service.public_urls"],
        rows={
            # url name [label] -> (method, data, kind of object, {role: status})
            "service:ticket-detail": ("get", None, "ticket", expect(
                relationship_manager=(200, 404), ..., admin=(404, 404))),
            "api:api-root": exempt("why it has no row"),
        },
    )
    test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()

A status is an int, (own, other) for a URL of an object of some kind, or LOGIN (sent to
the login page). Anonymous visitors are a role too: LOGIN unless a row says otherwise.
`world` returns a World: a user per role and `objects(kind, user)`, which builds the user's
own object of that kind and someone else's and returns their URL kwargs (other is None
when there is no "someone else's"). `data` may be a callable (objects it names exist only
once the world is built). A key may carry a label after a space, for a second row of one
URL ("compliance:audit (data changes)").

Every case runs in a savepoint that is rolled back, and the client's cookies are put back
after it: each request sees the world as built (a POST that takes, freezes or logs out
changes nothing for the next), so one world serves every row of a role.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse

from bankcrm.roles import Role

ANONYMOUS = "anonymous"
ROLES = [r.value for r in Role]
LOGIN = "login"  # a redirect to the login page


def expect(**by_role) -> dict:
    """Statuses by role name; anonymous visitors are sent to log in unless given."""
    return {ANONYMOUS: LOGIN} | by_role


def everyone(status) -> dict:
    """The same status for every role and for anonymous visitors (a signed API, a public
    page: the session plays no part)."""
    return dict.fromkeys([*ROLES, ANONYMOUS], status)


@dataclass(frozen=True)
class Exempt:
    reason: str


def exempt(reason: str) -> Exempt:
    """No row for this URL (or, as "namespace:*", every URL of a namespace), and why."""
    return Exempt(reason)


@dataclass
class World:
    users: dict  # role -> user
    objects: Callable  # (kind, user) -> (own URL kwargs, other URL kwargs or None)


def url_names_by_urlconf() -> dict[str, set[str]]:
    """Every URL name of the project (namespaced as reverse() takes it), under the urlconf
    module that declares it: a nested include of a list (django-ninja, the admin) belongs
    to the module that includes it."""
    found: dict[str, set[str]] = {}

    def walk(resolver, namespaces, module):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = entry.urlconf_name  # a module, its dotted name, or a list
                inner = inner if isinstance(inner, str) else getattr(inner, "__name__", module)
                spaces = [*namespaces, entry.namespace] if entry.namespace else namespaces
                walk(entry, spaces, inner)
            else:
                name = ":".join([*namespaces, entry.name or f"<unnamed {entry.pattern}>"])
                found.setdefault(module, set()).add(name)

    root = get_resolver()
    walk(root, [], root.urlconf_name)
    return found


def _url_name(key: str) -> str:
    return key.split(" ", 1)[0]


class Matrix:
    def __init__(self, *, urlconfs: list[str], rows: dict):
        self.urlconfs = urlconfs
        self.rows = rows

    def checked_rows(self) -> dict:
        return {k: row for k, row in self.rows.items() if not isinstance(row, Exempt)}

    def problems(self) -> list[str]:
        """URLs of the urlconfs without a row, rows without a URL, rows missing a role."""
        names = set().union(*(url_names_by_urlconf().get(c, set()) for c in self.urlconfs))
        wildcards = [k[:-1] for k in self.rows if k.endswith(":*")]  # "otpadmin:"
        covered = {_url_name(k) for k in self.rows}
        missing = [n for n in sorted(names - covered)
                   if not any(n.startswith(w) for w in wildcards)]  # fmt: skip
        problems = [f"{n}: no row (add one, or exempt it with a reason)" for n in missing]
        problems += [f"{n}: a row but no such URL" for n in sorted(covered - names)
                     if not n.endswith(":*")]  # fmt: skip
        for key, (_method, _data, _kind, statuses) in self.checked_rows().items():
            if lacking := set(ROLES) - set(statuses):
                problems.append(f"{key}: no status for {', '.join(sorted(lacking))}")
        return problems

    def mismatches(self, client, world: World, role: str) -> list[str]:
        user = world.users.get(role)
        wrong = []
        for key, (method, data, kind, statuses) in self.checked_rows().items():
            expected = statuses[role]
            for case in ("own", "other"):
                if case == "other" and not isinstance(expected, tuple):
                    continue  # no object, or one status whatever the object
                want = expected[case == "other"] if isinstance(expected, tuple) else expected
                got = _request(client, method, key, data, kind, user, world, case)
                if got is None:
                    continue  # this kind has no "someone else's"
                if not _matches(got, want):
                    where = f"{key} ({case})" if isinstance(expected, tuple) else key
                    wrong.append(f"{where}: expected {want}, got {_shown(got)}")
        return wrong

    def tests(self):
        """The guard and the matrix, for the app's test module to take as its own."""
        matrix = self

        def test_every_url_is_in_the_matrix():
            problems = matrix.problems()
            assert not problems, "\n".join(problems)

        @pytest.mark.django_db
        @pytest.mark.parametrize("role", [*ROLES, ANONYMOUS])
        def test_permission_matrix(role, client, login, world):
            if role != ANONYMOUS:
                login(world.users[role])
            wrong = matrix.mismatches(client, world, role)
            assert not wrong, f"{role}:\n" + "\n".join(wrong)

        return test_every_url_is_in_the_matrix, test_permission_matrix


def _request(client, method, key, data, kind, user, world, case):
    """One case in a savepoint rolled back afterwards: the response, an exception the view
    raised, or None when the kind has no object for this case."""
    cookies = copy.deepcopy(client.cookies)
    try:
        with transaction.atomic():
            try:
                own, other = world.objects(kind, user)
                kwargs = own if case == "own" else other
                if kwargs is None:
                    return None
                name = _url_name(key)
                params = data() if callable(data) else data
                return getattr(client, method)(reverse(name, kwargs=kwargs), params or {})
            except Exception as exc:  # named in the failure, with the url, role and case
                return exc
            finally:
                transaction.set_rollback(True)
    finally:
        client.cookies = cookies


def _matches(got, want) -> bool:
    if isinstance(got, Exception):
        return False
    if want == LOGIN:
        return got.status_code == 302 and got["Location"].startswith("/accounts/login/")
    return got.status_code == want


def _shown(got) -> str:
    if isinstance(got, Exception):
        return f"{type(got).__name__}: {got}"
    if got.status_code in (301, 302):
        return f"{got.status_code} to {got['Location']}"
    return str(got.status_code)
