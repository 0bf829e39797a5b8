import hashlib
import math
import uuid

import pytest

from vitawin_matching import domain
from vitawin_matching.domain import Location


def volunteer(action_types=("testimony",), max_km=10.0, at=Location(48.8475, 2.4392)):
    return domain.Volunteer("vol-1", "Boulangerie", "contact@boulangerie.example.fr", "94080", at,
                            tuple(action_types), max_km)


def request(action_type="testimony", max_km=15.0, at=Location(48.8475, 2.4392), request_id="req-1"):
    return domain.Request(request_id, "school", "referent@college.example.fr", action_type, "94033", at, max_km)


def north_of(km, origin=Location(48.8475, 2.4392)):
    return Location(origin.lat + math.degrees(km / domain.EARTH_RADIUS_KM), origin.lon)


@pytest.mark.parametrize("center", [Location(48.8475, 2.4392), Location(-33.9, 151.2), Location(70.0, 25.0)])
@pytest.mark.parametrize("radius_km", [0.5, 10, 200])
def test_bounding_box_contains_every_point_at_the_radius(center, radius_km):
    box = domain.bounding_box(center, radius_km)
    d = radius_km / domain.EARTH_RADIUS_KM
    lat1, lon1 = math.radians(center.lat), math.radians(center.lon)
    for bearing_deg in range(0, 360, 5):  # points exactly on the circle, all around
        b = math.radians(bearing_deg)
        lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
        lon2 = lon1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(lat1),
                                 math.cos(d) - math.sin(lat1) * math.sin(lat2))
        point = Location(math.degrees(lat2), math.degrees(lon2))
        assert box.lat_min <= point.lat <= box.lat_max and box.lon_min <= point.lon <= box.lon_max


def test_bounding_box_near_the_antimeridian_takes_every_longitude():
    box = domain.bounding_box(Location(0.0, 179.99), 50)
    assert (box.lon_min, box.lon_max) == (-180.0, 180.0)


def test_action_type_must_match():
    assert domain.match(request(action_type="mentoring"), volunteer(action_types=("testimony", "internship"))) is None
    assert domain.match(request(action_type="internship"), volunteer(action_types=("testimony", "internship")))


def test_distance_limit_is_the_smaller_of_the_two_maxima():
    at_8_km = north_of(8)
    # the volunteer's limit is the smaller one
    assert domain.match(request(max_km=15), volunteer(max_km=7, at=at_8_km)) is None
    assert domain.match(request(max_km=15), volunteer(max_km=9, at=at_8_km))
    # the request's limit is the smaller one
    assert domain.match(request(max_km=7), volunteer(max_km=50, at=at_8_km)) is None
    found = domain.match(request(max_km=9), volunteer(max_km=50, at=at_8_km))
    assert found.distance_km == pytest.approx(8, abs=1e-6)


def test_nearest_volunteers_sorts_by_distance_and_drops_the_ineligible():
    far, near, wrong_type = (domain.Volunteer(vid, "O", "o@example.fr", "94080", north_of(km), types, 20)
                             for vid, km, types in (("far", 5, ("testimony",)), ("near", 1, ("testimony",)),
                                                    ("wrong", 0.1, ("mentoring",))))
    ranked = domain.nearest_volunteers(request(), [far, wrong_type, near])
    assert [m.volunteer.volunteer_id for m in ranked] == ["near", "far"]


def test_proposal_id_is_derived_from_the_pair():
    pid = domain.proposal_id("req-1", "vol-1")
    assert pid == domain.proposal_id("req-1", "vol-1")
    assert pid == "prop-" + hashlib.sha256(b"req-1:vol-1").hexdigest()[:20]
    assert len(pid) == 25 and domain.proposal_id("req-1", "vol-2") != pid != domain.proposal_id("vol-1", "req-1")


def test_proposal_event_id_is_a_uuid5_of_the_proposal_id():
    pid = domain.proposal_id("req-1", "vol-1")
    assert domain.proposal_event_id(pid) == str(uuid.uuid5(uuid.NAMESPACE_URL, "vitawin:proposal:" + pid))
    assert domain.proposal_event_id(pid) == domain.proposal_event_id(pid)
