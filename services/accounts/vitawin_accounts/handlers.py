"""What accounts does with the events it reads (the worker's consumer loop calls these):

- fr.vitawin.contact.registered.v1 (`contacts`): the actor's membership on the account of its
  contact e-mail (a pupil's on its guardian's), the account made if missing. Keyed by actor_id: a
  replay changes nothing; an actor registered again with another address moves to that account.
- fr.vitawin.actor.erased.v1 (`actors`): the actor's refresh tokens and API keys revoked, its
  membership removed everywhere, and an account left without membership deleted (its e-mail
  forgotten, its sign-in links and sessions with it); a tombstone (the actor id) keeps a
  registration read after the erasure from making the membership again.

Each step is safe to repeat, in an order that leaves nothing behind if the worker stops between
two of them (the consumer loop commits the offset after the handler returns). Logs carry account
ids and counts only: never an address, and never a pupil's actor id."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from vitawin_common.consumer import PoisonEvent
from vitawin_common.events import Event

from vitawin_accounts.domain import UnknownKind, membership_from_contact
from vitawin_accounts.store import Stores

log = logging.getLogger(__name__)

CONTACT_REGISTERED = "fr.vitawin.contact.registered.v1"
ACTOR_ERASED = "fr.vitawin.actor.erased.v1"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Memberships:
    stores: Stores
    clock: Callable[[], datetime] = field(default=utcnow)

    def handlers(self) -> dict[str, Callable[[Event], None]]:
        return {CONTACT_REGISTERED: self.on_contact_registered, ACTOR_ERASED: self.on_actor_erased}

    def on_contact_registered(self, event: Event) -> None:
        now = self.clock()
        try:
            email, membership = membership_from_contact(event.data, now)
        except UnknownKind as exc:
            raise PoisonEvent(str(exc)) from None
        except KeyError as exc:  # the field's name only, never its value
            raise PoisonEvent(f"contact without {exc.args[0]!r}") from None
        if not email:
            raise PoisonEvent("contact with an empty address")
        if self.stores.erased_actors.contains(membership.actor_id):
            log.info("registration of an erased actor ignored", extra={"role": membership.role})
            return
        account = self.stores.accounts.ensure(email, now)
        for other in self.stores.accounts.holding(membership.actor_id):
            if other["_id"] != account["_id"]:  # registered again with another address: it moves
                self.stores.refresh_tokens.revoke_actor(membership.actor_id, now, "address_changed")
                self._withdraw(other["_id"], membership.actor_id)
        added = self.stores.accounts.add_membership(account["_id"], membership.to_document())
        log.info("membership added" if added else "membership already known",
                 extra={"account_id": account["_id"], "role": membership.role})

    def on_actor_erased(self, event: Event) -> None:
        now = self.clock()
        actor_id = event.data["actor_id"]
        self.stores.erased_actors.add(actor_id, now)
        tokens = self.stores.refresh_tokens.revoke_actor(actor_id, now, "actor_erased")
        keys = self.stores.api_keys.revoke_actor(actor_id, now)
        accounts = self.stores.accounts.holding(actor_id)
        deleted = sum(self._withdraw(account["_id"], actor_id) for account in accounts)
        log.info("memberships removed after erasure",
                 extra={"accounts": len(accounts), "accounts_deleted": deleted, "refresh_tokens_revoked": tokens,
                        "api_keys_revoked": keys})

    def _withdraw(self, account_id: str, actor_id: str) -> bool:
        """Remove the actor's membership from the account; delete the account when it was its
        last one (True then). The sessions and links of a deleted account go with it."""
        accounts = self.stores.accounts
        if not accounts.delete_if_only(account_id, actor_id):
            accounts.remove_membership(account_id, actor_id)
            if not accounts.delete_if_empty(account_id):  # another one emptied it meanwhile
                return False
        self.stores.challenges.forget_account(account_id)
        self.stores.refresh_tokens.forget_account(account_id)
        log.info("account deleted: no membership left", extra={"account_id": account_id})
        return True
