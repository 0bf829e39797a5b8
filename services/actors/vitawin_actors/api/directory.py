"""/api/v1/actors: the directory of actors, the "Vitawiners" (register, list, read, erase), and its
map (/api/v1/actors/map.geojson)."""
from __future__ import annotations

from collections.abc import Mapping

from flask import jsonify, url_for
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from vitawin_common.territory import InvalidPlace, Location

from vitawin_common import identity

from vitawin_actors import access, handlers
from vitawin_actors.api.fields import (BBOX_DESCRIPTION, BBOX_EXAMPLE, INSEE, LEVEL, BoundingBoxField, Normalised,
                                       StrictBoolean, VolunteerLocationSchema, _choices, _deps, _distinct,
                                       _known_town, _page_number, _page_size, _place_error)
from vitawin_actors.domain import (ACTOR_KINDS, LEVELS, MAPPED_KINDS, MAX_ZOOM, ORGANISATION_KINDS, PUBLIC_FIELDS,
                                   SCHOOL_TYPES, Address, RegisterOrganisation, RegisterPupil, RegisterSchool,
                                   RegisterTerritoryManager, check_internship_periods, check_organisation_town,
                                   check_place, is_erased, normalise_iso_week, normalise_naf, normalise_siret,
                                   normalise_uai, public_view)
from vitawin_actors.map_follower import MapUnavailable

ACTOR_KIND_ERROR = f"Type d'acteur inconnu ; valeurs possibles : {', '.join(ACTOR_KINDS)}."
GEOJSON = "application/geo+json"
PUPIL_REFUSED_FIELDS = ("last_name", "address", "location")
PUPIL_REFUSED = ("Champ refusé : Vitawin n'enregistre ni le nom de famille, ni l'adresse, ni la position "
                 "d'un élève.")


class ActorLocationSchema(VolunteerLocationSchema):
    """A place (WGS 84)."""


class ActorAddressSchema(Schema):
    street = fields.String(required=True, validate=validate.Length(1, 200),
                           metadata={"description": "Numéro et voie", "example": "12 rue de Fontenay"})
    postcode = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9]{5}$", error="Code postal invalide : 5 chiffres attendus."), metadata={"example": "94300"})

    @post_load
    def to_address(self, data, **kwargs) -> Address:
        return Address(**data)


class ActorBaseSchema(Schema):
    """What every actor record has; each kind adds its fields. Unknown fields are refused."""
    actor_id = fields.String(dump_only=True, metadata={"example": "act-0b7c1d2e3f40516273849a0b1c2d3e4f"})
    created_at = fields.DateTime(dump_only=True)


def _kind(kinds) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(kinds, error=ACTOR_KIND_ERROR),
                         metadata={"description": f"Type d'acteur : {_choices({k: ACTOR_KINDS[k] for k in kinds})}"})


class OrganisationSchema(ActorBaseSchema):
    kind = _kind(ORGANISATION_KINDS)
    name = fields.String(required=True, validate=validate.Length(1, 200),
                         metadata={"description": "Raison sociale ou nom d'usage"})
    contact_email = fields.Email(required=True, validate=validate.Length(max=254),
                                 metadata={"description": "Adresse e-mail de contact (jamais publiée)"})
    siret = Normalised(normalise_siret, required=True, metadata={
        "description": "SIRET, 14 chiffres (les espaces sont acceptés et retirés)", "example": "12345678200010"})
    naf_code = Normalised(normalise_naf, required=True, metadata={
        "description": "Code NAF rév. 2 de l'activité principale", "example": "56.10A"})
    address = fields.Nested(ActorAddressSchema, required=True)
    town = fields.String(required=True, validate=INSEE, metadata={
        "description": "Code INSEE de la commune : une commune du territoire, sauf si "
                       "serves_territory_from_outside est vrai", "example": "94080"})
    location = fields.Nested(ActorLocationSchema, required=True, metadata={
        "description": "Position, à 5 km au plus du centre de la commune quand elle est dans le territoire"})
    serves_territory_from_outside = fields.Boolean(load_default=False, metadata={
        "description": "Vrai pour une organisation située hors du territoire qui y intervient "
                       "(la commune peut alors être hors du territoire)"})

    @validates_schema(skip_on_field_errors=False)
    def place_in_territory(self, data, **kwargs) -> None:
        if "town" in data:
            location = data.get("location") if isinstance(data.get("location"), Location) else None
            try:
                check_organisation_town(_deps().territory, data["town"], location,
                                        data.get("serves_territory_from_outside", False))
            except InvalidPlace as exc:
                raise _place_error(exc) from exc

    @post_load
    def to_command(self, data, **kwargs) -> RegisterOrganisation:
        return RegisterOrganisation(**data)


class SchoolSchema(ActorBaseSchema):
    kind = _kind(["school"])
    name = fields.String(required=True, validate=validate.Length(1, 200))
    contact_email = fields.Email(required=True, validate=validate.Length(max=254), metadata={
        "description": "Adresse e-mail du professeur référent (jamais publiée)"})
    uai = Normalised(normalise_uai, required=True, metadata={
        "description": "Code UAI (ex-RNE) : 7 chiffres et une lettre de contrôle", "example": "0940120V"})
    school_type = fields.String(required=True, validate=validate.OneOf(
        SCHOOL_TYPES, error=f"Type d'établissement inconnu ; valeurs possibles : {', '.join(SCHOOL_TYPES)}."),
        metadata={"description": f"Type d'établissement : {_choices(SCHOOL_TYPES)}"})
    levels = fields.List(fields.String(validate=LEVEL), required=True, validate=[
        validate.Length(min=1, error="Indiquez au moins un niveau."),
        _distinct("Chaque niveau ne doit figurer qu'une fois.")],
        metadata={"description": f"Niveaux enseignés : {_choices(LEVELS)}"})
    internship_periods = fields.Dict(
        keys=fields.String(validate=LEVEL),
        values=fields.List(Normalised(normalise_iso_week), validate=validate.Length(
            min=1, error="Indiquez au moins une semaine.")),
        load_default=dict,
        metadata={"description": "Périodes de stage : niveau → semaines ISO (« 2027-W24 »), pour des "
                                 "niveaux enseignés", "example": {"3e": ["2027-W24", "2027-W25"]}})
    address = fields.Nested(ActorAddressSchema, required=True)
    town = fields.String(required=True, validate=_known_town, metadata={
        "description": "Code INSEE d'une commune du territoire", "example": "94080"})
    location = fields.Nested(ActorLocationSchema, required=True, metadata={
        "description": "Position, à 5 km au plus du centre de la commune"})
    guardian_copies = StrictBoolean(load_default=False, metadata={
        "description": "Vrai si l'établissement demande que le responsable légal de chacun de ses élèves "
                       "reçoive une copie des propositions faites pour les demandes de l'élève, puis de la "
                       "mise en relation confirmée (faux par défaut). Le professionnel ne reçoit jamais "
                       "l'adresse du responsable légal. Jamais publié dans l'annuaire",
        "example": False})

    @validates_schema(skip_on_field_errors=False)
    def rules_across_fields(self, data, **kwargs) -> None:
        errors = {}
        if "town" in data and isinstance(data.get("location"), Location):
            try:
                check_place(_deps().territory, data["town"], data["location"])
            except InvalidPlace as exc:
                errors[exc.field] = [str(exc)]
        if "levels" in data and data.get("internship_periods"):
            not_taught = check_internship_periods(data["levels"], data["internship_periods"])
            if not_taught:
                errors["internship_periods"] = {level: [reason] for level, reason in not_taught.items()}
        if errors:
            raise ValidationError(errors)

    @post_load
    def to_command(self, data, **kwargs) -> RegisterSchool:
        return RegisterSchool(**data)


class PupilSchema(ActorBaseSchema):
    """A pupil, usually a minor: a first name only; no last name, address or position (refused)."""
    kind = _kind(["pupil"])
    first_name = fields.String(required=True, validate=validate.Length(1, 100), metadata={
        "description": "Prénom (jamais publié)"})
    level = fields.String(required=True, validate=LEVEL, metadata={"description": f"Niveau : {_choices(LEVELS)}"})
    school_uai = Normalised(normalise_uai, required=True, metadata={
        "description": "Code UAI de l'établissement de l'élève", "example": "0940120V"})
    town = fields.String(required=True, validate=_known_town, metadata={
        "description": "Code INSEE de la commune (du territoire) où vit l'élève", "example": "94080"})
    is_minor = fields.Boolean(load_default=True, metadata={"description": "Vrai (par défaut) pour un élève mineur"})
    guardian_contact_email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "Adresse e-mail d'un responsable légal, obligatoire pour un élève mineur (jamais publiée)"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def guardian_for_a_minor(self, data, original, **kwargs) -> None:
        if data.get("is_minor", True) and isinstance(original, Mapping) and "guardian_contact_email" not in original:
            raise ValidationError("Champ obligatoire pour un élève mineur : l'adresse e-mail d'un "
                                  "responsable légal.", "guardian_contact_email")

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        if isinstance(error.messages, dict):
            for name in PUPIL_REFUSED_FIELDS:
                if name in error.messages:
                    error.messages[name] = [PUPIL_REFUSED]

    @post_load
    def to_command(self, data, **kwargs) -> RegisterPupil:
        return RegisterPupil(**data)


class TerritoryManagerSchema(ActorBaseSchema):
    kind = _kind(["territory_manager"])
    name = fields.String(required=True, validate=validate.Length(1, 200), metadata={
        "description": "Nom de la personne (jamais publié)"})
    contact_email = fields.Email(required=True, validate=validate.Length(max=254))
    organisation_name = fields.String(required=True, validate=validate.Length(1, 200), metadata={
        "description": "Organisme employeur (collectivité, établissement public territorial...)"})

    @post_load
    def to_command(self, data, **kwargs) -> RegisterTerritoryManager:
        return RegisterTerritoryManager(**data)


def _summary(schema: type[Schema], kind: str) -> type[Schema]:
    """The public view of a kind (its PUBLIC_FIELDS and created_at): what the directory lists."""
    meta = type("Meta", (), {"fields": (*PUBLIC_FIELDS[kind], "created_at")})
    return type(schema.__name__.replace("Schema", "SummarySchema"), (schema,), {"Meta": meta})


OrganisationSummarySchema = _summary(OrganisationSchema, "company")
SchoolSummarySchema = _summary(SchoolSchema, "school")
PupilSummarySchema = _summary(PupilSchema, "pupil")
TerritoryManagerSummarySchema = _summary(TerritoryManagerSchema, "territory_manager")


class ByKind(Schema):
    """Stands for one schema per actor kind, chosen by the `kind` field, to load and to dump. Its
    OpenAPI component is a oneOf with a discriminator (`_document_by_kind`)."""
    schemas: dict[str, type[Schema]] = {}

    def load(self, data, *, many=None, partial=None, unknown=None):
        if not isinstance(data, Mapping):
            raise ValidationError({"_schema": ["Objet JSON attendu."]})
        if "kind" not in data:
            raise ValidationError({"kind": ["Champ obligatoire."]})
        kind = data["kind"]
        if not isinstance(kind, str) or kind not in self.schemas:
            raise ValidationError({"kind": [ACTOR_KIND_ERROR]})
        return self.schemas[kind]().load(data, partial=partial, unknown=unknown)

    def dump(self, obj, *, many=None):
        if self.many if many is None else many:
            return [self.dump(item, many=False) for item in obj]
        return self.schemas[obj["kind"]]().dump(obj)


def _by_kind(organisation, school, pupil, territory_manager) -> dict[str, type[Schema]]:
    return {**{kind: organisation for kind in ORGANISATION_KINDS}, "school": school, "pupil": pupil,
            "territory_manager": territory_manager}


class ActorSchema(ByKind):
    """An actor, as registered (POST body) and as stored (POST and GET answers)."""
    schemas = _by_kind(OrganisationSchema, SchoolSchema, PupilSchema, TerritoryManagerSchema)


class ActorSummarySchema(ByKind):
    """An actor in the directory list: no contact, nothing that names a pupil."""
    schemas = _by_kind(OrganisationSummarySchema, SchoolSummarySchema, PupilSummarySchema,
                       TerritoryManagerSummarySchema)


class ActorQuerySchema(Schema):
    kind = fields.List(fields.String(validate=validate.OneOf(ACTOR_KINDS, error=ACTOR_KIND_ERROR)), metadata={
        "description": "Types d'acteurs à lister (paramètre répétable : kind=school&kind=company)"})
    town = fields.String(validate=INSEE, metadata={"description": "Code INSEE de la commune"})
    bbox = BoundingBoxField(metadata={
        "description": f"{BBOX_DESCRIPTION} : seuls les acteurs situés dedans (organisations et établissements ; "
                       f"un élève ou un gestionnaire de territoire n'a pas de position)", "example": BBOX_EXAMPLE})
    page = _page_number()
    page_size = _page_size("Acteurs")


class ActorPageSchema(Schema):
    items = fields.List(fields.Nested(ActorSummarySchema), metadata={"description": "Les plus récents d'abord"})
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "Nombre d'acteurs correspondant aux filtres, toutes pages"})


MAP_KIND_ERROR = f"Type d'acteur absent de la carte ; valeurs possibles : {', '.join(MAPPED_KINDS)}."


class MapQuerySchema(Schema):
    bbox = BoundingBoxField(metadata={"description": BBOX_DESCRIPTION, "example": BBOX_EXAMPLE})
    zoom = fields.Integer(
        validate=validate.Range(0, MAX_ZOOM, error=f"Niveau de zoom invalide : un entier de 0 à {MAX_ZOOM}."),
        metadata={"description": "Niveau de zoom de la carte (0 à 20, tuiles Web Mercator de 256 pixels) : en "
                                 "dessous d'un seuil (12 par défaut), ou quand l'emprise compte trop d'acteurs "
                                 "(plus de 1 500 par défaut), la réponse regroupe les acteurs par cellules de "
                                 "80 pixels à ce zoom. Sans zoom, seul le nombre d'acteurs compte, et les cellules "
                                 "sont celles du zoom qui fait tenir l'emprise dans 1 024 x 768 pixels",
                  "example": 14})
    kind = fields.List(fields.String(validate=validate.OneOf(MAPPED_KINDS, error=MAP_KIND_ERROR)), metadata={
        "description": "Types d'acteurs à montrer (paramètre répétable : kind=school&kind=company) ; tous "
                       "les types de la carte si absent"})
    town = fields.String(validate=INSEE, metadata={"description": "Code INSEE de la commune", "example": "94080"})


class MapPointSchema(Schema):
    type = fields.String(metadata={"example": "Point"})
    coordinates = fields.List(fields.Float(), metadata={"description": "[longitude, latitude]"})


class MapPropertiesSchema(Schema):
    """Un acteur (actor_id, kind, name, town) ou un groupe d'acteurs (cluster, count, kinds, bbox)."""
    actor_id = fields.String(metadata={"description": "Pour un acteur"})
    kind = fields.String(metadata={"description": "Pour un acteur : type d'acteur (organisation ou établissement "
                                                  "scolaire)"})
    name = fields.String(metadata={"description": "Pour un acteur"})
    town = fields.String(metadata={"description": "Pour un acteur : code INSEE de la commune"})
    cluster = fields.Boolean(metadata={"description": "Pour un groupe : toujours vrai (absent pour un acteur)"})
    count = fields.Integer(metadata={"description": "Pour un groupe : nombre d'acteurs regroupés (2 au moins)"})
    kinds = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Pour un groupe : nombre d'acteurs par type", "example": {"company": 12, "school": 1}})
    bbox = fields.List(fields.Float(), metadata={
        "description": "Pour un groupe : emprise de ses acteurs [min_lon, min_lat, max_lon, max_lat] ; zoomer "
                       "dessus les sépare", "example": [2.43, 48.84, 2.45, 48.85]})


class MapFeatureSchema(Schema):
    type = fields.String(metadata={"example": "Feature"})
    id = fields.String(metadata={"description": "actor_id pour un acteur ; « cluster-<zoom>-<x>-<y> » pour un groupe"})
    geometry = fields.Nested(MapPointSchema, metadata={"description": "La position de l'acteur, ou le centre de "
                                                                      "gravité des acteurs du groupe"})
    properties = fields.Nested(MapPropertiesSchema)


class MapFeatureCollectionSchema(Schema):
    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Nested(MapFeatureSchema), metadata={
        "description": "Les acteurs par actor_id croissant ; regroupés, les cellules du nord au sud, chaque rangée "
                       "d'ouest en est (une cellule d'un seul acteur reste cet acteur)"})
    total = fields.Integer(metadata={"description": "Nombre d'acteurs correspondant à la requête : la somme des "
                                                    "count des groupes et du nombre d'acteurs seuls"})
    clustered = fields.Boolean(metadata={"description": "Vrai si la réponse contient au moins un groupe"})


actors_blp = Blueprint("actors", __name__, url_prefix="/api/v1/actors",
                       description="Annuaire des acteurs (« Vitawiners ») : organisations, établissements "
                                   "scolaires, élèves, gestionnaires de territoire")


@actors_blp.route("")
class Actors(MethodView):
    @actors_blp.arguments(ActorQuerySchema, location="query")
    @actors_blp.response(200, ActorPageSchema)
    def get(self, query):
        """Lister l'annuaire (les plus récents d'abord), page par page

        Réponse : {items, page, page_size, total}. Chaque acteur y figure sous sa forme publique :
        ni adresse e-mail, ni adresse postale, ni SIRET ; pour un élève, seulement son niveau, le
        code UAI de son établissement et sa commune."""
        items, total = _deps().uow_factory().actors.page(
            kinds=query.get("kind"), town=query.get("town"), bbox=query.get("bbox"), page=query["page"],
            page_size=query["page_size"])
        return {"items": [{**public_view(doc), "created_at": doc["created_at"]} for doc in items],
                "page": query["page"], "page_size": query["page_size"], "total": total}

    @actors_blp.arguments(ActorSchema)
    @actors_blp.response(201, ActorSchema)
    def post(self, command):
        """Inscrire un acteur dans l'annuaire

        Les champs attendus dépendent de `kind`. Une organisation située hors du territoire qui y
        intervient s'inscrit avec `serves_territory_from_outside: true`. Un élève s'inscrit sans
        nom de famille, sans adresse et sans position. Inscrire un gestionnaire de territoire est
        réservé aux gestionnaires de territoire (401 sans connexion, 403 pour un autre rôle)."""
        if not access.may_register(command.kind, identity.current_caller()):
            identity.require_caller()  # 401 when anonymous
            abort(403, message=access.MANAGER_REGISTRATION_REFUSED)
        actor = handlers.register_actor(command, _deps().uow_factory())
        return actor.to_document(), {"Location": url_for(".ActorById", actor_id=actor.actor_id)}


@actors_blp.route("/map.geojson")
class ActorsMap(MethodView):
    @actors_blp.arguments(MapQuerySchema, location="query")
    @actors_blp.response(200, MapFeatureCollectionSchema, content_type=GEOJSON)
    @actors_blp.alt_response(503, description="Carte momentanément indisponible (base de données injoignable au "
                                              "démarrage du service)")
    def get(self, query):
        """Carte des organisations et des établissements scolaires (GeoJSON)

        Une FeatureCollection (RFC 7946) : un point par organisation ou établissement situé dans
        l'emprise, avec actor_id, kind, name et town ; quand l'emprise en compte trop, ou à petite
        échelle, des groupes d'acteurs (propriétés cluster, count, kinds et bbox) à la place. Les
        membres total et clustered disent combien d'acteurs correspondent et s'il y a des groupes.
        Un acteur inscrit ou effacé y figure ou en disparaît dès la réponse à l'inscription ou à
        l'effacement. Jamais d'élève, jamais d'adresse e-mail."""
        deps = _deps()
        try:
            index = deps.map_follower.fresh()
        except MapUnavailable:
            abort(503, message="La carte des acteurs est momentanément indisponible : réessayez dans un instant.")
        collection = index.feature_collection(query.get("bbox"), zoom=query.get("zoom"), kinds=query.get("kind"),
                                              town=query.get("town"), settings=deps.map_settings)
        response = jsonify(collection)  # already the documented shape: no marshmallow dump of thousands of features
        response.mimetype = GEOJSON
        return response


ACTOR_NOT_FOUND = "Acteur introuvable."


@actors_blp.route("/<actor_id>")
class ActorById(MethodView):
    @actors_blp.response(200, ActorSchema)
    @actors_blp.alt_response(404, description="Acteur introuvable")
    @actors_blp.alt_response(410, description="Acteur effacé")
    def get(self, actor_id: str):
        """Lire la fiche d'un acteur

        La fiche complète d'une organisation ou d'un établissement, contacts compris, pour les
        gestionnaires de territoire et pour les comptes qui agissent au nom de cet acteur ; pour
        les autres, sa forme publique (comme dans l'annuaire : ni adresse e-mail, ni adresse
        postale, ni SIRET). Pour un élève, seulement son niveau, son établissement et sa commune :
        son prénom et le contact de son responsable légal ne sortent pas du service."""
        actor = _deps().uow_factory().actors.get(actor_id)
        if actor is None:
            abort(404, message=ACTOR_NOT_FOUND)
        if is_erased(actor):
            abort(410, message="Acteur effacé.")
        if actor["kind"] == "pupil":  # a minor: nobody is known to need more yet
            return {**public_view(actor), "created_at": actor["created_at"]}
        if not access.sees_contacts(actor, identity.current_caller()):
            return {**public_view(actor), "created_at": actor["created_at"]}
        return actor

    @actors_blp.response(204)
    @actors_blp.alt_response(404, description="Acteur introuvable")
    @actors_blp.alt_response(401, description="Connexion requise")
    @actors_blp.alt_response(403, description="Ni l'acteur lui-même, ni un gestionnaire de territoire")
    @actors_blp.alt_response(410, description="Acteur déjà effacé")
    @actors_blp.alt_response(409, description="Un engagement lié modifié entre-temps")
    def delete(self, actor_id: str):
        """Effacer un acteur (droit à l'effacement, RGPD)

        Définitif. Toutes ses données personnelles sont supprimées : il ne reste qu'une trace
        (identifiant, type, date d'effacement, statut erased). Chaque engagement lié à cet acteur
        est retiré et perd lui aussi ses données personnelles (nom de l'organisation, adresse
        e-mail). L'acteur disparaît de l'annuaire et de la carte ; sa fiche répond 410, comme un
        second effacement. Réservé à l'acteur lui-même (un compte qui agit en son nom ; pour un
        élève, celui de son responsable légal) et aux gestionnaires de territoire : 401 sans
        connexion, 403 pour les autres, et rien n'est effacé."""
        if not access.may_erase(actor_id, identity.require_caller()):
            abort(403, message=access.ERASURE_REFUSED)
        try:
            handlers.erase_actor(actor_id, _deps().uow_factory())
        except handlers.ActorNotFound:
            abort(404, message=ACTOR_NOT_FOUND)
        except handlers.ActorErased:
            abort(410, message="Acteur déjà effacé.")
        except handlers.ConcurrentChange:
            abort(409, message="Un engagement de cet acteur a été modifié entre-temps : recommencez.")


def _document_by_kind(api: Api) -> None:
    """Document each ByKind schema as a oneOf of its kinds' schemas, discriminated by `kind`."""
    components = api.spec.components
    for dispatcher in (ActorSchema, ActorSummarySchema):
        mapping, refs = {}, []
        for kind, schema in dispatcher.schemas.items():
            name = schema.__name__.removesuffix("Schema")
            if name not in components.schemas:
                components.schema(name, schema=schema)
            ref = f"#/components/schemas/{name}"
            mapping[kind] = ref
            if {"$ref": ref} not in refs:
                refs.append({"$ref": ref})
        components.schemas[dispatcher.__name__.removesuffix("Schema")] = {
            "oneOf": refs, "discriminator": {"propertyName": "kind", "mapping": mapping},
            "description": (dispatcher.__doc__ or "").strip()}
