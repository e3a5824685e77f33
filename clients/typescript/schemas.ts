// Generated from app/schemas.py: do not edit by hand.
// Regenerate with `make generate-types` (scripts/export_schemas.py contract, then
// clients/typescript/generate.mjs with @hey-api/openapi-ts). CI fails when this file is stale.

import * as z from 'zod';

/**
 * AnalyseRequest
 */
export const AnalyseRequest = z.strictObject({
  content: z
    .string()
    .min(1)
    .max(500000)
    .regex(/^[^\x00]*[^\s\x00][^\x00]*$/),
  document_type: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_\- ]*$/)
    .optional()
    .default('contract'),
});

export type AnalyseRequest = z.infer<typeof AnalyseRequest>;

/**
 * AnalysisStatus
 */
export const AnalysisStatus = z.enum(['streaming', 'completed', 'failed', 'cancelled']);

export type AnalysisStatus = z.infer<typeof AnalysisStatus>;

/**
 * Category
 *
 * What kind of risk a finding is: one published taxonomy (the README gives each meaning).
 */
export const Category = z.enum([
  'limitation_of_liability',
  'unilateral_termination',
  'unilateral_change',
  'content_removal',
  'contract_by_using',
  'choice_of_law',
  'jurisdiction',
  'arbitration',
  'uncapped_liability',
  'liability_cap',
  'liquidated_damages',
  'non_compete',
  'exclusivity',
  'non_solicit',
  'auto_renewal',
  'ip_assignment',
  'audit_rights',
  'termination_for_convenience',
  'anti_assignment',
  'change_of_control',
  'most_favored_nation',
  'covenant_not_to_sue',
  'indemnity',
  'warranty_disclaimer',
  'payment_terms',
  'confidentiality',
  'assignment_without_consent',
  'jury_class_waiver',
  'clawback',
  'unpaid_overtime',
  'childrens_data',
  'data_retention',
  'breach_notification',
  'data_subject_rights',
  'legal_basis',
  'data_sale_or_sharing',
  'subprocessors',
  'international_transfer',
  'other',
]);

export type Category = z.infer<typeof Category>;

/**
 * ErrorDetail
 */
export const ErrorDetail = z.object({
  loc: z.array(z.union([z.string(), z.int()])),
  msg: z.string(),
  type: z.string(),
});

export type ErrorDetail = z.infer<typeof ErrorDetail>;

/**
 * ErrorInfo
 */
export const ErrorInfo = z.object({
  code: z.string(),
  message: z.string(),
  request_id: z.string().nullish().default(null),
  retryable: z.boolean().optional().default(false),
  details: z.array(ErrorDetail).nullish().default(null),
});

export type ErrorInfo = z.infer<typeof ErrorInfo>;

/**
 * ErrorBody
 */
export const ErrorBody = z.object({
  error: ErrorInfo,
});

export type ErrorBody = z.infer<typeof ErrorBody>;

/**
 * RiskLevel
 */
export const RiskLevel = z.enum(['low', 'medium', 'high']);

export type RiskLevel = z.infer<typeof RiskLevel>;

/**
 * Finding
 */
export const Finding = z.object({
  clause: z.string(),
  risk: RiskLevel,
  category: Category.optional().default('other'),
  explanation: z.string(),
  confidence: z.number().gte(0).lte(1),
});

export type Finding = z.infer<typeof Finding>;

/**
 * AnalyseResponse
 */
export const AnalyseResponse = z.object({
  findings: z.array(Finding),
  summary: z.string(),
  processed_at: z.iso.datetime({ offset: true }),
});

export type AnalyseResponse = z.infer<typeof AnalyseResponse>;

/**
 * AnalysisResult
 */
export const AnalysisResult = z.object({
  findings: z.array(Finding),
  summary: z.string(),
  processed_at: z.iso.datetime({ offset: true }),
  analysis_id: z.uuid(),
});

export type AnalysisResult = z.infer<typeof AnalysisResult>;

/**
 * FindingCounts
 *
 * How many findings a completed analysis has, by risk and by category (for lists and charts).
 */
export const FindingCounts = z.object({
  by_risk: z.record(z.string(), z.int()),
  by_category: z.record(z.string(), z.int()),
});

export type FindingCounts = z.infer<typeof FindingCounts>;

/**
 * AnalysisDetail
 */
export const AnalysisDetail = z.object({
  id: z.uuid(),
  document_type: z.string(),
  status: AnalysisStatus,
  provider: z.string(),
  model: z.string(),
  content_chars: z.int(),
  content_sha256: z.string(),
  summary: z.string().nullable(),
  error_code: z.string().nullable(),
  request_id: z.string().nullable(),
  created_at: z.iso.datetime({ offset: true }),
  completed_at: z.iso.datetime({ offset: true }).nullable(),
  ttft_ms: z.int().nullable(),
  finding_counts: FindingCounts.nullable(),
  findings: z.array(Finding).nullable(),
  prompt_tokens: z.int().nullable(),
  completion_tokens: z.int().nullable(),
  duration_ms: z.int().nullable(),
  content: z.string().nullable(),
});

export type AnalysisDetail = z.infer<typeof AnalysisDetail>;

/**
 * AnalysisSummary
 */
export const AnalysisSummary = z.object({
  id: z.uuid(),
  document_type: z.string(),
  status: AnalysisStatus,
  provider: z.string(),
  model: z.string(),
  content_chars: z.int(),
  content_sha256: z.string(),
  summary: z.string().nullable(),
  error_code: z.string().nullable(),
  request_id: z.string().nullable(),
  created_at: z.iso.datetime({ offset: true }),
  completed_at: z.iso.datetime({ offset: true }).nullable(),
  ttft_ms: z.int().nullable(),
  finding_counts: FindingCounts.nullable(),
});

export type AnalysisSummary = z.infer<typeof AnalysisSummary>;

/**
 * AnalysisPage
 */
export const AnalysisPage = z.object({
  items: z.array(AnalysisSummary),
  next_cursor: z.string().nullable(),
});

export type AnalysisPage = z.infer<typeof AnalysisPage>;

/**
 * FindingEvent
 *
 * `event: finding`: a finding, sent as soon as the model has closed it.
 */
export const FindingEvent = z.object({
  index: z.int().gte(0),
  finding: Finding,
});

export type FindingEvent = z.infer<typeof FindingEvent>;

/**
 * StartEvent
 *
 * `event: start` of the `events` format.
 */
export const StartEvent = z.object({
  analysis_id: z.uuid(),
  request_id: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
});

export type StartEvent = z.infer<typeof StartEvent>;

/**
 * StreamMetadata
 *
 * What a chat UI shows beside the answer: the analysis, its token usage and its latency.
 */
export const StreamMetadata = z.object({
  analysis_id: z.uuid(),
  prompt_tokens: z.int().nullable(),
  completion_tokens: z.int().nullable(),
  ttft_ms: z.int().nullable(),
});

export type StreamMetadata = z.infer<typeof StreamMetadata>;

/**
 * TokenEvent
 *
 * `event: token`: one chunk of the model's raw answer.
 */
export const TokenEvent = z.object({
  token: z.string(),
});

export type TokenEvent = z.infer<typeof TokenEvent>;

/**
 * TokenPayload
 */
export const TokenPayload = z.object({
  sub: z.string(),
  org: z.string(),
  role: z.string(),
});

export type TokenPayload = z.infer<typeof TokenPayload>;
