"""The map's bounding box (vitawin_common.territory.BoundingBox), shared by every list and map of
the services: parsed from `bbox=min_lon,min_lat,max_lon,max_lat`, refused in French, and the same
box as a predicate and as a MongoDB filter."""
import pytest

from vitawin_common.territory import BoundingBox, InvalidBoundingBox


def test_a_bounding_box_is_parsed_from_min_lon_min_lat_max_lon_max_lat():
    box = BoundingBox.parse("2.40,48.79,2.56,48.86")
    assert box == BoundingBox(2.40, 48.79, 2.56, 48.86)
    assert box.contains({"lat": 48.8478, "lon": 2.4385})
    assert not box.contains({"lat": 48.8336, "lon": 2.3865})
    assert box.contains({"lat": 48.79, "lon": 2.56}), "bounds are inside"


@pytest.mark.parametrize("text, reason", [
    ("2.40,48.79,2.56", "format attendu"), ("2.40,48.79,2.56,48.86,1", "format attendu"),
    ("a,b,c,d", "format attendu"), ("", "format attendu"), ("2.4,nan,2.5,48.9", "format attendu"),
    ("2.40,48.79,200,48.86", "longitudes entre -180 et 180"),
    ("2.4,95,2.5,96", "latitudes entre -90 et 90"),
    ("2.56,48.79,2.40,48.86", "le minimum doit précéder le maximum"),
    ("2.40,48.86,2.56,48.79", "le minimum doit précéder le maximum"),
])
def test_a_malformed_bounding_box_is_refused_in_french(text, reason):
    with pytest.raises(InvalidBoundingBox, match=f"^Emprise invalide : .*{reason}"):
        BoundingBox.parse(text)


def test_the_mongodb_filter_is_the_box_on_the_named_field_bounds_included():
    box = BoundingBox(2.40, 48.79, 2.56, 48.86)
    assert box.to_query() == {"location.lon": {"$gte": 2.40, "$lte": 2.56},
                              "location.lat": {"$gte": 48.79, "$lte": 48.86}}
    assert set(box.to_query("place")) == {"place.lon", "place.lat"}
