import Link from 'next/link';

import { byDay, historyPage, RISKS } from '@/lib/history';

import { RiskChart } from './chart';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Compliance check · history' };

// The organisation's analyses from GET /v1/analyses (paged by `cursor`), rendered on the server.
export default async function HistoryPage({ searchParams }: { searchParams: Promise<{ cursor?: string }> }) {
  const { cursor } = await searchParams;
  const { rows, next } = await historyPage(cursor);
  return (
    <main className="page">
      <h1>Analyses of your organisation</h1>
      <section className="panel">
        <h2>Findings by risk over time</h2>
        <RiskChart points={byDay(rows)} />
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
            {rows.map(({ detail, counts }) => (
              <tr key={detail.id} data-testid="history-row" data-id={detail.id} data-status={detail.status}>
                <td>
                  <Link href={`/history/${detail.id}`}>{detail.created_at.replace('T', ' ').slice(0, 19)}</Link>
                </td>
                <td>{detail.document_type}</td>
                <td className={`status ${detail.status}`}>{detail.status}</td>
                {RISKS.map((risk) => (
                  <td key={risk} data-risk={risk}>
                    {counts[risk]}
                  </td>
                ))}
                <td>{detail.ttft_ms === null ? '—' : `${detail.ttft_ms} ms`}</td>
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
