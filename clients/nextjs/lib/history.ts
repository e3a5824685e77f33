import 'server-only';

import { AnalysisDetail, AnalysisPage, type RiskLevel } from '@contract';

import { serviceJson } from '@/lib/service';

export const RISKS: readonly RiskLevel[] = ['high', 'medium', 'low'];

export interface Row {
  detail: AnalysisDetail;
  counts: Record<RiskLevel, number>;
}

export interface DayPoint {
  day: string;
  high: number;
  medium: number;
  low: number;
}

/** One page of the organisation's analyses, each with its detail (risk counts and TTFT). */
export async function historyPage(cursor?: string): Promise<{ rows: Row[]; next: string | null }> {
  const query = new URLSearchParams({ limit: '20' });
  if (cursor) query.set('cursor', cursor);
  const page = await serviceJson(`/v1/analyses?${query}`, (value) => AnalysisPage.parse(value));
  const details = await Promise.all(
    page.items.map((item) => serviceJson(`/v1/analyses/${item.id}`, (value) => AnalysisDetail.parse(value))),
  );
  const rows = details.map((detail) => {
    const counts: Record<RiskLevel, number> = { high: 0, medium: 0, low: 0 };
    for (const finding of detail.findings ?? []) counts[finding.risk] += 1;
    return { detail, counts };
  });
  return { rows, next: page.next_cursor };
}

/** Findings by risk per day, oldest first, for the chart. */
export function byDay(rows: Row[]): DayPoint[] {
  const days = new Map<string, DayPoint>();
  for (const { detail, counts } of rows) {
    const day = detail.created_at.slice(0, 10);
    const point = days.get(day) ?? { day, high: 0, medium: 0, low: 0 };
    for (const risk of RISKS) point[risk] += counts[risk];
    days.set(day, point);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}
