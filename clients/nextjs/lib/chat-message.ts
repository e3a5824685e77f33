import type { UIMessage } from 'ai';

import { AnalysisResult, FindingEvent, StreamMetadata } from '@contract';

/**
 * The assistant message of `/v1/analyse/chat`, typed from the generated contract: the Markdown
 * report as text, one `data-finding` part per finding, a `data-analysis` part at the end, and
 * the `finish` part's metadata (analysis id, token usage, time to first token).
 */
export const dataPartSchemas = { finding: FindingEvent, analysis: AnalysisResult };
export const messageMetadataSchema = StreamMetadata;

export type AnalysisMessage = UIMessage<
  StreamMetadata,
  { finding: FindingEvent; analysis: AnalysisResult }
>;
