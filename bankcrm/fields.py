from django.core.exceptions import FieldError
from django.db import models

from bankcrm import crypto


class EncryptedField(models.TextField):
    """Stores any JSON-able value encrypted with the field-encryption keyring.

    The column holds only the token; lookups other than ``isnull`` are refused because an
    encrypted value cannot be compared: search through a blind-index column instead.
    """

    description = "Encrypted value (AES-GCM)"

    def contribute_to_class(self, cls, name, *args, **kwargs):
        super().contribute_to_class(cls, name, *args, **kwargs)
        self.crypto_context = f"{cls._meta.label_lower}.{name}"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return crypto.decrypt(value, context=self.crypto_context)

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.encrypt(value, context=self.crypto_context)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.crypto_context} is encrypted and cannot be filtered with "
                f"'{lookup_name}'; use its blind index."
            )
        return super().get_lookup(lookup_name)

    def value_to_string(self, obj):
        # Serialisation (dumpdata, admin history) never sees the plaintext.
        return "«encrypted»"


def encrypted_fields():
    """Every (model, field) pair that stores encrypted values, for key rotation."""
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedField):
                yield model, field
