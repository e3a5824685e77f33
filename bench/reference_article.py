"""The article's service, written from its description: the yardstick of the benchmarks.

Run: uvicorn bench.reference_article:app (env: OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL,
FASTAPI_JWT_SECRET). Not product code.
"""

import json
import os
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, FastAPI, HTTPException, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import JWTError, jwt
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

FASTAPI_JWT_SECRET = os.environ.get("FASTAPI_JWT_SECRET", "")

bearer_scheme = HTTPBearer()


class TokenPayload(BaseModel):
    sub: str
    org: str
    role: str


class AnalyseRequest(BaseModel):
    content: str = Field(min_length=1, max_length=50_000)
    document_type: str = Field(default="contract")


def get_current_user(
    credentials: HTTPAuthorizationCredentials = Depends(bearer_scheme),  # noqa: B008
) -> TokenPayload:
    try:
        payload = jwt.decode(credentials.credentials, FASTAPI_JWT_SECRET, algorithms=["HS256"])
        return TokenPayload(**payload)
    except JWTError:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED, detail="Invalid token"
        ) from None


router = APIRouter(prefix="/v1", tags=["analyse"])

llm = ChatOpenAI(
    model=os.environ.get("OPENAI_MODEL", "gpt-4o"),
    base_url=os.environ.get("OPENAI_BASE_URL"),
    streaming=True,
)


async def _token_stream(prompt: str) -> AsyncIterator[str]:
    async for chunk in llm.astream([HumanMessage(content=prompt)]):
        token = chunk.content
        if token:
            yield f"data: {json.dumps({'token': token})}\n\n"
    yield "data: [DONE]\n\n"


@router.post("/analyse/stream")
async def analyse_stream(
    body: AnalyseRequest,
    user: TokenPayload = Depends(get_current_user),  # noqa: B008
) -> StreamingResponse:
    prompt = _build_prompt(body, user.org)
    return StreamingResponse(
        _token_stream(prompt),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _build_prompt(body: AnalyseRequest, org_id: str) -> str:
    return (
        f"Analyse the following document for regulatory compliance.\n"
        f"Organisation: {org_id}\n\n"
        f"Document:\n{body.content}"
    )


app = FastAPI()
app.include_router(router)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
