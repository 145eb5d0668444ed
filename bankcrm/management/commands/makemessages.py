from django.core.management.commands import makemessages


class Command(makemessages.Command):
    # A fuzzy match would put an old, wrong translation on a new string.
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]
