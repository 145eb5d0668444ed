"""Session bookkeeping at login; no domain logic lives here."""

import time

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from bankcrm.middleware import SESSION_SEEN, SESSION_STARTED


@receiver(user_logged_in)
def stamp_session_start(sender, request, user, **kwargs):
    now = int(time.time())
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now
