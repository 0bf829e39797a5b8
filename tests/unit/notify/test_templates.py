from vitawin_notify import domain
from vitawin_notify.adapters import compose

SENDER = "Vitawin <ne-pas-repondre@vitawin.fr>"


def test_each_email_renders_as_text_with_an_html_alternative(event_factory, towns):
    for email in domain.emails_for_proposal("e1", event_factory().data, towns):
        message = compose(email, SENDER)

        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for body in (text, html):
            assert "2,8 km" in body and "Vincennes" in body and "prop-3b1f0e6a9d2c4e55" in body
        assert html.lstrip().startswith("<!DOCTYPE html>") and 'lang="fr"' in html
        assert message["From"] == SENDER and message["To"] == email.to
        assert message["Message-ID"].endswith("@vitawin.fr>") and message["Date"]


def test_the_same_delivery_keeps_the_same_message_id(event_factory, towns):
    first = compose(domain.emails_for_proposal("e1", event_factory().data, towns)[0], SENDER)
    again = compose(domain.emails_for_proposal("e1", event_factory().data, towns)[0], SENDER)
    other = compose(domain.emails_for_proposal("e2", event_factory().data, towns)[0], SENDER)
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]


def test_the_html_part_escapes_what_people_typed(event_factory, towns):
    data = event_factory(volunteer__organisation_name='<script>alert("x")</script> & Fils').data
    to_requester = compose(domain.emails_for_proposal("e1", data, towns)[1], SENDER)

    html = to_requester.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; Fils" in html
