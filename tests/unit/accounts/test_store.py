"""The MongoDB stores' single-document "use once" updates (vitawin_accounts.store, over the fake
collection): exactly one caller wins, and the indexes they rely on are declared."""
from __future__ import annotations

from datetime import timedelta

from vitawin_accounts import domain


def test_a_challenge_is_used_once_and_never_after_its_expiry(stores, clock):
    policy = domain.Policy()
    stores.challenges.add(domain.challenge_document("acc-1", "jeton-1", clock(), policy))
    stores.challenges.add(domain.challenge_document("acc-1", "jeton-2", clock(), policy))

    assert stores.challenges.use(domain.digest("jeton-1"), clock()) is True
    assert stores.challenges.use(domain.digest("jeton-1"), clock() + timedelta(seconds=1)) is False
    assert stores.challenges.use(domain.digest("jeton-2"), clock() + timedelta(minutes=15)) is False
    assert stores.challenges.use(domain.digest("inconnu"), clock()) is False


def test_a_refresh_token_is_rotated_once(stores, clock):
    stores.refresh_tokens.add(domain.refresh_document("r-1", account_id="acc-1", actor_id="act-1", family_id="fam-1",
                                                      now=clock(), policy=domain.Policy()))

    assert stores.refresh_tokens.rotate(domain.digest("r-1"), clock()) is True
    assert stores.refresh_tokens.rotate(domain.digest("r-1"), clock() + timedelta(seconds=1)) is False
    assert domain.refresh_state(stores.refresh_tokens.get(domain.digest("r-1")), clock()) == "reused"


def test_a_revoked_or_expired_refresh_token_is_not_rotated(stores, clock):
    policy = domain.Policy()
    for token in ("r-1", "r-2"):
        stores.refresh_tokens.add(domain.refresh_document(token, account_id="acc-1", actor_id="act-1",
                                                          family_id="fam-" + token, now=clock(), policy=policy))
    stores.refresh_tokens.revoke_family("fam-r-1", clock(), "signed_out")

    assert stores.refresh_tokens.rotate(domain.digest("r-1"), clock()) is False
    assert stores.refresh_tokens.rotate(domain.digest("r-2"), clock() + timedelta(days=30)) is False
    assert domain.refresh_state(stores.refresh_tokens.get(domain.digest("r-1")), clock()) == "revoked"
    assert domain.refresh_state(stores.refresh_tokens.get(domain.digest("r-2")), clock() + timedelta(days=30)) == "expired"


def test_sign_in_links_are_counted_over_a_sliding_hour(stores, clock):
    account = stores.accounts.ensure("a@example.fr", clock())
    allowed = []
    for minute in (0, 10, 20, 30, 40, 50, 59, 61, 70, 71):
        allowed.append(stores.accounts.record_sign_in_link(account["_id"], clock() + timedelta(minutes=minute), 5))

    assert allowed == [True, True, True, True, True, False, False, True, True, False]
    assert len(stores.accounts.get(account["_id"])["sign_in_links"]) == 5


def test_an_account_is_made_once_per_address(stores, clock):
    first = stores.accounts.ensure("a@example.fr", clock())
    again = stores.accounts.ensure("a@example.fr", clock() + timedelta(days=1))

    assert first == again and first["created_at"] == clock()


def test_a_membership_is_added_once_per_actor(stores, clock):
    account = stores.accounts.ensure("a@example.fr", clock())
    membership = domain.Membership("professional", "act-1", "Boulangerie", added_at=clock()).to_document()

    assert stores.accounts.add_membership(account["_id"], membership) is True
    assert stores.accounts.add_membership(account["_id"], {**membership, "display_name": "Autre"}) is False
    assert stores.accounts.get(account["_id"])["memberships"] == [membership]


def test_an_account_is_deleted_only_with_its_last_membership(stores, clock):
    account = stores.accounts.ensure("a@example.fr", clock())
    for actor in ("act-1", "act-2"):
        stores.accounts.add_membership(account["_id"], domain.Membership("professional", actor, "X").to_document())

    assert stores.accounts.delete_if_only(account["_id"], "act-1") is False
    assert stores.accounts.remove_membership(account["_id"], "act-1") is True
    assert stores.accounts.delete_if_only(account["_id"], "act-1") is False
    assert stores.accounts.delete_if_only(account["_id"], "act-2") is True
    assert stores.accounts.by_email("a@example.fr") is None


def test_the_indexes_the_queries_rely_on_are_declared(stores, db):
    indexes = {name: collection.indexes for name, collection in db.items()}

    assert ([("email", 1)], {"unique": True}) in indexes["accounts"]
    assert ([("memberships.actor_id", 1)], {}) in indexes["accounts"]
    assert ([("expires_at", 1)], {"expireAfterSeconds": 3600}) in indexes["challenges"]
    assert ([("expires_at", 1)], {"expireAfterSeconds": 0}) in indexes["refresh_tokens"]
    assert ([("family_id", 1)], {}) in indexes["refresh_tokens"]
    assert ([("actor_id", 1)], {}) in indexes["refresh_tokens"]
