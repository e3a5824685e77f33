"""Which published `Category` each catalogue rule's findings carry.

Rule ids are internal (the evaluation set uses them); the category is the contract. A rule id
that is itself a category slug needs no entry here; an unmapped id is `other`.
"""

from app.schemas import Category

RULE_CATEGORIES: dict[str, Category] = {
    "auto_renewal": Category.AUTO_RENEWAL,
    "unilateral_change": Category.UNILATERAL_CHANGE,
    "exclusivity_non_compete": Category.EXCLUSIVITY,
    "commercial_non_compete": Category.NON_COMPETE,
    "ip_assignment_all": Category.IP_ASSIGNMENT,
    "confidentiality_unbounded": Category.CONFIDENTIALITY,
    "assignment_without_consent": Category.ASSIGNMENT_WITHOUT_CONSENT,
    "unrestricted_audit": Category.AUDIT_RIGHTS,
    "foreign_jurisdiction": Category.JURISDICTION,
    "jury_class_waiver": Category.JURY_CLASS_WAIVER,
    "broad_non_compete": Category.NON_COMPETE,
    "unpaid_overtime": Category.UNPAID_OVERTIME,
    "clawback": Category.CLAWBACK,
    "uncapped_liability": Category.UNCAPPED_LIABILITY,
    "broad_indemnification": Category.INDEMNITY,
    "liquidated_damages": Category.LIQUIDATED_DAMAGES,
    "long_payment_terms": Category.PAYMENT_TERMS,
    "warranty_disclaimer": Category.WARRANTY_DISCLAIMER,
    "unsafe_international_transfer": Category.INTERNATIONAL_TRANSFER,
    "indefinite_retention": Category.DATA_RETENTION,
    "subprocessor_without_notice": Category.SUBPROCESSORS,
    "late_breach_notification": Category.BREACH_NOTIFICATION,
    "sale_or_sharing_of_data": Category.DATA_SALE_OR_SHARING,
    "childrens_data": Category.CHILDRENS_DATA,
    "missing_data_subject_rights": Category.DATA_SUBJECT_RIGHTS,
    "no_legal_basis": Category.LEGAL_BASIS,
}


def category_of(rule_id: str) -> Category:
    mapped = RULE_CATEGORIES.get(rule_id)
    if mapped is not None:
        return mapped
    try:
        return Category(rule_id)
    except ValueError:
        return Category.OTHER
