"""Who is calling: signed access tokens (JWT, EdDSA) and the caller they name.

The gateway authenticates people and issues short-lived access tokens signed with the platform's
private key; every service verifies them with the public key only (AUTH_PUBLIC_KEY_FILE or
AUTH_PUBLIC_KEY), so a service can decide what a caller may see or change (object-level rules
live in the service that owns the data) and no service can mint a token. A request without
`Authorization` is anonymous; one with a bad, expired or foreign token gets a 401 in French.

Claims: `sub` (the account), `role` (ROLES), `actor_id` (the actor the account acts for: the
pupil, the school of a referent, the organisation of a professional...), `school_uai` (pupils and
school referents), `iss`, `aud`, `iat`, `exp`.

Local and test stacks make a key pair with `python -m vitawin_common.identity keys DIR` and mint
tokens with `python -m vitawin_common.identity token --role ...` (AUTH_PRIVATE_KEY_FILE).

Other signed tokens (notify's answer and unsubscribe links) use the same algorithm with their own
key pair, audience and issuer: `sign_claims` and `verify_signed`, keys read with `pem_from_env`."""
from __future__ import annotations

import argparse
import functools
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, HTTPException, Unauthorized

ROLES = {
    "pupil": "élève",
    "school_referent": "référent d'établissement",
    "professional": "professionnel",
    "territory_manager": "gestionnaire de territoire",
    "partner": "partenaire",
}
ISSUER = "vitawin"
AUDIENCE = "vitawin"
ALGORITHM = "EdDSA"
ACCESS_TOKEN_TTL = timedelta(minutes=15)
LEEWAY = timedelta(seconds=30)  # clock skew between the issuer and a service


class InvalidToken(Exception):
    """The token cannot be trusted (French message for the 401)."""


class ExpiredToken(InvalidToken):
    """A token that was valid, past its expiry (French message)."""


@dataclass(frozen=True)
class Caller:
    subject: str
    role: str
    actor_id: str | None = None
    school_uai: str | None = None

    def is_a(self, *roles: str) -> bool:
        return self.role in roles


def generate_keys() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as PEM (private PKCS#8, public SubjectPublicKeyInfo)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def write_keys(folder: Path) -> tuple[Path, Path]:
    """private.pem (mode 600) and public.pem in `folder`, made once: kept if they exist."""
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / "private.pem", folder / "public.pem"
    if not (private_path.is_file() and public_path.is_file()):
        private, public = generate_keys()
        private_path.touch(mode=0o600)
        private_path.write_bytes(private)
        public_path.write_bytes(public)
    return private_path, public_path


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, ttl: timedelta = ACCESS_TOKEN_TTL):
        self.key = serialization.load_pem_private_key(private_key_pem, password=None)
        self.ttl = ttl

    def issue(self, subject: str, role: str, *, actor_id: str | None = None, school_uai: str | None = None,
              now: datetime | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = now or datetime.now(timezone.utc)
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "role": role, "iat": now,
                  "exp": now + self.ttl, "jti": uuid.uuid4().hex}
        if actor_id:
            claims["actor_id"] = actor_id
        if school_uai:
            claims["school_uai"] = school_uai
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)


class TokenVerifier:
    def __init__(self, public_key_pem: bytes):
        self.key = serialization.load_pem_public_key(public_key_pem)

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                leeway=LEEWAY, options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("Jeton d'accès expiré : reconnectez-vous.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("Jeton d'accès invalide.") from exc
        if claims.get("role") not in ROLES:
            raise InvalidToken("Jeton d'accès invalide : rôle inconnu.")
        return Caller(subject=str(claims["sub"]), role=claims["role"], actor_id=claims.get("actor_id"),
                      school_uai=claims.get("school_uai"))


def pem_from_env(name: str, env=os.environ) -> str:
    """The PEM text of `name` (the key itself) or of the file `name`_FILE names; "" when neither
    is set."""
    pem = env.get(name, "")
    if not pem and env.get(f"{name}_FILE", ""):
        pem = Path(env[f"{name}_FILE"]).read_text()
    return pem


def verifier_from_env(env=os.environ) -> TokenVerifier | None:
    """The verifier of AUTH_PUBLIC_KEY (PEM text) or AUTH_PUBLIC_KEY_FILE; None when neither is
    set (then every token is refused and only anonymous calls go through)."""
    pem = pem_from_env("AUTH_PUBLIC_KEY", env)
    return TokenVerifier(pem.encode()) if pem else None


def issuer_from_env(env=os.environ) -> TokenIssuer:
    pem = pem_from_env("AUTH_PRIVATE_KEY", env)
    if not pem:
        raise RuntimeError("set AUTH_PRIVATE_KEY_FILE (or AUTH_PRIVATE_KEY) to issue tokens")
    return TokenIssuer(pem.encode())


# --- Other signed tokens (same algorithm, their own key pair, audience and issuer) -----------------
def _pem(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def load_private_key(pem_or_key):
    """An Ed25519 private key from PEM (bytes or text); a loaded key is returned as it is."""
    if isinstance(pem_or_key, (bytes, str)):
        return serialization.load_pem_private_key(_pem(pem_or_key), password=None)
    return pem_or_key


def load_public_key(pem_or_key):
    """An Ed25519 public key from PEM (bytes or text); a loaded key is returned as it is."""
    if isinstance(pem_or_key, (bytes, str)):
        return serialization.load_pem_public_key(_pem(pem_or_key))
    return pem_or_key


def sign_claims(claims: dict, private_key) -> str:
    """A JWT (EdDSA) of `claims`, signed with `private_key` (PEM or loaded key). The caller sets
    iss, aud and, when the token expires, exp."""
    return jwt.encode(claims, load_private_key(private_key), algorithm=ALGORITHM)


def verify_signed(token: str, public_key, *, audience: str, issuer: str,
                  require: Iterable[str] = ("iss", "aud"), leeway: timedelta = LEEWAY) -> dict:
    """The claims of `token` once its signature (EdDSA, `public_key`: PEM or loaded key), audience
    and issuer are checked, and its expiry when it has one (`require` lists the claims that must be
    present: add "exp" for a token that must expire). ExpiredToken or InvalidToken otherwise."""
    try:
        return jwt.decode(token, load_public_key(public_key), algorithms=[ALGORITHM], audience=audience,
                          issuer=issuer, leeway=leeway, options={"require": list(require)})
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredToken("Jeton expiré.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("Jeton invalide.") from exc


# --- Flask ------------------------------------------------------------------------------------------
EXTENSION = "vitawin_identity"


def init_app(app, verifier: TokenVerifier | None) -> None:
    app.extensions[EXTENSION] = verifier


def current_caller():
    """The caller of the current Flask request, or None if anonymous. A token that does not
    verify aborts with 401 (WWW-Authenticate: Bearer), whatever the endpoint."""
    if "vitawin_caller" in g:
        return g.vitawin_caller
    header = request.headers.get("Authorization", "")
    caller = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            _unauthorised("En-tête Authorization invalide : « Bearer <jeton> » attendu.")
        verifier = current_app.extensions.get(EXTENSION)
        if verifier is None:
            _unauthorised("Ce service n'accepte pas encore de jeton d'accès (clé publique non configurée).")
        try:
            caller = verifier.verify(token.strip())
        except InvalidToken as exc:
            _unauthorised(str(exc), error="invalid_token")
    g.vitawin_caller = caller
    return caller


def require_caller(roles: Iterable[str] | None = None) -> Caller:
    """The authenticated caller (401 if anonymous), with one of `roles` if given (403 otherwise)."""
    caller = current_caller()
    if caller is None:
        _unauthorised("Connexion requise.")
    roles = tuple(roles or ())
    if roles and caller.role not in roles:
        names = ", ".join(ROLES[role] for role in roles)
        _refuse(Forbidden(), f"Action réservée aux rôles : {names}.")
    return caller


def roles_required(*roles: str):
    """A view decorator: `require_caller(roles)` before the view runs (401 anonymous, 403 another
    role; any authenticated caller when no role is given). Put above flask-smorest's
    `@blp.arguments`, the check comes before the body or the query is read. functools.wraps keeps
    the view's name, docstring and the attributes flask-smorest documents it with. An unknown role
    is a ValueError when the view is decorated."""
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")

    def decorator(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            require_caller(roles)
            return view(*args, **kwargs)
        return checked
    return decorator


def _unauthorised(message: str, error: str | None = None):
    challenge = 'Bearer realm="vitawin"' + (f', error="{error}"' if error else "")
    _refuse(Unauthorized(), message, {"WWW-Authenticate": challenge})


def _refuse(exc: HTTPException, message: str, headers: dict | None = None):
    """Raise `exc` the way flask-smorest's abort does (`data` with message and headers), which
    `vitawin_common.web` turns into the French JSON error."""
    exc.data = {"message": message, "headers": headers or {}}
    raise exc


# --- Command line: local keys and tokens ------------------------------------------------------------
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vitawin_common.identity",
                                     description="Local key pair and access tokens (development and tests).")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="make DIR/private.pem and DIR/public.pem if missing")
    keys.add_argument("folder", type=Path)
    token = commands.add_parser("token", help="print an access token signed with AUTH_PRIVATE_KEY_FILE")
    token.add_argument("--role", required=True, choices=sorted(ROLES))
    token.add_argument("--subject", default=None)
    token.add_argument("--actor-id", default=None)
    token.add_argument("--school-uai", default=None)
    token.add_argument("--minutes", type=int, default=int(ACCESS_TOKEN_TTL.total_seconds() // 60))
    args = parser.parse_args(argv)
    if args.command == "keys":
        for path in write_keys(args.folder):
            print(path)
    else:
        issuer = issuer_from_env()
        issuer.ttl = timedelta(minutes=args.minutes)
        print(issuer.issue(args.subject or f"dev-{uuid.uuid4().hex[:8]}", args.role, actor_id=args.actor_id,
                           school_uai=args.school_uai))


if __name__ == "__main__":
    main()
