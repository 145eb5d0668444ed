import time

from django.core.management.base import BaseCommand

from customers.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = (
        "Load demo branches, one user per role, and realistic customers with holdings, "
        "transactions, interactions and tickets. Safe to run again: adds only what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, customers: int, seed: int, verbosity: int, **options):
        started = time.perf_counter()

        def progress(message: str) -> None:
            if verbosity >= 1:
                elapsed = time.perf_counter() - started
                self.stdout.write(f"  [{elapsed:5.1f} s] {message}")

        report = seed_demo(customers=customers, seed=seed, progress=progress)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready in {elapsed:.1f} s: {report.customers:,} customers added "
                f"({report.skipped_customers:,} already present), {report.accounts:,} accounts, "
                f"{report.transactions:,} transactions, {report.interactions:,} interactions, "
                f"{report.tickets} tickets, {report.users} users, {report.branches} branches."
            )
        )
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for username, role in report.logins:
            self.stdout.write(f"  {username:16} {role}")
        self.stdout.write("compliance and admin enrol a TOTP authenticator at first sign-in.")
