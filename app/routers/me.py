"""`/v1/me`: the validated claims, the quickest check of the auth boundary."""

from fastapi import APIRouter

from app.auth import CurrentUser
from app.errors import error_responses
from app.schemas import ErrorBody, TokenPayload

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get(
    "/me",
    responses={
        401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
        **error_responses(503),
    },
)
async def me(user: CurrentUser) -> TokenPayload:
    return user
