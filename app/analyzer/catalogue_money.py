"""What a contract can cost you: liability, indemnities, penalties, payment terms, warranties.

Patterns run on folded, whitespace-squashed sentences; `~N~` is a gap of up to N words
(see `rules.rx`).
"""

from app.analyzer import judges
from app.analyzer.document_types import (
    CONTRACT,
    DPA,
    EMPLOYMENT,
    TERMS_OF_SERVICE,
)
from app.analyzer.rules import Rule, blockers, signal, terms
from app.schemas import RiskLevel

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW


_COMMERCIAL = frozenset({CONTRACT, TERMS_OF_SERVICE})

_OTHER_SIDE = (
    r"(?:the )?(?:customer|client|licensee|you|buyer|purchaser|supplier|provider|contractor"
    r"|distributor|licensor|vendor|company|consultant|reseller|agent)"
)

_LIABILITY = r"(?:liab\w*|exposure|responsib\w*)"

_CAP_WORDS = r"(?:limit|limitation|cap|ceiling|maximum)s?"

_INDEMNITY = r"(?:indemn\w*|harmless)"

UNCAPPED_LIABILITY = Rule(
    id="uncapped_liability",
    title="uncapped liability",
    risk=HIGH,
    explanation=(
        "Liability is not capped, so one claim could exceed the value of the whole contract. "
        "Negotiate an aggregate cap (for example 12 months' fees), keeping only the usual "
        "carve-outs such as fraud, death and personal injury uncapped."
    ),
    document_types=frozenset({CONTRACT, DPA, TERMS_OF_SERVICE}),
    gates=terms("liab|limit|cap|responsib|ceiling|exposure"),
    requires=terms("unlimited|uncapped|unrestricted|unbounded|not|no |never|without|all"),
    signals=(
        signal(
            r"\b(?:unlimited|uncapped|unrestricted|unbounded)~2~(?:liab|exposure|responsib)", 0.9
        ),
        signal(
            rf"\b{_LIABILITY}~14~(?:is|are|be|remains?)\W+(?:\w+\W+)?(?:unlimited|uncapped"
            r"|unrestricted|unbounded)\b",
            0.9,
        ),
        signal(
            rf"\b{_LIABILITY}~15~(?:shall|will|is|are|be)(?: in no event| not"
            r"| under no circumstances| never)"
            rf"(?: be)? (?:limited|capped|restricted|subject to (?:any|a|the)~3~{_CAP_WORDS})",
            0.9,
        ),
        signal(
            rf"\bno (?:\w+ )?{_CAP_WORDS}\b~6~(?:appl\w*|on|of|to)\W+(?:\w+\W+){{0,4}}?"
            r"(?:liab\w*|exposure|amounts?|damages|claims|sums)",
            0.85,
        ),
        signal(
            r"\b(?:liable|liability|responsible"
            r"|exposure)(?:\W+\w+){0,3}?\W+(?<!including )(?<!including, )"
            rf"without (?:any )?{_CAP_WORDS}\b|\bwithout (?:any )?(?:cap|ceiling)\b"
            r"|\bwithout (?:any )?(?:limit|limitation)s? (?:as to|in|of) (?:amount|quantum|sum"
            r"|value)",
            0.85,
        ),
        signal(
            rf"\b{_CAP_WORDS}\b~8~(?:shall|will|do|does) not apply (?:to"
            rf"|in respect of)~3~(?:{_OTHER_SIDE}\b"
            r"|liab\w*)",
            0.8,
        ),
        signal(
            r"\b(?:liable|responsible) for (?:any and all|all|every|any)~3~(?:loss|losses|damage"
            r"|damages|costs"
            r"|liabilities|claims)\b~8~(?:indirect|consequential|howsoever|whatsoever"
            r"|of any (?:kind|nature))",
            0.7,
            MEDIUM,
        ),
    ),
    blockers=blockers(
        r"\bdeath\b|\bpersonal injury|\bfraud|\bwil(?:l)?ful (?:misconduct|default)"
        r"|\bgross(?:ly)? neglig"
        r"|\bcannot (?:lawfully )?be (?:limited|excluded)|\bmay not (?:lawfully )?be (?:limited"
        r"|excluded)"
        r"|\bto the extent (?:such liability )?(?:cannot|may not)"
    ),
    softeners=blockers(
        r"\b(?:shall|will) not exceed|\bnot to exceed|\bin no event exceed|\b(?:limited"
        r"|capped) (?:to|at)\b"
        r"|\bsubject to (?:the )?(?:limitations?|cap|clause|section)"
    ),
)

BROAD_INDEMNIFICATION = Rule(
    id="broad_indemnification",
    title="broad indemnification",
    risk=HIGH,
    explanation=(
        "The indemnity covers any and all claims, possibly even those caused by the other "
        "party, with no cap. Limit it to third-party claims caused by your own breach or "
        "negligence, make it mutual, and bring it under the liability cap."
    ),
    document_types=frozenset({CONTRACT, DPA, TERMS_OF_SERVICE, EMPLOYMENT}),
    gates=terms("indemn|harmless"),
    signals=(
        signal(
            rf"\b{_INDEMNITY}~40~(?:(?:howsoever|however) (?:caused|arising)"
            r"|whether or not~3~(?:caused|attributable|due)"
            r"|(?:regardless|irrespective) of~2~(?:fault|negligen\w*|cause|whether)|(?:was|is|were"
            r"|being) at fault|even (?:if|where|when)~4~(?:caused|attributable|due"
            r"|negligen)|(?:own|sole)~1~(?:negligen\w*|fault|acts|default|wrongdoing)|(?:caused"
            r"|contributed to) by~3~negligen)",
            0.9,
        ),
        signal(
            r"\bindemn\w*~10~(?:unlimited|uncapped|unrestricted|without (?:any )?(?:limit|cap"
            r"|ceiling))"
            r"|\b(?:unlimited|uncapped|unrestricted)~2~indemn",
            0.9,
        ),
        signal(
            rf"\b{_INDEMNITY}~14~(?:any and all|all|any|every|each)\W+(?:\w+\W+){{0,6}}?(?:claims?"
            r"|loss(?:es)?"
            r"|liabilit(?:y|ies)|damages?|fines|penalt(?:y|ies)|demands?|costs?|expenses?|actions?"
            r"|proceedings?)\b",
            0.75,
            MEDIUM,
        ),
    ),
    blockers=blockers(
        r"\b(?:each|either) party~3~(?:indemnif|defend|hold)|\bmutual(?:ly)?\b"
        r"|\bto the extent~4~(?:arising|caused|resulting|attributable|due)"
    ),
    softeners=blockers(
        r"\bsubject to (?:the )?(?:limitations?|cap|clause|section)|\b(?:shall|will) not exceed"
        r"|\bcapped at"
        r"|\blimited to\b|\binfring"
    ),
)

LIQUIDATED_DAMAGES = Rule(
    id="liquidated_damages",
    title="penalties or liquidated damages",
    risk=HIGH,
    explanation=(
        "A fixed sum is payable on delay, breach or early exit regardless of the actual loss. "
        "Check that it is a genuine pre-estimate of loss, capped (for example at 5-10% of the "
        "contract value) and the sole remedy for that failure."
    ),
    document_types=frozenset({CONTRACT, EMPLOYMENT, TERMS_OF_SERVICE}),
    gates=terms(
        "liquidated|ascertained|penalt|fine|termination fee|termination charge|"
        "cancellation fee|cancellation charge|remainder|remaining|balance of|unexpired|delay"
    ),
    signals=(
        signal(
            r"\bliquidated\W+(?:\w+\W+){0,2}?damages|\bascertained damages|\bcontractual (?:penalt"
            r"|fine)"
            r"|\b(?:pay|liable (?:to|for)|incur|subject to|owe|forfeit)\w*~4~(?:a |an )?(?:penalty"
            r"|penalties|fine|fines)\b"
            r"|\b(?:penalty|fine) of (?:\w+ )?[\d€$£]|\bdelay (?:damages|penalt\w*)|\b(?:penalty"
            r"|fine) (?:shall|will) "
            r"(?:be )?(?:payable|apply|due)",
            0.85,
            judge=judges.penalty,
        ),
        signal(
            r"\b(?:early )?(?:termination|cancellation|exit|break) (?:fee|charge|payment"
            r"|penalty)s?~14~(?:remaining"
            r"|outstanding|unpaid|future|remainder|balance|rest of|unexpired)|\b(?:pay|payable"
            r"|liable for|owe|charged?)~6~(?:remaining|outstanding"
            r"|future|unexpired|unpaid|balance)~2~(?:fees|charges|payments|rent|subscriptions?"
            r"|instal\w*|amounts?)"
            r"|\b(?:fees|charges|payments|rent)~8~(?:for|over|during|until"
            r"|up to) (?:the )?(?:remainder|balance|rest"
            r"|unexpired (?:portion|part)|end) of (?:the|that|this)~1~term",
            0.85,
            judge=judges.penalty,
        ),
    ),
    blockers=blockers(
        r"\bwithout (?:any )?(?:penalty|charge|fee|cost|liability)|\bno~2~(?:liquidated damages"
        r"|penalt\w*|fees?"
        r"|charges?) (?:shall|will|is|are)\b|\bnot (?:be )?(?:liable|subject) (?:to"
        r"|for)~2~(?:liquidated|penalt)|\bpenalty[- ]free|\bfree of charge"
        r"|\b(?:supervisory|regulatory|data protection) authorit"
    ),
)

LONG_PAYMENT_TERMS = Rule(
    id="long_payment_terms",
    title="long payment terms or high late fees",
    risk=MEDIUM,
    explanation=(
        "Payment beyond 60 days strains cash flow, and late-payment interest or fees above "
        "statutory levels (roughly 8% over base rate a year) are punitive. Aim for 30 days net "
        "and statutory late interest."
    ),
    document_types=_COMMERCIAL,
    gates=terms("pay|invoice|net|interest|late|overdue|surcharge|settle|remit"),
    signals=(
        signal(
            r"\b(?:pay\w*|invoice\w*|settle\w*|remit\w*|due)\b~12~\d|\b(?:pay\w*|invoice\w*"
            r"|settle\w*|remit\w*|due)"
            r"\b~12~(?:days?|weeks?|months?)\b|\bnet ?\d{2,3}\b",
            0.85,
            judge=judges.payment_period,
        ),
        signal(
            r"\binterest\b|\blate (?:payment )?(?:fee|charge)|\bsurcharge|\b(?:administration"
            r"|collection) (?:fee|charge)",
            0.8,
            judge=judges.late_charges,
        ),
    ),
)

WARRANTY_DISCLAIMER = Rule(
    id="warranty_disclaimer",
    title="broad warranty disclaimer",
    risk=MEDIUM,
    explanation=(
        "The supplier disclaims warranties about the product, leaving you without a remedy if it "
        "does not work. Ask for express warranties (conformity with documentation, professional "
        "care, no malicious code) for a defined period, with repair, replacement or refund."
    ),
    document_types=_COMMERCIAL,
    gates=terms(
        "warrant|as is|as-is|available|merchantab|fitness|faults|risk|conditions|guarantee|promise"
    ),
    signals=(
        signal(
            r"\b(?:provided|supplied|delivered|licensed|offered|furnished|made available"
            r"|sold)~6~\"?(?:on an )?\"?"
            r"as[- ]is\b|\bas is,? where is\b|\"as[- ]is\"|\bas available\b|\bwith all faults"
            r"|\b(?:entirely |solely )?at (?:its|your|their"
            r"|the (?:customer|user|licensee|client)'s) (?:own |sole )?risk",
            0.85,
            judge=judges.disclaimer,
        ),
        signal(
            r"\b(?:disclaim\w*|exclud\w*)~3~(?:all|any)~4~(?:warrant\w*|conditions|representations"
            r"|guarantees)"
            r"|\b(?:all|any)~3~(?:warrant\w*|conditions|guarantees)~12~(?:are"
            r"|is) (?:hereby )?(?:excluded|disclaimed)"
            r"|\bwithout (?:any )?warrant\w*~3~(?:of any kind|whatsoever|express or implied)"
            r"|\b(?:makes?|gives?|provides?|offers?) no~4~(?:warrant\w*|guarantees?"
            r"|representations?|promises?)"
            r"|\bno warrant(?:y|ies) (?:of any kind|is given|whatsoever|as to|regarding)"
            r"|\bwith no~2~warrant|\b(?:do|does) not (?:warrant|guarantee|promise)\b",
            0.85,
            judge=judges.disclaimer,
        ),
    ),
)

RULES = (
    UNCAPPED_LIABILITY,
    BROAD_INDEMNIFICATION,
    LIQUIDATED_DAMAGES,
    LONG_PAYMENT_TERMS,
    WARRANTY_DISCLAIMER,
)
