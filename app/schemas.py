"""The API contract: the single source of truth for the Python and TypeScript sides."""

from collections import Counter
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

MAX_CONTENT_CHARS = 500_000
"""The contract's ceiling; a deployment may lower it with the MAX_CONTENT_CHARS setting."""


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Category(StrEnum):
    """What kind of risk a finding is: one published taxonomy (the README gives each meaning)."""

    # Terms of Service: the eight CLAUDETTE kinds of potentially unfair clause.
    LIMITATION_OF_LIABILITY = "limitation_of_liability"
    UNILATERAL_TERMINATION = "unilateral_termination"
    UNILATERAL_CHANGE = "unilateral_change"
    CONTENT_REMOVAL = "content_removal"
    CONTRACT_BY_USING = "contract_by_using"
    CHOICE_OF_LAW = "choice_of_law"
    JURISDICTION = "jurisdiction"
    ARBITRATION = "arbitration"
    # Commercial contracts: the CUAD kinds a reviewer must see.
    UNCAPPED_LIABILITY = "uncapped_liability"
    LIABILITY_CAP = "liability_cap"
    LIQUIDATED_DAMAGES = "liquidated_damages"
    NON_COMPETE = "non_compete"
    EXCLUSIVITY = "exclusivity"
    NON_SOLICIT = "non_solicit"
    AUTO_RENEWAL = "auto_renewal"
    IP_ASSIGNMENT = "ip_assignment"
    AUDIT_RIGHTS = "audit_rights"
    TERMINATION_FOR_CONVENIENCE = "termination_for_convenience"
    ANTI_ASSIGNMENT = "anti_assignment"
    CHANGE_OF_CONTROL = "change_of_control"
    MOST_FAVORED_NATION = "most_favored_nation"
    COVENANT_NOT_TO_SUE = "covenant_not_to_sue"
    # Contracts, DPAs, employment and privacy documents.
    INDEMNITY = "indemnity"
    WARRANTY_DISCLAIMER = "warranty_disclaimer"
    PAYMENT_TERMS = "payment_terms"
    CONFIDENTIALITY = "confidentiality"
    ASSIGNMENT_WITHOUT_CONSENT = "assignment_without_consent"
    JURY_CLASS_WAIVER = "jury_class_waiver"
    CLAWBACK = "clawback"
    UNPAID_OVERTIME = "unpaid_overtime"
    CHILDRENS_DATA = "childrens_data"
    DATA_RETENTION = "data_retention"
    BREACH_NOTIFICATION = "breach_notification"
    DATA_SUBJECT_RIGHTS = "data_subject_rights"
    LEGAL_BASIS = "legal_basis"
    DATA_SALE_OR_SHARING = "data_sale_or_sharing"
    SUBPROCESSORS = "subprocessors"
    INTERNATIONAL_TRANSFER = "international_transfer"
    OTHER = "other"


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
    clause: StorableText = Field(description="exact quote from the document")
    risk: RiskLevel
    category: Category = Field(
        default=Category.OTHER,
        description="The kind of risk; a model's unknown or missing category is kept as `other`.",
    )
    explanation: StorableText = Field(description="what the risk is and what to negotiate")
    confidence: float = Field(ge=0.0, le=1.0, description="number 0..1")

    @field_validator("category", mode="before")
    @classmethod
    def _unknown_is_other(cls, value: object) -> object:
        return cls.category_of(value)

    @staticmethod
    def category_of(value: object) -> Category:
        """A chat model may invent a kind; the finding is still worth keeping, as `other`."""
        if isinstance(value, Category):
            return value
        if isinstance(value, str):
            try:
                return Category(value.strip().lower().replace(" ", "_").replace("-", "_"))
            except ValueError:
                pass
        return Category.OTHER


class AnalysisDraft(BaseModel):
    """What the model is asked to produce; the service adds `processed_at`."""

    findings: list[Finding]
    summary: StorableText = Field(description="two or three sentences")


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


RISK_LEVELS = frozenset(RiskLevel)


class FindingCounts(BaseModel):
    """How many findings a completed analysis has, by risk and by category (for lists and charts)."""

    by_risk: dict[RiskLevel, int]
    by_category: dict[Category, int]

    @classmethod
    def of(cls, findings: list[dict[str, Any]]) -> "FindingCounts":
        """Counts stored findings; a stored category this version does not know counts as `other`."""
        by_risk: Counter[RiskLevel] = Counter()
        by_category: Counter[Category] = Counter()
        for finding in findings:
            risk = finding.get("risk")
            if isinstance(risk, str) and risk in RISK_LEVELS:
                by_risk[RiskLevel(risk)] += 1
            by_category[Finding.category_of(finding.get("category"))] += 1
        return cls(
            by_risk={risk: by_risk[risk] for risk in RiskLevel},
            by_category=dict(by_category),
        )


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
    ttft_ms: int | None = Field(description="Time to the model's first token, in milliseconds.")
    finding_counts: FindingCounts | None = Field(
        description="Findings by risk and by category; null until the analysis has completed."
    )

    @model_validator(mode="before")
    @classmethod
    def _count_findings(cls, data: Any) -> Any:
        """A stored row carries its findings; the list shows their counts without them."""
        if isinstance(data, dict):
            return data
        findings = getattr(data, "findings", None)
        counts = None if findings is None else FindingCounts.of(findings)
        fields = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
        return {**fields, "finding_counts": counts}


class AnalysisDetail(AnalysisSummary):
    findings: list[Finding] | None
    prompt_tokens: int | None
    completion_tokens: int | None
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


class TokensError(BaseModel):
    """`data: {"error": …}` of the `tokens` format, before `[DONE]`."""

    error: ErrorInfo


class StreamMetadata(BaseModel):
    """What a chat UI shows beside the answer: the analysis, its token usage and its latency."""

    analysis_id: UUID
    prompt_tokens: int | None = Field(description="Input tokens, when the model reports them.")
    completion_tokens: int | None = Field(description="Output tokens, when reported.")
    ttft_ms: int | None = Field(description="Milliseconds from the request to the first token.")


# The `ai-sdk` format: the Vercel AI SDK UI message stream protocol v1, one JSON part per event.
# Only the part types and keys the protocol documents; the names are the protocol's (camelCase).


class AiSdkStart(BaseModel):
    type: Literal["start"]
    messageId: str = Field(description="The analysis id.")


class AiSdkTextStart(BaseModel):
    type: Literal["text-start"]
    id: Literal["report"]


class AiSdkTextDelta(BaseModel):
    type: Literal["text-delta"]
    id: Literal["report"]
    delta: str = Field(description="The next piece of the Markdown report.")


class AiSdkTextEnd(BaseModel):
    type: Literal["text-end"]
    id: Literal["report"]


class AiSdkFindingPart(BaseModel):
    """A `data-finding` part: `useChat` keeps one per `id` in the message's parts."""

    type: Literal["data-finding"]
    id: str = Field(pattern=r"^finding-\d+$")
    data: FindingEvent


class AiSdkAnalysisPart(BaseModel):
    type: Literal["data-analysis"]
    data: AnalysisResult


class AiSdkError(BaseModel):
    type: Literal["error"]
    errorText: str


class AiSdkFinish(BaseModel):
    type: Literal["finish"]
    messageMetadata: StreamMetadata | None = None


class AiSdkSectionPart(BaseModel):
    """Progress through a long document; transient: not kept in the message history."""

    type: Literal["data-section"]
    data: SectionEvent
    transient: Literal[True]
