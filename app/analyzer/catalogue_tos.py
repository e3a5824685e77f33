"""Terms of Service: what each of the eight unfair-clause kinds risks, and what to ask for.

The learned sentence model (corpus `claudette`) finds these clauses; this module says why they
matter. The kinds follow the CLAUDETTE annotation scheme for online Terms of Service.
"""

import re
from collections.abc import Callable

from app.analyzer.learned import Advice
from app.analyzer.rules import LazyPattern, rx
from app.schemas import Category, RiskLevel

ADVICE: dict[str, Advice] = {
    Category.LIMITATION_OF_LIABILITY: Advice(
        "limitation of liability",
        RiskLevel.HIGH,
        "The provider excludes or limits its liability, so losses it causes (data loss, outages, "
        "security failures, even negligence) may stay with you. Ask that the exclusion not apply "
        "to gross negligence, wilful misconduct, data loss or liability that law forbids "
        "excluding, and for a cap no lower than the fees paid.",
    ),
    Category.UNILATERAL_TERMINATION: Advice(
        "unilateral termination",
        RiskLevel.MEDIUM,
        "The provider may suspend or close your account or the service at its discretion, "
        "possibly without notice or reason, cutting you off from your content and purchases. "
        "Ask for termination only for a stated material breach, prior notice, a chance to cure, "
        "time to export your data and a refund of prepaid fees.",
    ),
    Category.UNILATERAL_CHANGE: Advice(
        "unilateral change",
        RiskLevel.MEDIUM,
        "The provider may change these terms or the service on its own, and continued use counts "
        "as acceptance. Ask for advance notice of material changes (e.g. 30 days), a right to "
        "reject them and leave with a refund, and that changes never apply retroactively.",
    ),
    Category.CONTENT_REMOVAL: Advice(
        "content removal",
        RiskLevel.MEDIUM,
        "The provider may delete or remove your content at its discretion, without notice or a "
        "stated reason. Ask for removal only for a stated breach or legal requirement, notice "
        "with the reason, a way to appeal and time to retrieve a copy.",
    ),
    Category.CONTRACT_BY_USING: Advice(
        "contract by using",
        RiskLevel.LOW,
        "You are bound merely by using or visiting the service, without an explicit acceptance, "
        "so terms you never saw may apply. Make sure the terms are shown and accepted actively, "
        "and keep a copy of the version you accepted.",
    ),
    Category.CHOICE_OF_LAW: Advice(
        "choice of law",
        RiskLevel.LOW,
        "A law other than that of your residence may govern the terms, which can make your "
        "rights harder to know and enforce. For consumers, ask that the law of your country of "
        "residence applies, or at least that its mandatory protections are preserved.",
    ),
    Category.JURISDICTION: Advice(
        "jurisdiction",
        RiskLevel.MEDIUM,
        "Disputes must be brought in courts chosen by the provider, possibly far from you, which "
        "makes a claim costly. Ask to be able to sue, and be sued, in the courts of your place "
        "of residence.",
    ),
    Category.ARBITRATION: Advice(
        "arbitration",
        RiskLevel.HIGH,
        "Disputes go to arbitration instead of a court, often binding, confidential, with limited "
        "appeal and sometimes without class actions. Ask for arbitration to be optional, with an "
        "opt-out, small-claims court preserved and the provider paying the arbitration fees.",
    ),
}


_CONTENT_LICENCE = (
    r"\blicen[cs]e|\bgrant (?:us|to us|\w+ (?:a|an|the))\b|\bfeedback|\bsuggestions?\b"
)

RULE_BLOCKERS: dict[str, re.Pattern[str]] = {
    # Privacy rules read a content licence ("a worldwide licence to your content") as a data
    # transfer or a sale; in Terms of Service it is neither.
    Category.INTERNATIONAL_TRANSFER: rx(_CONTENT_LICENCE),
    Category.DATA_SALE_OR_SHARING: rx(_CONTENT_LICENCE + r"|\bmake no representations|\bwarrant"),
    # An age limit keeps children out; it is not a collection of children's data.
    Category.CHILDRENS_DATA: rx(
        r"\bmust (?:not|be (?:at least|over|older))|\bmay not\b|\bnot (?:be )?(?:intended|directed"
        r"|permitted|allowed|eligible|available)|\bprohibit|\bharm|\bif you are (?:under|a minor)"
        r"|\bparents? (?:or|and) (?:legal )?guardians?"
    ),
    # Liability exclusions list "unauthorised access to your data" among excluded losses.
    Category.BREACH_NOTIFICATION: rx(
        r"\bliab|\bdamages\b|\bresponsible for|\bresult(?:s|ing)? from|\barising from"
    ),
    # A savings clause ("nothing in these terms excludes...") protects the user.
    Category.WARRANTY_DISCLAIMER: rx(r"\bnothing in (?:these|this)\b"),
    # Sentences about the waiver (its opt-out, severability, a cross-reference) do not impose it.
    Category.JURY_CLASS_WAIVER: rx(
        r"\bopt(?:ing)? out|\bunenforceable|\bnot (?:be )?(?:enforceable|enforced|valid)"
        r"|\bsevered|\bnull and void|\bsee section|\bdescribed in section|\bfor more details"
        r"|\bif (?:a|any|the) court"
    ),
}
"""Extra blockers for catalogue rules when they read Terms of Service, by category."""


# What the CLAUDETTE guidelines call a fair clause of a kind: the model reads the subject (a
# governing-law clause, an arbitration section, a termination paragraph) and flags the sentences
# on it, but several of those sentences state the consumer's protection rather than the
# provider's power. Each reading below was checked against every labelled sentence of the corpus
# it matches (docs/analyzer-terms-of-service.md gives the counts): almost none is labelled unfair.

_RESIDES = (
    r"(?:where|in which) (?:you|they|the user|the consumer)s? (?:(?:habitually |currently )?"
    r"(?:live|reside|are (?:habitually )?(?:a )?resident|are located|are domiciled"
    r"|have (?:your|their) (?:habitual )?residence))"
)
_RESIDENCE_FORUM = LazyPattern(
    "|".join(
        (
            # "the law of the country where you have your habitual residence"
            r"\b(?:laws?|courts?|jurisdiction|venue|provisions|protections?|legislation)\b"
            r"[^.;]{0,80}\b" + _RESIDES,
            # "your country's laws", "your local courts", "courts located in your place of ..."
            r"\byour (?:country|state|county|province|home (?:country|state|jurisdiction))"
            r"(?:.s)? (?:laws?|courts?|jurisdiction)",
            r"\byour (?:local|home) (?:laws?|courts?|jurisdiction)",
            r"\b(?:local )?(?:laws?|courts?) of (?:your|the consumer.s|the user.s) "
            r"(?:country|state|county|place|home|domicile|residence)",
            r"\bcourts? (?:located )?in (?:your|the user.s|the consumer.s) "
            r"(?:place|county|country|state|city)",
            r"\b(?:in|of) (?:your|their|the user.s|the consumer.s) (?:country|county|state|place) "
            r"of (?:habitual )?(?:residence|domicile)\b",
            r"\blaws? of that member state",
            # mandatory consumer law of the residence preserved
            r"\b(?:not|never) (?:deprive|affect|limit|supersede|override)[^.;]{0,100}\bmandatory\b",
            r"\b(?:benefit from|enjoys?|rely on)[^.;]{0,40}\bmandatory\b",
        )
    ),
    re.IGNORECASE,
)
_DESPITE_RESIDENCE = LazyPattern(
    r"\b(?:regardless|irrespective) of (?:your|the) (?:place|country|location)"
    # a carve-out for some residents leaves the main clause as it is
    r"|\bexcept (?:for )?(?:members|users|consumers|residents|those|you)\b[^,;]{0,80}"
    r"\b(?:resid|live|located|domicile)",
    re.IGNORECASE,
)
_IF_RESIDENT = LazyPattern(
    r"\b(?i:if) (?i:you|your country of residence) "
    r"(?i:live|reside|are (?:a )?resident|is|are located)(?i: in| of)?(?: the)? ([A-Z][A-Za-z]+)"
)


def _law_of_residence(text: str) -> bool:
    """The law or courts are those of the consumer's residence: named in general ("the courts
    of your place of domicile", mandatory consumer law preserved), or per place ("If you reside
    in Brazil, ... the laws of Brazil")."""
    if _DESPITE_RESIDENCE.search(text):
        return False
    if _RESIDENCE_FORUM.search(text):
        return True
    condition = _IF_RESIDENT.search(text)
    if condition is None:
        return False
    place = re.escape(condition.group(1)[:5])
    return (
        re.search(
            rf"\blaws? of (?:the )?{place}|\b{place}\w* law|\bcourts? (?:of|in) (?:the )?{place}",
            text[condition.end() :],
        )
        is not None
    )


_SMALL_CLAIMS_OPTION = LazyPattern(
    r"\b(?:may|can|right to|option|elect|choose|retain\w*|alternative)\b[^.;]{0,100}"
    r"\bsmall(?:-| )claims?\b",
    re.IGNORECASE,
)
_IMPOSED_FORUM = LazyPattern(r"\bexclusive|\bmust\b|\bsubmit", re.IGNORECASE)
_ARBITRATION_OBLIGATION = LazyPattern(
    r"\bbinding\b|\barbitration (?:agreement|clause|provision)|\bagree(?:s|ment)? to (?:the )?"
    r"arbitrat|\b(?:resolved|settled|determined|decided|submitted|heard) (?:\w+ ){0,3}"
    r"(?:by|through|in|to) (?:\w+ ){0,3}arbitration\b|\bmust be (?:resolved|arbitrated)"
    r"|\bsubmit (?:\w+ ){0,4}to (?:\w+ ){0,2}arbitration|\bexclusive (?:means|authority|power)"
    r"|\b(?:only|exclusively|solely) (?:by|through|in) (?:\w+ ){0,2}arbitration"
    r"|\bagree to resolve\b[^.]{0,400}\barbitration",
    re.IGNORECASE,
)
_COLLECTIVE = (
    r"(?:class(?:-| )(?:action|arbitration|wide|member|basis|proceeding|claim)"
    r"|class or (?:collective|representative)"
    r"|representative (?:action|proceeding|capacity|basis|claim)|individual(?:ized)? basis"
    r"|consolidat)"
)
_CLASS_WAIVER = LazyPattern(
    r"\b(?:no|not|never|waive\w*|only|solely)\b[^.;]{0,120}\b"
    + _COLLECTIVE
    + r"|\b"
    + _COLLECTIVE
    + r"[^.;]{0,120}\b(?:not (?:be )?(?:allowed|permitted|available)|aren.t allowed|prohibited"
    r"|waived)",
    re.IGNORECASE,
)
_ARBITRATION_COSTS = LazyPattern(
    r"\bfees?\b|\bcosts?\b|\breimburse|adr\.org|\bwebsite\b|\bform\b", re.IGNORECASE
)


def _arbitration_detail(text: str) -> bool:
    """A class-action waiver, or who pays the arbitration's fees: not the obligation to
    arbitrate, which is what the arbitration kind marks (the class waiver is a category of its
    own in the catalogue)."""
    if _ARBITRATION_OBLIGATION.search(text):
        return False
    return bool(_CLASS_WAIVER.search(text) or _ARBITRATION_COSTS.search(text))


_PROVIDER_POWER = LazyPattern(
    r"\b(?:we|us|our)\b[^.;]{0,60}\b(?:may|can|will|shall|reserves?|right to)\b[^.;]{0,60}"
    r"\b(?:terminat|suspend|cancel|close|disable|discontinu|remove|delete|block)"
    r"|\breserves? the right\b|\bat (?:its|our) (?:sole )?discretion",
    re.IGNORECASE,
)
_USER_TERMINATES = LazyPattern(
    r"\b(?:you|user)s? (?:may|can|are entitled to|(?:also )?have the right to) (?:\w+ ){0,2}"
    r"(?:terminate|cancel|close|end|stop using)\b"
    r"|\bif you (?:want|wish|would like|decide|choose) to (?:terminate|cancel|close|end)\b"
    r"|\byour right to (?:terminate|cancel)\b",
    re.IGNORECASE,
)
_USER_REMOVES = LazyPattern(
    r"\b(?:you|user)s? (?:may|can) (?:\w+ ){0,2}(?:remove|delete)\b"
    r"|\bif you (?:remove|delete|request (?:the )?deletion)\b",
    re.IGNORECASE,
)
_CHANGE_NOTICE = LazyPattern(
    r"\b(?:will|shall) (?:\w+ ){0,3}(?:notify|inform|tell|let you know|give you|provide you"
    r"|send you)[^.;]{0,80}\b(?:chang|modif|amend|revis|update)|\b(?:chang|modif|amend|revis"
    r"|update)[^.;]{0,100}\b(?:we|us) (?:will|shall) (?:\w+ ){0,2}(?:notify|inform|tell"
    r"|let you know|give you|provide you)",
    re.IGNORECASE,
)
_CHANGE_POWER = LazyPattern(
    r"\b(?:may|can|reserves? the right to|right to)\b[^.;]{0,40}"
    r"\b(?:chang|modif|amend|revis|updat|add|remove|discontinu)",
    re.IGNORECASE,
)
_CONDUCT_LEAD_IN = LazyPattern(
    r"\bagree (?:not to|that you (?:will|shall)(?: not)?|to the following)\b"
    r"|\byou (?:will|shall) not\s*:",
    re.IGNORECASE,
)
_BOUND = LazyPattern(
    r"\bbound\b|\bdeemed\b|\baccept\w*\b[^.;]{0,30}\b(?:terms|agreement)"
    r"|\bagree to (?:these|the|this) (?:terms|agreement)",
    re.IGNORECASE,
)
_REFUSAL = LazyPattern(
    r"(?:do not|don.t|not) (?:agree|accept|wish)[^.;]{0,80}(?:do not|don.t|not|stop|cease) "
    r"(?:use|access|using|accessing)"
    r"|(?:do not|don.t) (?:use|access)[^.;]{0,60}if you (?:do not|don.t|are unwilling)",
    re.IGNORECASE,
)
_SAVINGS = LazyPattern(
    r"\bnothing in (?:these|the|this) [^.;]{0,60}\b(?:exclude|limit|restrict|remove)s?\b"
    r"|\b(?:do not|don.t|does not) (?:exclude|limit) (?:our|its|[a-z]+.s) liability"
    r"|\bshall remain unaffected|\bnot (?:intended )?to (?:exclude|limit) (?:our|its) liability",
    re.IGNORECASE,
)


def _user_terminates(text: str) -> bool:
    return bool(_USER_TERMINATES.search(text)) and not _PROVIDER_POWER.search(text)


_REMOVAL = LazyPattern(
    r"\b(?:remov|delet|edit|screen|refuse to (?:post|publish|accept)|reject)", re.IGNORECASE
)
_ENDS_USE = LazyPattern(
    r"terminat|suspen|\baccount|\baccess|\bban\b|disabl|discontinu|cancel|clos|block|restrict"
    r"|\bstop|\bend\b|prohibit|withdraw|revok|exclu|lock",
    re.IGNORECASE,
)


def _removal_only(text: str) -> bool:
    """Removing or refusing content, with no word of ending the account, access or service:
    content removal, not termination."""
    return bool(_REMOVAL.search(text)) and not _ENDS_USE.search(text)


# --- Fifth round: sentences of a kind's subject that are not the kind's clause ---------------

_DEFINITION = LazyPattern(
    r"^\W{0,3}[“\"]?[A-Z][^”\".;]{0,40}[”\"] (?:means|shall mean|refers to)\b"
)
_USERS_LIABILITY = LazyPattern(
    r"\byou(?: are| will be| shall be| may be held| remain| will remain)? (?:solely |fully "
    r"|entirely |exclusively )?(?:responsible|liable)\b|\byou (?:\w+ ){0,2}accept (?:full |sole )?"
    r"responsibility",
    re.IGNORECASE,
)
_PROVIDER_EXCLUSION = LazyPattern(
    r"\bnot (?:be )?(?:\w+ )?(?:liable|responsible)|\bno (?:\w+ ){0,2}(?:liability|responsibility)"
    r"|disclaim|\bexclud|\blimit|\brelease|\bwaive|\bhold harmless|indemn"
    r"|\bown (?:discretion and )?risk|\bsole risk|\bin no (?:case|event)",
    re.IGNORECASE,
)
_NO_REFUND = LazyPattern(
    r"\b(?:no|not (?:\w+ ){0,3}(?:a |any )?)refunds?\b"
    r"|\bnot receive (?:any )?(?:money|compensation|refund)|\bnon-?refundable",
    re.IGNORECASE,
)
_LIABILITY_WORD = LazyPattern(r"\bliab|\bresponsib|\bdamage", re.IGNORECASE)
_TIME_BAR = LazyPattern(
    r"\b(?:filed|commenced?|brought|asserted)\b[^.;]{0,40}\bwithin (?:one|two|six|1|2|6) "
    r"(?:\(\d+\) )?(?:year|month)s?\b|\b(?:forever|permanently) barred|\btime-barred",
    re.IGNORECASE,
)
_EXCLUSION = LazyPattern(
    r"\bnot (?:be )?(?:\w+ )?(?:liable|responsible)|\bno (?:\w+ ){0,2}(?:liability|responsibility)"
    r"|\bexclu|\blimit(?:s|ed)? (?:to|our|its)\b",
    re.IGNORECASE,
)
_AFTER_TERMINATION = LazyPattern(
    r"^(?:\W*\w+,? ){0,3}?(?:if|upon|on|following|after|when|once|in the event (?:of|that))"
    r"(?: the)? (?:any )?(?:(?:\w+ ){0,3}(?:account|access|membership|subscription) (?:is|has been"
    r"|are|was) (?:\w+ )?(?:terminated|suspended|closed|cancel+ed|deleted)"
    r"|(?:termination|suspension|cancel+ation|closure|expiration|expiry) of)"
    r"|^(?:\W*\w+,? ){0,2}?(?:suspension|termination|cancel+ation|closure)\b[^.;]{0,80}"
    r"\b(?:may|could|will|shall|would) (?:\w+ )?(?:result in|lead to|cause)"
    r"|\bif we have (?:already |previously )?(?:terminated|banned|closed|suspended|disabled)",
    re.IGNORECASE,
)
_ORDER_REFUSAL = LazyPattern(
    r"\b(?:refuse|cancel|suspend|reject|decline)\w*\b[^.;]{0,40}\border", re.IGNORECASE
)
_CONTRACT_OBJECT = LazyPattern(
    r"\baccount|\baccess|\bmembership|\bagreement|\bterms\b|\bregistration|\bprofile",
    re.IGNORECASE,
)
_USER_MATERIAL = LazyPattern(
    r"\b(?:content|submissions?|postings?|posts?|UGC|materials?|comments?|reviews?|photos?"
    r"|usernames?)\b",
    re.IGNORECASE,
)
_MODERATION = LazyPattern(
    r"\b(?:remov|delet|edit|screen|reject|refus|disable access|reclaim|withhold|discard)",
    re.IGNORECASE,
)
_CHANGE_OF_CONTRACT = LazyPattern(
    r"\b(?:chang|modif|amend|revis|updat|add|discontinu|suspend|terminat|limit)\w*\b[^.;]{0,50}"
    r"\b(?:terms|agreement|service|services|features?|prices?|fees?|functionalit\w*|polic\w*)\b",
    re.IGNORECASE,
)
_ASSIGNMENT = LazyPattern(
    r"\bassign|\btransfer (?:\w+ ){0,3}(?:rights|obligations)|\bgive our rights", re.IGNORECASE
)
_CHANGE_WORD = LazyPattern(r"chang|modif|amend|revis|updat", re.IGNORECASE)
_OFFER = LazyPattern(
    r"\b(?:may|will|might|can)\b(?: \w+){0,4} (?:offer|promote)\b|\btrial (?:period|basis)\b",
    re.IGNORECASE,
)
_ENDS_OR_CHANGES = LazyPattern(
    r"chang|modif|amend|revis|updat|discontinu|terminat|cancel|withdraw|\bend\b|expire|remov|vary",
    re.IGNORECASE,
)
_BY_USING = LazyPattern(
    r"\bby (?:\w+ ){0,2}(?:using|accessing|continuing|creating|registering|visiting|downloading"
    r"|installing|placing|selecting|clicking)\b",
    re.IGNORECASE,
)
_THE_TERMS = LazyPattern(
    r"\b(?:terms|agreements?|conditions|tos|eula|bound|rules|guidelines|polic(?:y|ies)|notice"
    r"|changes?|modifications?|revisions?|updated? (?:version|terms)|contract|binding)\b",
    re.IGNORECASE,
)


def _definition(text: str) -> bool:
    """A defined term ("Liability" means ...): it grants and limits nothing."""
    return bool(_DEFINITION.search(text))


def _users_own_liability(text: str) -> bool:
    """The consumer's own liability ("You are responsible for all Content you upload"), with no
    exclusion of the provider's: the kind is the provider limiting its liability."""
    return bool(_USERS_LIABILITY.search(text)) and not _PROVIDER_EXCLUSION.search(text)


def _no_refund(text: str) -> bool:
    """No refund or compensation for unused purchases, with no word of liability or damage."""
    return bool(_NO_REFUND.search(text)) and not _LIABILITY_WORD.search(text)


def _time_bar(text: str) -> bool:
    """A time limit to bring a claim ("must be filed within one (1) year"), excluding nothing."""
    return bool(_TIME_BAR.search(text)) and not _EXCLUSION.search(text)


def _after_termination(text: str) -> bool:
    """What follows a termination ("If your account is terminated, you will not have access
    ...", "Suspension ... could result in a loss of access"): not the power to terminate."""
    return bool(_AFTER_TERMINATION.search(text))


def _order_refusal(text: str) -> bool:
    """Refusing or cancelling an order, with no word of the account, access or agreement."""
    return bool(_ORDER_REFUSAL.search(text)) and not _CONTRACT_OBJECT.search(text)


def _content_moderation(text: str) -> bool:
    """Removing, editing or refusing users' material, with no change of the terms, the service,
    its features or prices: content removal, not a unilateral change."""
    return bool(
        _MODERATION.search(text) and _USER_MATERIAL.search(text)
    ) and not _CHANGE_OF_CONTRACT.search(text)


def _assignment(text: str) -> bool:
    """Assigning the terms or the provider's rights to another party, with no word of change."""
    return bool(_ASSIGNMENT.search(text)) and not _CHANGE_WORD.search(text)


def _offer(text: str) -> bool:
    """An offer, promotion or trial the provider may make, with no word of changing or ending."""
    return bool(_OFFER.search(text)) and not _ENDS_OR_CHANGES.search(text)


def _use_means_other(text: str) -> bool:
    """ "By using the Service, you agree that we can show you ads" / "you may be exposed to
    offensive content": use leads to something other than the terms binding the consumer."""
    return bool(_BY_USING.search(text)) and not _THE_TERMS.search(text)


FAIR_READINGS: dict[str, tuple[Callable[[str], bool], ...]] = {
    # The consumer's own right to end the contract or delete their content is no unilateral
    # power of the provider; what follows a termination is not the power to terminate.
    Category.UNILATERAL_TERMINATION: (
        _user_terminates,
        _removal_only,
        _after_termination,
        _order_refusal,
        _definition,
    ),
    Category.CONTENT_REMOVAL: (
        lambda text: bool(_USER_REMOVES.search(text)) and not _PROVIDER_POWER.search(text),
        _order_refusal,
        _definition,
    ),
    # A promise of notice of changes limits the power; the sentence granting it is the clause.
    Category.UNILATERAL_CHANGE: (
        _user_terminates,
        lambda text: bool(_CHANGE_NOTICE.search(text)) and not _CHANGE_POWER.search(text),
        _content_moderation,
        _assignment,
        _offer,
        _order_refusal,
        _definition,
    ),
    # "By using the Service you agree not to:" opens a list of prohibited conduct; "if you do
    # not agree, do not use the Service" is the way out, not the binding by use.
    Category.CONTRACT_BY_USING: (
        lambda text: bool(_CONDUCT_LEAD_IN.search(text)) and not _BOUND.search(text),
        lambda text: bool(_REFUSAL.search(text)),
        _use_means_other,
        _definition,
    ),
    # A savings clause keeps liability (death, personal injury, fraud, what law forbids
    # excluding): the guidelines' clearly fair limitation.
    Category.LIMITATION_OF_LIABILITY: (
        lambda text: bool(_SAVINGS.search(text)),
        _users_own_liability,
        _no_refund,
        _time_bar,
        _definition,
    ),
    Category.CHOICE_OF_LAW: (_law_of_residence, _definition),
    Category.JURISDICTION: (
        _law_of_residence,
        lambda text: bool(_SMALL_CLAIMS_OPTION.search(text)) and not _IMPOSED_FORUM.search(text),
        _definition,
    ),
    Category.ARBITRATION: (_arbitration_detail, _definition),
}
"""Category -> readings of a sentence (whitespace squashed, case kept) that make a finding of
the learned model on it a fair clause of that kind, which is then not reported."""


def fair_reading(category: str, text: str) -> bool:
    return any(reading(text) for reading in FAIR_READINGS.get(category, ()))
