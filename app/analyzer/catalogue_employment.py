"""Employment-contract risks."""

from app.analyzer import judges
from app.analyzer.document_types import EMPLOYMENT
from app.analyzer.rules import Rule, blockers, signal, terms
from app.schemas import RiskLevel

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW
_EMPLOYMENT = frozenset({EMPLOYMENT})

BROAD_NON_COMPETE = Rule(
    id="broad_non_compete",
    title="overly broad non-compete",
    risk=HIGH,
    explanation=(
        "After leaving, the employee is barred from competing work for a long period, over a "
        "wide area or across a whole industry, often without pay; courts may not enforce it but "
        "it deters new jobs. Limit it to 6-12 months, the employee's actual role and region, "
        "and require compensation for the restricted period."
    ),
    document_types=_EMPLOYMENT,
    gates=terms(
        "compet|industry|sector|restrictive covenant|same industry|same sector|rival|"
        "similar business|same business|same field|same line"
    ),
    signals=(
        signal(
            r"\A(?=.*\b(?:not|refrain\w*|never|abstain\w*|prohibited|restricted"
            r"|non)\b)(?=.*(?:\bnon-?compet"
            r"|\brestrictive covenant|\bcompet\w*|\brival|\bsame (?:industry|sector|business|field"
            r"|line of business)"
            r"|\bsimilar (?:business|activit)|\bany (?:company|business|employer|firm|undertaking"
            r"|organi[sz]ation)~4~(?:industry|sector|field|market)\b))",
            0.85,
            judge=judges.non_compete,
        ),
    ),
)

_EXTRA_HOURS = (
    r"(?:\bover-?time|\badditional hours|\bextra hours|\bexcess hours"
    r"|\bhours (?:worked )?(?:in excess|beyond"
    r"|above|over)|\ball hours|\bsuch (?:further |additional |other )?hours|\bhours (?:as (?:are"
    r"|may be) )?"
    r"(?:necessary|required)|\bbeyond (?:the )?(?:standard|normal|contractual|\d+)"
    r"|\boutside~2~(?:working"
    r"|normal|contractual|office|business) hours|\bout of hours|\bafter hours|\bweekends?\b)"
)
_NOT_PAID = (
    r"(?:\bunpaid|\bnot (?:be )?(?:paid|compensated|remunerated|reimbursed)|\bno~2~(?:pay|payment"
    r"|compensation|remuneration|salary|premium)\b|\bwithout (?:additional |extra |further "
    r"|any )?(?:pay"
    r"|payment|compensation|remuneration)|\bnot~2~receive (?:any )?(?:additional |extra "
    r"|further )?(?:pay"
    r"|payment|remuneration|compensation)|\b(?:included|deemed|covered|compensated"
    r"|reflected)~3~(?:in|by) "
    r"(?:the |your |his |her |their )?(?:\w+ )?(?:salary|remuneration|pay)\b"
    r"|\b(?:salary|remuneration|pay|wages?)\b~3~(?:includ|cover|compensat|reflect"
    r"|account)\w*~4~(?:all|any"
    r"|additional|extra|overtime|work)|\bexempt\b)"
)

UNPAID_OVERTIME = Rule(
    id="unpaid_overtime",
    title="unpaid overtime",
    risk=MEDIUM,
    explanation=(
        "Extra hours are expected without extra pay or time off, which may breach working-time "
        "and minimum-wage rules. Ask for paid overtime or time off in lieu, a cap on weekly "
        "hours and records of the hours worked."
    ),
    document_types=_EMPLOYMENT,
    gates=terms("overtime|over-time|hours|48-hour|opt out|opt-out|weekend"),
    signals=(
        signal(rf"\A(?=.*{_EXTRA_HOURS})(?=.*{_NOT_PAID})", 0.85, judge=judges.overtime),
        signal(
            r"\bopt(?:s|ed)? out of (?:the )?(?:\w+\W+){0,3}?(?:48|forty-eight)[- ]hour|\b(?:waive"
            r"|disapply)~3~"
            r"(?:working time|maximum weekly)",
            0.7,
        ),
    ),
    blockers=blockers(
        r"\b(?:paid|compensated|remunerated)~3~(?:at|by) (?:\d|one and|time and|the overtime"
        r"|an? (?:\w+ )?rate"
        r"|time off|double)|\btime off in lieu|\bovertime (?:rate|premium|allowance)"
        r"|\btime and a half"
    ),
)

CLAWBACK = Rule(
    id="clawback",
    title="clawback of pay or benefits",
    risk=MEDIUM,
    explanation=(
        "Pay, bonuses, commission or training costs already earned can be taken back or "
        "deducted, sometimes at the employer's discretion. Limit clawbacks to misconduct or "
        "restatement, cap the look-back period, taper repayments pro rata and exclude dismissal "
        "without cause."
    ),
    document_types=_EMPLOYMENT,
    gates=terms(
        "repay|reimburs|claw|recover|recoup|forfeit|refund|deduct|return|pay back|set off|withhold"
    ),
    signals=(
        signal(
            r"\b(?:employee|you|executive|worker|staff member|he|she|they)~3~(?:shall|will|must"
            r"|agrees? to"
            r"|undertakes? to|is required to|be required to|(?:shall|will) be (?:liable|obliged"
            r"|required) to)"
            r"~2~(?:repay|reimburse|refund|return|pay back)\b",
            0.8,
            judge=judges.clawback,
        ),
        signal(
            r"\b(?:company|employer|we)~3~(?:may|can|shall be entitled to|is entitled to"
            r"|reserves? the right to)"
            r"~2~(?:recover|recoup|deduct|claw ?back|withhold|set off|offset)\b|\b(?:require"
            r"|request|demand|seek)\w*~3~"
            r"(?:repayment|reimbursement|refund|return)\b",
            0.8,
            judge=judges.clawback,
        ),
        signal(
            r"\bclawed back|\bclaw-?back|\bsubject to (?:recovery|recoupment|repayment)"
            r"|\bforfeit\w*"
            r"|\b(?:deducted|withheld|set off|offset|recovered|recouped)~3~(?:from"
            r"|against)~4~(?:salary|pay|wages"
            r"|remuneration|commission|bonus)"
            r"|\b(?:recovered|recouped|repaid) (?:by|from|to) (?:the )?(?:company|employer)",
            0.8,
            judge=judges.clawback,
        ),
    ),
)

RULES = (BROAD_NON_COMPETE, UNPAID_OVERTIME, CLAWBACK)
