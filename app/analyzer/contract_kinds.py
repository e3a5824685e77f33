"""The clause kinds lawyers review in commercial contracts (the CUAD risk kinds): how bad each
particular clause is for the party reading it, why, and what to negotiate.

The learned contract model says *which* kind a sentence is; the grade here says how risky this
wording of it is. The analyser does not know which side the reader is on, so a clause that binds
both parties alike, is capped, or only needs consent is `low`; one that binds one side only, is
uncapped or has no end is `high`. Patterns run on folded, whitespace-squashed text.
"""

from collections.abc import Callable
from dataclasses import dataclass

from app.analyzer import judges
from app.analyzer.quantities import durations_in_days
from app.analyzer.rules import Verdict, rx
from app.schemas import RiskLevel

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW

Grade = Callable[[str], Verdict]

_MUTUAL = rx(
    r"\b(?:neither|either|each|both) (?:party|parties|of the parties)\b|\bmutual(?:ly)?\b"
    r"|\bthe parties (?:shall|will|agree|may)|\bno party\b|\bany party\b|\beach of the parties"
)
_CONSENT = rx(
    r"\bwithout (?:the )?(?:\w+\W+){0,3}?(?:prior )?(?:express )?(?:written )?(?:consent|approval"
    r"|permission)|\bconsent~6~(?:not (?:to )?be unreasonably|unreasonably) (?:withheld|delayed)"
    r"|\bwith the (?:prior )?(?:written )?(?:consent|approval)"
)
_CAP_AMOUNT = rx(
    r"\bexceed|\bin excess of|\bgreater than|\blimited to|\bcapped|\bmaximum|\baggregate"
    r"|\bfees? (?:paid|payable)|\bamounts? (?:paid|payable|received)|[$€£]\s?\d"
)
_EXCLUDED_LOSSES = rx(
    r"\b(?:indirect|consequential|special|incidental|punitive|exemplary)\b|\blost profits"
    r"|\bloss of (?:profits?|revenue|business|data)"
)
_EXCLUDES_ALL = rx(
    r"\b(?:no|any) liability (?:whatsoever|of any kind)|\bshall not be liable (?:for|to) any"
    r"~6~(?:whatsoever|of any kind)|\bin no event~4~(?:be )?liable (?:to \w+ )?for any (?:loss"
    r"|damage|claim)s?\b(?!~3~(?:indirect|consequential|special|incidental|punitive))"
)
_STANDARD_CARVE_OUTS = rx(
    r"\bgross(?:ly)? neglig|\bwil(?:l)?ful|\bfraud|\bdeath|\bbodily injury|\bpersonal injury"
    r"|\bconfidential|\bindemnif"
)
_LONG_OR_WIDE = rx(
    r"\bperpetu|\bin perpetuity|\bindefinite|\bfor ever\b|\bforever\b|\bworld ?wide|\bglobal"
    r"|\bany (?:country|territory|market)|\bat any time|\banywhere|\bthe world\b"
)
_AFTER_TERM = rx(
    r"\b(?:after|following|post-)~4~(?:termination|expiration|expiry|the term|end)"
    r"|\bthereafter\b|\bsurviv"
)
_FREQUENCY_LIMIT = rx(
    r"\b(?:once|twice|one time|two times|no more (?:often )?than|not more (?:often )?than)"
    r"~3~(?:per|a|in any|each|every) (?:calendar |contract )?(?:year|twelve|12|quarter|month)"
    r"|\bannual(?:ly)?\b"
)
_AUDIT_LIMITS = rx(
    r"\breasonable (?:prior |advance )?(?:written )?notice|\b\d+ (?:\(\d+\) )?(?:business |working"
    r" |calendar )?days'? (?:prior |advance )?(?:written )?notice|\bnormal business hours"
    r"|\bregular business hours|\bduring business hours|\bat (?:its|the auditing party's"
    r"|\w+'s) (?:own )?(?:cost|expense)|\bindependent (?:certified |public )?accountant"
)
_FREE_TO_ASSIGN = rx(
    r"\b(?:may|can|is free to|shall be entitled to|has the right to)(?! not\b)~3~(?:assign|transfer"
    r"|novate)\w*~12~without~4~(?:consent|approval|agreement)"
)
_AT_WILL = rx(
    r"\bat any time\b|\bfor any reason|\bfor no reason|\bwith or without cause|\bwithout cause"
    r"|\bsole discretion|\bfor convenience|\bimmediately"
)
_TERMINATION_ON_CONTROL = rx(r"\bterminat")
_PRIOR_IP = rx(
    r"\bpre-?existing|\bbackground (?:ip|intellectual|technology)|\bwhether or not~4~(?:during"
    r"|in the course|related)|\bany and all (?:intellectual property|inventions|ideas)"
    r"|\ball (?:right, title and interest|rights,? title,? and interest) in and to (?:all|any)"
)
_LICENSE_BACK = rx(
    r"\blicen[cs]e back|\bgrants? (?:to )?(?:\w+ ){0,3}?a (?:non-exclusive|royalty-free|perpetual)"
    r"|\bjointly own|\bjoint(?:ly)? (?:owned|ownership)"
)
_PRICE_ADVANTAGE = rx(
    r"\b(?:no less|not less|at least as) favou?rable|\bmost favou?red|\blowest (?:price|rate)"
    r"|\bbest (?:price|terms|rate)"
)


def states_a_cap(text: str) -> bool:
    """An amount, a ceiling or excluded losses, not a clause that only says liability is unlimited."""
    return bool(_CAP_AMOUNT.search(text) or _EXCLUDED_LOSSES.search(text))


@dataclass(frozen=True, slots=True)
class Kind:
    slug: str
    title: str
    explanation: str
    grade: Grade


def _grade_uncapped(text: str) -> Verdict:
    if _MUTUAL.search(text) and _STANDARD_CARVE_OUTS.search(text):
        return Verdict(LOW, 0.7, "Both parties stay liable without limit for the usual carve-outs.")
    return Verdict(HIGH, 0.8, "Liability here has no ceiling.")


def _grade_cap(text: str) -> Verdict:
    if _EXCLUDES_ALL.search(text) and not _CAP_AMOUNT.search(text):
        return Verdict(HIGH, 0.75, "It excludes liability altogether rather than capping it.")
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.7, "The limitation protects both parties alike.")
    if _CAP_AMOUNT.search(text):
        return Verdict(LOW, 0.65, "Liability is capped at a stated amount.")
    return Verdict(MEDIUM, 0.7, "Only one party's liability is limited.")


def _grade_liquidated(text: str) -> Verdict:
    return judges.penalty(text)


def _restraint(text: str) -> Verdict:
    """Non-compete, exclusivity, non-solicit: how long and how wide the restraint runs."""
    days = durations_in_days(text)
    long_after = _AFTER_TERM.search(text) and (not days or max(days) > 365)
    if _LONG_OR_WIDE.search(text) or long_after:
        return Verdict(HIGH, 0.75, "The restriction is very wide or outlasts the contract.")
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.65, "The restriction binds both parties alike.")
    return Verdict(MEDIUM, 0.7, "The restriction binds one party.")


def _grade_renewal(text: str) -> Verdict:
    verdict = judges.renewal(text)
    if verdict is not None:
        return verdict
    return Verdict(LOW, 0.65, "A notice period to stop the renewal is stated.")


def _grade_ip(text: str) -> Verdict:
    if _PRIOR_IP.search(text):
        return Verdict(HIGH, 0.75, "It reaches beyond the work paid for.")
    if _LICENSE_BACK.search(text) or _MUTUAL.search(text):
        return Verdict(LOW, 0.65, "Ownership is shared or licensed back.")
    return Verdict(MEDIUM, 0.7, "Ownership of the work product passes to the other party.")


def _grade_audit(text: str) -> Verdict:
    if _MUTUAL.search(text) or (_FREQUENCY_LIMIT.search(text) and _AUDIT_LIMITS.search(text)):
        return Verdict(LOW, 0.65, "The audit is mutual or limited in frequency and notice.")
    if _FREQUENCY_LIMIT.search(text) or _AUDIT_LIMITS.search(text):
        return Verdict(MEDIUM, 0.65, "The audit is only partly limited.")
    return Verdict(HIGH, 0.7, "The audit has no limit on frequency, notice or cost.")


def _grade_convenience(text: str) -> Verdict:
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.65, "Either party may end the contract on the same terms.")
    days = durations_in_days(text)
    if _AT_WILL.search(text) and (not days or min(days) < 30):
        return Verdict(HIGH, 0.8, "One party can end the contract at will with little notice.")
    return Verdict(MEDIUM, 0.7, "One party can end the contract without cause.")


def _grade_anti_assignment(text: str) -> Verdict:
    if _FREE_TO_ASSIGN.search(text) and not _MUTUAL.search(text):
        return Verdict(
            HIGH, 0.75, "One party may transfer the contract without the other's consent."
        )
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.7, "The restriction binds both parties alike.")
    if _CONSENT.search(text):
        return Verdict(LOW, 0.65, "Assignment needs consent rather than being barred.")
    return Verdict(HIGH, 0.7, "One party alone is barred from assigning, or free to assign.")


def _grade_change_of_control(text: str) -> Verdict:
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.65, "It applies to both parties alike.")
    if _TERMINATION_ON_CONTROL.search(text):
        return Verdict(HIGH, 0.7, "A change of control lets the other party end the contract.")
    return Verdict(MEDIUM, 0.7, "A change of control needs notice or consent.")


def _grade_mfn(text: str) -> Verdict:
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.6, "Both parties give the same pricing promise.")
    if _PRICE_ADVANTAGE.search(text):
        return Verdict(MEDIUM, 0.7, "One party must match its best terms given to anyone else.")
    return Verdict(MEDIUM, 0.6, "")


def _grade_not_to_sue(text: str) -> Verdict:
    if _MUTUAL.search(text):
        return Verdict(LOW, 0.65, "Both parties give up the same claims.")
    if _LONG_OR_WIDE.search(text) or _AFTER_TERM.search(text):
        return Verdict(HIGH, 0.75, "The waiver has no end.")
    return Verdict(MEDIUM, 0.7, "One party gives up the right to challenge or sue.")


KINDS: dict[str, Kind] = {
    kind.slug: kind
    for kind in (
        Kind(
            "uncapped_liability",
            "uncapped liability",
            "Liability for some claims is excluded from the cap, so one claim could exceed the "
            "value of the contract. Keep the uncapped carve-outs to fraud, wilful misconduct, "
            "death and personal injury, and put indemnities and data breaches under a (higher) "
            "cap.",
            _grade_uncapped,
        ),
        Kind(
            "liability_cap",
            "limitation of liability",
            "Recovery is capped or some losses are excluded. Check that the cap is mutual, "
            "high enough (at least 12 months' fees) and does not exclude the losses you would "
            "actually suffer, such as lost data or profits from their breach.",
            _grade_cap,
        ),
        Kind(
            "liquidated_damages",
            "liquidated damages",
            "A fixed sum is payable on breach, delay or early exit regardless of the actual "
            "loss. Make sure it is a genuine pre-estimate, capped (for example 5-10% of the "
            "contract value) and the sole remedy for that failure.",
            _grade_liquidated,
        ),
        Kind(
            "non_compete",
            "non-compete",
            "A party is barred from competing business, which limits its options after the "
            "deal. Limit it to the products concerned, a defined territory and the term of the "
            "contract (or a short tail), and make it mutual where it protects both sides.",
            _restraint,
        ),
        Kind(
            "exclusivity",
            "exclusivity",
            "A party is tied to one counterparty for a product, territory or customer group. "
            "Tie exclusivity to minimum volumes or performance, a defined scope and the term, "
            "with the right to end it if targets are missed.",
            _restraint,
        ),
        Kind(
            "non_solicit",
            "non-solicitation",
            "A party may not solicit or hire the other's employees or customers. Keep it "
            "mutual, limited to people actually involved in the work and to 12 months after "
            "the contract, and allow general job advertisements.",
            _restraint,
        ),
        Kind(
            "auto_renewal",
            "renewal term",
            "The contract renews for further terms unless notice is given in time. Diarise "
            "the notice date; ask for a short notice period (30 days), renewal reminders and "
            "no price rise on renewal without consent.",
            _grade_renewal,
        ),
        Kind(
            "ip_assignment",
            "IP ownership assignment",
            "Intellectual property created under the contract passes to the other party. "
            "Limit it to paid-for deliverables, keep background IP with a licence to use it, "
            "and get a licence back to what you need.",
            _grade_ip,
        ),
        Kind(
            "audit_rights",
            "audit rights",
            "The other party may inspect books, records or premises. Limit audits to once a "
            "year on reasonable written notice, in business hours, by an independent auditor "
            "bound by confidentiality, at the auditor's cost unless a material error is found.",
            _grade_audit,
        ),
        Kind(
            "termination_for_convenience",
            "termination for convenience",
            "The contract can be ended without cause. Make the right mutual, with at least "
            "30-90 days' notice, payment for work done and committed costs, and a refund of "
            "prepaid fees.",
            _grade_convenience,
        ),
        Kind(
            "anti_assignment",
            "assignment restriction",
            "Transfer of the contract is restricted, which can block a sale or reorganisation "
            "of the business. Make it mutual, consent not to be unreasonably withheld, with "
            "transfers to affiliates and to a buyer of the business allowed on notice.",
            _grade_anti_assignment,
        ),
        Kind(
            "change_of_control",
            "change of control",
            "A merger, sale or change of ownership triggers consent, notice or termination "
            "rights. Narrow the trigger (a competitor acquiring control), make it mutual and "
            "replace termination with notice where possible.",
            _grade_change_of_control,
        ),
        Kind(
            "most_favored_nation",
            "most favoured nation",
            "A party must give terms or prices at least as good as those given to anyone "
            "else. Limit it to comparable volumes and terms, a defined product set and "
            "period, and a clear audit and adjustment mechanism.",
            _grade_mfn,
        ),
        Kind(
            "covenant_not_to_sue",
            "covenant not to sue",
            "A party gives up the right to challenge the other's IP or to bring claims. Keep "
            "the right to defend itself and to challenge rights asserted against it, limit "
            "it to the contract term and make it mutual.",
            _grade_not_to_sue,
        ),
    )
}

GATES: dict[str, str] = {
    "anti_assignment": r"assign|transfer|delegat",
    "audit_rights": r"audit|inspect|examin|records|books",
    "auto_renewal": r"renew|extend|extension|successive|automatic|evergreen",
    "change_of_control": (
        r"control|merger|merge|acqui|consolidat|reorgani|substantially\s+all|beneficial\s+own"
    ),
    "covenant_not_to_sue": r"challeng|contest| sue\b|suit|attack|impair|validity|dispute|claim",
    "exclusivity": r"exclusiv| sole\b| only\b|solely| other\b",
    "ip_assignment": (
        r"assign|owner|\bowns?\b|\bowned\b| title\b|property|vest|works?\s+made\s+for\s+hire"
        r"|belong"
    ),
    "liability_cap": r"liab|damages|exceed",
    "liquidated_damages": r"liquidated|penalt| fee\b|damages|forfeit",
    "most_favored_nation": r"favo|lowest|best\s+price|more\s+advantageous|no\s+less|better\s+terms",
    "non_compete": r"compet|similar|engage",
    "non_solicit": r"solicit|hire|employ|recruit|induce|entice",
    "termination_for_convenience": r"terminat|cancel",
    "uncapped_liability": r"liab|damages|limitation|indemn",
}
"""Words a sentence must contain (folded, squashed) to be read as a kind: each kind's model is
trained and applied only where its gate matches, so it learns the wording, not the topic."""
