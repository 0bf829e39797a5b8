"""Who may register and change a pledge. Plain Python: the API applies these rules
(vitawin_actors.api.pledges).

The object-level rules (pledges belong to this service, so their rules live here):
- a pledge is registered (POST) by a `professional` whose token names its organisation (`actor_id`),
  for that organisation only: the pledge's `actor_id` is the token's (taken from the token when the
  body gives none; any other `actor_id` in the body, null included, is refused), and by territory
  managers, for any organisation or none (imports, moderation). Nobody else registers one: pupils,
  school referents, partners, a professional whose token names no organisation;
- a pledge is edited (PATCH), paused, resumed and withdrawn (DELETE) by the professional of its
  organisation, i.e. a `professional` whose token's `actor_id` is the pledge's `actor_id`, and by
  territory managers (moderation; and a pledge linked to no organisation has no professional to
  change it, only them);
- linking a pledge to another organisation, or unlinking it (a PATCH whose `actor_id` differs from
  the stored one), is for territory managers only: a professional cannot hand a pledge over, nor
  take one;
- nobody else may change a pledge: pupils, school referents, partners, a professional of another
  organisation, a professional whose token names no organisation. Anonymous callers are refused
  before these rules, when registering as when changing (401,
  `vitawin_common.identity.require_caller`).

Reading and listing pledges stay public."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROFESSIONAL, TERRITORY_MANAGER = "professional", "territory_manager"

# What each operation does to the pledge, in the French refusals ("peut le ...").
OPERATIONS = {
    "edit": "modifier",
    "pause": "mettre en pause",
    "resume": "reprendre",
    "withdraw": "retirer",
}


def registration_refused(caller, sent: Any) -> str | None:
    """None when `caller` may register a pledge whose body, as sent (before validation), is `sent`;
    otherwise why not, in French (the 403's message). A professional naming no organisation in the
    body is allowed: the API then takes the organisation from the token."""
    if caller.role == TERRITORY_MANAGER:
        return None
    if caller.role != PROFESSIONAL:
        return ("Seul un professionnel, pour sa propre organisation, ou un gestionnaire de territoire peut "
                "enregistrer un engagement.")
    if not caller.actor_id:
        return ("Jeton d'accès incomplet : il ne nomme pas l'organisation du professionnel ; un professionnel "
                "n'enregistre un engagement que pour sa propre organisation.")
    if isinstance(sent, Mapping) and "actor_id" in sent and sent["actor_id"] != caller.actor_id:
        return ("Un professionnel n'enregistre un engagement que pour sa propre organisation : actor_id doit "
                "être celui de son jeton d'accès, ou être omis.")
    return None


def may_change(pledge: Mapping[str, Any], caller) -> bool:
    """Whether `caller` (a `vitawin_common.identity.Caller`) may edit, pause, resume or withdraw the
    stored pledge `pledge`."""
    if caller.role == TERRITORY_MANAGER:
        return True
    return (caller.role == PROFESSIONAL and caller.actor_id is not None
            and caller.actor_id == pledge.get("actor_id"))


def change_refused(pledge: Mapping[str, Any], caller, operation: str) -> str | None:
    """None when `caller` may apply `operation` (a key of OPERATIONS) to `pledge`; otherwise why
    not, in French (the 403's message)."""
    verb = OPERATIONS[operation]
    if may_change(pledge, caller):
        return None
    if caller.role == PROFESSIONAL and not caller.actor_id:
        return (f"Jeton d'accès incomplet : il ne nomme pas l'organisation du professionnel ; seul le "
                f"professionnel de cet engagement, ou un gestionnaire de territoire, peut le {verb}.")
    if caller.role == PROFESSIONAL and not pledge.get("actor_id"):
        return (f"Cet engagement n'est lié à aucune organisation de l'annuaire : seul un gestionnaire de "
                f"territoire peut le {verb}.")
    return f"Seul le professionnel de cet engagement, ou un gestionnaire de territoire, peut le {verb}."


def relink_refused(pledge: Mapping[str, Any], caller, changes: Any) -> str | None:
    """None unless the PATCH body `changes` (as sent, before validation) changes the pledge's
    `actor_id` and `caller` is not a territory manager; then why not, in French. Sending the
    stored `actor_id` again changes nothing and is allowed."""
    if not isinstance(changes, Mapping) or "actor_id" not in changes:
        return None
    if changes["actor_id"] == pledge.get("actor_id") or caller.role == TERRITORY_MANAGER:
        return None
    return ("Seul un gestionnaire de territoire peut rattacher un engagement à une autre organisation, "
            "ou l'en détacher (actor_id).")


# --- the directory ---------------------------------------------------------------------------------
# A territory manager's account moderates the whole territory (requests, initiatives, pledges,
# API keys): registering one is for territory managers only, never open to anyone.
MANAGER_REGISTRATION_REFUSED = "Seul un gestionnaire de territoire peut inscrire un autre gestionnaire de territoire."


def may_register(kind: str, caller) -> bool:
    """Whether `caller` (None when anonymous) may register an actor of `kind`: anyone may register an
    organisation, a school or a pupil (that is how people join); only a territory manager may
    register another territory manager."""
    return kind != TERRITORY_MANAGER or (caller is not None and caller.role == TERRITORY_MANAGER)


def sees_contacts(actor: Mapping[str, Any], caller) -> bool:
    """Whether `caller` (None when anonymous) reads an organisation's or a school's whole record,
    its contacts included: territory managers, and the accounts acting for that actor (a token whose
    actor_id is the actor's). Everyone else reads its public view, as in the directory list."""
    if caller is None:
        return False
    return caller.role == TERRITORY_MANAGER or (caller.actor_id is not None and caller.actor_id == actor.get("actor_id"))


ERASURE_REFUSED = ("Seuls l'acteur lui-même (un compte qui agit en son nom) et les gestionnaires de territoire "
                   "peuvent effacer un acteur.")


def may_erase(actor_id: str, caller) -> bool:
    """Whether the signed-in `caller` may erase the actor `actor_id` (the right to erasure): the
    accounts acting for that actor (for a pupil, its guardian's) and territory managers."""
    return caller.role == TERRITORY_MANAGER or (caller.actor_id is not None and caller.actor_id == actor_id)
