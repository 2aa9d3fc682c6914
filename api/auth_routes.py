"""Log in (OAuth2 password flow), who am I, log out; and the admin's users and API keys.

Every change here is audited, refusals included: a refused login says which name was tried (never the password).
Logins are throttled per client address on top of the general rate limit, since each attempt costs a scrypt hash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from api.audit import audit
from api.auth import (
    DEFAULT_KEY_TTL_S,
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    Principal,
    Role,
    UserStoreError,
    bearer_token,
    require,
)
from api.context import ApiContext, get_ctx
from api.limits import TokenBuckets, client_address
from api.settings import DEV_PASSWORD

LOGIN_RATE_PER_S = 1.0
LOGIN_BURST = 10
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class ErrorOut(BaseModel):
    detail: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: Role


class MeOut(BaseModel):
    name: str
    role: Role
    scopes: list[str]


class UserIn(BaseModel):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    password: Annotated[str, Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)]
    role: Role


class UserOut(BaseModel):
    name: str
    role: Role
    created_utc: float


class KeyIn(BaseModel):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    role: Role
    ttl_days: Annotated[float, Field(gt=0, le=3650)] = DEFAULT_KEY_TTL_S / 86400


class KeyOut(BaseModel):
    name: str
    role: Role
    created_utc: float
    expires_utc: float


class KeyCreated(KeyOut):
    key: str   # shown once; only its SHA-256 is stored


def login_buckets() -> TokenBuckets:
    """Per-address login throttle, one per app (the app factory keeps it on ``app.state``)."""
    return TokenBuckets(LOGIN_RATE_PER_S, LOGIN_BURST)


Ctx = Annotated[ApiContext, Depends(get_ctx)]
Reader = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=TokenOut, summary="Log in: a bearer token for a user name and password",
             responses={401: {"model": ErrorOut, "description": "Wrong name or password"},
                        403: {"model": ErrorOut, "description": "Default credentials outside development"},
                        429: {"model": ErrorOut, "description": "Too many login attempts from this address"}})
def token(request: Request, ctx: Ctx, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)]) -> TokenOut:
    remote = client_address(request.scope)
    wait = request.app.state.login_buckets.take(remote)
    if wait > 0:
        ctx.metrics.observe_refused("login_rate")
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many login attempts; retry later",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    if password == DEV_PASSWORD and not ctx.settings.development:
        audit(ctx, None, "login", "refused", target=username, detail="default credentials", remote=remote)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "default credentials are refused outside development")
    principal = ctx.users.verify(username, password)
    if principal is None:
        audit(ctx, None, "login", "refused", target=username, detail="wrong name or password", remote=remote)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password",
                            headers={"WWW-Authenticate": "Bearer"})
    audit(ctx, principal, "login", "ok", target=username, remote=remote)    # no record, no token
    ttl = ctx.settings.token_ttl_s
    return TokenOut(access_token=ctx.users.issue_token(principal, ttl), expires_in=int(ttl), role=principal.role)


@router.get("/auth/me", response_model=MeOut, summary="Who the credentials belong to", responses=_ERRORS)
async def me(who: Reader) -> MeOut:
    return MeOut(name=who.name, role=who.role, scopes=sorted(who.scopes))


@router.post("/auth/logout", status_code=204, summary="Revoke the bearer token sent", responses=_ERRORS,
             response_class=Response)
def logout(request: Request, ctx: Ctx, who: Reader) -> Response:
    sent = bearer_token(request.headers.get("authorization"))
    if who.via == "token" and sent:
        ctx.users.revoke_token(sent)
    audit(ctx, who, "logout", "ok", target=who.name, remote=client_address(request.scope))
    return Response(status_code=204)


@router.get("/admin/users", response_model=list[UserOut], summary="Users and their roles", responses=_ERRORS)
def list_users(ctx: Ctx, _admin: Admin) -> list[UserOut]:
    return [UserOut(**user) for user in ctx.users.list_users()]


@router.post("/admin/users", status_code=201, response_model=UserOut, summary="Create a user",
             responses={**_ERRORS, 409: {"model": ErrorOut, "description": "The name exists or is refused"}})
def create_user(request: Request, ctx: Ctx, admin: Admin, body: UserIn) -> UserOut:
    remote = client_address(request.scope)
    try:
        ctx.users.add_user(body.name, body.password, body.role)
    except UserStoreError as exc:
        audit(ctx, admin, "user.create", "refused", target=body.name, detail=str(exc), remote=remote)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    with _undone_unless_recorded(lambda: ctx.users.remove_user(body.name)):
        audit(ctx, admin, "user.create", "ok", target=body.name, detail=f"role {body.role}", remote=remote)
    return next(UserOut(**u) for u in ctx.users.list_users() if u["name"] == body.name)


@router.delete("/admin/users/{name}", status_code=204, summary="Delete a user and revoke their tokens",
               response_class=Response,
               responses={**_ERRORS, 404: {"model": ErrorOut}, 409: {"model": ErrorOut,
                                                                     "description": "Admins cannot delete themselves"}})
def delete_user(request: Request, ctx: Ctx, admin: Admin, name: str) -> Response:
    remote = client_address(request.scope)
    if name == admin.name and admin.via == "token":
        audit(ctx, admin, "user.delete", "refused", target=name, detail="self", remote=remote)
        raise HTTPException(status.HTTP_409_CONFLICT, "an admin cannot delete their own user")
    if not ctx.users.has_user(name):
        audit(ctx, admin, "user.delete", "refused", target=name, detail="no such user", remote=remote)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    audit(ctx, admin, "user.delete", "ok", target=name, remote=remote)     # recorded first: it cannot be undone
    ctx.users.remove_user(name)
    return Response(status_code=204)


@router.get("/admin/keys", response_model=list[KeyOut], summary="API keys (never their secrets)", responses=_ERRORS)
def list_keys(ctx: Ctx, _admin: Admin) -> list[KeyOut]:
    return [KeyOut(**key) for key in ctx.users.list_keys()]


@router.post("/admin/keys", status_code=201, response_model=KeyCreated, summary="Create an API key (shown once)",
             responses={**_ERRORS, 409: {"model": ErrorOut, "description": "A key of that name exists"}})
def create_key(request: Request, ctx: Ctx, admin: Admin, body: KeyIn) -> KeyCreated:
    remote = client_address(request.scope)
    try:
        key = ctx.users.add_api_key(body.name, body.role, ttl_s=body.ttl_days * 86400)
    except UserStoreError as exc:
        audit(ctx, admin, "key.create", "refused", target=body.name, detail=str(exc), remote=remote)
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    with _undone_unless_recorded(lambda: ctx.users.revoke_key(body.name)):
        audit(ctx, admin, "key.create", "ok", target=body.name, detail=f"role {body.role}", remote=remote)
    stored = next(k for k in ctx.users.list_keys() if k["name"] == body.name)
    return KeyCreated(**stored, key=key)


@router.delete("/admin/keys/{name}", status_code=204, summary="Revoke an API key", response_class=Response,
               responses={**_ERRORS, 404: {"model": ErrorOut}})
def delete_key(request: Request, ctx: Ctx, admin: Admin, name: str) -> Response:
    remote = client_address(request.scope)
    if not any(key["name"] == name for key in ctx.users.list_keys()):
        audit(ctx, admin, "key.revoke", "refused", target=name, detail="no such key", remote=remote)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such API key")
    audit(ctx, admin, "key.revoke", "ok", target=name, remote=remote)
    ctx.users.revoke_key(name)
    return Response(status_code=204)


@contextmanager
def _undone_unless_recorded(undo: Callable[[], object]) -> Iterator[None]:
    """Undo a change whose audit entry the journal refused: what is not on record did not happen."""
    try:
        yield
    except Exception:
        undo()
        raise
