"""Judges: decide from durations, rates and qualifiers whether a matched clause is really risky."""

from app.analyzer.quantities import (
    NUMBER,
    durations_in_days,
    durations_in_hours,
    number,
    percentages,
)
from app.analyzer.rules import Verdict, rx
from app.schemas import RiskLevel

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW

_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4, "year": 365.0}
_NOTICE_BEFORE = rx(
    rf"\b({NUMBER})[- ](?:calendar |business |working )?(day|week|month)s?'?"
    r"~5~(?:before|prior to|preceding|in advance|notice)"
)


def _notice_days(text: str) -> list[float]:
    days: list[float] = []
    for match in _NOTICE_BEFORE.finditer(text):
        value = number(match.group(1))
        if value is not None:
            days.append(value * _UNIT_DAYS[match.group(2)])
    return days


_WINDOW = rx(r"\bonly~2~(?:during|within|in) (?:the |a )?(?:\w+\W+){0,3}?(?:window|period)\b")
_CANCEL_ANY_TIME = rx(r"\b(?:cancel|terminat|opt out)\w*~5~(?:at )?any ?time\b")
_MENTIONS_EXIT = rx(r"\b(?:notice|notif|cancel|terminat|non-renewal|opt out|opt-out)")
_PRICE_RISE = rx(r"\bthen[- ]current~2~(?:price|fee|rate|charge)|\bprice increase")


def renewal(text: str) -> Verdict | None:
    if _CANCEL_ANY_TIME.search(text):
        return None
    if _WINDOW.search(text):
        return Verdict(MEDIUM, 0.85, "Cancellation is only possible within a narrow window.")
    notice = _notice_days(text)
    if notice and max(notice) > 60:
        return Verdict(
            MEDIUM,
            0.8,
            f"Notice of non-renewal is due {max(notice):.0f} days before the term ends, "
            "a deadline that is easy to miss.",
        )
    if notice:
        if _PRICE_RISE.search(text):
            return Verdict(MEDIUM, 0.7, "Renewal is at the then-current price.")
        return None
    if not _MENTIONS_EXIT.search(text):
        return Verdict(MEDIUM, 0.8, "No notice or cancellation window is stated.")
    return Verdict(MEDIUM, 0.7, "No notice period for opting out of the renewal is defined.")


_DISCRETION = rx(
    r"\b(?:sole|absolute|own|unfettered|complete) discretion|\bat (?:its|our|their) discretion"
    r"|\bfor any reason|\bfor no reason|\bfor whatever reason|\bwithout~2~(?:reason|justification"
    r"|explanation)s?\b|\bunilateral|\bwhenever (?:we|it|they|the \w+)~1~(?:wants?|wish\w*|chooses?"
    r"|likes?"
    r"|decides?|sees? fit)|\bas (?:we|it|they) sees? fit"
)
_CONVENIENCE = rx(r"\bfor convenience|\bwithout cause\b")
_ANY_TIME = rx(r"\bat any time\b|\bwhenever\b")
_NO_NOTICE = rx(
    r"\bwithout~2~(?:notice|warning|telling|notifying|informing)|\bwith no (?:prior "
    r"|advance )?notice"
)
_CAUSE = rx(
    r"\bbreach|\bfails? to\b|\bfailure to\b|\binsolven|\bbankrupt|\bliquidat|\bnon-?payment"
    r"|\bunpaid|\boverdue|\bviolat|\bunlawful|\billegal|\bfraud|\bforce majeure"
    r"|\bchange of control|\bif (?:the )?(?:customer|client|licensee|you|user)\b"
    r"|\bin the event (?:that|of)"
    r"|\brequired by law|\bcourt order|\bsecurity (?:threat|risk)|\bmisconduct"
)


def termination(text: str) -> Verdict | None:
    discretion = _DISCRETION.search(text)
    convenience = _CONVENIENCE.search(text)
    if _CAUSE.search(text) and not (discretion or convenience):
        return None
    any_time, no_notice = _ANY_TIME.search(text), _NO_NOTICE.search(text)
    if discretion or (any_time and (no_notice or convenience)):
        return Verdict(HIGH, 0.9, "It can be done at will, without cause.")
    if not (any_time or no_notice or convenience):
        return None
    notice = _notice_days(text)
    if notice and min(notice) >= 30 and not any_time:
        return Verdict(LOW, 0.6, f"{min(notice):.0f} days' notice is given.")
    return Verdict(MEDIUM, 0.75, "")


_MUTUAL_CHANGE = rx(
    r"\bby mutual|\bmutually agreed|\bsigned by~4~(?:both|each|all) part|\bagreed in writing by"
    r"|\bwith the (?:prior )?(?:written )?(?:consent|agreement|approval) of|\bboth parties\b"
    r"|\b(?:signed|executed|agreed to)~4~by (?:the )?(?:parties|party (?:to be charged|against))"
    r"|\bonly (?:by|in|with|through|pursuant to) (?:a |an |the )?(?:written|writing|mutual"
    r"|instrument|agreement|amendment)|\bnot be~3~(?:changed|amended|modified|varied) orally"
    r"|\bby (?:a |an )?(?:written )?(?:instrument|amendment|agreement)\b"
)
_STRONG_CHANGE = rx(
    r"\bat any time\b|\b(?:sole|absolute|own) discretion|\bwithout~2~(?:notice|notifying|telling"
    r"|informing)"
    r"|\bunilateral|\b(?:take|takes|taking) effect immediately|\beffective (?:immediately"
    r"|upon posting|"
    r"when posted|on posting|on publication|upon publication)|\bcontinued use|\bcontinue to use"
    r"|\bfrom the date of (?:publication|posting)|\bimmediately (?:upon|on|after) (?:posting"
    r"|publication)"
)
_EXIT_RIGHT = rx(r"\b(?:terminat|cancel|refund|object)\w*|\bwithout (?:charge|penalty)|\bnot agree")
_BOUNDED_CHANGE = rx(
    r"\bno more than|\bnot (?:to )?exceed|\bcapped|\blimited to|\binflation|\bcpi\b|\bprice index"
)
_POLICY_OBJECT = rx(r"\b(?:this|our) (?:privacy )?(?:policy|notice|statement)\b")


def amendment(text: str) -> Verdict | None:
    if _MUTUAL_CHANGE.search(text):
        return None
    notice = _notice_days(text)
    reasonable_notice = bool(notice) and min(notice) >= 30
    if reasonable_notice and _EXIT_RIGHT.search(text):
        return None
    if _STRONG_CHANGE.search(text):
        return Verdict(HIGH, 0.85, "Changes bind you without your agreement.")
    if _BOUNDED_CHANGE.search(text):
        return None
    if reasonable_notice:
        return Verdict(LOW, 0.6, f"{min(notice):.0f} days' notice is given.")
    if _POLICY_OBJECT.search(text):
        return None
    return Verdict(MEDIUM, 0.65, "")


_BROAD_AREA = rx(
    r"\bworld ?wide|\banywhere\b|\bany (?:country|territory|region|market|area|jurisdiction|state)"
    r"|\bthe world\b|\bglobal(?:ly)?\b|\beurope\b|\bnorth america|\bthe united states|\bthe eu\b"
    r"|\bwithout (?:any )?(?:territorial|geographic(?:al)?) (?:limit|restrict)|\bwherever"
)
_NARROW_AREA = rx(
    r"\bwithin (?:a radius of )?(?:\w+\W+){0,2}?\d+ ?(?:km|kilomet|miles?)\b|\bcity of\b"
    r"|\bwithin the (?:city|town|municipality|county|metropolitan)"
)
_COMPENSATED = rx(
    r"\b(?:compensation|indemnity|allowance)\b|\bcontinue to pay\b|\b(?:will|shall) pay\b"
)
_DURING_ONLY = rx(
    r"\bduring (?:the (?:term|period|course) of |(?:his|her|their|your|the) )?(?:employment"
    r"|engagement)"
    r"|\bwhile (?:employed|engaged)\b|\bduring the term\b"
)
_AFTERWARDS = rx(
    r"\bafter|\bfollowing|\bpost-|\bthereafter|\btermination|\bleav|\bcessation|\bend of|\bceas"
    r"|\bexpir"
)
_WORK_VERBS = rx(
    r"\b(?:work|employ|engag|join|provid|advis|consult|compete\b|competing|carry|concerned"
    r"|interested"
    r"|involved|establish|set up|own|activit|manufactur|sell|promot|deal|supply|offer|undertak|serv"
    r"|represent|distribut|market|develop|purchas|buy|sourc|procur|solicit|act (?:as|for))"
)


def _reach(text: str) -> tuple[float | None, bool]:
    days = durations_in_days(text)
    return (max(days) / _UNIT_DAYS["month"] if days else None), bool(_BROAD_AREA.search(text))


def non_compete(text: str) -> Verdict | None:
    if not _WORK_VERBS.search(text):
        return None
    if _DURING_ONLY.search(text) and not _AFTERWARDS.search(text):
        return None
    months, broad = _reach(text)
    if broad or (months is not None and months > 12.5):
        reach = f"{months:.0f} months" if months else "an unlimited period"
        where = "a very wide area" if broad else "an undefined area"
        return Verdict(HIGH, 0.9, f"It runs for {reach} over {where}.")
    if months is None:
        return Verdict(HIGH, 0.75, "No time limit is stated.")
    if _NARROW_AREA.search(text) or _COMPENSATED.search(text):
        return None
    return Verdict(MEDIUM, 0.7, f"It runs for {months:.0f} months with no stated compensation.")


def exclusivity(text: str) -> Verdict:
    months, broad = _reach(text)
    if broad or (months is not None and months > 12.5):
        return Verdict(HIGH, 0.85, "The restriction outlasts the contract or covers a wide area.")
    return Verdict(MEDIUM, 0.8, "")


def commercial_non_compete(text: str) -> Verdict | None:
    return exclusivity(text) if _WORK_VERBS.search(text) else None


_PAYMENT_DURATION = rx(rf"\b({NUMBER})[- ]?(?:calendar |business |working )?(day|week|month)s?\b")
_BEFORE_DURATION = rx(
    r"\b(?:within|net|later than|after|in|at|of|approximately|about|around|roughly)\W+(?:\w+\W+){0,1}?\Z"
)
_AFTER_DURATION = rx(r"\A\W*(?:after|from|following|of|upon|net|end)\b")
_NET = rx(r"\bnet ?(\d{2,3})\b")


def payment_period(text: str) -> Verdict | None:
    days = [float(match.group(1)) for match in _NET.finditer(text)]
    for match in _PAYMENT_DURATION.finditer(text):
        before = text[max(0, match.start() - 30) : match.start()]
        after = text[match.end() : match.end() + 20]
        value = number(match.group(1))
        if value is not None and (_BEFORE_DURATION.search(before) or _AFTER_DURATION.search(after)):
            days.append(value * _UNIT_DAYS[match.group(2)])
    if not days or max(days) <= 60:
        return None
    longest = max(days)
    return Verdict(
        MEDIUM, 0.9 if longest >= 90 else 0.8, f"Payment falls due only after {longest:.0f} days."
    )


_MONTHLY = rx(r"\A\W*(?:\w+\W+){0,2}?(?:per|a|each|every) (?:calendar )?month|\A\W*monthly")
_YEARLY = rx(
    r"\A\W*(?:\w+\W+){0,2}?(?:per annum|p\.? ?a\b|(?:per|a|each) year)|\A\W*(?:annual|yearly)"
)
_MARGIN = rx(r"\A\W*(?:\w+\W+){0,4}?(?:above|over|plus)\b")
_FLAT_FEE = rx(r"\b(?:late|overdue|administration|collection|default)~1~(?:fee|charge)|\bsurcharge")
_MAX_LAWFUL = rx(r"\b(?:maximum|highest)~2~(?:rate|amount)~2~(?:permitted|allowed)")


def late_charges(text: str) -> Verdict | None:
    for value, end in percentages(text):
        after = text[end : end + 40]
        if _MONTHLY.search(after):
            if value > 1:
                return Verdict(MEDIUM, 0.85, f"{value:g}% a month is about {value * 12:g}% a year.")
        elif _YEARLY.search(after):
            limit = 8 if _MARGIN.search(after) else 12
            if value > limit:
                return Verdict(MEDIUM, 0.8, f"Late interest of {value:g}% a year is high.")
        elif _FLAT_FEE.search(text) and value >= 5:
            return Verdict(MEDIUM, 0.8, f"A flat late charge of {value:g}% applies.")
    if _MAX_LAWFUL.search(text):
        return Verdict(MEDIUM, 0.7, "Interest runs at the maximum rate the law allows.")
    return None


_CAPPED = rx(
    r"\bcap(?:ped)?\b|\bnot (?:to )?exceed|\bmaximum\b|\bup to (?:a|an) (?:aggregate|total|maximum)"
    r"|\bin (?:the )?aggregate\b|\blimited to\b"
)
_UNCAPPED = rx(r"\bwithout (?:any )?(?:limit|cap)|\buncapped|\bunlimited|\bno (?:cap|limit)\b")
_PRE_ESTIMATE = rx(r"\bgenuine (?:pre-?estimate|estimate)")


def penalty(text: str) -> Verdict:
    if _UNCAPPED.search(text):
        return Verdict(HIGH, 0.9, "The amount has no ceiling.")
    if _CAPPED.search(text):
        return Verdict(LOW, 0.65, "The amount is capped, which limits the exposure.")
    if _PRE_ESTIMATE.search(text):
        return Verdict(MEDIUM, 0.7, "")
    return Verdict(HIGH, 0.8, "")


_EXPRESS_WARRANTIES_KEPT = rx(
    r"\bexcept (?:as|for|to the extent)|\bsave (?:as|for)|\bother than (?:as |the )?(?:expressly"
    r"|express)"
    r"|\bsubject to (?:clause|section)|\b(?:in|under) (?:clause|section) \d"
)


def disclaimer(text: str) -> Verdict:
    if _EXPRESS_WARRANTIES_KEPT.search(text):
        return Verdict(LOW, 0.65, "Express warranties elsewhere in the contract still apply.")
    return Verdict(MEDIUM, 0.85, "")


def unbounded_term(text: str) -> Verdict | None:
    """Perpetual wording next to an explicit number of years is usually a trade-secret carve-out."""
    if any(days >= 365 for days in durations_in_days(text)):
        return None
    return Verdict(MEDIUM, 0.85, "")


_AT_DISCRETION = rx(
    r"\bmay(?:\W+(?:but|at|in|if)\b[\w ]{0,30}?\W+)? (?:notify|inform|tell|report|alert)"
    r"|\bat (?:its|our|their) (?:sole |absolute )?discretion|\bnot (?:be )?(?:obliged|required"
    r"|obligated)"
    r"|\bunder no obligation|\b(?:if|where|when) (?:we|it|they) (?:deem|consider|determine|believe)"
)
_VAGUE_TIMING = rx(
    r"\bwithout undue delay|\bpromptly|\bas soon as (?:reasonably )?(?:practicable|possible"
    r"|feasible)"
    r"|\bin a timely|\breasonable (?:time|period)|\bexpeditiously|\bin due course"
)
_FAST = rx(r"\bimmediately|\bforthwith")


def breach_notice(text: str) -> Verdict | None:
    hours = durations_in_hours(text)
    if hours and min(hours) <= 72:
        return None
    if _AT_DISCRETION.search(text):
        return Verdict(HIGH, 0.85, "Notification is left to the other party's discretion.")
    if hours:
        return Verdict(
            HIGH, 0.85, f"Notice is due only after {min(hours) / 24:.0f} days, beyond 72 hours."
        )
    if _FAST.search(text):
        return None
    if _VAGUE_TIMING.search(text):
        return Verdict(MEDIUM, 0.75, "No deadline in hours is defined.")
    return Verdict(MEDIUM, 0.6, "No deadline for the notification is stated.")


_BROAD_DESTINATION = rx(
    r"\bany (?:third )?(?:country|countries|jurisdiction|location)|\banywhere\b|\bworldwide"
    r"|\bat (?:its|our) (?:sole )?discretion|\bwithout (?:any )?(?:restriction|limitation"
    r"|safeguard)"
    r"|\bother countries|\bmay not (?:have|provide|offer)~4~(?:equivalent|adequate|same|similar)"
)


def transfer(text: str) -> Verdict:
    if _BROAD_DESTINATION.search(text):
        return Verdict(HIGH, 0.85, "Data can go to any country.")
    return Verdict(MEDIUM, 0.75, "")


_LAWFUL_KEEPING = rx(
    r"\b(?:required|necessary|obliged|obligated|mandated)~3~(?:by|under|to comply with)~4~(?:law"
    r"|regulation"
    r"|legal)|\blegal (?:obligation|requirement|hold)|\bstatutory|\bunless~5~law~2~requires"
)
_DELETED = rx(r"\b(?:delet|eras|destroy|anonymi[sz]|purg)\w*")
_NOT_DELETED = rx(r"\bnot~2~(?:delet|eras|destroy|anonymi[sz]|purg)")
_OWN_USE = rx(
    r"\bown~1~purposes|\bany purpose|\barchiv|\banalytic|\bproduct (?:improvement|development)"
    r"|\bmarketing|\btrain"
)


def retention_after_end(text: str) -> Verdict | None:
    if _LAWFUL_KEEPING.search(text) or (_DELETED.search(text) and not _NOT_DELETED.search(text)):
        return None
    if _OWN_USE.search(text):
        return Verdict(HIGH, 0.85, "Data is kept after the relationship ends for its holder's use.")
    return Verdict(MEDIUM, 0.65, "Data may be kept after the relationship ends.")


_NOT_FOR_CHILDREN = rx(
    r"\bnot~3~(?:directed|intended|designed|aimed|targeted|meant)|\bnot knowingly"
    r"|\bdo(?:es)? not~2~collect|\b(?:will|shall) (?:promptly )?(?:delete|erase)"
    r"|\bmust be (?:at least|over|older than) 1[3-8]|\bmay not (?:use|register|create|sign up)"
    r"|\bprohibited|\bnot (?:permitted|allowed|eligible)|\bparents? (?:can|may) (?:review|delete"
    r"|access)"
)
_NO_AGE_CHECK = rx(r"\b(?:do|does) not (?:verify|check|confirm)|\bno age (?:verification|check)")
_PARENTAL = rx(
    r"\bparent\w*'?~2~(?:consent|permission|approval|authori[sz]ation)"
    r"|\b(?:consent|permission|approval)~3~(?:parent|guardian)"
)
_TARGETS_CHILDREN = rx(
    r"\b(?:designed|directed|intended|aimed|made|built)~2~(?:for|at|to)~2~(?:children|kids|minors"
    r"|pupils|teen\w*|students)|\bunder 1[0-8] may\b|\bfor children\b|\bchildren aged|\bkids\b"
)

_TEENS = rx(r"\bminors?\b|\bteen\w*|\b1[3-6] (?:to|and|-) 1[5-7]\b|\baged 1[3-7]\b")
_YOUNG_CHILDREN = rx(
    r"\bchild|\bkids\b|\bunder (?:the age of )?1[0-2]\b|\bpupils?\b|\bprimary school"
)


def children(text: str) -> Verdict | None:
    if _NO_AGE_CHECK.search(text):
        return Verdict(MEDIUM, 0.8, "Nothing stops children's data being collected.")
    if _NOT_FOR_CHILDREN.search(text):
        return None
    if _PARENTAL.search(text):
        return Verdict(MEDIUM, 0.7, "Parental consent is mentioned; check how it is verified.")
    if _TARGETS_CHILDREN.search(text):
        return Verdict(HIGH, 0.85, "The service targets children.")
    if _TEENS.search(text) and not _YOUNG_CHILDREN.search(text):
        return Verdict(MEDIUM, 0.7, "Teenagers' data needs age-appropriate safeguards.")
    return Verdict(HIGH, 0.75, "")


_NOT_REPAYABLE = rx(
    r"\bnot (?:be )?(?:subject to|required to|liable to|liable for)~2~(?:repay|repayment|clawback"
    r"|claw-back|recovery|forfeit)|\bwill not be (?:recovered|clawed|recouped)"
    r"|\bno (?:obligation to )?(?:repay|repayment|clawback)"
)
_TAPERED = rx(r"\bpro[- ]?rata|\bsliding scale|\breduc\w*~4~(?:for each|per|every)|\btaper")
_HARSH = rx(
    r"\birrespective|\bregardless|\bdiscretion|\b(?:vested|accrued|earned)\b|\b(?:previous"
    r"|last)~1~years?"
    r"|\b(?:final|last) (?:salary|pay|wages|paycheck)|\bany~2~costs|\b(?:it|the company|we"
    r"|the employer)"
    r" (?:considers?|deems?|determines?|believes?)"
)


def clawback(text: str) -> Verdict | None:
    if _NOT_REPAYABLE.search(text):
        return None
    if _TAPERED.search(text):
        return Verdict(LOW, 0.65, "The amount tapers over time.")
    if _HARSH.search(text):
        return Verdict(HIGH, 0.85, "")
    return Verdict(MEDIUM, 0.75, "")


_UNPAID_EVERYTHING = rx(
    r"\bwhether in (?:pay|money|cash) or time off|\bin any form\b|\bor time off\b"
)


def overtime(text: str) -> Verdict:
    if _UNPAID_EVERYTHING.search(text):
        return Verdict(HIGH, 0.9, "Neither pay nor time off is given for extra hours.")
    return Verdict(MEDIUM, 0.85, "")
