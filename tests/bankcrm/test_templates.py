"""Templates call the methods they use (issue 16, item 1): in Jinja2 `form.x.value` is the
bound method, always true in an `{% if %}`, so the customer list showed "KYC due" ticked on
every page and every filter change also filtered by it.

Two nets: at run time, attribute lookups give methods wrapped so that testing, comparing
or printing them raises (bankcrm/jinja2.py UncalledMethod; any test rendering the line
fails); and here, every template is read for the methods of forms, fields and pages named
without a call, so a template no test renders is caught too."""

import inspect
from pathlib import Path

import pytest
from django.core.paginator import Page
from django.forms import BaseForm, BoundField
from django.template import engines
from jinja2 import nodes

from bankcrm.jinja2 import UncalledMethod

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _methods(*classes) -> set[str]:
    names = set()
    for cls in classes:
        for name, member in inspect.getmembers(cls):
            # Django's own (not Sequence.count: alerts.count and paginator.count are numbers)
            public = not name.startswith("_")
            if public and inspect.isfunction(member) and member.__module__.startswith("django."):
                names.add(name)
    return names


# Methods of what templates are handed most (forms, their fields, pages of lists).
METHODS = _methods(BoundField, BaseForm, Page)


def _uncalled(template: Path, root: Path = TEMPLATES) -> list[str]:
    env = engines["jinja2"].env
    tree = env.parse(template.read_text("utf-8"))
    called = {id(call.node) for call in tree.find_all(nodes.Call)}
    return [
        f"{template.relative_to(root)}:{node.lineno}: .{node.attr} without ()"
        for node in tree.find_all(nodes.Getattr)
        if node.attr in METHODS and id(node) not in called and _is_form_or_page(node.node)
    ]


def _is_form_or_page(node) -> bool:
    """Whether an expression names a form, a form field or a page (`form.tier`, `field`,
    `page`, `tx_form.date_to`): other objects have attributes called `value` too."""
    while isinstance(node, nodes.Getattr):
        node = node.node
    name = getattr(node, "name", "")
    return name.endswith("form") or name in ("field", "page", "radio")


def test_no_template_names_a_form_or_page_method_without_calling_it():
    assert {"value", "has_next", "non_field_errors", "visible_fields"} <= METHODS
    found = [line for path in sorted(TEMPLATES.rglob("*.html")) for line in _uncalled(path)]
    assert not found, "\n".join(found)


def test_the_check_finds_the_fault_it_is_for(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("{% if form.kyc_expiring.value %} checked{% endif %}")
    assert _uncalled(bad, root=tmp_path) == ["bad.html:1: .value without ()"]


@pytest.mark.parametrize(
    "source",
    [
        "{% if d.items %}x{% endif %}",
        "{{ 'x' if d.keys == 1 }}",
        "{% for k in d.keys %}{% endfor %}",
        "{{ d.items }}",
    ],
)
def test_using_a_method_as_a_value_raises_at_render(source):
    with pytest.raises(TypeError, match=r"without calling it|uncalled method"):
        engines["jinja2"].from_string(source).render({"d": {"a": 1}})


def test_a_called_method_still_works():
    template = engines["jinja2"].from_string("{{ d.items()|list }}{{ d.get('a') }}")
    assert template.render({"d": {"a": 1}}) == "[(&#39;a&#39;, 1)]1"
    assert callable(UncalledMethod(len)) and UncalledMethod(len)([1]) == 1
