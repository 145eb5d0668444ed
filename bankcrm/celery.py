import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")

app = Celery("bankcrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def _audit_as_task(task=None, **kwargs):
    """Writes a task makes are attributed to it in the audit trail (services that act for
    a user, such as an import's commit, say so with audit_context)."""
    from bankcrm.audit import set_audit_context

    set_audit_context(label=f"task:{task.name}")


@signals.task_postrun.connect
def _audit_task_done(**kwargs):
    from bankcrm.audit import clear_audit_context

    clear_audit_context()
