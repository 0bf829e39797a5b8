"""bootstrap.consumer_loop with a fake Kafka consumer (vitawin_common.kafka.consumer monkeypatched):
the webhooks worker reads the internal streams a partner may see and the public topics, never
`contacts` nor `requesters` (personal data), handles every public type, and dead-letters on its
own topic; the public topics are made with their partitions and retention."""
from __future__ import annotations

from vitawin_common.config import Settings

from vitawin_webhooks import bootstrap, public, topics

from tests.unit.webhooks.webhooks_fakes import CONTRACTS


def test_the_worker_reads_what_a_partner_may_see_and_the_public_topics_only(monkeypatch):
    seen = {}

    def fake_consumer(settings, group_id, addresses):
        seen.update(group=group_id, topics=list(addresses))
        return object()
    monkeypatch.setattr(bootstrap.kafka, "consumer", fake_consumer)
    config = Settings("webhooks", contracts_dir=CONTRACTS)
    loop = bootstrap.consumer_loop(config, producer=object(), env={})
    assert seen["group"] == "webhooks"
    assert sorted(seen["topics"]) == sorted(["vitawin.requests", "vitawin.volunteers", "vitawin.proposals",
                                             "vitawin.initiatives", "vitawin.actors", "public.requests.v1",
                                             "public.pledges.v1", "public.proposals.v1", "public.initiatives.v1"])
    assert not {"vitawin.contacts", "vitawin.requesters"} & set(seen["topics"])
    assert set(public.TYPES) <= set(loop.handlers)
    assert not [t for t in loop.handlers if "contact" in t or "requester" in t]
    assert loop.dead_letter_topic == "vitawin.webhooks.dlq"


def test_public_topics_are_made_with_their_partitions_and_thirty_days_retention(monkeypatch):
    made = []

    class FakeAdmin:
        def __init__(self, **kwargs):
            pass

        def list_topics(self):
            return ["public.requests.v1"]

        def create_topics(self, new):
            made.extend(new)

        def close(self):
            pass

    monkeypatch.setattr(topics, "KafkaAdminClient", FakeAdmin)
    config = Settings("webhooks", contracts_dir=CONTRACTS)
    created = topics.ensure_public_topics(config, topics.load(CONTRACTS))
    assert created == ["public.pledges.v1", "public.proposals.v1", "public.initiatives.v1"]
    for topic in made:
        assert topic.num_partitions == 3
        assert topic.topic_configs == {"retention.ms": str(30 * 24 * 3600 * 1000), "cleanup.policy": "delete"}
