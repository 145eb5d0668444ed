"""What the check lets through, the commit writes; what the commit still cannot write is a
row error; a batch never stays stuck (item 20 of issue 16), and no log line carries a value
from the file (item 18)."""

import logging
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from customers import imports
from customers.imports import batches, rows
from customers.models import Customer, ImportBatch
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_ID = "11010519491231002X"


@pytest.fixture
def manager(client, login, branch_manager):
    login(branch_manager)
    return client


def uploaded(client, content: str) -> ImportBatch:
    response = client.post(
        "/customers/imports/",
        {"kind": "customers", "file": SimpleUploadedFile("f.csv", content.encode())},
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    return ImportBatch.objects.latest("pk")


def checked(client, content: str) -> ImportBatch:
    batch = uploaded(client, content)
    imports.validate(batch.pk)
    batch.refresh_from_db()
    return batch


def committed(client, batch: ImportBatch) -> ImportBatch:
    assert client.post(f"/customers/imports/{batch.pk}/commit/").status_code == 302
    imports.commit(batch.pk)
    batch.refresh_from_db()
    return batch


def long_email(length: int) -> str:
    local = "a" * 60
    return local + "@" + "b" * (length - len(local) - 5) + ".com"


def test_text_limits_come_from_the_model_masked_copies_included(manager, branch):
    """A 127-character e-mail passed the check and failed the commit: email_masked is 120."""
    assert len(long_email(127)) == 127
    content = (
        "cif,name,email,occupation,branch_code\n"
        f"E1,长邮箱,{long_email(127)},,SH001\n"
        f"E2,刚好,{long_email(120)},,SH001\n"
        f"E3,职业长,,{'职' * 61},SH001\n"
    )
    batch = checked(manager, content)
    assert [(e["line"], e["column"]) for e in batch.errors] == [(2, "email"), (4, "occupation")]
    assert "120" in batch.errors[0]["message"]
    batch = committed(manager, batch)
    assert (batch.status, batch.created_count) == ("done", 1)
    assert Customer.objects.get(cif="E2").email == long_email(120)


def test_a_nul_in_a_cell_is_a_row_error(manager, branch):
    """A NUL crashed the check while saving the preview and left the batch `validating`."""
    batch = checked(manager, "cif,name,branch_code\nN1,王\x00五,SH001\nN2,李四,SH001\n")
    assert batch.status == "ready"
    assert [(e["line"], e["column"]) for e in batch.errors] == [(2, "name")]
    assert (batch.valid_rows, batch.error_rows) == (1, 1)


def test_a_row_the_database_refuses_at_commit_is_a_row_error_and_the_rest_commit(
    manager, branch, other_branch, monkeypatch
):
    content = (
        "cif,name,national_id,email,branch_code\n"
        "R1,甲,,,SH001\n"
        f"R2,乙,{SECRET_ID},,SH001\n"
        f"R3,丙,,{long_email(127)},SH001\n"
        "R4,丁,,,SH001\n"
    )
    # A check that misses the e-mail's length, as the old one did.
    monkeypatch.setattr(rows, "_check_fits", lambda obj, sources: None)
    batch = checked(manager, content)
    assert batch.valid_rows == 4
    # Another customer gets the ID number between the check and the commit.
    factories.customer(branch=other_branch, cif="ELSEWHERE", national_id=SECRET_ID)
    batch = committed(manager, batch)
    assert batch.status == "done"
    assert (batch.created_count, batch.skipped_count) == (2, 2)
    assert [(e["line"], e["column"]) for e in batch.errors] == [(3, "national_id"), (4, "")]
    assert set(Customer.objects.filter(cif__startswith="R").values_list("cif", flat=True)) == {
        "R1",
        "R4",
    }
    assert SECRET_ID not in str(batch.errors)


@pytest.mark.parametrize("status", ["pending", "validating", "commit_pending", "committing"])
def test_the_owner_discards_a_stuck_batch(manager, branch, status):
    batch = uploaded(manager, "cif,name,branch_code\nS1,甲,SH001\n")
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=status, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    page = manager.get(f"/customers/imports/{batch.pk}/").content.decode()
    assert 'data-testid="discard"' in page
    assert ('data-testid="stop-note"' in page) == status.startswith("commit")
    response = manager.post(f"/customers/imports/{batch.pk}/discard/", follow=True)
    batch.refresh_from_db()
    assert (batch.status, batch.content) == ("cancelled", None)
    assert "放弃" in response.content.decode() or "未导入" in response.content.decode()
    # A worker that comes back finds nothing to do.
    imports.validate(batch.pk)
    imports.commit(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "cancelled" and not Customer.objects.exists()


def test_stopping_a_commit_keeps_the_rows_written_and_says_so(manager, branch, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK", 2)
    content = "cif,name,branch_code\n" + "".join(f"K{n},客户{n},SH001\n" for n in range(5))
    batch = checked(manager, content)
    assert client_post_commit(manager, batch)
    first_chunk = batches._commit_chunk

    def then_discard(*args, **kwargs):
        done = first_chunk(*args, **kwargs)
        # The owner presses "stop" while the worker is on the next chunk.
        response = manager.post(f"/customers/imports/{batch.pk}/discard/", follow=True)
        assert "已新建或修改的 2 行保留" in response.content.decode()
        return done

    monkeypatch.setattr(batches, "_commit_chunk", then_discard)
    imports.commit(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.created_count) == ("cancelled", 2)
    assert Customer.objects.count() == 2
    page = manager.get(f"/customers/imports/{batch.pk}/").content.decode()
    assert 'data-testid="created">2<' in page and "上面计为新建或更新的行保留" in page


def client_post_commit(client, batch) -> bool:
    return client.post(f"/customers/imports/{batch.pk}/commit/").status_code == 302


def test_a_batch_that_keeps_failing_ends_failed_and_logs_no_value(
    manager, branch, monkeypatch, caplog
):
    """A worker error left the batch `committing`, retried every five minutes for ever."""
    batch = checked(manager, f"cif,name,national_id,branch_code\nF1,甲,{SECRET_ID},SH001\n")
    assert client_post_commit(manager, batch)

    def broken(batch, ctx, chunk, outcome):
        raise RuntimeError(f"cannot write {chunk[0][1]['national_id']}")

    monkeypatch.setitem(batches.APPLY, "customers", broken)
    with caplog.at_level(logging.INFO):
        for attempt in range(1, imports.MAX_ATTEMPTS + 1):
            imports.commit(batch.pk)  # the sweep hands it out again
            batch.refresh_from_db()
            assert batch.attempts == attempt
            if attempt < imports.MAX_ATTEMPTS:
                # Left for the next worker at once, not after the stale interval.
                assert batch.status == "committing"
                assert batch.heartbeat_at < timezone.now() - timedelta(seconds=300)
    assert batch.status == "failed" and batch.content is None
    assert "3 次尝试" in batch.failure
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and SECRET_ID not in logged
    assert not Customer.objects.exists()


def test_a_worker_that_dies_every_time_ends_failed(manager, branch):
    batch = checked(manager, "cif,name,branch_code\nD1,甲,SH001\n")
    assert client_post_commit(manager, batch)
    # Three workers claimed the commit and died (no heartbeat since).
    ImportBatch.objects.filter(pk=batch.pk).update(
        status="committing", attempts=3, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert imports.claim(batch.pk, "commit_pending", "committing") is None
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.failure
