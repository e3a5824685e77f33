"""Terms of Service: what each of the eight unfair-clause kinds risks, and what to ask for.

The learned sentence model (corpus `claudette`) finds these clauses; this module says why they
matter. The kinds follow the CLAUDETTE annotation scheme for online Terms of Service.
"""

import re

from app.analyzer.learned import Advice
from app.analyzer.rules import rx
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
