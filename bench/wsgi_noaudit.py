"""The project's WSGI application with the customer views' sensitive-read logging cut
down, for bench/audit.py to measure what audit writes add to the 360 page:

    gunicorn bench.wsgi_noaudit:application

`record_access` in customers.access (the 360 page and reveals) and customers.views
(searches, exports) still builds the AccessLog row but does not call the read listeners, so
the access-anomaly check does not run; with BENCH_ACCESS_LOG=no-check it saves the row
(and its chain link at commit), otherwise it does not save it either. Never serve anyone
with this.
"""

import os

from bankcrm.wsgi import application

__all__ = ["application"]


def record_access_cut(*, save: bool):
    """A stand-in for bankcrm.audit.record_access that builds the AccessLog row, saves it
    only if `save`, and never calls the read listeners (so no anomaly check runs)."""
    from bankcrm.audit import access_row

    def record_access_without_check(*, actor, context, action: str, **fields):
        row = access_row(actor=actor, context=context, action=action, **fields)
        if save:
            row.save(force_insert=True)
        return row

    return record_access_without_check


def use_record_access(function) -> None:
    """Where the customer views log their reads (imported here: models can be imported
    only once the application has set Django up)."""
    import customers.access
    import customers.views

    customers.access.record_access = function
    customers.views.record_access = function


if __name__ != "__main__" and os.environ.get("BENCH_WSGI_NOAUDIT", "1") == "1":
    use_record_access(record_access_cut(save=os.environ.get("BENCH_ACCESS_LOG") == "no-check"))
