"""Who controls the relationship: renewal, termination and amendment, exclusivity, IP,
confidentiality, assignment, audits and the forum for disputes.

Patterns run on folded, whitespace-squashed sentences; `~N~` is a gap of up to N words
(see `rules.rx`).
"""

from app.analyzer import judges
from app.analyzer.contract_kinds import KINDS
from app.analyzer.document_types import (
    CONTRACT,
    DPA,
    EMPLOYMENT,
    PRIVACY_POLICY,
    TERMS_OF_SERVICE,
)
from app.analyzer.rules import Judge, Rule, Verdict, blockers, signal, terms
from app.schemas import RiskLevel

HIGH, MEDIUM, LOW = RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW


_COMMERCIAL = frozenset({CONTRACT, TERMS_OF_SERVICE})

# The analysing organisation is usually the customer side: its own powers are not a risk.
_NOT_OUR_SIDE = (
    r"(?<!you )(?<!customer )(?<!client )(?<!licensee )(?<!user )(?<!subscriber )(?<!employee )"
    r"(?<!controller )(?<!buyer )(?<!purchaser )(?<!member )"
)

_POWER = (
    rf"\b{_NOT_OUR_SIDE}(?:may|can|might|shall be (?:entitled|free) to|is (?:entitled|free) to"
    r"|reserves? the right to|(?:has|have|retains?) the right to)(?! not\b)"
)

_PRIOR_IP = (
    r"(?:(?:pre-?existing|background|prior|existing|previously (?:created|developed|owned))~1~"
    r"(?:ip|intellectual|materials?|know|tools?|inventions?|technolog|rights?|works?|code"
    r"|software|libraries|methodolog)"
    r"|(?:created|developed|made|owned|existing|existed|conceived|written|acquired)~3~"
    r"(?:before|prior to) (?:the )?(?:effective date|commencement|start|this agreement"
    r"|signature|the engagement|employment|entering)"
    r"|\b(?:before|prior to) or (?:during|after)\b"
    r"|\bwhenever (?:created|made|written|developed|conceived)|\bearlier (?:drafts|versions|works))"
)

_OWNERSHIP_PASSES = (
    r"\b(?:assign|vest|transfer|pass(?:es)? to|belong|become~2~property|property of"
    r"|owned (?:exclusively )?by"
    r"|title to)"
)

_FORUM = r"(?:courts?|jurisdiction|venue|forum|tribunal)"

_EXCLUSIVE_FORUM = (
    rf"(?:\bexclusive\w*~4~{_FORUM}|\b{_FORUM}\b~6~exclusive\w*|\barbitra\w+~8~(?:seated|seat|place"
    r"|venue|held"
    r"|conducted|take place)~3~in\b|\b(?:brought|resolved|heard|litigated|commenced|filed"
    r"|adjudicated|determined"
    r"|decided|settled|submitted)~2~(?:only|solely|exclusively) (?:in|before|by|to)\b|\b(?:only"
    r"|solely|exclusively)"
    r" (?:be )?(?:brought|resolved|heard|litigated|commenced|filed|adjudicated|determined|decided"
    r"|settled|submitted)"
    rf" (?:in|before|by|to)\b|\bsole (?:and exclusive )?{_FORUM}|\bsubmit\w*~2~(?:only|solely"
    r"|exclusively) to)"
)

_DISTANT_FORUM = (
    r"\b(?:delaware|new york|california|texas|nevada|florida|illinois|massachusetts|washington"
    r"|santa clara"
    r"|singapore|hong kong|cayman|british virgin|bvi|bermuda|jersey|guernsey|isle of man|dubai|difc"
    r"|cyprus|panama|china|shanghai|beijing|india|russia|united states|usa|u\.s\.|ontario|japan)"
)

AUTO_RENEWAL = Rule(
    id="auto_renewal",
    title="automatic renewal",
    risk=MEDIUM,
    explanation=(
        "The contract renews automatically unless cancelled in time; a missing, very early or "
        "narrow notice window makes it easy to be locked into another term. Ask for renewal "
        "reminders, a short notice period (30 days) and the right to cancel at any time after "
        "renewal."
    ),
    document_types=_COMMERCIAL,
    gates=terms("renew|extend|extension|evergreen|roll|prolong|automatic|tacit"),
    signals=(
        signal(
            r"\b(?:automatic\w*|tacit\w*|auto)[- ]?(?:\w+\W+){0,2}?(?:renew|extend|extension"
            r"|prolong|roll|continu)"
            r"|\b(?:renew\w*|extend\w*|extension|prolong\w*|roll\w* over|continu\w*)~3~(?:automatic"
            r"|tacit)\w*"
            r"|\bevergreen\b|\b(?:renew\w*|extended|roll\w* over)~3~for (?:a |an )?(?:successive"
            r"|consecutive"
            r"|further|additional|subsequent|another)\b|\b(?:convert|upgrade|charg"
            r"|bill)\w*~2~automatic\w*"
            r"|\bautomatic\w*~2~(?:convert|upgrade|charg|bill)|\bcontinue~2~for (?:successive"
            r"|consecutive)\b|\brenew(?:s|ed)? (?:each|every) "
            r"(?:year|month|term|period)",
            0.8,
            judge=judges.renewal,
        ),
    ),
    blockers=blockers(
        r"\bby mutual|\bif (?:both|the) parties (?:so )?agree|\bupon (?:mutual|written) agreement"
        r"|\bboth parties"
        r"|\boption to (?:renew|extend)|\bat the (?:\w+'s )?(?:option|request)\b|\b(?:will|shall"
        r"|does) not "
        r"(?:automatically )?(?:renew|extend)|\bunless renewed"
    ),
)

UNILATERAL_CHANGE = Rule(
    id="unilateral_change",
    title="unilateral termination or amendment",
    risk=HIGH,
    explanation=(
        "The other party can terminate, suspend or change the terms on its own, without cause or "
        "your agreement. Require mutual written amendments, termination only for cause or on "
        "reasonable notice (at least 30-90 days), and a right to exit with a refund if terms "
        "change."
    ),
    document_types=frozenset({CONTRACT, DPA, TERMS_OF_SERVICE, EMPLOYMENT, PRIVACY_POLICY}),
    gates=terms(
        "terminat|suspend|discontinu|cancel|withdraw|modif|amend|chang|vary|varies|revis|updat|"
        "alter|adjust|increase|raise|continue|continued| end |close|deactivat|disable|revoke"
    ),
    requires=terms("may|can|might|entitled|reserve|right to|free to|continu"),
    signals=(
        signal(
            rf"{_POWER}~8~(?:terminat|suspend|discontinu|cancel|withdraw|end|close|deactivat"
            r"|disable|block|revoke"
            r"|remove|restrict|interrupt)\w*",
            0.8,
            judge=judges.termination,
        ),
        signal(
            rf"{_POWER}~8~(?:modif|amend|chang|vary|varies|revis|update|replace|alter|adjust"
            r"|increase|raise)\w*",
            0.75,
            judge=judges.amendment,
        ),
        signal(
            r"\bcontinu\w* (?:to )?(?:use|access)~12~(?:constitutes?|deemed|signif\w*|means?"
            r"|indicates?"
            r"|(?:will|shall) be (?:treated|taken) as)~3~(?:accept|agree|consent)",
            0.85,
        ),
    ),
    blockers=blockers(
        r"\b(?:either|each|both|neither|any) part(?:y|ies)\b|\bmutual(?:ly)?\b"
        r"|\bby (?:written )?agreement of|\bthe parties (?:may|can|shall|will)\b|\ba party may\b"
        r"|\baddress(?:es)? (?:for|to which)|\bchange~2~address"
        r"|\bwithdraw\w*~2~consent|\bconsent~4~withdraw"
    ),
)

EXCLUSIVITY_NON_COMPETE = Rule(
    id="exclusivity_non_compete",
    title="exclusivity or non-compete",
    risk=MEDIUM,
    explanation=(
        "You are tied to one supplier or barred from competing business, which limits your "
        "options and bargaining power. Limit it in scope, territory and time (ideally no longer "
        "than the contract), and link it to volume commitments or pricing in return."
    ),
    document_types=_COMMERCIAL,
    gates=terms("exclusiv|compet|sole|only|rival|supplier|provider|vendor|distributor|source"),
    requires=terms("exclusiv|sole|only|compet|rival|not|neither|nor |refrain|prohibit|restrict"),
    signals=(
        signal(
            r"\bexclusive (?:supplier|provider|vendor|distributor|reseller|partner|agent|basis"
            r"|purchas\w*"
            r"|supply|dealing|arrangement|relationship|rights? to (?:supply|sell|distribute"
            r"|provide))"
            r"|\bsole (?:and exclusive )?(?:supplier|source|provider|vendor)"
            r"|\b(?:purchas|buy|sourc|procur|obtain|order|acquir)\w*~10~(?:solely|only"
            r"|exclusively) (?:from|through"
            r"|via|with)\b|\bexclusively (?:from|with|through)\b",
            0.8,
            judge=judges.exclusivity,
        ),
        signal(
            r"\bnot~8~(?:enter into|engage|contract|deal|purchase|procure|source|obtain|buy"
            r"|use)~8~(?:another|other"
            r"|alternative|third[- ]party|competing)~1~(?:supplier|provider|vendor|distributor"
            r"|source)s?\b",
            0.8,
            judge=judges.exclusivity,
        ),
    ),
    blockers=blockers(
        r"\bnon-?exclusive|\bnothing in (?:this|these)~3~(?:prevent|restrict|limit|preclude)"
        r"|\bfree to~6~compet|\bcourts?\b|\bjurisdiction|\barbitra|\bgoverning law|\bgoverned by",
    ),
)

COMMERCIAL_NON_COMPETE = Rule(
    id="commercial_non_compete",
    title="non-compete",
    risk=MEDIUM,
    explanation=(
        "You are tied to one supplier or barred from competing business, which limits your "
        "options and bargaining power. Limit it in scope, territory and time (ideally no longer "
        "than the contract), and link it to volume commitments or pricing in return."
    ),
    document_types=_COMMERCIAL,
    gates=terms("exclusiv|compet|sole|only|rival|supplier|provider|vendor|distributor|source"),
    requires=terms("exclusiv|sole|only|compet|rival|not|neither|nor |refrain|prohibit|restrict"),
    signals=(
        signal(
            r"\bnon-?compet\w*|\b(?:not|never|neither|nor|refrain\w*|prohibited"
            r"|restricted)\b~20~(?:compet\w*|rival\w*)\b",
            0.8,
            judge=judges.commercial_non_compete,
        ),
    ),
    blockers=blockers(
        r"\bnon-?exclusive|\bnothing in (?:this|these)~3~(?:prevent|restrict|limit|preclude)"
        r"|\bfree to~6~compet|\bcourts?\b|\bjurisdiction|\barbitra|\bgoverning law|\bgoverned by",
    ),
)

IP_ASSIGNMENT_ALL = Rule(
    id="ip_assignment_all",
    title="assignment of all intellectual property",
    risk=HIGH,
    explanation=(
        "The clause takes more intellectual property than the work paid for: pre-existing IP, "
        "work done outside the engagement, or an unlimited licence to your content. Limit the "
        "assignment to bespoke deliverables, keep background IP with a licence to use it, and "
        "narrow any licence to what is needed to provide the service."
    ),
    document_types=frozenset({CONTRACT, EMPLOYMENT, TERMS_OF_SERVICE}),
    gates=terms(
        "assign|transfer|copyright|pass|vest|intellectual|moral right|licen|invention|owner|"
        "belong|property|title"
    ),
    signals=(
        signal(rf"\A(?=.*{_OWNERSHIP_PASSES})(?=.*\b{_PRIOR_IP})", 0.9),
        signal(
            rf"\A(?=.*{_OWNERSHIP_PASSES})(?=.*(?:\bwhether or not~4~(?:during|in the course|within"
            r"|using|outside"
            r"|related|connected)|\b(?:during|inside|within|in) or outside"
            r"|\boutside (?:of )?(?:normal |regular "
            r"|usual )?(?:working|business|office) hours|\bat any time (?:during|while)~3~(?:employ"
            r"|engage)"
            r"|\bwhether (?:created|made|conceived|developed)~3~(?:before|prior)))",
            0.85,
        ),
        signal(r"\bwaive\w*~4~moral rights|\bmoral rights~6~waived", 0.8, MEDIUM),
        signal(
            r"\A(?=.*\b(?:you|customer|client|user"
            r"|licensee)s? (?:hereby )?grants?)(?=.*\b(?:perpetual|irrevocable))"
            r"(?=.*\blicen[cs]e)(?=.*(?:any purpose|commerciali[sz]|sub-?licens|for (?:our"
            r"|its) (?:own )?"
            r"(?:business|commercial)))",
            0.75,
            MEDIUM,
        ),
    ),
    blockers=blockers(
        r"\b(?:excluding|except|other than|save for|does not include|shall not include"
        rf"|not include)~4~{_PRIOR_IP}"
        rf"|\b{_PRIOR_IP}~6~(?:remains?|retain|continues? to (?:be owned|belong)|is retained)"
        rf"|\bretains?~6~(?:ownership|title|rights?|intellectual property)~4~{_PRIOR_IP}"
        r"|\bremains? (?:the )?(?:\w+'s )?(?:sole |exclusive )?property|\bremains? (?:with"
        r"|owned by)"
        r"|\bshall retain (?:all )?(?:\w+ )?(?:ownership|intellectual property|rights|title)",
    ),
)

CONFIDENTIALITY_UNBOUNDED = Rule(
    id="confidentiality_unbounded",
    title="confidentiality without limits",
    risk=MEDIUM,
    explanation=(
        "The confidentiality duty has no end date or no standard exceptions, so it can be "
        "breached by disclosing public or independently known information. Ask for a fixed term "
        "(typically 2-5 years, trade secrets while secret) and the usual carve-outs: public, "
        "already known, independently developed, or required by law."
    ),
    document_types=frozenset({CONTRACT, EMPLOYMENT, DPA}),
    gates=terms("confiden|disclos|secre"),
    requires=terms(
        "includ|even|whether|regardless|irrespective|perpetu|indefinite|ever|all time|without|"
        "no |at any time|during|continu|surviv|under no"
    ),
    signals=(
        signal(
            r"\b(?:includ\w*|even(?: if| where| when| though)?|whether or not|regardless of whether"
            r"|irrespective of "
            r"whether)~5~(?:public\w*|in the public domain|already known|known to|previously known"
            r"|independently "
            r"developed|generally available|general knowledge)",
            0.85,
            HIGH,
        ),
        signal(
            r"\A(?=.*(?:confiden|disclos|secre))(?=.*(?:in perpetuity|\bperpetual\w*"
            r"|\bindefinite\w*|\bfor ?ever\b"
            r"|\bfor all time|\bwithout (?:any )?(?:limit|limitation|end"
            r"|restriction)(?:\W+\w+){0,2}?\W+(?:time|duration)"
            r"|\bwithout (?:any )?time limit|\bno (?:time limit|expiry|end date)|\b(?:unlimited"
            r"|indefinite) (?:period"
            r"|duration|time)|\bat any time (?:during or )?after|\b(?:during or after"
            r"|during and after)~3~(?:term"
            r"|termination|employment|engagement|agreement|relationship)|\b(?:continue"
            r"|survive)\w*~6~(?:indefinitely"
            r"|without limit|forever)))",
            0.85,
            judge=judges.unbounded_term,
        ),
        signal(
            r"\bno exceptions?\b|\bwithout (?:any )?exception|\bunder no circumstances~4~disclos"
            r"|\b(?:shall|will|must) never disclose",
            0.8,
        ),
    ),
    blockers=blockers(
        r"\b(?:does not|shall not|will not) (?:include|apply|extend)|\bexcept (?:for|to|that|where"
        r"|as|information)"
        r"|\bsave (?:that|for|to the extent|as)|\bother than information|\bexcluding information"
        r"|\brequired (?:to be disclosed )?by (?:law|a court|any court|regulat)"
        r"|\bunless required by"
        r"|\bas long as~4~(?:remains?|qualif)"
    ),
)

ASSIGNMENT_WITHOUT_CONSENT = Rule(
    id="assignment_without_consent",
    title="assignment without consent",
    risk=MEDIUM,
    explanation=(
        "The other party can transfer the contract to anyone, including a competitor or a weaker "
        "entity, without asking you. Require prior written consent (not unreasonably withheld), "
        "with only affiliate or merger transfers allowed on notice."
    ),
    document_types=frozenset({CONTRACT, DPA, TERMS_OF_SERVICE}),
    gates=terms("assign|transfer|novat"),
    requires=terms("may|can|might|entitled|reserve|right to|free|consent|approval"),
    signals=(
        signal(
            rf"{_POWER}~4~(?:freely )?(?:assign|transfer|novate"
            r"|sub-?contract)\w*~16~without~4~(?:consent|approval|notice"
            r"|notif\w*|permission|agreement|authori[sz]ation|informing|agreeing)",
            0.85,
        ),
        signal(
            rf"{_POWER}~4~(?:freely )?(?:assign|transfer|novate)\w*~12~(?:(?:sole|absolute"
            r"|own) discretion|to any "
            r"(?:person|entity|third part\w*|one|party|organi[sz]ation|company)"
            r"|with or without~2~(?:notice|consent))",
            0.8,
        ),
        signal(
            r"\b(?:freely|be free to|is free to) (?:assign|transfer|novate)"
            r"|\bconsents? (?:in advance|hereby|now) to "
            r"(?:any|such|the)~2~(?:assignment|transfer|novation)|\bhereby consents in advance"
            r"|\b(?:consent|approval) (?:of|from)~3~(?:is|shall"
            r"|will) not (?:be )?required~6~(?:assign|transfer)",
            0.8,
        ),
    ),
    blockers=blockers(
        r"\bneither party\b|\b(?:either|each) party may~4~(?:assign|transfer)~12~(?:affiliate"
        r"|successor|merger"
        r"|acquisition|reorgani[sz]ation|sale of)|\b(?:personal|customer|user) data\b"
    ),
)

UNRESTRICTED_AUDIT = Rule(
    id="unrestricted_audit",
    title="unrestricted audit rights",
    risk=MEDIUM,
    explanation=(
        "Audits can happen at any time, without notice or frequency limits, or at your expense, "
        "which is disruptive and costly. Limit them to once a year, on 30 days' written notice, "
        "during business hours, under confidentiality and at the auditor's cost unless a material "
        "breach is found."
    ),
    document_types=frozenset({CONTRACT, DPA}),
    gates=terms("audit|inspect"),
    signals=(
        signal(
            r"\A(?=.*\b(?:audit|inspect)\w*)(?=.*(?:\bat any time|\bwithout (?:any )?(?:prior "
            r"|advance )?notice"
            r"|\bunannounced|\bon demand|\bas (?:often|frequently) as|\bany number of"
            r"|\bunlimited (?:number|audits)"
            r"|(?:sole|absolute) discretion|\bat (?:its|their) discretion|\b(?:on|with) no notice"
            r"|\bwhenever"
            r"|\bat will\b))",
            0.85,
        ),
        signal(
            r"\A(?=.*\b(?:audit|inspect)\w*)(?=.*(?:\b(?:shall|will|must) (?:bear|pay|reimburse"
            r"|meet)~3~(?:costs?"
            r"|expenses?|fees?)|\b(?:costs?|expenses?|fees?)~6~(?:borne|paid|reimbursed|payable"
            r"|met) by (?:the )?"
            r"(?:supplier|processor|licensee|vendor|provider|distributor|audited|contractor"
            r"|reseller)))",
            0.75,
        ),
    ),
    blockers=blockers(
        r"\b(?:once|no more than once|not more than once|one audit) (?:per|a|in any|each"
        r"|every) (?:calendar )?"
        r"(?:year|twelve|12)|\breasonable (?:prior |advance )?(?:written )?notice"
        r"|\b\d+ (?:\(\d+\) )?"
        r"(?:business |working |calendar )?days'? (?:prior |advance )?(?:written )?notice"
        r"|\b(?:unless|if|where) (?:the|such|an) (?:audit|inspection) (?:reveals|discloses"
        r"|identifies|shows)",
    ),
    softeners=blockers(r"\bown (?:costs?|expenses?)"),
)

FOREIGN_JURISDICTION = Rule(
    id="foreign_jurisdiction",
    title="exclusive foreign jurisdiction",
    risk=MEDIUM,
    explanation=(
        "Disputes must be brought exclusively in a named forum, possibly abroad and under "
        "foreign law, which makes enforcing your rights slow and expensive. Check it against "
        "your home jurisdiction; negotiate your own courts, the defendant's courts or a neutral "
        "arbitration seat."
    ),
    document_types=frozenset({CONTRACT, DPA, TERMS_OF_SERVICE, EMPLOYMENT}),
    gates=terms("jurisdiction|court|venue|arbitra|forum|seat|tribunal"),
    signals=(
        signal(rf"\A(?=.*{_DISTANT_FORUM})(?=.*{_EXCLUSIVE_FORUM})", 0.85),
        signal(_EXCLUSIVE_FORUM, 0.7),
    ),
    blockers=blockers(
        r"\bnon-?exclusive|\b(?:where|in which) (?:you|the customer|the client|the consumer"
        r"|the employee"
        r"|the controller|the licensee|the defendant)~3~(?:live|resid|domicil|established|has its"
        r"|is located"
        r"|is registered)|\b(?:your|the customer's|the client's|the defendant's"
        r"|the employee's)~2~(?:domicile"
        r"|residence|home|local courts?)"
    ),
)

JURY_CLASS_WAIVER = Rule(
    id="jury_class_waiver",
    title="jury trial or class action waiver",
    risk=HIGH,
    explanation=(
        "You give up a jury trial or the right to join class or collective actions, which makes "
        "small claims uneconomic to pursue. Strike the waiver or make sure it is mutual and "
        "limited to what local law permits."
    ),
    document_types=frozenset({CONTRACT, TERMS_OF_SERVICE, EMPLOYMENT}),
    gates=terms("jury|class|collective|representative|individual"),
    signals=(
        signal(
            r"\bwaiv\w*~8~(?:trial by jury|jury trial|jury)\b|\b(?:trial by jury"
            r"|jury trial)~6~waived",
            0.9,
            MEDIUM,
        ),
        signal(
            r"\b(?:waiv\w*|not|no|never)~16~(?:class|collective|representative|consolidated"
            r"|mass) (?:action|proceeding"
            r"|arbitration|claim|lawsuit|suit)s?|\bclass action waiver|\b(?:class|collective"
            r"|representative) (?:action"
            r"|proceeding|arbitration|claim)s?~4~(?:not (?:be )?(?:permitted|allowed|available)"
            r"|prohibited|excluded"
            r"|waived)|\bindividual (?:arbitration|basis) only|\b(?:not|never) as a (?:plaintiff"
            r"|class member)",
            0.85,
        ),
        signal(
            r"\A(?=.*\b(?:claims?|disputes?|arbitrat\w*|proceedings?|actions?|lawsuits?"
            r"|suits?)\b)(?=.*\b(?:on an|in an"
            r"|in (?:your|its|their)) individual (?:basis|capacity))",
            0.8,
        ),
    ),
    blockers=blockers(
        r"\bnothing in (?:this|these)|\bdoes not (?:waive|affect|limit|restrict)"
        r"|\bshall not (?:be construed|affect)"
        r"|\b(?:retain|keep)s? (?:the|your|its|their) right"
    ),
)

_CONTRACT_ONLY = frozenset({CONTRACT})


def _graded(slug: str) -> Judge:
    def judge(text: str) -> Verdict:
        return KINDS[slug].grade(text)

    return judge


CHANGE_OF_CONTROL = Rule(
    id="change_of_control",
    title=KINDS["change_of_control"].title,
    risk=MEDIUM,
    explanation=KINDS["change_of_control"].explanation,
    document_types=_CONTRACT_ONLY,
    gates=terms("control|merger|acquisition|acquires|acquired|substantially all"),
    signals=(
        signal(
            r"\bchange~1~(?:of|in) (?:control|ownership)\b~20~(?:terminat|consent|approval|assign"
            r"|transfer|deemed|notif)|\b(?:terminat|consent|approval|assign|notif)\w*~20~change"
            r"~1~(?:of|in) (?:control|ownership)\b",
            0.75,
            judge=_graded("change_of_control"),
        ),
    ),
    blockers=blockers(r"\A\W*\"?[\w -]{1,40}\"? (?:means|shall mean|has the meaning)"),
)

COVENANT_NOT_TO_SUE = Rule(
    id="covenant_not_to_sue",
    title=KINDS["covenant_not_to_sue"].title,
    risk=MEDIUM,
    explanation=KINDS["covenant_not_to_sue"].explanation,
    document_types=_CONTRACT_ONLY,
    gates=terms("contest|challeng|attack|sue|dispute|claim"),
    requires=terms("not|never|neither|nor |waive|covenant"),
    signals=(
        signal(
            r"\b(?:not|never|neither|nor)~10~(?:contest|challenge|attack|dispute|oppose|impair)\w*"
            r"~8~(?:validity|ownership|title|rights?|trademarks?|marks|patents?|registration"
            r"|enforceability)|\bcovenants? not to (?:sue|bring|assert)|\bnot to sue\b",
            0.75,
            judge=_graded("covenant_not_to_sue"),
        ),
    ),
)

IP_OWNERSHIP_ASSIGNMENT = Rule(
    id="ip_assignment",
    title=KINDS["ip_assignment"].title,
    risk=MEDIUM,
    explanation=KINDS["ip_assignment"].explanation,
    document_types=_CONTRACT_ONLY,
    gates=terms("assign|property of|works made for hire|work made for hire|vest|owned by"),
    signals=(
        signal(
            r"\b(?:hereby|shall|will|agrees? to|does hereby) (?:irrevocably )?(?:assigns?|transfers?"
            r"|conveys?)~8~(?:all|any|its|their|entire)~3~(?:right,? title|title|ownership"
            r"|intellectual property|copyrights?|patents?|inventions?)"
            r"|\bworks? made for hire",
            0.7,
            judge=_graded("ip_assignment"),
        ),
    ),
    blockers=blockers(r"\bconfidential information"),
)

RULES = (
    AUTO_RENEWAL,
    UNILATERAL_CHANGE,
    EXCLUSIVITY_NON_COMPETE,
    COMMERCIAL_NON_COMPETE,
    CHANGE_OF_CONTROL,
    COVENANT_NOT_TO_SUE,
    IP_OWNERSHIP_ASSIGNMENT,
    IP_ASSIGNMENT_ALL,
    CONFIDENTIALITY_UNBOUNDED,
    ASSIGNMENT_WITHOUT_CONSENT,
    UNRESTRICTED_AUDIT,
    FOREIGN_JURISDICTION,
    JURY_CLASS_WAIVER,
)
