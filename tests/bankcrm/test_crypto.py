import base64
import os
from decimal import Decimal

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from bankcrm import crypto, masking
from customers.models import Customer
from tests import factories


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.mark.parametrize(
    "value", [0, False, "", None, "张三", 42, Decimal("1234.50"), {"a": [1, 2]}, True, 0.0]
)
def test_values_round_trip_with_their_types(value):
    token = crypto.encrypt(value, context="t")
    assert token.startswith("v1$")
    result = crypto.decrypt(token, context="t")
    assert result == value
    assert type(result) is type(value)


def test_same_value_encrypts_differently_each_time():
    assert crypto.encrypt("110101199003074578") != crypto.encrypt("110101199003074578")


def test_wrong_key_fails_closed(settings):
    token = crypto.encrypt("secret", context="t")
    settings.FIELD_ENCRYPTION_KEYS = f"1:{_key()}"
    with pytest.raises(crypto.EncryptionError, match="wrong key or tampered"):
        crypto.decrypt(token, context="t")


def test_unknown_key_version_fails_closed(settings):
    token = crypto.encrypt("secret")
    settings.FIELD_ENCRYPTION_KEYS = f"7:{_key()}"
    with pytest.raises(crypto.EncryptionError, match="no key for version 1"):
        crypto.decrypt(token)


def test_missing_key_is_a_clear_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ""
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is empty"):
        crypto.encrypt("x")


def test_token_moved_to_another_column_does_not_decrypt():
    token = crypto.encrypt("13812345678", context="customers.customer.mobile")
    with pytest.raises(crypto.EncryptionError):
        crypto.decrypt(token, context="customers.customer.national_id")


def test_old_key_still_decrypts_after_new_key_is_added(settings):
    old = crypto.encrypt("old value")
    settings.FIELD_ENCRYPTION_KEYS = f"2:{_key()},{settings.FIELD_ENCRYPTION_KEYS}"
    assert crypto.decrypt(old) == "old value"
    assert crypto.encrypt("new").startswith("v2$")


def test_blind_index_is_keyed_normalised_and_separated_by_purpose(settings):
    a = crypto.blind_index("11010519491231002x", purpose="customer.national_id")
    assert a == crypto.blind_index(" 110105-19491231002X", purpose="customer.national_id")
    assert a != crypto.blind_index("11010519491231002X", purpose="other")
    settings.BLIND_INDEX_KEY = _key()
    assert a != crypto.blind_index("11010519491231002X", purpose="customer.national_id")


@pytest.mark.django_db
def test_encrypted_field_stores_only_ciphertext(branch):
    customer = factories.customer(branch=branch, national_id="11010519491231002X")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT national_id, mobile FROM customers_customer WHERE id = %s", [customer.pk]
        )
        raw_id, raw_mobile = cursor.fetchone()
    assert raw_id.startswith("v1$")
    assert raw_mobile.startswith("v1$")
    assert customer.mobile.removeprefix("+86") not in raw_mobile
    assert "11010519491231002X" not in raw_id
    assert Customer.objects.get(pk=customer.pk).national_id == "11010519491231002X"


@pytest.mark.django_db
def test_encrypted_field_refuses_value_lookups():
    with pytest.raises(FieldError, match="use its blind index"):
        Customer.objects.filter(national_id="11010519491231002X").count()


@pytest.mark.django_db
def test_rotate_encryption_keys_reencrypts_in_batches(settings, branch):
    customers = [factories.customer(branch=branch) for _ in range(5)]
    expected = {c.pk: c.national_id for c in customers}
    settings.FIELD_ENCRYPTION_KEYS = f"2:{_key()},{settings.FIELD_ENCRYPTION_KEYS}"

    call_command("rotate_encryption_keys", batch_size=2, stdout=open(os.devnull, "w"))  # noqa: SIM115

    with connection.cursor() as cursor:
        cursor.execute("SELECT national_id, mobile FROM customers_customer")
        tokens = [t for row in cursor.fetchall() for t in row]
    assert tokens and all(t.startswith("v2$") for t in tokens)
    # The old key can now go: everything decrypts with the new one alone.
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS.split(",")[0]
    assert {c.pk: c.national_id for c in Customer.objects.all()} == expected


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    [
        (masking.mask_national_id, "11010519491231002X", "110***********002X"),
        (masking.mask_mobile, "+8613812345678", "138****5678"),
        (masking.mask_mobile, "13812345678", "138****5678"),
        (masking.mask_card, "6222021234567890123", "622202*********0123"),
        (masking.mask_account, "1234567890123456", "************3456"),
        (masking.mask_email, "zhang.san@example.cn", "z********@example.cn"),
        (masking.mask_name, "张三丰", "张**"),
        (masking.mask_national_id, "", ""),
        (masking.mask_card, "1234", "****"),
    ],
)
def test_masking(func, value, expected):
    assert func(value) == expected
