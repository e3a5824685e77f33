import Link from 'next/link';

import { byDay, historyPage, RISKS, riskCount } from '@/lib/history';

import { CategoryChart, RiskChart } from './chart';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Compliance check · history' };

// The organisation's analyses from GET /v1/analyses (paged by `cursor`), rendered on the server.
export default async function HistoryPage({ searchParams }: { searchParams: Promise<{ cursor?: string }> }) {
  const { cursor } = await searchParams;
  const { rows, next } = await historyPage(cursor);
  const { points, categories } = byDay(rows);
  return (
    <main className="page">
      <h1>Analyses of your organisation</h1>
      <section className="panel">
        <h2>Findings by risk over time</h2>
        <RiskChart points={points} />
        <h2>Findings by category over time</h2>
        <CategoryChart points={points} categories={categories} />
      </section>
      <section className="panel">
        <table data-testid="history">
          <thead>
            <tr>
              <th>Started</th>
              <th>Type</th>
              <th>Status</th>
              {RISKS.map((risk) => (
                <th key={risk}>{risk}</th>
              ))}
              <th>First token</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id} data-testid="history-row" data-id={row.id} data-status={row.status}>
                <td>
                  <Link href={`/history/${row.id}`}>{row.created_at.replace('T', ' ').slice(0, 19)}</Link>
                </td>
                <td>{row.document_type}</td>
                <td className={`status ${row.status}`}>{row.status}</td>
                {RISKS.map((risk) => (
                  <td key={risk} data-risk={risk}>
                    {riskCount(row, risk)}
                  </td>
                ))}
                <td>{row.ttft_ms === null ? '—' : `${row.ttft_ms} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {next ? (
          <Link data-testid="next-page" href={`/history?cursor=${encodeURIComponent(next)}`}>
            Older analyses
          </Link>
        ) : null}
      </section>
    </main>
  );
}
