"""The API contract: the single source of truth for the Python and TypeScript sides."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

MAX_CONTENT_CHARS = 500_000
"""The contract's ceiling; a deployment may lower it with the MAX_CONTENT_CHARS setting."""


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AnalysisStatus(StrEnum):
    STREAMING = "streaming"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# At least one character that is not whitespace, and no U+0000 anywhere (linear to match);
# published in the schema, enforced by `_usable_content` with clearer messages.
CONTENT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


def _usable_content(value: str) -> str:
    # PostgreSQL text and JSONB cannot hold U+0000; the analysis row must always be writable.
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "must not contain NUL characters (U+0000)")
    if not value.strip():
        raise PydanticCustomError("text_blank", "must contain text, not only whitespace")
    return value


class AnalyseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_CONTENT_CHARS,
            json_schema_extra={"pattern": CONTENT_PATTERN},
        ),
        AfterValidator(_usable_content),
    ]
    document_type: str = Field(
        default="contract",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_\- ]*$",
        description="contract, privacy_policy, dpa, employment, terms_of_service, or any other "
        "label (analysed with the general catalogue).",
    )


def _storable(text: str) -> str:
    """Model output as the database can store it: without NUL, lone surrogates replaced.

    Applied where the answer is parsed, so what the client receives is what is stored.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


StorableText = Annotated[str, AfterValidator(_storable)]


class Finding(BaseModel):
    clause: StorableText
    risk: RiskLevel
    explanation: StorableText
    confidence: float = Field(ge=0.0, le=1.0)


class AnalysisDraft(BaseModel):
    """What the model is asked to produce; the service adds `processed_at`."""

    findings: list[Finding]
    summary: StorableText


class AnalyseResponse(AnalysisDraft):
    processed_at: AwareDatetime = Field(description="ISO 8601 date-time, UTC.")


class AnalysisResult(AnalyseResponse):
    analysis_id: UUID


class TokenPayload(BaseModel):
    model_config = ConfigDict(frozen=True)

    sub: str
    org: str
    role: str


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    retryable: bool = False
    details: list[ErrorDetail] | None = Field(
        default=None, description="Every validation problem, on 422 responses only."
    )


class ErrorBody(BaseModel):
    error: ErrorInfo


class AnalysisSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    document_type: str
    status: AnalysisStatus
    provider: str
    model: str
    content_chars: int
    content_sha256: str
    summary: str | None
    error_code: str | None
    request_id: str | None
    created_at: datetime
    completed_at: datetime | None


class AnalysisDetail(AnalysisSummary):
    findings: list[Finding] | None
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: int | None
    duration_ms: int | None
    content: str | None = Field(
        description="Present only when the service stores document content on purpose."
    )


class AnalysisPage(BaseModel):
    items: list[AnalysisSummary]
    next_cursor: Annotated[
        str | None, Field(description="Pass as `cursor` to fetch the next, older page.")
    ]


class StreamFormat(StrEnum):
    TOKENS = "tokens"
    EVENTS = "events"
    AI_SDK = "ai-sdk"


class StartEvent(BaseModel):
    """`event: start` of the `events` format."""

    analysis_id: UUID
    request_id: str | None
    provider: str
    model: str


class TokenEvent(BaseModel):
    """`event: token`: one chunk of the model's raw answer."""

    token: str


class FindingEvent(BaseModel):
    """`event: finding`: a finding, sent as soon as the model has closed it."""

    index: int = Field(ge=0)
    finding: Finding


class SectionState(StrEnum):
    STARTED = "started"
    FINISHED = "finished"


class SectionEvent(BaseModel):
    """`event: section`: a long document is analysed in sections; section `index` of `total`."""

    index: int = Field(ge=1)
    total: int = Field(ge=1)
    state: SectionState


# `event: result` carries an AnalysisResult and `event: error` an ErrorInfo.
