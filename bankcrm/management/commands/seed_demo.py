import time

from django.core.management.base import BaseCommand

from bankcrm.demo import DEMO_PASSWORD, seed_demo


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

        demo = seed_demo(customers=customers, seed=seed, progress=progress)
        elapsed = time.perf_counter() - started
        counts = demo.counts
        added = ", ".join(
            f"{n:,} {name.replace('_', ' ')}"
            for name, n in counts.items()
            if name not in ("customers", "skipped_customers")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready in {elapsed:.1f} s: {counts.get('customers', 0):,} customers "
                f"added ({counts.get('skipped_customers', 0):,} already present), {added}."
            )
        )
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for username, role in demo.logins:
            self.stdout.write(f"  {username:16} {role}")
        self.stdout.write("compliance and admin enrol a TOTP authenticator at first sign-in.")
