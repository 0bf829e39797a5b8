"""The map of organisations and schools: GeoJSON features (RFC 7946). Its bounding box is
`places.BoundingBox`, shared with the lists."""
from __future__ import annotations

from vitawin_actors.domain.directory import MAPPED_KINDS


def to_feature(doc: dict) -> dict:
    """A GeoJSON Feature for an organisation or a school (RFC 7946: [lon, lat])."""
    if doc["kind"] not in MAPPED_KINDS:
        raise ValueError(f"{doc['kind']} actors are not on the map")
    return {
        "type": "Feature",
        "id": doc["actor_id"],
        "geometry": {"type": "Point", "coordinates": [doc["location"]["lon"], doc["location"]["lat"]]},
        "properties": {name: doc[name] for name in ("actor_id", "kind", "name", "town")},
    }


def feature_collection(docs) -> dict:
    return {"type": "FeatureCollection", "features": [to_feature(doc) for doc in docs]}
