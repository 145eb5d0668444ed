"""Re-encrypt every encrypted column with the primary (first) key in FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first (``3:new,2:old``), deploy, run this command, and once it
reports nothing left, remove the old key. Safe to interrupt and re-run: each batch is its
own transaction, and rows already on the primary version are skipped.
"""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from bankcrm import crypto
from bankcrm.fields import encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt encrypted fields with the newest key, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options):
        ring = crypto.keyring()
        prefix = f"{crypto.TOKEN_PREFIX}{ring.primary}$"
        total = 0
        for model, field in encrypted_fields():
            table = connection.ops.quote_name(model._meta.db_table)
            column = connection.ops.quote_name(field.column)
            pk = connection.ops.quote_name(model._meta.pk.column)
            done = 0
            last_pk = None
            while True:
                with transaction.atomic():
                    rows = self._claim(table, column, pk, prefix, last_pk, batch_size)
                    if not rows:
                        break
                    updates = [
                        (
                            crypto.encrypt(
                                crypto.decrypt(token, context=field.crypto_context, ring=ring),
                                context=field.crypto_context,
                                ring=ring,
                            ),
                            row_pk,
                        )
                        for row_pk, token in rows
                    ]
                    with connection.cursor() as cursor:
                        cursor.executemany(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                            updates,
                        )
                last_pk = rows[-1][0]
                done += len(rows)
            if done:
                self.stdout.write(f"{field.crypto_context}: re-encrypted {done} values")
            total += done
        self.stdout.write(
            self.style.SUCCESS(f"Done: {total} values now on key version {ring.primary}.")
        )

    @staticmethod
    def _claim(table, column, pk, prefix, last_pk, limit):
        # Keyset pagination by pk; rows locked by a concurrent writer are left for a re-run.
        where = f"{column} IS NOT NULL AND NOT starts_with({column}, %s)"
        params: list = [prefix]
        if last_pk is not None:
            where += f" AND {pk} > %s"
            params.append(last_pk)
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {column} FROM {table} WHERE {where} "  # noqa: S608
                f"ORDER BY {pk} LIMIT %s FOR UPDATE SKIP LOCKED",
                params,
            )
            return cursor.fetchall()
