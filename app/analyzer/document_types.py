"""Document-type labels as clients send them ("Privacy Policy", "privacy-policy") made canonical."""

import re

CONTRACT = "contract"
PRIVACY_POLICY = "privacy_policy"
DPA = "dpa"
EMPLOYMENT = "employment"
TERMS_OF_SERVICE = "terms_of_service"
GENERAL = "general"

KNOWN = frozenset({CONTRACT, PRIVACY_POLICY, DPA, EMPLOYMENT, TERMS_OF_SERVICE})

_ALIASES = {
    "agreement": CONTRACT,
    "msa": CONTRACT,
    "master_services_agreement": CONTRACT,
    "services_agreement": CONTRACT,
    "privacy": PRIVACY_POLICY,
    "privacy_notice": PRIVACY_POLICY,
    "privacy_statement": PRIVACY_POLICY,
    "data_processing_agreement": DPA,
    "data_processing_addendum": DPA,
    "employment_contract": EMPLOYMENT,
    "employment_agreement": EMPLOYMENT,
    "tos": TERMS_OF_SERVICE,
    "terms": TERMS_OF_SERVICE,
    "terms_of_use": TERMS_OF_SERVICE,
    "terms_and_conditions": TERMS_OF_SERVICE,
    "terms_conditions": TERMS_OF_SERVICE,
}

LABELS = {
    CONTRACT: "contract",
    PRIVACY_POLICY: "privacy policy",
    DPA: "data processing agreement",
    EMPLOYMENT: "employment contract",
    TERMS_OF_SERVICE: "terms of service",
    GENERAL: "document",
}

_SEPARATORS = re.compile(r"[\s\-_/&]+")


def normalise_document_type(label: str) -> str:
    """A known type, or GENERAL: unknown labels get the whole catalogue rather than an error."""
    key = _SEPARATORS.sub("_", label.strip().lower()).strip("_")
    if key in KNOWN:
        return key
    return _ALIASES.get(key, GENERAL)
