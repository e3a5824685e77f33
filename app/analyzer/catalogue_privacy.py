"""Privacy-policy and data-processing risks (GDPR-style expectations)."""

from app.analyzer import judges
from app.analyzer.document_types import (
    CONTRACT,
    DPA,
    EMPLOYMENT,
    PRIVACY_POLICY,
    TERMS_OF_SERVICE,
)
from app.analyzer.rules import DocumentRule, Rule, blockers, rx, signal, terms
from app.schemas import RiskLevel

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW

_DATA_DOCUMENTS = frozenset({PRIVACY_POLICY, DPA, CONTRACT, TERMS_OF_SERVICE})
_REGION = (
    r"(?:the )?(?:eea|e\.e\.a\.?|european economic area|eu|e\.u\.?|european union|uk|united kingdom"
    r"|switzerland|europe)\b"
)
_DATA_VERBS = (
    r"(?:transfer|stor|process|host|access|sen[dt]|mov|disclos|shar|replicat|maintain|keep)\w*"
)

UNSAFE_INTERNATIONAL_TRANSFER = Rule(
    id="unsafe_international_transfer",
    title="international transfers without safeguards",
    risk=HIGH,
    explanation=(
        "Personal data leaves the EEA/UK without a stated transfer mechanism, which breaches "
        "GDPR Chapter V and exposes data to foreign authorities. Require Standard Contractual "
        "Clauses or an adequacy decision, a transfer impact assessment and a list of the "
        "destination countries."
    ),
    document_types=_DATA_DOCUMENTS,
    gates=terms(
        "outside|beyond|third countr|abroad|overseas|any countr|countries|jurisdiction|"
        "anywhere|worldwide|united states|u.s.|usa|india|china|russia|brazil|philippines|"
        "singapore|canada|australia|japan"
    ),
    signals=(
        signal(
            rf"\b{_DATA_VERBS}~14~(?:outside|beyond) (?:of )?{_REGION}"
            rf"|\b(?:outside|beyond) (?:of )?{_REGION}~10~{_DATA_VERBS}",
            0.85,
            judge=judges.transfer,
        ),
        signal(
            rf"\A(?=.*\b(?:{_DATA_VERBS}|servers?|data cent(?:er|re)s?|located|abroad"
            r"|overseas))(?=.*\b(?:data"
            r"|information|records|content|accounts?|files|details)\b)(?=.*(?:\bany "
            r"(?:third )?(?:country|countries|jurisdiction)|\bthird countr|\banywhere in the world"
            r"|\bworldwide"
            r"|\babroad|\boverseas|\b(?:in|to) (?:the )?(?:united states|u\.s\.a?\b|usa|india|china"
            r"|russia"
            r"|brazil|philippines|singapore|canada|australia|japan)\b))",
            0.75,
            judge=judges.transfer,
        ),
    ),
    blockers=blockers(
        r"\bstandard contractual clauses|\bsccs?\b|\bmodel clauses|\badequacy (?:decision"
        r"|regulation|finding)"
        r"|\badequate (?:level of )?(?:data )?protection|\bbinding corporate rules|\bbcrs?\b"
        r"|\bappropriate safeguards|\barticle 4[5-9]|\bdata privacy framework"
        r"|\binternational data transfer "
        r"(?:agreement|addendum)|\bidta\b|\btransfer impact assessment"
        r"|\bapproved (?:transfer )?mechanism"
        r"|\b(?:do|does|will|shall) not~2~(?:transfer|store|process|host)|\bnot (?:be )?transferred"
        r"|\b(?:only|exclusively) (?:within|in) (?:the )?(?:eea|eu|european)",
    ),
    blocker_scope="clause",
)

INDEFINITE_RETENTION = Rule(
    id="indefinite_retention",
    title="indefinite data retention",
    risk=HIGH,
    explanation=(
        "Personal data is kept with no end date or after the relationship ends, contrary to the "
        "GDPR storage-limitation principle. Ask for a retention schedule with fixed periods per "
        "data category and deletion or return at the end of the contract."
    ),
    document_types=frozenset({PRIVACY_POLICY, DPA, CONTRACT, TERMS_OF_SERVICE, EMPLOYMENT}),
    gates=terms("retain|retention|keep|kept|store|delet|eras|archiv|hold|held|preserv"),
    requires=terms(
        "indefinite|permanent|perpetuity|ever|limit|as long as|not|obligation|cannot|can't|"
        "unable|after|following|upon|beyond|post-|period"
    ),
    signals=(
        signal(
            r"\b(?:retain\w*|keep|keeps|kept|stor\w*|hold|holds|held|preserv\w*|archiv\w*)~10~"
            r"(?:indefinite\w*|permanently(?! (?:deleted|erased|destroyed|removed|anonymi[sz]ed))"
            r"|in perpetuity"
            r"|for ?ever\b|without (?:any )?(?:time )?limit\w*|for an unlimited|no (?:fixed "
            r"|set )?(?:retention )?"
            r"(?:period|limit))",
            0.9,
        ),
        signal(
            r"\b(?:retain\w*|keep|keeps|kept|stor\w*|hold|holds|held)~10~(?:for )?as long as (?:we"
            r"|it|they"
            r"|the \w+)~2~(?:see fit|deems?|considers?|wish\w*|wants?|chooses?|like|decides?"
            r"|(?:find|think)s? (?:useful|appropriate|necessary))",
            0.8,
            MEDIUM,
        ),
        signal(
            r"\b(?:do|does|will|shall) not~2~(?:delete|erase|destroy|remove)~4~"
            r"(?:data|information|records|content|personal|accounts?)|\b(?:no"
            r"|not under any) obligation to "
            r"(?:delete|erase|destroy|return)|\b(?:cannot|can't|are unable to)~2~(?:delete|erase)",
            0.85,
        ),
        signal(
            r"\A(?=.*\b(?:retain|keep|kept|store|stored|hold|archive)\w*)(?=.*\b(?:after|following"
            r"|upon|beyond|post-)"
            r"~3~(?:termination|expiry|expiration|end of|closure|close|deletion|cancellation))",
            0.7,
            judge=judges.retention_after_end,
        ),
    ),
    blockers=blockers(
        r"\b(?:required|necessary|obliged|obligated)~2~(?:by|under|to comply with)~3~"
        r"(?:law|regulation|legal)|\blegal (?:obligation|requirement|hold)|\bstatutory (?:retention"
        r"|obligation)"
        r"|\bin confidence|\bconfidential"
    ),
)

_SUBPROCESSOR = (
    r"(?:sub-?processors?|sub-?contractors?|another processor|other processors"
    r"|third[- ]party processors?|sub-?contract\w*~3~(?:processing|personal data))"
)

SUBPROCESSOR_WITHOUT_NOTICE = Rule(
    id="subprocessor_without_notice",
    title="sub-processors without notice or objection right",
    risk=HIGH,
    explanation=(
        "The processor can bring in new sub-processors without telling you or letting you "
        "object, contrary to GDPR Article 28(2). Require prior written notice of changes "
        "(for example 30 days), a right to object and terminate, and flow-down of the same "
        "data-protection obligations."
    ),
    document_types=frozenset({DPA, CONTRACT}),
    gates=terms("processor|subcontract|sub-contract"),
    signals=(
        signal(
            rf"\A(?=.*{_SUBPROCESSOR})(?=.*\b(?:engag|appoint|use|add|replac|chang|subcontract"
            r"|authori[sz]|retain|choice|choos|select)\w*)"
            r"(?=.*(?:\bwithout~5~(?:notice|notif\w*|inform\w*|consent|approval|authori[sz]ation)"
            r"|\bno (?:\w+ )?right to object|\b(?:not|never) (?:be )?(?:entitled|able"
            r"|permitted) to object"
            r"|\b(?:cannot|may not|shall not) object|\bwaives?~2~right to object"
            r"|\bnot (?:be )?(?:required|obliged) to (?:notify|inform)))",
            0.9,
        ),
        signal(
            rf"\A(?=.*{_SUBPROCESSOR})(?=.*\b(?:engag|appoint|use|add|replac|chang"
            r"|subcontract)\w*)(?=.*(?:"
            r"(?:sole|absolute|own) discretion|\bat (?:its|any) (?:time|discretion)"
            r"|\bfrom time to time"
            r"|\bavailable (?:on|upon) request|\bpublished on (?:its|our) website|\bas (?:it"
            r"|they) sees? fit"
            r"|\bof (?:its|their) (?:own )?choosing|\b(?:it|they) (?:choose|select)s?\b))",
            0.75,
            MEDIUM,
        ),
    ),
    blockers=blockers(
        r"\b(?:shall|will|must) not~3~(?:engage|appoint|use|subcontract|add)\w*~8~without"
    ),
    softeners=blockers(
        r"(?<!no )(?<!without )(?:opportunity|right) to object|\bprior (?:specific "
        r"|general )?(?:written )?"
        r"(?:authori[sz]ation|consent|approval)|\binform~3~of any intended"
        r"|\b\d+ (?:\(\d+\) )?days'? "
        r"(?:prior |advance )?(?:written )?notice|\bin advance"
    ),
)

LATE_BREACH_NOTIFICATION = Rule(
    id="late_breach_notification",
    title="late or undefined breach notification",
    risk=HIGH,
    explanation=(
        "A personal-data breach may be reported late or with no defined deadline, leaving you "
        "unable to meet the 72-hour notification duty to the supervisory authority. Require "
        "notice within 24-48 hours of discovery with the details listed in GDPR Article 33(3)."
    ),
    document_types=frozenset({DPA, PRIVACY_POLICY, CONTRACT, TERMS_OF_SERVICE}),
    gates=terms("breach|incident|compromis|unauthori"),
    signals=(
        signal(
            r"\A(?=.*\b(?:notif|inform|tell|report|alert|let~3~know|advise|communicat"
            r"|contact)\w*)(?=.*(?:"
            r"(?:data|security|personal|privacy|cyber|information security)~2~(?:breach|incident)"
            r"|\bbreach of~2~(?:security|personal data|data)|\b(?:breach|incident)~4~"
            r"(?:personal|customer|user|your|client) (?:data|information)|\bcompromise of"
            r"|\bunauthori[sz]ed "
            r"(?:access|disclosure)))",
            0.8,
            judge=judges.breach_notice,
        ),
    ),
)

SALE_OR_SHARING_OF_DATA = Rule(
    id="sale_or_sharing_of_data",
    title="selling or sharing personal data",
    risk=HIGH,
    explanation=(
        "Personal data is sold or shared with third parties for their own purposes, which needs "
        "a clear legal basis (usually opt-in consent) and transparency about the recipients. "
        "Limit disclosures to processors acting on instructions, name the recipient categories "
        "and offer an opt-out or opt-in."
    ),
    document_types=frozenset({PRIVACY_POLICY, TERMS_OF_SERVICE, DPA, CONTRACT}),
    gates=terms(
        "sell|sold|sale| rent|trade|monetis|monetiz|own|advertis|broker|any purpose|third part|"
        "marketing|selected|so that|to let|allowing|enabling|commercial"
    ),
    signals=(
        signal(
            r"\b(?:sell|sells|sold|selling|sale of|rent|rents|rented|renting|lease|trade|trades"
            r"|traded|monetis\w*"
            r"|monetiz\w*)~6~(?:your |users?'? |customers?'? |the |such |this )?(?:personal )?"
            r"(?:data|information|details|profiles?|lists?)\b|\b(?:data|information|details"
            r"|profiles?|lists?)~4~(?:is|are"
            r"|be)~1~(?:sold|rented|traded|monetis\w*|monetiz\w*)\b",
            0.9,
        ),
        signal(
            r"\A(?=.*\b(?:shar|disclos|provid|transfer|pass|made available|make available"
            r"|giv)\w*)(?=.*(?:(?:for|to use "
            r"(?:it|them|this|such)? ?for) (?:their|its) own~2~purposes|\bfor (?:their"
            r"|its) (?:own )?"
            r"(?:marketing|advertising|commercial)|\badvertising partners|\bdata brokers?"
            r"|\bfor any purpose"
            r"|\bthird part(?:y|ies) for (?:their|marketing|advertising|commercial|any)))",
            0.8,
        ),
        signal(
            r"\A(?=.*\b(?:shar|disclos|provid|pass|made available|make available"
            r"|giv)\w*)(?=.*(?:\bselected (?:partner|third"
            r"|companies)|\b(?:so that|to let|allowing|enabling) (?:they|them|partners"
            r"|third parties)~3~"
            r"(?:can |may )?(?:send|market|contact|offer|advertis)|\bmarketing partners))",
            0.75,
            MEDIUM,
        ),
    ),
    blockers=blockers(
        r"\b(?:do|does|will|shall) not~2~(?:sell|rent|trade|share|disclose)|\bnever~2~"
        r"(?:sell|rent|trade|share)|\bon (?:our|its) behalf|\bsolely on (?:our"
        r"|its) (?:documented )?instructions"
    ),
    softeners=blockers(
        r"\b(?:only|solely) (?:with|if|where) (?:you|your) (?:have )?(?:explicit |express "
        r"|prior )?(?:consent|opt)"
        r"|\b(?:with|upon|subject to) your (?:prior |explicit |express )?(?:opt-in )?consent"
        r"|\bif you (?:opt|choose to opt) in"
        r"|\bopt-in"
    ),
)

CHILDRENS_DATA = Rule(
    id="childrens_data",
    title="children's data",
    risk=HIGH,
    explanation=(
        "Children's personal data is collected, which needs verifiable parental consent, "
        "age-appropriate notices and data minimisation (GDPR Article 8, COPPA). Check age "
        "verification, parental consent and that no profiling or advertising targets children."
    ),
    document_types=frozenset({PRIVACY_POLICY, TERMS_OF_SERVICE}),
    gates=terms("child|minor|under 1|under the age|aged|kids|younger than|parent|teen|pupil"),
    signals=(
        signal(
            r"\A(?=.*(?:\bchild(?:ren)?\b|\bminors?\b|\bkids\b|\bunder (?:the age of )?1[0-8]\b"
            r"|\byounger than 1[0-8]"
            r"|\baged? (?:between )?\d{1,2} (?:to|and|-) 1[0-7]|\bteenagers?"
            r"|\bpupils?))(?=.*\b(?:collect|process"
            r"|gather|obtain|use|record|store|creat|register|sign up|designed|directed|intended"
            r"|aimed|account))",
            0.8,
            judge=judges.children,
        ),
    ),
)

RULES = (
    UNSAFE_INTERNATIONAL_TRANSFER,
    INDEFINITE_RETENTION,
    SUBPROCESSOR_WITHOUT_NOTICE,
    LATE_BREACH_NOTIFICATION,
    SALE_OR_SHARING_OF_DATA,
    CHILDRENS_DATA,
)

# Document-level rules flag what a whole privacy document fails to say. An isolated clause
# never satisfies them, so the evaluation scores them on whole documents only.
_PRIVACY_DOCUMENTS = frozenset({PRIVACY_POLICY, DPA})
_PERSONAL_DATA_SENTENCE = rx(
    r"\bpersonal (?:data|information)|\byour (?:data|information)|\bwe collect|\bcustomer data"
    r"|\bdata subjects?"
)

MISSING_DATA_SUBJECT_RIGHTS = DocumentRule(
    id="missing_data_subject_rights",
    title="missing data-subject rights",
    risk=MEDIUM,
    explanation=(
        "The document never explains how people can access, correct, delete or port their data "
        "or object to processing (GDPR Articles 12-22); in a DPA, the processor's duty to help "
        "answer such requests is missing. Add the rights, how to exercise them and the response "
        "time."
    ),
    document_types=_PRIVACY_DOCUMENTS,
    satisfied_by=rx(
        r"\bright(?:s)?~3~(?:of |to )?(?:access|rectif|correct|eras|delet|portab|object|restrict"
        r"|withdraw)"
        r"|\b(?:request|ask)~6~(?:access|a copy|correct|delet|eras|rectif|portab)"
        r"|\bdata subjects?(?:'s|')?~3~(?:rights|requests)|\bexercis\w*~3~rights"
        r"|\bsubject access|\b(?:you|individuals) (?:may|can|have the right to)~3~(?:object|opt out"
        r"|withdraw)"
    ),
    anchor=_PERSONAL_DATA_SENTENCE,
    confidence=0.7,
)

NO_LEGAL_BASIS = DocumentRule(
    id="no_legal_basis",
    title="no stated legal basis",
    risk=MEDIUM,
    explanation=(
        "The document does not state the legal basis for processing (consent, contract, legal "
        "obligation, legitimate interests), or in a DPA that the processor acts only on the "
        "controller's documented instructions. Add the basis for each purpose (GDPR Articles 6 "
        "and 28(3)(a))."
    ),
    document_types=_PRIVACY_DOCUMENTS,
    satisfied_by=rx(
        r"\blegal basis|\blawful basis|\blegal grounds?|\blawful grounds?|\blegitimate interests?"
        r"|\b(?:your|on the basis of|based on|rely on|relying on|with your|of your)~2~consent"
        r"|\bconsent (?:you|which you)|\bperformance of (?:a |our |the )?contract|\b(?:contract"
        r"|agreement) "
        r"(?:\w+ ){0,3}?with you|\blegal obligations?|\barticle 6|\bart\. 6|\bvital interests?"
        r"|\bpublic interest"
        r"|\bdocumented instructions|\b(?:on|under"
        r"|in accordance with) (?:the )?(?:\w+'s )?(?:written )?instructions"
        r"|\binstructions (?:of|from) the controller"
    ),
    anchor=_PERSONAL_DATA_SENTENCE,
    confidence=0.7,
)

DOCUMENT_RULES = (MISSING_DATA_SUBJECT_RIGHTS, NO_LEGAL_BASIS)
