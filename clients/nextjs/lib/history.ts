import 'server-only';

import { AnalysisPage, type AnalysisSummary, type Category, type RiskLevel } from '@contract';

import { serviceJson } from '@/lib/service';

export const RISKS: readonly RiskLevel[] = ['high', 'medium', 'low'];

/** A day of findings: one count per risk and one per category (a chart's stacked bar). */
export type DayPoint = { day: string } & Record<string, number | string>;

/** One page of the organisation's analyses; each item carries its finding counts and TTFT. */
export async function historyPage(cursor?: string): Promise<{ rows: AnalysisSummary[]; next: string | null }> {
  const query = new URLSearchParams({ limit: '20' });
  if (cursor) query.set('cursor', cursor);
  const page = await serviceJson(`/v1/analyses?${query}`, (value) => AnalysisPage.parse(value));
  return { rows: page.items, next: page.next_cursor };
}

export function riskCount(row: AnalysisSummary, risk: RiskLevel): number {
  return row.finding_counts?.by_risk[risk] ?? 0;
}

/** Findings per day, oldest first, counted by risk and by category, for the charts. */
export function byDay(rows: AnalysisSummary[]): { points: DayPoint[]; categories: Category[] } {
  const days = new Map<string, DayPoint>();
  const totals = new Map<Category, number>();
  for (const row of rows) {
    if (!row.finding_counts) continue;
    const day = row.created_at.slice(0, 10);
    const point = days.get(day) ?? { day };
    const add = (key: string, n: number) => {
      point[key] = (Number(point[key]) || 0) + n;
    };
    for (const risk of RISKS) add(`risk:${risk}`, row.finding_counts.by_risk[risk] ?? 0);
    for (const [category, n] of Object.entries(row.finding_counts.by_category) as [Category, number][]) {
      add(`category:${category}`, n);
      totals.set(category, (totals.get(category) ?? 0) + n);
    }
    days.set(day, point);
  }
  const categories = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([category]) => category);
  return { points: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)), categories };
}
