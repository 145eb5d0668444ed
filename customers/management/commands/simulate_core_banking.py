import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers import simulator
from customers.models import ExternalIdentity
from customers.models.integration import IntegrationSource


class Command(BaseCommand):
    help = (
        "Play a core-banking system: push signed events to bankcrm at a rate (or replay the "
        "Berka transactions), serve the event feed for resync, and optionally lose, repeat "
        "or reorder deliveries."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="bankcrm's address")
        parser.add_argument("--source", default="core", help="the source's code in bankcrm")
        parser.add_argument("--secret", help="signing secret (default: the source's, read here)")
        parser.add_argument("--journal", help="SQLite journal (default .data/simulator-SOURCE)")
        parser.add_argument("--rate", type=float, default=50, help="events/s (0: flat out)")
        parser.add_argument("--seconds", type=float, default=30)
        parser.add_argument("--count", type=int, help="stop after this many events")
        parser.add_argument("--batch", type=int, default=0, help="events per request (≤ 1000)")
        parser.add_argument("--threads", type=int, default=8, help="delivery connections")
        parser.add_argument("--customers", type=int, help="demo customers to draw from")
        parser.add_argument("--berka", help="replay trans.asc of this Berka folder")
        parser.add_argument(
            "--risk-signals", type=float, default=0.0,
            help="share of risk.signal events (court enforcement, credit bureau…)",
        )  # fmt: skip
        parser.add_argument("--duplicates", type=float, default=0.0, help="share sent twice")
        parser.add_argument("--reorder", type=int, default=0, help="shuffle window (events)")
        parser.add_argument("--outage-at", type=float, help="stop delivering after N seconds")
        parser.add_argument("--outage-for", type=float, default=60.0, help="… for N seconds")
        parser.add_argument("--feed-port", type=int, default=0, help="feed port (0: any free)")
        parser.add_argument(
            "--register-feed", action="store_true", help="set the source's feed URL to ours"
        )
        parser.add_argument(
            "--serve-after", type=float, default=0, help="keep serving the feed N seconds more"
        )

    def handle(self, *args, **o):
        source = IntegrationSource.objects.filter(code=o["source"]).first()
        secret = o["secret"] or (source.secret if source else None)
        if not secret:
            raise CommandError(f"no source {o['source']!r} in bankcrm and no --secret given")
        journal_path = o["journal"] or Path(settings.BASE_DIR) / ".data" / (
            f"simulator-{o['source']}.sqlite3"
        )
        Path(journal_path).parent.mkdir(parents=True, exist_ok=True)
        journal = simulator.Journal(journal_path)
        feed = simulator.Feed(journal, o["source"], secret, port=o["feed_port"])
        self.stdout.write(f"feed of {o['source']}: {feed.url} ({journal.count():,} in journal)")
        if o["register_feed"]:
            if source is None:
                raise CommandError("--register-feed needs the source in bankcrm")
            source.feed_url = feed.url
            source.save(update_fields=["feed_url"])
        if o["berka"]:
            events = simulator.berka_events(o["berka"])
        else:
            customers = o["customers"] or ExternalIdentity.objects.filter(source="core").count()
            if not customers:
                raise CommandError("no demo customers: run seed_demo or pass --customers")
            generator = simulator.Generator(customers, risk_share=o["risk_signals"])
            events = iter(generator.next, None)
        plan = simulator.Plan(
            rate=o["rate"], seconds=o["seconds"], count=o["count"], batch=o["batch"],
            threads=o["threads"], duplicates=o["duplicates"], reorder=o["reorder"],
            outage_at=o["outage_at"], outage_for=o["outage_for"],
        )  # fmt: skip
        stats = simulator.run(
            plan, journal=journal, events=events, base_url=o["url"], source=o["source"],
            secret=secret, progress=self.stdout.write,
        )  # fmt: skip
        statuses = dict(sorted(stats.statuses.items(), key=str))
        self.stdout.write(
            f"produced {stats.produced:,} in {stats.elapsed:.1f} s "
            f"({stats.produced / stats.elapsed:,.0f}/s); delivered and accepted "
            f"{stats.accepted:,}, rejected {stats.rejected:,}, not delivered {stats.failed:,}; "
            f"latency p50 {stats.percentile(50):.1f} ms, p95 {stats.percentile(95):.1f} ms, "
            f"p99 {stats.percentile(99):.1f} ms; HTTP {statuses}"
        )
        if o["serve_after"]:
            self.stdout.write(f"serving the feed for {o['serve_after']:.0f} s more")
            time.sleep(o["serve_after"])
        feed.close()
