"""`/v1/me`: the validated claims, the quickest check of the auth boundary."""

from fastapi import APIRouter

from app.auth import CurrentUser
from app.schemas import ErrorBody, TokenPayload

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/me", responses={401: {"model": ErrorBody}})
async def me(user: CurrentUser) -> TokenPayload:
    return user
